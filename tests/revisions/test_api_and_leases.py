"""Asking for a revision from Log Center (`POST /api/v1/bugs/{id}/revision`), the claim and lease of a
revision, and the repair report that ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from logcenter.auth.models import Scope
from logcenter.bugs.models import Bug, BugStatus
from logcenter.db import session_scope, utcnow
from logcenter.repair import service as repair_service
from tests.bugs.helpers import committed_bug, detail
from tests.conftest import make_token

S = BugStatus
PR_URL = "https://gitea.example/acme/app/pulls/7"


def awaiting_review(session, **fields) -> Bug:
    fields = {"pr_number": 7, "pr_url": PR_URL, "branch_name": "fix/auto-7", "head_sha": "a" * 40, **fields}
    return committed_bug(session, S.PENDING_REVIEW, slug="app", **fields)


def bearer(db, scope: Scope, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(db, scope, name)}"}


def ask(client, headers, bug_id: int, comment: str = "Return None for an empty list"):
    return client.post(f"/api/v1/bugs/{bug_id}/revision", json={"comment": comment}, headers=headers)


def claim(client, agent_headers, agent: str = "agent-1", **body) -> list[dict]:
    response = client.post(
        "/api/v1/agent/claim", json={"agent": agent, "limit": 5, **body}, headers=agent_headers
    )
    assert response.status_code == 200, response.text
    return response.json()["bugs"]


def report(client, agent_headers, bug_id: int, **body):
    return client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports", json={"agent": "agent-1", **body}, headers=agent_headers
    )


def test_a_reviewer_asks_for_a_revision_and_the_agent_gets_the_comment(client, session, db, agent_headers):
    bug = awaiting_review(session)
    rita = bearer(db, Scope.REVIEWER, "rita")
    response = ask(client, rita, bug.id, "Return None for an empty list <script>alert(1)</script>")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["revision"], body["lease_owner"], body["pr_number"]) == (
        "FIXING",
        1,
        None,
        7,
    )
    row = detail(client, rita, bug.id)["history"][-1]
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"]) == (
        "revision_requested", "PENDING_REVIEW", "FIXING", "rita",
    )  # fmt: skip
    assert row["note"] == "Return None for an empty list <script>alert(1)</script>"  # data, stored as sent
    [claimed] = claim(client, agent_headers)
    task = claimed["revision_request"]
    assert (task["number"], task["branch_name"], task["pr_url"]) == (1, "fix/auto-7", PR_URL)
    assert [c["text"] for c in task["comments"]] == [
        "Return None for an empty list <script>alert(1)</script>"
    ]


def test_who_may_ask(client, session, db, admin_headers):
    bug = awaiting_review(session)
    for headers in (bearer(db, Scope.AGENT, "bot"), bearer(db, Scope.INGEST, "app"), {}):
        assert ask(client, headers, bug.id).status_code in (401, 403)
    # With designated reviewers, only they (or an admin) may.
    response = client.put("/api/v1/merge-policies/app", json={"reviewers": ["alice"]}, headers=admin_headers)
    assert response.status_code == 200
    response = ask(client, bearer(db, Scope.REVIEWER, "rita"), bug.id)
    assert response.status_code == 403
    assert "designated reviewers (alice)" in response.json()["detail"]
    assert detail(client, admin_headers, bug.id)["status"] == "PENDING_REVIEW"
    assert ask(client, bearer(db, Scope.REVIEWER, "alice"), bug.id).status_code == 200


def test_an_admin_may_ask_even_with_designated_reviewers(client, session, admin_headers):
    bug = awaiting_review(session)
    client.put("/api/v1/merge-policies/app", json={"reviewers": ["bob"]}, headers=admin_headers)
    assert ask(client, admin_headers, bug.id).status_code == 200


@pytest.mark.parametrize(
    ("status", "fields", "words"),
    [
        (S.NEW, {}, "NEW: only a fix awaiting review"),
        (S.MERGED, {"pr_number": 7}, "MERGED: only a fix awaiting review"),
        (S.PENDING_REVIEW, {"pr_number": None, "branch_name": None}, "no pull request and branch"),
    ],
)
def test_only_a_fix_awaiting_review_in_a_pr_is_revised(client, session, admin_headers, status, fields, words):
    bug = committed_bug(session, status, slug="app", **fields)
    response = ask(client, admin_headers, bug.id)
    assert response.status_code == 409
    assert words in response.json()["detail"]
    assert detail(client, admin_headers, bug.id)["history"] == []


def test_the_body_is_checked(client, session, admin_headers):
    bug = awaiting_review(session)
    for body in ({}, {"comment": "   "}, {"comment": "x" * 10_001}, {"comment": "ok", "extra": 1}):
        response = client.post(f"/api/v1/bugs/{bug.id}/revision", json=body, headers=admin_headers)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] in ("comment", "extra")
    assert ask(client, admin_headers, 999_999).status_code == 404


def test_the_limit_refuses_with_409(client, session, admin_headers, agent_headers, settings):
    bug = awaiting_review(session, revision=settings.max_revisions)
    response = ask(client, admin_headers, bug.id)
    assert response.status_code == 409
    assert "3 revisions of its fix, the most allowed (3)" in response.json()["detail"]
    assert detail(client, admin_headers, bug.id)["status"] == "PENDING_REVIEW"


def test_a_revision_is_claimed_before_new_bugs_and_never_when_ignored(
    client, session, admin_headers, agent_headers
):
    new = committed_bug(session, S.NEW, slug="app")
    revised, ignored = awaiting_review(session), awaiting_review(session, pr_number=8)
    for bug in (revised, ignored):
        assert ask(client, admin_headers, bug.id).status_code == 200
    assert client.post(f"/api/v1/bugs/{ignored.id}/ignore", json={}, headers=admin_headers).status_code == 200
    first = claim(client, agent_headers, limit=1)
    assert [(b["id"], b["revision_request"] is not None) for b in first] == [(revised.id, True)]
    rest = claim(client, agent_headers)
    assert [(b["id"], b["revision_request"]) for b in rest] == [(new.id, None)]


def expire(db, bug_id: int) -> None:
    with session_scope(db.factory) as s:
        s.get_one(Bug, bug_id).lease_expires_at = utcnow() - timedelta(seconds=1)


@pytest.mark.parametrize("how", ["lease expired", "released"])
def test_a_revision_the_agent_lets_go_waits_for_the_next_claim(
    client, session, db, admin_headers, agent_headers, how
):
    bug = awaiting_review(session)
    ask(client, admin_headers, bug.id)
    claim(client, agent_headers, agent="agent-1")
    if how == "lease expired":
        expire(db, bug.id)
        with session_scope(db.factory) as s:
            assert repair_service.sweep_expired(s) == 1
    else:
        body = {"agent": "agent-1", "bug_ids": [bug.id], "note": "SIGTERM"}
        response = client.post("/api/v1/agent/release", json=body, headers=agent_headers)
        assert response.json()["held"] == [bug.id]
    body = detail(client, admin_headers, bug.id)
    assert (body["status"], body["lease_owner"], body["revision"], body["pr_number"]) == (
        "FIXING",
        None,
        1,
        7,
    )
    assert body["revision_requested_at"] is not None
    last = body["history"][-1]
    assert (last["from_status"], last["to_status"]) == ("FIXING", "FIXING")
    assert "revision 1 waits for a repair agent again" in last["note"]
    # Not NEW: the next claim gets it again, as the same revision of the same PR.
    [again] = claim(client, agent_headers, agent="agent-2")
    assert (again["id"], again["lease_owner"], again["revision_request"]["number"]) == (bug.id, "agent-2", 1)
    assert again["revision_request"]["comments"][0]["text"] == "Return None for an empty list"


def test_the_revised_fix_awaits_review_again_at_its_new_head(client, session, admin_headers, agent_headers):
    bug = awaiting_review(session)
    ask(client, admin_headers, bug.id)
    claim(client, agent_headers)
    response = report(
        client, agent_headers, bug.id, status="PENDING_REVIEW", head_sha="b" * 40, test_passed=True,
        pr_number=7, pr_url=PR_URL, branch_name="fix/auto-7", analysis="Now returns None",
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert (response.json()["revision"], response.json()["status"]) == (1, "PENDING_REVIEW")
    body = detail(client, admin_headers, bug.id)
    assert (body["status"], body["head_sha"], body["pr_number"], body["revision"]) == (
        "PENDING_REVIEW",
        "b" * 40,
        7,
        1,
    )
    assert (body["lease_owner"], body["revision_requested_at"]) == (None, None)
    last = body["history"][-1]
    assert (last["kind"], last["from_status"], last["to_status"], last["note"]) == (
        "revised", "FIXING", "PENDING_REVIEW", f"Revision 1: PR #7 updated at {'b' * 12}",
    )  # fmt: skip


def test_a_failed_revision_keeps_the_reviewable_pr(client, session, admin_headers, agent_headers):
    bug = awaiting_review(session)
    ask(client, admin_headers, bug.id)
    claim(client, agent_headers)
    reason = "tests_failed: the project's tests fail with the fix applied"
    response = report(
        client, agent_headers, bug.id, status="FAILED", failure_reason=reason, test_passed=False
    )
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["revision"]) == ("FAILED", 1)
    body = detail(client, admin_headers, bug.id)
    assert (body["status"], body["head_sha"], body["failure_reason"]) == ("PENDING_REVIEW", "a" * 40, None)
    last = body["history"][-1]
    assert (last["kind"], last["to_status"]) == ("revised", "PENDING_REVIEW")
    assert last["note"] == f"Revision 1 failed: {reason}. PR #7 is as it was before"
    # The reviewer can ask again (the limit counts it), merge it or reject it.
    assert ask(client, admin_headers, bug.id).json()["revision"] == 2
