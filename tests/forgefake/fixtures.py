"""Pytest fixtures for the fake forges (registered from tests/conftest.py through `pytest_plugins`).

    def test_merge(fake_gitea):
        pr = fake_gitea.open_pr("acme/app", "fix-1", files={"app/calc.py": "..."})
        forge = fake_gitea.client()          # a real GiteaForge pointed at the fake
        forge.merge_pull_request(pr.number, style=MergeStyle.MERGE, expected_head_sha=None)

Each fake starts with one repository holding the sample app (`fake.default_repo`: "acme/app", or
"acme/team/app" on GitLab, a nested group). A test fails if the Gitea fake answered anything its swagger does
not allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.forgefake.core import FakeForge
from tests.forgefake.git import BareRepo, init_bare
from tests.forgefake.gitea import FakeGitea
from tests.forgefake.github import FakeGitHub
from tests.forgefake.gitlab import FakeGitLab

FAKES: dict[str, tuple[type[FakeForge], str]] = {
    "gitea": (FakeGitea, "acme/app"),
    "github": (FakeGitHub, "acme/app"),
    "gitlab": (FakeGitLab, "acme/team/app"),
}


def start_fake(kind: str, root: Path) -> Iterator[FakeForge]:
    """A started fake of `kind` with its default repository; stopped (and checked) afterwards."""
    cls, repo = FAKES[kind]
    fake = cls(root / kind)
    fake.root.mkdir(parents=True, exist_ok=True)
    fake.add_repo(repo)
    fake.start()
    try:
        yield fake
    finally:
        fake.wait_for_deliveries()
        fake.close_clients()
        fake.stop()
    assert not fake.contract_errors, "the fake answered outside its API contract:\n" + "\n".join(
        fake.contract_errors
    )


@pytest.fixture
def fake_gitea(tmp_path: Path) -> Iterator[FakeGitea]:
    yield from start_fake("gitea", tmp_path)  # type: ignore[misc]


@pytest.fixture
def fake_github(tmp_path: Path) -> Iterator[FakeGitHub]:
    yield from start_fake("github", tmp_path)  # type: ignore[misc]


@pytest.fixture
def fake_gitlab(tmp_path: Path) -> Iterator[FakeGitLab]:
    yield from start_fake("gitlab", tmp_path)  # type: ignore[misc]


@pytest.fixture(params=sorted(FAKES))
def fake_forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeForge]:
    """Each fake forge in turn (the test runs three times)."""
    yield from start_fake(request.param, tmp_path)


@pytest.fixture
def origin_repo(tmp_path: Path) -> BareRepo:
    """A bare origin repository holding the sample Python app (app/calc.py) and its tests
    (tests/test_calc.py)."""
    return init_bare(tmp_path / "origin.git")
