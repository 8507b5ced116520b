"""The request half of ingest in instructions per request, counted by valgrind: repeatable on a noisy machine.

    python bench/instructions.py [--scenario rest|sentry|both] [--low 1000] [--high 3000]

Time on a shared VM moves by a third within minutes (bench/README.md), which hides changes of a few percent.
Instructions do not move: callgrind counts the same number for the same work whatever else runs. This drives
the real app with http_path.py's stub writer, as http_path.py does, once for `--low` and once for `--high`
requests under `valgrind --tool=callgrind`, and prints (high - low) / (high - low requests): start-up, imports
and warm-up cancel out. Instructions are not time (cache misses and system calls are not in them), so compare
commits with it, not with the wall-clock figures. Needs valgrind (Debian package `valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_path import StubWriter, envelope_requests, per_request_us, rest_requests  # noqa: E402
from sentry_envelopes import built_in_child, encode  # noqa: E402

KEY = "0123456789abcdef0123456789abcdef"  # the bench project's DSN key, set in the child's database
_COLLECTED = re.compile(rb"==(\d+)== Collected : (\d+)")


def child(scenario: str, requests: int, pool: Path) -> None:
    """Runs under callgrind: the real app, a project with the key the envelopes carry, `requests` requests."""
    from sqlalchemy import update

    from logcenter.config import Settings
    from logcenter.main import create_app
    from logcenter.migrations import upgrade
    from logcenter.projects import service as projects_service
    from logcenter.projects.models import Project
    from logcenter.projects.schemas import ProjectCreate

    envelopes = pickle.loads(pool.read_bytes())
    with tempfile.TemporaryDirectory(prefix="logcenter-instructions-") as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/bench.db"))
        app.state.writer = StubWriter()
        upgrade(app.state.engine)
        with app.state.session_factory() as session:
            project = projects_service.create(session, data=ProjectCreate(project_id="bench_app"))
            session.flush()
            session.execute(update(Project).where(Project.id == project.id).values(ingest_key=KEY))
            session.commit()
            pk = project.id
        if scenario == "rest":
            pool_requests = rest_requests()
        else:
            pool_requests = envelope_requests(pk, KEY, envelopes, client="sentry.python/2.0")
        asyncio.run(per_request_us(app, pool_requests, requests))
        app.state.engine.dispose()


def instructions(scenario: str, requests: int, pool: Path) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", scenario, str(requests), str(pool),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=True)
    counts = [int(n) for _, n in _COLLECTED.findall(done.stderr)]
    if not counts:
        raise RuntimeError(f"no instruction count from valgrind: {done.stderr[-500:]!r}")
    return counts[-1]  # the measured process reports last (after any child it forked)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=["rest", "sentry", "both"], default="both")
    p.add_argument("--low", type=int, default=1_000)
    p.add_argument("--high", type=int, default=3_000)
    p.add_argument("--child", nargs=3, metavar=("SCENARIO", "REQUESTS", "POOL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), Path(args.child[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="logcenter-instructions-") as tmp:
        pool = Path(tmp) / "envelopes.pickle"
        pool.write_bytes(pickle.dumps(built_in_child(functools.partial(encode, encoding="gzip"), 1_000, KEY)))
        for scenario in ["rest", "sentry"] if args.scenario == "both" else [args.scenario]:
            low, high = (instructions(scenario, n, pool) for n in (args.low, args.high))
            per = (high - low) / (args.high - args.low)
            print(f"{scenario:6} logcenter, stub writer: {per:10,.0f} instructions/request", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
