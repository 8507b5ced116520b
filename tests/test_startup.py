"""Start-up as a new user meets it: one data directory wherever `serve` starts, one-line errors with exit
codes of their own and nothing created when it cannot start, `--version`, `/api/health`, offline API docs."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
from pydantic import SecretStr

from logcenter import __version__
from logcenter.config import Settings
from logcenter.db import create_db_engine
from logcenter.migrations import upgrade
from logcenter.projects import forge
from logcenter.projects.models import Project
from logcenter.secretbox import SecretBox
from logcenter.startup import (
    EXIT_DATA_DIR,
    EXIT_DATABASE,
    EXIT_PORT_IN_USE,
    EXIT_SECRET_KEY,
    EXIT_SETTINGS,
)
from tests.conftest import free_port
from tests.test_cli import data_dir, first_report, run, serve


def start(cwd: Path, home: Path) -> tuple[subprocess.Popen[str], str, str]:
    """serve from `cwd`; (process, base URL, what it printed before it was up)."""
    port = free_port()
    proc = serve(cwd, "--port", str(port), home=home)
    base = f"http://127.0.0.1:{port}"
    first_report(proc, base)
    return proc, base, ""


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    return proc.communicate(timeout=20)[0]


def test_serve_started_from_two_folders_uses_one_database(tmp_path):
    home, one, two = tmp_path / "home", tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    proc, _, _ = start(one, home)
    first = stop(proc)
    proc, base, _ = start(two, home)
    bug = httpx.post(
        base + "/api/v1/logs/report",
        json={
            "project_id": "rtc_backend",
            "environment": "production",
            "level": "ERROR",
            "error": {
                "type": "ValueError",
                "message": "x",
                "file_path": "apps/users/views.py",
                "line_number": 42,
                "stack_trace": [],
            },
        },
    ).json()
    second = stop(proc)
    where = f"SQLite database {data_dir(home)}/logcenter.db"
    assert where in first and where in second
    assert "admin token" in first and "admin token" not in second  # the same database: no second token
    # A new database is announced in one line, not migration by migration; an up-to-date one not at all.
    assert "Creating the database schema" in first and "Creating" not in second
    assert "Running upgrade" not in first + second and "Context impl" not in first + second
    assert bug["message"] == "Log deduplicated"  # the report of the first start is there
    assert not (one / "data").exists() and not (two / "data").exists()


def test_a_database_of_an_earlier_version_in_data_is_found_and_used(tmp_path):
    home = tmp_path / "home"
    legacy = tmp_path / "data" / "logcenter.db"
    result = run(["db", "upgrade"], tmp_path, LOGCENTER_DATABASE_URL=f"sqlite:///{legacy}")
    assert result.returncode == 0, result.stderr
    proc, _, _ = start(tmp_path, home)
    output = stop(proc)
    assert f"SQLite database {legacy}" in output
    assert not Path(data_dir(home)).exists()


def test_upgrading_an_existing_database_names_each_migration_it_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_db_engine(url)
    upgrade(engine, "0015")
    engine.dispose()
    result = run(["db", "upgrade"], tmp_path, LOGCENTER_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "Running upgrade 0015 -> 0016" in result.stderr
    assert "Creating the database schema" not in result.stderr and "Will assume" not in result.stderr


def test_a_port_in_use_is_one_line_and_exit_3_and_nothing_is_created(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        result = run(["serve", "--port", str(taken.getsockname()[1])], tmp_path)
    assert result.returncode == EXIT_PORT_IN_USE == 3
    assert result.stderr.strip().startswith("logcenter: Port ") and "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Log Center on" not in result.stdout and "admin token" not in result.stdout
    assert not (tmp_path / "home").exists()  # no data directory, no database, no token


def test_a_data_folder_that_cannot_be_created_is_one_line_and_exit_4(tmp_path):
    (tmp_path / "blocked").write_text("a file where the folder should be")
    result = run(
        ["serve", "--port", str(free_port())], tmp_path, LOGCENTER_DATA_DIR=str(tmp_path / "blocked" / "lc")
    )
    assert result.returncode == EXIT_DATA_DIR == 4
    assert "Cannot write the data folder" in result.stderr and "LOGCENTER_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr and "Log Center on" not in result.stdout


def test_an_unreachable_postgresql_is_one_line_and_exit_5(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    result = run(["serve", "--port", str(free_port())], tmp_path, LOGCENTER_DATABASE_URL=url)
    assert result.returncode == EXIT_DATABASE == 5
    assert "Cannot use the database postgresql+psycopg://postgres@127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2 and "Traceback" not in result.stderr
    token = run(["token", "list"], tmp_path, LOGCENTER_DATABASE_URL=url)  # every command, not only serve
    assert token.returncode == 5 and "Traceback" not in token.stderr


def test_a_port_out_of_range_is_one_line_and_exit_3(tmp_path):
    result = run(["serve", "--port", "99999"], tmp_path)
    assert result.returncode == EXIT_PORT_IN_USE
    assert result.stderr.strip() == "logcenter: Cannot listen on 127.0.0.1:99999: a port is 1-65535."
    assert not (tmp_path / "home").exists()


def test_a_setting_that_cannot_be_read_is_one_line_and_exit_2(tmp_path):
    (tmp_path / ".env").write_text("LOGCENTER_WORKERS=two\n")  # in .env or the environment: the same
    result = run(["serve", "--port", str(free_port())], tmp_path)
    assert result.returncode == EXIT_SETTINGS == 2
    assert result.stderr.strip().splitlines() == [
        "logcenter: LOGCENTER_WORKERS='two': Input should be a valid integer, unable to parse string as an "
        "integer.",
        "Correct it in the environment or in .env, or remove it to use the default.",
    ]
    assert not (tmp_path / "home").exists()
    token = run(["token", "list"], tmp_path, LOGCENTER_COUNT_INTERVAL="soon")  # every command, not only serve
    assert token.returncode == 2 and "LOGCENTER_COUNT_INTERVAL='soon'" in token.stderr
    assert "Traceback" not in token.stderr
    assert run(["--debug", "token", "list"], tmp_path).returncode == 1  # --debug: the traceback


def test_debug_shows_the_traceback(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    result = run(["--debug", "serve", "--port", str(free_port())], tmp_path, LOGCENTER_DATABASE_URL=url)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_version(tmp_path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"logcenter {__version__}"


def test_health_says_the_database_and_the_writer_answer(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "database": "ok", "writer": "ok"}


def test_health_is_503_when_the_database_is_gone(app, client):
    working = app.state.engine
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    app.state.engine = create_db_engine(unreachable, pool_size=1)
    try:
        response = client.get("/api/health")
    finally:
        app.state.engine.dispose()
        app.state.engine = working
    assert response.status_code == 503
    assert response.json()["database"] == "down" and response.json()["status"] == "unavailable"


def test_the_api_docs_load_with_no_route_to_any_cdn(live_server, browser):
    page = browser.new_page()
    outside: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(live_server.url + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    assert page.locator(".opblock").count() > 10  # the operations are rendered
    assert page.get_by_text("/api/v1/logs/report", exact=True).count() >= 1
    assert outside == []
    page.goto(live_server.url + "/redoc")
    page.get_by_text("Report an error").first.wait_for(state="attached", timeout=15_000)
    assert outside == []


def test_a_second_server_of_a_database_that_holds_secrets_makes_no_key_of_its_own(tmp_path, db):
    """Two servers of one database (replicas on PostgreSQL, or a server whose key file was lost): the one
    without the key refuses to start, exit 7, instead of making a key that decrypts none of the secrets."""
    url = db.url
    first = tmp_path / "first"
    with db.factory() as session:
        project = Project(slug="shop")
        box = SecretBox(Settings(database_url=url, data_dir=first))
        forge.store_secrets(project, {"forge_token": SecretStr("tok-1")}, box=box)
        session.add(project)
        session.commit()
    second = tmp_path / "second"
    for command in (["serve", "--port", str(free_port())], ["worker", "--once"]):
        result = run(command, tmp_path, LOGCENTER_DATABASE_URL=url, LOGCENTER_DATA_DIR=str(second))
        assert result.returncode == EXIT_SECRET_KEY == 7, result.stderr
        assert "holds 1 encrypted secret(s)" in result.stderr and "LOGCENTER_SECRET_KEY" in result.stderr
        assert f"{second / 'secret.key'}" in result.stderr and "Traceback" not in result.stderr
        assert "Log Center on" not in result.stdout and not (second / "secret.key").exists()
    # Given the first server's key, it starts.
    key = (first / "secret.key").read_text().strip()
    result = run(["worker", "--once"], tmp_path, LOGCENTER_DATABASE_URL=url, LOGCENTER_DATA_DIR=str(second),
                 LOGCENTER_SECRET_KEY=key)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # A new database with no secrets yet gets its key as before.
    fresh = run(["worker", "--once"], tmp_path, LOGCENTER_DATA_DIR=str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr


def test_the_api_docs_log_no_error_and_ask_no_other_site_when_served_under_a_real_host_name(
    live_server, browser
):
    """Served as a real host name (Swagger UI would show a validator badge from validator.swagger.io on any
    host but localhost in its standalone layout), neither page logs a console error nor asks another site for
    anything: no Redocly logo from its CDN, which the page's CSP refused, a console error on every visit."""
    host = "http://docs.example"
    page = browser.new_page()
    outside: list[str] = []
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def as_docs_example(route):
        if route.request.url.startswith(host + "/"):
            route.fulfill(response=route.fetch(url=live_server.url + route.request.url[len(host) :]))
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", as_docs_example)
    page.goto(host + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    assert (outside, errors) == ([], [])
    page.goto(host + "/redoc")
    page.get_by_text("API docs by Redocly").wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    assert (outside, errors) == ([], [])
