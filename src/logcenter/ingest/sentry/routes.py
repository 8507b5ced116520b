"""`POST /api/<id>/envelope/` and `POST /api/<id>/store/`: where the official Sentry SDKs send events.

Plain Starlette routes, like the REST ingest route (ingest/routes.py says why). The body is streamed through
the decoder and the envelope parser under caps, and nothing reaches the writer unless the key and the size
checks passed. The answer `200 {"id": "<event_id>"}` comes only after the writer committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logcenter.db import utcnow
from logcenter.errors import Forbidden, LogCenterError, NotFound, PayloadTooLarge, RateLimited, Unauthorized
from logcenter.ingest.body import LARGE_BODY_BYTES, encode_headers, json_answer, off_the_loop
from logcenter.ingest.keys import ProjectKey, ProjectKeys
from logcenter.ingest.quota import QuotaVerdicts, over_quota
from logcenter.ingest.scrubbers import scrubber_for
from logcenter.ingest.sentry import auth
from logcenter.ingest.sentry.decoding import BodyDecoder
from logcenter.ingest.sentry.envelope import Envelope, EnvelopeParser
from logcenter.ingest.sentry.event import event_id_of
from logcenter.ingest.sentry.payload import report_from
from logcenter.sourcemaps.resolve import Resolver, may_apply

ENVELOPE_PATH = "/api/{project_id}/envelope/"
STORE_PATH = "/api/{project_id}/store/"

# Work done on the event loop per request is kept under a millisecond at a time: an envelope's decoding
# gives the loop back after every this many decompressed bytes, and an event larger than LARGE_BODY_BYTES is
# mapped in a worker thread (real SDK events are 2-20 KB).
YIELD_EVERY_BYTES = 256 * 1024

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "Content-Type, X-Sentry-Auth, X-Requested-With, Origin, Accept, Authentication, Authorization, "
        "Content-Encoding, sentry-trace, baggage"
    ),
    # Browser SDKs back off on these; without this line the browser hides them from the script.
    "Access-Control-Expose-Headers": "X-Sentry-Rate-Limits, Retry-After",
    "Access-Control-Max-Age": "3600",
}
_CORS_RAW = encode_headers(CORS)
# "The only accepted content-type is application/x-sentry-envelope, which is implied if it is missing", plus
# the types browsers send without a CORS preflight.
_ENVELOPE_CONTENT_TYPES = frozenset(
    {
        "",
        "application/x-sentry-envelope",
        "text/plain",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    }
)
# Project ids are parsed by hand rather than with `{project_id:int}`: Starlette's int converter answers 500
# for ids longer than Python's 4,300-digit int limit.
_MAX_PROJECT_ID = 2**31 - 1


@dataclass(slots=True)
class _Sentry:
    """Per-app state of the Sentry endpoints, created on first use from `app.state.settings`."""

    keys: ProjectKeys
    quota: QuotaVerdicts
    max_compressed: int
    max_envelope: int
    max_event: int
    max_skew: timedelta
    sourcemaps: Resolver  # resolves minified JavaScript frames (logcenter/sourcemaps)
    sourcemap_threads: anyio.CapacityLimiter


async def preflight(_: Request) -> Response:
    return Response(status_code=204, headers=CORS)


async def envelope(request: Request) -> Response:
    with _cors_on_errors():
        sentry = _state(request)
        pk = _project_pk(request.path_params["project_id"])
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type not in _ENVELOPE_CONTENT_TYPES:
            raise LogCenterError(
                f"Content-Type {content_type!r} is not an envelope: send application/x-sentry-envelope, "
                "or POST a single JSON event to /store/",
                status_code=415,
            )
        parsed, project = await _read_envelope(request, sentry, pk)
        event_id = event_id_of(parsed.headers.get("event_id"))
        if parsed.event is None:  # sessions, transactions, client reports...: accepted and dropped
            return _answer(event_id)
        return await _ingest(request, sentry, project, parsed.event, event_id)


async def store(request: Request) -> Response:
    with _cors_on_errors():
        sentry = _state(request)
        pk = _project_pk(request.path_params["project_id"])
        key = auth.key_from_request(request)
        if not key:
            raise _missing_key()
        project = await auth.authenticate(sentry.keys, pk, key)
        # A store body is one event, so the event cap bounds it compressed and decompressed.
        decoder = _decoder(request, max_compressed=sentry.max_event, max_decompressed=sentry.max_event)
        chunks = [data async for chunk in request.stream() for data in decoder.feed(chunk)]
        decoder.finish()
        return await _ingest(request, sentry, project, b"".join(chunks), None)


routes: list[Route] = [
    Route(ENVELOPE_PATH, envelope, methods=["POST"], name="sentry_envelope"),
    Route(STORE_PATH, store, methods=["POST"], name="sentry_store"),
    Route(ENVELOPE_PATH, preflight, methods=["OPTIONS"], include_in_schema=False),
    Route(STORE_PATH, preflight, methods=["OPTIONS"], include_in_schema=False),
]


# The OpenAPI operations of the routes above, generated by FastAPI routes that only document them.
docs = APIRouter(tags=["sentry"])


class EventAccepted(BaseModel):
    id: str | None = None


def _document(path: str, summary: str, description: str, content_type: str, operation_id: str) -> None:
    binary = {"schema": {"type": "string", "format": "binary"}}

    @docs.post(
        path,
        summary=summary,
        description=description,
        operation_id=operation_id,
        response_description="Committed (or a repeated event_id, counted once)",
        responses={
            401: {"description": "No key"},
            403: {"description": "Wrong key for this project"},
            413: {"description": "Over a size limit, compressed or decompressed"},
            429: {"description": "Over the project's quota: Retry-After and X-Sentry-Rate-Limits"},
        },
        openapi_extra={"requestBody": {"required": True, "content": {content_type: binary}}},
    )
    def documented(
        project_id: Annotated[int, Path(description="The project's numeric id, as in its DSN")],
        sentry_key: Annotated[
            str | None,
            Query(description="The DSN's key, when not sent in X-Sentry-Auth or the envelope's dsn"),
        ] = None,
    ) -> EventAccepted:
        raise NotImplementedError  # never routed: `envelope` and `store` serve these paths


_document(
    ENVELOPE_PATH,
    "Sentry envelope endpoint (sentry-sdk, @sentry/*)",
    "Where the official Sentry SDKs send events: an envelope, optionally gzip/deflate/br encoded.",
    "application/x-sentry-envelope",
    "sentry_envelope",
)
_document(
    STORE_PATH,
    "Sentry store endpoint (deprecated by Sentry, kept for old SDKs)",
    "One JSON event, optionally compressed.",
    "application/json",
    "sentry_store",
)


async def _ingest(
    request: Request,
    sentry: _Sentry,
    project: ProjectKey,
    payload: bytes,
    header_event_id: str | None,
) -> Response:
    """Map the event to a Report and submit it. An event too large to map in a few milliseconds is mapped
    in a worker thread, so that it never holds up the event loop (and every other request)."""
    # The writer counts the quota (for all HTTP workers); until its window ends, a project it refused is
    # refused here without a trip to the writer.
    retry_after = sentry.quota.retry_after(project.pk)
    if retry_after is not None:
        raise over_quota(project.slug, retry_after)
    # Frames that may need a source map are resolved in a worker thread: it reads the bundle index and
    # may parse a map.
    resolver = sentry.sourcemaps if may_apply(payload) else None
    # Scrubbed with the project's rules (the server's and its own), before anything is stored.
    scrubber = await scrubber_for(request, pk=project.pk)
    make = partial(
        report_from,
        payload,
        project_pk=project.pk,
        project_slug=project.slug,
        header_event_id=header_event_id,
        now=utcnow(),
        max_skew=sentry.max_skew,
        scrubber=scrubber,
        resolver=resolver,
    )
    if len(payload) > LARGE_BODY_BYTES:
        report = await off_the_loop(request, make)
    elif resolver is not None:
        report = await anyio.to_thread.run_sync(make, limiter=sentry.sourcemap_threads)
    else:
        report = make()
    event_id = report.event_id
    assert event_id is not None
    # A repeated event_id comes back as a duplicate: acknowledged the same way, counted once.
    try:
        await request.app.state.writer.submit(report)
    except RateLimited as refused:
        sentry.quota.refused(project.pk, refused)
        raise
    return _answer(event_id)


async def _read_envelope(request: Request, sentry: _Sentry, pk: int) -> tuple[Envelope, ProjectKey]:
    """Stream the body through the decoder and the parser; authenticate as early as the key is known."""
    # A key in the URL or headers is checked before any of the body is read, one in the envelope's `dsn`
    # header as soon as its first line is in.
    key = auth.key_from_request(request)
    project = await auth.authenticate(sentry.keys, pk, key) if key else None
    decoder = _decoder(request, max_compressed=sentry.max_compressed, max_decompressed=sentry.max_envelope)
    parser = EnvelopeParser(max_item_bytes=sentry.max_event)
    checked: ProjectKey | None = None
    unyielded = 0
    async for chunk in request.stream():
        # One chunk of gzip can inflate to a thousand times its size: between steps of the decoder, other
        # requests get the event loop.
        for data in decoder.feed(chunk):
            parser.feed(data)
            unyielded += len(data)
            if unyielded >= YIELD_EVERY_BYTES:
                unyielded = 0
                await asyncio.sleep(0)
        if checked is None and parser.headers is not None:
            checked = await _check_envelope_dsn(sentry, pk, key, project, parser.headers)
    decoder.finish()
    parsed = parser.finish()
    if checked is None:  # the header line ended at EOF
        checked = await _check_envelope_dsn(sentry, pk, key, project, parsed.headers)
    return parsed, checked


async def _check_envelope_dsn(
    sentry: _Sentry, pk: int, key: str | None, project: ProjectKey | None, headers: dict[str, Any]
) -> ProjectKey:
    """Authenticate by the envelope's `dsn` header when the request had no key; if both are given they must
    agree ("otherwise rejects the request", envelopes.mdx)."""
    dsn_key = auth.key_from_dsn(headers.get("dsn"), project_id=pk)
    if project is not None:
        if dsn_key is not None and dsn_key != key:
            raise Forbidden("The envelope's dsn and the request's sentry_key name different keys")
        return project
    if dsn_key is None:
        raise _missing_key()
    return await auth.authenticate(sentry.keys, pk, dsn_key)


def _missing_key() -> Unauthorized:
    return Unauthorized(
        "Missing sentry_key: send the DSN's key in X-Sentry-Auth, ?sentry_key= or the envelope's dsn header"
    )


def _decoder(request: Request, *, max_compressed: int, max_decompressed: int) -> BodyDecoder:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_compressed:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {max_compressed}")
    return BodyDecoder(
        request.headers.get("content-encoding"),
        max_compressed=max_compressed,
        max_decompressed=max_decompressed,
    )


def _project_pk(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise NotFound(f"No Sentry endpoint for project id {value[:40]!r}: the DSN's project id is a number")
    # Length first: int() refuses more than 4,300 digits, and ids are INTEGER columns.
    if len(value) > 10 or int(value) > _MAX_PROJECT_ID:
        raise auth.rejected(value)
    return int(value)


def _answer(event_id: str | None) -> Response:
    body = {"id": event_id} if event_id else {}
    return json_answer(body, _CORS_RAW)


@contextmanager
def _cors_on_errors() -> Iterator[None]:
    """Error answers carry the CORS headers too: otherwise a browser SDK cannot read a 429's Retry-After."""
    try:
        yield
    except LogCenterError as exc:
        exc.headers = {**CORS, **exc.headers}
        raise


def _state(request: Request) -> _Sentry:
    app_state = request.app.state
    sentry: _Sentry | None = getattr(app_state, "sentry_ingest", None)
    if sentry is None:
        settings = app_state.settings
        sentry = _Sentry(
            keys=app_state.project_keys,
            quota=QuotaVerdicts(),
            max_compressed=settings.sentry_max_envelope_compressed_bytes,
            max_envelope=settings.sentry_max_envelope_bytes,
            max_event=settings.sentry_max_event_bytes,
            max_skew=timedelta(seconds=settings.max_clock_skew_seconds),
            sourcemaps=Resolver(
                app_state.session_factory, settings.sourcemaps_path, settings.sourcemap_cache_size
            ),
            sourcemap_threads=anyio.CapacityLimiter(4),
        )
        # No await since the lookup: concurrent first requests cannot both get here.
        app_state.sentry_ingest = sentry
    return sentry
