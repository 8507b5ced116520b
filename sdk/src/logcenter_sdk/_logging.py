"""``logging`` integration: error records become reports without touching the code that logs them."""

from __future__ import annotations

import logging
import sys
from types import FrameType
from typing import Any

from . import _api, _payload
from ._options import level_name


class LogCenterHandler(logging.Handler):
    """Reports records at or above its level (default ERROR) through the client set by ``init``.

    A record with exc_info (``log.exception(...)``) is reported as that exception; any other record as a
    message whose type is the logger's name (as Log Center labels Sentry's log events), grouped by the line
    that logged it. Levels map onto Log Center's (WARNING, ERROR, CRITICAL...).
    """

    def __init__(self, level: int | str = logging.ERROR) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        # This SDK's own records (a failed send) would loop back into it.
        if record.name == "logcenter_sdk" or record.name.startswith("logcenter_sdk."):
            return
        client = _api.get_client()
        if client is None or not client.enabled:
            return
        try:
            context: dict[str, Any] = {"logger": record.name}
            level = level_name(record.levelno)
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None:
                context["log_message"] = record.getMessage()
                at = _logging_frame(record) if exc.__traceback__ is None else None
                client.capture_exception(exc, context=context, level=level, at=at)
                return
            stack = record.stack_info.splitlines() if record.stack_info else []
            report = _payload.message_report(
                record.getMessage(),
                client.options,
                level=level,
                context=context,
                filename=record.pathname,
                line_number=record.lineno,
                stack_trace=stack
                or [f'  File "{record.pathname}", line {record.lineno}, in {record.funcName}'],
                error_type=record.name,
            )
            client.capture_report(report)
        except Exception:
            # logging's convention for a failing handler: print to stderr when logging.raiseExceptions is
            # set, never raise into the code that logged.
            self.handleError(record)


def _logging_frame(record: logging.LogRecord) -> FrameType | None:
    """The frame of the call that logged `record`, on this thread's stack under the handler (whatever wraps
    logging in between: sentry-sdk's logging integration, say); None if it is not there."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_lineno == record.lineno and frame.f_code.co_filename == record.pathname:
            return frame
        frame = frame.f_back
    return None
