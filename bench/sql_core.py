"""What SQLAlchemy Core costs the ingest writer per statement, against the DBAPI cursor ingest/sql.py uses.

    python bench/sql_core.py [--db sqlite|postgres] [--rounds 3000]

One batch's occurrence insert (8 rows), run alternately through `BatchSQL` (a raw cursor, ingest/sql.py) and
through Core (`insert(table)` built once, so SQLAlchemy's compiled cache serves every run, with the very same
bound values already in the driver's types, so no type processing is counted), inside transactions rolled
back every 200 rounds. Prints the median of each. Not a test: it only prints numbers.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import column, insert, table, text

from logcenter.db import create_db_engine
from logcenter.ingest.sql import _INSERT_OCCURRENCES, BatchSQL
from logcenter.migrations import upgrade

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = ("bug_id", "project_id", "event_id", "timestamp", "received_at", "environment", "level", "version",
           "commit_hash", "message", "stack_trace", "context", "data")  # fmt: skip
ROWS = 8


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--rounds", type=int, default=3000)
    args = p.parse_args()
    if args.db == "postgres":
        admin = create_db_engine(PG, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS bench_core CASCADE"))
            conn.execute(text("CREATE SCHEMA bench_core"))
        url = f"{PG}?options=-csearch_path%3Dbench_core"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/core.db"
    engine = create_db_engine(url, pool_size=2)
    upgrade(engine)
    now = datetime.now(UTC)
    project = (
        "INSERT INTO projects (slug, name, ingest_key, created_at, updated_at) VALUES ('p', 'p', :k, :t, :t)"
    )
    bug = (
        "INSERT INTO bugs (project_id, fingerprint, source, error_type, message, stack_trace, level,"
        " environment, status, status_changed_at, occurrence_count, first_seen, last_seen, created_at,"
        " updated_at, context) VALUES (1, :f, 'runtime', 'E', 'm', '', 'ERROR', 'prod', 'NEW', :t, 0, :t,"
        " :t, :t, :t, '{}')"
    )
    with engine.begin() as conn:
        conn.execute(text(project), {"k": "k" * 32, "t": now})
        conn.execute(text(bug), {"f": "f" * 32, "t": now})
    occurrences = table("occurrences", *(column(c) for c in COLUMNS))  # untyped: no bind processing
    core_insert = insert(occurrences)
    with engine.connect() as conn:
        sql = BatchSQL(conn)
        stamp = sql.ts(now)
        values = (
            1,
            1,
            None,
            stamp,
            stamp,
            "prod",
            "ERROR",
            "1.0",
            None,
            "m" * 100,
            "s" * 500,
            '{"a":1}',
            "{}",
        )
        raw_rows = [values] * ROWS
        core_rows = [dict(zip(COLUMNS, values, strict=True))] * ROWS
        raw, core = [], []
        for n in range(args.rounds):
            t0 = time.perf_counter()
            BatchSQL(conn)._put(_INSERT_OCCURRENCES, raw_rows)
            t1 = time.perf_counter()
            conn.execute(core_insert, core_rows)
            raw.append(t1 - t0)
            core.append(time.perf_counter() - t1)
            if n % 200 == 199:
                conn.rollback()
        conn.rollback()
    engine.dispose()
    print(
        f"{args.db}: insert of {ROWS} occurrences, median per statement: DBAPI cursor (BatchSQL)"
        f" {statistics.median(raw) * 1e6:.0f} us, SQLAlchemy Core {statistics.median(core) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
