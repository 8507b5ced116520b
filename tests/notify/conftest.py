"""Fixtures of the notification tests: the server's settings with a public URL, local receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logcenter.config import Settings
from tests.conftest import Database
from tests.notify.receivers import Receiver, serve

PUBLIC_URL = "https://logcenter.example.org"


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",  # the secret box's key file
        database_url=db.url,
        database_pool_size=5,
        lease_sweep_seconds=3600,
        count_interval=0,
        public_url=PUBLIC_URL,
        notify_settle_seconds=0,
        job_worker=False,  # the tests run the jobs (tests/conftest.py)
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())
