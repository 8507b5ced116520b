"""The request half of REST ingest, in process: CPU per request of the real app vs the bare app, no network.

    python bench/http_path.py [--requests 20000]

Drives both ASGI apps directly (no sockets, no uvicorn) with the REST scenario's bodies. The real app gets a
stub writer that answers at once, so the figure is what one report costs the event loop before and after the
group-commit writer: routing, body reading, validation, fingerprint, response. In the HTTP benchmark this half
shares one GIL with the writer thread.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_batch import payloads  # noqa: E402


class StubWriter:
    async def submit(self, report: Any) -> Any:
        from logcenter.ingest.report import IngestResult

        return IngestResult(1, created=False, status="NEW")


async def per_request_us(app: Any, bodies: list[bytes], n: int) -> float:
    path = b"/api/v1/logs/report"

    async def one(body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path.decode(),
            "raw_path": path,
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
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

    for body in bodies[:500]:
        status = await one(body)
        if status != 200:
            raise RuntimeError(f"warm-up request answered {status}")
    t0 = time.perf_counter()
    for i in range(n):
        await one(bodies[i % len(bodies)])
    return (time.perf_counter() - t0) / n * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=20_000)
    args = p.parse_args(argv)

    import bare_app

    from logcenter.config import Settings
    from logcenter.main import create_app

    bodies = payloads(2_000)
    with tempfile.TemporaryDirectory(prefix="logcenter-http-") as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/unused.db"))
        app.state.writer = StubWriter()
        bare = asyncio.run(per_request_us(bare_app.app, bodies, args.requests))
        real = asyncio.run(per_request_us(app, bodies, args.requests))
        app.state.engine.dispose()
    print(f"bare app:                         {bare:6.1f} us/request")
    print(f"logcenter REST route, stub writer: {real:6.1f} us/request ({real / bare:.2f}x bare)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
