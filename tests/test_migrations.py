"""The schema comes from the migrations: they must match the models and run both ways.

Legacy data carried forward by 0002: tests/bugs/test_legacy_migration.py (both backends)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from logcenter.db import create_db_engine
from logcenter.migrations import downgrade, upgrade
from logcenter.models import Base


def test_models_and_migrations_agree(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_empty_and_back(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    upgrade(engine)
    downgrade(engine, "base")
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars().all()
    assert tables == ["alembic_version"]
    upgrade(engine)
    engine.dispose()
