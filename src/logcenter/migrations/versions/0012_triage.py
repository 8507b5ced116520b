"""Triage: ignoring a bug (forever, for a while, until it recurs N times), its assignee, and the bug a
duplicate was merged into.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (
    ("ignored_at", sa.DateTime(timezone=True)),
    ("ignored_by", sa.String(200)),
    ("ignore_until", sa.DateTime(timezone=True)),
    ("ignore_until_count", sa.Integer()),
    ("ignore_start_count", sa.Integer()),
    ("assignee", sa.String(200)),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("bugs", sa.Column(name, type_, nullable=True))
    # No foreign key (bugs/models.py says why): SQLite adds one only by copying the table.
    op.add_column("bugs", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_bugs_merged_into_id"), "bugs", ["merged_into_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bugs_merged_into_id"), table_name="bugs")
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch copy of `bugs` would drop the old table,
    # and with foreign keys on that deletes every occurrence and history row.
    for name in ("merged_into_id", *reversed([c for c, _ in COLUMNS])):
        op.drop_column("bugs", name)
