"""Migration 0007 adds the forge columns to a project that already has bugs, and keeps them (a batch copy of
`projects` on SQLite would have deleted them by cascade)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from logcenter.migrations import downgrade, upgrade
from tests.conftest import migrated_engine

NOW = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)


def test_upgrade_and_downgrade_keep_projects_and_their_bugs(backend, tmp_path):
    with migrated_engine(backend, tmp_path, "0006") as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, slug, repo_url, ingest_key, created_at, updated_at)"
                    " VALUES (1, 'shop', 'https://gitea.example/acme/shop.git', 'k', :now, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO bugs (id, project_id, fingerprint, source, error_type, message, stack_trace,"
                    " level, environment, context, status, status_changed_at, occurrence_count, first_seen,"
                    " last_seen, created_at, updated_at, pr_number) VALUES (7, 1, 'f', 'runtime', 'E', 'm',"
                    " '', 'ERROR', 'production', '{}', 'PENDING_REVIEW', :now, 1, :now, :now, :now, :now, 3)"
                ),
                {"now": NOW},
            )
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, pr_number FROM bugs")).all() == [(7, 3)]
            row = conn.execute(text("SELECT slug, forge, forge_token_encrypted FROM projects")).one()
            assert tuple(row) == ("shop", None, None)
        downgrade(engine, "0006")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM bugs")).all() == [(7,)]
