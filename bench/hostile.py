"""Hostile requests of at most 1 MB on the wire, several at once, against a real `logcenter serve` (issue 14).

    python bench/hostile.py [--concurrency 8] [--rounds 3]

Starts `logcenter serve` on a temp SQLite database, creates a project, then for each kind of request sends
`--concurrency` of them at once, `--rounds` times, while another client asks `/api/health` every 20 ms.
Prints, per kind: the slowest answer, the slowest health answer meanwhile, and the peak RSS of the HTTP
worker and of the writer process (VmHWM); at the end the size of the database file. Loopback only; bounded;
stops what it started.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def blank_lines_envelope() -> bytes:
    body = b'{"event_id":"' + b"3" * 32 + b'"}\n' + b"\n" * (95 * 1024 * 1024)
    return gzip.compress(body, compresslevel=6)


def empty_exceptions_event(n: int) -> bytes:
    return orjson.dumps({"event_id": f"{n:032x}", "exception": {"values": [{}] * 349_000}})


def rest_megabyte(n: int) -> bytes:
    return orjson.dumps(
        {
            "project_id": "hostile",
            "environment": "production",
            "level": "ERROR",
            "error": {"type": "E", "message": "m", "file_path": "a.py", "line_number": n, "stack_trace": []},
            "context": {"rows": [{"id": i, "payload": "z" * 300} for i in range(3_000)]},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lc-hostile-"))
    db_file = tmp / "logcenter.db"
    port = free_port()
    env = {**os.environ, "LOGCENTER_DATABASE_URL": f"sqlite:///{db_file}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "logcenter", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("logcenter serve did not start")
            time.sleep(0.1)
        first = rest_megabyte(0)
        assert httpx.post(f"{base}/api/v1/logs/report", content=first, timeout=30).status_code == 200
        project = httpx.get(
            f"{base}/api/v1/projects/hostile",
            headers={"Authorization": f"Bearer {admin_token(db_file)}"},
        ).json()
        sentry = {"X-Sentry-Auth": f"Sentry sentry_key={project['ingest_key']}, sentry_version=7"}
        envelope = blank_lines_envelope()
        kinds = {
            "envelope: 95 MiB of newlines in 97 KB of gzip": lambda n: httpx.post(
                f"{base}/api/{project['id']}/envelope/",
                content=envelope,
                headers={**sentry, "Content-Encoding": "gzip"},
                timeout=120,
            ),
            "store: 349,000 empty exceptions (1 MB)": lambda n: httpx.post(
                f"{base}/api/{project['id']}/store/",
                content=empty_exceptions_event(n),
                headers=sentry,
                timeout=120,
            ),
            "REST: 1 MB context": lambda n: httpx.post(
                f"{base}/api/v1/logs/report",
                content=rest_megabyte(n),
                headers={"Content-Type": "application/json"},
                timeout=120,
            ),
        }
        worker_pids = [proc.pid, *children(proc.pid)]
        print(f"logcenter serve pid {proc.pid}; processes {worker_pids}; {args.concurrency} at once")
        print(f"{'request':50} {'slowest answer':>15} {'slowest health':>15} {'statuses':>12}")
        for name, send in kinds.items():
            slowest, health, statuses = run(base, send, args.concurrency, args.rounds)
            print(f"{name:50} {slowest * 1000:12.0f} ms {health * 1000:12.0f} ms {statuses:>12}")
        rss = ", ".join(f"pid {pid}: {peak_rss_mib(pid):.0f} MiB" for pid in worker_pids)
        print(f"peak RSS (VmHWM): {rss}")
    finally:
        proc.terminate()
        proc.wait(30)
    size = sum(f.stat().st_size for f in tmp.glob("logcenter.db*"))
    print(f"database files: {size / 1e6:.1f} MB")


def run(base: str, send, concurrency: int, rounds: int) -> tuple[float, float, str]:
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get(f"{base}/api/health")
                latencies.append(time.perf_counter() - started)
                stop.wait(0.02)

    thread = threading.Thread(target=probe)
    thread.start()
    slowest = 0.0
    statuses: set[int] = set()

    def timed(n: int) -> tuple[float, int]:
        started = time.perf_counter()
        response = send(n)
        return time.perf_counter() - started, response.status_code

    try:
        with ThreadPoolExecutor(concurrency) as pool:
            for r in range(rounds):
                for elapsed, status in pool.map(timed, range(r * concurrency + 1, (r + 1) * concurrency + 1)):
                    slowest = max(slowest, elapsed)
                    statuses.add(status)
    finally:
        stop.set()
        thread.join()
    return slowest, max(latencies), ",".join(map(str, sorted(statuses)))


def admin_token(db_file: Path) -> str:
    """A fresh admin token for this run, made with the CLI as an operator would."""
    out = subprocess.run(
        [sys.executable, "-m", "logcenter", "token", "create", "--name", "bench", "--scope", "admin"],
        env={**os.environ, "LOGCENTER_DATABASE_URL": f"sqlite:///{db_file}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
