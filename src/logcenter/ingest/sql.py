"""The ingest writer's batch SQL, written once for both dialects and run on a DBAPI cursor of the session's
connection, inside its transaction (a failure raises the driver's exception; the writer rolls back).

Not SQLAlchemy Core: bench/sql_core.py measured Core at 2.5x this cursor's time per statement on SQLite.

Plain SQL both accept (`ON CONFLICT`, `RETURNING`, `UPDATE ... FROM`, window functions) with `?` markers;
only the markers, the casts of a bare VALUES list and how datetimes are passed differ. Values are always
bound, never formatted in; SQLite datetimes use SQLAlchemy's storage format, so the ORM reads these rows.
Each statement takes a table's rows for the whole batch (`{rows}`, a VALUES list): PostgreSQL runs it once
with all the rows, with `$1` markers on a psycopg RawCursor (psycopg's `%s` parsing is not cached past 50
parameters), so the callers send one row per key of an upsert. SQLite runs it per row (executemany): there
is no round trip to save, and a statement compiled once beats a long one compiled per batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from sqlalchemy.engine import Connection

LATEST_FIELDS = ("message", "stack_trace", "level", "environment", "version", "commit_hash", "context")
NEW_BUG_COLUMNS = (
    "project_id", "fingerprint", "source", "error_type", "file_path", "line_number", *LATEST_FIELDS,
    "status", "status_changed_at", "occurrence_count", "first_seen", "last_seen", "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = ("bug_id", "kind", "from_status", "to_status", "actor", "note", "created_at")

# Bound parameters per statement: SQLite's limit (32,766 since 3.32), which is also within PostgreSQL's
# (65,535). Larger batches are sent in chunks of rows, a statement each.
MAX_PARAMS = 32_766
_ZERO = timedelta(0)


class _Rows(NamedTuple):
    """A statement over rows of `width` values: `{rows}` in `sql` stands for their VALUES list.

    `casts` are the columns' PostgreSQL types, for a VALUES list that is not an INSERT's: nothing else types
    it, and untyped parameters would be text (`timestamptz > text` fails). `one_row`, if set, is the
    statement to run per row on SQLite instead of `sql` with a one-row VALUES list.
    """

    sql: str
    width: int
    casts: tuple[str, ...] = ()
    one_row: str = ""


@functools.lru_cache(maxsize=512)
def _text(stmt: _Rows, rows: int, postgres: bool) -> str:
    """`stmt` with a VALUES list of this many rows (`?` markers)."""
    marks = [f"?::{t}" for t in stmt.casts] if postgres and stmt.casts else ["?"] * stmt.width
    return stmt.sql.replace("{rows}", ", ".join(["(" + ", ".join(marks) + ")"] * rows))


@functools.lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """`?` markers as PostgreSQL's `$1`, `$2`, ..."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


# Each bug once, with the batch's count and first/last report time, the values of its latest report, now.
_BUG_UPDATE_COLUMNS = ("n", "first_seen", "last_seen", *LATEST_FIELDS, "updated_at", "id")
_FIRST_SEEN_SET = (
    " first_seen = CASE WHEN bugs.first_seen > {first_seen} THEN {first_seen} ELSE bugs.first_seen END,"
)
_BUG_UPDATE_SET = (
    "occurrence_count = bugs.occurrence_count + {n},"
    + _FIRST_SEEN_SET
    # Every SET sees the row as it was, so these compare against the old last_seen: the latest report wins.
    + "".join(f" {f} = CASE WHEN bugs.last_seen <= {{last_seen}} THEN {{{f}}} ELSE bugs.{f} END,"
              for f in LATEST_FIELDS)
    + " last_seen = CASE WHEN bugs.last_seen < {last_seen} THEN {last_seen} ELSE bugs.last_seen END,"
    " updated_at = {updated_at}"
)  # fmt: skip
# PostgreSQL: and, in the same statement (no round trip more), a row of stale_search_rows for each bug whose
# message it changed (bugs/search.py): every part of one statement reads the rows as they were before it.
# SQLite notes them per row (`mark_search_stale`), from the old values `lock_counts` read.
_UPDATE_BUGS = _Rows(
    f"WITH v ({', '.join(_BUG_UPDATE_COLUMNS)}) AS (VALUES {{rows}}),"
    " old AS (SELECT bugs.id, bugs.message FROM bugs JOIN v ON bugs.id = v.id),"
    " u AS (UPDATE bugs SET "
    + _BUG_UPDATE_SET.format_map({c: f"v.{c}" for c in _BUG_UPDATE_COLUMNS})
    + " FROM v WHERE bugs.id = v.id RETURNING bugs.id, bugs.message)"
    " INSERT INTO stale_search_rows (bug_id) SELECT u.id FROM u JOIN old ON old.id = u.id"
    " WHERE u.message IS DISTINCT FROM old.message",
    len(_BUG_UPDATE_COLUMNS),
    ("int", "timestamptz", "timestamptz", *["text"] * len(LATEST_FIELDS), "timestamptz", "int"),
    # Per row (SQLite), a plain UPDATE costs less than joining a one-row VALUES list. `?N` is the Nth value.
    one_row="UPDATE bugs SET "
    + _BUG_UPDATE_SET.format_map(_ONE_ROW := {c: f"?{i}" for i, c in enumerate(_BUG_UPDATE_COLUMNS, 1)})
    + f" WHERE id = ?{len(_BUG_UPDATE_COLUMNS)}",
)
# SQLite rewrites the index entries of every column its SET names, changed or not: a bug whose first_seen
# stays (nearly all of them) is updated without naming it, and its first_seen index entry is left alone.
_UPDATE_BUGS_SAME_FIRST = _UPDATE_BUGS.one_row.replace(_FIRST_SEEN_SET.format_map(_ONE_ROW), "")
_INSERT_BUGS = _Rows(
    f"INSERT INTO bugs ({', '.join(NEW_BUG_COLUMNS)}) VALUES {{rows}}"
    " ON CONFLICT (project_id, fingerprint) DO NOTHING RETURNING id, project_id, fingerprint",
    len(NEW_BUG_COLUMNS),
)
_INSERT_OCCURRENCES = _Rows(
    "INSERT INTO occurrences (bug_id, project_id, event_id, timestamp, received_at, environment, level,"
    " version, commit_hash, message, stack_trace, context, data) VALUES {rows}",
    13,
)
# PostgreSQL: the new occurrences and their backlog rows in one statement.
_INSERT_OCCURRENCES_UNCOUNTED = _Rows(
    f"WITH o AS ({_INSERT_OCCURRENCES.sql} RETURNING id, bug_id),"
    " u AS (INSERT INTO uncounted_occurrences (occurrence_id) SELECT id FROM o) SELECT id, bug_id FROM o",
    13,
)
# SQLite: the writer holds the database lock, so every occurrence past the largest id seen before its insert
# is its own (a rowid table hands out max(id) + 1, and pruning never deletes a bug's newest occurrence).
_LAST_OCCURRENCE = "SELECT max(id) FROM occurrences"
_MARK_UNCOUNTED = "INSERT INTO uncounted_occurrences (occurrence_id) SELECT id FROM occurrences WHERE id > ?"
# The oldest part of the backlog, taken out of it. SKIP LOCKED: concurrent counters (PostgreSQL, several
# writer processes) each take rows nobody else is counting, and never wait for each other.
_TAKE_UNCOUNTED = (
    "DELETE FROM uncounted_occurrences WHERE occurrence_id IN (SELECT occurrence_id"
    " FROM uncounted_occurrences ORDER BY occurrence_id LIMIT ?{lock}) RETURNING occurrence_id"
)
_TAKE_UNCOUNTED_IDS = (
    "DELETE FROM uncounted_occurrences WHERE occurrence_id IN ({ids}) RETURNING occurrence_id"
)
# What the counters need of each occurrence, and the latest report's values for its bug.
_FACTS = "SELECT id, bug_id, timestamp, environment, version FROM occurrences WHERE id IN ({ids})"
_LATEST = f"SELECT id, {', '.join(LATEST_FIELDS)} FROM occurrences WHERE id IN ({{ids}})"
_INSERT_EVENTS = _Rows(
    f"INSERT INTO bug_events ({', '.join(EVENT_COLUMNS)}) VALUES {{rows}}", len(EVENT_COLUMNS)
)
_HOURLY_CONFLICT = (
    " ON CONFLICT (bug_id, hour) DO UPDATE SET count = bug_hourly_counts.count + excluded.count"
)
# PostgreSQL: and, in the same statement, their sums per project and UTC day in project_daily_counts.
# SQLite adds those per row (`add_daily`).
_UPSERT_HOURLY = _Rows(
    "WITH r (bug_id, hour, count) AS (VALUES {rows}),"
    " h AS (INSERT INTO bug_hourly_counts (bug_id, hour, count) SELECT bug_id, hour, count FROM r"
    + _HOURLY_CONFLICT
    + ") INSERT INTO project_daily_counts (project_id, day, count)"
    " SELECT b.project_id, (r.hour AT TIME ZONE 'UTC')::date, sum(r.count) FROM r JOIN bugs AS b"
    " ON b.id = r.bug_id GROUP BY b.project_id, (r.hour AT TIME ZONE 'UTC')::date",
    3,
    ("int", "timestamptz", "int"),
    one_row="INSERT INTO bug_hourly_counts (bug_id, hour, count) VALUES (?, ?, ?)" + _HOURLY_CONFLICT,
)
_UPSERT_TAGS = _Rows(
    "INSERT INTO bug_tag_values (bug_id, key, value, count, first_seen, last_seen) VALUES {rows}"
    " ON CONFLICT (bug_id, key, value) DO UPDATE SET count = bug_tag_values.count + excluded.count,"
    " first_seen = CASE WHEN bug_tag_values.first_seen > excluded.first_seen"
    " THEN excluded.first_seen ELSE bug_tag_values.first_seen END,"
    " last_seen = CASE WHEN bug_tag_values.last_seen < excluded.last_seen"
    " THEN excluded.last_seen ELSE bug_tag_values.last_seen END",
    6,
)
# Plain rows (no key to conflict on): concurrent counters never wait for each other.
_INSERT_STALE_SEARCH = _Rows("INSERT INTO stale_search_rows (bug_id) VALUES {rows}", 1)
# Rows added, never updated: two counters (PostgreSQL) never wait for each other (stats/service.py sums them).
_INSERT_DAILY = _Rows("INSERT INTO project_daily_counts (project_id, day, count) VALUES {rows}", 3)
# The recent event ids (ingest/events.py): appended, read back newest first, trimmed from the oldest end.
_INSERT_EVENT_IDS = _Rows(
    "INSERT INTO recent_event_ids (project_id, event_id, bug_id, created) VALUES {rows}", 4
)
_RECENT_EVENT_IDS = (
    "SELECT project_id, event_id, bug_id, created FROM recent_event_ids ORDER BY id DESC LIMIT ?"
)
# By id: the boundary is one index lookup, not a walk over the rows kept. Ids are dense on SQLite; gaps in a
# PostgreSQL sequence (rolled-back batches) only mean that a few less are kept.
_TRIM_EVENT_IDS = "DELETE FROM recent_event_ids WHERE id <= (SELECT max(id) FROM recent_event_ids) - ?"
# All but the newest `keep` occurrences of each of these bugs: per bug, the id of its keep-th newest
# occurrence (a short backward scan of the (bug_id, id) index), then the older ones by that index. Run for
# all the bugs of a second's reports at once, the rows it deletes are the table's oldest, close together.
_PRUNE = (
    "DELETE FROM occurrences WHERE id IN (SELECT o.id FROM (SELECT b.column1 AS bug_id, (SELECT id FROM"
    " occurrences WHERE bug_id = b.column1 ORDER BY id DESC LIMIT 1 OFFSET ?) AS oldest FROM (VALUES {ids})"
    " AS b) AS c JOIN occurrences AS o ON o.bug_id = c.bug_id AND o.id < c.oldest"
    # Never one that is not counted yet: another writer's (PostgreSQL), committed after this counter began.
    " WHERE o.id NOT IN (SELECT occurrence_id FROM uncounted_occurrences){limit})"
)


class BatchSQL:
    def __init__(self, conn: Connection) -> None:
        self.postgres = conn.dialect.name == "postgresql"
        self._lock = " FOR NO KEY UPDATE" if self.postgres else ""
        driver: Any = conn.connection.driver_connection
        self._cursor: Any = psycopg.RawCursor(driver) if self.postgres else driver.cursor()
        self._ts: dict[datetime, Any] = {}

    def ts(self, value: datetime) -> Any:
        """A datetime as the driver takes it; the same few values recur many times in one batch."""
        stored = self._ts.get(value)
        if stored is None:
            stored = self._ts[value] = self._convert(value)
        return stored

    def _convert(self, value: datetime) -> Any:
        # A zero offset needs no conversion, whatever the tzinfo (datetime.UTC, pydantic's own UTC):
        # astimezone would only swap it. A naive value still goes through astimezone (local time), as before.
        if value.tzinfo is not UTC and value.utcoffset() != _ZERO:
            value = value.astimezone(UTC)
        if self.postgres:
            return value
        # SQLAlchemy's SQLite storage format ("%Y-%m-%d %H:%M:%S.%f") at a fraction of strftime's cost: this
        # runs ~6 times per report. The first 26 characters leave out the "+00:00" (cheaper than replace()).
        return value.isoformat(" ", "microseconds")[:26]

    def _run(self, sql: str, params: Any) -> Any:
        """Execute `sql` (`?` markers) with `params`, a tuple or a list of tuples (executemany); returns the
        cursor."""
        cursor = self._cursor
        if self.postgres:
            sql = _numbered(sql)
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor

    def _values(self, stmt: _Rows, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Run `stmt` with all `rows` in its VALUES list (a statement per chunk of MAX_PARAMS); returns what
        its RETURNING clause returned."""
        out: list[tuple[Any, ...]] = []
        per = MAX_PARAMS // stmt.width
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            cursor = self._run(_text(stmt, len(chunk), self.postgres), tuple(v for row in chunk for v in row))
            if cursor.description is not None:
                out += [tuple(r) for r in cursor.fetchall()]
        return out

    def _put(self, stmt: _Rows, rows: list[tuple[Any, ...]]) -> None:
        """Store `rows`: in one statement on PostgreSQL, per row (executemany) on SQLite."""
        if not rows:
            return
        if self.postgres:
            self._values(stmt, rows)
        else:
            self._run(stmt.one_row or _text(stmt, 1, False), rows)

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

    def insert_event_ids(self, rows: list[tuple[int, str, int, bool]]) -> None:
        """Append (project_id, event_id, bug_id, created) rows to the recent event ids (ingest/events.py)."""
        self._put(_INSERT_EVENT_IDS, rows)

    def recent_event_ids(self, limit: int) -> list[tuple[int, str, int, bool]]:
        """(project_id, event_id, bug_id, created) of the newest `limit` recent event ids, oldest first."""
        rows = self._run(_RECENT_EVENT_IDS, (limit,)).fetchall()
        return [(p, e, b, bool(c)) for p, e, b, c in reversed(rows)]

    def trim_event_ids(self, keep: int) -> int:
        """Delete the recent event ids older than the newest `keep` ids; returns how many."""
        return int(self._run(_TRIM_EVENT_IDS, (keep,)).rowcount)

    def statuses(self, bug_ids: set[int]) -> dict[int, str]:
        return dict(self._by_ids("SELECT id, status FROM bugs WHERE id IN ({ids})", sorted(bug_ids)))

    def lock_bugs(self, keys: set[tuple[int, str]]) -> list[tuple[int, int, str, str, int | None]]:
        """(id, project_id, fingerprint, status, merged_into_id) of existing bugs, locked in id order.

        Row locks (PostgreSQL; SQLite's writer already holds the database lock) keep concurrent writers from
        changing a bug between this read and the regression check, and id order keeps them from deadlocking.
        NO KEY: the key is not changed, and a plain FOR UPDATE would block other transactions' foreign-key
        checks against these bugs (occurrences, history rows, ... being inserted for them).
        `merged_into_id` is set on a duplicate merged into another bug (triage), which takes its reports.
        """
        where, params = self._per_project("fingerprint", keys)
        sql = (
            f"SELECT id, project_id, fingerprint, status, merged_into_id FROM bugs WHERE {where} ORDER BY id"
            + self._lock
        )
        return [tuple(r) for r in self._run(sql, params).fetchall()]

    def lock_survivors(self, bug_ids: set[int]) -> dict[int, str]:
        """Status of the bugs that duplicates were merged into, locked like `lock_bugs` but after them.

        A merge of duplicates (locking its bugs in id order) running at that moment could deadlock with this
        batch on PostgreSQL; PostgreSQL then fails one of them, and the writer retries its batch report by
        report."""
        sql = "SELECT id, status FROM bugs WHERE id IN ({ids}) ORDER BY id" + self._lock
        return dict(self._by_ids(sql, sorted(bug_ids)))

    def insert_bugs(self, rows: list[tuple[Any, ...]]) -> list[tuple[int, int, str]]:
        """Insert new bugs; returns (id, project_id, fingerprint) of those that did not exist yet."""
        return self._values(_INSERT_BUGS, rows)

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """History rows as bugs.workflow builds them."""
        self._put(
            _INSERT_EVENTS,
            [tuple(self.ts(r[c]) if c == "created_at" else r[c] for c in EVENT_COLUMNS) for r in rows],
        )

    def update_bugs(self, rows: list[tuple[Any, ...]], *, same_first: Sequence[tuple[Any, ...]] = ()) -> None:
        """Rows of (count, first_seen, last_seen, *LATEST_FIELDS values, now, bug id), one per bug; those in
        `same_first` do not move the bug's first_seen (SQLite then leaves it out of the SET)."""
        if self.postgres:
            self._put(_UPDATE_BUGS, [*rows, *same_first])
            return
        self._put(_UPDATE_BUGS, rows)
        if same_first:
            self._run(_UPDATE_BUGS_SAME_FIRST, list(same_first))

    def mark_search_stale(self, bug_ids: list[int]) -> None:
        """SQLite: these bugs' latest message changed (the `bugs.search_refresh` job re-indexes it:
        bugs/search.py). PostgreSQL notes them in `update_bugs`."""
        if not self.postgres:
            self._put(_INSERT_STALE_SEARCH, [(b,) for b in bug_ids])

    def insert_occurrences(self, rows: list[tuple[Any, ...]]) -> list[tuple[int, int]]:
        """Store occurrences and put them on the backlog of those not counted yet (`take_uncounted`);
        returns their (id, bug id), in no particular order."""
        if not rows:
            return []
        if self.postgres:
            return self._values(_INSERT_OCCURRENCES_UNCOUNTED, rows)
        before = self._run(_LAST_OCCURRENCE, ()).fetchone()[0] or 0
        self._put(_INSERT_OCCURRENCES, rows)
        self._run(_MARK_UNCOUNTED, (before,))
        return [(before + n, row[0]) for n, row in enumerate(rows, 1)]

    def take_uncounted(self, limit: int) -> list[int]:
        """Take up to `limit` of the oldest uncounted occurrences off the backlog; returns their ids."""
        sql = _TAKE_UNCOUNTED.format(lock=" FOR UPDATE SKIP LOCKED" if self.postgres else "")
        return [r[0] for r in self._run(sql, (limit,)).fetchall()]

    def take_uncounted_ids(self, ids: Sequence[int]) -> list[int]:
        """Take these occurrences off the backlog; returns those that were still on it."""
        return [r[0] for r in self._by_ids(_TAKE_UNCOUNTED_IDS, ids)]

    def occurrence_facts(self, ids: Sequence[int]) -> list[tuple[int, int, datetime, str, str | None]]:
        """(id, bug_id, timestamp, environment, version) of these occurrences."""
        return [(i, b, self.from_db(t), e, v) for i, b, t, e, v in self._by_ids(_FACTS, ids)]

    def latest_values(self, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """These occurrences' values of LATEST_FIELDS (context as stored JSON), by id."""
        return {row[0]: tuple(row[1:]) for row in self._by_ids(_LATEST, ids)}

    def lock_counts(
        self, bug_ids: Sequence[int]
    ) -> tuple[dict[int, tuple[int, int, Any, str | None, Any]], bool]:
        """(occurrence count, project id, last_seen, message, first_seen) of these bugs, locked in id order
        like `lock_bugs`, so the two never deadlock; and whether any of them was merged into another bug
        (triage) meanwhile. last_seen, message and first_seen (SQLite: as the driver reads them; PostgreSQL:
        None, which `update_bugs` compares itself) tell `mark_search_stale` what the counting changed and
        `update_bugs` whose first_seen stays."""
        old = "NULL, NULL, NULL" if self.postgres else "last_seen, message, first_seen"
        columns = f"id, occurrence_count, project_id, {old}, merged_into_id"
        sql = f"SELECT {columns} FROM bugs WHERE id IN ({{ids}}) ORDER BY id{self._lock}"
        rows = self._by_ids(sql, sorted(bug_ids))
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}, any(r[6] is not None for r in rows)

    def _by_ids(self, sql: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), MAX_PARAMS):
            chunk = ids[start : start + MAX_PARAMS]
            cursor = self._run(sql.format(ids=", ".join("?" * len(chunk))), tuple(chunk))
            out += [tuple(r) for r in cursor.fetchall()]
        return out

    def from_db(self, value: Any) -> datetime:
        """A datetime read with the driver (SQLite: text in SQLAlchemy's format, UTC)."""
        if self.postgres:  # in the session's time zone, which may be +05:30: hours are UTC hours
            return value.astimezone(UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def upsert_hourly(self, rows: list[tuple[int, Any, int]]) -> None:
        """Rows of (bug id, hour, count), one per (bug id, hour)."""
        self._put(_UPSERT_HOURLY, rows)

    def add_daily(self, rows: list[tuple[int, date, int]]) -> None:
        """SQLite: rows of (project id, UTC day, count) to add to the daily counts. PostgreSQL adds them in
        `upsert_hourly`."""
        if not self.postgres:
            self._put(_INSERT_DAILY, [(p, day.isoformat(), n) for p, day, n in rows])

    def upsert_tags(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows of (bug id, key, value, count, first_seen, last_seen), one per (bug id, key, value)."""
        self._put(_UPSERT_TAGS, rows)

    def prune(self, bug_ids: list[int], *, keep: int, limit: int | None = None) -> int:
        """Delete all but the newest `keep` occurrences of these bugs, or only the oldest `limit` of those;
        returns how many were deleted."""
        deleted = 0
        per = MAX_PARAMS - 2
        for start in range(0, len(bug_ids), per):
            ids = bug_ids[start : start + per]
            if limit is not None and deleted >= limit:
                break
            sql = _PRUNE.format(
                ids=", ".join(["(?)"] * len(ids)), limit="" if limit is None else " ORDER BY o.id LIMIT ?"
            )
            params = (keep - 1, *ids) if limit is None else (keep - 1, *ids, limit - deleted)
            deleted += self._run(sql, params).rowcount
        return deleted
