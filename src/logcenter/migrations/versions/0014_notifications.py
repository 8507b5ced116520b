"""Notification channels, their delivery log, the users' inbox (message centre), and the cursor of the
history outbox (started at the end of the existing history, so an upgrade does not announce old events);
review policies (designated reviewers, auto-merge) and their decisions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url_sealed", sa.Text(), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("smtp", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("min_level", sa.String(length=20), nullable=True),
        sa.Column("environments", sa.Text(), nullable=False),
        sa.Column("throttle_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_notification_channels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
    )
    op.create_index(
        op.f("ix_notification_channels_project_id"), "notification_channels", ["project_id"], unique=False
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("event_kind", sa.String(length=20), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=True),
        sa.Column("bug_event_id", sa.Integer(), nullable=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name=op.f("fk_notification_deliveries_channel_id_notification_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        "ix_notification_deliveries_channel_id_id",
        "notification_deliveries",
        ["channel_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_notification_deliveries_throttle",
        "notification_deliveries",
        ["channel_id", "bug_id", "event_kind", "event_at"],
        unique=False,
    )
    op.create_table(
        "merge_policies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("max_lines", sa.Integer(), nullable=False),
        sa.Column("max_files", sa.Integer(), nullable=False),
        sa.Column("allowed_paths", sa.Text(), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("require_checks", sa.Boolean(), nullable=False),
        sa.Column("reviewers", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_merge_policies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_merge_policies")),
    )
    op.create_table(
        "merge_decisions",
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_merge_decisions_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bug_id", "head_sha", name=op.f("pk_merge_decisions")),
    )
    op.create_table(
        "review_requests",
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("reviewers", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_review_requests_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bug_id", "pr_number", name=op.f("pk_review_requests")),
    )
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=True),
        sa.Column("bug_event_id", sa.Integer(), nullable=True),
        sa.Column("event_kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_inbox_items_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_inbox_items_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_items")),
    )
    op.create_index("ix_inbox_items_user_id_id", "inbox_items", ["user_id", "id"], unique=False)
    op.create_index("ix_inbox_items_user_id_read_at", "inbox_items", ["user_id", "read_at"], unique=False)
    op.create_index(op.f("ix_inbox_items_bug_id"), "inbox_items", ["bug_id"], unique=False)
    cursors = op.create_table(
        "notification_cursors",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_cursors")),
    )
    last = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM bug_events")).scalar_one()
    op.execute(cursors.insert().values(name="bug_events", last_event_id=last, updated_at=sa.func.now()))


def downgrade() -> None:
    op.drop_table("notification_cursors")
    op.drop_table("review_requests")
    op.drop_table("merge_decisions")
    op.drop_table("merge_policies")
    op.drop_index(op.f("ix_inbox_items_bug_id"), table_name="inbox_items")
    op.drop_index("ix_inbox_items_user_id_read_at", table_name="inbox_items")
    op.drop_index("ix_inbox_items_user_id_id", table_name="inbox_items")
    op.drop_table("inbox_items")
    op.drop_index("ix_notification_deliveries_throttle", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_channel_id_id", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index(op.f("ix_notification_channels_project_id"), table_name="notification_channels")
    op.drop_table("notification_channels")
