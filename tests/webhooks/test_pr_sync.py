"""The PR sync job: what the webhooks missed, the forge's own state puts right, and only once."""

from __future__ import annotations

from logcenter.bugs.models import BugStatus
from logcenter.db import session_scope
from logcenter.jobs import enqueue, run_pending
from logcenter.reviews.jobs import SYNC_PULL_REQUESTS
from tests.webhooks.conftest import history, reload
from tests.webhooks.test_with_fake_forges import configure, pending


def sync(db, settings) -> int:
    with session_scope(db.factory) as session:
        enqueue(session, SYNC_PULL_REQUESTS)
    return run_pending(db.factory, settings, kinds=[SYNC_PULL_REQUESTS])


def test_a_merge_whose_webhook_was_missed_is_found_by_the_sync(
    client, db, session, settings, admin_headers, fake_forge
):
    configure(client, admin_headers, fake_forge)
    merged, pr1 = pending(session, fake_forge, "fix/auto-1")
    closed, pr2 = pending(session, fake_forge, "fix/auto-2")
    untouched, _ = pending(session, fake_forge, "fix/auto-3")
    fake_forge.merge_pr(fake_forge.default_repo, pr1.number, by="maria")
    fake_forge.close_pr(fake_forge.default_repo, pr2.number)
    assert sync(db, settings) == 1
    merged = reload(session, merged)
    assert (merged.status, merged.merge_commit_sha, merged.merged_by) == (
        BugStatus.MERGED,
        pr1.merge_commit,
        "maria",
    )
    closed = reload(session, closed)
    assert closed.status == BugStatus.FAILED
    assert closed.failure_reason == f"PR #{pr2.number} was closed without merging (found by the PR sync)"
    assert reload(session, untouched).status == BugStatus.PENDING_REVIEW
    rows = [len(history(session, b)) for b in (merged, closed, untouched)]
    sync(db, settings)  # nothing new on the forge: nothing changes
    assert [len(history(session, b)) for b in (merged, closed, untouched)] == rows


def test_a_reopened_pr_is_found_but_a_bug_failed_by_hand_stays_failed(
    client, db, session, settings, admin_headers, fake_gitea
):
    configure(client, admin_headers, fake_gitea)
    reopened, pr = pending(session, fake_gitea, "fix/auto-1")
    by_hand, _ = pending(session, fake_gitea, "fix/auto-2")
    fake_gitea.close_pr(fake_gitea.default_repo, pr.number)
    sync(db, settings)
    assert reload(session, reopened).status == BugStatus.FAILED
    response = client.post(
        f"/api/v1/bugs/{by_hand.id}/fail", json={"reason": "wrong approach"}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    fake_gitea.reopen_pr(fake_gitea.default_repo, pr.number)
    sync(db, settings)
    assert reload(session, reopened).status == BugStatus.PENDING_REVIEW
    assert reload(session, by_hand).status == BugStatus.FAILED


def test_the_sync_runs_periodically(app):
    from logcenter.jobs.registry import PERIODIC, load_handlers

    load_handlers()
    assert PERIODIC[SYNC_PULL_REQUESTS].interval(app.state.settings) == 300


def test_old_delivery_ids_are_pruned_recent_ones_kept(db, session, settings):
    from datetime import timedelta

    from sqlalchemy import select

    from logcenter.db import utcnow
    from logcenter.reviews.jobs import PRUNE_DELIVERIES
    from logcenter.webhooks.models import WebhookDelivery

    for delivery, age in (("old", timedelta(days=40)), ("recent", timedelta(days=2))):
        session.add(
            WebhookDelivery(
                source="gitea",
                delivery_id=delivery,
                event="pull_request",
                outcome="ok",
                received_at=utcnow() - age,
            )
        )
    session.commit()
    with session_scope(db.factory) as s:
        enqueue(s, PRUNE_DELIVERIES)
    assert run_pending(db.factory, settings, kinds=[PRUNE_DELIVERIES]) == 1
    session.rollback()
    assert list(session.scalars(select(WebhookDelivery.delivery_id))) == ["recent"]
