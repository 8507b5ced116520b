"""Remember whether a recent event created its bug: a retried REST report (Idempotency-Key) is answered as
the first one was ("Log reported" or "Log deduplicated").

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "recent_event_ids",
        sa.Column("created", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("recent_event_ids") as batch:
        batch.drop_column("created")
