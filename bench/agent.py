"""The repair agent's own overhead per bug: everything but the fixer and the project's tests.

    python bench/agent.py [--bugs 8] [--concurrency 1]

Starts `logcenter serve` on a free port with a throwaway SQLite database, creates a project per four bugs,
each with its own bare "origin" holding the sample application of tests/agent (four bugs, pytest tests),
reports the bugs through the REST API, and runs `logcenter agent --once --no-push` with the fake `claude` of
tests/agent/fakes on PATH (it edits at once). Each repair report carries the durations of its steps, the
fixer's run and the test runs; the overhead is the report's total minus those. The agent process's wall clock
per bug (start-up, claims and the server's answers included) is printed too. Target: under 2 s per bug.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "agent" / "sample_app"
FAKE = ROOT / "tests" / "agent" / "fakes" / "claude.py"
KINDS = {
    "ZeroDivisionError": ("division by zero", 5),
    "IndexError": ("list index out of range", 9),
    "ValueError": ("invalid literal for int() with base 10: 'abc'", 13),
    "KeyError": ("'x'", 17),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(*args: str, cwd: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def origin(tmp: Path, name: str) -> Path:
    work = tmp / f"work-{name}"
    shutil.copytree(SAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "sample", cwd=work)
    bare = tmp / "origins" / f"{name}.git"
    bare.parent.mkdir(exist_ok=True)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp)
    return bare


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bugs", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-agent-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    admin = "bench-admin-token-0123456789"
    env = {
        **os.environ,
        "LOGCENTER_DATA_DIR": str(tmp / "data"),
        "LOGCENTER_ADMIN_TOKEN": admin,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'sdk' / 'src'}",
        "LOGCENTER_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "logcenter", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=10) as api:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if api.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("serve did not start")
                time.sleep(0.2)
            token = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "logcenter",
                    "token",
                    "create",
                    "--name",
                    "bench-agent",
                    "--scope",
                    "agent",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            test_command = f"{sys.executable} -m pytest -q -p no:cacheprovider"
            bug_ids = []
            kinds = list(KINDS)
            for i in range(args.bugs):
                slug = f"calc{i // 4}"
                if i % 4 == 0:
                    repo = origin(tmp, slug)
                    body = {"project_id": slug, "repo_url": str(repo), "test_command": test_command}
                    api.post("/api/v1/projects", json=body).raise_for_status()
                kind = kinds[i % 4]
                message, line = KINDS[kind]
                report = {
                    "project_id": slug,
                    "environment": "production",
                    "level": "ERROR",
                    "error": {
                        "type": kind,
                        "message": message,
                        "file_path": "app/calc.py",
                        "line_number": line,
                        "stack_trace": [f"{kind}: {message}"],
                    },
                }
                response = api.post("/api/v1/logs/report", json=report)
                response.raise_for_status()
                bug_ids.append(response.json()["id"])

            bin_dir = tmp / "bin"
            bin_dir.mkdir()
            (bin_dir / "claude").write_text(
                f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(FAKE)!r}, run_name='__main__')\n"
            )
            (bin_dir / "claude").chmod(0o755)
            agent_env = {**env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                         "LOGCENTER_AGENT_SERVER": url, "LOGCENTER_AGENT_TOKEN": token,
                         "LOGCENTER_AGENT_WORKDIR": str(tmp / "agent")}  # fmt: skip
            start = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "logcenter", "agent", "--once", "--no-push", "--json",
                 "--concurrency", str(args.concurrency)],
                env=agent_env,
                check=True,
                capture_output=True,
            )  # fmt: skip
            wall = time.monotonic() - start

            rows = []
            for bug_id in bug_ids:
                [report] = api.get(f"/api/v1/bugs/{bug_id}/repair-reports").json()
                d = report["durations"]
                outside = d.get("fixer_run", 0) + d.get("tests_after", 0) + d.get("tests_before", 0)
                rows.append(
                    (bug_id, report["duration_seconds"], outside, report["duration_seconds"] - outside, d)
                )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'bug':>4} {'total s':>8} {'fixer+tests s':>14} {'overhead s':>11}  steps")
    for bug_id, total, outside, overhead, d in rows:
        steps = " ".join(f"{k}={v:.3f}" for k, v in d.items())
        print(f"{bug_id:>4} {total:8.3f} {outside:14.3f} {overhead:11.3f}  {steps}")
    overheads = [r[3] for r in rows]
    print(
        json.dumps(
            {
                "bugs": len(rows),
                "concurrency": args.concurrency,
                "overhead_mean_s": round(statistics.mean(overheads), 3),
                "overhead_median_s": round(statistics.median(overheads), 3),
                "overhead_max_s": round(max(overheads), 3),
                "agent_wall_s": round(wall, 3),
                "agent_wall_per_bug_s": round(wall / len(rows), 3),
                # Start-up, claims, heartbeats and report posts: the wall clock the reports do not cover.
                "outside_reports_per_bug_s": round((wall - sum(r[1] for r in rows)) / len(rows), 3),
                "target_s": 2.0,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
