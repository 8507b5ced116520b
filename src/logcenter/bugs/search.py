"""Text search over bugs: a substring of the error type, the message (the latest report's) or the file path,
in any case, read from a trigram index when that is faster than a LIKE over the bugs.

The index is the `bug_search` table (migration 0017): on SQLite an FTS5 table with the trigram tokenizer,
where a quoted phrase matches exactly the rows that contain it as a substring; on PostgreSQL a table with a
pg_trgm GIN index, which serves ILIKE '%...%'. A trigger adds a bug's row when the bug is inserted. When the
ingest counter changes a bug's latest message it notes the bug in stale_search_rows, and the
`bugs.search_refresh` job (every REFRESH_SECONDS) re-indexes the bugs noted (`refresh_stale`): the counter
does not pay for the index on every changed message, and a bug whose message changes with every report is
re-indexed once per run, not once per report. Until then a search finds a bug by its previous message.

Which way a search goes (`use_index`): a text of three characters or more that at most PROBE_CAP bugs contain
is read from the index; a shorter one (a trigram index cannot serve it) or a common one (every ordered page
of the LIKE scan then fills after a few rows, while the index would list every match for each query of the
page) is a LIKE over the bugs, as before the index. Both ways find the same bugs: case is folded as each
database's LIKE folds it (SQLite: ASCII letters only, so the SQLite index holds the texts with ASCII letters
lowered and is case-sensitive; PostgreSQL's ILIKE: every letter).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Dialect, String, TypeDecorator, bindparam, or_, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.visitors import InternalTraversal

from logcenter.bugs.models import Bug

MIN_INDEXED = 3  # characters: the shortest text a trigram index serves
# More matches than this: the LIKE scan (see above). Counting them up to here costs ~1 ms.
PROBE_CAP = 1000
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _needle(value: str, dialect: str) -> str:
    """The text as each dialect's index takes it: an FTS5 phrase ("..." with its quotes doubled: the text's
    trigrams in a row, that is, the text as a substring; ASCII letters lowered as the index holds them), or
    an ILIKE pattern."""
    if dialect == "sqlite":
        return '"' + value.translate(_ASCII_LOWER).replace('"', '""') + '"'
    return _like(value)


class _Needle(TypeDecorator[str]):
    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _needle(value, dialect.name)


class _Indexed(ColumnElement[Any]):
    """`id IN (the ids of bug_search's rows that contain the text)`, in each dialect's own terms; the text is
    an ordinary bound parameter, which the statement cache keys on. (Not typed Boolean: SQLAlchemy would
    append `= 1` in a WHERE on SQLite.)"""

    inherit_cache = True
    _traverse_internals = [
        ("id_column", InternalTraversal.dp_clauseelement),
        ("needle", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, id_column: ColumnElement[int] | InstrumentedAttribute[int], value: str) -> None:
        self.id_column = id_column
        self.needle = bindparam(None, value, type_=_Needle(), unique=True)


@compiles(_Indexed, "sqlite")
def _sqlite(element: _Indexed, compiler: Any, **kw: Any) -> str:
    ids, needle = compiler.process(element.id_column, **kw), compiler.process(element.needle, **kw)
    return f"{ids} IN (SELECT rowid FROM bug_search WHERE bug_search MATCH {needle})"


@compiles(_Indexed, "postgresql")
def _postgresql(element: _Indexed, compiler: Any, **kw: Any) -> str:
    ids, needle = compiler.process(element.id_column, **kw), compiler.process(element.needle, **kw)
    return f"{ids} IN (SELECT bug_id FROM bug_search WHERE {_POSTGRES_TERMS.format(needle=needle)})"


_POSTGRES_TERMS = " OR ".join(f"{c} ILIKE {{needle}}" for c in ("error_type", "message", "file_path"))
_PROBE = {
    "sqlite": "SELECT count(*) FROM (SELECT 1 FROM bug_search WHERE bug_search MATCH :needle LIMIT :cap)",
    "postgresql": "SELECT count(*) FROM (SELECT 1 FROM bug_search WHERE"
    f" {_POSTGRES_TERMS.format(needle=':needle')} LIMIT :cap) AS m",
}


def use_index(session: Session, value: str) -> bool:
    """Whether a search for `value` reads the index (see above). Remembered for the session: the board asks
    for each of its queries, and either answer finds the same bugs."""
    if len(value) < MIN_INDEXED:
        return False
    known: dict[str, bool] = session.info.setdefault("bug_search.use_index", {})
    if value not in known:
        dialect = session.get_bind().dialect.name
        params = {"needle": _needle(value, dialect), "cap": PROBE_CAP + 1}
        known[value] = (session.scalar(text(_PROBE[dialect]), params) or 0) <= PROBE_CAP
    return known[value]


def matches(value: str, *, indexed: bool) -> ColumnElement[Any]:
    """The condition on `bugs` that a bug's type, message or file path contains `value` (any case): through
    the index, or a LIKE over the bugs' own columns (`use_index` says which)."""
    if indexed:
        return _Indexed(Bug.id, value)
    pattern = _like(value)
    return or_(*(c.ilike(pattern, escape="\\") for c in (Bug.error_type, Bug.message, Bug.file_path)))


REFRESH_BATCH = 2000  # stale rows a refresh takes at once (one short write transaction)
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
