"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:51:40.047076
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("repo_url", sa.String(length=500), nullable=True),
        sa.Column("local_path", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_branch", sa.String(length=200), nullable=True),
        sa.Column("test_command", sa.String(length=2000), nullable=True),
        sa.Column("ingest_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("ingest_key", name=op.f("uq_projects_ingest_key")),
        sa.UniqueConstraint("slug", name=op.f("uq_projects_slug")),
    )
    op.create_table(
        "bugs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("error_type", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("file_path", sa.String(length=1024), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("stack_trace", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("commit_hash", sa.String(length=64), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("occurrence_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("pr_url", sa.String(length=500), nullable=True),
        sa.Column("branch_name", sa.String(length=200), nullable=True),
        sa.Column("merge_commit_sha", sa.String(length=64), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deployed_version", sa.String(length=200), nullable=True),
        sa.Column("deployed_commit", sa.String(length=64), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_bugs_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bugs")),
        sa.UniqueConstraint("project_id", "fingerprint", name=op.f("uq_bugs_project_id_fingerprint")),
    )
    with op.batch_alter_table("bugs", schema=None) as batch_op:
        batch_op.create_index("ix_bugs_last_seen", ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_bugs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bugs_lease_expires_at"), ["lease_expires_at"], unique=False)
        batch_op.create_index("ix_bugs_project_status", ["project_id", "status"], unique=False)
        batch_op.create_index("ix_bugs_status_last_seen", ["status", "last_seen"], unique=False)

    op.create_table(
        "bug_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_bug_events_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bug_events")),
    )
    with op.batch_alter_table("bug_events", schema=None) as batch_op:
        batch_op.create_index("ix_bug_events_bug_id_id", ["bug_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bug_events_created_at"), ["created_at"], unique=False)

    op.create_table(
        "bug_hourly_counts",
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_bug_hourly_counts_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bug_id", "hour", name=op.f("pk_bug_hourly_counts")),
    )
    with op.batch_alter_table("bug_hourly_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bug_hourly_counts_hour"), ["hour"], unique=False)

    op.create_table(
        "bug_tag_values",
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_bug_tag_values_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bug_id", "key", "value", name=op.f("pk_bug_tag_values")),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("commit_hash", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("stack_trace", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_occurrences_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_occurrences_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
        sa.UniqueConstraint("project_id", "event_id", name=op.f("uq_occurrences_project_id_event_id")),
    )
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_index("ix_occurrences_bug_id_id", ["bug_id", "id"], unique=False)

    op.create_table(
        "repair_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("agent", sa.String(length=200), nullable=True),
        sa.Column("fixer", sa.String(length=200), nullable=True),
        sa.Column("analysis", sa.Text(), nullable=True),
        sa.Column("modified_files", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.Column("test_passed", sa.Boolean(), nullable=True),
        sa.Column("test_output", sa.Text(), nullable=True),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("pr_url", sa.String(length=500), nullable=True),
        sa.Column("branch_name", sa.String(length=200), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("durations", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bugs.id"], name=op.f("fk_repair_attempts_bug_id_bugs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repair_attempts")),
    )
    with op.batch_alter_table("repair_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_repair_attempts_bug_id_id", ["bug_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_repair_attempts_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repair_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_attempts_created_at"))
        batch_op.drop_index("ix_repair_attempts_bug_id_id")

    op.drop_table("repair_attempts")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_index("ix_occurrences_bug_id_id")

    op.drop_table("occurrences")
    op.drop_table("bug_tag_values")
    with op.batch_alter_table("bug_hourly_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bug_hourly_counts_hour"))
    op.drop_table("bug_hourly_counts")
    with op.batch_alter_table("bug_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bug_events_created_at"))
        batch_op.drop_index("ix_bug_events_bug_id_id")

    op.drop_table("bug_events")
    with op.batch_alter_table("bugs", schema=None) as batch_op:
        batch_op.drop_index("ix_bugs_status_last_seen")
        batch_op.drop_index("ix_bugs_project_status")
        batch_op.drop_index(batch_op.f("ix_bugs_lease_expires_at"))
        batch_op.drop_index("ix_bugs_last_seen")
        batch_op.drop_index(batch_op.f("ix_bugs_created_at"))

    op.drop_table("bugs")
    op.drop_table("projects")
    op.drop_table("api_tokens")
