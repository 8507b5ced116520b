"""Project forge settings (forge, API URL, repository, encrypted token and webhook secret, merge style) and
the webhook_deliveries table that makes redelivered webhooks change nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from logcenter.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch copy: on SQLite, dropping the old `projects` table with foreign keys on
    # would delete every bug of every project (ON DELETE CASCADE).
    op.add_column("projects", sa.Column("forge", sa.String(20), nullable=True))
    op.add_column("projects", sa.Column("forge_url", sa.String(500), nullable=True))
    op.add_column("projects", sa.Column("forge_repo", sa.String(300), nullable=True))
    op.add_column("projects", sa.Column("forge_token_encrypted", sa.Text(), nullable=True))
    op.add_column("projects", sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True))
    op.add_column("projects", sa.Column("merge_style", sa.String(20), nullable=True))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(500), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("source", "delivery_id", name="uq_webhook_deliveries_source_delivery_id"),
    )
    op.create_index("ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_received_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as above.
    for column in (
        "merge_style",
        "webhook_secret_encrypted",
        "forge_token_encrypted",
        "forge_repo",
        "forge_url",
        "forge",
    ):
        op.drop_column("projects", column)
