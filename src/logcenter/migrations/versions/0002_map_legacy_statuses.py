"""Map statuses of the old nine-state design onto the six states.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Databases carried over from the nine-state design keep their rows; this rewrites their statuses (and the
history's) the way shared/ARCHITECTURE.md says. Not reversible: the old states carried no extra information.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LEGACY = {
    "VERIFYING": "NEW",
    "PENDING_FIX": "NEW",
    "FIX_FAILED": "FAILED",
    "CANNOT_REPRODUCE": "FAILED",
    "FIXED": "PENDING_REVIEW",
    "VERIFIED": "MERGED",
}


def upgrade() -> None:
    for old, new in LEGACY.items():
        params = {"old": old, "new": new}
        op.execute(sa.text("UPDATE bugs SET status = :new WHERE status = :old").bindparams(**params))
        op.execute(
            sa.text("UPDATE bug_events SET from_status = :new WHERE from_status = :old").bindparams(**params)
        )
        op.execute(
            sa.text("UPDATE bug_events SET to_status = :new WHERE to_status = :old").bindparams(**params)
        )


def downgrade() -> None:
    pass
