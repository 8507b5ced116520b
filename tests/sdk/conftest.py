"""Fixtures for the SDK's tests."""

from __future__ import annotations

from collections.abc import Iterator

import logcenter_sdk
import pytest

from tests.ports import free_port
from tests.sdk.fake_server import FakeLogCenter


@pytest.fixture
def fake_server() -> Iterator[FakeLogCenter]:
    server = FakeLogCenter()
    server.start()
    yield server
    logcenter_sdk.close(timeout=5)  # before the server goes away, so nothing is in flight
    server.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(autouse=True)
def _no_client_left_behind() -> Iterator[None]:
    yield
    logcenter_sdk.close(timeout=5)
