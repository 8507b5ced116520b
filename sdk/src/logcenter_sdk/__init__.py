"""Report errors from Python applications to a Log Center server.

    import logcenter_sdk

    logcenter_sdk.init("http://localhost:8002", project_id="rtc_backend", environment="production")

Reports are sent in the background by one worker thread; nothing in this package raises into the application.
"""

from ._api import capture_exception, capture_message, close, flush, get_client, init, report_error
from ._client import Client, Stats
from ._logging import LogCenterHandler
from ._payload import ErrorInfo, Report
from ._version import __version__

__all__ = [
    "Client",
    "ErrorInfo",
    "LogCenterHandler",
    "Report",
    "Stats",
    "__version__",
    "capture_exception",
    "capture_message",
    "close",
    "flush",
    "get_client",
    "init",
    "report_error",
]
