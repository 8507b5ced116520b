"""The index of uploaded artifact bundles: the zip files stay on disk (`storage.py`), the database says which
bundle holds the file for a debug id, or for a release and URL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, UTCDateTime, utcnow


class ArtifactBundle(Base):
    """One assembled bundle of one project (sentry-cli `sourcemaps upload`)."""

    __tablename__ = "artifact_bundles"
    __table_args__ = (Index("ix_artifact_bundles_project_created", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # SHA-1 of the zip, as sentry-cli names it: uploading the same bundle again is a no-op.
    checksum: Mapped[str] = mapped_column(String(40))
    # Relative to the source map folder (Settings.sourcemaps_path).
    path: Mapped[str] = mapped_column(String(500))
    release: Mapped[str | None] = mapped_column(String(200))
    dist: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    file_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArtifactFile(Base):
    """A minified source or source map inside a bundle, found by its debug id or by release + URL."""

    __tablename__ = "artifact_files"
    __table_args__ = (
        Index("ix_artifact_files_debug_id", "project_id", "debug_id", "file_type"),
        Index("ix_artifact_files_release_url", "project_id", "release", "url"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("artifact_bundles.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(Integer)
    file_type: Mapped[str] = mapped_column(String(30))  # minified_source | source_map | source | ...
    debug_id: Mapped[str | None] = mapped_column(String(36))  # lowercase UUID with dashes
    release: Mapped[str | None] = mapped_column(String(200))
    dist: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(2000))  # "~/static/app.js" or a full URL
    zip_path: Mapped[str] = mapped_column(String(2000))  # the entry inside the bundle's zip
    sourcemap: Mapped[str | None] = mapped_column(String(2000))  # the file's "Sourcemap" header, if any


class SourcemapRetention(Base):
    """A project's own retention, where it differs from the settings' defaults."""

    __tablename__ = "sourcemap_retention"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    keep_bundles: Mapped[int | None] = mapped_column(Integer)
    keep_days: Mapped[int | None] = mapped_column(Integer)
