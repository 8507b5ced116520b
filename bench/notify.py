"""How fast the notification dispatcher turns bug history into deliveries (no network: deliveries are only
queued as jobs). Prints events/s and ms per batch of 500 for a backlog of new bugs and a few channels.

    python bench/notify.py --db sqlite|postgres --events 20000 --channels 5 [--burst 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text

from logcenter.bugs.models import Bug, BugEvent
from logcenter.config import Settings
from logcenter.db import create_db_engine, create_session_factory, session_scope, utcnow
from logcenter.migrations import upgrade
from logcenter.notify import outbox
from logcenter.notify import service as channels
from logcenter.notify.jobs import enqueue_deliveries
from logcenter.notify.schemas import ChannelCreate
from logcenter.projects.models import Project

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def build(url: str, events: int, n_channels: int, burst: int) -> None:
    engine = create_db_engine(url, pool_size=2)
    upgrade(engine)
    factory = create_session_factory(engine)
    settings = Settings(database_url=url)
    now = utcnow()
    with session_scope(factory) as session:
        project = Project(slug="bench", ingest_key="k" * 32, created_at=now, updated_at=now)
        session.add(project)
        session.flush()
        rows = [
            {
                "project_id": project.id, "fingerprint": f"{i:032x}", "source": "runtime",
                "error_type": f"E{i}", "message": "boom " * 20, "file_path": f"app/m{i}.py", "line_number": i,
                "stack_trace": "",
                "level": "ERROR", "environment": "production", "context": {}, "status": "NEW",
                "status_changed_at": now, "occurrence_count": 1, "first_seen": now, "last_seen": now,
                "created_at": now, "updated_at": now,
            }
            for i in range(events)
        ]  # fmt: skip
        session.execute(insert(Bug), rows)
        ids = session.scalars(text("SELECT id FROM bugs ORDER BY id")).all()
        session.execute(
            insert(BugEvent),
            [
                {"bug_id": i, "kind": "created", "from_status": None, "to_status": "NEW", "actor": "ingest",
                 "note": "First seen", "created_at": now}
                for i in ids
            ],
        )  # fmt: skip
        for c in range(n_channels):
            data = ChannelCreate(name=f"c{c}", kind="webhook", url=f"https://hooks.example/{c}")
            channels.create(session, data=data, settings=settings)
    attempts = settings.notify_max_attempts
    batches: list[float] = []
    total_deliveries = 0
    start = time.perf_counter()
    while True:
        t = time.perf_counter()
        with session_scope(factory) as session:
            done = outbox.dispatch(
                session,
                base_url="https://logcenter.example",
                enqueue=lambda s, ids: enqueue_deliveries(s, ids, max_attempts=attempts),
                burst=burst,
                now=utcnow() + timedelta(seconds=1),
            )
        if not done.events:
            break
        batches.append((time.perf_counter() - t) * 1000)
        total_deliveries += done.deliveries
    elapsed = time.perf_counter() - start
    with session_scope(factory, write=False) as session:
        queued = session.scalar(text("SELECT count(*) FROM jobs"))
    engine.dispose()
    batches.sort()
    print(f"events {events}, channels {n_channels}: {total_deliveries} deliveries, {queued} jobs queued")
    print(f"  {events / elapsed:,.0f} events/s, {total_deliveries / elapsed:,.0f} deliveries/s")
    print(
        f"  per batch of {outbox.BATCH}: median {batches[len(batches) // 2]:.0f} ms, max {batches[-1]:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--burst", type=int, default=0, help="burst limit per channel and minute (0: none)")
    args = parser.parse_args()
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            build(f"sqlite:///{Path(folder) / 'bench.db'}", args.events, args.channels, args.burst)
        return
    admin = create_db_engine(POSTGRES, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS bench_notify CASCADE; CREATE SCHEMA bench_notify"))
    try:
        build(f"{POSTGRES}?options=-csearch_path%3Dbench_notify", args.events, args.channels, args.burst)
    finally:
        with admin.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS bench_notify CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
