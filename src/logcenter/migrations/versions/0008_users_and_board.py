"""Web UI accounts and sessions, and the indexes the board's status filter, order and stat cards read.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_web_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    # The board orders by (last_seen, id) and pages by a cursor on both: with id in the index no sort is
    # needed, however many bugs share a last_seen.
    op.drop_index("ix_bugs_status_last_seen", table_name="bugs")
    op.create_index("ix_bugs_status_last_seen_id", "bugs", ["status", "last_seen", "id"])
    op.drop_index("ix_bugs_last_seen", table_name="bugs")
    op.create_index("ix_bugs_last_seen_id", "bugs", ["last_seen", "id"])
    # The board's "today" stat cards: bugs that entered a status since midnight, per status.
    op.create_index("ix_bugs_status_status_changed_at", "bugs", ["status", "status_changed_at"])
    # The board's project filter sorted by last seen.
    op.create_index("ix_bugs_project_id_last_seen_id", "bugs", ["project_id", "last_seen", "id"])


def downgrade() -> None:
    op.drop_index("ix_bugs_project_id_last_seen_id", table_name="bugs")
    op.drop_index("ix_bugs_status_status_changed_at", table_name="bugs")
    op.drop_index("ix_bugs_last_seen_id", table_name="bugs")
    op.create_index("ix_bugs_last_seen", "bugs", ["last_seen"])
    op.drop_index("ix_bugs_status_last_seen_id", table_name="bugs")
    op.create_index("ix_bugs_status_last_seen", "bugs", ["status", "last_seen"])
    op.drop_table("web_sessions")
    op.drop_table("users")
