"""Auto-merge tests: a project on a fake forge (real git behind it) with a fix awaiting review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.projects.models import Project
from logcenter.repair.models import RepairAttempt
from tests.conftest import Database
from tests.webhooks.conftest import review_bug

SMALL_FIX = {
    "app/calc.py": "def add(a, b):\n    return a + b  # fixed\n",
    "tests/test_calc_add.py": "from app.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
EVIDENCE = (
    "== Before the fix: the new tests (tests/test_calc_add.py) on the base commit: `pytest -q` FAILED as it "
    "should (exit 1) ==\n1 failed\n\n== After the fix: `pytest -q` PASSED (exit 0) ==\n12 passed"
)
# The same evidence as the agent reports it for auto-merge.
VERIFIED: dict[str, Any] = {
    "command": "pytest -q",
    "fail_to_pass": ["tests/test_calc_add.py"],
    "before": "failed",
    "after": "passed",
    "suite": "passed",
}


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db.url,
        database_pool_size=5,
        lease_sweep_seconds=3600,
        count_interval=0,
        data_dir=tmp_path / "data",
        job_worker=False,
    )


@dataclass
class Fix:
    bug_id: int
    pr: Any
    head: str


def configure(client: TestClient, headers: dict[str, str], fake: Any, **policy: Any) -> None:
    """The project on the fake forge, and its policy, through the API as an admin would."""
    body = {
        "project_id": "app",
        "forge": fake.kind,
        "forge_url": fake.api_url,
        "forge_repo": fake.default_repo,
        "forge_token": fake.token,
    }
    assert client.post("/api/v1/projects", json=body, headers=headers).status_code == 201
    policy = {"mode": "on", "max_lines": 20, "max_files": 3, "grace_minutes": 30, **policy}
    response = client.put("/api/v1/merge-policies/app", json=policy, headers=headers)
    assert response.status_code == 200, response.text


def open_fix(
    session: Session,
    fake: Any,
    *,
    files: dict[str, str | None] | None = None,
    opened_ago: timedelta = timedelta(hours=1),
    ci: str | None = "success",
    evidence: str = EVIDENCE,
    verification: dict[str, Any] | None = VERIFIED,
    branch: str = "fix/auto-1",
    revision: int = 0,
) -> Fix:
    """A verified fix (the agent's report) whose PR was opened `opened_ago`, with its CI status."""
    pr = fake.open_pr(fake.default_repo, branch, files=files or SMALL_FIX, title="Fix add")
    head = fake.repos[fake.default_repo].head_sha(pr)
    if ci:
        fake.set_status(fake.default_repo, head, "ci/tests", ci)
    project = session.scalar(select(Project).where(Project.slug == "app"))
    bug = review_bug(
        session,
        project,
        pr=pr.number,
        branch_name=branch,
        head_sha=head,
        status_changed_at=utcnow() - opened_ago,
        revision=revision,
    )
    session.add(
        RepairAttempt(
            bug_id=bug.id, attempt=1, status="PENDING_REVIEW", fixer="claude-code", test_passed=True,
            test_output=evidence, verification=verification, modified_files=list((files or SMALL_FIX).keys()),
            pr_number=pr.number,
        )
    )  # fmt: skip
    session.commit()
    return Fix(bug.id, pr, head)
