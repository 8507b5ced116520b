"""Which bug history rows are worth a notification, and under which name users subscribe to them."""

from __future__ import annotations

from enum import StrEnum

from logcenter.bugs.models import BugEvent, BugStatus


class EventKind(StrEnum):
    NEW_BUG = "new_bug"
    REGRESSION = "regression"
    PR_OPENED = "pr_opened"  # a fix is ready for review
    FIX_FAILED = "fix_failed"
    MERGED = "merged"
    DEPLOYED = "deployed"
    REVISION_REQUESTED = "revision_requested"  # a reviewer sent the fix back to the repair agent
    REVISED = "revised"  # the agent's revision of the fix (or why it failed): ready for review again
    DIGEST = "digest"
    TEST = "test"  # the "send test message" button; not a subscription
    SUMMARY = "summary"  # what a channel's burst limit held back (burst.py); not a subscription


SUBSCRIBABLE = tuple(k for k in EventKind if k not in (EventKind.TEST, EventKind.SUMMARY))
DEFAULT_EVENTS = (
    EventKind.NEW_BUG,
    EventKind.REGRESSION,
    EventKind.PR_OPENED,
    EventKind.FIX_FAILED,
    EventKind.MERGED,
    EventKind.DEPLOYED,
    EventKind.REVISION_REQUESTED,
    EventKind.REVISED,
)

S = BugStatus
_FIXED = frozenset({S.MERGED.value, S.DEPLOYED.value})


def classify(event: BugEvent) -> EventKind | None:
    """The notification a history row stands for, or None (claims, releases, notes, comments...).

    Decided by the status change rather than by the row's `kind` label alone, so new labels for the same
    transitions (named workflow functions) keep notifying.
    """
    before, after = event.from_status, event.to_status
    if event.kind == "created" or (before is None and after == S.NEW):
        return EventKind.NEW_BUG
    if before == after:
        return None
    if after == S.NEW and (event.kind == "regression" or before in _FIXED):
        return EventKind.REGRESSION
    if before == S.PENDING_REVIEW and after == S.FIXING:
        return EventKind.REVISION_REQUESTED
    if after == S.PENDING_REVIEW and before == S.FIXING and event.kind == "revised":
        return EventKind.REVISED
    if after == S.PENDING_REVIEW and before == S.FIXING:
        return EventKind.PR_OPENED
    if after == S.FAILED:
        return EventKind.FIX_FAILED
    if after == S.MERGED:
        return EventKind.MERGED
    if after == S.DEPLOYED:
        return EventKind.DEPLOYED
    return None
