"""Regressions the forge decides: a report of a fixed bug from a commit Log Center never saw is checked by the
job worker against the fake forge (real git behind it), through the real ingest and the real worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from logcenter.bugs.ancestry import CHECK
from logcenter.bugs.models import Bug, BugStatus
from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.forges import http as forge_http
from logcenter.jobs.models import Job, JobState
from logcenter.jobs.worker import run_pending
from tests.bugs.helpers import detail, ingest
from tests.conftest import Database
from tests.forgefake.core import FakeForge

S = BugStatus
SLUG = "rtc_backend"  # the project of tests.factories.report_payload
FIX = {"app/calc.py": "def add(a, b):\n    return a + b  # fixed\n"}
MERGED_AT = datetime.now(UTC) - timedelta(hours=2)


@dataclass
class Repo:
    before_merge: str  # the default branch before the fix was merged: old code
    merge: str  # the fix's merge commit
    after_merge: str  # a later commit on the default branch: contains the fix


def forge_repo(client, headers, fake: FakeForge) -> Repo:
    """The project pointed at the fake forge (through the API, as an admin would), and a fix merged there."""
    body = {
        "project_id": SLUG,
        "forge": fake.kind,
        "forge_url": fake.api_url,
        "forge_repo": fake.default_repo,
        "forge_token": fake.token,
    }
    response = client.post("/api/v1/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    repo = fake.repos[fake.default_repo]
    before = repo.bare.rev(f"refs/heads/{repo.default_branch}")
    pr = fake.open_pr(fake.default_repo, "fix/auto-1", files=FIX, title="Fix the bug")
    fake.merge_pr(fake.default_repo, pr.number)
    assert pr.merge_commit
    later = fake.push(fake.default_repo, repo.default_branch, {"README.md": "later\n"}, "later work")
    return Repo(before_merge=before, merge=pr.merge_commit, after_merge=later)


def fixed_bug(client, session, status: BugStatus, repo: Repo) -> int:
    """A bug created by ingest (from the old code), then fixed in `repo.merge` (and deployed in it)."""
    first = ingest(client, timestamp=(MERGED_AT - timedelta(days=1)).isoformat())
    bug = session.get_one(Bug, first["id"])
    bug.status, bug.merge_commit_sha, bug.merged_at, bug.pr_number = status, repo.merge, MERGED_AT, 1
    if status == S.DEPLOYED:
        bug.deployed_commit, bug.deployed_at = repo.merge, MERGED_AT + timedelta(minutes=30)
    session.commit()
    return bug.id


def report(client, **fields: Any) -> dict[str, Any]:
    return ingest(client, timestamp=datetime.now(UTC).isoformat(), **fields)


def run_checks(db: Database, settings: Settings, *, later: timedelta = timedelta(0)) -> int:
    return run_pending(db.factory, settings, now=utcnow() + later, kinds=[CHECK])


def checks(session) -> list[Job]:
    session.rollback()
    return list(session.scalars(select(Job).where(Job.kind == CHECK).order_by(Job.id)))


def last_event(client, headers, bug_id: int) -> dict[str, Any]:
    return detail(client, headers, bug_id)["history"][-1]


def test_an_old_commit_does_not_reopen_a_deployed_bug(
    client, session, admin_headers, db, settings, fake_gitea
):
    repo = forge_repo(client, admin_headers, fake_gitea)
    bug_id = fixed_bug(client, session, S.DEPLOYED, repo)
    old = repo.before_merge[:10]
    # A server still running the old build, its version the short commit hash (docs/forges-setup.md's CI).
    assert report(client, version=old)["status"] == "DEPLOYED"
    assert report(client, version=old)["status"] == "DEPLOYED"
    assert len(checks(session)) == 1  # one check for the commit, however many reports
    assert run_checks(db, settings) == 1
    body = detail(client, admin_headers, bug_id)
    assert body["status"] == "DEPLOYED"
    event = body["history"][-1]
    assert (event["kind"], event["from_status"], event["to_status"]) == ("note", "DEPLOYED", "DEPLOYED")
    assert event["note"].startswith(f"not a regression: commit {old} does not contain merge commit")
    assert "(checked with the forge)" in event["note"]
    # The answer is remembered: that commit is not asked about again.
    asked = len(fake_gitea.calls(contains="compare"))
    assert report(client, version=old)["status"] == "DEPLOYED"
    assert len(checks(session)) == 1 and run_checks(db, settings) == 0
    assert len(fake_gitea.calls(contains="compare")) == asked
    assert detail(client, admin_headers, bug_id)["occurrence_count"] == 4


def test_a_commit_that_contains_the_fix_reopens_a_deployed_bug(
    client, session, admin_headers, db, settings, fake_forge
):
    repo = forge_repo(client, admin_headers, fake_forge)
    bug_id = fixed_bug(client, session, S.DEPLOYED, repo)
    new = repo.after_merge[:12]
    assert report(client, version=new, commit_hash=new)["status"] == "DEPLOYED"  # not decided yet
    assert run_checks(db, settings) == 1
    body = detail(client, admin_headers, bug_id)
    assert body["status"] == "NEW"
    event = body["history"][-1]
    assert (event["kind"], event["from_status"], event["to_status"], event["actor"], event["note"]) == (
        "regression",
        "DEPLOYED",
        "NEW",
        "ingest",
        f"regression: seen again after the fix was deployed (version {new}, commit {new}) "
        "(checked with the forge)",
    )
    # A regression like any other: a repair agent may claim the bug again.
    assert report(client, version=new)["status"] == "NEW"
    assert [j.state for j in checks(session)] == [JobState.DONE]


def test_a_commit_that_contains_the_merge_reopens_a_merged_bug(
    client, session, admin_headers, db, settings, fake_gitea
):
    repo = forge_repo(client, admin_headers, fake_gitea)
    bug_id = fixed_bug(client, session, S.MERGED, repo)
    # The fix is merged, not deployed yet: this build (after the merge) contains it and still fails.
    assert report(client, commit_hash=repo.after_merge)["status"] == "MERGED"
    # An old build of the same bug is checked too, and does not reopen it.
    assert report(client, commit_hash=repo.before_merge[:8])["status"] == "MERGED"
    assert run_checks(db, settings) == 2
    body = detail(client, admin_headers, bug_id)
    assert body["status"] == "NEW"
    assert [e["kind"] for e in body["history"]][-1] == "regression"
    assert body["history"][-1]["note"] == (
        f"regression: seen again after the fix was merged (commit {repo.after_merge}) "
        "(checked with the forge)"
    )


def test_a_forge_that_cannot_answer_falls_back_after_the_retries(
    client, session, admin_headers, db, settings, fake_gitea, monkeypatch
):
    monkeypatch.setattr(forge_http, "sleep", lambda _seconds: None)  # the client's own retries
    repo = forge_repo(client, admin_headers, fake_gitea)
    deployed = fixed_bug(client, session, S.DEPLOYED, repo)
    new = repo.after_merge[:12]
    assert report(client, version=new)["status"] == "DEPLOYED"
    with fake_gitea.outage():
        assert sum(run_checks(db, settings, later=timedelta(hours=hours)) for hours in range(4)) == 4
        assert detail(client, admin_headers, deployed)["status"] == "DEPLOYED"  # retried meanwhile
        assert run_checks(db, settings, later=timedelta(hours=5)) == 1  # the last attempt
    assert run_checks(db, settings, later=timedelta(hours=6)) == 0
    body = detail(client, admin_headers, deployed)
    assert body["status"] == "NEW"  # as without a forge: a DEPLOYED bug reopens
    note = body["history"][-1]["note"]
    assert note.startswith(f"regression: seen again after the fix was deployed (version {new}) ")
    assert "the forge could not tell" in note and fake_gitea.token not in note
    job = checks(session)[0]
    assert (job.state, job.attempts) == (JobState.DONE, 5)


def test_an_unknown_commit_leaves_a_merged_bug_merged_after_the_retries(
    client, session, admin_headers, db, settings, fake_gitea, monkeypatch
):
    monkeypatch.setattr(forge_http, "sleep", lambda _seconds: None)
    repo = forge_repo(client, admin_headers, fake_gitea)
    bug_id = fixed_bug(client, session, S.MERGED, repo)
    unknown = "abcdef1234567"  # never pushed to the forge
    assert report(client, version=unknown)["status"] == "MERGED"
    for hours in range(6):
        run_checks(db, settings, later=timedelta(hours=hours))
    body = detail(client, admin_headers, bug_id)
    assert body["status"] == "MERGED"
    event = body["history"][-1]
    assert (event["kind"], event["to_status"]) == ("note", "MERGED")
    assert event["note"].startswith(f"commit {unknown}: the forge could not tell")
    # Reported again from it: checked again, but said once.
    assert report(client, version=unknown)["status"] == "MERGED"
    for hours in range(6, 12):
        run_checks(db, settings, later=timedelta(hours=hours))
    assert len(checks(session)) == 2
    assert detail(client, admin_headers, bug_id)["history"] == body["history"]


def test_a_bug_that_moved_before_the_check_ran_is_left_alone(
    client, session, admin_headers, db, settings, fake_gitea
):
    repo = forge_repo(client, admin_headers, fake_gitea)
    bug_id = fixed_bug(client, session, S.DEPLOYED, repo)
    assert report(client, commit_hash=repo.after_merge)["status"] == "DEPLOYED"
    # Reopened meanwhile by a report without a version (the rule without the forge): the check has no work.
    assert report(client)["status"] == "NEW"
    before = detail(client, admin_headers, bug_id)["history"]
    assert run_checks(db, settings) == 1
    assert detail(client, admin_headers, bug_id)["history"] == before


def test_past_ten_pending_checks_a_deployed_bug_is_decided_without_the_forge(
    client, session, admin_headers, fake_gitea
):
    # Reports need no login: a flood of made-up commits must not become a flood of forge calls.
    repo = forge_repo(client, admin_headers, fake_gitea)
    bug_id = fixed_bug(client, session, S.DEPLOYED, repo)
    made_up = [f"{n:x}abcdef0123" for n in range(11)]
    for commit in made_up[:10]:
        assert report(client, commit_hash=commit)["status"] == "DEPLOYED"
    assert len(checks(session)) == 10
    assert report(client, commit_hash=made_up[10])["status"] == "NEW"
    assert len(checks(session)) == 10
    assert last_event(client, admin_headers, bug_id)["note"] == (
        f"regression: seen again after the fix was deployed (commit {made_up[10]})"
    )
