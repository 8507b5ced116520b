"""`logcenter serve | agent | worker | jobs list|retry | db upgrade | token create|list|revoke | user ...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logcenter.cli import admin, run
from logcenter.config import get_settings
from logcenter.logs import configure_logging


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
    serve.set_defaults(func=run.cmd_serve)

    from logcenter.agent.cli import add_arguments

    agent = sub.add_parser("agent", help="run the repair agent (fixes NEW bugs, opens pull requests)")
    add_arguments(agent)
    agent.set_defaults(func=run.cmd_agent)

    worker = sub.add_parser("worker", help="run background jobs (for setups with LOGCENTER_JOB_WORKER=false)")
    worker.add_argument("--once", action="store_true", help="run the jobs due now, then exit")
    worker.add_argument("--name", help="this worker's name in jobs.locked_by (default host:pid:random)")
    worker.set_defaults(func=run.cmd_worker)

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
    jobs_list.set_defaults(func=admin.cmd_jobs_list)
    jobs_retry = jobs.add_parser("retry", help="queue a failed job again, with all its attempts")
    jobs_retry.add_argument("id", type=int)
    jobs_retry.set_defaults(func=admin.cmd_jobs_retry)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=admin.cmd_db_upgrade)

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
    create.set_defaults(func=admin.cmd_token_create)
    token.add_parser("list", help="list tokens (never their values)").set_defaults(func=admin.cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=admin.cmd_token_revoke)

    user = sub.add_parser("user", help="web UI users").add_subparsers(dest="user_command", required=True)
    ucreate = user.add_parser("create", help="create a user (password from --password or a prompt)")
    ucreate.add_argument("--username", required=True)
    ucreate.add_argument("--role", required=True, choices=["admin", "reviewer", "viewer"])
    ucreate.add_argument("--password", help="at least 8 characters; prompted for when omitted")
    ucreate.set_defaults(func=admin.cmd_user_create)
    user.add_parser("list", help="list users").set_defaults(func=admin.cmd_user_list)
    udisable = user.add_parser("disable", help="disable a user and end their sessions")
    udisable.add_argument("username")
    udisable.add_argument("--enable", action="store_true", help="enable the user again")
    udisable.set_defaults(func=admin.cmd_user_disable)
    upass = user.add_parser("set-password", help="change a user's password (ends their sessions)")
    upass.add_argument("username")
    upass.add_argument("--password", help="prompted for when omitted")
    upass.set_defaults(func=admin.cmd_user_set_password)

    secrets = sub.add_parser("secrets", help="the key that encrypts stored forge tokens and webhook secrets")
    verbs = secrets.add_subparsers(dest="secrets_command", required=True)
    verbs.add_parser("new-key", help="print a new key (for LOGCENTER_SECRET_KEY)").set_defaults(
        func=admin.cmd_secrets_new_key
    )
    rotate = verbs.add_parser("rotate", help="put a new key first in the key file and re-encrypt with it")
    rotate.add_argument("--drop-old", action="store_true", help="then remove the old keys from the file")
    rotate.set_defaults(func=admin.cmd_secrets_reencrypt)
    verbs.add_parser(
        "reencrypt", help="re-encrypt stored secrets with the first key (after changing LOGCENTER_SECRET_KEY)"
    ).set_defaults(func=admin.cmd_secrets_reencrypt)
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
