"""Reviews, pings, bodies that are not JSON, GitLab retries: what forges send besides merges."""

from __future__ import annotations

import json

from logcenter.bugs.models import BugStatus
from tests.webhooks import payloads as p
from tests.webhooks.conftest import SECRET, forge_project, history, post, reload, review_bug

REPO = "acme/shop"


def test_github_reviews_are_recorded_with_their_verdict(client, session):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    body = p.github_review(repo=REPO, number=7, text="Please add a test", state="changes_requested")
    response = post(
        client, "/api/webhooks/github", p.github_delivery(body, secret=SECRET, event="pull_request_review")
    )
    assert response.status_code == 200, response.text
    event, refused = history(session, bug)[-2:]
    assert (event.kind, event.actor) == ("review", "carol (github)")
    assert event.note == "Review (changes requested): Please add a test"
    assert event.link.endswith("#pullrequestreview-8")
    # Changes requested by someone the payload does not show may write: recorded, not a revision request.
    assert (refused.kind, reload(session, bug).status) == ("revision_refused", BugStatus.PENDING_REVIEW)


def test_a_gitea_review_from_the_fake_forge_is_recorded(client, session, admin_headers, fake_gitea):
    from tests.webhooks.test_with_fake_forges import configure, pending

    configure(client, admin_headers, fake_gitea)
    bug, pr = pending(session, fake_gitea)
    hook = fake_gitea.webhook(
        fake_gitea.default_repo,
        pr.number,
        "reviewed",
        secret=SECRET,
        event="pull_request_review_approved",
        sender="rita",
        comment="Ship it",
    )
    assert hook.post("/api/webhooks/gitea", client=client).json()["status"] == "ok"
    event = history(session, bug)[-1]
    assert (event.kind, event.actor, event.note) == ("review", "rita (gitea)", "Review (approved): Ship it")


def test_a_gitlab_approval_is_recorded(client, session):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    body = p.gitlab_mr("approved", repo=REPO, number=7, sender="rita")
    assert (
        post(client, "/api/webhooks/gitlab", p.gitlab_delivery(body, secret=SECRET)).json()["status"] == "ok"
    )
    event = history(session, bug)[-1]
    assert (event.kind, event.note) == ("review", "Review (approved)")
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW


def test_gitlab_retries_share_an_idempotency_key(client, session):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    first = p.gitlab_delivery(p.gitlab_note(repo=REPO, number=7, text="hm"), secret=SECRET, event="Note Hook")
    # A retry of the same delivery: new webhook UUID, same Idempotency-Key.
    retry = first.with_headers(x_gitlab_webhook_uuid="another-uuid")
    assert post(client, "/api/webhooks/gitlab", first).json()["status"] == "ok"
    assert post(client, "/api/webhooks/gitlab", retry).json()["status"] == "duplicate"
    assert [e.note for e in history(session, bug) if e.kind == "comment"] == ["hm"]


def test_a_github_ping_is_answered(client, session):
    forge_project(session, "shop", REPO)
    body = {"zen": "Keep it logically awesome.", "hook_id": 1, "repository": {"full_name": REPO}}
    response = post(client, "/api/webhooks/github", p.github_delivery(body, secret=SECRET, event="ping"))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "message": "pong", "bugs": []}


def test_a_comment_on_an_issue_is_not_a_pr_comment(client, session):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    body = p.github_comment(repo=REPO, number=7, text="on an issue")
    del body["issue"]["pull_request"]
    response = post(
        client, "/api/webhooks/github", p.github_delivery(body, secret=SECRET, event="issue_comment")
    )
    assert response.json()["status"] == "ignored"
    assert all(e.kind != "comment" for e in history(session, bug))


def test_a_body_that_is_not_a_json_object_is_a_400(client, session):
    forge_project(session, "shop", REPO)
    for raw in (b"not json", json.dumps([1, 2]).encode()):
        delivery = p.Delivery(
            raw, {"content-type": "application/json", "x-gitea-signature": p.hmac_hex(SECRET, raw)}
        )
        response = post(client, "/api/webhooks/gitea", delivery)
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"]


def test_a_push_to_the_pr_branch_is_noted_and_does_not_change_what_a_merge_is_made_at(client, session):
    # A merge without the reviewer's expected_head_sha stays at the reported head: the forge refuses it (409)
    # rather than merging the pushed commits nobody reviewed.
    bug = review_bug(session, forge_project(session, "shop", REPO), head_sha="a" * 40)
    body = p.gitea_pr("synchronized", repo=REPO, number=7, head_sha="d" * 40)
    response = post(client, "/api/webhooks/gitea", p.gitea_delivery(body, secret=SECRET))
    assert response.json()["bugs"] == [{"bug_id": bug.id, "outcome": "head moved"}]
    assert reload(session, bug).head_sha == "a" * 40
    [pushed] = [e for e in history(session, bug) if e.kind == "pr_pushed"]
    assert "dddddddddddd" in pushed.note and "review them before merging" in pushed.note
    again = p.gitea_pr("synchronized", repo=REPO, number=7, head_sha="d" * 40)
    redelivered = post(client, "/api/webhooks/gitea", p.gitea_delivery(again, secret=SECRET))
    assert redelivered.json()["bugs"] == [{"bug_id": bug.id, "outcome": "nothing to do"}]
