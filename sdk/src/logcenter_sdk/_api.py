"""The module-level API: one process-wide client, set by ``init``, flushed at interpreter exit."""

from __future__ import annotations

import atexit
import functools
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ._client import Client
from ._options import BeforeSend, Options

log = logging.getLogger("logcenter_sdk")

P = ParamSpec("P")
R = TypeVar("R")

_client: Client | None = None
_lock = threading.Lock()
_atexit_registered = False


def _never_raise(default: R) -> Callable[[Callable[P, R]], Callable[P, R]]:
    # Reporting an error must not become a second error in the host application.
    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except Exception:
                log.debug("logcenter_sdk: %s failed", func.__name__, exc_info=True)
                return default

        return wrapper

    return decorate


def init(
    url: str | None,
    project_id: str,
    environment: str,
    *,
    version: str | None = None,
    release: str | None = None,
    commit_hash: str | None = None,
    repo_url: str | None = None,
    ingest_key: str | None = None,
    level: str | int = "ERROR",
    timeout: float = 3.0,
    queue_size: int = 100,
    shutdown_timeout: float = 2.0,
    root_path: str | None = None,
    before_send: BeforeSend | None = None,
) -> Client:
    """Configure the process-wide client; an empty url disables reporting. Raises ValueError on bad options.

    Calling it again replaces the client (the old one is flushed and closed).
    """
    global _client, _atexit_registered
    options = Options.create(
        url,
        project_id,
        environment,
        version=version,
        release=release,
        commit_hash=commit_hash,
        repo_url=repo_url,
        ingest_key=ingest_key,
        level=level,
        timeout=timeout,
        queue_size=queue_size,
        shutdown_timeout=shutdown_timeout,
        root_path=root_path,
        before_send=before_send,
    )
    client = Client(options)
    with _lock:
        previous, _client = _client, client
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
    if previous is not None:
        previous.close()
    return client


def get_client() -> Client | None:
    """The client set by init, or None."""
    return _client


@_never_raise(default=False)
def capture_exception(
    exc: BaseException | None = None,
    context: dict[str, Any] | None = None,
    *,
    level: str | int | None = None,
) -> bool:
    """Report exc (default: the exception being handled) in the background; True if it was queued."""
    client = _client
    if exc is None:
        exc = sys.exception()
    if client is None or exc is None:
        return False
    return client.capture_exception(exc, context=context, level=level)


@_never_raise(default=False)
def report_error(exc: BaseException, context: dict[str, Any] | None = None) -> bool:
    """The integration guide's ``report_error(exc, context)``: capture_exception under the guide's name."""
    client = _client
    return client.capture_exception(exc, context=context) if client is not None else False


@_never_raise(default=False)
def capture_message(
    message: str,
    context: dict[str, Any] | None = None,
    *,
    level: str | int | None = None,
) -> bool:
    """Report a message without an exception; reports from the same line are grouped into one bug."""
    client = _client
    return client.capture_message(message, context=context, level=level) if client is not None else False


@_never_raise(default=True)
def flush(timeout: float | None = None) -> bool:
    """Wait up to timeout seconds for queued reports to be sent; True if the queue emptied in time."""
    client = _client
    return client.flush(timeout) if client is not None else True


@_never_raise(default=None)
def close(timeout: float | None = None) -> None:
    """Flush and stop the client set by init; later captures are no-ops until init is called again."""
    global _client
    with _lock:
        client, _client = _client, None
    if client is not None:
        client.close(timeout)


def _at_exit() -> None:
    # Runs before daemon threads are stopped, so the worker can still send what is queued.
    close()
