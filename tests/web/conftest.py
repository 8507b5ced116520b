"""Web UI test fixtures: users of each role, bugs brought in through the real API, a logged-in browser."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from logcenter.users import service as users_service
from logcenter.users.models import Role
from tests.conftest import Database, LiveServer
from tests.factories import report_payload
from tests.sentry.helpers import auth, envelope

ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery"

# The repair agent's fix of the fake forge's sample app (tests/forgefake/git.py): average([]) raised.
FIX = {
    "app/calc.py": (
        '"""Arithmetic helpers used by the sample app."""\n\n\n'
        "def average(values: list[float]) -> float:\n"
        "    if not values:\n"
        "        return 0.0\n"
        "    return sum(values) / len(values)\n\n\n"
        "def ratio(part: float, whole: float) -> float:\n"
        "    return part / whole\n"
    ),
    "tests/test_calc_empty.py": (
        "from app.calc import average\n\n\n"
        "def test_average_of_nothing() -> None:\n    assert average([]) == 0.0\n"
    ),
}

DIFF = """diff --git a/app/views.py b/app/views.py
index 3b18e51..a9c2f4d 100644
--- a/app/views.py
+++ b/app/views.py
@@ -22,5 +22,6 @@ from app.models import User
 
 def user_login(request):
-    for item in request.user:
-        handle(item)
+    if request.user is not None:
+        for item in request.user:
+            handle(item)
     return ok()
diff --git a/tests/test_views.py b/tests/test_views.py
new file mode 100644
index 0000000..1f2e3d4
--- /dev/null
+++ b/tests/test_views.py
@@ -0,0 +1,4 @@
+def test_login_without_user(client):
+    response = client.get("/login")
+    assert response.status_code == 200
+    assert b"Welcome" in response.content
"""


def make_user(db: Database, username: str, role: Role) -> str:
    with db.factory() as session:
        users_service.create_user(session, username=username, password=PASSWORD, role=role)
        session.commit()
    return username


@pytest.fixture
def users(db: Database) -> dict[str, str]:
    """One user of each role: admin `ada`, reviewer `rita`, viewer `victor` (password PASSWORD)."""
    return {
        "admin": make_user(db, "ada", Role.ADMIN),
        "reviewer": make_user(db, "rita", Role.REVIEWER),
        "viewer": make_user(db, "victor", Role.VIEWER),
    }


class Seeder:
    """Brings bugs to each state through the real HTTP API, as the SDK, the agent and the forges would."""

    def __init__(self, api: httpx.Client, agent_headers: dict[str, str]) -> None:
        self.api = api
        self.agent = agent_headers

    def report(self, **overrides: Any) -> int:
        response = self.api.post("/api/v1/logs/report", json=report_payload(**overrides))
        assert response.status_code == 200, response.text
        return int(response.json()["id"])

    def runtime_bug(
        self, n: int, *, project: str = "rtc_backend", error_type: str = "TypeError", **extra: Any
    ) -> int:
        error = {
            "type": error_type,
            "message": f"'NoneType' object is not iterable (case {n})",
            "file_path": f"app/views_{n}.py",
            "line_number": 24,
            "stack_trace": [
                "Traceback (most recent call last):",
                f'  File "app/views_{n}.py", line 24, in user_login',
                "    for item in request.user:",
                f"TypeError: 'NoneType' object is not iterable (case {n})",
            ],
        }
        error.update(extra.pop("error", {}))
        return self.report(project_id=project, error=error, **extra)

    def sentry_event(self, project: str, event: dict[str, Any]) -> int:
        """Send a Sentry event to the project's envelope endpoint (as sentry-python does); returns its bug."""
        info = self.api.get(f"/api/v1/projects/{project}").json()
        response = self.api.post(
            f"/api/{info['id']}/envelope/",
            content=envelope(event),
            headers={**auth(info["ingest_key"]), "Content-Type": "application/x-sentry-envelope"},
        )
        assert response.status_code == 200, response.text
        bugs = self.api.get("/api/v1/bugs", params={"project_id": project, "sort": "-id"}).json()["bugs"]
        return int(bugs[0]["id"])

    def use_forge(self, project: str, fake: Any) -> None:
        """Point the project at a fake forge through the API, as an admin would."""
        body = {
            "forge": fake.kind,
            "forge_url": fake.api_url,
            "forge_repo": fake.default_repo,
            "forge_token": fake.token,
            "default_branch": "main",
        }
        response = self.api.put(f"/api/v1/projects/{project}", json=body)
        assert response.status_code == 200, response.text

    def pending_on_forge(self, bug_id: int, fake: Any, *, branch: str | None = None) -> Any:
        """The agent's work for real: a branch pushed to the fake forge, its PR opened, the report posted."""
        branch = branch or f"fix/auto-20260225-1430-{bug_id}"
        pr = fake.open_pr(fake.default_repo, branch, files=FIX, title=f"fix: auto repair bug #{bug_id}")
        url = f"{fake.url}/{fake.default_repo}/pulls/{pr.number}"
        head = fake.repo(fake.default_repo).head_sha(pr)  # the agent reports the commit it pushed
        self.pending_review(
            bug_id, pr_number=pr.number, pr_url=url, branch_name=branch, diff=None, head_sha=head
        )
        return pr

    def claim(self, bug_id: int) -> None:
        response = self.api.put(
            f"/api/v1/bugs/{bug_id}/status", json={"status": "FIXING"}, headers=self.agent
        )
        assert response.status_code == 200, response.text

    def pending_review(
        self, bug_id: int, *, pr_number: int, pr_url: str, diff: str = DIFF, **extra: Any
    ) -> None:
        self.claim(bug_id)
        body = {
            "fixer": "claude-code",
            "analysis": "request.user may be None: check it before iterating.",
            "modified_files": ["app/views.py", "tests/test_views.py"],
            "diff": diff,
            "test_passed": True,
            "test_output": "FAILED tests/test_views.py::test_login_without_user (base)\n1 passed (fix)",
            "pr_number": pr_number,
            "pr_url": pr_url,
            "branch_name": f"fix/auto-20260225-1430-{bug_id}",
            "duration_seconds": 312.5,
        }
        body.update(extra)
        response = self.api.post(f"/api/v1/bugs/{bug_id}/repair-reports", json=body, headers=self.agent)
        assert response.status_code == 201, response.text

    def failed(self, bug_id: int, reason: str) -> None:
        self.claim(bug_id)
        response = self.api.post(
            f"/api/v1/bugs/{bug_id}/repair-reports",
            json={"fixer": "codex", "failure_reason": reason, "test_passed": False, "duration_seconds": 90},
            headers=self.agent,
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def seed(api: httpx.Client, agent_headers: dict[str, str]) -> Seeder:
    return Seeder(api, agent_headers)


@pytest.fixture
def login(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """login(username, locale="en-US") → a Playwright page logged in on the live server."""
    contexts: list[Any] = []

    def _login(username: str, *, locale: str = "en-US", dialogs: list[str] | None = None) -> Any:
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        if dialogs is not None:
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        else:
            page.on("dialog", lambda d: d.accept())  # the pages' confirmations
        page.goto(f"{live_server.url}/")
        assert "/login" in page.url
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
        return page

    yield _login
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """tests/web/artifacts/<name>.png, replaced whole: under pytest-xdist the SQLite and PostgreSQL runs of a
    test may write the same picture at once, and neither may leave a mix of both."""
    ARTIFACTS.mkdir(exist_ok=True)
    partial = ARTIFACTS / f".{name}.{os.getpid()}.png"
    partial.write_bytes(page.screenshot(full_page=True))
    os.replace(partial, ARTIFACTS / f"{name}.png")
