"""A NUL character in a signed webhook body (PostgreSQL text cannot hold one): shown text keeps its shape with
a replacement character, a branch name holding one is a 422 naming the field, and never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import BugStatus
from logcenter.webhooks.models import WebhookDelivery
from tests.webhooks.conftest import SECRET, forge_project, history, post, reload, review_bug
from tests.webhooks.forges import FORGES

REPO = "acme/shop"
MERGE = "3f2a9c0d1b4e5f60718293a4b5c6d7e8f9a0b1c2"
BRANCH_FIELD = {
    "gitea": "pull_request.head.ref",
    "github": "pull_request.head.ref",
    "gitlab": "object_attributes.source_branch",
}


@pytest.fixture(params=sorted(FORGES))
def forge(request):
    return FORGES[request.param]


def test_a_comment_and_its_author_with_a_nul_are_kept_with_a_replacement_character(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    delivery = forge.comment(repo=REPO, number=7, secret=SECRET, text="line one\x00line two", author="b\x00b")
    response = post(client, forge.path, delivery)
    assert response.status_code == 200, response.text
    event = history(session, bug)[-1]
    assert (event.kind, event.note) == ("comment", "line one\ufffdline two")
    assert event.actor == f"b\ufffdb ({forge.name})"


def test_a_merge_by_a_name_with_a_nul_still_merges_the_bug(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO))
    delivery = forge.merged(repo=REPO, number=7, secret=SECRET, merge_commit=MERGE, sender="al\x00ice")
    response = post(client, forge.path, delivery)
    assert response.status_code == 200, response.text
    bug = reload(session, bug)
    assert (bug.status, bug.merge_commit_sha, bug.merged_by) == (BugStatus.MERGED, MERGE, "al\ufffdice")


def test_a_branch_name_with_a_nul_is_a_422_naming_it_and_nothing_is_kept(client, session, forge):
    bug = review_bug(session, forge_project(session, "shop", REPO), pr=None, branch_name="fix/auto-1")
    delivery = forge.closed(repo=REPO, number=8, secret=SECRET, head_branch="fix/auto-1\x00")
    response = post(client, forge.path, delivery)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": BRANCH_FIELD[forge.name], "message": "must not contain a NUL character"}
    ]
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0  # a redelivery is handled


def test_a_deployment_naming_a_project_with_a_nul_is_a_422_naming_the_field(client, session):
    forge_project(session, "shop", REPO)
    response = client.post(
        "/api/webhooks/deployment",
        json={"project_id": "shop\x00", "status": "success", "commit": MERGE},
        headers={"X-Secret": SECRET},
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["project_id"]
