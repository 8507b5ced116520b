"""The fields that go with each bug state (who merged, where it was deployed, the PR's head sha), a link on
history rows, and the job table of the background worker.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

QUEUED_ONLY = sa.text("state = 'queued'")


def upgrade() -> None:
    op.add_column("bugs", sa.Column("head_sha", sa.String(64), nullable=True))
    op.add_column("bugs", sa.Column("merged_by", sa.String(200), nullable=True))
    op.add_column("bugs", sa.Column("deployed_environment", sa.String(64), nullable=True))
    op.add_column("bug_events", sa.Column("link", sa.String(2000), nullable=True))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])
    op.create_index("ix_jobs_state_locked_until", "jobs", ["state", "locked_until"])
    op.create_index(op.f("ix_jobs_finished_at"), "jobs", ["finished_at"])
    op.create_index(
        "uq_jobs_dedupe_key_queued",
        "jobs",
        ["dedupe_key"],
        unique=True,
        sqlite_where=QUEUED_ONLY,
        postgresql_where=QUEUED_ONLY,
    )


def downgrade() -> None:
    op.drop_table("jobs")
    # ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch copy of `bugs` would drop the old table,
    # and with foreign keys on that deletes every occurrence and history row.
    op.drop_column("bug_events", "link")
    for column in ("deployed_environment", "merged_by", "head_sha"):
        op.drop_column("bugs", column)
