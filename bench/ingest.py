"""Ingest benchmark: accepted reports/s, p50/p99 latency, peak RSS of `logcenter serve`, and a bare endpoint.

    python bench/ingest.py --db sqlite|postgres|both --scenario rest|sentry|both --duration 20

For each database and scenario it starts a fresh server (`logcenter serve`, one process, on 127.0.0.1) on a
fresh database, loads it with wrk (16 connections by default), then loads a bare FastAPI endpoint that only
reads the body (bench/bare_app.py, same uvicorn settings) with the very same script and request bodies, and
prints the ratio. Scenarios:

- rest:   POST /api/v1/logs/report, the integration guide's JSON, a fresh context per request,
          1,000 fingerprints (bench/wrk/report.lua).
- sentry: POST /api/<id>/envelope/, real sentry-sdk events (bench/sentry_envelopes.py), gzip,
          X-Sentry-Auth with the project's ingest key, the same 1,000 fingerprints (bench/wrk/envelope.lua).

With --ceiling it also runs the real server with a writer that acknowledges without storing
(bench/ceiling_serve.py, target "ceiling", on SQLite): what the HTTP worker alone reaches on this machine, so
the gap to the bare endpoint splits into the request half's cost and the durable writer's.

Only 200 responses count as accepted. After each server run it stops the server and checks durability in the
database: the bugs' occurrence counts must add up to at least the number of 200s the load generator saw.
Everything stays on loopback, every load run is bounded by --duration, and every process started here is
stopped here. Results are also written as JSON under bench/results/ (git-ignored). Not a test: it only prints
numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
PROJECT = "bench_app"
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PG_SCHEMA = "bench"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{PG_SCHEMA}"

# Targets from issue 2 ("Performance"): SQLite, 2 cores, load generator on the same machine.
TARGET_RPS_SQLITE = 3000
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
# A run during which other processes used more CPU than this (in cores) is flagged as disturbed.
DISTURBED_CORES = 0.15

# The uvicorn settings `logcenter serve` uses by default (src/logcenter/cli.py: uvicorn.run with log level
# INFO, no access log, proxy headers; loop and http parser "auto": uvloop and httptools), for the bare app.
UVICORN_ARGS = [
    "--loop",
    "auto",
    "--http",
    "auto",
    "--log-level",
    "info",
    "--no-access-log",
    "--proxy-headers",
]


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------------- tools


def ensure_tools(scenarios: Sequence[str], profile: bool, server: bool) -> None:
    """Exit with what to install if a tool is missing: nothing is installed from here."""
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk (Debian package 'wrk')")
    if "sentry" in scenarios and not _importable("sentry_sdk"):
        missing.append("sentry-sdk (pip install 'sentry-sdk>=2.19')")
    if profile and shutil.which("py-spy") is None:
        missing.append("py-spy (pip install py-spy)")
    if not _importable("psycopg"):
        missing.append("psycopg (pip install 'psycopg[binary]>=3.2')")
    if server and not _importable("logcenter"):
        missing.append(f"logcenter (pip install -e {REPO})")
    if missing:
        sys.exit("missing: " + "; ".join(missing))


def _importable(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def machine_busy(seconds: float = 1.0) -> float:
    """Percent of all cores busy over `seconds` (taken while our server idles: what other processes use)."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        idle = vals[3] + vals[4]
        return sum(vals) - idle, sum(vals)

    b0, t0 = snap()
    time.sleep(seconds)
    b1, t1 = snap()
    return 100.0 * (b1 - b0) / max(1, t1 - t0)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _jiffies(pid: int, path: str = "") -> int:
    try:
        with open(path or f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _comm(path: str) -> str:
    try:
        with open(f"{path}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _writer_jiffies(pids: list[int]) -> tuple[int, int]:
    """CPU of logcenter's writer process (named "lc-writer", logcenter/process.py) and of its WAL
    checkpoint thread ("lc-checkpoint"), in jiffies. Not imported from there: this script may have installed
    logcenter itself, after its own start."""
    for pid in pids:
        if _comm(f"/proc/{pid}") == "lc-writer":
            checkpoint = 0
            with contextlib.suppress(OSError):
                for tid in os.listdir(f"/proc/{pid}/task"):
                    if _comm(f"/proc/{pid}/task/{tid}") == "lc-checkpoint":
                        checkpoint += _jiffies(pid, f"/proc/{pid}/task/{tid}/stat")
            return _jiffies(pid), checkpoint
    return 0, 0


def _postgres_pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _comm(f"/proc/{e}") == "postgres"]


class CpuWatch:
    """CPU used during a load run, in cores: the server's process tree, wrk, all postgres processes, the rest.

    "others" is everything else on the machine (other users' jobs): when it is not ~0 the run was disturbed.
    The server's share is split into "http" (its HTTP workers), "writer" and "checkpoint" (the writer
    process's WAL checkpoint thread) when the processes carry logcenter's names (the bare app does not).
    """

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def _snap(self) -> dict[str, int]:
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        # busy: all but idle, iowait and steal (time the hypervisor gave our vCPUs away), which is kept apart.
        snap = {"busy": sum(vals) - vals[3] - vals[4] - vals[7], "steal": vals[7], "server": 0, "wrk": 0}
        snap.update(http=0, writer=0, checkpoint=0)
        if self.server_pid:
            tree = process_tree(self.server_pid)
            snap["server"] = sum(_jiffies(p) for p in tree)
            writer, snap["checkpoint"] = _writer_jiffies(tree)
            snap["writer"] = writer - snap["checkpoint"]
            snap["http"] = snap["server"] - writer
        # wrk has exited (and been reaped) by the end: its CPU is in our children's resource usage.
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        snap["wrk"] = round((ru.ru_utime + ru.ru_stime) * CLK_TCK)
        return snap

    @staticmethod
    def _postgres() -> dict[int, int]:
        return {p: _jiffies(p) for p in _postgres_pids()}

    def start(self) -> None:
        self.t0, self.s0, self.pg0 = time.monotonic(), self._snap(), self._postgres()

    def stop(self) -> dict[str, float]:
        s1, elapsed = self._snap(), time.monotonic() - self.t0
        # Per process, so that a backend exiting during the run does not count negative.
        s1["postgres"] = sum(max(0, j - self.pg0.get(p, 0)) for p, j in self._postgres().items())
        self.s0["postgres"] = 0
        cores = {k: (s1[k] - self.s0[k]) / CLK_TCK / elapsed for k in s1}
        cores["others"] = max(0.0, cores["busy"] - cores["server"] - cores["wrk"] - cores["postgres"])
        return {k: round(v, 2) for k, v in cores.items()}


def wait_until_quiet(max_wait: float, threshold_pct: float = 10.0) -> float:
    """Wait (at most max_wait s) until other processes leave the machine idle; returns the last busy %."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy(1.0)
    announced = False
    while busy > threshold_pct and time.monotonic() < deadline:
        if not announced:
            log(f"  machine {busy:.0f}% busy with other processes: waiting up to {max_wait:.0f}s for quiet")
            announced = True
        busy = machine_busy(2.0)
    return busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------ processes / RSS


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    return kids


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += _children(p)
    return tree


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Peak memory of a process tree: max over time of the summed VmRSS, and the summed VmHWM at the end."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.peak_rss_kb = 0
        self.hwm_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        tree = process_tree(self.pid)
        self.peak_rss_kb = max(self.peak_rss_kb, sum(_status_kb(p, "VmRSS") for p in tree))
        self.hwm_kb = max(self.hwm_kb, sum(_status_kb(p, "VmHWM") for p in tree))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    @property
    def peak_mb(self) -> float:
        return max(self.peak_rss_kb, self.hwm_kb) / 1024


class Server:
    """A server process we started (in its own session), its log file, and a clean stop."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: Path, port: int) -> None:
        self.name, self.cmd, self.env, self.cwd, self.port = name, cmd, env, cwd, port
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.rss: RssSampler | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log(f"starting {self.name}: {' '.join(self.cmd)}")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.rss = RssSampler(self.proc.pid).__enter__()

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n{self.tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                if probe():
                    return
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; log:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.rss is not None:
            self.rss.__exit__(None, None, None)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within 30 s of SIGINT; killing its process group")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        self.proc = None

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def one_report(base: str, key: str | None = None) -> bool:
    payload = {
        "project_id": PROJECT,
        "environment": "production",
        "level": "ERROR",
        "repo_url": f"https://git.example.com/team/{PROJECT}.git",
        "error": {
            "type": "ValueError",
            "message": "bench readiness probe",
            "file_path": "apps/core/health.py",
            "line_number": 1,
            "stack_trace": ["Traceback (most recent call last):", "ValueError: bench readiness probe"],
        },
        "context": {"url": "/health", "request_id": "bench-probe"},
    }
    headers = {"Content-Type": "application/json", **({"X-Logcenter-Key": key} if key else {})}
    status, _ = http("POST", f"{base}/api/v1/logs/report", json.dumps(payload).encode(), headers)
    return status == 200


def healthy(base: str) -> bool:
    try:
        return http("GET", f"{base}/api/health")[0] == 200
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------------ wrk


@dataclass
class LoadResult:
    requests: int
    ok: int
    non200: int
    repeats: int
    duration_us: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float
    socket_errors: int
    first_error: str = ""
    cpu: dict[str, float] = field(default_factory=dict)  # cores used during the run, see CpuWatch
    server_dedupes: bool = (
        True  # False for the bare app, for which a re-sent envelope is as good as a new one
    )

    @property
    def accepted(self) -> int:
        """200s minus re-sent envelopes (a repeated event_id is acknowledged, not counted)."""
        return max(0, self.ok - self.repeats) if self.server_dedupes else self.ok

    @property
    def rate(self) -> float:
        return self.accepted / (self.duration_us / 1e6)

    @property
    def per_cpu_s(self) -> float:
        """Accepted per CPU-second of the server's process tree (steadier on a shared machine)."""
        return self.rate / self.cpu["server"] if self.cpu.get("server") else 0.0


def run_wrk(
    url: str,
    script: Path,
    *,
    seconds: int,
    connections: int,
    threads: int,
    headers: dict[str, str],
    script_args: Sequence[str],
    server_pid: int | None = None,
) -> LoadResult:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
    ]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd += [url, "--", *script_args]
    watch = CpuWatch(server_pid)
    watch.start()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=seconds + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cpu = watch.stop()
    out = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    data: dict[str, Any] | None = None
    first_error = ""
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
        elif line.startswith("BENCH_FIRST_ERROR "):
            first_error = line[len("BENCH_FIRST_ERROR ") :]
    if data is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return LoadResult(
        requests=data["requests"],
        ok=data["ok"],
        non200=data["non200"],
        repeats=data["repeats"],
        duration_us=data["duration_us"],
        p50_us=data["p50_us"],
        p90_us=data["p90_us"],
        p99_us=data["p99_us"],
        max_us=data["max_us"],
        mean_us=data["mean_us"],
        socket_errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
        first_error=first_error,
        cpu=cpu,
    )


# ------------------------------------------------------------------------------------------------ databases


def prepare_database(db: str, workdir: Path) -> str:
    """A fresh, migrated database; returns its URL."""
    if db == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
            conn.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        url = PG_URL
    logcenter(["db", "upgrade"], url, workdir, timeout=300)
    return url


def drop_database(db: str) -> None:
    if db == "postgres":
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def stored_counts(db: str, url: str) -> tuple[int, int] | None:
    """(bugs, sum of occurrence counts) read from the database; None if the schema is not as expected."""
    sql = "SELECT count(*), coalesce(sum(occurrence_count), 0) FROM bugs"
    try:
        if db == "sqlite":
            import sqlite3

            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
                row = conn.execute(sql).fetchone()
        else:
            import psycopg

            with psycopg.connect(PG_DSN, options=f"-csearch_path={PG_SCHEMA}") as conn:
                row = conn.execute(sql).fetchone()
    except Exception as exc:  # noqa: BLE001 - report, don't crash the benchmark
        log(f"durability check skipped: {exc}")
        return None
    return int(row[0]), int(row[1])


SERVER_ENV: dict[
    str, str
] = {}  # --server-env KEY=VALUE: extra LOGCENTER_* settings for the server under test


def server_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    env.update(SERVER_ENV)
    env["LOGCENTER_DATABASE_URL"] = url
    return env


def logcenter(args: list[str], url: str, cwd: Path, *, timeout: float = 120) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "logcenter", *args],
        env=server_env(url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"logcenter {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


# ------------------------------------------------------------------------------------------------ scenarios


@dataclass
class Run:
    target: str  # sqlite | postgres | ceiling | bare
    scenario: str  # rest | sentry
    result: LoadResult | None = None
    warmup_ok: int = 0
    peak_rss_mb: float = 0.0
    stored: tuple[int, int] | None = None
    acked_total: int = 0
    profile: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""
    busy_before_pct: float = 0.0
    all_runs: list[LoadResult] = field(default_factory=list)
    measured_ok: int = 0  # accepted in all measured runs (for the durability check)
    commit: str = ""  # the project's commit when this run's server started (others may commit meanwhile)


@dataclass
class SentryTarget:
    project_id: int
    key: str
    pool_prefix: Path


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.runs: list[Run] = []
        self.templates: list[Any] | None = None
        self.last_pool: SentryTarget | None = None
        self.rest_rate: dict[str, float] = {}
        self.rest_key = ""  # with --ingest-key: the project's, made by start_logcenter

    # -- load helpers

    def load(
        self,
        server: Server,
        url: str,
        scenario: str,
        seconds: int,
        headers: dict[str, str],
        pool: Path | None,
    ) -> LoadResult:
        script = BENCH / "wrk" / ("report.lua" if scenario == "rest" else "envelope.lua")
        script_args = [PROJECT] if scenario == "rest" else [str(pool)]
        result = run_wrk(
            url,
            script,
            seconds=seconds,
            connections=self.args.connections,
            threads=self.args.threads,
            headers=headers,
            script_args=script_args,
            server_pid=server.proc.pid if server.proc else None,
        )
        result.server_dedupes = not server.name.startswith("bare")
        return result

    def warm_and_measure(
        self, run: Run, server: Server, url: str, headers: dict[str, str], pool: Path | None
    ) -> None:
        """Warm up, measure, optionally profile; each phase of the Sentry scenario has its own envelopes."""

        def phase(name: str) -> Path | None:
            return Path(f"{pool}-{name}") if pool else None

        run.busy_before_pct = wait_until_quiet(self.args.quiet_wait)
        if run.busy_before_pct > 10:
            log(f"  WARNING: other processes keep {run.busy_before_pct:.0f}% CPU busy: expect low figures")
        if self.args.warmup > 0:
            warm = self.load(server, url, run.scenario, self.args.warmup, headers, phase("warm"))
            run.warmup_ok = warm.accepted
            log(f"  warmup {self.args.warmup}s: {warm.accepted / (warm.duration_us / 1e6):,.0f}/s accepted")
        results = []
        for i in range(self.args.repeat):
            if i:
                wait_until_quiet(self.args.quiet_wait)
            res = self.load(server, url, run.scenario, self.args.duration, headers, phase(f"run{i}"))
            results.append(res)
            log(
                f"  {run.target}/{run.scenario}: {res.rate:,.0f} accepted/s, p50 {res.p50_us / 1000:.1f} ms, "
                f"p99 {res.p99_us / 1000:.1f} ms, non-200 {res.non200}, socket errors {res.socket_errors}"
                + (f", re-sent {res.repeats}" if res.repeats else "")
            )
            split = " (http {http}, writer {writer}, checkpoint {checkpoint})" if res.cpu["writer"] else ""
            cores = "server {server}" + split + ", wrk {wrk}, postgres {postgres}, others {others}"
            log(("  CPU cores used: " + cores + ", hypervisor steal {steal}").format(**res.cpu))
            if res.cpu.get("others", 0) > DISTURBED_CORES:
                log("  WARNING: other processes used CPU during this run: its figures are disturbed")
            if res.first_error:
                log(f"  first non-200: {res.first_error}")
        # Of --repeat runs, report the median of those other processes left alone, else the least disturbed.
        # Not the fastest: preempting the server can make its batches bigger and a disturbed run faster.
        quiet = sorted(
            (r for r in results if r.cpu.get("others", 0.0) <= DISTURBED_CORES), key=lambda r: r.rate
        )
        run.result = quiet[len(quiet) // 2] if quiet else min(results, key=lambda r: r.cpu.get("others", 0.0))
        run.all_runs = results
        run.measured_ok = sum(r.accepted for r in results)
        if self.args.profile and run.target != "bare":
            run.profile = self.profile(server, url, run.scenario, headers, phase("prof"))

    def profile(
        self, server: Server, url: str, scenario: str, headers: dict[str, str], pool: Path | None
    ) -> dict:
        """A separate load run under py-spy, one recorder per server process (the HTTP workers and the writer
        process), since `py-spy --subprocesses` fails on the spawned writer (benfred/py-spy#763). Its numbers
        are not reported: sampling slows the server."""
        from profile_summary import summarize  # bench/profile_summary.py

        assert server.proc is not None
        seconds = self.args.profile_seconds
        base = RESULTS / f"profile-{self.stamp}-{server.name}-{scenario}"
        spies: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}
        for pid in process_tree(server.proc.pid):
            if "resource_tracker" in _cmdline(pid):  # multiprocessing's helper: no Log Center code
                continue
            role = "writer" if _comm(f"/proc/{pid}") == "lc-writer" else f"http-{pid}"
            out = Path(f"{base}-{role}.txt")
            cmd = ["py-spy", "record", "--pid", str(pid), "--threads", "--rate", "200"]
            cmd += ["--duration", str(seconds), "--format", "raw", "--output", str(out), "--nonblocking"]
            spies[role] = out, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log(f"  profiling {seconds}s with py-spy ({', '.join(spies)}) -> {base}-*.txt")
        time.sleep(0.5)
        res = self.load(server, url, scenario, seconds, headers, pool)
        log(f"  under py-spy: {res.rate:,.0f} accepted/s (not reported: sampling slows the server)")
        profiles: dict[str, Any] = {"accepted": res.accepted}
        for role, (out, spy) in spies.items():
            _, err = spy.communicate(timeout=seconds + 60)
            if spy.returncode != 0 or not out.exists():
                log(f"  py-spy on {role} failed: {err.decode(errors='replace')[-500:]}")
                continue
            summary = summarize(out, top=self.args.profile_top)
            if not summary["samples"]:  # an idle supervisor
                continue
            out.with_suffix(".summary.txt").write_text(summary["text"])
            print(f"-- {role}\n{summary['text']}", flush=True)
            profiles[role] = {"raw": str(out), "summary": str(out.with_suffix(".summary.txt"))}
        return profiles

    # -- server runs

    def start_logcenter(self, run: Run, db: str) -> tuple[Server, str]:
        """A fresh server on a fresh database, ready once it accepted a report (which creates the project)."""
        run.commit = _git_head()
        rundir = self.workdir / f"{run.target}-{run.scenario}"
        rundir.mkdir()
        url = prepare_database(db, rundir)
        port = free_port()
        env = server_env(url)
        if self.args.ingest_key:
            env["LOGCENTER_INGEST_REQUIRE_KEY"] = "true"
        name = f"logcenter-{run.target}-{run.scenario}"
        server = Server(name, self.logcenter_cmd(port, run.target), env=env, cwd=rundir, port=port)
        server.start()
        if not self.args.ingest_key:
            server.wait_ready(lambda: one_report(server.base), timeout=self.args.ready_timeout)
            return server, url
        # Keys required: reports cannot create the project, so the API does, and the probe sends its key.
        server.wait_ready(lambda: healthy(server.base), timeout=self.args.ready_timeout)
        token = self.admin_token(server, url)
        admin = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"project_id": PROJECT}).encode()
        status, answer = http("POST", f"{server.base}/api/v1/projects", body, admin)
        if status != 201:
            raise RuntimeError(f"POST /api/v1/projects -> {status}: {answer[:300]!r}")
        self.rest_key = json.loads(answer)["ingest_key"]
        if not one_report(server.base, self.rest_key):
            raise RuntimeError("the probe report with the project's ingest key was refused")
        return server, url

    @staticmethod
    def admin_token(server: Server, url: str) -> str:
        out = logcenter(["token", "create", "--name", "bench", "--scope", "admin"], url, server.cwd)
        return out.strip().splitlines()[-1].strip()

    def keep_log(self, server: Server) -> None:
        if self.args.keep_logs:
            RESULTS.mkdir(exist_ok=True)
            shutil.copy(server.log_path, RESULTS / f"{self.stamp}-{server.name}.log")

    def finish(self, run: Run, server: Server, db: str, url: str) -> None:
        server.stop()
        self.keep_log(server)
        assert server.rss is not None
        run.peak_rss_mb = server.rss.peak_mb
        if run.result is None or run.target == "ceiling":  # the ceiling stores nothing: no durability
            return
        run.stored = stored_counts(db, url)
        if run.stored is not None:
            bugs, occurrences = run.stored
            verdict = "ok" if occurrences >= run.acked_total else "LOST REPORTS"
            log(
                f"  durability: {run.acked_total:,} acknowledged, {occurrences:,} stored "
                f"in {bugs:,} bugs: {verdict}"
            )

    def run_rest(self, db: str, target: str) -> None:
        run = Run(target, "rest")
        self.runs.append(run)
        server, url = self.start_logcenter(run, db)
        try:
            headers = {"X-Logcenter-Key": self.rest_key} if self.args.ingest_key else {}
            self.warm_and_measure(run, server, f"{server.base}/api/v1/logs/report", headers, None)
            assert run.result is not None
            run.acked_total = 1 + run.warmup_ok + run.measured_ok + run.profile.get("accepted", 0)
            if target == db:
                self.rest_rate[db] = run.result.rate
        finally:
            self.finish(run, server, db, url)

    def run_sentry(self, db: str, target_name: str) -> None:
        run = Run(target_name, "sentry")
        self.runs.append(run)
        server, url = self.start_logcenter(run, db)
        try:
            target = self.sentry_target(server, url, db, target_name)
            if target is None:
                run.skipped = "Sentry envelope endpoint not available yet"
                return
            headers = self.sentry_headers(target.key)
            self.warm_and_measure(
                run,
                server,
                f"{server.base}/api/{target.project_id}/envelope/",
                headers,
                target.pool_prefix,
            )
            assert run.result is not None
            # + the REST report that created the project and the probe envelope
            run.acked_total = 2 + run.warmup_ok + run.measured_ok + run.profile.get("accepted", 0)
            self.last_pool = target
        finally:
            self.finish(run, server, db, url)

    def sentry_headers(self, key: str) -> dict[str, str]:
        import sentry_sdk

        headers = {
            "X-Sentry-Auth": (
                f"Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/{sentry_sdk.VERSION}"
            ),
            "User-Agent": f"sentry.python/{sentry_sdk.VERSION}",
            "Content-Type": "application/x-sentry-envelope",
        }
        if self.args.sentry_encoding != "identity":
            headers["Content-Encoding"] = self.args.sentry_encoding
        return headers

    def sentry_target(self, server: Server, url: str, db: str, name: str) -> SentryTarget | None:
        """Project id and key via the API (admin token from the CLI), a probe envelope, the envelope pool."""
        from sentry_envelopes import _fresh_event, capture_templates, encode

        token = self.admin_token(server, url)
        status, body = http(
            "GET", f"{server.base}/api/v1/projects/{PROJECT}", headers={"Authorization": f"Bearer {token}"}
        )
        if status != 200:
            raise RuntimeError(f"GET /api/v1/projects/{PROJECT} -> {status}: {body[:300]!r}")
        project = json.loads(body)
        project = project.get("project", project)
        project_id, key = project.get("id"), project.get("ingest_key")
        if not isinstance(project_id, int) or not key:
            log(f"  project has no numeric id / ingest_key yet ({sorted(project)}): skipping this scenario")
            return None
        if self.templates is None:
            log("  capturing 1,000 event templates with sentry-sdk")
            self.templates = capture_templates(self.workdir)
        # Probe: one real envelope must be accepted before we build a pool.
        headers, event = _fresh_event(self.templates[0], random.Random(), key, 0)
        status, body = http(
            "POST",
            f"{server.base}/api/{project_id}/envelope/",
            encode(headers, event, self.args.sentry_encoding),
            self.sentry_headers(key),
        )
        if status == 404 or status == 405:
            log(f"  POST /api/{project_id}/envelope/ -> {status}: no Sentry endpoint yet; skipping")
            return None
        if status != 200:
            raise RuntimeError(f"probe envelope -> {status}: {body[:300]!r}")
        # Pool size: enough that no event_id repeats. Sized from this database's REST rate when we have one.
        rate = self.args.sentry_rate or max(2500.0, 1.6 * self.rest_rate.get(db, 4000.0))
        prefix = self.workdir / f"pool-{name}"
        self.build_pools(prefix, rate, key, profile=self.args.profile)
        return SentryTarget(project_id, key, prefix)

    def build_pools(self, prefix: Path, rate: float, key: str, *, profile: bool) -> None:
        from sentry_envelopes import build_pool

        phases = {
            "warm": self.args.warmup,
            **{f"run{i}": self.args.duration for i in range(self.args.repeat)},
        }
        if profile:
            phases["prof"] = self.args.profile_seconds
        for phase, seconds in phases.items():
            if seconds <= 0:
                continue
            count = min(int(rate * seconds) + 1000, self.args.max_pool)
            t0 = time.perf_counter()
            build_pool(
                self.templates or [],
                count=count,
                files=self.args.threads,
                public_key=key,
                encoding=self.args.sentry_encoding,
                prefix=Path(f"{prefix}-{phase}"),
            )
            log(
                f"  built {count:,} {self.args.sentry_encoding} envelopes ({phase}) "
                f"in {time.perf_counter() - t0:.1f}s"
            )

    # -- bare

    def run_bare(self, scenario: str) -> None:
        run = Run("bare", scenario)
        self.runs.append(run)
        port = free_port()
        server = Server(
            f"bare-{scenario}",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--app-dir",
                str(BENCH),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *self.uvicorn_args,
            ],
            env={k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")},
            cwd=self.workdir,
            port=port,
        )
        try:
            if scenario == "sentry":
                if self.last_pool is None:
                    if self.templates is None:
                        from sentry_envelopes import capture_templates

                        self.templates = capture_templates(self.workdir)
                    self.last_pool = self.bare_pool()
                pool: Path | None = self.last_pool.pool_prefix
                path, headers = (
                    f"/api/{self.last_pool.project_id}/envelope/",
                    self.sentry_headers(self.last_pool.key),
                )
            else:
                pool, path, headers = None, "/api/v1/logs/report", {}
            server.start()
            server.wait_ready(lambda: one_report(server.base), timeout=60)
            self.warm_and_measure(run, server, f"{server.base}{path}", headers, pool)
        finally:
            server.stop()
            self.keep_log(server)
            assert server.rss is not None
            run.peak_rss_mb = server.rss.peak_mb

    def bare_pool(self) -> SentryTarget:
        prefix = self.workdir / "pool-bare"
        self.build_pools(prefix, self.args.sentry_rate or 4000.0, "0" * 32, profile=False)
        return SentryTarget(1, "0" * 32, prefix)

    @property
    def uvicorn_args(self) -> list[str]:
        return UVICORN_ARGS + (["--workers", str(self.args.workers)] if self.args.workers > 1 else [])

    def logcenter_cmd(self, port: int, target: str) -> list[str]:
        serve = [str(BENCH / "ceiling_serve.py")] if target == "ceiling" else ["-m", "logcenter"]
        cmd = [sys.executable, *serve, "serve", "--host", "127.0.0.1", "--port", str(port)]
        return cmd + (["--workers", str(self.args.workers)] if self.args.workers > 1 else [])

    # -- main

    def main(self) -> int:
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dbs = ["sqlite", "postgres"] if self.args.db == "both" else [self.args.db]
        scenarios = ["rest", "sentry"] if self.args.scenario == "both" else [self.args.scenario]
        for scenario in scenarios:
            if not self.args.bare_only:
                targets = [(db, db) for db in dbs] + ([("sqlite", "ceiling")] if self.args.ceiling else [])
                for db, target in targets:
                    log(f"== {target} / {scenario}")
                    try:
                        (self.run_rest if scenario == "rest" else self.run_sentry)(db, target)
                    finally:
                        if not self.args.keep:
                            drop_database(db)
            if not self.args.no_bare:
                log(f"== bare / {scenario}")
                self.run_bare(scenario)
        self.report()
        return 0

    def report(self) -> None:
        bare = {r.scenario: r.result.rate for r in self.runs if r.target == "bare" and r.result}
        rows = []
        head = (
            f"{'target':<9} {'scenario':<8} {'accepted/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'peak RSS':>9} "
            f"{'ratio':>6} {'per CPU-s':>9} {'non-200':>8} {'durable':>8}  cores: server/wrk/pg/others"
        )
        print("\n" + head + "\n" + "-" * len(head))
        for r in self.runs:
            if r.result is None:
                print(f"{r.target:<9} {r.scenario:<8} skipped: {r.skipped or 'failed'}")
                continue
            res = r.result
            ratio = res.rate / bare[r.scenario] if r.scenario in bare and r.target != "bare" else None
            durable = (
                "-"
                if r.target == "bare" or r.stored is None
                else ("yes" if r.stored[1] >= r.acked_total else "NO")
            )
            print(
                f"{r.target:<9} {r.scenario:<8} {res.rate:>10,.0f} "
                f"{res.p50_us / 1000:>7.1f} {res.p99_us / 1000:>7.1f} {r.peak_rss_mb:>6.0f} MB "
                f"{f'{ratio:.2f}' if ratio else '-':>6} {res.per_cpu_s:>9,.0f} {res.non200:>8} {durable:>8}  "
                + "{server:.2f}/{wrk:.2f}/{postgres:.2f}/{others:.2f}".format(**res.cpu)
            )
            rows.append({**asdict(r), "rate": res.rate, "ratio": ratio, "per_cpu_s": res.per_cpu_s})
            if len(r.all_runs) > 1:
                runs = ", ".join(f"{x.rate:,.0f}/s (others {x.cpu.get('others', 0):.2f})" for x in r.all_runs)
                print(f"{'':<19}(of {len(r.all_runs)} runs: {runs})")
        commits = {r.commit for r in self.runs if r.commit}
        if len(commits) > 1:
            print(
                "WARNING: the code changed during the benchmark; servers ran at: "
                + ", ".join(f"{r.target}/{r.scenario} {r.commit}" for r in self.runs if r.commit)
            )
        for r in self.runs:
            if r.target == "sqlite" and r.result:
                res = r.result
                ratio = res.rate / bare[r.scenario] if r.scenario in bare else None
                checks = [
                    f"{res.rate:,.0f}/s {'>=' if res.rate >= TARGET_RPS_SQLITE else '<'} "
                    f"{TARGET_RPS_SQLITE:,}",
                    f"p99 {res.p99_us / 1000:.1f} ms {'<=' if res.p99_us / 1000 <= TARGET_P99_MS else '>'} "
                    f"{TARGET_P99_MS:.0f}",
                ]
                if ratio is not None:
                    checks.append(
                        f"ratio {ratio:.2f} {'>=' if ratio >= TARGET_RATIO else '<'} {TARGET_RATIO}"
                    )
                met = (
                    res.rate >= TARGET_RPS_SQLITE
                    and res.p99_us / 1000 <= TARGET_P99_MS
                    and (ratio is None or ratio >= TARGET_RATIO)
                )
                print(f"targets sqlite/{r.scenario}: {'MET' if met else 'MISSED'} ({'; '.join(checks)})")
        meta = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _git_head(),
            "machine": f"{os.cpu_count()} cores, {_mem_gb():.0f} GB, {platform.platform()}",
            "python": platform.python_version(),
            "args": vars(self.args),
            "runs": rows,
        }
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"ingest-{self.stamp}.json"
        out.write_text(json.dumps(meta, indent=2, default=str))
        print(
            f"\n{meta['date']}, commit {meta['commit']}, on {meta['machine']}; wrk -t{self.args.threads} "
            f"-c{self.args.connections} -d{self.args.duration}s on the same machine"
            f"\nresults: {out.relative_to(REPO)}"
        )


def _git_head() -> str:
    """The commit of the logcenter code the servers run: the checkout their `import logcenter` finds (in the
    servers' environment: a PYTHONPATH to another worktree counts), and whether its src differs from it."""
    found = subprocess.run(
        [sys.executable, "-c", "import logcenter; print(logcenter.__file__)"],
        env=server_env(""),
        capture_output=True,
        text=True,
    )
    checkout = Path(found.stdout.strip()).parent if found.returncode == 0 else REPO
    out = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no", "--", "."],
        capture_output=True,
        text=True,
    )
    head = out.stdout.strip() or "unknown"
    where = "" if checkout.resolve().is_relative_to(REPO) else f" at {checkout}"
    return head + where + ("+uncommitted src changes" if dirty.stdout.strip() else "")


def _mem_gb() -> float:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 1024 / 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    p.add_argument("--scenario", choices=["rest", "sentry", "both"], default="both")
    p.add_argument("--duration", type=int, default=20, help="seconds of measured load per run (default 20)")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measured runs per server; reported: the median undisturbed one (default 1)",
    )
    p.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load first (default 5)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1: leaves a core to the server)"
    )
    p.add_argument(
        "--sentry-encoding",
        choices=["gzip", "br", "identity"],
        default="gzip",
        help="gzip = sentry-python with brotli absent or a compression level set; br = its default "
        "when brotli is installed",
    )
    p.add_argument(
        "--sentry-rate",
        type=float,
        default=0,
        help="envelopes per second to pre-build (default: 1.6 x the REST rate, at least 2,500)",
    )
    p.add_argument("--max-pool", type=int, default=200_000, help="cap on pre-built envelopes per phase")
    p.add_argument(
        "--ready-timeout", type=float, default=90, help="seconds to wait for the server's first 200"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes: `logcenter serve --workers N`, and uvicorn --workers N for the bare app "
        "(default 1)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        help="seconds to wait before each run for other processes to leave the CPU idle (default 120)",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for the server under test, e.g. LOGCENTER_WRITER_MAX_BATCH=200 (repeatable)",
    )
    p.add_argument(
        "--ingest-key",
        action="store_true",
        help="servers require ingest keys (LOGCENTER_INGEST_REQUIRE_KEY=true); REST sends X-Logcenter-Key",
    )
    p.add_argument("--keep-logs", action="store_true", help="copy the server logs to bench/results/")
    p.add_argument("--no-bare", action="store_true", help="skip the bare endpoint")
    p.add_argument(
        "--ceiling",
        action="store_true",
        help="also run the real server with a writer that stores nothing (bench/ceiling_serve.py)",
    )
    p.add_argument(
        "--bare-only", action="store_true", help="only the bare endpoint (to check the load generator)"
    )
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema 'bench' after the run")
    p.add_argument(
        "--profile",
        action="store_true",
        help="after each measured server run, one more run under py-spy; prints the hot spots",
    )
    p.add_argument("--profile-seconds", type=int, default=15)
    p.add_argument("--profile-top", type=int, default=25)
    args = p.parse_args(argv)
    if args.connections < args.threads:
        p.error("--connections must be at least --threads")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for item in args.server_env:
        key, _, value = item.partition("=")
        SERVER_ENV[key] = value
    scenarios = ["rest", "sentry"] if args.scenario == "both" else [args.scenario]
    ensure_tools(scenarios, args.profile, server=not args.bare_only)
    sys.path.insert(0, str(BENCH))
    with tempfile.TemporaryDirectory(prefix="logcenter-bench-") as tmp:
        return Bench(args, Path(tmp)).main()


if __name__ == "__main__":
    raise SystemExit(main())
