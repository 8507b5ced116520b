"""Text search over bugs: a substring of the error type, the message (the latest report's) or the file path,
case-insensitive, read from a trigram index rather than a LIKE over every bug.

The index is the `bug_search` table (migration 0017): on SQLite an FTS5 table with the trigram tokenizer,
where a quoted phrase matches exactly the rows that contain it as a substring; on PostgreSQL a table with a
pg_trgm GIN index, which serves ILIKE '%...%'. A trigger adds a bug's row when the bug is inserted; the ingest
counter refreshes its message when the bug's latest message changes (`refresh_sql`). A trigram index cannot
serve a text shorter than three characters: such a search is a LIKE over the bugs, as before the index.

Case: SQLite's LIKE folds ASCII letters only; its trigram index folds other letters too ("é" finds "É"), as
PostgreSQL's ILIKE does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, Dialect, String, TypeDecorator, bindparam, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from logcenter.bugs.models import Bug

MIN_INDEXED = 3  # characters: the shortest text a trigram index serves


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Needle(TypeDecorator[str]):
    """The searched text as each dialect's index takes it: an FTS5 phrase ("..." with its quotes doubled:
    the text's trigrams in a row, that is, the text as a substring) or an ILIKE pattern."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return '"' + value.replace('"', '""') + '"'
        return _like(value)


class _Indexed(ColumnElement[bool]):
    """`id IN (the ids of bug_search's rows that contain the text)`, in each dialect's own terms; the text is
    an ordinary bound parameter, which the statement cache keys on."""

    inherit_cache = True
    _traverse_internals = [
        ("id_column", InternalTraversal.dp_clauseelement),
        ("needle", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()

    def __init__(self, id_column: ColumnElement[int], text: str) -> None:
        self.id_column = id_column
        self.needle = bindparam(None, text, type_=_Needle(), unique=True)


@compiles(_Indexed, "sqlite")
def _sqlite(element: _Indexed, compiler: Any, **kw: Any) -> str:
    ids, needle = compiler.process(element.id_column, **kw), compiler.process(element.needle, **kw)
    return f"{ids} IN (SELECT rowid FROM bug_search WHERE bug_search MATCH {needle})"


@compiles(_Indexed, "postgresql")
def _postgresql(element: _Indexed, compiler: Any, **kw: Any) -> str:
    ids, needle = compiler.process(element.id_column, **kw), compiler.process(element.needle, **kw)
    terms = " OR ".join(f"{c} ILIKE {needle}" for c in ("error_type", "message", "file_path"))
    return f"{ids} IN (SELECT bug_id FROM bug_search WHERE {terms})"


def matches(text: str) -> ColumnElement[bool]:
    """The condition on `bugs` that a bug's type, message or file path contains `text` (any case)."""
    if len(text) >= MIN_INDEXED:
        return _Indexed(Bug.id, text)
    pattern = _like(text)
    return or_(*(c.ilike(pattern, escape="\\") for c in (Bug.error_type, Bug.message, Bug.file_path)))


# The ingest counter's refresh, after it updated these bugs: the message of each one whose latest message is
# not the one indexed (usually none: a bug's reports mostly repeat its message). SQLite: per bug, `?1` its id.
REFRESH_SQLITE = (
    "UPDATE bug_search SET message = (SELECT message FROM bugs WHERE id = ?1)"
    " WHERE rowid = ?1 AND message IS NOT (SELECT message FROM bugs WHERE id = ?1)"
)
REFRESH_POSTGRES = (
    "UPDATE bug_search AS s SET message = b.message FROM bugs AS b"
    " WHERE b.id IN ({ids}) AND s.bug_id = b.id AND s.message IS DISTINCT FROM b.message"
)
