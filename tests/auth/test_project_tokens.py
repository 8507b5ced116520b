"""Tokens restricted to projects: two teams on one server, each token acting on its own team's projects only.

What lies outside a token's projects is answered as if it did not exist (404) when named in the path, is
left out of lists, and is refused (403) when a request targets it (a report, a source map upload). Tokens
without a restriction keep acting on every project, as before."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from logcenter.auth import service as auth_service
from logcenter.auth.models import Scope
from logcenter.bugs.models import Bug, BugStatus, Occurrence
from logcenter.config import Settings
from logcenter.errors import ValidationFailed
from logcenter.main import create_app
from tests.conftest import Database, make_token
from tests.factories import make_bug, make_project, report_payload


def restricted(db: Database, scope: Scope, name: str, *slugs: str) -> dict[str, str]:
    """Headers of a token restricted to these projects, made as `logcenter token create --project` does."""
    from logcenter.auth import projects as token_projects

    with db.factory() as s:
        ids = token_projects.resolve(s, slugs)
        _, token = auth_service.create_token(s, name=name, scope=scope, project_ids=ids)
        s.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def teams(session):
    """Two projects with a bug each: shop (team A) and blog (team B)."""
    shop, blog = make_project(session, "shop"), make_project(session, "blog")
    bugs = {"shop": make_bug(session, shop), "blog": make_bug(session, blog)}
    session.commit()
    return {slug: bug.id for slug, bug in bugs.items()}


def test_a_restricted_agent_token_sees_and_changes_only_its_projects(client, db, session, teams):
    shop_team = restricted(db, Scope.AGENT, "shop-agent", "shop")
    listed = client.get("/api/v1/bugs", headers=shop_team).json()
    assert [b["id"] for b in listed["bugs"]] == [teams["shop"]] and listed["total"] == 1
    assert client.get("/api/v1/bugs?project_id=blog", headers=shop_team).json()["total"] == 0
    assert client.get(f"/api/v1/bugs/{teams['shop']}", headers=shop_team).status_code == 200
    # Another team's bug: the same answer as a bug that does not exist, for reads and writes alike.
    blog_bug = teams["blog"]
    for method, path, body in [
        ("GET", f"/api/v1/bugs/{blog_bug}", None),
        ("PUT", f"/api/v1/bugs/{blog_bug}/status", {"status": "FIXING"}),
        ("POST", f"/api/v1/bugs/{blog_bug}/fail", {"reason": "no"}),
        ("POST", f"/api/v1/bugs/{blog_bug}/ignore", {}),
        ("GET", f"/api/v1/bugs/{blog_bug}/repair-reports", None),
    ]:
        response = client.request(method, path, json=body, headers=shop_team)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["detail"] == f"Bug {blog_bug} not found"
    session.expire_all()
    assert (
        session.get(Bug, blog_bug).status == BugStatus.NEW and session.get(Bug, blog_bug).ignored_at is None
    )
    # Merging blog's bug into shop's (absorb) is refused as for an unknown bug.
    absorb = client.post(
        f"/api/v1/bugs/{teams['shop']}/absorb", json={"bug_ids": [blog_bug]}, headers=shop_team
    )
    assert absorb.status_code == 404
    # Projects (with their ingest keys) and statistics: only its own.
    assert [
        p["project_id"] for p in client.get("/api/v1/projects", headers=shop_team).json()["projects"]
    ] == ["shop"]
    assert client.get("/api/v1/projects/blog", headers=shop_team).status_code == 404
    stats = client.get("/api/v1/stats", headers=shop_team).json()
    assert [p["project_id"] for p in stats["projects"]] == ["shop"] and stats["status_counts"]["total"] == 1
    assert client.get("/api/v1/stats?project_id=blog", headers=shop_team).status_code == 404


def test_a_restricted_agent_claims_only_its_projects_bugs(client, db, teams):
    shop_team = restricted(db, Scope.AGENT, "shop-agent", "shop")
    body = {"agent": "agent-a", "limit": 5}
    assert (
        client.post("/api/v1/agent/claim", json={**body, "project_id": "blog"}, headers=shop_team).status_code
        == 404
    )
    claimed = client.post("/api/v1/agent/claim", json=body, headers=shop_team).json()["bugs"]
    assert [b["id"] for b in claimed] == [teams["shop"]]
    # blog's bug, claimed by blog's agent under the same agent name: shop's token cannot touch its lease.
    blog_team = restricted(db, Scope.AGENT, "blog-agent", "blog")
    assert [
        b["id"] for b in client.post("/api/v1/agent/claim", json=body, headers=blog_team).json()["bugs"]
    ] == [teams["blog"]]
    both = {"agent": "agent-a", "bug_ids": [teams["shop"], teams["blog"]]}
    beat = client.post("/api/v1/agent/heartbeat", json=both, headers=shop_team).json()
    assert (beat["held"], beat["lost"]) == ([teams["shop"]], [teams["blog"]])
    released = client.post("/api/v1/agent/release", json=both, headers=shop_team).json()
    assert released["held"] == [teams["shop"]]
    progress = {"agent": "agent-a", "bug_id": teams["blog"], "step": "testing", "note": ""}
    assert client.post("/api/v1/agent/progress", json=progress, headers=shop_team).status_code == 404
    assert client.get(f"/api/v1/bugs/{teams['blog']}", headers=blog_team).json()["status"] == "FIXING"


def test_tokens_without_a_restriction_act_on_every_project(client, db, teams, agent_headers, admin_headers):
    for headers in (agent_headers, admin_headers):
        assert client.get("/api/v1/bugs", headers=headers).json()["total"] == 2
        assert client.get(f"/api/v1/bugs/{teams['blog']}", headers=headers).status_code == 200
        assert len(client.get("/api/v1/projects", headers=headers).json()["projects"]) == 2


def test_a_restricted_reviewer_merges_and_rejects_only_its_projects_fixes(client, db, teams):
    shop_team = restricted(db, Scope.REVIEWER, "shop-reviewer", "shop")
    for action, body in (("merge", {}), ("reject", {"reason": "no"})):
        single = client.post(f"/api/v1/bugs/{teams['blog']}/{action}", json=body, headers=shop_team)
        assert single.status_code == 404, single.text
        batch = client.post(
            f"/api/v1/bugs/{action}", json={**body, "bug_ids": [teams["blog"]]}, headers=shop_team
        )
        assert batch.json()["results"] == [
            {"bug_id": teams["blog"], "ok": False, "status": None, "outcome": None, "status_code": 404,
             "error": f"Bug {teams['blog']} not found"}
        ]  # fmt: skip
    revision = client.post(f"/api/v1/bugs/{teams['blog']}/revision", json={"comment": "x"}, headers=shop_team)
    assert revision.status_code == 404


def test_a_restricted_ingest_token_reports_only_to_its_projects(db, session, teams):
    settings = Settings(
        database_url=db.url, database_pool_size=2, lease_sweep_seconds=3600, ingest_require_key=True
    )
    shop_team = restricted(db, Scope.INGEST, "shop-ci", "shop")
    before = session.scalar(select(func.count()).select_from(Occurrence))
    with TestClient(create_app(settings)) as client:
        ok = client.post("/api/v1/logs/report", json=report_payload(project_id="shop"), headers=shop_team)
        assert ok.status_code == 200, ok.text
        for slug in ("blog", "brand_new_project"):
            refused = client.post(
                "/api/v1/logs/report", json=report_payload(project_id=slug), headers=shop_team
            )
            assert refused.status_code == 403, refused.text
            assert "restricted" in refused.json()["detail"]
        # An unrestricted ingest token reports anywhere, as before.
        anyone = {"Authorization": f"Bearer {make_token(db, Scope.INGEST, 'any-ci')}"}
        assert (
            client.post(
                "/api/v1/logs/report", json=report_payload(project_id="blog"), headers=anyone
            ).status_code
            == 200
        )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Occurrence)) == before + 2


def test_an_admin_token_cannot_be_restricted(db, teams):
    with db.factory() as s, pytest.raises(ValidationFailed, match="admin token"):
        auth_service.create_token(s, name="root", scope=Scope.ADMIN, project_ids=[1])
