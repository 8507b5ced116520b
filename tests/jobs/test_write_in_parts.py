"""db.write_in_parts: how jobs work through a backlog (notifications to dispatch, search notes) without
keeping the ingest writer from SQLite's write lock."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from logcenter.db import (
    JOB_PART_FLOOR,
    create_db_engine,
    create_session_factory,
    session_scope,
    write_in_parts,
)


def _factory(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'parts.db'}", pool_size=2)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE done (n INTEGER)"))
    return engine, create_session_factory(engine)


def test_a_backlog_goes_in_parts_that_grow_while_they_are_quick(tmp_path):
    engine, factory = _factory(tmp_path)
    backlog = [1000]
    limits = []

    def step(session, limit):
        limits.append(limit)
        n = min(limit, backlog[0])
        session.execute(text("INSERT INTO done VALUES (:n)"), {"n": n})
        backlog[0] -= n
        return n

    assert write_in_parts(factory, step, ceiling=300) == 1000
    with factory() as session:
        assert session.scalar(text("SELECT sum(n) FROM done")) == 1000
    assert limits[0] == JOB_PART_FLOOR  # a first part is small: it may be slow
    assert limits[:4] == [JOB_PART_FLOOR * 2**i for i in range(4)]  # quick ones double
    assert max(limits) == 300  # never past the ceiling
    engine.dispose()


def test_the_ingest_writer_gets_the_write_lock_between_parts(tmp_path):
    """A part that takes long (here 1 ms an item) is kept short, and the job pauses after it: another writer
    waiting for the lock gets it long before the backlog is through, not after."""
    engine, factory = _factory(tmp_path)
    total = 400
    backlog = [total]
    started = threading.Event()

    def step(session, limit):
        started.set()
        n = min(limit, backlog[0])
        time.sleep(n * 0.001)  # holding the write lock
        backlog[0] -= n
        return n

    job = threading.Thread(target=write_in_parts, args=(factory, step), kwargs={"ceiling": total})
    job.start()
    assert started.wait(10)
    with session_scope(factory) as session:  # BEGIN IMMEDIATE: waits for the lock, as the ingest writer does
        left_when_in = backlog[0]
        session.execute(text("INSERT INTO done VALUES (0)"))
    job.join(30)
    assert backlog[0] == 0
    assert left_when_in > 0  # in before the end (without the pauses: only once the backlog is through)
    engine.dispose()
