"""Server time of the web UI's board and bug pages on a large database (issue 17): not a timed test.

    python bench/web.py --db sqlite|postgres [--bugs 100000 --occurrences 1000000] [--repeat 7] [--only API]

Builds (once; `--rebuild` to start over) a database by the migrations with --bugs bugs over 20 projects in
every status and --occurrences occurrences, hourly counts over 30 days and a history row per status change,
then logs in as a reviewer and times each page in process (FastAPI TestClient: routing, the services' queries,
template rendering; no sockets) --repeat times, printing the median and the worst in milliseconds. The JSON
API's list with the same filters is timed alongside for comparison, and its page 200 by offset and by cursor
(`--only API`: those alone). SQLite: a file under /tmp; PostgreSQL: 127.0.0.1:5432, database `test`, schema
`bench_web` (`--sqlite-path`, `--schema` to choose others).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from logcenter.auth import service as auth_service  # noqa: E402
from logcenter.auth.models import Scope  # noqa: E402
from logcenter.bugs.models import (  # noqa: E402
    Bug,
    BugEvent,
    BugHourlyCount,
    Occurrence,
    ProjectDailyCount,
)
from logcenter.config import Settings  # noqa: E402
from logcenter.db import create_db_engine, create_session_factory  # noqa: E402
from logcenter.migrations import upgrade  # noqa: E402
from logcenter.projects.models import Project  # noqa: E402
from logcenter.users import service as users_service  # noqa: E402
from logcenter.users.models import Role  # noqa: E402

SQLITE_PATH = Path("/tmp/logcenter-bench-web.db")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_web"
STATUSES = [
    ("NEW", 60),
    ("FAILED", 15),
    ("DEPLOYED", 12),
    ("MERGED", 10),
    ("PENDING_REVIEW", 2),
    ("FIXING", 1),
]
TYPES = ["TypeError", "KeyError", "ValueError", "DatabaseTimeout", "ZeroDivisionError", "AttributeError"]


def url_for(db: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{SQLITE_PATH}"
    return f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}"


def build(db: str, bugs: int, occurrences: int, rebuild: bool) -> str:
    url = url_for(db)
    if db == "sqlite":
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
    else:
        admin = create_db_engine(PG_URL, pool_size=1)
        with admin.begin() as conn:
            if rebuild:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
        admin.dispose()
    engine = create_db_engine(url, pool_size=2)
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM bugs")).scalar_one()
    if have >= bugs:
        print(f"using the existing database: {have:,} bugs", flush=True)
        engine.dispose()
        return url
    rng = random.Random(17)
    now = datetime.now(UTC).replace(microsecond=0)
    weights = [w for _, w in STATUSES]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(Project),
            [
                {"slug": f"project_{i}", "ingest_key": f"{i:032x}", "created_at": now, "updated_at": now}
                for i in range(20)
            ],
        )
        project_ids = conn.execute(text("SELECT id FROM projects ORDER BY id")).scalars().all()
    chunk = 5000
    per_bug = max(1, occurrences // bugs)
    daily: dict[tuple[int, Any], int] = {}  # what the ingest counter keeps with the hourly counts
    for start in range(0, bugs, chunk):
        rows, events, occ, hourly = [], [], [], []
        for n in range(start, min(start + chunk, bugs)):
            status = rng.choices([s for s, _ in STATUSES], weights)[0]
            first = now - timedelta(minutes=rng.randrange(60 * 24 * 90))
            last = first + timedelta(minutes=rng.randrange(60 * 24 * 30))
            if last > now:  # seen until now: spread over the last day, not all at `now`
                last = now - timedelta(seconds=rng.randrange(86400))
            changed = last + timedelta(minutes=rng.randrange(600)) if status != "NEW" else first
            changed = min(changed, now)
            etype = TYPES[n % len(TYPES)]
            rows.append(
                {
                    "id": n + 1,
                    "project_id": project_ids[n % 20],
                    "fingerprint": f"{n:032x}",
                    "source": "runtime",
                    "error_type": etype,
                    "message": f"{etype} number {n}: something went wrong in request {n * 7}",
                    "file_path": f"app/module_{n % 500}.py",
                    "line_number": n % 900 + 1,
                    "stack_trace": "Traceback (most recent call last):\n"
                    f'  File "app/module_{n % 500}.py", line {n % 900 + 1}, in handler\n'
                    f"    do_it()\n{etype}: number {n}",
                    "level": "ERROR",
                    "environment": ("production", "staging")[n % 2],
                    "context": {"url": "/x"},
                    "status": status,
                    "status_changed_at": changed,
                    "occurrence_count": per_bug,
                    "first_seen": first,
                    "last_seen": last,
                    "created_at": first,
                    "updated_at": changed,
                }
            )
            events.append(
                {
                    "bug_id": n + 1,
                    "kind": "created",
                    "from_status": None,
                    "to_status": "NEW",
                    "actor": "ingest",
                    "note": "First seen",
                    "created_at": first,
                }
            )
            if status != "NEW":
                events.append(
                    {
                        "bug_id": n + 1,
                        "kind": "status",
                        "from_status": "FIXING",
                        "to_status": status,
                        "actor": "agent",
                        "note": None,
                        "created_at": changed,
                    }
                )
            for k in range(per_bug):
                ts = first + (last - first) * (k / per_bug)
                occ.append(
                    {
                        "bug_id": n + 1,
                        "project_id": project_ids[n % 20],
                        "timestamp": ts,
                        "received_at": ts,
                        "environment": "production",
                        "level": "ERROR",
                        "message": f"number {n}",
                        "stack_trace": "",
                        "context": {},
                        "data": {},
                    }
                )
            hourly.append({"bug_id": n + 1, "hour": last.replace(minute=0, second=0), "count": per_bug})
            day = (project_ids[n % 20], last.date())
            daily[day] = daily.get(day, 0) + per_bug
        with engine.begin() as conn:
            conn.execute(insert(Bug), rows)
            conn.execute(insert(BugEvent), events)
            conn.execute(insert(Occurrence), occ)
            conn.execute(insert(BugHourlyCount), hourly)
        print(f"  {min(start + chunk, bugs):,} bugs ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as conn:
        conn.execute(
            insert(ProjectDailyCount),
            [{"project_id": p, "day": day, "count": n} for (p, day), n in sorted(daily.items())],
        )
        if db == "postgresql":
            conn.execute(text("SELECT setval('bugs_id_seq', (SELECT max(id) FROM bugs))"))
    # As autovacuum would have by now: statistics, and the visibility map index-only scans rely on.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db == "postgresql" else "ANALYZE"))
    engine.dispose()
    return url


def main() -> None:
    global SQLITE_PATH, PG_SCHEMA
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--bugs", type=int, default=100_000)
    parser.add_argument("--occurrences", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--sqlite-path", type=Path, help=f"the SQLite database file ({SQLITE_PATH})")
    parser.add_argument("--schema", help=f"the PostgreSQL schema ({PG_SCHEMA})")
    parser.add_argument("--only", help="time only the pages whose name contains this text (e.g. API)")
    args = parser.parse_args()
    SQLITE_PATH, PG_SCHEMA = args.sqlite_path or SQLITE_PATH, args.schema or PG_SCHEMA

    from fastapi.testclient import TestClient

    from logcenter.main import create_app

    url = build(args.db, args.bugs, args.occurrences, args.rebuild)
    factory = create_session_factory(create_db_engine(url, pool_size=2))
    with factory() as session:
        if not session.execute(text("SELECT 1 FROM users WHERE username = 'bench'")).first():
            users_service.create_user(
                session, username="bench", password="bench-password", role=Role.REVIEWER
            )
        _, token = auth_service.create_token(session, name="bench", scope=Scope.ADMIN)
        session.commit()
    # No job worker: its jobs are not page time, and on a database built in bulk the notification dispatcher
    # would turn the 140,000 history rows into deliveries while the pages are timed.
    app = create_app(Settings(database_url=url, count_interval=0, lease_sweep_seconds=3600, job_worker=False))
    with TestClient(app) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "bench", "password": "bench-password", "csrf_token": csrf})
        board = client.get("/?status=NEW")
        cursor = re.search(r"cursor=([A-Za-z0-9_-]+)", board.text).group(1)  # type: ignore[union-attr]
        deep = cursor
        for _ in range(199):  # page 200 of the NEW list
            page = client.get(f"/?status=NEW&cursor={deep}&partial=1")
            deep = re.search(r'cursor=([A-Za-z0-9_-]+)" rel="next"', page.text).group(1)  # type: ignore[union-attr]
        api = {"Authorization": f"Bearer {token}"}
        api_deep = None
        for _ in range(199):  # the API's page 200 of the NEW list, by cursor
            listed = client.get("/api/v1/bugs", params={"status": "NEW", "cursor": api_deep}, headers=api)
            api_deep = listed.json().get("next_cursor")  # None from a server without cursors: offset again
        pages = [
            ("board (first page, sections)", "/", {}),
            ("board status=NEW,FAILED", "/?status=NEW,FAILED", {}),
            ("board status=PENDING_REVIEW", "/?status=PENDING_REVIEW", {}),
            ("board project=project_3", "/?project=project_3", {}),
            ("board q=DatabaseTimeout", "/?q=DatabaseTimeout", {}),
            ("board q=(one bug's message)", f"/?q=request+{7 * (args.bugs // 3)}", {}),
            ("board page 200 (keyset)", f"/?status=NEW&cursor={deep}", {}),
            ("board live refresh (partial)", "/?partial=1", {}),
            ("bug detail", f"/bugs/{args.bugs // 2}", {}),
            ("stats (7 days)", "/stats", {}),
            ("API list status=NEW,FAILED", "/api/v1/bugs?status=NEW,FAILED", api),
            ("API list page 200 (offset)", "/api/v1/bugs?status=NEW&page=200", api),
            ("API list page 200 (cursor)", f"/api/v1/bugs?status=NEW&cursor={api_deep or ''}", api),
            ("API list sort=-first_seen", "/api/v1/bugs?sort=-first_seen", api),
            ("API list sort=first_seen NEW,FAILED", "/api/v1/bugs?sort=first_seen&status=NEW,FAILED", api),
            ("API list sort=-occurrence_count", "/api/v1/bugs?sort=-occurrence_count", api),
            (
                "API list sort=-occ.._count NEW,FAILED",
                "/api/v1/bugs?sort=-occurrence_count&status=NEW,FAILED",
                api,
            ),
        ]
        print(
            f"\n{args.db}: {args.bugs:,} bugs, {args.occurrences:,} occurrences; ms over {args.repeat} runs"
        )
        print(f"{'page':34} {'median':>8} {'worst':>8}")
        for name, path, headers in pages:
            if args.only and args.only not in name:
                continue
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
            print(f"{name:34} {statistics.median(times):8.1f} {max(times):8.1f}", flush=True)


if __name__ == "__main__":
    main()
