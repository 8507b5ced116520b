"""`logcenter serve` with a writer that acknowledges without storing: the request half's ceiling over HTTP.

    python bench/ceiling_serve.py serve --host 127.0.0.1 --port 8790    (run by bench/ingest.py --ceiling)

Everything of the real server runs (uvicorn, routing, the body and its gunzip, validation or event parsing,
the key lookup, the mapping to a Report, the frame over the socket to the writer process and the answer back)
except the database work: once the writer process has stored the first report (the one that creates the
project), it answers every later batch at once without a transaction. The rate it reaches is what the HTTP
worker alone can do on this machine, the ceiling that the durable server approaches as its writer gets
cheaper; the bare endpoint's rate over this one is what the request half costs. Not a way to run Log Center:
nothing after the first report is stored.

The patch is made at import. The writer process is started with multiprocessing's "spawn", which imports the
parent's main script in the child (as `__mp_main__`), so the writer process is patched too.
"""

from __future__ import annotations

import sys

from logcenter.ingest.report import IngestResult, Outcome, Report
from logcenter.ingest.writer import BatchCommitter

_store = BatchCommitter.write


def _acknowledge(self: BatchCommitter, reports: list[Report]) -> list[Outcome]:
    if not getattr(self, "_bench_stored", False):
        self._bench_stored = True
        return _store(self, reports)
    return [IngestResult(1, created=False, status="NEW") for _ in reports]


BatchCommitter.write = _acknowledge

if __name__ == "__main__":
    from logcenter.cli import main

    sys.exit(main())
