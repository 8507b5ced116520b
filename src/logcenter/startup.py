"""Checks `logcenter serve` makes before it creates, prints or starts anything, and the one-line errors the
CLI prints instead of a traceback (`--debug` shows it).

Each failure has an exit code of its own, for scripts and service managers.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from logcenter.config import Settings

EXIT_SETTINGS = 2
EXIT_PORT_IN_USE = 3
EXIT_DATA_DIR = 4
EXIT_DATABASE = 5
EXIT_MIGRATION = 6
EXIT_SECRET_KEY = 7


class StartupError(Exception):
    """What went wrong and what to do, in a line or two; `exit_code` is the process's exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_port(host: str, port: int) -> None:
    """The address can be bound (closed again at once: uvicorn binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"Port {port} on {host} is already in use (another Log Center?). Stop it, or start this "
                    "one with --port N (LOGCENTER_PORT).",
                    EXIT_PORT_IN_USE,
                ) from None
            raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror}.", EXIT_PORT_IN_USE) from None
        except OverflowError:
            message = f"Cannot listen on {host}:{port}: a port is 1-65535."
            raise StartupError(message, EXIT_PORT_IN_USE) from None


def check_database(settings: Settings) -> None:
    """A SQLite database's folder exists (created) and is writable; any database answers a query."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _data_dir_error(folder, exc.strerror or str(exc)) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _data_dir_error(folder, "permission denied")
    from logcenter.db import create_db_engine

    engine = create_db_engine(settings.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise database_error(settings, exc) from None
    finally:
        engine.dispose()


def check_secret_key(settings: Settings) -> None:
    """A database that holds encrypted secrets gets no new key: a second server of a PostgreSQL database (or
    a server whose key file was lost) would make one that decrypts none of them, and fail each forge call,
    webhook and notification with it. Call after the migrations, before anything makes the key file."""
    from logcenter.secretbox import key_file

    path = key_file(settings)
    if settings.secret_key is not None or path.exists():
        return
    stored = stored_secrets(settings)
    if stored:
        raise StartupError(
            f"The database holds {stored} encrypted secret(s) (forge tokens, webhook secrets, notification "
            f"channels) and there is no key to read them: LOGCENTER_SECRET_KEY is not set and {path} "
            "does not exist.\nGive this server the key of the server that stored them: the same "
            f"LOGCENTER_SECRET_KEY, or a copy of its key file at {path} (mode 600). If the key is lost for "
            f"good: `logcenter secrets new-key > {path}`, then set the secrets again.",
            EXIT_SECRET_KEY,
        )


def stored_secrets(settings: Settings) -> int:
    """How many encrypted values the database holds."""
    from sqlalchemy import func, or_, select

    from logcenter.db import create_db_engine
    from logcenter.notify.models import NotificationChannel
    from logcenter.projects.models import Project

    engine = create_db_engine(settings.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            projects = conn.scalar(
                select(func.count())
                .select_from(Project)
                .where(
                    or_(
                        Project.forge_token_encrypted.is_not(None),
                        Project.webhook_secret_encrypted.is_not(None),
                        Project.deployment_secret_encrypted.is_not(None),
                    )
                )
            )
            channels = conn.scalar(
                select(func.count())
                .select_from(NotificationChannel)
                .where(
                    or_(
                        NotificationChannel.url_sealed.is_not(None),
                        NotificationChannel.secret_sealed.is_not(None),
                    )
                )
            )
    except SQLAlchemyError as exc:
        raise database_error(settings, exc) from None
    finally:
        engine.dispose()
    return int(projects or 0) + int(channels or 0)


def database_error(settings: Settings, exc: BaseException) -> StartupError:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    return StartupError(
        f"Cannot use the database {where}: {reason}\n"
        "Check LOGCENTER_DATABASE_URL, and that the database server runs and accepts this user.",
        EXIT_DATABASE,
    )


def _data_dir_error(folder: Path, reason: str) -> StartupError:
    return StartupError(
        f"Cannot write the data folder {folder}: {reason}.\n"
        "Make it writable for this user, or set LOGCENTER_DATA_DIR (or LOGCENTER_DATABASE_URL) to another "
        "place.",
        EXIT_DATA_DIR,
    )


def settings_error(exc: ValidationError) -> StartupError:
    """A setting of the environment or .env that Settings cannot read: which one and why, one line each (the
    value only when it is no secret)."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if not name:
            lines.append(f"settings: {error['msg']}.")
            continue
        field = Settings.model_fields.get(name)
        secret = field is not None and "SecretStr" in str(field.annotation)
        secret = secret or any(word in name for word in ("secret", "token", "password", "url", "key"))
        shown = "" if secret else f"={error['input']!r}"
        lines.append(f"LOGCENTER_{name.upper()}{shown}: {error['msg']}.")
    lines.append("Correct it in the environment or in .env, or remove it to use the default.")
    return StartupError("\n".join(lines), EXIT_SETTINGS)
