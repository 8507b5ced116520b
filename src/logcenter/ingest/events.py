"""Recognising a repeated Sentry event id: SDKs retry, and a retried event must not be counted twice.

REST reports sent with an `Idempotency-Key` carry an event id made from the key and are recognised the same
way; whether the first one created its bug is remembered too, so that a retry is answered as the first was.

The writer remembers the ids of the last `window` events it stored, in memory, and appends them to
`recent_event_ids` in the same transaction as their occurrences, so a restarted writer reads them back (as
Sentry keeps a cache of the last hour's ids). Not a unique index on occurrences (project_id, event_id), as
before revision 0004: random ids wrote a random index page per insert and per pruned occurrence, and an id
was forgotten with its occurrence; this table is appended to and trimmed from its oldest end. Several
servers on one PostgreSQL database each know the events they stored and those stored before they started.
"""

from __future__ import annotations

import hashlib
from collections import deque

from logcenter.ingest.sql import BatchSQL

# LOGCENTER_SENTRY_DEDUP_WINDOW's default: how many event ids are remembered.
DEDUP_WINDOW = 100_000
# The rows past the window are deleted once this share of the window has been added since the last trim.
TRIM_SHARE = 0.05


def idempotency_event_id(idempotency_key: str) -> str:
    """The event id of a REST report sent with this Idempotency-Key (the key is scoped to the project)."""
    return hashlib.sha256(b"idempotency-key:" + idempotency_key.encode()).hexdigest()[:32]


def key(project_id: int, event_id: str) -> int:
    """One int per (project, event id): event ids are 32 hex digits (sentry/event.py checks them)."""
    return project_id << 128 | int(event_id, 16)


class RecentEvents:
    """The last `window` stored event ids, the bug each joined and whether it created it.

    Used by one writer in its write transactions: `store_batch` looks ids up (`repeats`) and `stage`s those it
    stores; the writer then calls `commit` once the transaction committed, or `rollback` if it failed, so that
    memory never holds an event the database does not.
    """

    def __init__(self, window: int) -> None:
        self.window = window
        # key → bug id << 1 | created: one int rather than a tuple, 64 bytes less for each id remembered.
        self._bugs: dict[int, int] = {}
        self._order: deque[int] = deque()
        self._staged: list[tuple[int, int]] = []
        self._loaded = False
        self._since_trim = 0

    def load(self, sql: BatchSQL) -> None:
        """Read the table back, once: what this and earlier writers stored."""
        if self._loaded:
            return
        self._bugs.clear()
        self._order.clear()
        for project_id, event_id, bug_id, created in sql.recent_event_ids(self.window):
            self._remember(key(project_id, event_id), bug_id << 1 | created)
        self._loaded = True

    def repeats(
        self, events: list[tuple[int, int, str]]
    ) -> tuple[dict[int, tuple[int, bool]], dict[int, int]]:
        """Of a batch's (position, project_id, event_id): position → (bug, created) of an event stored before,
        and position → the position of the same event earlier in the batch."""
        stored: dict[int, tuple[int, bool]] = {}
        in_batch: dict[int, int] = {}
        first: dict[tuple[int, str], int] = {}
        for i, project_id, event_id in events:
            value = self._bugs.get(key(project_id, event_id))
            if value is not None:
                stored[i] = (value >> 1, bool(value & 1))
            elif (event := (project_id, event_id)) in first:
                in_batch[i] = first[event]
            else:
                first[event] = i
        return stored, in_batch

    def stage(self, sql: BatchSQL, rows: list[tuple[int, str, int, bool]]) -> None:
        """Store (project_id, event_id, bug_id, created) of events in the current transaction."""
        if rows:
            sql.insert_event_ids(rows)
            self._staged += [(key(p, e), b << 1 | c) for p, e, b, c in rows]

    def commit(self) -> None:
        for k, value in self._staged:
            self._remember(k, value)
        self._since_trim += len(self._staged)
        self._staged = []

    def rollback(self) -> None:
        """The transaction failed: forget what it staged, and read the table back next time (a failed commit
        may leave memory and database in doubt)."""
        self._staged = []
        self._loaded = False

    def trim_due(self) -> bool:
        return self._since_trim >= max(1, int(self.window * TRIM_SHARE))

    def trim(self, sql: BatchSQL) -> int:
        """Delete the table's rows past the window (in a transaction of the caller's); returns how many."""
        self._since_trim = 0
        return sql.trim_event_ids(self.window)

    def _remember(self, k: int, value: int) -> None:
        if k in self._bugs:
            return
        self._bugs[k] = value
        self._order.append(k)
        while len(self._order) > self.window:
            del self._bugs[self._order.popleft()]
