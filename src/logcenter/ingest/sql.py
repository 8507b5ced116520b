"""The ingest hot path's SQL, prepared once and run on the DBAPI cursor through `exec_driver_sql`.

Why not SQLAlchemy Core here, as everywhere else: building, caching and binding Core statements cost about
4 ms per batch and 150 µs per report (bench/README.md), more than the database work itself. These statements
are plain SQL that SQLite and PostgreSQL both accept (`ON CONFLICT ... DO UPDATE`, `RETURNING`); only the
parameter marker and how datetimes are passed differ. Values are always bound parameters, never formatted in.
Datetimes on SQLite use SQLAlchemy's own storage format, so the ORM reads these rows like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection

LATEST_FIELDS = ("message", "stack_trace", "level", "environment", "version", "commit_hash", "context")
NEW_BUG_COLUMNS = (
    "project_id", "fingerprint", "source", "error_type", "file_path", "line_number", *LATEST_FIELDS,
    "status", "status_changed_at", "occurrence_count", "first_seen", "last_seen", "created_at", "updated_at",
)  # fmt: skip

_UPDATE_BUG = (
    "UPDATE bugs SET occurrence_count = occurrence_count + ?,"
    " first_seen = CASE WHEN first_seen > ? THEN ? ELSE first_seen END,"
    # Every SET sees the row as it was, so these compare against the old last_seen: the latest report wins.
    + "".join(f" {f} = CASE WHEN last_seen <= ? THEN ? ELSE {f} END," for f in LATEST_FIELDS)
    + " last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END, updated_at = ? WHERE id = ?"
)
_INSERT_OCCURRENCE = (
    "INSERT INTO occurrences (bug_id, project_id, event_id, timestamp, received_at, environment, level,"
    " version, commit_hash, message, stack_trace, context, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
EVENT_COLUMNS = ("bug_id", "kind", "from_status", "to_status", "actor", "note", "created_at")
_INSERT_EVENT = (
    f"INSERT INTO bug_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)
_UPSERT_HOURLY = (
    "INSERT INTO bug_hourly_counts (bug_id, hour, count) VALUES (?, ?, ?)"
    " ON CONFLICT (bug_id, hour) DO UPDATE SET count = bug_hourly_counts.count + excluded.count"
)
_UPSERT_TAG = (
    "INSERT INTO bug_tag_values (bug_id, key, value, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (bug_id, key, value) DO UPDATE SET count = bug_tag_values.count + excluded.count,"
    " first_seen = CASE WHEN bug_tag_values.first_seen > excluded.first_seen"
    " THEN excluded.first_seen ELSE bug_tag_values.first_seen END,"
    " last_seen = CASE WHEN bug_tag_values.last_seen < excluded.last_seen"
    " THEN excluded.last_seen ELSE bug_tag_values.last_seen END"
)
_PRUNE = (
    "DELETE FROM occurrences WHERE bug_id = ? AND id < ("
    "SELECT id FROM occurrences WHERE bug_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"
)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class HotPath:
    """The statements above bound to one connection and its dialect."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    def ts(self, value: datetime) -> Any:
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if self.postgres:
            return value
        # SQLAlchemy's SQLite storage format ("%Y-%m-%d %H:%M:%S.%f") at a fraction of strftime's cost: this
        # runs ~6 times per report.
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _run(self, sql: str, params: Any) -> Any:
        return self.conn.exec_driver_sql(self._sql(sql), params)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._run(sql, rows)

    def _per_project(self, column: str, keys: set[tuple[int, str]]) -> tuple[str, tuple[Any, ...]]:
        """`(project_id = ? AND column IN (...)) OR ...`: the unique indexes lead with project_id, so each
        term is an index lookup; filtering on `column` alone would scan the table."""
        by_project: dict[int, list[str]] = {}
        for project_id, value in keys:
            by_project.setdefault(project_id, []).append(value)
        terms, params = [], []
        for project_id, values in sorted(by_project.items()):
            terms.append(f"(project_id = ? AND {column} IN ({', '.join('?' * len(values))}))")
            params += [project_id, *values]
        return " OR ".join(terms), tuple(params)

    def duplicate_events(self, keys: set[tuple[int, str]]) -> list[tuple[int, str, int]]:
        """(project_id, event_id, bug_id) of stored occurrences with these (project_id, event_id)."""
        where, params = self._per_project("event_id", keys)
        sql = f"SELECT project_id, event_id, bug_id FROM occurrences WHERE {where}"
        return [tuple(r) for r in self._run(sql, params).fetchall()]

    def statuses(self, bug_ids: set[int]) -> dict[int, str]:
        marks = ", ".join("?" * len(bug_ids))
        return dict(self._run(f"SELECT id, status FROM bugs WHERE id IN ({marks})", tuple(bug_ids)).all())

    def lock_bugs(self, keys: set[tuple[int, str]]) -> list[tuple[int, int, str, str, int]]:
        """(id, project_id, fingerprint, status, occurrence_count) of existing bugs, locked in id order.

        Row locks (PostgreSQL; SQLite's writer already holds the database lock) keep concurrent writers from
        changing a bug between this read and the regression check, and id order keeps them from deadlocking.
        """
        where, params = self._per_project("fingerprint", keys)
        sql = (
            f"SELECT id, project_id, fingerprint, status, occurrence_count FROM bugs WHERE {where}"
            " ORDER BY id" + (" FOR UPDATE" if self.postgres else "")
        )
        return [tuple(r) for r in self._run(sql, params).fetchall()]

    def insert_bugs(self, rows: list[tuple[Any, ...]]) -> list[tuple[int, int, str]]:
        """Insert new bugs; returns (id, project_id, fingerprint) of those that did not exist yet."""
        one = "(" + ", ".join("?" * len(NEW_BUG_COLUMNS)) + ")"
        sql = (
            f"INSERT INTO bugs ({', '.join(NEW_BUG_COLUMNS)}) VALUES {', '.join([one] * len(rows))}"
            " ON CONFLICT (project_id, fingerprint) DO NOTHING RETURNING id, project_id, fingerprint"
        )
        flat = tuple(v for row in rows for v in row)
        return [tuple(r) for r in self._run(sql, flat).fetchall()]

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """History rows as bugs.workflow builds them."""
        self._many(
            _INSERT_EVENT,
            [tuple(self.ts(r[c]) if c == "created_at" else r[c] for c in EVENT_COLUMNS) for r in rows],
        )

    def update_bugs(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows of (count, first_seen, last_seen, {latest field values}, now, bug id)."""
        params = []
        for n, first, last, latest, now, bug_id in rows:
            pairs = tuple(v for value in latest for v in (last, value))
            params.append((n, first, first, *pairs, last, last, now, bug_id))
        self._many(_UPDATE_BUG, params)

    def insert_occurrences(self, rows: list[tuple[Any, ...]]) -> None:
        self._many(_INSERT_OCCURRENCE, rows)

    def upsert_hourly(self, rows: list[tuple[int, Any, int]]) -> None:
        self._many(_UPSERT_HOURLY, rows)

    def upsert_tags(self, rows: list[tuple[Any, ...]]) -> None:
        self._many(_UPSERT_TAG, rows)

    def prune(self, bug_ids: list[int], *, keep: int) -> None:
        """Delete all but the newest `keep` occurrences of these bugs."""
        self._many(_PRUNE, [(b, b, keep - 1) for b in bug_ids])
