"""SQLite: the writer process checkpoints the WAL off its commits, and the WAL stays short."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from logcenter.bugs.models import Bug
from logcenter.db import WalCheckpointer, create_db_engine, create_session_factory, utcnow
from logcenter.ingest.report import IngestResult
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.ingest.writer import BatchCommitter
from logcenter.migrations import upgrade
from tests.factories import report_payload

PAGE = 4096
BATCHES = 150


def _write(path: Path, *, checkpoint: bool) -> tuple[int, int]:
    """Store BATCHES batches of 8 reports with autocheckpoint off; returns (WAL bytes, reports counted)."""
    engine = create_db_engine(f"sqlite:///{path}", pool_size=2)
    upgrade(engine)
    engine.dispose()  # connections made from here on get the pragma below
    WalCheckpointer.disable_autocheckpoint(engine)
    checkpointer = WalCheckpointer(engine, interval=0.005, max_pages=200) if checkpoint else None
    if checkpointer:
        checkpointer.start()
    factory = create_session_factory(engine)
    committer = BatchCommitter(factory, retention=100)
    try:
        for batch in range(BATCHES):
            reports = [
                to_report(
                    ReportIn.model_validate(
                        report_payload(error={"line_number": (batch * 8 + i) % 300 + 1}, version=f"1.{i}")
                    ),
                    now=utcnow(),
                    max_skew=timedelta(seconds=60),
                )
                for i in range(8)
            ]
            assert all(isinstance(o, IngestResult) for o in committer.write(reports))
            committer.count()
            if checkpointer:
                checkpointer.settle()
    finally:
        committer.close()
        if checkpointer:
            checkpointer.stop()
    with factory() as session:
        counted = int(session.scalar(select(func.sum(Bug.occurrence_count))) or 0)
    wal = Path(f"{path}-wal").stat().st_size
    engine.dispose()
    return wal, counted


def test_checkpoints_keep_the_wal_short_without_losing_a_report(tmp_path):
    unchecked_wal, unchecked_count = _write(tmp_path / "plain.db", checkpoint=False)
    wal, counted = _write(tmp_path / "checked.db", checkpoint=True)
    assert counted == unchecked_count == BATCHES * 8
    # Without checkpoints the WAL holds every page ever written; with them it restarts past ~200 pages.
    assert unchecked_wal > 2000 * PAGE, unchecked_wal
    assert wal < 800 * PAGE, (wal, unchecked_wal)
