"""A trigram index of each bug's type, message and file (bugs/search.py): the board's text search reads it
instead of a LIKE over every bug.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+), row id = bug id. PostgreSQL: a table with a
GIN index of pg_trgm, when the extension is installed or can be (it is then created in `public`, so that
dropping one schema of a shared database cannot drop it under another); without it the table is still kept
and searched, only without that index. A row is added by a trigger when a bug is inserted (rare: the first
report of a fingerprint), and its message is refreshed by the ingest counter (ingest/counting.py) when the
bug's latest message changed: no trigger on the UPDATE the counter runs for every counted bug.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

_SQLITE = [
    "CREATE VIRTUAL TABLE bug_search USING fts5(error_type, message, file_path, tokenize='trigram')",
    "INSERT INTO bug_search (rowid, error_type, message, file_path)"
    " SELECT id, error_type, message, file_path FROM bugs",
    "CREATE TRIGGER bug_search_insert AFTER INSERT ON bugs BEGIN"
    " INSERT INTO bug_search (rowid, error_type, message, file_path)"
    " VALUES (new.id, new.error_type, new.message, new.file_path); END",
    # Bugs go only with their project (a cascade, which fires this trigger too).
    "CREATE TRIGGER bug_search_delete AFTER DELETE ON bugs BEGIN"
    " DELETE FROM bug_search WHERE rowid = old.id; END",
]
_POSTGRES = [
    "CREATE TABLE bug_search (bug_id integer PRIMARY KEY REFERENCES bugs (id) ON DELETE CASCADE,"
    " error_type varchar(300) NOT NULL, message text NOT NULL, file_path varchar(1024))",
    "INSERT INTO bug_search (bug_id, error_type, message, file_path)"
    " SELECT id, error_type, message, file_path FROM bugs",
    # Once per INSERT statement, with all its new rows: the writer inserts a batch's new bugs in one.
    # Its search path is the migration's (the schema of `bugs`), whatever the inserting session's.
    "CREATE FUNCTION bug_search_insert() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT"
    " AS $$ BEGIN"
    " INSERT INTO bug_search (bug_id, error_type, message, file_path)"
    " SELECT id, error_type, message, file_path FROM new_bugs; RETURN NULL; END $$",
    "CREATE TRIGGER bug_search_insert AFTER INSERT ON bugs REFERENCING NEW TABLE AS new_bugs"
    " FOR EACH STATEMENT EXECUTE FUNCTION bug_search_insert()",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for statement in _SQLITE:
            op.execute(statement)
        return
    for statement in _POSTGRES:
        op.execute(statement)
    schema = _trigram_schema(bind)
    if schema is None:
        log.warning("pg_trgm is not available: the bug search works without its index (a scan)")
        return
    ops = f'"{schema}".gin_trgm_ops'
    op.execute(
        f"CREATE INDEX ix_bug_search_trgm ON bug_search USING gin (error_type {ops}, message {ops},"
        f" file_path {ops})"
    )


def _trigram_schema(bind) -> str | None:  # type: ignore[no-untyped-def]
    """The schema of pg_trgm, creating the extension if it is missing and may be created; else None."""
    find = text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_trgm'"
    )
    schema = bind.execute(find).scalar()
    if schema is not None:
        return str(schema)
    for statement in ("CREATE EXTENSION pg_trgm SCHEMA public", "CREATE EXTENSION pg_trgm"):
        try:
            with bind.begin_nested():
                bind.execute(text(statement))
        except Exception as exc:  # not installed on the server, no privilege, or created meanwhile
            log.info("bug search: %s failed: %s", statement, exc)
        schema = bind.execute(find).scalar()
        if schema is not None:
            return str(schema)
    return None


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER bug_search_delete")
        op.execute("DROP TRIGGER bug_search_insert")
        op.execute("DROP TABLE bug_search")
        return
    op.execute("DROP TRIGGER bug_search_insert ON bugs")
    op.execute("DROP FUNCTION bug_search_insert()")
    op.execute("DROP TABLE bug_search")  # the extension stays: other tables may use it
