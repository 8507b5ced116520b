"""Each named move of bugs/workflow.py: the fields it fills and clears, and the one history row it writes.

The moves are what webhooks, the UI and the agent call; a bug must never reach a state without what explains
it (a lease while FIXING, a PR while PENDING_REVIEW, a merge commit when MERGED, a release when DEPLOYED).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from logcenter.bugs import history, workflow
from logcenter.bugs.history import HistoryKind
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import utcnow
from logcenter.errors import Conflict
from tests.bugs.helpers import committed_bug

S = BugStatus
SHA = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"


def events(session, bug: Bug) -> list[BugEvent]:
    session.flush()
    return list(session.scalars(select(BugEvent).where(BugEvent.bug_id == bug.id).order_by(BugEvent.id)))


def reloaded(session, bug: Bug) -> Bug:
    """The bug as a fresh transaction reads it after the caller committed."""
    session.commit()
    session.expire_all()
    return session.get_one(Bug, bug.id)


def row(event: BugEvent) -> tuple[object, ...]:
    return (event.kind, event.from_status, event.to_status, event.actor, event.note, event.link)


def test_claim_leases_the_bug(session):
    bug = committed_bug(session, S.NEW)
    now = utcnow()
    workflow.claim(session, bug, agent="agent-1", lease=timedelta(minutes=10), note="Claimed", now=now)
    bug = reloaded(session, bug)
    assert (bug.status, bug.lease_owner, bug.lease_expires_at) == (
        S.FIXING,
        "agent-1",
        now + timedelta(minutes=10),
    )
    assert [row(e) for e in events(session, bug)] == [("status", "NEW", "FIXING", "agent-1", "Claimed", None)]


def test_renew_lease_needs_a_leased_bug(session):
    bug = committed_bug(session, S.NEW)
    with pytest.raises(Conflict):
        workflow.renew_lease(bug, until=utcnow())
    workflow.claim(session, bug, agent="a", lease=timedelta(minutes=1))
    later = utcnow() + timedelta(hours=1)
    workflow.renew_lease(bug, until=later)
    assert reloaded(session, bug).lease_expires_at == later
    assert len(events(session, bug)) == 1  # heartbeats write no history


@pytest.mark.parametrize("move", ["release", "expire_lease"])
def test_release_and_expiry_end_the_lease(session, move):
    bug = committed_bug(session, S.NEW)
    workflow.claim(session, bug, agent="agent-1", lease=timedelta(minutes=10))
    if move == "release":
        workflow.release(session, bug, actor="agent-1", note="repo unreachable")
        expected = ("status", "FIXING", "NEW", "agent-1", "repo unreachable", None)
    else:
        workflow.expire_lease(session, bug)
        expected = ("lease_expired", "FIXING", "NEW", "system", "Lease of agent-1 expired", None)
    bug = reloaded(session, bug)
    assert (bug.status, bug.lease_owner, bug.lease_expires_at) == (S.NEW, None, None)
    assert row(events(session, bug)[-1]) == expected


def test_release_of_a_bug_not_being_fixed_is_409(session):
    bug = committed_bug(session, S.FAILED)
    with pytest.raises(Conflict, match="cannot move from FAILED to NEW"):
        workflow.release(session, bug, actor="agent-1")
    with pytest.raises(Conflict):
        workflow.expire_lease(session, bug)
    assert events(session, bug) == []


def test_submit_for_review_stores_the_pull_request(session):
    bug = committed_bug(
        session,
        S.FIXING,
        lease_owner="agent-1",
        lease_expires_at=utcnow(),
        merge_commit_sha="1" * 40,
        merged_by="old",
        merged_at=utcnow(),
        deployed_commit="2" * 40,
        deployed_version="1.0",
    )
    url = "https://git.example.com/o/r/pulls/7"
    workflow.submit_for_review(
        session,
        bug,
        actor="agent-1",
        pr_number=7,
        pr_url=url,
        branch_name="fix/auto-1",
        head_sha=SHA,
        note="PR #7",
        kind=HistoryKind.REPAIR,
    )
    bug = reloaded(session, bug)
    assert (bug.status, bug.pr_number, bug.pr_url, bug.branch_name, bug.head_sha) == (
        S.PENDING_REVIEW,
        7,
        url,
        "fix/auto-1",
        SHA.lower(),
    )
    # No lease any more; the earlier fix's merge and release are not this fix's.
    assert (bug.lease_owner, bug.lease_expires_at) == (None, None)
    assert (bug.merge_commit_sha, bug.merged_by, bug.merged_at) == (None, None, None)
    assert (bug.deployed_commit, bug.deployed_version, bug.deployed_at) == (None, None, None)
    assert [row(e) for e in events(session, bug)] == [
        ("repair", "FIXING", "PENDING_REVIEW", "agent-1", "PR #7", url)
    ]


def test_link_pull_request(session):
    bug = committed_bug(session, S.PENDING_REVIEW, branch_name="fix/a")
    url = "https://github.com/o/r/pull/3"
    workflow.link_pull_request(session, bug, actor="bot", pr_number=3, pr_url=url)
    bug = reloaded(session, bug)
    assert (bug.status, bug.pr_number, bug.pr_url, bug.branch_name) == (S.PENDING_REVIEW, 3, url, "fix/a")
    assert [row(e) for e in events(session, bug)] == [
        ("pr", "PENDING_REVIEW", "PENDING_REVIEW", "bot", f"PR #3: {url}", url)
    ]


def test_merge_stores_commit_author_and_time(session):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=7, deployed_version="0.9")
    merged_at = utcnow() - timedelta(minutes=5)
    workflow.merge(
        session,
        bug,
        actor="gitea",
        merge_commit_sha=SHA,
        merged_by="alice",
        merged_at=merged_at,
        note="PR #7 merged by alice",
        link="https://git/o/r/pulls/7",
        kind=HistoryKind.MERGED,
    )
    bug = reloaded(session, bug)
    assert (bug.status, bug.merge_commit_sha, bug.merged_by, bug.merged_at) == (
        S.MERGED,
        SHA.lower(),
        "alice",
        merged_at,
    )
    assert bug.deployed_version is None
    assert [row(e) for e in events(session, bug)] == [
        ("merged", "PENDING_REVIEW", "MERGED", "gitea", "PR #7 merged by alice", "https://git/o/r/pulls/7")
    ]


def test_merge_by_hand_defaults_to_the_actor_and_now(session):
    bug = committed_bug(session, S.PENDING_REVIEW)
    before = utcnow()
    workflow.merge(session, bug, actor="alice")
    bug = reloaded(session, bug)
    assert (bug.merged_by, bug.merge_commit_sha) == ("alice", None)
    assert bug.merged_at is not None and bug.merged_at >= before


def test_deploy_stores_the_release(session):
    bug = committed_bug(session, S.MERGED, merge_commit_sha="a" * 40)
    at = utcnow() - timedelta(minutes=1)
    workflow.deploy(
        session,
        bug,
        actor="ci",
        commit=SHA,
        version="2.4.1",
        environment="production",
        deployed_at=at,
        kind=HistoryKind.DEPLOYED,
    )
    bug = reloaded(session, bug)
    assert (
        bug.status,
        bug.deployed_commit,
        bug.deployed_version,
        bug.deployed_environment,
        bug.deployed_at,
    ) == (
        S.DEPLOYED,
        SHA.lower(),
        "2.4.1",
        "production",
        at,
    )
    assert bug.merge_commit_sha == "a" * 40
    assert [row(e)[:4] for e in events(session, bug)] == [("deployed", "MERGED", "DEPLOYED", "ci")]


def test_deploy_of_an_unmerged_bug_is_409(session):
    bug = committed_bug(session, S.PENDING_REVIEW)
    with pytest.raises(Conflict, match="cannot move from PENDING_REVIEW to DEPLOYED"):
        workflow.deploy(session, bug, actor="ci", commit=SHA)
    assert reloaded(session, bug).deployed_commit is None


@pytest.mark.parametrize("current", [S.FIXING, S.PENDING_REVIEW])
def test_fail_keeps_the_reason(session, current):
    bug = committed_bug(session, current, lease_owner="agent-1" if current == S.FIXING else None)
    workflow.fail(
        session, bug, actor="gitea", reason="PR #4 closed without merging by bob", kind=HistoryKind.PR_CLOSED
    )
    bug = reloaded(session, bug)
    assert (bug.status, bug.failure_reason, bug.lease_owner) == (
        S.FAILED,
        "PR #4 closed without merging by bob",
        None,
    )
    assert [row(e) for e in events(session, bug)] == [
        ("pr_closed", current, "FAILED", "gitea", "PR #4 closed without merging by bob", None)
    ]


def test_fail_without_a_reason_says_so(session):
    bug = committed_bug(session, S.FIXING)
    workflow.fail(session, bug, actor="x", reason=None)
    assert reloaded(session, bug).failure_reason == "No reason given"


def test_retry_clears_the_failure_and_the_dead_pr(session):
    bug = committed_bug(
        session,
        S.FAILED,
        failure_reason="tests failed",
        pr_number=4,
        pr_url="https://g/pr/4",
        branch_name="fix/x",
    )
    workflow.retry(session, bug, actor="alice", note="try again")
    bug = reloaded(session, bug)
    assert (bug.status, bug.failure_reason, bug.pr_number, bug.pr_url, bug.branch_name) == (
        S.NEW,
        None,
        None,
        None,
        None,
    )
    assert [row(e) for e in events(session, bug)] == [("status", "FAILED", "NEW", "alice", "try again", None)]


@pytest.mark.parametrize("current", [S.FIXING, S.MERGED, S.DEPLOYED, S.NEW])
def test_retry_only_from_failed(session, current):
    bug = committed_bug(session, current)
    with pytest.raises(Conflict, match=f"cannot be retried: it is {current}"):
        workflow.retry(session, bug, actor="alice")


@pytest.mark.parametrize("current", [S.MERGED, S.DEPLOYED])
def test_reopen_is_a_regression(session, current):
    bug = committed_bug(
        session,
        current,
        pr_number=4,
        pr_url="https://g/pr/4",
        merge_commit_sha="a" * 40,
        deployed_version="1.2",
    )
    workflow.reopen(session, bug, actor="ingest", note="regression: seen again")
    bug = reloaded(session, bug)
    assert (bug.status, bug.pr_number, bug.pr_url) == (S.NEW, None, None)
    # Which fix regressed stays visible until the next fix.
    assert (bug.merge_commit_sha, bug.deployed_version) == ("a" * 40, "1.2")
    assert [row(e) for e in events(session, bug)] == [
        ("regression", current, "NEW", "ingest", "regression: seen again", None)
    ]


def test_reopen_of_an_unfixed_bug_is_409(session):
    bug = committed_bug(session, S.FAILED)
    with pytest.raises(Conflict):
        workflow.reopen(session, bug, actor="ingest")


def test_reopen_review_brings_back_a_reopened_pr(session):
    bug = committed_bug(session, S.FAILED, failure_reason="PR #4 closed without merging by bob", pr_number=4)
    workflow.reopen_review(
        session,
        bug,
        actor="gitea",
        note="PR #4 reopened by bob",
        link="https://g/pr/4",
        kind=HistoryKind.PR_REOPENED,
    )
    bug = reloaded(session, bug)
    assert (bug.status, bug.failure_reason, bug.pr_number) == (S.PENDING_REVIEW, None, 4)
    assert [row(e) for e in events(session, bug)] == [
        ("pr_reopened", "FAILED", "PENDING_REVIEW", "gitea", "PR #4 reopened by bob", "https://g/pr/4")
    ]


def test_request_revision_keeps_the_pr_and_waits_for_an_agent(session):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4, branch_name="fix/x", head_sha="a" * 40)
    now = utcnow()
    workflow.request_revision(
        session, bug, actor="alice (gitea)", note="handle None too", link="https://g/pr/4#c1", now=now
    )
    bug = reloaded(session, bug)
    assert (bug.status, bug.lease_owner, bug.lease_expires_at) == (S.FIXING, None, None)
    assert (bug.pr_number, bug.branch_name, bug.head_sha) == (4, "fix/x", "a" * 40)
    assert (bug.revision, bug.revision_requested_at) == (1, now)
    assert [row(e) for e in events(session, bug)] == [
        (
            "revision_requested",
            "PENDING_REVIEW",
            "FIXING",
            "alice (gitea)",
            "handle None too",
            "https://g/pr/4#c1",
        )
    ]


def test_a_revision_past_the_limit_is_409_and_changes_nothing(session):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4, revision=3)
    with pytest.raises(Conflict, match=r"3 revisions of its fix, the most allowed \(3\)"):
        workflow.request_revision(session, bug, actor="alice", note="again", limit=3)
    bug = reloaded(session, bug)
    assert (bug.status, bug.revision, bug.revision_requested_at) == (S.PENDING_REVIEW, 3, None)
    assert events(session, bug) == []


@pytest.mark.parametrize("current", [S.NEW, S.FIXING, S.MERGED, S.FAILED])
def test_only_a_fix_awaiting_review_is_revised(session, current):
    bug = committed_bug(session, current, pr_number=4)
    with pytest.raises(Conflict):
        workflow.request_revision(session, bug, actor="alice")


def test_a_revision_is_claimed_without_a_move_and_reported_like_a_fix(session):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4, branch_name="fix/x", head_sha="a" * 40)
    workflow.request_revision(session, bug, actor="alice", note="rename it")
    now = utcnow()
    workflow.claim_revision(session, bug, agent="agent-1", lease=timedelta(minutes=5), now=now)
    with pytest.raises(Conflict):  # one agent at a time
        workflow.claim_revision(session, bug, agent="agent-2", lease=timedelta(minutes=5))
    assert (bug.status, bug.lease_owner, bug.lease_expires_at) == (
        S.FIXING,
        "agent-1",
        now + timedelta(minutes=5),
    )
    workflow.submit_for_review(session, bug, actor="agent-1", head_sha="b" * 40, kind=HistoryKind.REVISED)
    bug = reloaded(session, bug)
    assert (bug.status, bug.pr_number, bug.head_sha, bug.revision) == (S.PENDING_REVIEW, 4, "b" * 40, 1)
    assert (bug.lease_owner, bug.revision_requested_at) == (None, None)
    assert [(e.kind, e.from_status, e.to_status, e.note) for e in events(session, bug)] == [
        ("revision_requested", "PENDING_REVIEW", "FIXING", "rename it"),
        ("status", "FIXING", "FIXING", "Revision 1 claimed by repair agent"),
        ("revised", "FIXING", "PENDING_REVIEW", None),
    ]


@pytest.mark.parametrize("move", ["release", "expire_lease"])
def test_a_revision_given_back_waits_for_an_agent_again(session, move):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4, branch_name="fix/x")
    workflow.request_revision(session, bug, actor="alice", note="rename it")
    workflow.claim_revision(session, bug, agent="agent-1", lease=timedelta(minutes=5))
    getattr(workflow, move)(session, bug, actor="system")
    bug = reloaded(session, bug)
    assert (bug.status, bug.lease_owner, bug.lease_expires_at, bug.pr_number) == (S.FIXING, None, None, 4)
    assert bug.revision_requested_at is not None and workflow.is_revision(bug)
    last = events(session, bug)[-1]
    assert (last.from_status, last.to_status) == ("FIXING", "FIXING")
    assert "revision 1 waits for a repair agent again" in last.note.lower()
    workflow.claim_revision(session, bug, agent="agent-2", lease=timedelta(minutes=5))  # claimable again
    assert bug.lease_owner == "agent-2"


def test_a_new_fix_starts_its_own_revision_count(session):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4, branch_name="fix/x")
    workflow.request_revision(session, bug, actor="alice")
    workflow.fail(session, bug, actor="bob", reason="gave up")
    assert (bug.revision, bug.revision_requested_at) == (1, None)
    workflow.retry(session, bug, actor="bob")
    assert (bug.status, bug.revision, bug.pr_number) == (S.NEW, 0, None)


def test_a_revision_is_not_a_move_by_hand_through_the_status_api(session):
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4)
    with pytest.raises(Conflict, match=f"POST /api/v1/bugs/{bug.id}/revision"):
        workflow.transition(session, bug, S.FIXING, actor="admin", note="try again", kind=HistoryKind.STATUS)
    assert (bug.status, bug.lease_owner, bug.revision) == (S.PENDING_REVIEW, None, 0)


@pytest.mark.parametrize(
    "kind", [HistoryKind.COMMENT, HistoryKind.REVIEW, HistoryKind.REPAIR_REPORT, HistoryKind.DEPLOYMENT]
)
def test_record_note_keeps_the_status(session, kind):
    bug = committed_bug(session, S.PENDING_REVIEW)
    history.record_note(
        session, bug, kind=kind, actor="bob", note="LGTM <script>", link="https://g/pr/4#issuecomment-9"
    )
    bug = reloaded(session, bug)
    assert bug.status == S.PENDING_REVIEW
    assert [row(e) for e in events(session, bug)] == [
        (
            kind.value,
            "PENDING_REVIEW",
            "PENDING_REVIEW",
            "bob",
            "LGTM <script>",
            "https://g/pr/4#issuecomment-9",
        )
    ]


def test_history_link_is_in_the_api(client, session, admin_headers):
    bug = committed_bug(session, S.PENDING_REVIEW)
    history.record_note(session, bug, kind=HistoryKind.REVIEW, actor="bob", note="ok", link="https://g/pr/4")
    workflow.merge(session, bug, actor="gitea", merge_commit_sha=SHA, merged_by="bob")
    session.commit()
    body = client.get(f"/api/v1/bugs/{bug.id}", headers=admin_headers).json()
    assert [(e["kind"], e["link"]) for e in body["history"]] == [
        ("review", "https://g/pr/4"),
        ("status", None),
    ]
    assert (body["merged_by"], body["merge_commit_sha"], body["head_sha"]) == ("bob", SHA.lower(), None)


def test_history_kinds_fit_their_column():
    assert max(len(k.value) for k in HistoryKind) <= BugEvent.__table__.c.kind.type.length
