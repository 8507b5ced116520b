"""The periodic prune of artifact bundles: each project keeps its last N bundles of the last N days
(service.retention), and chunks of uploads never assembled are deleted after a day."""

from __future__ import annotations

import time
from typing import Any

import structlog

from logcenter.db import session_scope
from logcenter.jobs.registry import JobContext, every, handler
from logcenter.sourcemaps import service
from logcenter.sourcemaps.storage import Storage

log = structlog.get_logger(__name__)

PRUNE = "sourcemaps.prune"
CHUNK_MAX_AGE_SECONDS = 24 * 3600


@handler(PRUNE)
def prune_bundles(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Delete bundles past their project's retention: rows first (committed), then the zip files no bundle
    uses any more, so that a crash in between leaves only unused files, never rows without a file."""
    storage = Storage(ctx.settings.sourcemaps_path)
    with session_scope(ctx.sessions) as session:
        unused = service.prune(session, storage, ctx.settings)
    for relative in unused:
        storage.remove(relative)
    chunks = storage.prune_chunks(older_than=time.time() - CHUNK_MAX_AGE_SECONDS)
    if unused or chunks:
        log.info("sourcemaps.files_deleted", bundles=len(unused), chunks=chunks)


every(3600, PRUNE)
