"""Creating a project from the projects page, as a new team does before its first report: the form (admins
only, CSRF, validation with the field named, nothing half-created), then the project's card with its DSN and
how to send it errors; and the board's first-run hint while there are no bugs at all."""

from __future__ import annotations

import html
import re

from tests.factories import make_project, report_payload
from tests.web.test_access import log_in


def test_an_admin_creates_a_project_and_gets_its_dsn_and_setup_snippets(client, users, admin_headers):
    csrf = log_in(client, "ada")
    page = client.get("/projects").text
    assert 'id="new-project"' in page and "open" in page.split('id="new-project"')[1].split(">")[0]
    assert "No project yet: create one above" in page

    created = client.post(
        "/projects",
        data={
            "csrf_token": csrf,
            "project_id": " shop ",
            "name": "<b>Shop</b>",
            "repo_url": "https://git.example.com/acme/shop.git",
            "default_branch": "main",
            "test_command": "",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert re.fullmatch(r"/projects\?created=shop#project-\d+", created.headers["location"])

    project = client.get("/api/v1/projects/shop", headers=admin_headers).json()
    assert project["name"] == "<b>Shop</b>" and project["default_branch"] == "main"
    assert project["repo_url_confirmed"] is True and project["test_command"] is None

    card = client.get(created.headers["location"]).text
    assert "Project created." in card
    assert "&lt;b&gt;Shop&lt;/b&gt;" in card and "<b>Shop</b>" not in card
    assert f'sentry_sdk.init(dsn="{project["dsn"]}"' in html.unescape(card)
    assert f'Sentry.init({{ dsn: "{project["dsn"]}"' in html.unescape(card)
    rest = html.unescape(re.search(r'<pre class="copyable" id="rest-\d+">(.*?)</pre>', card, re.S).group(1))
    assert rest.splitlines()[0].endswith("/api/v1/logs/report \\")
    assert '"project_id": "shop"' in rest and "X-Logcenter-Key" not in rest  # ingest is open here
    assert "missing" in card  # the test command the agent still needs is pointed out
    # The new form is closed once a project exists.
    assert "open" not in card.split('id="new-project"')[1].split(">")[0]

    # Reports reach it: the snippet's project id is the one the API created.
    report = client.post("/api/v1/logs/report", json=report_payload(project_id="shop"))
    assert report.status_code == 200 and report.json()["message"] == "Log reported"


def test_a_bad_or_taken_project_id_is_named_and_nothing_is_created(client, users, session, admin_headers):
    make_project(session, "shop", name="The shop")
    session.commit()
    csrf = log_in(client, "ada")

    bad = client.post("/projects", data={"csrf_token": csrf, "project_id": "bad id!", "name": "x"})
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text and "Project ID may contain only letters, digits and" in bad.text
    assert 'value="bad id!"' in bad.text and 'value="x"' in bad.text  # the form keeps what was typed
    assert client.get("/api/v1/projects/bad id!", headers=admin_headers).status_code == 404

    missing = client.post("/projects", data={"csrf_token": csrf, "project_id": "  "})
    assert missing.status_code == 422 and "Project ID is required" in missing.text

    taken = client.post("/projects", data={"csrf_token": csrf, "project_id": "shop", "name": "Another"})
    assert taken.status_code == 409 and "already exists" in taken.text
    assert client.get("/api/v1/projects/shop", headers=admin_headers).json()["name"] == "The shop"

    hostile = client.post("/projects", data={"csrf_token": csrf, "project_id": "<script>alert(1)</script>"})
    assert hostile.status_code == 422 and "<script>alert(1)</script>" not in hostile.text


def test_only_admins_create_projects(client, users, admin_headers):
    csrf = log_in(client, "rita")
    assert 'id="new-project"' not in client.get("/projects").text
    refused = client.post("/projects", data={"csrf_token": csrf, "project_id": "shop"})
    assert refused.status_code == 403
    assert client.get("/api/v1/projects/shop", headers=admin_headers).status_code == 404

    client.cookies.clear()
    log_in(client, "ada")
    no_csrf = client.post("/projects", data={"project_id": "shop"})
    assert no_csrf.status_code == 403
    assert client.get("/api/v1/projects/shop", headers=admin_headers).status_code == 404


def test_the_board_says_how_to_start_until_the_first_bug_arrives(client, users):
    log_in(client, "victor")
    board = client.get("/").text
    assert "No bugs yet." in board and 'href="/projects"' in board.split("No bugs yet.")[1]

    assert client.post("/api/v1/logs/report", json=report_payload()).status_code == 200
    board = client.get("/").text
    assert "No bugs yet." not in board
    assert "No bugs match." in client.get("/?status=FAILED").text
