"""Fixtures shared by every test: real databases built by the migrations, the real app, a live server.

Every test that touches the database runs twice, on SQLite and on PostgreSQL (127.0.0.1:5432, database
`test`, or LOGCENTER_TEST_POSTGRES_URL). `--db sqlite` or `--db postgresql` runs one backend only.
PostgreSQL must be reachable: a missing server fails the run, it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from logcenter.auth import service as auth_service
from logcenter.auth.models import Scope
from logcenter.config import Settings
from logcenter.db import create_db_engine, create_session_factory
from logcenter.main import create_app
from logcenter.migrations import upgrade
from logcenter.models import Base
from logcenter.users import service as users_service
from tests.ports import free_port

pytest_plugins = ["tests.forgefake.fixtures"]  # fake_gitea, fake_github, fake_gitlab, fake_forge, origin_repo

# The web UI users the tests make and log in hash their passwords with argon2 at its lowest cost instead of
# 3 passes over 64 MiB (0.1-0.6 s a hash on the CI machine), set through the real settings: every Settings the
# tests build and every server or CLI they start inherits it. tests/web/test_passwords.py checks the setting.
os.environ.update(
    LOGCENTER_PASSWORD_HASH_TIME_COST="1",
    LOGCENTER_PASSWORD_HASH_MEMORY_KIB="8",
    LOGCENTER_PASSWORD_HASH_PARALLELISM="1",
)
users_service.configure_passwords(Settings())  # for users a test makes before it builds an app

POSTGRES_URL = os.environ.get(
    "LOGCENTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", choices=BACKENDS, action="append", help="run database tests on this backend only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db") or list(BACKENDS)
        metafunc.parametrize("backend", chosen, scope="session")


@dataclass
class Database:
    backend: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    # The rows the migrations themselves insert (the notifications cursor of 0014), put back by `reset`: every
    # test starts from the database the migrations built, whether it runs first or after another test.
    seed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def take_seed(self) -> None:
        with self.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                if rows := [dict(r._mapping) for r in conn.execute(table.select())]:
                    self.seed[table.name] = rows

    def reset(self) -> None:
        """Empty every table and start its ids at 1 again (the schema stays, as the migrations built it), then
        put back the rows the migrations seeded.

        DELETE, children first, rather than TRUNCATE: on PostgreSQL, TRUNCATE gives every table and index a
        new file, about 0.4 s a test where deleting the few rows a test made takes milliseconds.
        """
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text("; ".join(f"DELETE FROM {table}" for table in tables)))
                conn.execute(text(_RESTART_SEQUENCES))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))
            for name, rows in self.seed.items():
                conn.execute(Base.metadata.tables[name].insert(), rows)


# Every sequence of this run's schema (the ids) starts at 1 again, as after TRUNCATE ... RESTART IDENTITY.
_RESTART_SEQUENCES = """
SELECT setval(c.oid, 1, false) FROM pg_class c
WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace
"""


_databases: dict[str, Database] = {}


def schema_url(schema: str) -> str:
    """The URL of the PostgreSQL test database with `schema` as the search path.

    Its commits do not wait for their WAL to reach the disk (synchronous_commit=off): a commit is visible to
    every other connection at once all the same, only a crash of PostgreSQL itself could lose the last ones,
    and a test run does not survive that anyway. Waiting for the disk took 7-12 ms a commit on the CI machine.
    The app's own setting is untouched: it never changes synchronous_commit.
    """
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


def _create(backend: str, tmp_dir: Path) -> Database:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / 'logcenter-test.db'}"
    else:
        # A schema of our own in the shared `test` database, so parallel runs do not collide.
        schema = f"lc_test_{uuid.uuid4().hex[:10]}"
        admin = create_db_engine(POSTGRES_URL, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        url = schema_url(schema)
    engine = create_db_engine(url, pool_size=5)
    upgrade(engine)
    database = Database(backend, url, engine, create_session_factory(engine))
    database.take_seed()
    return database


@contextlib.contextmanager
def migrated_engine(backend: str, tmp_dir: Path, revision: str) -> Iterator[Engine]:
    """An empty database of this backend (its own SQLite file or PostgreSQL schema), migrated only up to
    `revision`: for tests of what a later migration does to stored data."""
    schema = f"lc_at_{revision}_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(POSTGRES_URL, pool_size=1)
    if backend == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_dir / f'at-{revision}.db'}", pool_size=1)
    else:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_db_engine(schema_url(schema), pool_size=1)
    try:
        upgrade(engine, revision)
        yield engine
    finally:
        engine.dispose()
        if backend != "sqlite":
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


# pytest-xdist (`make test` runs the suite on two workers: `pytest -n 2`). Each worker is a process of its own
# with its own databases (a SQLite file in its temporary folder, a PostgreSQL schema of its own), Chromium,
# and ports (tests/ports.py). Tests go to whichever worker is free, one by one, except the modules below:
# their tests share a module-scoped server and run on one worker, which starts it once per backend.
# (pytest-xdist's own `xdist_group` mark does not group with pytest 9: it renames node ids through an
# attribute pytest no longer reads, hence this scheduler.)
ONE_WORKER_MODULES = {"tests/hardening/test_event_loop.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "load":
        return None  # another --dist was asked for: pytest-xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        """`--dist load`, with the tests of each of ONE_WORKER_MODULES sent to one worker together."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return Scheduler(config, log)


@pytest.fixture(scope="session")
def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if backend not in _databases:
        _databases[backend] = _create(backend, tmp_path_factory.mktemp(backend))
    yield _databases[backend]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for db in _databases.values():
        if db.backend == "postgresql":
            schema = db.url.split("search_path%3D", 1)[1].split("%20", 1)[0]
            db.engine.dispose()
            admin = create_db_engine(POSTGRES_URL, pool_size=1)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
        else:
            db.engine.dispose()


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    """The database of this test's backend, emptied after the test."""
    yield database
    database.reset()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.factory() as s:
        yield s


@pytest.fixture
def settings(db: Database) -> Settings:
    # No background job worker: a test runs the jobs it means to with logcenter.jobs.run_pending (a worker
    # thread's writes would race the test's own SQLite sessions). tests/jobs/ tests the worker itself.
    return Settings(
        database_url=db.url,
        database_pool_size=5,
        lease_sweep_seconds=3600,
        count_interval=0,
        job_worker=False,
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def make_token(db: Database, scope: Scope, name: str) -> str:
    with db.factory() as s:
        _, token = auth_service.create_token(s, name=name, scope=scope)
        s.commit()
    return token


@pytest.fixture
def admin_token(db: Database) -> str:
    return make_token(db, Scope.ADMIN, "alice")


@pytest.fixture
def admin_headers(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def agent_headers(db: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(db, Scope.AGENT, 'repair-bot')}"}


@dataclass
class LiveServer:
    url: str
    port: int
    app: FastAPI
    settings: Settings


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # runs in a thread: leave the test runner's signals alone
        pass


def run_live_server(app: FastAPI) -> Iterator[tuple[str, int]]:
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def live_server(app: FastAPI, settings: Settings) -> Iterator[LiveServer]:
    """The real app served by uvicorn on a free port, for real HTTP clients (SDKs, concurrency tests)."""
    for url, port in run_live_server(app):
        yield LiveServer(url=url, port=port, app=app, settings=settings)


@pytest.fixture
def api(live_server: LiveServer, admin_headers: dict[str, str]) -> Iterator[httpx.Client]:
    """An admin's HTTP client of the live server, to check through the API what real clients sent it."""
    with httpx.Client(base_url=live_server.url, headers=admin_headers, timeout=10) as client:
        yield client


CHROMIUM = "/usr/bin/chromium"


class _Chromium:
    """The Chromium that consecutive browser tests share: starting Playwright's driver and the browser costs
    2-3 s, a new context (fresh cookies and storage) per test little.

    Playwright's sync API keeps an event loop running in this thread while it is open, and other tests call
    asyncio.run(): it is closed after the last of a run of tests that use it (pytest_runtest_teardown below).
    """

    playwright: Any = None
    browser: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.browser is not None and not cls.browser.is_connected():  # it crashed: start again
            cls.close()
        if cls.browser is None:
            from playwright.sync_api import expect, sync_playwright

            if not Path(CHROMIUM).exists():
                pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium package)")
            cls.playwright = sync_playwright().start()
            # How long expect() waits for what a test asserts to show (5 s by default; a batch merge of three
            # pull requests took longer on a busy 2-core machine): what it asserts is unchanged.
            expect.set_options(timeout=15_000)
            try:
                cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM)
            except BaseException:
                cls.close()
                raise
        return cls.browser

    @classmethod
    def close(cls) -> None:
        browser, playwright = cls.browser, cls.playwright
        cls.browser = cls.playwright = None
        try:
            if browser is not None and browser.is_connected():
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright. Consecutive tests share the browser process; what a test opens
    in it (contexts, pages, cookies) is closed when it ends."""
    browser = _Chromium.get()
    yield browser
    for context in list(browser.contexts):
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)  # the test's fixtures first: they close their pages
    finally:
        if _Chromium.playwright is not None and (nextitem is None or "browser" not in nextitem.fixturenames):
            _Chromium.close()
