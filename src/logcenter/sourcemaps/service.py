"""Artifact bundles: assembled from sentry-cli's chunks, indexed per project, found for an event, pruned.

The zip stays on disk; the database holds which bundle has the file for a debug id, or for a release + URL.
One zip uploaded for several projects is stored once and indexed for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.errors import BadRequest, NotFound, PayloadTooLarge
from logcenter.projects.models import Project
from logcenter.sourcemaps.bundle import BundleError, Manifest, read_manifest
from logcenter.sourcemaps.models import ArtifactBundle, ArtifactFile, SourcemapRetention
from logcenter.sourcemaps.storage import SHA1, BundleTooLarge, Storage

log = structlog.get_logger(__name__)

# sentry-cli's states (api/data_types/chunking/file_state.rs).
OK, NOT_FOUND, ERROR = "ok", "not_found", "error"
MAX_CHUNKS = 100_000


@dataclass(frozen=True, slots=True)
class Assembled:
    state: str
    missing_chunks: list[str]
    detail: str | None = None

    def body(self) -> dict[str, object]:
        return {"state": self.state, "missingChunks": self.missing_chunks, "detail": self.detail}


def projects_by_slug(session: Session, slugs: list[str]) -> list[Project]:
    """The projects named in an upload; 404 naming the first unknown one."""
    if not slugs:
        raise BadRequest("No project: pass --project <Log Center project slug> to sentry-cli")
    found = {p.slug: p for p in session.scalars(select(Project).where(Project.slug.in_(slugs)))}
    for slug in slugs:
        if slug not in found:
            raise NotFound(f"Project {slug[:100]!r} not found: sentry-cli's --project is the Log Center slug")
    return [found[slug] for slug in dict.fromkeys(slugs)]


def check_checksums(values: object, what: str) -> list[str]:
    if not isinstance(values, list) or len(values) > MAX_CHUNKS:
        raise BadRequest(f"{what} must be a list of SHA-1 checksums")
    checksums = [v.lower() for v in values if isinstance(v, str)]
    if len(checksums) != len(values) or not all(SHA1.fullmatch(c) for c in checksums):
        raise BadRequest(f"{what} must be a list of SHA-1 checksums (40 hex digits)")
    return checksums


@dataclass(frozen=True, slots=True)
class Stored:
    """A bundle joined and read on disk, ready to be indexed."""

    relative: str
    size: int
    manifest: Manifest


def missing_for(
    session: Session,
    storage: Storage,
    projects: list[Project],
    checksum: str,
    chunks: list[str],
    release: str | None,
) -> tuple[list[Project], Assembled | None]:
    """The projects that do not have this bundle yet, and the answer when nothing is to be done now: `ok`
    if every project has it, `not_found` with the chunks still to upload."""
    existing = set(
        session.scalars(
            select(ArtifactBundle.project_id).where(
                ArtifactBundle.checksum == checksum,
                ArtifactBundle.project_id.in_([p.id for p in projects]),
                ArtifactBundle.release.is_(None) if release is None else ArtifactBundle.release == release,
            )
        )
    )
    todo = [p for p in projects if p.id not in existing]
    if not todo:
        return todo, Assembled(OK, [])
    missing = [c for c in dict.fromkeys(chunks) if not storage.has_chunk(c)]
    if missing and not storage.bundle_path(_relative(checksum)).is_file():
        return todo, Assembled(NOT_FOUND, missing)
    return todo, None


def store(storage: Storage, settings: Settings, checksum: str, chunks: list[str]) -> Stored | Assembled:
    """Join the chunks and read the bundle's manifest, outside any transaction (a bundle can be large):
    the bundle, or the `error` answer saying why it cannot be used."""
    try:
        relative, size = storage.assemble(checksum, chunks, max_bytes=settings.sourcemap_max_bundle_bytes)
    except BundleTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except ValueError as exc:
        return Assembled(ERROR, [], str(exc))
    except FileNotFoundError:  # a chunk deleted meanwhile (a concurrent assemble of the same bundle)
        return Assembled(NOT_FOUND, [c for c in chunks if not storage.has_chunk(c)])
    if size > settings.sourcemap_max_bundle_bytes:
        storage.remove(relative)
        raise PayloadTooLarge(
            f"The bundle is {size} bytes; the limit is {settings.sourcemap_max_bundle_bytes}"
        )
    try:
        manifest = read_manifest(storage.bundle_path(relative))
    except BundleError as exc:
        storage.remove(relative)
        return Assembled(ERROR, [], str(exc))
    storage.remove_chunks(chunks)
    return Stored(relative, size, manifest)


def index(
    session: Session,
    stored: Stored,
    *,
    projects: list[Project],
    checksum: str,
    release: str | None,
    dist: str | None,
) -> Assembled:
    """Index a stored bundle for each project, in the caller's (short) write transaction."""
    manifest = stored.manifest
    release = release or manifest.release
    dist = dist or manifest.dist
    for project in projects:
        bundle = ArtifactBundle(
            project_id=project.id,
            checksum=checksum,
            path=stored.relative,
            release=release[:200] if release else None,
            dist=dist[:64] if dist else None,
            size=stored.size,
            file_count=len(manifest.entries),
        )
        session.add(bundle)
        session.flush()
        session.add_all(
            ArtifactFile(
                bundle_id=bundle.id,
                project_id=project.id,
                file_type=entry.file_type,
                debug_id=entry.debug_id,
                release=bundle.release,
                dist=bundle.dist,
                url=entry.url,
                zip_path=entry.zip_path,
                sourcemap=entry.sourcemap,
            )
            for entry in manifest.entries
        )
        log.info(
            "sourcemaps.bundle_indexed", project=project.slug, files=len(manifest.entries), release=release
        )
    return Assembled(OK, [])


def _relative(checksum: str) -> str:
    return f"bundles/{checksum[:2]}/{checksum}.zip"


@dataclass(frozen=True, slots=True)
class Located:
    """Where a file is: the bundle's path (relative to the storage root), the zip entry, its URL."""

    bundle: str
    zip_path: str
    url: str | None
    sourcemap: str | None


def by_debug_id(session: Session, project_id: int, debug_id: str, file_type: str) -> Located | None:
    row = session.execute(
        select(ArtifactBundle.path, ArtifactFile.zip_path, ArtifactFile.url, ArtifactFile.sourcemap)
        .join(ArtifactBundle, ArtifactBundle.id == ArtifactFile.bundle_id)
        .where(
            ArtifactFile.project_id == project_id,
            ArtifactFile.debug_id == debug_id,
            ArtifactFile.file_type == file_type,
        )
        .order_by(ArtifactFile.id.desc())
        .limit(1)
    ).first()
    return Located(*row) if row else None


def by_url(
    session: Session, project_id: int, release: str, dist: str | None, urls: list[str]
) -> Located | None:
    """The newest file of this release (and dist) at one of `urls`, tried in order."""
    rows = session.execute(
        select(ArtifactBundle.path, ArtifactFile.zip_path, ArtifactFile.url, ArtifactFile.sourcemap)
        .join(ArtifactBundle, ArtifactBundle.id == ArtifactFile.bundle_id)
        .where(
            ArtifactFile.project_id == project_id,
            ArtifactFile.release == release,
            ArtifactFile.dist.is_(None) if dist is None else ArtifactFile.dist == dist,
            ArtifactFile.url.in_(urls),
        )
        .order_by(ArtifactFile.id.desc())
    ).all()
    for url in urls:
        for row in rows:
            if row.url == url:
                return Located(*row)
    return None


def retention(session: Session, settings: Settings, project_id: int) -> tuple[int, int]:
    """(bundles kept, days kept) for a project: its own values, else the settings'."""
    own = session.get(SourcemapRetention, project_id)
    bundles = own.keep_bundles if own and own.keep_bundles else settings.sourcemap_keep_bundles
    days = own.keep_days if own and own.keep_days else settings.sourcemap_keep_days
    return bundles, days


def set_retention(session: Session, project_id: int, keep_bundles: int | None, keep_days: int | None) -> None:
    own = session.get(SourcemapRetention, project_id)
    if own is None:
        own = SourcemapRetention(project_id=project_id)
        session.add(own)
    own.keep_bundles, own.keep_days = keep_bundles, keep_days


def list_bundles(session: Session, project_id: int) -> list[ArtifactBundle]:
    return list(
        session.scalars(
            select(ArtifactBundle)
            .where(ArtifactBundle.project_id == project_id)
            .order_by(ArtifactBundle.created_at.desc(), ArtifactBundle.id.desc())
        )
    )


def prune(session: Session, storage: Storage, settings: Settings) -> list[str]:
    """Delete each project's bundles past its retention (count or age); returns the zip files no longer used
    by any bundle, which the caller deletes after the commit."""
    now = utcnow()
    doomed: list[int] = []
    project_ids = session.scalars(select(ArtifactBundle.project_id).distinct()).all()
    for project_id in project_ids:
        keep_bundles, keep_days = retention(session, settings, project_id)
        rows = session.execute(
            select(ArtifactBundle.id, ArtifactBundle.created_at)
            .where(ArtifactBundle.project_id == project_id)
            .order_by(ArtifactBundle.created_at.desc(), ArtifactBundle.id.desc())
        ).all()
        cutoff = now - timedelta(days=keep_days)
        doomed.extend(
            row.id for index, row in enumerate(rows) if index >= keep_bundles or row.created_at < cutoff
        )
    if not doomed:
        return []
    paths = set(session.scalars(select(ArtifactBundle.path).where(ArtifactBundle.id.in_(doomed))))
    session.execute(delete(ArtifactFile).where(ArtifactFile.bundle_id.in_(doomed)))
    session.execute(delete(ArtifactBundle).where(ArtifactBundle.id.in_(doomed)))
    still_used = set(session.scalars(select(ArtifactBundle.path).where(ArtifactBundle.path.in_(paths))))
    log.info("sourcemaps.pruned", bundles=len(doomed))
    return sorted(paths - still_used)


def bundle_count(session: Session, project_id: int) -> int:
    return session.scalar(select(func.count()).where(ArtifactBundle.project_id == project_id)) or 0
