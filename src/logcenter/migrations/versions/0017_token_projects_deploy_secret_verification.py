"""API tokens restricted to projects (`api_tokens.projects`: a JSON list of project ids, NULL = every project,
as every token was before), and a per-project deployment secret for `POST /api/webhooks/deployment`
(`projects.deployment_secret_encrypted`, encrypted as the forge webhook secret is), and the repair agent's
structured verification of a fix (`repair_attempts.verification`, JSON; NULL in older reports).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns added in place: on SQLite a batch copy of `projects` would delete its bugs by cascade.
    op.add_column("api_tokens", sa.Column("projects", sa.Text(), nullable=True))
    op.add_column("projects", sa.Column("deployment_secret_encrypted", sa.Text(), nullable=True))
    op.add_column("repair_attempts", sa.Column("verification", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("repair_attempts", "verification")
    op.drop_column("projects", "deployment_secret_encrypted")
    op.drop_column("api_tokens", "projects")
