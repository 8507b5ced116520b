"""The notification jobs: the dispatcher and the digest (periodic), and one delivery job per message.

A delivery job makes one attempt. A failure is written on the delivery and the job is retried after the
delivery's backoff (30 s, 2 min, 8 min, ...) through the job queue, up to `LOGCENTER_NOTIFY_MAX_ATTEMPTS`
attempts; then the delivery is failed for good.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from logcenter.db import session_scope, write_in_parts
from logcenter.jobs import service as jobs
from logcenter.jobs.registry import JobContext, PermanentFailure, RetryLater, every, handler
from logcenter.notify import delivery, digest, inbox, outbox
from logcenter.notify.models import DeliveryStatus
from logcenter.notify.settings import base_url, policy, settle

DISPATCH = "notify.dispatch"
DIGEST = "notify.digest"
DELIVER = "notify.deliver"

every(lambda settings: settings.notify_interval_seconds, DISPATCH)
every(300, DIGEST)


def enqueue_deliveries(session: Session, delivery_ids: list[int], *, max_attempts: int) -> None:
    payloads = [{"delivery_id": delivery_id} for delivery_id in delivery_ids]
    jobs.enqueue_many(session, DELIVER, payloads, max_attempts=max_attempts)


@handler(DISPATCH, max_attempts=1)  # periodic: the next run picks up where this one stopped
def dispatch(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Turn new bug history into deliveries until it has caught up, in parts (db.write_in_parts)."""
    attempts = ctx.settings.notify_max_attempts
    url, settling, burst = base_url(ctx.settings), settle(ctx.settings), ctx.settings.notify_burst_per_minute

    def part(session: Session, limit: int) -> int:
        return outbox.dispatch(
            session,
            base_url=url,
            enqueue=lambda s, ids: enqueue_deliveries(s, ids, max_attempts=attempts),
            settle=settling,
            burst=burst,
            observers=(inbox.add_for_event,),
            batch=limit,
        ).events

    write_in_parts(ctx.sessions, part, ceiling=outbox.BATCH)


@handler(DIGEST, max_attempts=1)
def send_digests(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Queue the daily digest of each channel whose digest hour has come."""
    attempts = ctx.settings.notify_max_attempts
    with session_scope(ctx.sessions) as session:
        digest.send_due(
            session,
            base_url=base_url(ctx.settings),
            hour=ctx.settings.notify_digest_hour,
            enqueue=lambda s, ids: enqueue_deliveries(s, ids, max_attempts=attempts),
        )


@handler(DELIVER)
def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One attempt at one message; a failure is retried with the delivery's backoff."""
    outcome = delivery.attempt(
        ctx.sessions,
        int(payload["delivery_id"]),
        settings=ctx.settings,
        policy=policy(ctx.settings, max_attempts=ctx.max_attempts),
        final=ctx.attempt >= ctx.max_attempts,
    )
    if outcome is None or outcome.status == DeliveryStatus.SENT:
        return
    if outcome.retry:
        raise RetryLater(
            outcome.error or "delivery failed", seconds=delivery.backoff(outcome.attempts).total_seconds()
        )
    raise PermanentFailure(outcome.error or "delivery failed")
