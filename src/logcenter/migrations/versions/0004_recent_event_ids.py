"""Repeated Sentry event ids are recognised by the ingest writer, not by a unique index on occurrences.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The unique (project_id, event_id) index cost every stored Sentry event a random index page, and every pruned
one another: a quarter of the writer's time per event (bench/README.md, eighth session). The writer now keeps
the last event ids in memory and in `recent_event_ids`, an append-only table it reads back when it starts
(ingest/events.py). The table starts with the newest event ids already stored, so events that SDKs retry
across the upgrade are still recognised. On SQLite, dropping the constraint copies the occurrences table once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# LOGCENTER_SENTRY_DEDUP_WINDOW's default: how many stored event ids the new table starts with.
_WINDOW = 100_000


def upgrade() -> None:
    op.create_table(
        "recent_event_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_recent_event_ids_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recent_event_ids")),
    )
    op.execute(
        "INSERT INTO recent_event_ids (project_id, event_id, bug_id) SELECT project_id, event_id, bug_id"
        " FROM (SELECT id, project_id, event_id, bug_id FROM occurrences WHERE event_id IS NOT NULL"
        f" ORDER BY id DESC LIMIT {_WINDOW}) AS newest ORDER BY id"
    )
    with _keeping_the_backlog(), op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_occurrences_project_id_event_id"), type_="unique")


def downgrade() -> None:
    # Fails if the same event id was stored twice for a project since the upgrade (after its window).
    with _keeping_the_backlog(), op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            op.f("uq_occurrences_project_id_event_id"), ["project_id", "event_id"]
        )
    op.drop_table("recent_event_ids")


@contextlib.contextmanager
def _keeping_the_backlog() -> Iterator[None]:
    """SQLite changes a constraint by copying the table and dropping the old one; with foreign keys on, that
    drop deletes the old rows and so cascades to `uncounted_occurrences`, the writer's backlog of reports not
    yet counted. Keep its rows aside meanwhile (the copy keeps the occurrences' ids)."""
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    op.execute("CREATE TEMP TABLE uncounted_0004 AS SELECT occurrence_id FROM uncounted_occurrences")
    yield
    op.execute("INSERT INTO uncounted_occurrences (occurrence_id) SELECT occurrence_id FROM uncounted_0004")
    op.execute("DROP TABLE uncounted_0004")
