"""Alembic migrations shipped inside the package; `logcenter db upgrade` runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

HERE = Path(__file__).parent
# Tables the migrations make outside the models: the search index (0017), on SQLite an FTS5 table and its
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
    """Bring the database behind `engine` to `revision` (creating it on first run)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
