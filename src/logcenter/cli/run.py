"""The long-running commands: `logcenter serve`, `logcenter worker`, `logcenter agent`."""

from __future__ import annotations

import argparse
import os
import sys

from logcenter.cli import db
from logcenter.config import Settings


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from logcenter.auth import service as auth_service
    from logcenter.db import create_session_factory, session_scope
    from logcenter.ingest.writer_process import WriterProcess
    from logcenter.main import create_app
    from logcenter.startup import check_port

    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    # Before anything is created or printed as running (logcenter/startup.py).
    check_port(settings.host, settings.port)
    db.upgrade(settings)
    from logcenter.secretbox import ensure_key_file
    from logcenter.startup import check_secret_key

    check_secret_key(settings)  # a second server of the database makes no key of its own
    ensure_key_file(settings)  # created once, before any worker process may race to create it
    engine = db.engine(settings)
    with session_scope(create_session_factory(engine)) as session:
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        token = auth_service.ensure_admin_token(session, configured=configured)
        from logcenter.users import service as users_service

        has_users = users_service.count_users(session) > 0
    engine.dispose()
    print(f"Log Center on http://{settings.host}:{settings.port} (API /api, docs /docs)", flush=True)
    print(f"Storing data in the {db.where(settings)}", flush=True)
    if token:
        print("Created the first admin token (shown only this once; keep it):", flush=True)
        print(f"  {token}", flush=True)
    if not has_users:
        print("No web UI user yet; create the first one with:", flush=True)
        print("  logcenter user create --username admin --role admin", flush=True)
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "access_log": args.access_log,
        "proxy_headers": True,
    }
    workers = args.workers or settings.workers
    # One writer process commits the reports of every HTTP worker (ingest/writer_process.py).
    writer = WriterProcess(settings)
    writer.start()
    settings = settings.model_copy(update={"writer_socket": writer.path})
    # One job worker for the whole server, here in the parent: not one per HTTP worker (jobs/worker.py).
    jobs = _JobWorkerThread(settings) if settings.job_worker else None
    try:
        if workers > 1:
            # Each worker process builds its app from the environment (create_app() reads the settings).
            print(f"Starting {workers} worker processes", flush=True)
            os.environ["LOGCENTER_WRITER_SOCKET"] = writer.path
            uvicorn.run("logcenter.main:create_app", factory=True, workers=workers, **options)
        else:
            uvicorn.run(create_app(settings), **options)
    finally:
        if jobs is not None:
            jobs.stop()
        writer.stop()
    return 0


class _JobWorkerThread:
    """`serve`'s job worker: a thread with an engine of its own."""

    def __init__(self, settings: Settings) -> None:
        from logcenter.db import create_session_factory
        from logcenter.jobs.worker import Worker

        self._engine = db.engine(settings)
        self._worker = Worker(create_session_factory(self._engine), settings)
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._engine.dispose()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from logcenter.db import create_session_factory
    from logcenter.jobs.worker import Worker

    db.upgrade(settings)
    from logcenter.startup import check_secret_key

    check_secret_key(settings)
    engine = db.engine(settings)
    worker = Worker(create_session_factory(engine), settings, name=args.name)
    try:
        if args.once:
            ran = worker.run_pending()
            print(f"Ran {ran} job{'s' * (ran != 1)}", file=sys.stderr)
            return 0

        def _stop(signum: int, _frame: object) -> None:
            # The first signal lets the running job finish; a second one ends the process at once.
            signal.signal(signum, signal.SIG_DFL)
            worker.stop(timeout=0)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        print(f"Job worker {worker.name} on the {db.where(settings)}", file=sys.stderr, flush=True)
        worker.run_forever()
        return 0
    finally:
        engine.dispose()


def cmd_agent(args: argparse.Namespace, _: Settings) -> int:
    from logcenter.agent.cli import run

    return run(args)
