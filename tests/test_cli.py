"""The commands a new user runs, as real processes."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import free_port
from tests.factories import report_payload


def user_env(home) -> dict[str, str]:
    """The environment of a new user whose home is `home`: no LOGCENTER_* settings, so the default data
    directory ~/.local/share/logcenter under that home."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOGCENTER_", "XDG_"))}
    return {**clean, "HOME": str(home)}


def data_dir(home) -> str:
    return str(home / ".local" / "share" / "logcenter")


def run(args: list[str], cwd, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logcenter", *args],
        cwd=cwd,
        env={**user_env(cwd / "home"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def serve(cwd, *args: str, home=None) -> subprocess.Popen[str]:
    """`logcenter serve` as a new user runs it (home: cwd/home), so the SQLite default in their data dir."""
    return subprocess.Popen(
        [sys.executable, "-m", "logcenter", "serve", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=user_env(home or cwd / "home"),
    )


def first_report(proc: subprocess.Popen[str], base: str) -> httpx.Response:
    """Post a report as soon as the server accepts connections (90 s at most: starting `serve` with its
    writer and HTTP worker processes took 5-15 s on a quiet CI machine, over 30 s beside a busy neighbour)."""
    deadline = time.monotonic() + 90
    while True:
        assert time.monotonic() < deadline and proc.poll() is None
        try:
            return httpx.post(base + "/api/v1/logs/report", json=report_payload())
        except httpx.TransportError:
            time.sleep(0.2)


def test_token_create_prints_the_token_last_and_stores_only_its_hash(tmp_path):
    url = f"sqlite:///{tmp_path / 'lc.db'}"
    result = run(
        ["token", "create", "--name", "agent-1", "--scope", "agent"], tmp_path, LOGCENTER_DATABASE_URL=url
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("lc_") and len(token) > 40
    listed = run(["token", "list"], tmp_path, LOGCENTER_DATABASE_URL=url)
    assert "agent\tagent-1" in listed.stdout and token not in listed.stdout
    assert token not in (tmp_path / "lc.db").read_bytes().decode("latin-1")


def test_token_create_restricted_to_projects(tmp_path):
    url = f"sqlite:///{tmp_path / 'lc.db'}"
    env = {"LOGCENTER_DATABASE_URL": url}
    args = ["token", "create", "--name", "shop-ci", "--scope", "ingest", "--project", "shop"]
    unknown = run(args, tmp_path, **env)
    assert unknown.returncode == 1 and "no such project: shop" in unknown.stderr
    with sqlite3.connect(tmp_path / "lc.db") as conn:
        for slug in ("shop", "blog"):
            conn.execute(
                "INSERT INTO projects (slug, ingest_key, repo_url_confirmed, created_at, updated_at) "
                "VALUES (?, ?, 0, '2026-12-07 00:00:00', '2026-12-07 00:00:00')",
                (slug, f"key-{slug}"),
            )
    made = run([*args, "--project", "blog"], tmp_path, **env)
    assert made.returncode == 0, made.stderr
    assert "for project(s) shop, blog" in made.stderr
    admin = run(
        ["token", "create", "--name", "root", "--scope", "admin", "--project", "shop"], tmp_path, **env
    )
    assert admin.returncode == 1 and "cannot be restricted" in admin.stderr
    run(["token", "create", "--name", "any-ci", "--scope", "ingest"], tmp_path, **env)
    listed = run(["token", "list"], tmp_path, **env).stdout.splitlines()
    assert [line.rsplit("\t", 1)[1] for line in listed] == ["shop,blog", "all projects"]


def test_every_command_works_before_serve_ever_ran(tmp_path):
    """A new user may list tokens or jobs before the first start: an empty answer, not 'no such table'."""
    for command in (["token", "list"], ["jobs", "list"], ["token", "revoke", "7"], ["jobs", "retry", "7"]):
        result = run(command, tmp_path)
        assert "no such table" not in result.stderr and "Traceback" not in result.stderr, command
        assert result.returncode == (0 if command[1] == "list" else 1), (command, result.stderr)
        assert result.stdout == "", command


def test_token_create_rejects_unknown_scope(tmp_path):
    result = run(["token", "create", "--name", "x", "--scope", "root"], tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_serve_on_the_sqlite_default_prints_where_and_an_admin_token(tmp_path):
    port = free_port()
    proc = serve(tmp_path, "--port", str(port))
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90  # as first_report()
        while not any("Uvicorn running" in line or "Application startup complete" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output
        assert f"{data_dir(tmp_path / 'home')}/logcenter.db" in output
        token = lines[lines.index(next(x for x in lines if "admin token" in x)) + 1].strip()
        base = f"http://127.0.0.1:{port}"
        assert (
            httpx.post(base + "/api/v1/logs/report", json=report_payload()).json()["message"]
            == "Log reported"
        )
        bugs = httpx.get(base + "/api/v1/bugs", headers={"Authorization": f"Bearer {token}"}).json()
        assert bugs["total"] == 1
        assert httpx.get(base + "/docs").status_code == 200
        assert "/api/v1/logs/report" in httpx.get(base + "/openapi.json").json()["paths"]
    finally:
        proc.terminate()
        proc.wait(15)
        proc.stdout.close()


def test_serve_with_two_workers_shares_one_database(tmp_path):
    port = free_port()
    proc = serve(tmp_path, "--port", str(port), "--workers", "2")
    try:
        base = f"http://127.0.0.1:{port}"
        first = first_report(proc, base)
        # New connections are spread over both processes; every report lands on the one bug.
        bodies = [httpx.post(base + "/api/v1/logs/report", json=report_payload()).json() for _ in range(20)]
        assert first.json()["message"] == "Log reported"
        assert {b["id"] for b in bodies} == {first.json()["id"]}
        assert bodies[-1] == {"message": "Log deduplicated", "id": first.json()["id"], "status": "NEW"}
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "Starting 2 worker processes" in output and "debug" not in output


def test_serve_stops_under_load_without_losing_an_acknowledged_report(tmp_path):
    port = free_port()
    proc = serve(tmp_path, "--port", str(port), "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    acknowledged = 0
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        nonlocal acknowledged
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    answer = client.post(base + "/api/v1/logs/report", json=report_payload())
                except httpx.TransportError:
                    return  # the server has closed its socket
                if answer.status_code == 200:
                    with lock:
                        acknowledged += 1

    try:
        first_report(proc, base)
        threads = [threading.Thread(target=load) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)  # while requests are in flight
        stop.set()
        for thread in threads:
            thread.join(30)
        output = proc.communicate(timeout=60)[0]
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    with sqlite3.connect(f"{data_dir(tmp_path / 'home')}/logcenter.db") as conn:
        stored = conn.execute("SELECT SUM(occurrence_count) FROM bugs").fetchone()[0]
    assert acknowledged > 50 and stored >= acknowledged + 1, (acknowledged, stored)
    writer_pid = int(re.search(r"event='writer.started' pid=(\d+)", output)[1])  # type: ignore[index]
    with pytest.raises(ProcessLookupError):  # the writer process ended with the server
        os.kill(writer_pid, 0)
