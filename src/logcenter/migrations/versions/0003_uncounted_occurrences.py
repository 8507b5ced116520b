"""The ingest writer's backlog of occurrences not yet added to their bugs' counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Occurrences stored before this revision were counted when they were stored: the backlog starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uncounted_occurrences",
        sa.Column("occurrence_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["occurrences.id"],
            name=op.f("fk_uncounted_occurrences_occurrence_id_occurrences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("occurrence_id", name=op.f("pk_uncounted_occurrences")),
    )


def downgrade() -> None:
    op.drop_table("uncounted_occurrences")
