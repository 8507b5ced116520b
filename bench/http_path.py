"""The request half of ingest, in process: CPU per request of the real app vs the bare app, no network.

    python bench/http_path.py [--scenario rest|sentry|both] [--requests 20000] [--profile out.prof]

Drives both ASGI apps directly (no sockets, no uvicorn) with the load scenarios' bodies: the REST reports, or
real gzip'd sentry-python envelopes for POST /api/<id>/envelope/ (bench/sentry_envelopes.py, ~6.4 KB raw).
The real app gets a stub writer that encodes the report for the writer process and answers at once, so the
figure is what one report costs the HTTP worker before and after the writer process: routing, body reading
(and gunzip), validation or event parsing, the mapping to a Report, fingerprint, the frame to the writer,
response. The Sentry scenario creates its project in a throwaway SQLite
database migrated as `serve` does, so the DSN key is checked through the real (cached) lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sentry_envelopes import built_in_child, encode  # noqa: E402
from store_batch import payloads  # noqa: E402

Request = tuple[str, list[tuple[bytes, bytes]], bytes]  # path, headers, body


class StubWriter:
    """Answers at once, after encoding the report for the writer process as channel.RemoteWriter does."""

    async def submit(self, report: Any) -> Any:
        from logcenter.ingest.channel import encode_report
        from logcenter.ingest.report import IngestResult

        encode_report(1, report)
        return IngestResult(1, created=False, status="NEW")


async def per_request_us(app: Any, requests: list[Request], n: int) -> float:
    async def one(path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                *headers,
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8002),
            "state": {},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return int(sent[0]["status"])

    for request in requests[:500]:
        status = await one(*request)
        if status != 200:
            raise RuntimeError(f"warm-up request to {request[0]} answered {status}")
    # CPU time rather than wall time: other processes on the machine then slow the figure down less.
    t0 = time.process_time()
    for i in range(n):
        await one(*requests[i % len(requests)])
    return (time.process_time() - t0) / n * 1e6


def rest_requests() -> list[Request]:
    headers = [(b"content-type", b"application/json")]
    return [("/api/v1/logs/report", headers, body) for body in payloads(2_000)]


def sentry_requests(app: Any, count: int) -> list[Request]:
    """`count` gzip'd envelopes for a project created in the app's database, with its DSN key."""
    import sentry_sdk

    from logcenter.projects import service as projects_service
    from logcenter.projects.schemas import ProjectCreate

    with app.state.session_factory() as session:
        project = projects_service.create(session, data=ProjectCreate(project_id="bench_app"))
        session.commit()
        pk, key = project.id, project.ingest_key
    bodies = built_in_child(functools.partial(encode, encoding="gzip"), count, key)
    return envelope_requests(pk, key, bodies, client=f"sentry.python/{sentry_sdk.VERSION}")


def envelope_requests(pk: int, key: str, bodies: list[bytes], *, client: str) -> list[Request]:
    """Gzip'd envelopes POSTed as sentry-python sends them, to project `pk` with its DSN `key`."""
    headers = [
        (b"x-sentry-auth", f"Sentry sentry_key={key}, sentry_version=7, sentry_client={client}".encode()),
        (b"user-agent", client.encode()),
        (b"content-type", b"application/x-sentry-envelope"),
        (b"content-encoding", b"gzip"),
    ]
    return [(f"/api/{pk}/envelope/", headers, body) for body in bodies]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=["rest", "sentry", "both"], default="both")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--envelopes", type=int, default=1_000, help="distinct envelopes, sent in turn")
    p.add_argument("--profile", type=Path, help="write a cProfile of the real app's requests to this file")
    args = p.parse_args(argv)

    import bare_app

    from logcenter.config import Settings
    from logcenter.main import create_app
    from logcenter.migrations import upgrade

    scenarios = ["rest", "sentry"] if args.scenario == "both" else [args.scenario]
    with tempfile.TemporaryDirectory(prefix="logcenter-http-") as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/bench.db"))
        app.state.writer = StubWriter()
        # Migrated as `serve` does: both paths read the project's scrubbing rules (cached) before the writer.
        upgrade(app.state.engine)
        for scenario in scenarios:
            requests = rest_requests() if scenario == "rest" else sentry_requests(app, args.envelopes)
            bare = asyncio.run(per_request_us(bare_app.app, requests, args.requests))
            real = asyncio.run(per_request_us(app, requests, args.requests))
            if args.profile:
                import cProfile

                with cProfile.Profile() as profiler:
                    asyncio.run(per_request_us(app, requests, args.requests))
                profiler.dump_stats(args.profile.with_suffix(f".{scenario}{args.profile.suffix}"))
            print(f"{scenario:6} bare app:               {bare:6.1f} us CPU/request")
            print(f"{scenario:6} logcenter, stub writer: {real:6.1f} us CPU/request ({real / bare:.2f}x)")
        app.state.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
