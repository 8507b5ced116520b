"""A database from the nine-state design: migration 0002 maps stored statuses as the architecture says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from logcenter.migrations import upgrade
from tests.conftest import migrated_engine

LEGACY = {
    "VERIFYING": "NEW",
    "PENDING_FIX": "NEW",
    "FIX_FAILED": "FAILED",
    "CANNOT_REPRODUCE": "FAILED",
    "FIXED": "PENDING_REVIEW",
    "VERIFIED": "MERGED",
    # Current values are left alone.
    "NEW": "NEW",
    "FIXING": "FIXING",
    "DEPLOYED": "DEPLOYED",
}


@pytest.fixture
def old_engine(backend: str, tmp_path) -> Iterator[Engine]:
    """An empty database of this test's backend, migrated only up to 0001 (before the mapping)."""
    with migrated_engine(backend, tmp_path, "0001") as engine:
        yield engine


def test_legacy_statuses_are_mapped_on_bugs_and_history(old_engine):
    now = "2024-01-01 00:00:00"
    with old_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, slug, ingest_key, created_at, updated_at)"
                " VALUES (1, 'old', 'k', :now, :now)"
            ),
            {"now": now},
        )
        for i, old in enumerate(LEGACY, start=1):
            conn.execute(
                text(
                    "INSERT INTO bugs (id, project_id, fingerprint, source, error_type, message, stack_trace,"
                    " level, environment, context, status, status_changed_at, occurrence_count, first_seen,"
                    " last_seen, created_at, updated_at) VALUES (:id, 1, :fp, 'runtime', 'E', 'm', '',"
                    " 'ERROR', 'production', '{}', :status, :now, 1, :now, :now, :now, :now)"
                ),
                {"id": i, "fp": f"{i:032x}", "status": old, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO bug_events (bug_id, kind, from_status, to_status, actor, created_at)"
                    " VALUES (:id, 'status', :old, :old, 'legacy', :now)"
                ),
                {"id": i, "old": old, "now": now},
            )

    upgrade(old_engine)

    with old_engine.connect() as conn:
        bugs = dict(conn.execute(text("SELECT id, status FROM bugs")).all())
        events = {
            bug_id: (a, b)
            for bug_id, a, b in conn.execute(text("SELECT bug_id, from_status, to_status FROM bug_events"))
        }
    expected = {i: new for i, new in enumerate(LEGACY.values(), start=1)}
    assert bugs == expected
    assert events == {i: (new, new) for i, new in expected.items()}
