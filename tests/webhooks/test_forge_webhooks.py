"""Signed PR webhooks from Gitea, GitHub and GitLab move the bug whose fix the PR is, and only that bug."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import BugStatus
from logcenter.webhooks.models import WebhookDelivery
from tests.webhooks.conftest import SECRET, forge_project, history, post, reload, review_bug
from tests.webhooks.forges import FORGES

MERGE = "3f2a9c0d1b4e5f60718293a4b5c6d7e8f9a0b1c2"
REPO = "acme/shop"


@pytest.fixture(params=sorted(FORGES))
def forge(request):
    return FORGES[request.param]


def deliveries(session):
    session.rollback()
    session.expire_all()
    return session.scalar(select(func.count()).select_from(WebhookDelivery))


def test_merged_pr_moves_the_bug_to_merged_with_commit_author_and_time(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    response = post(client, forge.path, forge.merged(repo=REPO, number=7, secret=SECRET, merge_commit=MERGE))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    assert response.json()["bugs"] == [{"bug_id": bug.id, "outcome": "merged"}]
    bug = reload(session, bug)
    assert bug.status == BugStatus.MERGED
    assert bug.merge_commit_sha == MERGE
    assert bug.merged_by == "alice"
    assert bug.merged_at is not None
    last = history(session, bug)[-1]
    assert (last.from_status, last.to_status) == ("PENDING_REVIEW", "MERGED")
    assert last.actor == f"alice ({forge.name})"
    assert last.link and "7" in last.link


def test_closed_without_merge_fails_the_bug_naming_who_closed_it(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    response = post(client, forge.path, forge.closed(repo=REPO, number=7, secret=SECRET, sender="dave"))
    assert response.status_code == 200, response.text
    bug = reload(session, bug)
    assert bug.status == BugStatus.FAILED
    assert bug.failure_reason == "PR #7 closed without merging by dave"
    assert bug.merge_commit_sha is None


def test_reopened_pr_puts_the_bug_back_in_review(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    assert post(client, forge.path, forge.closed(repo=REPO, number=7, secret=SECRET)).status_code == 200
    response = post(client, forge.path, forge.reopened(repo=REPO, number=7, secret=SECRET, sender="erin"))
    assert response.status_code == 200, response.text
    bug = reload(session, bug)
    assert bug.status == BugStatus.PENDING_REVIEW
    assert bug.failure_reason is None
    assert "reopened by erin" in (history(session, bug)[-1].note or "")


def test_comments_land_on_the_history_with_author_and_link(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    text = "Looks good, but <script>alert(1)</script> — 请再检查一下"
    response = post(
        client, forge.path, forge.comment(repo=REPO, number=7, secret=SECRET, text=text, author="bob")
    )
    assert response.status_code == 200, response.text
    event = history(session, bug)[-1]
    assert event.kind == "comment"
    assert event.note == text
    assert event.actor == f"bob ({forge.name})"
    assert event.link and event.link.startswith("https://")
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW


@pytest.mark.parametrize("credential", ["wrong", None])
def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(client, session, forge, credential):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    delivery = forge.merged(repo=REPO, number=7, secret=SECRET, merge_commit=MERGE)
    if credential is None:
        delivery = delivery.with_headers(**{forge.credential_header: None, "x-hub-signature-256": None})
    else:
        delivery = forge.merged(repo=REPO, number=7, secret="not-the-secret", merge_commit=MERGE)
    response = post(client, forge.path, delivery)
    assert response.status_code == 401, response.text
    assert ("Missing" if credential is None else "Invalid") in response.json()["detail"]
    assert SECRET not in response.text
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW
    assert deliveries(session) == 0


def test_a_redelivery_answers_200_and_changes_nothing(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    comment = forge.comment(repo=REPO, number=7, secret=SECRET, text="first")
    assert post(client, forge.path, comment).json()["status"] == "ok"
    again = post(client, forge.path, comment)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert [e.note for e in history(session, bug) if e.kind == "comment"] == ["first"]


def test_unknown_repository_or_pr_is_ignored(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    other = post(
        client, forge.path, forge.merged(repo="acme/other", number=7, secret=SECRET, merge_commit=MERGE)
    )
    assert other.status_code == 200
    assert other.json()["status"] == "ignored"
    no_pr = post(
        client,
        forge.path,
        forge.merged(repo=REPO, number=8, secret=SECRET, merge_commit=MERGE, head_branch="feature/x"),
    )
    assert no_pr.json()["status"] == "ignored"
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW


def test_a_repository_whose_name_is_a_prefix_of_another_does_not_match_it(client, session, forge):
    # The seed matched with LIKE %repo%: "rtc" found the bugs of "rtc_backend".
    backend = review_bug(session, forge_project(session, "rtc_backend", "airlabs/rtc_backend"))
    short = review_bug(session, forge_project(session, "rtc", "airlabs/rtc"), pr=9)
    response = post(
        client, forge.path, forge.merged(repo="airlabs/rtc", number=7, secret=SECRET, merge_commit=MERGE)
    )
    assert response.json()["status"] == "ignored"  # airlabs/rtc has no PR #7
    assert reload(session, backend).status == BugStatus.PENDING_REVIEW
    post(client, forge.path, forge.merged(repo="airlabs/rtc", number=9, secret=SECRET, merge_commit=MERGE))
    assert reload(session, short).status == BugStatus.MERGED
    assert reload(session, backend).status == BugStatus.PENDING_REVIEW


def test_the_head_branch_finds_a_bug_whose_pr_number_was_not_recorded(client, session, forge):
    bug = review_bug(
        session, forge_project(session, "shop", REPO), pr=None, branch_name="fix/auto-20260101-1200-5"
    )
    response = post(
        client,
        forge.path,
        forge.merged(
            repo=REPO, number=12, secret=SECRET, merge_commit=MERGE, head_branch="fix/auto-20260101-1200-5"
        ),
    )
    assert response.json()["bugs"] == [{"bug_id": bug.id, "outcome": "merged"}]
    assert reload(session, bug).status == BugStatus.MERGED


def test_a_merge_after_the_bug_was_merged_changes_nothing(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    post(client, forge.path, forge.merged(repo=REPO, number=7, secret=SECRET, merge_commit=MERGE))
    rows = len(history(session, bug))
    again = post(client, forge.path, forge.merged(repo=REPO, number=7, secret=SECRET, merge_commit=MERGE))
    assert again.json()["bugs"] == [{"bug_id": bug.id, "outcome": "already merged"}]
    assert len(history(session, bug)) == rows


def test_the_projects_own_secret_signs_its_webhooks(client, session, admin_headers, forge):
    project = forge_project(session, "shop", REPO)
    bug = review_bug(session, project)
    own = "per-project-secret-42"
    response = client.put("/api/v1/projects/shop", json={"webhook_secret": own}, headers=admin_headers)
    assert response.status_code == 200
    assert own not in response.text and response.json()["webhook_secret_set"] is True
    server_wide = post(client, forge.path, forge.closed(repo=REPO, number=7, secret=SECRET))
    assert server_wide.status_code == 401
    ok = post(client, forge.path, forge.closed(repo=REPO, number=7, secret=own))
    assert ok.status_code == 200, ok.text
    assert reload(session, bug).status == BugStatus.FAILED
