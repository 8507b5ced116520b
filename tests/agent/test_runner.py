"""The agent as a long-running process: two agents sharing four bugs, SIGTERM, and a crash whose lease
expires so that the next run fixes the bug."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.agent.conftest import Harness, parse_events


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def start(harness: Harness, *args: str, scenario: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        harness.command(*args),
        env=harness.env(scenario, **extra),
        cwd=harness.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fixer_pid(run: Path) -> int:
    return int(run.name.rsplit("-", 1)[1])


def test_two_agents_fix_four_bugs_once_each(harness: Harness) -> None:
    harness.project()
    bugs = [harness.report(kind) for kind in ("ZeroDivisionError", "IndexError", "ValueError", "KeyError")]
    agents = [
        start(harness, "--once", "--no-push", "--concurrency", "2", "--name", name, scenario="slow:1")
        for name in ("agent-a", "agent-b")
    ]
    outputs = [agent.communicate(timeout=240) for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0], outputs

    assert len(harness.fixer_runs()) == 4
    owners = []
    for bug_id in bugs:
        bug = harness.bug(bug_id)
        [report] = bug["repair_reports"]  # fixed once
        assert report["failure_reason"].startswith("not_pushed: verified fix"), report["failure_reason"]
        assert report["test_passed"] is True
        claims = [e for e in bug["history"] if e["from_status"] == "NEW" and e["to_status"] == "FIXING"]
        assert len(claims) == 1
        owners.append(report["agent"])
    assert set(owners) <= {"agent-a", "agent-b"}
    # Each run had its own worktree, and every worktree is gone.
    cwds = {harness.seen(run)["cwd"] for run in harness.fixer_runs()}
    assert len(cwds) == 4
    assert list((harness.tmp / "agent" / "worktrees").iterdir()) == []
    summaries = [e for _, err in outputs for e in parse_events(err) if e["event"] == "summary"]
    assert sum(s.get("failed", 0) for s in summaries) == 4  # FAILED(not_pushed) is how --no-push ends


def test_sigterm_gives_the_bug_back_and_exits(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    agent = start(harness, "--once", "--no-push", scenario="hang")
    wait_for(lambda: len(harness.fixer_runs()) == 1)
    [run] = harness.fixer_runs()
    agent.send_signal(signal.SIGTERM)
    _, stderr = agent.communicate(timeout=60)
    assert agent.returncode == 0, stderr

    bug = harness.bug(bug_id)
    assert bug["status"] == "NEW" and bug["lease_owner"] is None
    assert "stopped during fix" in bug["history"][-1]["note"]
    assert bug["repair_reports"] == []
    events = parse_events(stderr)
    assert [e["event"] for e in events if e.get("bug") == bug_id][-1] == "released"
    # The fixer was stopped with it.
    wait_for(lambda: not Path(f"/proc/{fixer_pid(run)}").exists(), timeout=15)


def test_a_killed_agent_s_bug_returns_to_new_and_the_next_run_fixes_it(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    agent = start(harness, "--once", "--no-push", "--lease", "10", scenario="hang")
    wait_for(lambda: len(harness.fixer_runs()) == 1)
    [run] = harness.fixer_runs()
    agent.kill()  # SIGKILL: no chance to release anything
    agent.communicate(timeout=30)
    os.kill(fixer_pid(run), signal.SIGKILL)  # the crash took the machine's fixer down too
    assert harness.bug(bug_id)["status"] == "FIXING"

    # Until the lease runs out, another agent finds nothing to do.
    early = harness.run("--once", "--no-push", "--name", "agent-2")
    assert early.event("summary")["message"].startswith("0 bugs")

    wait_for(lambda: time.time() > run.stat().st_mtime + 11, timeout=30)
    again = harness.run("--once", "--no-push", "--name", "agent-2")
    assert again.returncode == 0, again.stderr
    bug = harness.bug(bug_id)
    kinds = [(e["kind"], e["to_status"], e["actor"]) for e in bug["history"]]
    assert ("lease_expired", "NEW", "system") in kinds
    [report] = bug["repair_reports"]
    assert report["agent"] == "agent-2" and report["test_passed"] is True


def test_heartbeats_keep_the_lease_of_a_long_fix(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    agent = start(harness, "--once", "--no-push", "--lease", "10", "--name", "agent-1", scenario="slow:16")
    wait_for(lambda: len(harness.fixer_runs()) == 1)
    [run] = harness.fixer_runs()
    # Past the first lease's end, another agent's claim (which sweeps expired leases) finds nothing to take.
    wait_for(lambda: time.time() > run.stat().st_mtime + 12, timeout=30)
    other = harness.run("--once", "--no-push", "--name", "agent-2")
    assert other.event("summary")["message"].startswith("0 bugs")
    _, stderr = agent.communicate(timeout=120)
    assert agent.returncode == 0, stderr
    bug = harness.bug(bug_id)
    assert [e["kind"] for e in bug["history"]].count("lease_expired") == 0
    [report] = bug["repair_reports"]
    assert report["agent"] == "agent-1" and report["test_passed"] is True
