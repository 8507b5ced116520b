"""Text search over bugs: a substring of the error type, the message (the latest report's) or the file path,
in any case, read from a trigram index when that is faster than a LIKE over the bugs.

The index is the `bug_search` table (migration 0018): on SQLite an FTS5 table with the trigram tokenizer,
where a quoted phrase matches exactly the rows that contain it as a substring; on PostgreSQL a table with a
pg_trgm GIN index, which serves ILIKE '%...%'. A trigger adds a bug's row when the bug is inserted. When the
ingest counter changes a bug's latest message it notes the bug in stale_search_rows, and the
`bugs.search_refresh` job (every REFRESH_SECONDS) re-indexes the bugs noted (`refresh_stale`): the counter
does not pay for the index on every changed message, and a bug whose message changes with every report is
re-indexed once per run, not once per report. Until then a search finds a bug by its previous message.

Which way a search goes (`indexed_ids`): for a text of three characters or more, the index lists the bugs
that contain it, up to PROBE_CAP + 1; if there are at most PROBE_CAP, the queries take those ids. A shorter
text (a trigram index cannot serve it) or a common one (every ordered page of the LIKE scan then fills after
a few rows) is a LIKE over the bugs, as before the index. Both ways find the same bugs: case is folded as each
database's LIKE folds it (SQLite: ASCII letters only, so the SQLite index holds the texts with ASCII letters
lowered and is case-sensitive; PostgreSQL's ILIKE: every letter).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, text
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug

MIN_INDEXED = 3  # characters: the shortest text a trigram index serves
# More matches than this: the LIKE scan (see above). Listing them up to here costs about a millisecond.
PROBE_CAP = 1000
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_POSTGRES_TERMS = " OR ".join(f"{c} ILIKE :needle" for c in ("error_type", "message", "file_path"))
_PROBE = {
    # One phrase of the trigram tokenizer: the text's trigrams in a row, that is, the text as a substring.
    "sqlite": "SELECT rowid FROM bug_search WHERE bug_search MATCH :needle LIMIT :cap",
    "postgresql": f"SELECT bug_id FROM bug_search WHERE {_POSTGRES_TERMS} LIMIT :cap",
}


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _needle(value: str, dialect: str) -> str:
    """The text as each dialect's index takes it: an FTS5 phrase ("..." with its quotes doubled, ASCII
    letters lowered as the index holds them), or an ILIKE pattern."""
    if dialect == "sqlite":
        return '"' + value.translate(_ASCII_LOWER).replace('"', '""') + '"'
    return _like(value)


def indexed_ids(session: Session, value: str) -> tuple[int, ...] | None:
    """The ids of the bugs whose type, message or file contains `value`, read from the index; None when the
    index should not serve it (shorter than MIN_INDEXED, or more than PROBE_CAP matches: see above).
    Remembered for the session: the board asks for each of its queries."""
    if len(value) < MIN_INDEXED:
        return None
    known: dict[str, tuple[int, ...] | None] = session.info.setdefault("bug_search.ids", {})
    if value not in known:
        dialect = session.get_bind().dialect.name
        params = {"needle": _needle(value, dialect), "cap": PROBE_CAP + 1}
        ids = tuple(session.scalars(text(_PROBE[dialect]), params))
        known[value] = ids if len(ids) <= PROBE_CAP else None
    return known[value]


def matches(value: str, *, ids: tuple[int, ...] | None) -> ColumnElement[Any]:
    """The condition on `bugs` that a bug's type, message or file path contains `value` (any case): one of
    the `ids` the index listed (`indexed_ids`), or without them a LIKE over the bugs' own columns."""
    if ids is not None:
        return Bug.id.in_(ids)
    pattern = _like(value)
    return or_(*(c.ilike(pattern, escape="\\") for c in (Bug.error_type, Bug.message, Bug.file_path)))


REFRESH_BATCH = 2000  # stale rows a refresh takes at once (a job part at most: db.write_in_parts)
_TAKE_STALE = (
    "DELETE FROM stale_search_rows WHERE id IN (SELECT id FROM stale_search_rows ORDER BY id LIMIT :n)"
    " RETURNING bug_id"
)
_REFRESH = {
    "sqlite": "UPDATE bug_search SET message = (SELECT lower(message) FROM bugs WHERE id = :id)"
    " WHERE rowid = :id AND message IS NOT (SELECT lower(message) FROM bugs WHERE id = :id)",
    "postgresql": "UPDATE bug_search AS s SET message = b.message FROM bugs AS b"
    " WHERE b.id = ANY(:ids) AND s.bug_id = b.id AND s.message IS DISTINCT FROM b.message",
}


def refresh_stale(session: Session, *, limit: int = REFRESH_BATCH) -> int:
    """Re-index the message of bugs whose latest message changed, as the ingest counter noted them
    (stale_search_rows), up to `limit` notes; returns how many notes it took. The caller commits."""
    taken = session.execute(text(_TAKE_STALE), {"n": limit}).scalars().all()
    ids = sorted(set(taken))
    if ids:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(text(_REFRESH[dialect]), [{"id": i} for i in ids])
        else:
            session.execute(text(_REFRESH[dialect]), {"ids": ids})
    return len(taken)
