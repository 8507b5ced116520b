"""Fixtures for the SDK's tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import logcenter_sdk
import pytest

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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _no_client_left_behind() -> Iterator[None]:
    yield
    logcenter_sdk.close(timeout=5)
