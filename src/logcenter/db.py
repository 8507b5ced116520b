"""Engine, sessions, declarative base and the column types shared by every feature."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from sqlalchemy import DateTime, Engine, MetaData, Text, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from logcenter.process import CHECKPOINT_THREAD, name_this_thread

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Execution option that makes a SQLite transaction take the write lock at BEGIN. Writers need it: a deferred
# transaction that reads and then writes can fail with "database is locked" instead of waiting for the lock.
log = structlog.get_logger(__name__)

IMMEDIATE = {"logcenter_immediate": True}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON stored as text. Unlike jsonb it keeps any string a client sent (NUL escapes included)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return orjson.loads(value)


__all__ = ["IMMEDIATE", "Base", "JSONText", "UTCDateTime", "create_db_engine", "session_scope", "utcnow"]


def _prepare_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine; on SQLite turn on WAL, a busy timeout and explicit BEGIN handling."""
    if url.startswith("sqlite"):
        _prepare_sqlite_path(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=2 * pool_size,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("logcenter_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _pg_connect(dbapi_connection: Any, _record: Any) -> None:
        # psycopg prepares a statement after 5 runs, and PostgreSQL may then keep a generic plan made while
        # a table was nearly empty (a new install): a sequential scan of occurrences per event-id check,
        # until autovacuum's ANALYZE invalidates it, many times slower per batch. Plan each
        # execution for its parameters and the table as it is now; these statements plan in microseconds.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()

    return engine


class WalCheckpointer:
    """SQLite: run WAL checkpoints on a thread of their own, in parallel with the one writer's commits.

    By default SQLite checkpoints inside the COMMIT that pushes the WAL past 1,000 pages: copying pages to the
    database file and two fsyncs, while every request of that batch waits. The ingest writer process turns
    that off on its connection (`PRAGMA wal_autocheckpoint=0`) and starts this thread, which copies the WAL
    into the database every `interval` seconds (PASSIVE: it never blocks the writer; sqlite3 releases the GIL
    meanwhile, so it runs on another core). The writer calls `settle()` between batches: when the WAL has
    grown past `max_pages`, it checkpoints what is left itself, so that its next transaction can start the WAL
    over from the beginning instead of growing it without bound. (Under steady load the thread's checkpoints
    never catch up with the commits, so only this restarts the WAL.) That costs the writer the checkpoint's
    two fsyncs whatever the WAL's length, while every waiting request waits with it: 4,000 pages (16 MiB)
    rather than SQLite's usual 1,000 make it four times rarer.
    """

    def __init__(self, engine: Engine, *, interval: float = 0.05, max_pages: int = 4000) -> None:
        self._engine = engine
        self._interval = interval
        self._max_pages = max_pages
        self._wal_pages = 0  # frames in the WAL at the last checkpoint
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logcenter-wal-checkpoint", daemon=True)

    @staticmethod
    def disable_autocheckpoint(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def settle(self) -> None:
        """Between two of the writer's transactions: checkpoint in line if the WAL grew too long."""
        if self._wal_pages > self._max_pages:
            with self._engine.connect() as connection:  # outside any transaction: raw DBAPI connection
                self._checkpoint(connection.connection.driver_connection)
            self._wal_pages = 0  # all copied: the next write transaction starts the WAL over

    def _run(self) -> None:
        name_this_thread(CHECKPOINT_THREAD)
        raw = self._engine.raw_connection()
        try:
            while not self._stop.wait(self._interval):
                try:
                    self._wal_pages = self._checkpoint(raw.driver_connection)
                except Exception:  # a locked database, a full disk: the writer's own settle() still runs
                    log.warning("db.checkpoint_failed", exc_info=True)
        finally:
            raw.close()

    @staticmethod
    def _checkpoint(dbapi_connection: Any) -> int:
        """Copy what can be copied now; returns the WAL's length in pages."""
        _busy, wal_pages, _copied = dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        return max(int(wal_pages), 0)


def sqlite_cache_size(engine: Engine, mib: int) -> None:
    """SQLite: a page cache of `mib` MiB per connection of `engine` (SQLite's default is 2 MiB).

    For the ingest writer: pruning deletes each bug's oldest occurrences, spread over the whole table, and
    with the default cache every one of their pages is read back from the OS.
    """

    @event.listens_for(engine, "connect")
    def _cache_size(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA cache_size=-{int(mib) * 1024}")


def upsert_insert(session: Session, table: Any) -> Any:
    """An INSERT with ON CONFLICT support for the session's backend (SQLite and PostgreSQL share the API)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (takes SQLite's write lock up front)."""
    session.connection(execution_options=IMMEDIATE)


@contextmanager
def session_scope(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error: for jobs, CLI and writers."""
    with factory() as session:
        if write:
            begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def part_limit(limit: int, done: int, elapsed: float, *, target: float, floor: int, ceiling: int) -> int:
    """The size of the next part of a backlog worked through one transaction at a time, after a part that did
    `done` in `elapsed` seconds with `limit`: about `target` seconds' worth, at least `floor`, at most
    `ceiling`, and no more than twice `limit` at once (one quick part says little about the next)."""
    if done <= 0 or elapsed <= 0:
        return limit
    fits = int(done * target / elapsed)
    return max(min(floor, ceiling), min(ceiling, 2 * limit, fits))


# A job's part of a backlog holds SQLite's one write lock, which the ingest writer then waits for (polling in
# SQLite's busy handler, every 100 ms at worst), and the GIL of the HTTP worker it runs in.
JOB_PART_SECONDS = 0.01
JOB_PART_FLOOR = 10


def write_in_parts(
    factory: sessionmaker[Session], step: Callable[[Session, int], int], *, ceiling: int
) -> int:
    """Work through a backlog in write transactions: `step(session, limit)` does at most `limit` and says how
    much it did; parts follow until one does less than its limit. Returns the sum.

    For jobs (notifications to dispatch, search notes): each part is sized to take about JOB_PART_SECONDS and
    is followed by a pause as long as it took, so that a backlog of thousands (say, a burst of new bugs)
    costs the ingest writer and the HTTP worker many short waits rather than one of a second or more.
    """
    limit = min(ceiling, JOB_PART_FLOOR)
    total = 0
    while True:
        started = time.perf_counter()
        with session_scope(factory) as session:
            done = step(session, limit)
        elapsed = time.perf_counter() - started
        total += done
        if done < limit:
            return total
        limit = part_limit(
            limit, done, elapsed, target=JOB_PART_SECONDS, floor=JOB_PART_FLOOR, ceiling=ceiling
        )
        time.sleep(elapsed)
