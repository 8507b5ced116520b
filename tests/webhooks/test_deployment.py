"""The CI's deployment call (the seed's curl): MERGED → DEPLOYED only for fixes the deployed commit contains.

Without a forge configured Log Center can only recognise the merge commit itself; with one it asks the forge
(tests/webhooks/test_with_fake_forges.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from logcenter.bugs.models import Bug, BugStatus
from logcenter.projects.models import Project
from tests.bugs.helpers import ingest
from tests.webhooks.conftest import SECRET, forge_project, history, reload, review_bug
from tests.webhooks.payloads import hmac_hex

MERGE = "0c5e3b1a9f8d7e6c5b4a39281706f5e4d3c2b1a0"
OTHER = "1111111111111111111111111111111111111111"


def merged_bug(session, slug="shop", merge_commit=MERGE, **fields):
    project = forge_project(session, slug, f"acme/{slug}")
    return review_bug(
        session,
        project,
        status=BugStatus.MERGED,
        merge_commit_sha=merge_commit,
        merged_at=datetime.now(UTC) - timedelta(hours=1),
        **fields,
    )


def deploy(client, secret=SECRET, **body):
    body.setdefault("project_id", "shop")
    body.setdefault("status", "success")
    return client.post("/api/webhooks/deployment", json=body, headers={"X-Secret": secret})


def test_the_seeds_curl_deploys_the_bug_whose_merge_commit_was_deployed(client, session):
    bug = merged_bug(session)
    response = deploy(
        client, commit=MERGE, environment="production", version="2.4.0", deployed_at="2026-12-01T10:00:00Z"
    )
    assert response.status_code == 200, response.text
    assert response.json()["deployed"] == [bug.id]
    bug = reload(session, bug)
    assert bug.status == BugStatus.DEPLOYED
    assert (bug.deployed_commit, bug.deployed_version, bug.deployed_environment) == (
        MERGE,
        "2.4.0",
        "production",
    )
    assert bug.deployed_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert history(session, bug)[-1].to_status == "DEPLOYED"


def test_without_a_forge_another_commit_leaves_the_bug_merged_and_says_why(client, session):
    bug = merged_bug(session)
    no_commit = review_bug(
        session, bug_project(session), status=BugStatus.MERGED, pr=8, merge_commit_sha=None
    )
    response = deploy(client, commit=OTHER)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["deployed"] == []
    reasons = {item["bug_id"]: item["reason"] for item in answer["left"]}
    assert "without a forge" in reasons[bug.id]
    assert "no merge commit" in reasons[no_commit.id]
    assert reload(session, bug).status == BugStatus.MERGED


def bug_project(session):
    from sqlalchemy import select

    from logcenter.projects.models import Project

    return session.scalar(select(Project).where(Project.slug == "shop"))


def test_a_failed_deployment_changes_nothing(client, session):
    bug = merged_bug(session)
    response = deploy(client, status="failed", commit=MERGE)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert reload(session, bug).status == BugStatus.MERGED


def test_a_wrong_or_missing_secret_is_refused(client, session):
    bug = merged_bug(session)
    assert deploy(client, secret="guess", commit=MERGE).status_code == 401
    missing = client.post(
        "/api/webhooks/deployment", json={"project_id": "shop", "status": "success", "commit": MERGE}
    )
    assert missing.status_code == 401
    assert reload(session, bug).status == BugStatus.MERGED


def test_an_hmac_signature_works_instead_of_the_plain_secret(client, session):
    bug = merged_bug(session)
    raw = json.dumps({"project_id": "shop", "status": "success", "commit": MERGE[:12]}).encode()
    headers = {"content-type": "application/json", "X-Logcenter-Signature": f"sha256={hmac_hex(SECRET, raw)}"}
    response = client.post("/api/webhooks/deployment", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["deployed"] == [bug.id]


def test_other_projects_bugs_are_not_touched(client, session):
    ours = merged_bug(session)
    theirs = merged_bug(session, slug="other")
    assert deploy(client, commit=MERGE).json()["deployed"] == [ours.id]
    assert reload(session, theirs).status == BugStatus.MERGED


def test_invalid_fields_are_named(client, session):
    merged_bug(session)
    response = deploy(client, commit="not-a-sha")
    assert response.status_code == 422
    assert "commit" in response.text


def test_the_deployed_release_feeds_the_regression_check(client, session):
    forge_project(session, "rtc_backend", "airlabs/rtc_backend")
    bug_id = ingest(client, version="1.2.0")["id"]
    bug = session.get_one(Bug, bug_id)
    bug.status, bug.pr_number, bug.merge_commit_sha = BugStatus.MERGED, 3, MERGE
    bug.merged_at = datetime.now(UTC) - timedelta(minutes=5)
    session.commit()
    response = deploy(client, project_id="rtc_backend", commit=MERGE, version="1.3.0")
    assert response.json()["deployed"] == [bug_id]
    # From the release before the fix: not a regression. From the deployed release: the fix did not hold.
    assert ingest(client, version="1.2.0")["status"] == "DEPLOYED"
    assert ingest(client, version="1.3.0")["status"] == "NEW"


def test_a_project_s_own_deployment_secret_keeps_other_teams_ci_out(client, session, admin_headers):
    # Two teams: shop has its own deployment secret, blog does not (the server-wide secret deploys it).
    shop_bug = merged_bug(session)
    blog_bug = merged_bug(session, slug="blog", pr=9)
    own = "shop-deploys-7c1e"
    response = client.put("/api/v1/projects/shop", json={"deployment_secret": own}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["deployment_secret_set"] is True and own not in response.text
    stored = session.scalar(select(Project.deployment_secret_encrypted).where(Project.slug == "shop"))
    assert stored and own not in stored  # encrypted at rest
    assert own not in client.get("/api/v1/projects/shop", headers=admin_headers).text

    # The server-wide secret (another team's CI) no longer deploys shop; it still deploys blog.
    refused = deploy(client, commit=MERGE)
    assert refused.status_code == 401, refused.text
    assert reload(session, shop_bug).status == BugStatus.MERGED
    assert deploy(client, commit=MERGE, project_id="blog").json()["deployed"] == [blog_bug.id]
    # shop's secret deploys shop only.
    assert deploy(client, secret=own, commit=MERGE, project_id="blog").status_code == 401
    assert deploy(client, secret=own, commit=MERGE).json()["deployed"] == [shop_bug.id]
    # Signed with it (X-Logcenter-Signature) works as well.
    body = json.dumps({"project_id": "shop", "status": "success", "commit": MERGE}).encode()
    signed = client.post(
        "/api/webhooks/deployment",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Logcenter-Signature": "sha256=" + hmac_hex(own, body),
        },
    )
    assert signed.status_code == 200, signed.text
    # Cleared ("" in the API): the fallback is back.
    client.put("/api/v1/projects/shop", json={"deployment_secret": ""}, headers=admin_headers)
    assert client.get("/api/v1/projects/shop", headers=admin_headers).json()["deployment_secret_set"] is False
