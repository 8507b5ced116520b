"""Webhook and review tests: a server-wide webhook secret, a key file in a temporary data folder, and helpers
that create projects with a forge repository and bugs awaiting review."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.config import Settings
from logcenter.projects.models import Project
from tests.factories import make_bug, make_project
from tests.webhooks.payloads import Delivery

SECRET = "server-wide-secret"


@pytest.fixture
def settings(db: Any, tmp_path: Any) -> Settings:
    return Settings(
        database_url=db.url,
        database_pool_size=5,
        lease_sweep_seconds=3600,
        count_interval=0,
        data_dir=tmp_path / "data",
        webhook_secret=SECRET,
        job_worker=False,
    )


def forge_project(session: Session, slug: str, repo: str, **fields: Any) -> Project:
    project = make_project(session, slug, forge_repo=repo, **fields)
    session.commit()
    return project


def review_bug(session: Session, project: Project, *, pr: int | None = 7, **fields: Any) -> Bug:
    """A bug whose fix awaits review in PR #pr (committed: the app's own connections must see it)."""
    fields.setdefault("status", BugStatus.PENDING_REVIEW)
    bug = make_bug(
        session, project, pr_number=pr, branch_name=fields.pop("branch_name", f"fix/auto-{pr}"), **fields
    )
    session.commit()
    return bug


def reload(session: Session, bug: Bug) -> Bug:
    """The bug as committed now (ends the test session's transaction: its snapshot would be stale)."""
    session.rollback()
    session.expire_all()
    return session.get_one(Bug, bug.id)


def history(session: Session, bug: Bug) -> list[BugEvent]:
    session.rollback()
    session.expire_all()
    return list(session.scalars(select(BugEvent).where(BugEvent.bug_id == bug.id).order_by(BugEvent.id)))


def post(client: TestClient, path: str, delivery: Delivery) -> Any:
    return client.post(path, content=delivery.body, headers=delivery.headers)
