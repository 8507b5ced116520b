"""The schema comes from the migrations: they must match the models, and carry old data forward."""

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


def test_legacy_statuses_are_mapped_by_the_migration(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    now = "2026-02-24 11:18:27"
    legacy = ["VERIFYING", "PENDING_FIX", "FIX_FAILED", "CANNOT_REPRODUCE", "FIXED", "VERIFIED", "DEPLOYED"]
    insert_project = (
        "INSERT INTO projects (id, slug, ingest_key, created_at, updated_at) VALUES (1, 'p', 'k', :now, :now)"
    )
    insert_bug = (
        "INSERT INTO bugs (id, project_id, fingerprint, source, error_type, message, stack_trace, level,"
        " environment, context, status, status_changed_at, occurrence_count, first_seen, last_seen,"
        " created_at, updated_at) VALUES (:i, 1, :fp, 'runtime', 'E', 'm', '', 'ERROR', 'production',"
        " '{}', :status, :now, 1, :now, :now, :now, :now)"
    )
    insert_event = (
        "INSERT INTO bug_events (bug_id, kind, from_status, to_status, actor, created_at)"
        " VALUES (:i, 'status', 'NEW', :status, 'old-agent', :now)"
    )
    with engine.begin() as conn:
        conn.execute(text(insert_project), {"now": now})
        for i, status in enumerate(legacy, start=1):
            conn.execute(text(insert_bug), {"i": i, "fp": f"{i:032x}", "status": status, "now": now})
            conn.execute(text(insert_event), {"i": i, "status": status, "now": now})
    upgrade(engine)
    with engine.connect() as conn:
        bugs = conn.execute(text("SELECT status FROM bugs ORDER BY id")).scalars().all()
        events = conn.execute(text("SELECT to_status FROM bug_events ORDER BY bug_id")).scalars().all()
    expected = ["NEW", "NEW", "FAILED", "FAILED", "PENDING_REVIEW", "MERGED", "DEPLOYED"]
    assert bugs == expected and events == expected
    engine.dispose()


def test_downgrade_to_empty_and_back(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    upgrade(engine)
    downgrade(engine, "base")
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars().all()
    assert tables == ["alembic_version"]
    upgrade(engine)
    engine.dispose()
