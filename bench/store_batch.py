"""The ingest writer alone: `BatchCommitter` throughput (store and count) and per-statement SQL time, no HTTP.

    python bench/store_batch.py --db sqlite|postgres --batch 16 --reports 20000

Builds REST reports like bench/wrk/report.lua (fresh context, 1,000 fingerprints), parses them with the real
schema (`ReportIn.model_validate_json` + `to_report`), then stores them in batches of --batch exactly as the
writer process does under load (`BatchCommitter`: a transaction per batch, and every --count-interval seconds
one that counts the backlog) on a fresh database.
Prints parse and store cost per report, and for each SQL statement its count and time inside the database
driver (cursor execute); the remainder of the store time is Python (SQLAlchemy, the service code).
On SQLite it checkpoints the WAL on a thread as the writer process does (`db.WalCheckpointer`), so COMMIT
is only the WAL write, and it then counts the WAL frames (pages) that 200 more batches write.
With 16 connections the HTTP benchmark's batches hold at most 16 reports, hence the default.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PG_SCHEMA = "bench_store"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sentry_envelopes import FILES, LINES, TYPES  # noqa: E402 - same grid as the load scripts


def payloads(n: int, seed: int = 1) -> list[bytes]:
    """n JSON bodies shaped like bench/wrk/report.lua's."""
    rng = random.Random(seed)
    funcs = ["get_user", "create_order", "charge_card", "search", "add_item", "refresh", "send", "export"]
    out = []
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for seq in range(n):
        k = rng.randrange(1000)
        etype, file, line = TYPES[k % 10], FILES[(k // 10) % 10], LINES[k // 100]
        bad = f"x{rng.randrange(1 << 24):x}"
        msg = f"invalid literal for int() with base 10: '{bad}'"
        body = {
            "project_id": "bench_app",
            "environment": "production" if seq % 4 else "staging",
            "level": "ERROR",
            "timestamp": now,
            "version": f"1.4.{seq % 7}",
            "commit_hash": f"{rng.randrange(1 << 28):07x}",
            "repo_url": "https://git.example.com/team/bench_app.git",
            "error": {
                "type": etype,
                "message": msg,
                "file_path": file,
                "line_number": line,
                "stack_trace": [
                    "Traceback (most recent call last):",
                    '  File "apps/core/middleware.py", line 88, in __call__',
                    "    response = self.get_response(request)",
                    f'  File "{file}", line {line}, in {funcs[k % len(funcs)]}',
                    "    value = int(request.GET['id'])",
                    f"{etype}: {msg}",
                ],
            },
            "context": {
                "url": f"/api/x/{rng.randrange(1_000_000)}",
                "method": "GET",
                "user_id": f"u_{rng.randrange(50_000)}",
                "request_id": f"req_{seq}_{rng.randrange(1 << 31):08x}",
            },
        }
        out.append(orjson.dumps(body))
    return out


def sentry_events(n: int) -> list[bytes]:
    """n fresh sentry-sdk events (JSON), as sentry_envelopes.py builds them for the load scenario."""
    from sentry_envelopes import built_in_child

    return built_in_child(_event_json, n, "0" * 32)


def _event_json(headers: dict, event: dict) -> bytes:
    return orjson.dumps(event)


def _sentry_project(factory: Any) -> int:
    from logcenter.projects import service as projects_service
    from logcenter.projects.schemas import ProjectCreate

    with factory() as session:
        project = projects_service.create(session, data=ProjectCreate(project_id="bench_app"))
        session.commit()
        return int(project.id)


def _sentry_report(body: bytes, project_pk: int, now: datetime) -> Any:
    from logcenter.ingest.sentry.event import to_report
    from logcenter.ingest.sentry.payload import load_event

    event = load_event(body)
    return to_report(
        event,
        project_pk=project_pk,
        project_slug="bench_app",
        event_id=event["event_id"],
        now=now,
        max_skew=timedelta(seconds=60),
    )


def wal_pages_by_table(path: str, page_size: int) -> Counter[str]:
    """The frames in the WAL of the SQLite database at `path`, by the table or index that owns each page now
    (SQLite's dbstat table). Page 1, which holds the header (the free-list count), counts as sqlite_schema;
    pages owned by nothing now were freed since: mostly occurrence pages that pruning emptied."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    data = Path(f"{path}-wal").read_bytes()
    pages: Counter[str] = Counter()
    for offset in range(32, len(data) - page_size - 23, 24 + page_size):  # 32-byte header, then frames
        pageno = int.from_bytes(data[offset : offset + 4], "big")
        pages[owner.get(pageno, "(free list)")] += 1
    return pages


class StatementTimer:
    """Time spent in the DB driver per SQL statement: the hot path's own (ingest/sql.py runs them on a DBAPI
    cursor) and SQLAlchemy's (cursor events), and COMMIT."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        from logcenter.ingest.sql import BatchSQL

        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self.enabled = False
        self.commit_s = 0.0
        self._commit_t0 = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._before_commit)
        run = BatchSQL._run

        def timed_run(path: BatchSQL, sql: str, params: Any) -> Any:
            t0 = time.perf_counter()
            cursor = run(path, sql, params)
            self._add(sql, isinstance(params, list), time.perf_counter() - t0)
            return cursor

        BatchSQL._run = timed_run  # type: ignore[method-assign]

    def _add(self, statement: str, many: bool, seconds: float) -> None:
        if self.enabled:
            key = ("many " if many else "") + " ".join(statement.split())[:90]
            self.total[key] += seconds
            self.count[key] += 1

    def watch_commits(self) -> None:
        """Time COMMITs to their end on every Session: the writer's own is not made by the factory."""
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        event.listen(Session, "after_commit", self._after_commit)

    def _before_commit(self, conn: Any) -> None:
        self._commit_t0 = time.perf_counter()

    def _after_commit(self, session: Any) -> None:
        if self.enabled and self._commit_t0:
            self.commit_s += time.perf_counter() - self._commit_t0
        self._commit_t0 = 0.0

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        self._add(statement, many, time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter()))


def _pg_wal_lsn(engine: Any) -> str:
    """PostgreSQL's current WAL position (the measured batches' WAL is what follows it)."""
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar())


def _pg_wal_by_table(engine: Any, start: str) -> Counter[str]:
    """WAL bytes written since `start` to each table and index of this schema (records; their full-page
    images, which depend on when the server last checkpointed, summed apart), by the relation of each
    record's first block (pg_walinspect, PostgreSQL 15+): other databases' and schemas' writes on a shared
    server are left out, where the server-wide WAL position counts them."""
    import re

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        database = str(
            conn.exec_driver_sql("SELECT oid FROM pg_database WHERE datname = current_database()").scalar()
        )
        names = dict(
            conn.exec_driver_sql(
                "SELECT relfilenode::text, relname FROM pg_class"
                " WHERE relnamespace = current_schema()::regnamespace AND relfilenode <> 0"
            ).all()
        )
        rows = conn.exec_driver_sql(
            "SELECT block_ref, record_length, fpi_length"
            " FROM pg_get_wal_records_info(%s::pg_lsn, pg_current_wal_lsn())",
            (start,),
        ).all()
    by_table: Counter[str] = Counter()
    for block_ref, size, fpi in rows:
        found = re.search(r"rel \d+/(\d+)/(\d+)", block_ref or "")
        if found and found.group(1) == database and found.group(2) in names:
            by_table[names[found.group(2)]] += size - fpi
            by_table["(full-page images, all)"] += fpi
    return by_table


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--batch", type=int, default=16, help="reports per transaction (default 16)")
    p.add_argument("--reports", type=int, default=20_000, help="reports to store after warm-up")
    p.add_argument("--warmup", type=int, default=5_000, help="reports stored first, not measured")
    p.add_argument("--retention", type=int, default=100)
    p.add_argument(
        "--count-interval",
        type=float,
        default=1.0,
        help="seconds between counts of the backlog, as LOGCENTER_COUNT_INTERVAL (default 1)",
    )
    p.add_argument(
        "--event-ids",
        action="store_true",
        help="give every report a Sentry event_id (the envelope path's duplicate check runs)",
    )
    p.add_argument(
        "--sqlite-pragma",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra PRAGMA on every SQLite connection, e.g. cache_size=-65536 (repeatable)",
    )
    p.add_argument(
        "--sentry",
        action="store_true",
        help="store Sentry reports instead: real sentry-sdk events (bench/sentry_envelopes.py) mapped by the "
        "envelope path's load_event + to_report, each with its event_id",
    )
    p.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="NAME=COLUMNS",
        help="an extra index on bugs, e.g. ix_n=occurrence_count,id: its cost to the writer (repeatable)",
    )
    p.add_argument(
        "--moving-clock",
        action="store_true",
        help="each report 1 ms after the one before: every count moves its bugs' last_seen, as "
        "under real load (else all share one time and PostgreSQL can update bugs in place, HOT)",
    )
    p.add_argument("--profile", type=Path, help="write a cProfile of the measured stores to this file")
    p.add_argument(
        "--schema", default=PG_SCHEMA, help=f"the PostgreSQL schema (default {PG_SCHEMA}), dropped first"
    )
    args = p.parse_args(argv)

    from logcenter.db import WalCheckpointer, create_db_engine, create_session_factory
    from logcenter.ingest.schemas import ReportIn, to_report
    from logcenter.ingest.writer import BatchCommitter
    from logcenter.logs import configure_logging
    from logcenter.migrations import upgrade

    configure_logging("warning")  # no per-batch debug lines (the server logs at info)
    with tempfile.TemporaryDirectory(prefix="logcenter-store-") as tmp:
        if args.db == "sqlite":
            url = f"sqlite:///{tmp}/store.db"
        else:
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE")
                conn.execute(f"CREATE SCHEMA {args.schema}")
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{args.schema}"
        engine = create_db_engine(url, pool_size=2)
        checkpointer = None
        if args.db == "sqlite":
            WalCheckpointer.disable_autocheckpoint(engine)
            checkpointer = WalCheckpointer(engine)
        if args.sqlite_pragma and args.db == "sqlite":
            from sqlalchemy import event

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                for pragma in args.sqlite_pragma:
                    dbapi_connection.execute(f"PRAGMA {pragma}")

        try:
            upgrade(engine)
            for index in args.index:
                name, columns = index.split("=", 1)
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"CREATE INDEX {name} ON bugs ({columns})")
            if checkpointer:
                checkpointer.start()
            factory = create_session_factory(engine)
            timer = StatementTimer(engine)
            timer.watch_commits()

            frame_batches = 200 if checkpointer else 0
            total = args.warmup + args.reports + frame_batches * args.batch
            now = datetime.now(UTC)
            if args.sentry:
                project_pk = _sentry_project(factory)
                bodies = sentry_events(total)
                t0 = time.perf_counter()
                reports = [_sentry_report(b, project_pk, now) for b in bodies]
            else:
                bodies = payloads(total)
                t0 = time.perf_counter()
                reports = [
                    to_report(ReportIn.model_validate_json(b), now=now, max_skew=timedelta(seconds=60))
                    for b in bodies
                ]
            parse_s = time.perf_counter() - t0
            if args.moving_clock:
                for k, report in enumerate(reports):
                    report.timestamp = now + timedelta(milliseconds=k)
            if args.event_ids and not args.sentry:
                for r in reports:
                    r.event_id = uuid.uuid4().hex

            # What the writer does per batch: store it, and count the backlog every --count-interval seconds.
            committer = BatchCommitter(factory, retention=args.retention, count_interval=args.count_interval)

            def store(chunk: list[Any]) -> None:
                committer.write(chunk)
                committer.count(if_due=True)
                if checkpointer:
                    checkpointer.settle()

            for i in range(0, args.warmup, args.batch):
                store(reports[i : min(i + args.batch, args.warmup)])
            measured = reports[args.warmup : args.warmup + args.reports]
            timer.enabled = True
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            wal_lsn = _pg_wal_lsn(engine) if args.db == "postgres" else ""
            t0 = time.perf_counter()
            batches = 0
            for i in range(0, len(measured), args.batch):
                store(measured[i : i + args.batch])
                batches += 1
            committer.count()
            store_s = time.perf_counter() - t0
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            timer.enabled = False
            pg_wal = _pg_wal_by_table(engine, wal_lsn) if args.db == "postgres" else Counter()
            frames = 0.0
            by_table: Counter[str] = Counter()
            if checkpointer:
                checkpointer.stop()
                with engine.connect() as conn:
                    conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                rest = reports[args.warmup + args.reports :]
                for i in range(0, len(rest), args.batch):
                    store(rest[i : i + args.batch])
                committer.count()
                with engine.connect() as conn:
                    page_size = conn.connection.driver_connection.execute("PRAGMA page_size").fetchone()[0]
                wal = Path(f"{tmp}/store.db-wal").stat().st_size
                frames = max(0, wal - 32) / (24 + page_size) / frame_batches
                by_table = wal_pages_by_table(f"{tmp}/store.db", page_size)
            committer.close()
        finally:
            engine.dispose()
            if args.db == "postgres":
                import psycopg

                with contextlib.suppress(Exception), psycopg.connect(PG_DSN, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE")

    n = len(measured)
    sql_s = sum(timer.total.values()) + timer.commit_s
    print(
        f"{args.db}: {n:,} {'Sentry ' if args.sentry else ''}reports"
        f"{' with event ids' if args.event_ids or args.sentry else ''} in batches of {args.batch} "
        f"({batches:,} transactions, after {args.warmup:,} unmeasured)"
    )
    parse = "load_event + sentry to_report" if args.sentry else "ReportIn.model_validate_json + to_report"
    size = sum(len(r.message) + len(r.stack_trace) + len(r.context) + len(r.data) for r in measured) / n
    print(f"  parse ({parse}): {1e6 * parse_s / len(bodies):7.1f} us/report; {size:,.0f} bytes of text each")
    print(
        f"  store_batch + commit: {1e6 * store_s / n:7.1f} us/report, "
        f"{1e3 * store_s / batches:6.2f} ms/batch "
        f"-> {n / store_s:,.0f} reports/s for one writer thread"
    )
    print(
        f"  of which in the DB driver: {1e6 * sql_s / n:7.1f} us/report ({100 * sql_s / store_s:.0f}%, "
        f"COMMIT {1e3 * timer.commit_s / batches:.2f} ms/batch); "
        f"Python (SQLAlchemy + service): {1e6 * (store_s - sql_s) / n:7.1f} us/report"
    )
    if pg_wal:
        total_wal = sum(pg_wal.values())
        print(f"  WAL of this schema: {total_wal / batches:,.0f} bytes per batch, by owner:")
        for name, size in pg_wal.most_common(16):
            print(f"    {size / batches:8,.0f}  {name}")
    if frames:
        per_report = frames / args.batch
        print(f"  WAL: {frames:.1f} pages written per batch ({per_report:.1f} per report), by owner:")
        for name, count in by_table.most_common():
            print(f"    {count / frame_batches:6.1f}  {name}")
    print("  per statement (driver time per batch, calls per batch):")
    for key, total in sorted(timer.total.items(), key=lambda kv: -kv[1]):
        print(f"    {1e3 * total / batches:6.3f} ms  {timer.count[key] / batches:4.1f}x  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
