"""What the board and the stats page read, so that they stay fast at 100,000 bugs (bench/web.py):

- bug_search, a trigram index of each bug's type, message and file (bugs/search.py), for the text search;
- project_daily_counts, occurrences per project and day, added by the ingest counter and summed by a job,
  for the stats series;
- indexes that serve the board's counts and the stats page's per-project table and fixes from the index alone.

bug_search:
SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+), row id = bug id, of the texts with their
ASCII letters lowered. PostgreSQL: a table with a
GIN index of pg_trgm, when the extension is installed or can be (it is then created in `public`, so that
dropping one schema of a shared database cannot drop it under another); without it the table is still kept
and searched, only without that index. A row is added by a trigger when a bug is inserted (rare: the first
report of a fingerprint); when the ingest counter changes a bug's latest message it notes the bug in
stale_search_rows, and a job re-indexes it: no trigger on the UPDATE the counter runs for every counted bug.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection, text

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

_SQLITE = [
    # Case-sensitive over texts with their ASCII letters lowered: case is folded as SQLite's LIKE folds it.
    "CREATE VIRTUAL TABLE bug_search USING fts5(error_type, message, file_path,"
    " tokenize='trigram case_sensitive 1')",
    "INSERT INTO bug_search (rowid, error_type, message, file_path)"
    " SELECT id, lower(error_type), lower(message), lower(file_path) FROM bugs",
    "CREATE TRIGGER bug_search_insert AFTER INSERT ON bugs BEGIN"
    " INSERT INTO bug_search (rowid, error_type, message, file_path)"
    " VALUES (new.id, lower(new.error_type), lower(new.message), lower(new.file_path)); END",
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
    _indexes()
    _daily_counts()
    _search()


def _indexes() -> None:
    # Wider versions of two indexes of 0008, and new ones.
    # On SQLite none of them is touched when the ingest counter updates a bug (it sets none of their
    # columns); on PostgreSQL every index of `bugs` is (the UPDATE changes last_seen: never a HOT update).
    op.drop_index("ix_bugs_status_last_seen_id", table_name="bugs")
    op.create_index(
        "ix_bugs_status_last_seen_id", "bugs", ["status", "last_seen", "id", "merged_into_id", "ignored_at"]
    )
    op.drop_index("ix_bugs_project_status", table_name="bugs")
    op.create_index(
        "ix_bugs_project_status_listed",
        "bugs",
        ["project_id", "status", "merged_into_id", "ignored_at", "status_changed_at"],
    )
    op.create_index("ix_bugs_project_id_created_at", "bugs", ["project_id", "created_at"])
    op.create_index(
        "ix_bug_events_to_status_created_at",
        "bug_events",
        ["to_status", "created_at", "from_status", "kind", "bug_id"],
    )
    op.create_index(
        "ix_bug_events_bug_id_to_status_created_at",
        "bug_events",
        ["bug_id", "to_status", "created_at", "from_status"],
    )


def _daily_counts() -> None:
    op.create_table(
        "project_daily_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_daily_counts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_daily_counts")),
    )
    # The UTC day of each hour: SQLite stores UTC text, PostgreSQL a timestamptz (in the session's zone).
    day = (
        "date(h.hour)" if op.get_bind().dialect.name != "postgresql" else "(h.hour AT TIME ZONE 'UTC')::date"
    )
    op.execute(
        f"INSERT INTO project_daily_counts (project_id, day, count) SELECT b.project_id, {day}, sum(h.count)"
        f" FROM bug_hourly_counts AS h JOIN bugs AS b ON b.id = h.bug_id GROUP BY b.project_id, {day}"
    )


def _search() -> None:
    op.create_table(
        "stale_search_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stale_search_rows")),
    )
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


def _trigram_schema(bind: Connection) -> str | None:
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
    else:
        op.execute("DROP TRIGGER bug_search_insert ON bugs")
        op.execute("DROP FUNCTION bug_search_insert()")
        op.execute("DROP TABLE bug_search")  # the extension stays: other tables may use it
    op.drop_table("stale_search_rows")
    op.drop_table("project_daily_counts")
    op.drop_index("ix_bug_events_bug_id_to_status_created_at", table_name="bug_events")
    op.drop_index("ix_bug_events_to_status_created_at", table_name="bug_events")
    op.drop_index("ix_bugs_project_id_created_at", table_name="bugs")
    op.drop_index("ix_bugs_project_status_listed", table_name="bugs")
    op.drop_index("ix_bugs_status_last_seen_id", table_name="bugs")
    op.create_index("ix_bugs_status_last_seen_id", "bugs", ["status", "last_seen", "id"])
    op.create_index("ix_bugs_project_status", "bugs", ["project_id", "status"])
