"""Auto-merge by policy against the fake forges: a small verified fix with green CI is merged after the grace
period, and each reason not to merge stops it, with every condition written on the bug's history."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from logcenter.automerge import service
from logcenter.bugs.models import Bug, BugStatus
from logcenter.config import Settings
from tests.automerge.conftest import SMALL_FIX, configure, open_fix
from tests.conftest import Database
from tests.webhooks.conftest import history, reload


def notes(session: Session, bug_id: int) -> list[str]:
    return [
        e.note or ""
        for e in history(session, reload(session, _bug(session, bug_id)))
        if e.kind == "automerge"
    ]


def _bug(session: Session, bug_id: int) -> Bug:
    return session.get_one(Bug, bug_id)


def test_a_small_verified_fix_is_merged_after_the_grace_period(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_forge: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_forge)
    fix = open_fix(session, fake_forge)
    assert service.run(db.factory, settings) == {fix.bug_id: "merged"}
    assert fix.pr.merged and fix.pr.merge_commit
    bug = reload(session, _bug(session, fix.bug_id))
    assert bug.status == BugStatus.MERGED and bug.merge_commit_sha == fix.pr.merge_commit
    merged = history(session, bug)[-1]
    assert merged.actor == "auto-merge" and merged.to_status == "MERGED"
    written = merged.note or ""
    for condition in ("✔ verified", "✔ files: 2 of 3", "✔ protected_files: none", "✔ checks: success",
                      "✔ grace_period: 60 of 30 min", "✔ no_review_comment: none",
                      "✔ no_revision: none"):  # fmt: skip
        assert condition in written, written
    assert re.search(r"✔ lines: \d+ of 20", written), written
    assert service.run(db.factory, settings) == {}  # merged: nothing left to do


def test_nothing_happens_during_the_grace_period(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea, opened_ago=timedelta(minutes=10))
    assert service.run(db.factory, settings) == {}
    assert not fix.pr.merged and notes(session, fix.bug_id) == []


def refused(session: Session, db: Database, settings: Settings, fix: Any) -> str:
    assert service.run(db.factory, settings) == {fix.bug_id: "refused"}
    assert not fix.pr.merged
    assert reload(session, _bug(session, fix.bug_id)).status == BugStatus.PENDING_REVIEW
    (note,) = notes(session, fix.bug_id)
    assert service.run(db.factory, settings) == {}  # decided once for this head
    return note


def test_a_dependency_file_stops_it(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea, files={**SMALL_FIX, "requirements.txt": "requests==2.0\n"})
    note = refused(session, db, settings, fix)
    assert "✖ protected_files: requirements.txt (dependency)" in note
    assert "✔ verified" in note and "✔ checks: success" in note


def test_a_failing_commit_status_stops_it(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea, ci="failure")
    assert "✖ checks: failure" in refused(session, db, settings, fix)


def test_pending_ci_waits(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea, ci="pending")
    assert service.run(db.factory, settings) == {}
    fake_gitea.set_status(fake_gitea.default_repo, fix.head, "ci/tests", "success")
    assert service.run(db.factory, settings) == {fix.bug_id: "merged"}


def test_a_comment_in_the_grace_period_stops_it(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea)
    fake_gitea.add_comment(fake_gitea.default_repo, fix.pr.number, "Why not fix the caller?", author="bob")
    assert "✖ no_review_comment: comment by bob" in refused(session, db, settings, fix)


def test_a_too_large_diff_stops_it(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea, max_lines=3)
    fix = open_fix(session, fake_gitea)
    assert re.search(r"✖ lines: \d+ of 3", refused(session, db, settings, fix))


def test_an_unverified_fix_or_a_path_outside_the_allowed_ones_stops_it(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea, allowed_paths=["app/*"])
    unverified = {"fail_to_pass": [], "before": "not_run", "after": "not_run", "suite": "passed"}
    fix = open_fix(
        session, fake_gitea, evidence="== Unverified: no test was written ==", verification=unverified
    )
    note = refused(session, db, settings, fix)
    assert "✖ verified: no fail-to-pass evidence" in note
    assert "✖ allowed_paths: not allowed: tests/test_calc_add.py" in note


def test_the_evidence_is_the_structured_verification_never_the_test_output_text(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    # The output quotes the tests, which can print anything, the error report's words included: a test that
    # passed on the base commit while its output says "FAILED as it should" is no evidence.
    configure(client, admin_headers, fake_gitea)
    spoofed = {
        "fail_to_pass": ["tests/test_calc_add.py"],
        "before": "passed",
        "after": "passed",
        "suite": "passed",
    }
    fix = open_fix(session, fake_gitea, verification=spoofed)  # EVIDENCE text: "FAILED as it should"
    assert "✖ verified: no fail-to-pass evidence" in refused(session, db, settings, fix)
    # A report from an agent older than the structured field: refused, saying why, whatever its text says.
    old = open_fix(session, fake_gitea, verification=None, branch="fix/auto-2")
    assert "✖ verified: the repair report has no structured verification (an older agent): merge by hand" in (
        refused(session, db, settings, old)
    )


def test_dry_run_says_what_it_would_merge(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea, mode="dry_run")
    fix = open_fix(session, fake_gitea)
    assert service.run(db.factory, settings) == {fix.bug_id: "would_merge"}
    assert not fix.pr.merged
    (note,) = notes(session, fix.bug_id)
    assert note.startswith(f"Auto-merge (dry run) would merge PR #{fix.pr.number} at {fix.head[:12]}")


def test_the_policy_api(
    client: TestClient, admin_headers: dict[str, str], agent_headers: dict[str, str]
) -> None:
    assert (
        client.post("/api/v1/projects", json={"project_id": "team/app"}, headers=admin_headers).status_code
        == 201
    )
    policy = client.get("/api/v1/merge-policies/team/app", headers=admin_headers).json()
    assert policy["mode"] == "off" and policy["updated_at"] is None  # off by default
    assert "requirements*.txt" in policy["protected"]["dependency"]
    changed = client.put("/api/v1/merge-policies/team/app", json={"mode": "dry_run", "max_files": 2},
                         headers=admin_headers).json()  # fmt: skip
    assert (changed["mode"], changed["max_files"], changed["max_lines"]) == ("dry_run", 2, 20)
    bad = client.put("/api/v1/merge-policies/team/app", json={"mode": "yolo"}, headers=admin_headers)
    assert bad.status_code == 422 and "mode" in bad.text
    assert client.get("/api/v1/merge-policies/nope", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/merge-policies/team/app", headers=agent_headers).status_code == 403


def test_a_push_after_the_agent_verified_the_fix_stops_it(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea)
    pushed = fake_gitea.push(
        fake_gitea.default_repo, "fix/auto-1", {"app/calc.py": "def add(a, b):\n    return 3\n"}
    )
    fake_gitea.set_status(fake_gitea.default_repo, pushed, "ci/tests", "success")
    note = refused(session, db, settings, fix)
    assert f"✖ verified_head: {pushed[:12]}, verified {fix.head[:12]}" in note


def test_a_fix_a_reviewer_asked_to_revise_is_left_to_a_person(
    client: TestClient, admin_headers: dict[str, str], session: Session, db: Database, settings: Settings,
    fake_gitea: Any,
) -> None:  # fmt: skip
    configure(client, admin_headers, fake_gitea)
    fix = open_fix(session, fake_gitea, revision=1)  # revised, reported again an hour ago, no comment since
    note = refused(session, db, settings, fix)
    assert "✖ no_revision: 1 revision asked for" in note and "✔ no_review_comment: none" in note
