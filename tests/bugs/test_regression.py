"""Regressions end to end through ingest: which new reports of a fixed bug reopen it, and which do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from logcenter.bugs.models import Bug, BugStatus
from tests.bugs.helpers import detail, ingest

S = BugStatus
MERGE_SHA = "9c1f00aa2b3c4d5e6f708192a3b4c5d6e7f80912"
DEPLOY_SHA = "77aa88bb99cc00dd11ee22ff33aa44bb55cc66dd"
MERGED_AT = datetime.now(UTC) - timedelta(hours=2)


def fixed_bug(client, session, status: BugStatus, **fields: Any) -> int:
    """A bug created by ingest, then moved (as forge/deploy webhooks would) to MERGED or DEPLOYED."""
    bug_id = ingest(client, version="1.2.0", timestamp=(MERGED_AT - timedelta(days=1)).isoformat())["id"]
    values: dict[str, Any] = {
        "status": status,
        "merge_commit_sha": MERGE_SHA,
        "merged_at": MERGED_AT,
        "pr_number": 4,
        "pr_url": "https://git.example.com/o/r/pulls/4",
    }
    if status == S.DEPLOYED:
        values |= {
            "deployed_version": "1.4.0",
            "deployed_commit": DEPLOY_SHA,
            "deployed_at": MERGED_AT + timedelta(minutes=30),
        }
    values |= fields
    bug = session.get(Bug, bug_id)
    for key, value in values.items():
        setattr(bug, key, value)
    session.commit()
    return bug_id


def report_again(client, **overrides: Any) -> dict[str, Any]:
    overrides.setdefault("timestamp", datetime.now(UTC).isoformat())
    return ingest(client, **overrides)


def last_event(client, headers, bug_id):
    return detail(client, headers, bug_id)["history"][-1]


# --- DEPLOYED ----------------------------------------------------------------------------------------


def test_deployed_bug_reported_from_a_newer_release_reopens(client, session, admin_headers):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    answer = report_again(client, version="1.5.0")
    assert answer == {"message": "Log deduplicated", "id": bug_id, "status": "NEW"}
    body = detail(client, admin_headers, bug_id)
    assert body["status"] == "NEW"
    assert body["occurrence_count"] == 2
    event = body["history"][-1]
    assert (event["kind"], event["from_status"], event["to_status"], event["actor"], event["note"]) == (
        "regression",
        "DEPLOYED",
        "NEW",
        "ingest",
        "regression: seen again after the fix was deployed (version 1.5.0)",
    )


@pytest.mark.parametrize("version", ["1.4.0", "v1.4.0", "shop@1.4.1", "2.0.0rc1"])
def test_deployed_bug_reported_from_the_fixed_release_or_later_reopens(client, session, version):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    assert report_again(client, version=version) == {
        "message": "Log deduplicated",
        "id": bug_id,
        "status": "NEW",
    }


@pytest.mark.parametrize("version", ["1.3.0", "v1.3.9", "shop@1.4.0rc1", "0.9"])
def test_deployed_bug_reported_from_an_older_release_stays_but_is_counted(
    client, session, admin_headers, version
):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    answer = report_again(client, version=version)
    assert answer == {"message": "Log deduplicated", "id": bug_id, "status": "DEPLOYED"}
    body = detail(client, admin_headers, bug_id)
    assert (body["status"], body["occurrence_count"]) == ("DEPLOYED", 2)
    assert [e["kind"] for e in body["history"]] == ["created"]
    assert {v["value"]: v["count"] for v in body["versions"]} == {"1.2.0": 1, version: 1}
    assert body["occurrences"][0]["version"] == version


def test_deployed_bug_reported_without_version_info_reopens(client, session, admin_headers):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    assert report_again(client)["status"] == "NEW"
    event = last_event(client, admin_headers, bug_id)
    assert (event["kind"], event["note"]) == (
        "regression",
        "regression: seen again after the fix was deployed",
    )


def test_deployed_bug_reported_from_the_deployed_commit_reopens(client, session, admin_headers):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    assert report_again(client, version="1.3.0", commit_hash=DEPLOY_SHA[:10])["status"] == "NEW"
    assert last_event(client, admin_headers, bug_id)["note"] == (
        f"regression: seen again after the fix was deployed (version 1.3.0, commit {DEPLOY_SHA[:10]})"
    )


def test_deployed_bug_reported_before_the_merge_does_not_reopen(client, session, admin_headers):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    answer = report_again(client, timestamp=(MERGED_AT - timedelta(minutes=1)).isoformat())
    assert answer["status"] == "DEPLOYED"
    body = detail(client, admin_headers, bug_id)
    assert (body["status"], body["occurrence_count"]) == ("DEPLOYED", 2)


def test_a_second_report_after_reopening_is_just_counted(client, session, admin_headers):
    bug_id = fixed_bug(client, session, S.DEPLOYED)
    assert report_again(client, version="1.5.0")["status"] == "NEW"
    assert report_again(client, version="1.5.0")["status"] == "NEW"
    body = detail(client, admin_headers, bug_id)
    assert body["occurrence_count"] == 3
    assert [e["kind"] for e in body["history"]] == ["created", "regression"]


# --- MERGED ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("commit", [MERGE_SHA, MERGE_SHA[:7], MERGE_SHA.upper()[:12]])
def test_merged_bug_reopens_when_the_report_comes_from_the_merge_commit(
    client, session, admin_headers, commit
):
    bug_id = fixed_bug(client, session, S.MERGED)
    answer = report_again(client, commit_hash=commit)
    assert answer == {"message": "Log deduplicated", "id": bug_id, "status": "NEW"}
    event = last_event(client, admin_headers, bug_id)
    assert (event["kind"], event["from_status"], event["to_status"], event["note"]) == (
        "regression",
        "MERGED",
        "NEW",
        f"regression: seen again after the fix was merged (commit {commit})",
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"commit_hash": "0123456789abcdef0123456789abcdef01234567"},
        {"commit_hash": MERGE_SHA[:6]},  # too short to identify a commit
        {"version": "9.9.9"},
        {"version": "1.5.0", "commit_hash": "deadbeefdeadbeef"},
    ],
)
def test_merged_bug_does_not_reopen_without_proof_of_the_fix(client, session, admin_headers, overrides):
    bug_id = fixed_bug(client, session, S.MERGED)
    assert report_again(client, **overrides)["status"] == "MERGED"
    body = detail(client, admin_headers, bug_id)
    assert (body["status"], body["occurrence_count"]) == ("MERGED", 2)
    assert [e["kind"] for e in body["history"]] == ["created"]


def test_merged_bug_reported_from_the_merge_commit_but_before_the_merge_time_still_reopens(client, session):
    # The commit is the stronger evidence: clocks on clients drift, commit hashes do not.
    fixed_bug(client, session, S.MERGED)
    old = (MERGED_AT - timedelta(minutes=5)).isoformat()
    assert report_again(client, commit_hash=MERGE_SHA, timestamp=old)["status"] == "NEW"


# --- other states are never reopened -----------------------------------------------------------------


@pytest.mark.parametrize("status", [S.FIXING, S.PENDING_REVIEW, S.FAILED])
def test_reports_of_bugs_in_other_states_only_count(client, session, admin_headers, status):
    bug_id = fixed_bug(client, session, status)
    assert report_again(client, version="9.0.0", commit_hash=MERGE_SHA)["status"] == status
    body = detail(client, admin_headers, bug_id)
    assert (body["status"], body["occurrence_count"]) == (status, 2)


# --- the whole loop through the API ------------------------------------------------------------------


def advance_to_deployed(client, headers, bug_id: int, *, sha: str, version: str, pr: int) -> None:
    claimed = client.post("/api/v1/agent/claim", headers=headers, json={"agent": "agent-1"})
    assert [b["id"] for b in claimed.json()["bugs"]] == [bug_id]
    report = client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports",
        headers=headers,
        json={"agent": "agent-1", "test_passed": True, "pr_number": pr, "pr_url": f"https://forge/pr/{pr}"},
    )
    assert report.status_code == 201, report.text
    merged = client.put(
        f"/api/v1/bugs/{bug_id}/status", headers=headers, json={"status": "MERGED", "merge_commit_sha": sha}
    )
    assert merged.status_code == 200, merged.text
    deployed = client.put(
        f"/api/v1/bugs/{bug_id}/status",
        headers=headers,
        json={"status": "DEPLOYED", "deployed_version": version},
    )
    assert deployed.status_code == 200, deployed.text


def test_full_loop_regression_then_second_fix(client, admin_headers):
    bug_id = ingest(client, version="1.3.0")["id"]
    advance_to_deployed(client, admin_headers, bug_id, sha=MERGE_SHA, version="1.4.0", pr=1)

    assert report_again(client, version="1.3.0")["status"] == "DEPLOYED"  # old pods still running
    assert report_again(client, version="1.4.0")["status"] == "NEW"  # the fix did not work

    # Second attempt, merged but not deployed yet: 1.4.0 / 1.5.0 builds carry the first fix, not this one.
    claimed = client.post("/api/v1/agent/claim", headers=admin_headers, json={"agent": "agent-1"})
    assert [b["id"] for b in claimed.json()["bugs"]] == [bug_id]
    client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports",
        headers=admin_headers,
        json={"agent": "agent-1", "pr_number": 2, "pr_url": "https://forge/pr/2"},
    ).raise_for_status()
    client.put(
        f"/api/v1/bugs/{bug_id}/status",
        headers=admin_headers,
        json={"status": "MERGED", "merge_commit_sha": DEPLOY_SHA},
    ).raise_for_status()
    body = detail(client, admin_headers, bug_id)
    assert body["merge_commit_sha"] == DEPLOY_SHA
    assert (body["deployed_version"], body["deployed_at"]) == (None, None)

    assert report_again(client, version="1.5.0")["status"] == "MERGED"
    assert report_again(client, version="1.4.0", commit_hash=MERGE_SHA)["status"] == "MERGED"
    assert report_again(client, commit_hash=DEPLOY_SHA)["status"] == "NEW"

    body = detail(client, admin_headers, bug_id)
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in body["history"]] == [
        ("created", None, "NEW"),
        ("status", "NEW", "FIXING"),
        ("repair", "FIXING", "PENDING_REVIEW"),
        ("status", "PENDING_REVIEW", "MERGED"),
        ("status", "MERGED", "DEPLOYED"),
        ("regression", "DEPLOYED", "NEW"),
        ("status", "NEW", "FIXING"),
        ("repair", "FIXING", "PENDING_REVIEW"),
        ("status", "PENDING_REVIEW", "MERGED"),
        ("regression", "MERGED", "NEW"),
    ]
    assert body["occurrence_count"] == 6


# --- builds labelled with a commit (the CI snippets' version when there is no tag) --------------------

OLD_BUILD = "3f9a1c2e"  # short hashes, as ${GITHUB_SHA:0:8} gives
FIXED_BUILD = "8d7e6f5a"


@pytest.mark.parametrize("field", ["version", "commit_hash"])
def test_deployed_bug_reported_from_a_commit_it_was_reported_from_before_the_fix_stays(
    client, session, admin_headers, field
):
    """Old servers still running the commit that had the bug do not reopen it: that commit ran before the
    merge, so it cannot contain the fix. A commit never seen before still reopens it (unknown)."""
    before = (MERGED_AT - timedelta(days=1)).isoformat()
    bug_id = ingest(
        client, **{field: OLD_BUILD + "00" if field == "commit_hash" else OLD_BUILD}, timestamp=before
    )["id"]
    bug = session.get(Bug, bug_id)
    bug.status, bug.merge_commit_sha, bug.merged_at = S.DEPLOYED, MERGE_SHA, MERGED_AT
    bug.deployed_version, bug.deployed_commit = FIXED_BUILD, DEPLOY_SHA
    session.commit()

    assert report_again(client, **{field: OLD_BUILD})["status"] == "DEPLOYED"
    assert report_again(client, **{field: FIXED_BUILD})["status"] == "NEW"
    body = detail(client, admin_headers, bug_id)
    assert [e["kind"] for e in body["history"]] == ["created", "regression"]
    assert body["occurrence_count"] == 3


def test_a_date_used_as_version_is_not_taken_for_a_commit(client, session):
    """A version without a hex letter (a date, a build number) may name several builds of a day: seen
    before the fix, it still reopens the deployed bug, as any version that does not compare."""
    before = (MERGED_AT - timedelta(days=1)).isoformat()
    bug_id = ingest(client, version="20261207", timestamp=before)["id"]
    bug = session.get(Bug, bug_id)
    bug.status, bug.merge_commit_sha, bug.merged_at, bug.deployed_version = (
        S.DEPLOYED, MERGE_SHA, MERGED_AT, FIXED_BUILD,
    )  # fmt: skip
    session.commit()
    assert report_again(client, version="20261207")["status"] == "NEW"
