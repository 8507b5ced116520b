"""Per-project data scrubbing rules (more sensitive fields, safe fields, IP addresses, on/off): one JSON
object on the project, as its agent settings are (0009).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column added in place: on SQLite a batch copy of `projects` would delete its bugs by cascade.
    op.add_column("projects", sa.Column("scrubbing", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("projects", "scrubbing")
