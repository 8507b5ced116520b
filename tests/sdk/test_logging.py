"""LogCenterHandler: error records become reports, levels map onto Log Center's."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import logcenter_sdk
import pytest
from logcenter_sdk import LogCenterHandler, Report

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()


@pytest.fixture
def reports() -> list[Report]:
    seen: list[Report] = []

    def keep(report: Report) -> None:
        seen.append(report)

    logcenter_sdk.init("http://127.0.0.1:9", "p", "test", root_path=str(ROOT), before_send=keep)
    return seen


@pytest.fixture
def log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("shop.checkout")
    handler = LogCenterHandler()
    logger.addHandler(handler)
    yield logger
    logger.removeHandler(handler)


def test_log_exception_reports_the_exception_with_the_log_line(
    reports: list[Report], log: logging.Logger
) -> None:
    try:
        raising_line = sys._getframe().f_lineno + 1
        {}["sku"]
    except KeyError:
        log.exception("checkout failed for order %s", 42)
    [report] = reports
    assert report["level"] == "ERROR"
    assert (report["error"]["type"], report["error"]["message"]) == ("KeyError", "'sku'")
    assert (report["error"]["file_path"], report["error"]["line_number"]) == (THIS_FILE, raising_line)
    assert report["context"] == {"logger": "shop.checkout", "log_message": "checkout failed for order 42"}


def test_logging_an_exception_that_was_never_raised_points_at_the_logging_line(
    reports: list[Report], log: logging.Logger
) -> None:
    logging_line = sys._getframe().f_lineno + 1
    log.error("payment failed", exc_info=ValueError("card declined"))
    [report] = reports
    assert report["error"]["type"] == "ValueError"
    # Not logging/__init__.py, which would put every such call of the app in one bug per exception type.
    assert (report["error"]["file_path"], report["error"]["line_number"]) == (THIS_FILE, logging_line)


def test_an_error_record_without_exception_is_a_message_from_its_line(
    reports: list[Report], log: logging.Logger
) -> None:
    logging_line = sys._getframe().f_lineno + 1
    log.error("stock for %s is negative", "sku-1")
    [report] = reports
    error = report["error"]
    assert (error["type"], error["message"]) == ("shop.checkout", "stock for sku-1 is negative")
    assert (error["file_path"], error["line_number"]) == (THIS_FILE, logging_line)
    assert error["stack_trace"] == [
        f'  File "{ROOT / THIS_FILE}", line {logging_line}, in '
        "test_an_error_record_without_exception_is_a_message_from_its_line"
    ]
    assert report["context"] == {"logger": "shop.checkout"}


def test_levels_map_and_records_below_the_handlers_level_are_ignored(
    reports: list[Report], log: logging.Logger
) -> None:
    log.warning("ignored: below ERROR")
    log.info("ignored too")
    log.critical("disk full")
    log.log(45, "custom level between ERROR and CRITICAL")
    assert [r["level"] for r in reports] == ["CRITICAL", "ERROR"]


def test_a_handler_at_warning_reports_warnings(reports: list[Report]) -> None:
    logger = logging.getLogger("shop.warnings")
    handler = LogCenterHandler(logging.WARNING)
    logger.addHandler(handler)
    try:
        logger.warning("slow query", stack_info=True)
    finally:
        logger.removeHandler(handler)
    [report] = reports
    assert report["level"] == "WARNING"
    assert report["error"]["stack_trace"][0] == "Stack (most recent call last):"


def test_an_exception_already_reported_is_not_reported_again_by_the_log(
    reports: list[Report], log: logging.Logger
) -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        logcenter_sdk.capture_exception(exc)  # e.g. by the framework middleware
        log.exception("unhandled")  # e.g. by the server's error log
    assert len(reports) == 1


def test_the_sdks_own_log_records_are_never_reported(reports: list[Report]) -> None:
    sdk_logger = logging.getLogger("logcenter_sdk")
    handler = LogCenterHandler(logging.DEBUG)
    sdk_logger.addHandler(handler)
    try:
        sdk_logger.error("could not reach the server")
    finally:
        sdk_logger.removeHandler(handler)
    assert reports == []


def test_without_init_the_handler_does_nothing(
    log: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    log.error("no client yet")
    assert "Traceback" not in capsys.readouterr().err
