"""Alembic migrations shipped inside the package; `logcenter db upgrade` runs them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
# Tables the migrations make outside the models: the search index (0018), on SQLite an FTS5 table and its
# shadow tables. Autogenerate and the models-and-migrations check leave them alone.
UNMODELLED_TABLES = ("bug_search",)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's include_name hook: everything but UNMODELLED_TABLES (and their FTS5 shadow tables)."""
    return not (type_ == "table" and name is not None and name.startswith(UNMODELLED_TABLES))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    # ConfigParser interpolation would choke on the % of URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision` (creating it on first run).

    Alembic names each migration it runs: useful when an existing database is upgraded, a screenful of noise
    when a new one is created, which is said in one line instead."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        fresh = MigrationContext.configure(connection).get_current_revision() is None
        migration_log = logging.getLogger("alembic.runtime.migration")
        level = migration_log.level
        if fresh:
            log.info("Creating the database schema")
            migration_log.setLevel(max(level, logging.WARNING))
        try:
            command.upgrade(config, revision)
        finally:
            migration_log.setLevel(level)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
