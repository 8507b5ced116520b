"""Where the ingest writer runs: the writer process of `logcenter serve`, or a thread of an app run alone.

Either way one `WriterServer` (ingest/writer.py) on an event loop of its own, fed over a Unix socket: the
tests run the code production runs. Here: start-up, readiness, restart of a crashed process, and a stop that
commits what was received after the HTTP workers have finished.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.process
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection

import structlog
from sqlalchemy.orm import Session, sessionmaker

from logcenter.config import Settings
from logcenter.db import WalCheckpointer, create_db_engine, create_session_factory, sqlite_cache_size
from logcenter.ingest.writer import BatchCommitter, WriterServer
from logcenter.logs import configure_logging
from logcenter.process import WRITER_PROCESS, name_this_thread, settle_heap

log = structlog.get_logger(__name__)

WRITER_CACHE_MIB = 64  # SQLite page cache of the writer's connections (db.sqlite_cache_size)


def new_committer(settings: Settings, session_factory: sessionmaker[Session]) -> BatchCommitter:
    return BatchCommitter(
        session_factory,
        retention=settings.occurrence_retention,
        count_interval=settings.count_interval,
        quota_per_minute=settings.project_quota_per_minute,
        dedup_window=settings.sentry_dedup_window,
    )


async def serve_writer(
    committer: BatchCommitter,
    settings: Settings,
    path: str,
    *,
    started: Callable[[], None],
    stopped: asyncio.Future[None],
    after_batch: Callable[[], None] | None = None,
) -> None:
    """Commit what HTTP workers send to `path` until `stopped` is done, then what was received."""
    writer = WriterServer(
        committer,
        max_batch=settings.writer_max_batch,
        queue_size=settings.writer_queue_size,
        after_batch=after_batch,
    )
    server = await writer.listen(path)
    started()
    await stopped
    server.close()
    try:
        writer.drain()
    finally:  # a connection left open outlives the loop: its socket is never closed
        await writer.close_connections()


def writer_main(settings: Settings, path: str, lifeline: Connection, ready: Connection) -> None:
    """The writer process: serve `path` until the lifeline closes (the parent stopped or died), then drain.

    Signals are ignored: Ctrl-C or a service manager's SIGTERM reach the whole process group at once, and the
    HTTP workers still need the writer to answer the requests they finish during their graceful shutdown.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    name_this_thread(WRITER_PROCESS)
    configure_logging(settings.log_level)
    engine = create_db_engine(settings.database_url, pool_size=2)
    checkpointer = None
    if engine.dialect.name == "sqlite":
        WalCheckpointer.disable_autocheckpoint(engine)
        sqlite_cache_size(engine, WRITER_CACHE_MIB)
        checkpointer = WalCheckpointer(engine)
        checkpointer.start()
    committer = new_committer(settings, create_session_factory(engine))
    committer.count()  # what an earlier writer stored and did not count (it was killed)
    settle_heap()  # imports and engine are long-lived (logcenter/process.py)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()
        # EOF on the lifeline: the parent closed its end, or died.
        loop.add_reader(lifeline.fileno(), _settle, closed)

        def started() -> None:
            ready.send(os.getpid())
            ready.close()
            log.info(
                "writer.started", pid=os.getpid(), database=engine.url.render_as_string(hide_password=True)
            )

        after_batch = checkpointer.settle if checkpointer is not None else None
        await serve_writer(
            committer, settings, path, started=started, stopped=closed, after_batch=after_batch
        )
        await asyncio.sleep(0.1)  # let the last answers leave the socket buffers
        loop.remove_reader(lifeline.fileno())
        log.info("writer.stopped")

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve())
    finally:
        committer.close()
        if checkpointer is not None:
            checkpointer.stop()
        engine.dispose()


class WriterThread:
    """The writer of an app run without `logcenter serve` (the tests, `uvicorn logcenter.main:create_app`):
    the writer process's server and schedule, on a thread of the app's own process."""

    def __init__(self, committer: BatchCommitter, settings: Settings) -> None:
        self._committer = committer
        self._settings = settings
        self._dir = tempfile.mkdtemp(prefix="logcenter-")  # mode 0700, as the writer process's
        self.path = os.path.join(self._dir, "writer.sock")
        self._stop: Callable[[], object] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._committer.count()  # what an earlier writer stored and did not count
        ready = threading.Event()
        listening: list[bool] = []

        def started() -> None:
            listening.append(True)
            ready.set()

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            stopped: asyncio.Future[None] = loop.create_future()
            self._stop = partial(loop.call_soon_threadsafe, _settle, stopped)
            try:
                await serve_writer(
                    self._committer, self._settings, self.path, started=started, stopped=stopped
                )
            finally:
                ready.set()

        def run() -> None:
            # The writer process's loop (uvloop): asyncio's selector loop sets up each accepted connection in
            # a task of its own, which a stop could leave with its socket open (an unclosed-socket warning).
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(serve())

        self._thread = threading.Thread(target=run, name="logcenter-writer", daemon=True)
        self._thread.start()
        ready.wait()
        if not listening:
            raise RuntimeError("the ingest writer thread failed to start")

    def stop(self, timeout: float = 30.0) -> None:
        """Commit and count what was received, then end the thread (once the app takes no more reports)."""
        if self._thread is not None and self._stop is not None and self._thread.is_alive():
            self._stop()
            self._thread.join(timeout)
        self._thread = None
        self._committer.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard], as for the HTTP workers)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class WriterProcess:
    """`logcenter serve`'s handle on the writer process: start it, restart it if it dies, stop it last."""

    def __init__(self, settings: Settings, *, start_timeout: float = 60.0) -> None:
        self._settings = settings
        self._start_timeout = start_timeout
        self._dir = tempfile.mkdtemp(prefix="logcenter-")  # mode 0700: only this user can reach the socket
        self.path = os.path.join(self._dir, "writer.sock")
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._lifeline: Connection | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="logcenter-writer-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        ready_recv, ready_send = self._context.Pipe(duplex=False)
        life_recv, life_send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=writer_main,
            args=(self._settings, self.path, life_recv, ready_send),
            name="logcenter-writer",
        )
        process.start()
        life_recv.close()
        ready_send.close()
        self._process, self._lifeline = process, life_send
        try:
            if not ready_recv.poll(self._start_timeout):
                raise RuntimeError("the writer process did not start in time")
            ready_recv.recv()
        except (EOFError, RuntimeError) as exc:
            life_send.close()
            process.kill()
            process.join()
            raise RuntimeError(f"the writer process failed to start (exit code {process.exitcode})") from exc
        finally:
            ready_recv.close()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            process.join()
            if self._stopping.is_set():
                return
            log.error("writer.died", exit_code=process.exitcode)
            if self._lifeline is not None:
                self._lifeline.close()
            while not self._stopping.wait(1.0):
                try:
                    self._spawn()
                    log.info("writer.restarted")
                    break
                except RuntimeError:
                    log.error("writer.restart_failed", exc_info=True)

    def stop(self, timeout: float = 60.0) -> None:
        """After the HTTP workers stopped: commit what is queued and end the process."""
        self._stopping.set()
        if self._lifeline is not None:
            self._lifeline.close()
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                log.error("writer.stop_timeout")
                self._process.kill()
                self._process.join()
        if self._watcher is not None:
            self._watcher.join(5)
        shutil.rmtree(self._dir, ignore_errors=True)
