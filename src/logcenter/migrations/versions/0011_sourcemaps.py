"""Artifact bundles of source maps (sentry-cli uploads), the index of their files, per-project retention.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_bundles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(40), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("release", sa.String(200), nullable=True),
        sa.Column("dist", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_artifact_bundles_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_bundles")),
    )
    op.create_index("ix_artifact_bundles_project_created", "artifact_bundles", ["project_id", "created_at"])
    op.create_table(
        "artifact_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("file_type", sa.String(30), nullable=False),
        sa.Column("debug_id", sa.String(36), nullable=True),
        sa.Column("release", sa.String(200), nullable=True),
        sa.Column("dist", sa.String(64), nullable=True),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("zip_path", sa.String(2000), nullable=False),
        sa.Column("sourcemap", sa.String(2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["artifact_bundles.id"],
            name=op.f("fk_artifact_files_bundle_id_artifact_bundles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_files")),
    )
    op.create_index(op.f("ix_artifact_files_bundle_id"), "artifact_files", ["bundle_id"])
    op.create_index("ix_artifact_files_debug_id", "artifact_files", ["project_id", "debug_id", "file_type"])
    op.create_index("ix_artifact_files_release_url", "artifact_files", ["project_id", "release", "url"])
    op.create_table(
        "sourcemap_retention",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("keep_bundles", sa.Integer(), nullable=True),
        sa.Column("keep_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_sourcemap_retention_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_sourcemap_retention")),
    )


def downgrade() -> None:
    op.drop_table("sourcemap_retention")
    op.drop_table("artifact_files")
    op.drop_table("artifact_bundles")
