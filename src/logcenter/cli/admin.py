"""The one-shot admin commands: `db upgrade`, `jobs list|retry`, `token ...`, `user ...`, `secrets ...`."""

from __future__ import annotations

import argparse
import sys

from logcenter.cli import db
from logcenter.config import Settings


def cmd_jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.db import create_session_factory, session_scope
    from logcenter.jobs import service as jobs_service

    db.upgrade(settings)
    engine = db.engine(settings)
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

    db.upgrade(settings)
    engine = db.engine(settings)
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
    db.upgrade(settings)
    print(f"Migrated the {db.where(settings)} to the latest schema")
    return 0


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from logcenter.auth import projects as token_projects
    from logcenter.auth import service as auth_service
    from logcenter.auth.models import Scope
    from logcenter.db import create_session_factory, session_scope
    from logcenter.errors import LogCenterError

    db.upgrade(settings)
    engine = db.engine(settings)
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

    db.upgrade(settings)  # before the first `serve` too: an empty list, not 'no such table'
    engine = db.engine(settings)
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

    db.upgrade(settings)
    engine = db.engine(settings)
    with session_scope(create_session_factory(engine)) as session:
        revoked = auth_service.revoke(session, token_id=args.id)
    engine.dispose()
    print(f"Revoked token #{args.id}" if revoked else f"No active token #{args.id}", file=sys.stderr)
    return 0 if revoked else 1


def _users_session(settings: Settings):
    from logcenter.db import create_session_factory, session_scope
    from logcenter.users import service as users_service

    users_service.configure_passwords(settings)
    db.upgrade(settings)
    engine = db.engine(settings)
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

    db.upgrade(settings)
    if args.secrets_command == "rotate":
        path = rotate_key_file(settings)
        print(f"Added a new key first in {path}", file=sys.stderr)
    box = SecretBox(settings)
    engine = db.engine(settings)
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
