"""Fixtures for the repair agent's end-to-end tests: a sample application in a bare "origin" repository, a
live Log Center, the fake `claude` on PATH, and `logcenter agent` run as a real subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from logcenter.auth.models import Scope
from tests.conftest import LiveServer, make_token

# The sample application's own tests run inside its repository, not in this suite.
collect_ignore = ["sample_app", "fakes"]

HERE = Path(__file__).parent
REPO_ROOT = HERE.parent.parent
SAMPLE = HERE / "sample_app"
TEST_COMMAND = f"{sys.executable} -m pytest -q -p no:cacheprovider"

# Where each sample bug is raised, as the application would report it.
BUGS = {
    "ZeroDivisionError": ("division by zero", 5, "average", "    return sum(values) / len(values)"),
    "IndexError": ("list index out of range", 9, "first", "    return values[0]"),
    "ValueError": ("invalid literal for int() with base 10: 'abc'", 13, "parse_int", "    return int(text)"),
    "KeyError": ("'x'", 17, "lookup", "    return table[key]"),
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository holding the sample app on `main`, as a forge would host it."""
    work = tmp_path / "sample"
    shutil.copytree(SAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "sample app", cwd=work)
    bare = tmp_path / "forge" / "acme" / "calc.git"
    bare.parent.mkdir(parents=True)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, name: str, bug: int | None = None) -> dict[str, Any]:
        found = [e for e in self.events if e["event"] == name and (bug is None or e.get("bug") == bug)]
        assert found, f"no {name!r} event for bug {bug} in:\n{self.stderr}"
        return found[-1]


@dataclass
class Harness:
    server: LiveServer
    api: httpx.Client
    agent_token: str
    tmp: Path
    origin: Path
    bin_dir: Path
    record: Path

    def project(self, slug: str = "calc", **fields: Any) -> dict[str, Any]:
        body = {"project_id": slug, "repo_url": str(self.origin), "test_command": TEST_COMMAND, **fields}
        response = self.api.post("/api/v1/projects", json=body)
        assert response.status_code == 201, response.text
        # An admin's repo_url is confirmed (the agent works on no address a report chose).
        assert response.json()["repo_url_confirmed"] is bool(body.get("repo_url")), response.text
        return response.json()

    def report(
        self,
        error_type: str = "ZeroDivisionError",
        slug: str = "calc",
        message: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> int:
        default_message, line, function, code = BUGS[error_type]
        body = {
            "project_id": slug,
            "environment": "production",
            "level": "ERROR",
            "error": {
                "type": error_type,
                "message": message if message is not None else default_message,
                "file_path": "app/calc.py",
                "line_number": line,
                "stack_trace": [
                    "Traceback (most recent call last):",
                    '  File "app/views.py", line 12, in stats',
                    f"    return calc.{function}(request.args)",
                    f'  File "app/calc.py", line {line}, in {function}',
                    code,
                    f"{error_type}: {message if message is not None else default_message}",
                ],
            },
            "context": context or {"url": "/stats", "user_id": 7, "password": "hunter2-secret"},
        }
        response = self.api.post("/api/v1/logs/report", json=body)
        assert response.status_code == 200, response.text
        return int(response.json()["id"])

    def bug(self, bug_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/bugs/{bug_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def env(self, scenario: str = "good", **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
        env.update(
            {
                "PATH": f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT / 'sdk' / 'src'}",
                "LOGCENTER_AGENT_SERVER": self.server.url,
                "LOGCENTER_AGENT_TOKEN": self.agent_token,
                "LOGCENTER_AGENT_WORKDIR": str(self.tmp / "agent"),
                "LOGCENTER_AGENT_TIMEOUT": "60",
                "LOGCENTER_AGENT_TEST_TIMEOUT": "120",
                "FAKE_CLAUDE_SCENARIO": scenario,
                "FAKE_CLAUDE_RECORD": str(self.record),
            }
        )
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "logcenter", "agent", "--json", *args]

    def run(self, *args: str, scenario: str = "good", timeout: float = 240, **extra: str) -> AgentRun:
        proc = subprocess.run(
            self.command(*args),
            env=self.env(scenario, **extra),
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return AgentRun(proc.returncode, proc.stdout, proc.stderr, parse_events(proc.stderr))

    def fixer_runs(self) -> list[Path]:
        return sorted(self.record.iterdir()) if self.record.exists() else []

    def seen(self, run: Path) -> dict[str, Any]:
        return {
            "argv": json.loads((run / "argv.json").read_text()),
            "env": json.loads((run / "env.json").read_text()),
            "prompt": (run / "prompt.txt").read_text(),
            "cwd": (run / "cwd.txt").read_text(),
        }


def parse_events(stderr: str) -> list[dict[str, Any]]:
    events = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return events


@pytest.fixture
def harness(
    live_server: LiveServer, api: httpx.Client, db: Any, tmp_path: Path, origin: Path
) -> Iterator[Harness]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "codex"):
        fake = str(HERE / "fakes" / f"{name}.py")
        script = bin_dir / name
        script.write_text(
            f"#!{sys.executable}\nimport runpy\nrunpy.run_path({fake!r}, run_name='__main__')\n"
        )
        script.chmod(0o755)
    yield Harness(
        server=live_server,
        api=api,
        agent_token=make_token(db, Scope.AGENT, "repair-agent"),
        tmp=tmp_path,
        origin=origin,
        bin_dir=bin_dir,
        record=tmp_path / "claude-runs",
    )
