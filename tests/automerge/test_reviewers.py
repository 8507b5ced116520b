"""Designated reviewers: requested on each fix's PR on the forge, and the only ones (with admins) who may
merge from Log Center."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.auth.models import Scope
from logcenter.automerge import service
from logcenter.bugs.models import BugEvent, BugStatus
from logcenter.config import Settings
from tests.automerge.conftest import configure, open_fix
from tests.conftest import Database, make_token


def test_designated_reviewers_are_requested_once_per_pr(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_forge: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_forge, mode="off", reviewers=["alice", "bob"])
    for name in ("alice", "bob"):  # accounts on the forge (GitLab looks them up by name)
        fake_forge.user(name)
    fix = open_fix(session, fake_forge)
    assert service.run(db.factory, settings) == {}  # auto-merge is off; the reviewers are still asked
    assert [u.login for u in fix.pr.requested_reviewers] == ["alice", "bob"]
    service.run(db.factory, settings)
    assert [u.login for u in fix.pr.requested_reviewers] == ["alice", "bob"]
    session.rollback()
    notes = session.scalars(select(BugEvent.note).where(BugEvent.kind == "review_requested")).all()
    assert notes == [f"Review of PR #{fix.pr.number} requested from alice, bob"]


def test_the_pr_author_is_not_requested_whatever_the_case_of_the_list(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    # The fake forge's bot (logcenter-bot) opens the PRs; forges refuse to request a PR's author as reviewer.
    configure(client, admin_headers, fake_gitea, mode="off", reviewers=["alice", "LogCenter-Bot"])
    fix = open_fix(session, fake_gitea)
    service.run(db.factory, settings)
    assert [u.login for u in fix.pr.requested_reviewers] == ["alice"]


def test_only_designated_reviewers_and_admins_may_merge(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea, mode="off", reviewers=["alice"])
    fix = open_fix(session, fake_gitea)
    carol = {"Authorization": f"Bearer {make_token(db, Scope.REVIEWER, 'carol')}"}
    refused = client.post(f"/api/v1/bugs/{fix.bug_id}/merge", json={}, headers=carol)
    assert refused.status_code == 403, refused.text
    assert "designated reviewers (alice)" in refused.json()["detail"] and not fix.pr.merged
    batch = client.post("/api/v1/bugs/merge", json={"bug_ids": [fix.bug_id]}, headers=carol).json()
    assert batch["results"][0]["status_code"] == 403 and not fix.pr.merged
    alice = {"Authorization": f"Bearer {make_token(db, Scope.REVIEWER, 'alice')}"}
    merged = client.post(f"/api/v1/bugs/{fix.bug_id}/merge", json={}, headers=alice)
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == BugStatus.MERGED and fix.pr.merged
    # An admin may merge whatever the list says.
    other = open_fix(session, fake_gitea, branch="fix/auto-2")
    assert (
        client.post(f"/api/v1/bugs/{other.bug_id}/merge", json={}, headers=admin_headers).status_code == 200
    )


def test_without_designated_reviewers_any_reviewer_may_merge(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, fake_gitea: Any
) -> None:
    configure(client, admin_headers, fake_gitea, mode="off")
    fix = open_fix(session, fake_gitea)
    carol = {"Authorization": f"Bearer {make_token(db, Scope.REVIEWER, 'carol')}"}
    assert client.post(f"/api/v1/bugs/{fix.bug_id}/merge", json={}, headers=carol).status_code == 200


def test_designated_reviewers_are_recognised_whatever_the_case(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, fake_gitea: Any
) -> None:
    # Forge logins are case-insensitive: "Alice" on the list is the forge user whose token is named "alice".
    configure(client, admin_headers, fake_gitea, mode="off", reviewers=["Alice"])
    fix = open_fix(session, fake_gitea)
    alice = {"Authorization": f"Bearer {make_token(db, Scope.REVIEWER, 'alice')}"}
    merged = client.post(f"/api/v1/bugs/{fix.bug_id}/merge", json={}, headers=alice)
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == BugStatus.MERGED and fix.pr.merged


def test_a_reviewer_the_forge_does_not_know_is_said_once_in_the_history(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitlab: Any,
) -> None:  # fmt: skip
    # A typo in the list: GitLab has no user "alcie". The request is refused; the people who read the bug
    # learn why, once, and the forge is not asked again every round.
    configure(client, admin_headers, fake_gitlab, mode="off", reviewers=["alcie"])
    fix = open_fix(session, fake_gitlab)
    service.run(db.factory, settings)
    asked = len(fake_gitlab.calls("GET", "/users"))
    service.run(db.factory, settings)
    assert asked == 1 and len(fake_gitlab.calls("GET", "/users")) == asked
    assert fix.pr.requested_reviewers == []
    session.rollback()
    [note] = session.scalars(select(BugEvent.note).where(BugEvent.kind == "review_requested")).all()
    assert note.startswith(f"Review of PR #{fix.pr.number} could not be requested from alcie: ")
    assert "no user 'alcie'" in note and "request them on the PR by hand" in note
