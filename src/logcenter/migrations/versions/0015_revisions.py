"""Revised fixes from review comments: the revision counter and the pending-revision marker of a bug, the
revision a repair report answers, and a project's own revision trigger and limit (in its review policy).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # op.add_column in place: a batch copy of `bugs` would cascade-delete its child rows on SQLite.
    op.add_column("bugs", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("bugs", sa.Column("revision_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("repair_attempts", sa.Column("revision", sa.Integer(), nullable=True))
    op.add_column("merge_policies", sa.Column("revision_trigger", sa.String(100), nullable=True))
    op.add_column("merge_policies", sa.Column("max_revisions", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): no batch copy of `bugs`.
    op.drop_column("merge_policies", "max_revisions")
    op.drop_column("merge_policies", "revision_trigger")
    op.drop_column("repair_attempts", "revision")
    op.drop_column("bugs", "revision_requested_at")
    op.drop_column("bugs", "revision")
