"""Source map tests: the server's bundles go to the test's own folder; tokens for sentry-cli."""

from __future__ import annotations

from pathlib import Path

import pytest

from logcenter.auth.models import Scope
from logcenter.config import Settings
from tests.conftest import Database, make_token
from tests.test_docs_js import node_env, site  # noqa: F401 - the JS tests' fixtures, used here too


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, with the bundles in this test's folder."""
    return settings.model_copy(update={"sourcemaps_dir": tmp_path / "sourcemaps"})


@pytest.fixture
def upload_token(db: Database) -> str:
    """A CI's token: it may upload source maps and nothing else."""
    return make_token(db, Scope.SOURCEMAPS, "ci-sourcemaps")
