"""Project forge settings through the API: derived repository, write-only secrets, the reviewer scope."""

from __future__ import annotations

from logcenter.auth.models import Scope
from logcenter.bugs.models import BugStatus
from tests.conftest import make_token
from tests.webhooks.conftest import SECRET, post, reload, review_bug
from tests.webhooks.payloads import github_delivery, github_pr


def test_the_repository_is_read_from_repo_url_when_not_set(client, session, admin_headers):
    body = {"project_id": "shop", "repo_url": "git@github.com:Acme/Shop.git"}
    created = client.post("/api/v1/projects", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["forge_repo"] == "Acme/Shop"
    assert created.json()["forge"] is None  # guessed when used: github.com is GitHub
    from sqlalchemy import select

    from logcenter.projects.models import Project

    bug = review_bug(session, session.scalar(select(Project).where(Project.slug == "shop")))
    # GitHub names are case-insensitive: acme/shop is the same repository.
    delivery = github_delivery(github_pr("closed", repo="acme/shop", number=7), secret=SECRET)
    assert post(client, "/api/webhooks/github", delivery).json()["status"] == "ok"
    assert reload(session, bug).status == BugStatus.FAILED


def test_invalid_forge_settings_are_named_and_the_token_is_not_echoed(client, admin_headers):
    token = "ghp_" + "s" * 36
    body = {"project_id": "shop", "forge": "bitbucket", "forge_url": "ftp://x", "forge_token": token}
    response = client.post("/api/v1/projects", json=body, headers=admin_headers)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"forge", "forge_url"} <= fields
    assert token not in response.text


def test_a_reviewer_token_reads_bugs_but_cannot_change_projects(client, db, session, admin_headers):
    client.post("/api/v1/projects", json={"project_id": "shop"}, headers=admin_headers)
    reviewer = {"Authorization": f"Bearer {make_token(db, Scope.REVIEWER, 'rita')}"}
    assert client.get("/api/v1/bugs", headers=reviewer).status_code == 200
    assert client.put("/api/v1/projects/shop", json={"forge": "gitea"}, headers=reviewer).status_code == 403
    ingest = {"Authorization": f"Bearer {make_token(db, Scope.INGEST, 'app')}"}
    assert client.get("/api/v1/bugs", headers=ingest).status_code == 403


def test_a_forge_address_without_api_path_gets_the_forges_usual_one(
    client, session, admin_headers, fake_gitlab
):
    from tests.webhooks.test_with_fake_forges import pending

    body = {
        "project_id": "app",
        "forge": "gitlab",
        "forge_url": fake_gitlab.url,  # the web address, as people copy it from the browser
        "forge_repo": fake_gitlab.default_repo,
        "forge_token": fake_gitlab.token,
    }
    assert client.post("/api/v1/projects", json=body, headers=admin_headers).status_code == 201
    bug, pr = pending(session, fake_gitlab)
    response = client.post(f"/api/v1/bugs/{bug.id}/merge", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert pr.merged
