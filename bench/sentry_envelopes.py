"""Real Sentry envelopes for the ingest benchmark, made by the sentry-sdk package itself.

1. ``capture_templates`` writes a small fake application (10 modules under a temp dir), imports it, raises
   1,000 distinct exceptions from it (10 exception types x 10 files x 10 raising lines, the same grid as the
   REST scenario's wrk/report.lua) and lets ``sentry_sdk.capture_exception`` build each event with its default
   integrations (stack frames with context lines and vars, modules, runtime context, trace headers). A
   transport that keeps the envelope instead of sending it captures them.
2. ``build_pool`` turns those 1,000 templates into N requests' worth of envelopes, each one a fresh event (new
   event_id, trace, timestamp, user, request URL, message detail), serialised and compressed exactly as
   sentry-python's HttpTransport does (``Envelope.serialize_into`` through ``gzip.GzipFile(compresslevel=9)``;
   brotli quality 4 for ``br``). They are written to one file per wrk thread as "<length>\\n<bytes>" records,
   which bench/wrk/envelope.lua loads before the run so the load generator spends no CPU on compression.

Run alone to look at one envelope:  python bench/sentry_envelopes.py --show
"""

from __future__ import annotations

import argparse
import copy
import gzip
import importlib
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The same grid as bench/wrk/report.lua: index k -> TYPES[k % 10], FILES[(k // 10) % 10], LINES[k // 100].
TYPES = [
    "ValueError", "TypeError", "KeyError", "AttributeError", "IndexError",
    "ZeroDivisionError", "RuntimeError", "PermissionError", "TimeoutError", "LookupError",
]  # fmt: skip
FILES = [
    "apps/users/views.py", "apps/orders/services.py", "apps/payments/gateway.py", "apps/catalog/search.py",
    "apps/cart/models.py", "apps/auth/tokens.py", "apps/notifications/tasks.py", "apps/reports/export.py",
    "apps/inventory/sync.py", "apps/api/serializers.py",
]  # fmt: skip
LINES = [14, 27, 41, 58, 73, 89, 102, 118, 133, 151]
FINGERPRINTS = len(TYPES) * len(FILES) * len(LINES)

Template = tuple[dict[str, Any], dict[str, Any]]  # (envelope headers, event payload)


def _module_source(file_index: int) -> str:
    """A module whose function ``fail_at_<line>`` raises, on exactly that line, the exception type given."""
    lines = [f'"""Bench app module {FILES[file_index]} (generated)."""', ""]
    for line in LINES:
        # A blank line, def on line-3, two statements, the raise on `line`; comment lines pad up to there.
        while len(lines) < line - 5:
            lines.append(f"# {FILES[file_index]}: filler line {len(lines) + 1}")
        lines.append("")
        lines.append(f"def fail_at_{line}(exc_type, request_id, value):")
        lines.append(f'    order = {{"request_id": request_id, "step": {line}}}')
        lines.append('    order["value"] = value')
        lines.append("    raise exc_type(f\"invalid literal for int() with base 10: '{value}'\")")
        assert len(lines) == line, (len(lines), line)
    lines.append("")
    return "\n".join(lines)


def capture_templates(
    workdir: Path, *, release: str = "shop@1.4.2", environment: str = "production"
) -> list[Template]:
    """Raise 1,000 distinct exceptions in a generated app and let sentry-sdk build each event's envelope."""
    import builtins

    import sentry_sdk
    from sentry_sdk.envelope import Envelope
    from sentry_sdk.transport import Transport

    root = workdir / "benchapp"
    for i, rel in enumerate(FILES):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(_module_source(i), encoding="utf-8")
    (root / "apps" / "__init__.py").touch()

    captured: list[Envelope] = []

    class KeepTransport(Transport):
        def capture_envelope(self, envelope: Envelope) -> None:
            captured.append(envelope)

    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        sentry_sdk.init(
            # Host and key are placeholders: the key in each envelope's trace header is replaced per server.
            dsn="http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1",
            transport=KeepTransport,
            release=release,
            environment=environment,
            project_root=str(root),
        )
        modules = [importlib.import_module(rel[:-3].replace("/", ".")) for rel in FILES]
        for k in range(FINGERPRINTS):
            exc_type = getattr(builtins, TYPES[k % 10])
            module = modules[(k // 10) % 10]
            fn = getattr(module, f"fail_at_{LINES[k // 100]}")
            with sentry_sdk.new_scope() as scope:
                scope.set_user({"id": f"u_{k}"})
                scope.set_tag("request_id", f"req_template_{k}")
                try:
                    fn(exc_type, f"req_template_{k}", f"x{k:x}")
                except Exception as exc:  # noqa: BLE001 - the point is to capture it
                    sentry_sdk.capture_exception(exc)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sys.path.remove(str(root))
    templates: list[Template] = []
    for env in captured:
        event = env.get_event()
        if event is not None:
            templates.append((dict(env.headers), json.loads(json.dumps(event, default=str))))
    if len(templates) != FINGERPRINTS:
        raise RuntimeError(f"sentry-sdk produced {len(templates)} events, expected {FINGERPRINTS}")
    return templates


def _fresh_event(template: Template, rng: random.Random, public_key: str, seq: int) -> tuple[dict, dict]:
    # Copy only what changes (a deepcopy of the whole event costs as much as compressing it).
    headers, event = dict(template[0]), dict(template[1])
    event["exception"] = {"values": [dict(v) for v in template[1]["exception"]["values"]]}
    event["contexts"] = copy.deepcopy(template[1].get("contexts", {}))
    event["tags"] = dict(template[1].get("tags", {}))
    now = datetime.now(UTC)
    event_id = uuid.uuid4().hex
    trace_id = uuid.uuid4().hex
    detail = f"x{rng.randrange(1 << 24):x}"
    event["event_id"] = event_id
    event["timestamp"] = now.isoformat()
    exc = event["exception"]["values"][-1]
    exc["value"] = f"invalid literal for int() with base 10: '{detail}'"
    request_id = f"req_{seq}_{rng.randrange(1 << 31):08x}"
    event["user"] = {"id": f"u_{rng.randint(1, 50_000)}", "ip_address": "{{auto}}"}
    event["tags"]["request_id"] = request_id
    area = rng.choice(["users", "orders", "payments", "catalog", "cart"])
    event["request"] = {
        "url": f"https://shop.example.com/api/{area}/{rng.randint(1, 1_000_000)}",
        "method": rng.choice(["GET", "POST", "PUT", "DELETE"]),
        "query_string": f"id={detail}",
        "headers": {
            "Host": "shop.example.com",
            "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) bench/{rng.randint(1, 99)}",
            "Accept": "application/json",
            "X-Request-Id": request_id,
        },
    }
    trace = event["contexts"].get("trace")
    if isinstance(trace, dict):
        trace["trace_id"] = trace_id
        trace["span_id"] = uuid.uuid4().hex[:16]
    headers["event_id"] = event_id
    headers["sent_at"] = now.isoformat().replace("+00:00", "Z")
    if isinstance(headers.get("trace"), dict):
        headers["trace"] = {**headers["trace"], "trace_id": trace_id, "public_key": public_key}
    return headers, event


def encode(headers: dict, event: dict, encoding: str) -> bytes:
    """Serialise and compress one envelope the way sentry-python's HttpTransport._serialize_envelope does."""
    from sentry_sdk.envelope import Envelope, Item, PayloadRef

    envelope = Envelope(headers=headers, items=[Item(payload=PayloadRef(json=event), type="event")])
    body = io.BytesIO()
    if encoding == "gzip":
        with gzip.GzipFile(fileobj=body, mode="w", compresslevel=9) as f:
            envelope.serialize_into(f)
    elif encoding == "br":
        import brotli

        body.write(brotli.compress(envelope.serialize(), quality=4))
    elif encoding == "identity":
        envelope.serialize_into(body)
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    return body.getvalue()


def fresh_events(
    templates: Sequence[Template], count: int, public_key: str, seed: int = 1
) -> Iterator[tuple[dict, dict]]:
    """``count`` fresh (envelope headers, event) pairs from random templates, the same for the same seed."""
    rng = random.Random(seed)
    for seq in range(count):
        yield _fresh_event(templates[rng.randrange(len(templates))], rng, public_key, seq)


def built_in_child(convert: Callable[[dict, dict], bytes], count: int, public_key: str) -> list[bytes]:
    """``convert(headers, event)`` of ``count`` fresh events, captured and built in a forked child process:
    ``sentry_sdk.init()`` instruments every Starlette and FastAPI app of its process for good (a benchmark's
    app then costs 3x as much). ``convert`` must be picklable (a module-level function or a partial)."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(_build_fresh, (convert, count, public_key))


def _build_fresh(convert: Callable[[dict, dict], bytes], count: int, public_key: str) -> list[bytes]:
    with tempfile.TemporaryDirectory(prefix="logcenter-bench-") as tmp:
        templates = capture_templates(Path(tmp))
    return [convert(headers, event) for headers, event in fresh_events(templates, count, public_key)]


def _build_chunk(job: tuple[list[Template], int, int, str, str, str]) -> tuple[str, int, int]:
    templates, count, seed, public_key, encoding, path = job
    raw_total = 0
    with open(path, "wb") as out:
        for headers, event in fresh_events(templates, count, public_key, seed):
            data = encode(headers, event, encoding)
            raw_total += len(data)
            out.write(b"%d\n" % len(data))
            out.write(data)
    return path, count, raw_total


def build_pool(
    templates: Sequence[Template], *, count: int, files: int, public_key: str, encoding: str, prefix: Path
) -> list[Path]:
    """Write ``count`` fresh envelopes split over ``files`` files ``<prefix>-<i>.bin``; uses every core."""
    per_file = -(-count // files)
    jobs = [
        (
            list(templates),
            per_file,
            random.randrange(1 << 30) + i,
            public_key,
            encoding,
            f"{prefix}-{i + 1}.bin",
        )
        for i in range(files)
    ]
    # Split each file's share further so both cores work even with one wrk thread.
    procs = max(1, min(os.cpu_count() or 1, 8))
    if files < procs:
        chunks = []
        for job in jobs:
            share = -(-job[1] // procs)
            chunks += [
                (job[0], share, job[2] * 31 + p, job[3], job[4], f"{job[5]}.part{p}") for p in range(procs)
            ]
    else:
        chunks = jobs
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(procs) as pool:
        results = pool.map(_build_chunk, chunks)
    if files < procs:
        for job in jobs:
            with open(job[5], "wb") as out:
                for p in range(procs):
                    part = f"{job[5]}.part{p}"
                    with open(part, "rb") as src:
                        out.write(src.read())
                    os.unlink(part)
    del results
    return [Path(j[5]) for j in jobs]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show", action="store_true", help="print one decoded envelope and the pool build speed"
    )
    parser.add_argument("--encoding", choices=["gzip", "br", "identity"], default="gzip")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="logcenter-bench-") as tmp:
        t0 = time.perf_counter()
        templates = capture_templates(Path(tmp))
        t1 = time.perf_counter()
        rng = random.Random(1)
        headers, event = _fresh_event(templates[0], rng, "0" * 32, 0)
        data = encode(headers, event, args.encoding)
        if args.show:
            raw = encode(headers, event, "identity")
            print(raw.decode()[:4000])
            print(f"... {len(raw)} bytes raw, {len(data)} bytes {args.encoding}")
        t2 = time.perf_counter()
        n = 2000
        build_pool(
            templates, count=n, files=1, public_key="0" * 32, encoding=args.encoding, prefix=Path(tmp) / "p"
        )
        t3 = time.perf_counter()
        print(f"captured {len(templates)} templates in {t1 - t0:.1f}s; built {n} envelopes in {t3 - t2:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
