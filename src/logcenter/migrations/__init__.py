"""Alembic migrations shipped inside the package; `logcenter db upgrade` runs them."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


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
