"""`logcenter serve | agent | worker | jobs list|retry | db upgrade | token create|list|revoke | user ...`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from logcenter.config import Settings, get_settings
from logcenter.logs import configure_logging


def _engine(settings: Settings):
    from logcenter.db import create_db_engine

    return create_db_engine(settings.database_url, pool_size=2)


def _upgrade(settings: Settings) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from logcenter.migrations import upgrade
    from logcenter.startup import EXIT_MIGRATION, StartupError, check_database

    check_database(settings)
    engine = _engine(settings)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise StartupError(f"Migrating the {_where(settings)} failed: {reason}", EXIT_MIGRATION) from exc
    finally:
        engine.dispose()


def _where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        from pathlib import Path

        return f"SQLite database {Path(url.database or '').resolve()}"
    return f"database {url.render_as_string(hide_password=True)}"


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
    _upgrade(settings)
    from logcenter.secretbox import ensure_key_file

    ensure_key_file(settings)  # created once, before any worker process may race to create it
    engine = _engine(settings)
    with session_scope(create_session_factory(engine)) as session:
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        token = auth_service.ensure_admin_token(session, configured=configured)
        from logcenter.users import service as users_service

        has_users = users_service.count_users(session) > 0
    engine.dispose()
    print(f"Log Center on http://{settings.host}:{settings.port} (API /api, docs /docs)", flush=True)
    print(f"Storing data in the {_where(settings)}", flush=True)
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

        self._engine = _engine(settings)
        self._worker = Worker(create_session_factory(self._engine), settings)
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._engine.dispose()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from logcenter.db import create_session_factory
    from logcenter.jobs.worker import Worker

    _upgrade(settings)
    engine = _engine(settings)
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
        print(f"Job worker {worker.name} on the {_where(settings)}", file=sys.stderr, flush=True)
        worker.run_forever()
        return 0
    finally:
        engine.dispose()


def cmd_jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.db import create_session_factory, session_scope
    from logcenter.jobs import service as jobs_service

    _upgrade(settings)
    engine = _engine(settings)
    try:
        with session_scope(create_session_factory(engine), write=False) as session:
            states = args.state or ["queued", "running", "failed"]
            for job in jobs_service.list_jobs(session, states=states, limit=args.limit):
                when = job.finished_at or job.run_after
                error = (job.last_error or "").replace("\n", " ")[:200]
                print(
                    f"{job.id}\t{job.kind}\t{job.state}\t{job.attempts}/{job.max_attempts}\t"
                    f"{when:%Y-%m-%d %H:%M:%S}\t{job.locked_by or ''}\t{error}"
                )
    finally:
        engine.dispose()
    return 0


def cmd_jobs_retry(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import IntegrityError

    from logcenter.db import create_session_factory, session_scope
    from logcenter.jobs import service as jobs_service

    _upgrade(settings)
    engine = _engine(settings)
    try:
        with session_scope(create_session_factory(engine)) as session:
            queued = jobs_service.requeue(session, args.id)
    except IntegrityError:
        print(f"Job #{args.id} not queued: a job of the same key is queued already", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"Queued job #{args.id} again" if queued else f"No failed job #{args.id}", file=sys.stderr)
    return 0 if queued else 1


def cmd_db_upgrade(_: argparse.Namespace, settings: Settings) -> int:
    _upgrade(settings)
    print(f"Migrated the {_where(settings)} to the latest schema")
    return 0


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.auth import projects as token_projects
    from logcenter.auth import service as auth_service
    from logcenter.auth.models import Scope
    from logcenter.db import create_session_factory, session_scope
    from logcenter.errors import LogCenterError

    _upgrade(settings)
    engine = _engine(settings)
    try:
        with session_scope(create_session_factory(engine)) as session:
            project_ids = token_projects.resolve(session, args.project) if args.project else None
            row, token = auth_service.create_token(
                session, name=args.name, scope=Scope(args.scope), project_ids=project_ids
            )
            only = f" for project(s) {', '.join(args.project)}" if args.project else ""
            print(
                f"Created {row.scope} token #{row.id} {row.name!r}{only}; it is shown only now:",
                file=sys.stderr,
            )
    except LogCenterError as exc:
        print(f"logcenter: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(token)
    return 0


def cmd_token_list(_: argparse.Namespace, settings: Settings) -> int:
    from logcenter.auth import projects as token_projects
    from logcenter.auth import service as auth_service
    from logcenter.db import create_session_factory, session_scope

    _upgrade(settings)  # before the first `serve` too: an empty list, not 'no such table'
    engine = _engine(settings)
    with session_scope(create_session_factory(engine), write=False) as session:
        for row in auth_service.list_tokens(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            allowed = token_projects.restriction_of(row.projects)
            slugs = token_projects.slugs_of(session, sorted(allowed)) if allowed is not None else []
            where = ",".join(slugs) if allowed is not None else "all projects"
            print(f"{row.id}\t{row.scope}\t{row.name}\t{row.prefix}…\t{state}\tlast used {used}\t{where}")
    engine.dispose()
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.auth import service as auth_service
    from logcenter.db import create_session_factory, session_scope

    _upgrade(settings)
    engine = _engine(settings)
    with session_scope(create_session_factory(engine)) as session:
        revoked = auth_service.revoke(session, token_id=args.id)
    engine.dispose()
    print(f"Revoked token #{args.id}" if revoked else f"No active token #{args.id}", file=sys.stderr)
    return 0 if revoked else 1


def _users_session(settings: Settings):
    from logcenter.db import create_session_factory, session_scope
    from logcenter.users import service as users_service

    users_service.configure_passwords(settings)
    _upgrade(settings)
    engine = _engine(settings)
    return engine, session_scope(create_session_factory(engine))


def _password(args: argparse.Namespace) -> str:
    if args.password:
        return str(args.password)
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise SystemExit("logcenter: the passwords differ")
    return first


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.errors import LogCenterError
    from logcenter.users import service as users_service
    from logcenter.users.models import Role

    password = _password(args)
    engine, scope = _users_session(settings)
    try:
        with scope as session:
            user = users_service.create_user(
                session, username=args.username, password=password, role=Role(args.role)
            )
            print(f"Created {user.role} user {user.username!r}", file=sys.stderr)
    except LogCenterError as exc:
        print(f"logcenter: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_user_list(_: argparse.Namespace, settings: Settings) -> int:
    from logcenter.users import service as users_service

    engine, scope = _users_session(settings)
    with scope as session:
        for user in users_service.list_users(session):
            state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
            seen = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
            print(f"{user.id}\t{user.username}\t{user.role}\t{state}\tlast login {seen}")
    engine.dispose()
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.errors import LogCenterError
    from logcenter.users import service as users_service

    engine, scope = _users_session(settings)
    try:
        with scope as session:
            users_service.set_disabled(session, username=args.username, disabled=not args.enable)
    except LogCenterError as exc:
        print(f"logcenter: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{'Enabled' if args.enable else 'Disabled'} user {args.username!r}", file=sys.stderr)
    return 0


def cmd_user_set_password(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.errors import LogCenterError
    from logcenter.users import service as users_service

    password = _password(args)
    engine, scope = _users_session(settings)
    try:
        with scope as session:
            users_service.set_password(session, username=args.username, password=password)
    except LogCenterError as exc:
        print(f"logcenter: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"Changed the password of {args.username!r}; their sessions ended", file=sys.stderr)
    return 0


def cmd_agent(args: argparse.Namespace, _: Settings) -> int:
    from logcenter.agent.cli import run

    return run(args)


def cmd_secrets_new_key(_: argparse.Namespace, settings: Settings) -> int:
    from logcenter.secretbox import new_key

    print(new_key())
    return 0


def cmd_secrets_reencrypt(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.secretbox import SecretKeyError

    try:
        return _reencrypt(args, settings)
    except SecretKeyError as exc:
        print(f"logcenter: {exc.message}", file=sys.stderr)
        return 1


def _reencrypt(args: argparse.Namespace, settings: Settings) -> int:
    """`rotate`: a new key first in the key file; both: every stored secret encrypted with the first key."""
    from logcenter.db import create_session_factory, session_scope
    from logcenter.notify import sealing
    from logcenter.projects import forge
    from logcenter.secretbox import SecretBox, rotate_key_file

    _upgrade(settings)
    if args.secrets_command == "rotate":
        path = rotate_key_file(settings)
        print(f"Added a new key first in {path}", file=sys.stderr)
    box = SecretBox(settings)
    engine = _engine(settings)
    with session_scope(create_session_factory(engine)) as session:
        count = forge.reencrypt_secrets(session, box=box)
        count += sealing.reencrypt_secrets(session, box=box)
    engine.dispose()
    print(f"Re-encrypted {count} stored secret(s) with the newest key", file=sys.stderr)
    if args.secrets_command == "rotate" and args.drop_old:
        _drop_old_keys(settings)
        print("Removed the old keys from the key file", file=sys.stderr)
    return 0


def _drop_old_keys(settings: Settings) -> None:
    from logcenter.secretbox import key_file, load_keys, write_key_file

    write_key_file(key_file(settings), [load_keys(settings)[0].decode()])


def build_parser() -> argparse.ArgumentParser:
    from logcenter import __version__

    parser = argparse.ArgumentParser(prog="logcenter", description="Log Center error tracker")
    parser.add_argument("--version", action="version", version=f"logcenter {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of start-up errors")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (migrates the database first)")
    serve.add_argument("--host", help="bind address (default 127.0.0.1, LOGCENTER_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8002, LOGCENTER_PORT)")
    serve.add_argument("--workers", type=int, help="server processes (default 1, LOGCENTER_WORKERS)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    from logcenter.agent.cli import add_arguments

    agent = sub.add_parser("agent", help="run the repair agent (fixes NEW bugs, opens pull requests)")
    add_arguments(agent)
    agent.set_defaults(func=cmd_agent)

    worker = sub.add_parser("worker", help="run background jobs (for setups with LOGCENTER_JOB_WORKER=false)")
    worker.add_argument("--once", action="store_true", help="run the jobs due now, then exit")
    worker.add_argument("--name", help="this worker's name in jobs.locked_by (default host:pid:random)")
    worker.set_defaults(func=cmd_worker)

    jobs = sub.add_parser("jobs", help="background jobs").add_subparsers(dest="jobs_command", required=True)
    jobs_list = jobs.add_parser(
        "list", help="jobs, newest first: id, kind, state, attempts, time, worker, error"
    )
    jobs_list.add_argument(
        "--state",
        action="append",
        choices=["queued", "running", "done", "failed"],
        help="repeatable (default: queued, running and failed)",
    )
    jobs_list.add_argument("--limit", type=int, default=50)
    jobs_list.set_defaults(func=cmd_jobs_list)
    jobs_retry = jobs.add_parser("retry", help="queue a failed job again, with all its attempts")
    jobs_retry.add_argument("id", type=int)
    jobs_retry.set_defaults(func=cmd_jobs_retry)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="create a token; prints it as the last line")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope", required=True, choices=["admin", "agent", "ingest", "reviewer", "sourcemaps"]
    )
    create.add_argument(
        "--project",
        action="append",
        metavar="SLUG",
        help="restrict the token to this project (repeat for more); default: every project",
    )
    create.set_defaults(func=cmd_token_create)
    token.add_parser("list", help="list tokens (never their values)").set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)

    user = sub.add_parser("user", help="web UI users").add_subparsers(dest="user_command", required=True)
    ucreate = user.add_parser("create", help="create a user (password from --password or a prompt)")
    ucreate.add_argument("--username", required=True)
    ucreate.add_argument("--role", required=True, choices=["admin", "reviewer", "viewer"])
    ucreate.add_argument("--password", help="at least 8 characters; prompted for when omitted")
    ucreate.set_defaults(func=cmd_user_create)
    user.add_parser("list", help="list users").set_defaults(func=cmd_user_list)
    udisable = user.add_parser("disable", help="disable a user and end their sessions")
    udisable.add_argument("username")
    udisable.add_argument("--enable", action="store_true", help="enable the user again")
    udisable.set_defaults(func=cmd_user_disable)
    upass = user.add_parser("set-password", help="change a user's password (ends their sessions)")
    upass.add_argument("username")
    upass.add_argument("--password", help="prompted for when omitted")
    upass.set_defaults(func=cmd_user_set_password)

    secrets = sub.add_parser("secrets", help="the key that encrypts stored forge tokens and webhook secrets")
    verbs = secrets.add_subparsers(dest="secrets_command", required=True)
    verbs.add_parser("new-key", help="print a new key (for LOGCENTER_SECRET_KEY)").set_defaults(
        func=cmd_secrets_new_key
    )
    rotate = verbs.add_parser("rotate", help="put a new key first in the key file and re-encrypt with it")
    rotate.add_argument("--drop-old", action="store_true", help="then remove the old keys from the file")
    rotate.set_defaults(func=cmd_secrets_reencrypt)
    verbs.add_parser(
        "reencrypt", help="re-encrypt stored secrets with the first key (after changing LOGCENTER_SECRET_KEY)"
    ).set_defaults(func=cmd_secrets_reencrypt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from logcenter.startup import StartupError, database_error, settings_error

    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        if args.debug:
            raise
        error = settings_error(exc)
        print(f"logcenter: {error}", file=sys.stderr)
        return error.exit_code
    configure_logging(settings.log_level)
    try:
        try:
            return int(args.func(args, settings))
        except SQLAlchemyError as exc:  # a database that went away after the checks
            raise database_error(settings, exc) from exc
    except StartupError as exc:
        if args.debug:
            raise
        print(f"logcenter: {exc}", file=sys.stderr)
        return exc.exit_code
