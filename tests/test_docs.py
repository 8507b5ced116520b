"""docs/integration.md, run: its curl commands and Python examples, copied as a new user would copy them,
against a live server. Only the address changes (and the DSN, which the docs show as a placeholder).

The JavaScript and TypeScript examples run in tests/test_docs_js.py. The Dart and Flutter ones are not run: no
Dart toolchain can be installed from the packages this project's machines reach (PyPI, npm, Debian).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "integration.md"
DOC_URL = "http://localhost:8002"
DOC_DSN = "http://3f0c…@localhost:8002/1"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def example(language: str, marker: str) -> str:
    """The one code block of `language` in the docs that contains `marker`."""
    found = [code for lang, code in _FENCE.findall(DOC.read_text()) if lang == language and marker in code]
    assert len(found) == 1, f"expected one {language} block with {marker!r} in {DOC.name}, found {len(found)}"
    return found[0]


@pytest.fixture
def run(live_server, admin_token, tmp_path) -> Callable[..., str]:
    """Run a docs example (bash or python) in its own process, pointed at the live server."""
    env = {
        **os.environ,
        "TOKEN": admin_token,
        "LOG_CENTER_URL": live_server.url,
        "ENVIRONMENT": "production",
    }
    for name in ("REPO_URL", "LOG_CENTER_INGEST_KEY", "SENTRY_DSN"):
        env.pop(name, None)

    def run(language: str, code: str, name: str = "example") -> str:
        code = code.replace(DOC_URL, live_server.url)
        if language == "bash":
            command = ["bash", "-euo", "pipefail", "-c", code]
        else:
            script = tmp_path / f"{name}.py"
            script.write_text(code)
            command = [sys.executable, str(script)]
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    return run


def bugs(api: httpx.Client, project: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/bugs", params={"project_id": project, "sort": "id"})
    assert response.status_code == 200, response.text
    return response.json()["bugs"]


def test_projects_and_the_rest_curl_example(run, api, live_server):
    created = run("bash", example("bash", "-X POST http://localhost:8002/api/v1/projects"))
    assert '"project_id":"rtc_backend"' in created.replace(" ", "")

    shown = run("bash", example("bash", "curl -s http://localhost:8002/api/v1/projects/rtc_backend"))
    project = api.get("/api/v1/projects/rtc_backend").json()
    assert f'"dsn":"http://{project["ingest_key"]}@127.0.0.1:{live_server.port}/{project["id"]}"' in shown

    answer = run("bash", example("bash", "/api/v1/logs/report"))
    assert answer.startswith('{"message":"Log reported","id":'), answer

    listed = run("bash", example("bash", "api/v1/bugs?project_id=rtc_backend"))
    [bug] = bugs(api, "rtc_backend")
    assert f'"id":{bug["id"]}' in listed.replace(" ", "")
    assert (bug["error_type"], bug["file_path"], bug["line_number"], bug["occurrence_count"]) == (
        "ValueError",
        "apps/users/views.py",
        42,
        1,
    )
    assert bug["status"] == "NEW"


def test_the_python_report_error_example(run, api):
    code = example("python", "def report_error(exc: BaseException")
    run(
        "python",
        code
        + "\n\ntry:\n    int('abc')\nexcept ValueError as exc:\n    report_error(exc, {'user_id': 'u_1'})\n"
        # report_error posts from a daemon thread: let it finish before the process exits.
        + "for thread in threading.enumerate():\n"
        + "    if thread is not threading.main_thread():\n"
        + "        thread.join(10)\n",
        name="report_error_example",
    )
    [bug] = bugs(api, "rtc_backend")
    assert bug["error_type"] == "ValueError"
    assert bug["file_path"].endswith("report_error_example.py")
    assert bug["environment"] == "production"
    assert bug["message"] == "invalid literal for int() with base 10: 'abc'"
    assert bug["context"] == {"user_id": "u_1"}


def test_the_sentry_sdk_python_example(run, api):
    api.post("/api/v1/projects", json={"project_id": "rtc_backend"}).raise_for_status()
    dsn = api.get("/api/v1/projects/rtc_backend").json()["dsn"]
    code = example("python", "sentry_sdk.init(")
    assert DOC_DSN in code
    script = (
        code.replace(DOC_DSN, dsn)
        + "\n\ndef checkout(total, items):\n    return total / items\n\n"
        + "try:\n    checkout(10, 0)\nexcept ZeroDivisionError:\n    sentry_sdk.capture_exception()\n"
        + "logging.getLogger('orders').error('order %s failed', 17)\n"
        + "sentry_sdk.flush(timeout=10)\n"
    )
    run("python", script, name="sentry_example")
    bug, logged = bugs(api, "rtc_backend")  # by id
    assert logged["message"] == "order 17 failed"  # the logging integration, as the doc sets it up
    raising_line = script.splitlines().index("    return total / items") + 1
    assert (bug["error_type"], bug["line_number"]) == ("ZeroDivisionError", raising_line)
    assert bug["file_path"].endswith("sentry_example.py")
    assert bug["environment"] == "production"
    assert bug["version"] == "rtc_backend@1.2.3"


def test_the_logcenter_sdk_example(run, api):
    code = example("python", "logcenter_sdk.init(")
    run("python", code, name="sdk_example")  # the SDK flushes at exit
    [bug] = bugs(api, "rtc_backend")
    assert bug["error_type"] == "ValueError"
    assert bug["file_path"].endswith("sdk_example.py")
    assert bug["line_number"] == code.splitlines().index('    int("abc")') + 1
    assert (bug["environment"], bug["version"]) == ("production", "1.2.3")
