"""Source map tests: the server's bundles go to the test's own folder; tokens for sentry-cli."""

from __future__ import annotations

from pathlib import Path

import pytest

from logcenter.auth.models import Scope
from logcenter.config import Settings
from tests.conftest import Database, make_token
from tests.test_docs_js import node_env, site  # noqa: F401 - the JS tests' fixtures, used here too


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db.url,
        database_pool_size=5,
        lease_sweep_seconds=3600,
        count_interval=0,
        job_worker=False,
        sourcemaps_dir=tmp_path / "sourcemaps",
    )


@pytest.fixture
def upload_token(db: Database) -> str:
    """A CI's token: it may upload source maps and nothing else."""
    return make_token(db, Scope.SOURCEMAPS, "ci-sourcemaps")
