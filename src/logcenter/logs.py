"""Structured logs (key=value lines on stderr), configured the same way in the CLI and in every worker."""

from __future__ import annotations

import logging
import sys

import httpx
import structlog


def _not_alembic_setup(record: logging.LogRecord) -> bool:
    """Alembic's "Context impl SQLiteImpl." and "Will assume non-transactional DDL.": nothing to act on."""
    return not record.getMessage().startswith(("Context impl", "Will assume"))


class _UrlOrigin(logging.Filter):
    """Scheme and host only of the URLs httpx logs at debug ("HTTP Request: POST https://..."): a notification
    channel's URL holds its token (DingTalk's access_token, a Slack or Feishu hook's path, a WeCom key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                f"{a.scheme}://{a.netloc.decode('ascii', 'replace')}/…" if isinstance(a, httpx.URL) else a
                for a in record.args
            )
        return True


_URL_ORIGIN = _UrlOrigin()


def configure_logging(level: str) -> None:
    numeric = logging.getLevelName(level.upper())
    logging.basicConfig(level=numeric, format="%(message)s", stream=sys.stderr)
    # Alembic announces each migration it runs (useful) and each plugin it loads (noise).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    migration_log = logging.getLogger("alembic.runtime.migration")
    migration_log.setLevel(logging.INFO)
    migration_log.addFilter(_not_alembic_setup)
    # httpx logs every request at INFO ("HTTP Request: POST ... 200 OK"): noise between the agent's progress
    # lines (and non-JSON lines in its --json stream), and in the server's log for each forge call.
    if numeric > logging.DEBUG:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if _URL_ORIGIN not in logging.getLogger("httpx").filters:
        logging.getLogger("httpx").addFilter(_URL_ORIGIN)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
