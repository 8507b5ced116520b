"""An index on (status, first_seen, id): the bug lists sorted by first_seen read one ordered range per status,
merged (bugs/listing.py), rather than sorting every match (231 ms on SQLite at 100,000 bugs, bench/web.py).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bugs_status_first_seen_id", "bugs", ["status", "first_seen", "id"])


def downgrade() -> None:
    op.drop_index("ix_bugs_status_first_seen_id", table_name="bugs")
