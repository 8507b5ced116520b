"""Per-project settings of the repair agent (fixer, diff limits, test patterns, regression-test requirement,
time and spend limits), one JSON object on the project.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("agent_settings", sa.Text(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy: on SQLite, dropping the old `projects`
    # table would delete every bug and occurrence by cascade.
    op.drop_column("projects", "agent_settings")
