"""projects.repo_url_confirmed: a repo_url that came from an error report (reports need no login) is only a
suggestion until an admin sets it; the repair agent and the forge clients use only confirmed ones. Existing
repo_urls start unconfirmed: nothing says whether an admin or a report set them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "projects",
        sa.Column("repo_url_confirmed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # In place (SQLite 3.35+): a batch copy of `projects` would delete every bug by cascade on SQLite.
    op.drop_column("projects", "repo_url_confirmed")
