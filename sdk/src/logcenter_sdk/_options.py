"""Client configuration, validated once at ``init`` so that the capture path has nothing left to check."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._payload import Report

REPORT_PATH = "/api/v1/logs/report"

# The levels the server stores; the integration guide documents ERROR, WARNING and CRITICAL for reports.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# What the server accepts (it answers 422 otherwise): checked at init, since a value it refuses would get
# every single report rejected.
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/\-]{0,99}")
_COMMIT_HASH = re.compile(r"[A-Za-z0-9._\-]{1,64}")
# Control characters, which the server refuses in its single-line fields (version, repo_url, error type).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_token(name: str, value: str | None, limit: int) -> None:
    """The server's rule for version and repo_url: at most `limit` characters, none of them a control one."""
    if value is not None and (len(value) > limit or CONTROL.search(value)):
        raise ValueError(
            f"{name} must be at most {limit} characters, none of them control ones, got {value!r}"
        )


BeforeSend = Callable[["Report"], "Report | None"]


def level_name(value: str | int) -> str:
    """A Log Center level for a level name (any case) or a ``logging`` number; ValueError when neither."""
    if isinstance(value, int):
        # A custom logging level (e.g. 25) rounds down to the nearest standard one.
        for number, name in (
            (logging.CRITICAL, "CRITICAL"),
            (logging.ERROR, "ERROR"),
            (logging.WARNING, "WARNING"),
            (logging.INFO, "INFO"),
        ):
            if value >= number:
                return name
        return "DEBUG"
    name = value.strip().upper()
    if name == "WARN":
        return "WARNING"
    if name == "FATAL":
        return "CRITICAL"
    if name not in LEVELS:
        raise ValueError(f"unknown level {value!r}; expected one of {', '.join(LEVELS)}")
    return name


def report_url(url: str) -> str:
    """The report endpoint for a server's base URL (the full endpoint URL is accepted too)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be an http(s) base URL such as http://localhost:8002, got {url!r}")
    base = url.rstrip("/")
    return base if base.endswith(REPORT_PATH) else base + REPORT_PATH


@dataclass(frozen=True, slots=True)
class Options:
    # None disables the client: every capture is a no-op (e.g. LOG_CENTER_URL unset in development).
    endpoint: str | None
    project_id: str
    environment: str
    version: str | None = None
    commit_hash: str | None = None
    repo_url: str | None = None
    ingest_key: str | None = None
    level: str = "ERROR"
    timeout: float = 3.0
    queue_size: int = 100
    shutdown_timeout: float = 2.0
    # Frames under this directory are reported relative to it ("apps/users/views.py", as in the guide), so
    # a bug keeps its fingerprint when a release is deployed to a new directory.
    root_path: str | None = None
    before_send: BeforeSend | None = None

    @classmethod
    def create(
        cls,
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
    ) -> Options:
        """Validated options; raises ValueError for a configuration that could never work."""
        if version is not None and release is not None and version != release:
            raise ValueError(
                "pass either version or release (its Sentry-style alias), not two different values"
            )
        if not _PROJECT_ID.fullmatch(project_id):
            raise ValueError(
                f"project_id must be letters, digits and _.:@/- (at most 100), got {project_id!r}"
            )
        if not environment or len(environment) > 64 or not environment.isprintable():
            raise ValueError(f"environment must be 1 to 64 printable characters, got {environment!r}")
        version = (version if version is not None else release) or None
        _check_token("version", version, 200)
        _check_token("repo_url", repo_url or None, 500)
        # Sent as an HTTP header: http.client refuses control characters and anything outside Latin-1.
        if ingest_key and not (
            ingest_key.isascii() and ingest_key.isprintable() and ingest_key == ingest_key.strip()
        ):
            raise ValueError(
                "ingest_key must be printable ASCII without surrounding spaces (as Log Center shows it)"
            )
        if commit_hash and not _COMMIT_HASH.fullmatch(commit_hash):
            raise ValueError(f"commit_hash must be letters, digits and ._- (at most 64), got {commit_hash!r}")
        if timeout <= 0 or shutdown_timeout < 0:
            raise ValueError("timeout must be positive and shutdown_timeout not negative")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if root_path is None:
            root_path = os.getcwd()
        return cls(
            endpoint=report_url(url) if url else None,
            project_id=project_id,
            environment=environment,
            version=version,
            commit_hash=commit_hash or None,
            repo_url=repo_url or None,
            ingest_key=ingest_key or None,
            level=level_name(level),
            timeout=float(timeout),
            queue_size=queue_size,
            shutdown_timeout=float(shutdown_timeout),
            root_path=os.path.abspath(root_path),
            before_send=before_send,
        )
