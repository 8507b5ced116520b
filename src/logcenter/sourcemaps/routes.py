"""The endpoints `sentry-cli sourcemaps upload` calls, and Log Center's own view of a project's bundles.

sentry-cli (3.x, and 2.x with the bundler plugins) asks for the chunk-upload options, POSTs the chunks of
the bundle it built (multipart, named by SHA-1, optionally gzipped), then asks the server to assemble them,
again until the state is `ok` (api/data_types/chunking in sentry-cli). Its auth token is a Log Center API
token with the `sourcemaps` scope (or admin); the organization slug in the URLs is not checked (Log Center
has no organizations), the `--project` is a Log Center project slug.
"""

from __future__ import annotations

import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from logcenter.auth import projects as token_projects
from logcenter.auth import service as auth_service
from logcenter.auth.deps import Principal, authorize, touch_last_used
from logcenter.auth.models import Scope
from logcenter.db import session_scope
from logcenter.deps import SessionDep, SettingsDep
from logcenter.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from logcenter.ingest.body import read_capped
from logcenter.projects.models import Project
from logcenter.sourcemaps import service
from logcenter.sourcemaps.storage import SHA1, Storage

router = APIRouter(tags=["sourcemaps"])


def uploader(request: Request) -> Principal:
    """A token with the `sourcemaps` (or admin) scope, checked in a read-only transaction of its own: an
    upload must not hold SQLite's write lock while it receives or joins megabytes of chunks. A token
    restricted to projects sees only their bundles (404 for another's)."""
    with session_scope(request.app.state.session_factory, write=False) as session:
        row = authorize(session, request, [Scope.SOURCEMAPS])
        principal = Principal.of(row)
        token_projects.check_path(session, request, principal.projects)
        stale = auth_service.needs_touch(row)
    if stale:
        touch_last_used(request, principal.token_id)
    return principal


Uploader = Annotated[Principal, Depends(uploader)]

CHUNK_SIZE = 8 * 1024 * 1024
CHUNKS_PER_REQUEST = 64
MAX_REQUEST_SIZE = 32 * 1024 * 1024


def storage_of(request: Request) -> Storage:
    return Storage(request.app.state.settings.sourcemaps_path)


@router.get("/api/0/organizations/{org}/chunk-upload/", summary="sentry-cli: chunk upload options")
def chunk_options(org: str, request: Request, settings: SettingsDep, _: Uploader) -> dict[str, Any]:
    """Where and how sentry-cli uploads the chunks of a bundle (ChunkServerOptions)."""
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return {
        "url": f"{base}/api/0/organizations/{org}/chunk-upload/",
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxRequestSize": MAX_REQUEST_SIZE,
        "maxFileSize": settings.sourcemap_max_bundle_bytes,
        "maxWait": 60,
        "concurrency": 4,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        # What sentry-cli 2.x looks for before it sends artifact bundles.
        "accept": ["artifact_bundles", "artifact_bundles_v2", "release_files", "sources"],
    }


@router.post("/api/0/organizations/{org}/chunk-upload/", summary="sentry-cli: upload chunks")
async def upload_chunks(org: str, request: Request, _: Uploader) -> dict[str, Any]:
    """Chunks as multipart files named by their SHA-1 (`file`, or `file_gzip` when gzipped); each is kept
    only if its content has that SHA-1."""
    # Read under the cap first, also when the body comes chunked with no Content-Length; the form parser
    # then reads this copy (Starlette's Request keeps a body read once in `_body`).
    request._body = await read_capped(request, MAX_REQUEST_SIZE + 1024 * 1024)
    storage = storage_of(request)
    async with request.form(max_files=CHUNKS_PER_REQUEST, max_fields=CHUNKS_PER_REQUEST) as form:
        parts = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
        if not parts:
            raise BadRequest("No chunk: send multipart files named `file` or `file_gzip`")
        for name, upload in parts:
            checksum = (upload.filename or "").lower()
            if name not in ("file", "file_gzip") or not SHA1.fullmatch(checksum):
                raise BadRequest("Each chunk is a `file` or `file_gzip` part named by its SHA-1")
            data = await upload.read(CHUNK_SIZE + 1)
            if name == "file_gzip":
                data = _gunzip(data)
            if len(data) > CHUNK_SIZE:
                raise PayloadTooLarge(f"A chunk is larger than the chunk size ({CHUNK_SIZE} bytes)")
            try:
                await run_in_threadpool(storage.save_chunk, checksum, data)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
    return {}


class AssembleRequest(BaseModel):
    """sentry-cli's ChunkedArtifactRequest."""

    checksum: str = Field(pattern=r"^[0-9a-fA-F]{40}$")
    chunks: list[str] = Field(max_length=service.MAX_CHUNKS)
    projects: list[str] = Field(default_factory=list, max_length=100)
    version: str | None = Field(default=None, max_length=200)
    dist: str | None = Field(default=None, max_length=64)


class ReleaseAssembleRequest(BaseModel):
    """The request of sentry-cli versions before artifact bundles (ChunkedReleaseRequest)."""

    checksum: str = Field(pattern=r"^[0-9a-fA-F]{40}$")
    chunks: list[str] = Field(max_length=service.MAX_CHUNKS)
    projects: list[str] = Field(default_factory=list, max_length=100)
    dist: str | None = Field(default=None, max_length=64)


@router.post(
    "/api/0/organizations/{org}/releases/{version}/assemble/",
    summary="sentry-cli before 2.17: assemble a release bundle",
)
def assemble_release_bundle(
    org: str,
    version: str,
    body: ReleaseAssembleRequest,
    request: Request,
    settings: SettingsDep,
    principal: Uploader,
) -> dict[str, object]:
    """The same bundle format, named by release and URL only (`releases files <version> upload-sourcemaps`
    of older sentry-cli versions)."""
    if len(version) > 200:
        raise BadRequest("A release name is at most 200 characters")
    request_body = AssembleRequest(
        checksum=body.checksum,
        chunks=body.chunks,
        projects=body.projects,
        version=version,
        dist=body.dist,
    )
    return assemble_bundle(org, request_body, request, settings, principal)


@router.post("/api/0/organizations/{org}/artifactbundle/assemble/", summary="sentry-cli: assemble a bundle")
def assemble_bundle(
    org: str, body: AssembleRequest, request: Request, settings: SettingsDep, principal: Uploader
) -> dict[str, object]:
    """`not_found` with the chunks still to upload; `ok` once the bundle is stored and indexed; `error` with
    a detail when it is not a usable bundle. The bundle is joined and read outside any transaction; only
    its index is written in one (SQLite has one writer: the ingest writer must not wait for a big upload).
    403 when a token restricted to projects names another."""
    sessions = request.app.state.session_factory
    storage = storage_of(request)
    checksum, release, dist = body.checksum.lower(), body.version or None, body.dist or None
    chunks = service.check_checksums(body.chunks, "chunks")
    with session_scope(sessions, write=False) as session:
        projects = service.projects_by_slug(session, body.projects)
        if refused := [p.slug for p in projects if not principal.may(p.id)]:
            raise Forbidden(f"Token {principal.name!r} may not upload for project {refused[0][:100]!r}")
        todo, answer = service.missing_for(session, storage, projects, checksum, chunks, release)
    if answer is not None:
        return answer.body()
    stored = service.store(storage, settings, checksum, chunks)
    if isinstance(stored, service.Assembled):
        return stored.body()
    with session_scope(sessions) as session:
        # Another upload of the same bundle may have indexed it meanwhile.
        todo, answer = service.missing_for(session, storage, todo, checksum, [], release)
        if answer is None:
            answer = service.index(
                session, stored, projects=todo, checksum=checksum, release=release, dist=dist
            )
    return answer.body()


class BundleRead(BaseModel):
    id: int
    checksum: str
    release: str | None
    dist: str | None
    size: int
    file_count: int
    created_at: str


class Retention(BaseModel):
    keep_bundles: int | None = Field(
        default=None, ge=1, description="Bundles kept (None: the server's default)"
    )
    keep_days: int | None = Field(default=None, ge=1, description="Days kept (None: the server's default)")


class BundleList(BaseModel):
    bundles: list[BundleRead]
    keep_bundles: int
    keep_days: int


def _project(session: Session, slug: str) -> Project:
    project = session.query(Project).filter(Project.slug == slug).one_or_none()
    if project is None:
        raise NotFound(f"Project {slug[:100]!r} not found")
    return project


@router.get("/api/v1/sourcemaps/{project}", response_model=BundleList, summary="A project's artifact bundles")
def list_bundles(project: str, session: SessionDep, settings: SettingsDep, _: Uploader) -> BundleList:
    row = _project(session, project)
    keep_bundles, keep_days = service.retention(session, settings, row.id)
    bundles = [
        BundleRead(
            id=b.id,
            checksum=b.checksum,
            release=b.release,
            dist=b.dist,
            size=b.size,
            file_count=b.file_count,
            created_at=b.created_at.isoformat(),
        )
        for b in service.list_bundles(session, row.id)
    ]
    return BundleList(bundles=bundles, keep_bundles=keep_bundles, keep_days=keep_days)


@router.put(
    "/api/v1/sourcemaps/{project}/retention", response_model=Retention, summary="A project's bundle retention"
)
def put_retention(project: str, body: Retention, session: SessionDep, _: Uploader) -> Retention:
    """Keep this project's last N bundles and/or its bundles of the last N days; null fields use the
    server's defaults (LOGCENTER_SOURCEMAP_KEEP_BUNDLES, LOGCENTER_SOURCEMAP_KEEP_DAYS)."""
    row = _project(session, project)
    service.set_retention(session, row.id, body.keep_bundles, body.keep_days)
    return body


def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data, CHUNK_SIZE + 1)
    except zlib.error:
        raise BadRequest("A `file_gzip` chunk is not gzip") from None
    return out
