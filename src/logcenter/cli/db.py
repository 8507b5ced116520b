"""The database as the command line uses it: an engine, the schema brought up to date, and where it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logcenter.config import Settings

if TYPE_CHECKING:  # the command line imports SQLAlchemy only for the commands that use the database
    from sqlalchemy import Engine


def engine(settings: Settings) -> Engine:
    from logcenter.db import create_db_engine

    return create_db_engine(settings.database_url, pool_size=2)


def upgrade(settings: Settings) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from logcenter.migrations import upgrade as migrate
    from logcenter.startup import EXIT_MIGRATION, StartupError, check_database

    check_database(settings)
    bound = engine(settings)
    try:
        migrate(bound)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise StartupError(f"Migrating the {where(settings)} failed: {reason}", EXIT_MIGRATION) from exc
    finally:
        bound.dispose()


def where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        from pathlib import Path

        return f"SQLite database {Path(url.database or '').resolve()}"
    return f"database {url.render_as_string(hide_password=True)}"
