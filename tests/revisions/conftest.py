"""Revision tests: projects on a fake forge, fixes awaiting review in its PRs, designated reviewers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.projects.models import Project
from tests.webhooks.conftest import SECRET, review_bug

FIX = {"app/calc.py": "def add(a, b):\n    return a + b  # fixed\n"}


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


def configure(client: TestClient, headers: dict[str, str], fake: Any, *, reviewers: list[str] | None = None,
              slug: str = "app", **policy: Any) -> dict[str, Any]:  # fmt: skip
    """The project, pointed at the fake forge through the API, with its review policy (reviewers...)."""
    body = {"project_id": slug, "forge": fake.kind, "forge_url": fake.api_url,
            "forge_repo": fake.default_repo, "forge_token": fake.token}  # fmt: skip
    response = client.post("/api/v1/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    if reviewers is not None or policy:
        response = client.put(
            f"/api/v1/merge-policies/{slug}", json={"reviewers": reviewers or [], **policy}, headers=headers
        )
        assert response.status_code == 200, response.text
    return response.json()


def pending(session: Session, fake: Any, branch: str = "fix/auto-1", slug: str = "app") -> tuple[Any, Any]:
    """A bug whose fix awaits review in a PR opened on the fake from `branch`."""
    pr = fake.open_pr(fake.default_repo, branch, files=FIX, title=f"Fix from {branch}")
    project = session.scalar(select(Project).where(Project.slug == slug))
    head = fake.repos[fake.default_repo].head_sha(pr)
    url = f"{fake.url}/{fake.default_repo}/pulls/{pr.number}"
    bug = review_bug(session, project, pr=pr.number, pr_url=url, branch_name=branch, head_sha=head)
    return bug, pr


# How each fake forge delivers a reviewer's comment, and a "request changes" review where it has one.
def comment_hook(fake: Any, number: int, text: str, *, sender: str) -> Any:
    if fake.kind == "gitlab":
        return fake.webhook(fake.default_repo, number, "", event="Note Hook", comment=text, sender=sender,
                            secret=SECRET)  # fmt: skip
    return fake.webhook(fake.default_repo, number, "created", event="issue_comment", comment=text,
                        sender=sender, secret=SECRET)  # fmt: skip


def changes_requested_hook(fake: Any, number: int, text: str, *, sender: str) -> Any:
    if fake.kind == "gitea":
        return fake.webhook(fake.default_repo, number, "reviewed", event="pull_request_review_rejected",
                            comment=text, sender=sender, secret=SECRET)  # fmt: skip
    return fake.webhook(fake.default_repo, number, "submitted", event="pull_request_review",
                        review_state="changes_requested", comment=text, sender=sender,
                        secret=SECRET)  # fmt: skip


def deliver(client: TestClient, fake: Any, hook: Any) -> dict[str, Any]:
    response = hook.post(f"/api/webhooks/{fake.kind}", client=client)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
