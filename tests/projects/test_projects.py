"""Projects API: list, get, edit, create, key rotation; repo_url from reports."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from logcenter.config import Settings
from logcenter.main import create_app
from tests.bugs.helpers import ingest
from tests.factories import make_project, report_payload


@pytest.fixture
def projects(session):
    shop = make_project(
        session,
        "shop",
        name="Shop",
        repo_url="https://git.example.com/acme/shop.git",
        local_path="/srv/shop",
        description="The web shop",
        default_branch="main",
        test_command="pytest -q",
    )
    billing = make_project(session, "billing")
    session.commit()
    return {"shop": shop, "billing": billing}


def get(client, headers, slug):
    response = client.get(f"/api/v1/projects/{slug}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def put(client, headers, slug, body, status=200):
    response = client.put(f"/api/v1/projects/{slug}", headers=headers, json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_list_projects(client, agent_headers, projects):
    response = client.get("/api/v1/projects", headers=agent_headers)
    assert response.status_code == 200
    listed = response.json()["projects"]
    assert [p["project_id"] for p in listed] == ["billing", "shop"]
    shop = listed[1]
    assert {k: shop[k] for k in ("id", "name", "repo_url", "local_path", "description")} == {
        "id": projects["shop"].id,
        "name": "Shop",
        "repo_url": "https://git.example.com/acme/shop.git",
        "local_path": "/srv/shop",
        "description": "The web shop",
    }
    assert (shop["default_branch"], shop["test_command"]) == ("main", "pytest -q")
    assert listed[0]["repo_url"] is None


def test_get_project_with_its_dsn(client, admin_headers, projects):
    shop = get(client, admin_headers, "shop")
    key = projects["shop"].ingest_key
    assert shop["ingest_key"] == key
    assert shop["dsn"] == f"http://{key}@testserver/{projects['shop'].id}"


def test_unknown_project_is_404(client, admin_headers, projects):
    for method, path, body in [
        ("GET", "/api/v1/projects/nope", None),
        ("PUT", "/api/v1/projects/nope", {"name": "x"}),
        ("POST", "/api/v1/projects/nope/rotate-key", None),
    ]:
        response = client.request(method, path, headers=admin_headers, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Project 'nope' not found"}


def test_put_changes_the_fields_sent_and_keeps_the_others(client, admin_headers, projects):
    body = put(
        client,
        admin_headers,
        "shop",
        {"name": "Web shop", "repo_url": "git@git.example.com:acme/shop.git", "test_command": "make test"},
    )
    assert (body["name"], body["repo_url"], body["test_command"]) == (
        "Web shop",
        "git@git.example.com:acme/shop.git",
        "make test",
    )
    assert (body["local_path"], body["description"], body["default_branch"]) == (
        "/srv/shop",
        "The web shop",
        "main",
    )
    again = get(client, admin_headers, "shop")
    assert again == body
    assert again["updated_at"] >= again["created_at"]


def test_put_every_field(client, admin_headers, projects):
    fields = {
        "name": "Billing",
        "repo_url": "https://github.com/acme/billing",
        "local_path": "/home/agent/billing",
        "description": "Invoices\nand payments",
        "default_branch": "release/2.x",
        "test_command": "python -m pytest tests -x",
    }
    body = put(client, admin_headers, "billing", fields)
    assert {k: body[k] for k in fields} == fields
    assert {k: get(client, admin_headers, "billing")[k] for k in fields} == fields


@pytest.mark.parametrize(
    "field", ["name", "repo_url", "local_path", "description", "default_branch", "test_command"]
)
def test_put_empty_string_clears_a_field(client, admin_headers, projects, field):
    body = put(client, admin_headers, "shop", {field: ""})
    assert body[field] is None
    assert get(client, admin_headers, "shop")[field] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"repo_url": "acme/shop"}, "repo_url"),
        ({"repo_url": "javascript:alert(1)"}, "repo_url"),
        ({"repo_url": "https://x/" + "a" * 500}, "repo_url"),
        ({"name": "two\nlines"}, "name"),
        ({"default_branch": "main; rm -rf /"}, "default_branch"),
        ({"default_branch": "--upload-pack=touch /tmp/x"}, "default_branch"),
        ({"default_branch": "-b"}, "default_branch"),
        ({"test_command": "pytest\x00"}, "test_command"),
        ({"colour": "red"}, "colour"),
        ({"project_id": "renamed"}, "project_id"),
        ({"name": 5}, "name"),
    ],
)
def test_put_validation_names_the_field(client, admin_headers, projects, body, field):
    response = client.put("/api/v1/projects/shop", headers=admin_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert get(client, admin_headers, "shop")["repo_url"] == "https://git.example.com/acme/shop.git"


def test_put_bad_repo_url_message(client, admin_headers, projects):
    response = client.put("/api/v1/projects/shop", headers=admin_headers, json={"repo_url": "acme/shop"})
    [error] = response.json()["errors"]
    assert error["field"] == "repo_url"
    assert "http(s)://" in error["message"]


def test_create_project(client, admin_headers):
    response = client.post(
        "/api/v1/projects",
        headers=admin_headers,
        json={"project_id": "mobile-api", "repo_url": "https://forge/m.git", "name": "M"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["project_id"], body["name"], body["repo_url"], body["description"]) == (
        "mobile-api",
        "M",
        "https://forge/m.git",
        None,
    )
    assert len(body["ingest_key"]) == 32
    assert body["dsn"] == f"http://{body['ingest_key']}@testserver/{body['id']}"
    assert get(client, admin_headers, "mobile-api") == body


def test_create_duplicate_is_409(client, admin_headers, projects):
    response = client.post(
        "/api/v1/projects", headers=admin_headers, json={"project_id": "shop", "name": "X"}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "Project 'shop' already exists"}
    assert get(client, admin_headers, "shop")["name"] == "Shop"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "project_id"),
        ({"project_id": ""}, "project_id"),
        ({"project_id": "has space"}, "project_id"),
        ({"project_id": "-leading"}, "project_id"),
        ({"project_id": "x" * 101}, "project_id"),
        ({"project_id": "ok", "repo_url": "nope"}, "repo_url"),
        ({"project_id": "ok", "owner": "me"}, "owner"),
    ],
)
def test_create_validation(client, admin_headers, body, field):
    response = client.post("/api/v1/projects", headers=admin_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert client.get("/api/v1/projects", headers=admin_headers).json()["projects"] == []


def test_rotate_key_changes_key_and_dsn(client, admin_headers, projects):
    old = get(client, admin_headers, "shop")
    response = client.post("/api/v1/projects/shop/rotate-key", headers=admin_headers)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert set(rotated) == {"ingest_key", "dsn"}
    assert rotated["ingest_key"] != old["ingest_key"]
    assert len(rotated["ingest_key"]) == 32
    assert rotated["dsn"] == f"http://{rotated['ingest_key']}@testserver/{old['id']}"
    assert old["ingest_key"] not in rotated["dsn"]
    now = get(client, admin_headers, "shop")
    assert (now["ingest_key"], now["dsn"]) == (rotated["ingest_key"], rotated["dsn"])
    # Only that project's key changed.
    assert get(client, admin_headers, "billing")["ingest_key"] == projects["billing"].ingest_key


def test_report_fills_an_empty_repo_url(client, admin_headers):
    ingest(client, project_id="fresh", repo_url="https://git.example.com/acme/fresh.git")
    assert get(client, admin_headers, "fresh")["repo_url"] == "https://git.example.com/acme/fresh.git"
    # Later reports do not change it.
    ingest(client, project_id="fresh", repo_url="https://elsewhere/fork.git")
    assert get(client, admin_headers, "fresh")["repo_url"] == "https://git.example.com/acme/fresh.git"


def test_a_reported_repo_url_is_only_a_suggestion_until_an_admin_confirms_it(client, admin_headers, projects):
    # Reports need no login: a repo_url they carry must not decide where the forge token goes or which
    # repository the repair agent clones and runs.
    put(client, admin_headers, "billing", {"forge": "gitea", "forge_token": "secret-token"})
    ingest(client, project_id="billing", repo_url="https://gitea.attacker.example/evil/billing.git")
    reported = get(client, admin_headers, "billing")
    assert reported["repo_url"] == "https://gitea.attacker.example/evil/billing.git"
    assert reported["repo_url_confirmed"] is False and reported["forge_repo"] is None
    put(client, admin_headers, "billing", {"repo_url": "https://gitea.example.com/acme/billing.git"})
    confirmed = get(client, admin_headers, "billing")
    assert confirmed["repo_url_confirmed"] is True and confirmed["forge_repo"] == "acme/billing"
    put(client, admin_headers, "billing", {"repo_url": ""})
    assert get(client, admin_headers, "billing")["repo_url_confirmed"] is False


def test_report_fills_repo_url_of_a_project_created_without_one(client, admin_headers, projects):
    ingest(client, project_id="billing")
    assert get(client, admin_headers, "billing")["repo_url"] is None
    ingest(client, project_id="billing", repo_url="https://git.example.com/acme/billing.git")
    assert get(client, admin_headers, "billing")["repo_url"] == "https://git.example.com/acme/billing.git"


def test_report_never_overwrites_a_configured_repo_url(client, admin_headers, projects):
    ingest(client, project_id="shop", repo_url="https://attacker.example/evil.git")
    assert get(client, admin_headers, "shop")["repo_url"] == "https://git.example.com/acme/shop.git"
    put(client, admin_headers, "billing", {"repo_url": "/srv/git/billing"})
    ingest(client, project_id="billing", repo_url="https://attacker.example/evil.git")
    assert get(client, admin_headers, "billing")["repo_url"] == "/srv/git/billing"


def test_project_created_by_a_report_with_a_slash_in_its_id(client, admin_headers):
    # The guide's project_id may contain "/" (e.g. "team/app"); the project API must still reach it.
    ingest(client, project_id="team/app")
    listed = [
        p["project_id"] for p in client.get("/api/v1/projects", headers=admin_headers).json()["projects"]
    ]
    assert listed == ["team/app"]
    assert get(client, admin_headers, "team/app")["project_id"] == "team/app"
    assert get(client, admin_headers, "team%2Fapp")["project_id"] == "team/app"
    assert put(client, admin_headers, "team/app", {"name": "Team app"})["name"] == "Team app"
    rotated = client.post("/api/v1/projects/team/app/rotate-key", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    assert get(client, admin_headers, "team/app")["ingest_key"] == rotated.json()["ingest_key"]
    response = client.get("/api/v1/projects/team/nope", headers=admin_headers)
    assert (response.status_code, response.json()) == (404, {"detail": "Project 'team/nope' not found"})


@pytest.mark.parametrize("slug", ["evil/../shop", "evil/./shop", "a/..", "a//b", "a/"])
def test_a_project_id_with_dot_segments_is_refused(client, admin_headers, projects, slug):
    # The projects page puts the id in paths (/projects/<id>/rotate-key) that the browser resolves: a report
    # naming "evil/../shop" made a project whose Rotate key button rotated shop's key.
    response = client.post("/api/v1/logs/report", json=report_payload(project_id=slug))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["project_id"]
    assert '".."' in response.json()["errors"][0]["message"]
    created = client.post("/api/v1/projects", headers=admin_headers, json={"project_id": slug})
    assert created.status_code == 422
    listed = client.get("/api/v1/projects", headers=admin_headers).json()["projects"]
    assert {p["project_id"] for p in listed} == set(projects)


def test_concurrent_creates_of_one_project(live_server, admin_headers):
    start = threading.Barrier(8)

    def create(_: int) -> tuple[int, dict]:
        with httpx.Client(base_url=live_server.url, headers=admin_headers, timeout=60) as http:
            start.wait()
            response = http.post("/api/v1/projects", json={"project_id": "race", "name": "Race"})
            return response.status_code, response.json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(8)))
    assert sorted(code for code, _ in results) == [201] + [409] * 7
    assert all(body == {"detail": "Project 'race' already exists"} for code, body in results if code == 409)


def test_rotated_key_replaces_the_old_one_for_ingest(db, admin_headers, projects):
    settings = Settings(
        database_url=db.url, database_pool_size=2, lease_sweep_seconds=3600, ingest_require_key=True
    )
    with TestClient(create_app(settings)) as client:
        old_key = projects["shop"].ingest_key
        payload = report_payload(project_id="shop")
        accepted = client.post("/api/v1/logs/report", json=payload, headers={"X-Logcenter-Key": old_key})
        assert accepted.status_code == 200, accepted.text
        new_key = client.post("/api/v1/projects/shop/rotate-key", headers=admin_headers).json()["ingest_key"]
        refused = client.post("/api/v1/logs/report", json=payload, headers={"X-Logcenter-Key": old_key})
        assert refused.status_code == 403
        assert (
            client.post("/api/v1/logs/report", json=payload, headers={"X-Logcenter-Key": new_key}).status_code
            == 200
        )


@pytest.mark.parametrize(
    "url",
    ["ext::sh -c touch% /tmp/pwned", "file:///etc", "/srv/git/other", "fd::17", "acme/shop", "-u evil"],
)
def test_report_cannot_set_a_repo_url_git_would_run_or_read_locally(client, admin_headers, url):
    # Reports need no token by default: they may fill in a network remote, nothing else.
    ingest(client, project_id="fresh", repo_url=url)
    assert get(client, admin_headers, "fresh")["repo_url"] is None
    ingest(client, project_id="fresh", repo_url="git@git.example.com:acme/fresh.git")
    assert get(client, admin_headers, "fresh")["repo_url"] == "git@git.example.com:acme/fresh.git"
