"""The schema comes from the migrations: they must match the models and run both ways.

Legacy data carried forward by 0002: tests/bugs/test_legacy_migration.py (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from logcenter.bugs.search import indexed_ids
from logcenter.db import create_db_engine
from logcenter.migrations import downgrade, include_name, upgrade
from logcenter.models import Base
from tests.conftest import migrated_engine


def test_models_and_migrations_agree(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
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


def test_0018_indexes_the_bugs_already_stored_and_goes_back(backend, tmp_path):
    """Migration 0018 fills the search index with the existing bugs (searched as the board does) and the
    daily counts with their hourly counts; the downgrade removes both."""
    now = datetime(2026, 12, 1)
    with migrated_engine(backend, tmp_path, "0017") as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, slug, ingest_key, created_at, updated_at)"
                    " VALUES (1, 'shop', 'k', :now, :now)"
                ),
                {"now": now},
            )
            bugs = [("KeyError", "missing 'sku'"), ("OSError", "disk full")]
            for i, (etype, message) in enumerate(bugs, 1):
                conn.execute(
                    text(
                        "INSERT INTO bugs (id, project_id, fingerprint, source, error_type, message,"
                        " file_path, stack_trace, level, environment, context, status, status_changed_at,"
                        " occurrence_count, first_seen, last_seen, created_at, updated_at) VALUES (:i, 1,"
                        " :f, 'runtime', :t, :m, 'app/x.py', '', 'ERROR', 'production', '{}', 'NEW', :now,"
                        " 1, :now, :now, :now, :now)"
                    ),
                    {"i": i, "f": f"f{i}", "t": etype, "m": message, "now": now},
                )
            hours = [(1, "2026-11-30 23:00", 4), (1, "2026-12-01 00:00", 5), (2, "2026-12-01 10:00", 6)]
            for bug_id, hour, count in hours:
                conn.execute(
                    text("INSERT INTO bug_hourly_counts (bug_id, hour, count) VALUES (:b, :h, :c)"),
                    {"b": bug_id, "h": datetime.fromisoformat(hour).replace(tzinfo=UTC), "c": count},
                )
        upgrade(engine)
        with engine.connect() as conn:
            days = conn.execute(text("SELECT project_id, day, count FROM project_daily_counts ORDER BY day"))
            assert [(p, str(d), n) for p, d, n in days] == [(1, "2026-11-30", 4), (1, "2026-12-01", 11)]
        with Session(engine) as session:
            assert indexed_ids(session, "DISK FU") == (2,)
            assert indexed_ids(session, "'sku'") == (1,)
            assert indexed_ids(session, "app/x") in ((1, 2), (2, 1))
        downgrade(engine, "0017")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM bugs")).scalar() == 2
            assert not {"bug_search", "project_daily_counts"} & set(inspect(conn).get_table_names())
