"""`logcenter agent --once` against a live server and a real repository, with the fake `claude`: every way a
fix can fail ends in FAILED with a reason that names the step, and nothing is pushed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.agent.conftest import Harness, git


def branches(harness: Harness) -> str:
    return git("branch", "--list", "fix/*", cwd=harness.origin)


def test_verified_fix_without_push_stays_on_a_local_branch(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    run = harness.run("--once", "--no-push")
    assert run.returncode == 0, run.stderr

    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    [report] = bug["repair_reports"]
    assert report["failure_reason"].startswith("not_pushed: verified fix committed")
    assert report["test_passed"] is True
    assert sorted(report["modified_files"]) == ["app/calc.py", "tests/test_bug_average.py"]
    assert "if values else 0.0" in report["diff"]
    # Fail-to-pass evidence: the new test failed on the base commit, the suite passed with the fix.
    assert "Before the fix" in report["test_output"] and "FAILED as it should" in report["test_output"]
    assert "ZeroDivisionError" in report["test_output"]
    assert "After the fix" in report["test_output"] and "PASSED" in report["test_output"]
    # The same evidence, structured, for auto-merge (which never reads the text).
    verification = report["verification"]
    assert verification["command"] and verification["command"] in report["test_output"]
    assert {k: v for k, v in verification.items() if k != "command"} == {
        "fail_to_pass": ["tests/test_bug_average.py"],
        "before": "failed",
        "after": "passed",
        "suite": "passed",
    }
    assert report["fixer"] == "claude" and "7 turns" in report["analysis"] and "$0.0421" in report["analysis"]
    assert set(report["durations"]) >= {"prepare", "checkout", "fix", "verify", "commit"}
    # Nothing reached origin; the branch with the agent's commit is in the agent's mirror.
    assert branches(harness) == ""
    branch = report["branch_name"]
    assert branch.startswith("fix/auto-") and branch.endswith(f"-{bug_id}")
    [mirror] = (harness.tmp / "agent" / "mirrors").glob("*.git")
    log = git("log", "-1", "--format=%an|%s", branch, cwd=mirror)
    assert log.strip() == f"Log Center Repair Agent|fix: ZeroDivisionError in calc.py (bug #{bug_id})"
    assert run.event("summary")["message"].startswith("1 bugs")
    # The bug's history shows the run's steps.
    steps = [e["note"].split(":")[0] for e in bug["history"] if e["kind"] == "agent"]
    assert steps == ["fixing", "verifying"]


@pytest.mark.parametrize(
    ("scenario", "reason", "words"),
    [
        ("no_test", "no_regression_test", "against the base branch, adds or changes no test file"),
        ("breaks", "tests_failed", "fail with the fix applied"),
        ("empty", "no_change", "reported success but changed no file"),
        ("is_error", "fixer_error", "is_error true"),
        ("denied", "no_change", "denied: Edit"),
        ("weak_test", "test_not_failing_before_fix", "pass without the fix too"),
        ("ci", "diff_forbidden", ".github/workflows/ci.yml"),
    ],
)
def test_failed_fixes_end_in_failed_with_the_step(
    harness: Harness, scenario: str, reason: str, words: str
) -> None:
    harness.project()
    bug_id = harness.report()
    run = harness.run("--once", "--no-push", scenario=scenario)
    assert run.returncode == 0, run.stderr

    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    assert bug["failure_reason"].startswith(f"{reason}: ")
    assert words in bug["failure_reason"]
    [report] = bug["repair_reports"]
    assert report["status"] == "FAILED"
    failed = run.event("failed", bug_id)
    assert failed["reason"] == reason
    assert branches(harness) == ""
    # The worktrees are gone; only the mirror stays.
    assert list((harness.tmp / "agent" / "worktrees").iterdir()) == []
    if scenario == "breaks":
        assert "test_total" in report["test_output"] and "FAILED" in report["test_output"]


def test_a_hung_fixer_is_stopped_at_the_timeout(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    run = harness.run("--once", "--no-push", "--timeout", "3", scenario="hang")
    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    assert bug["failure_reason"].startswith("timeout: claude ran past the 3 s limit")
    assert run.event("failed", bug_id)["reason"] == "timeout"


def test_missing_test_command_says_where_to_set_it(harness: Harness) -> None:
    harness.project(test_command="")
    bug_id = harness.report()
    harness.run("--once", "--no-push")
    reason = harness.bug(bug_id)["failure_reason"]
    assert reason.startswith("config_missing: project 'calc' has no test_command")
    assert "PUT /api/v1/projects/calc" in reason and "LOGCENTER_AGENT_TEST_COMMAND" in reason
    assert harness.fixer_runs() == []


def test_without_a_forge_token_nothing_is_tried(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    harness.run("--once")
    reason = harness.bug(bug_id)["failure_reason"]
    assert reason.startswith("config_missing: no forge for this project")
    assert harness.fixer_runs() == []


def test_project_settings_on_the_server_override_the_agent(harness: Harness) -> None:
    harness.project(agent_settings={"require_regression_test": False, "max_lines": 50})
    project = harness.api.get("/api/v1/projects/calc").json()
    assert project["agent_settings"]["require_regression_test"] is False
    bug_id = harness.report()
    harness.run("--once", "--no-push", scenario="no_test")
    [report] = harness.bug(bug_id)["repair_reports"]
    # Without a regression test the fix goes through, and says it is unverified.
    assert report["failure_reason"].startswith("not_pushed: verified fix")
    assert "Unverified: no regression test" in report["test_output"]
    assert "Before the fix" not in report["test_output"]
    assert {k: v for k, v in report["verification"].items() if k != "command"} == {
        "fail_to_pass": [], "before": "not_run", "after": "not_run", "suite": "passed"
    }  # fmt: skip

    response = harness.api.put("/api/v1/projects/calc", json={"agent_settings": {"max_files": 1}})
    assert response.status_code == 200, response.text
    second = harness.report("IndexError")
    harness.run("--once", "--no-push")
    reason = harness.bug(second)["failure_reason"]
    assert reason.startswith("diff_too_large: the fix changes 2 files and ")
    assert "the limits are 1 files" in reason


def test_bad_project_agent_settings_are_refused(harness: Harness) -> None:
    response = harness.api.post(
        "/api/v1/projects", json={"project_id": "x", "agent_settings": {"fixer": "rm -rf /", "max_files": 0}}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"agent_settings.fixer", "agent_settings.max_files"}


def test_any_command_can_be_the_fixer(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report("KeyError")
    fixer = f"{sys.executable} {Path(__file__).parent / 'fakes' / 'command_fixer.py'} --flag"
    run = harness.run("--once", "--no-push", "--fixer", "command", "--fixer-command", fixer)
    assert run.returncode == 0, run.stderr
    [report] = harness.bug(bug_id)["repair_reports"]
    assert report["fixer"] == "command"
    assert report["failure_reason"].startswith("not_pushed: verified fix")
    assert "fixed lookup" in report["analysis"]
    [seen] = harness.fixer_runs()
    env = harness.seen(seen)["env"]
    assert [k for k in env if k.startswith("LOGCENTER_")] == ["LOGCENTER_PROMPT_FILE"]
    assert harness.seen(seen)["argv"] == ["--flag"]

    second = harness.report("IndexError")
    harness.run("--once", "--no-push", "--fixer", "command", "--fixer-command", fixer, scenario="crash")
    reason = harness.bug(second)["failure_reason"]
    assert reason == "fixer_error: command exited with 1"
    assert "the fixer crashed" in harness.bug(second)["repair_reports"][0]["test_output"]


def test_dry_run_changes_nothing_on_the_server(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report()
    run = harness.run("--once", "--dry-run")
    assert run.returncode == 0, run.stderr
    bug = harness.bug(bug_id)
    assert bug["status"] == "NEW" and bug["repair_reports"] == []
    assert [e["kind"] for e in bug["history"]] == ["created"]
    printed = json.loads(run.stdout)
    assert printed["test_passed"] is True and "--dry-run" in printed["failure_reason"]
    assert "if values else 0.0" in printed["diff"]
    assert branches(harness) == ""
    # Its progress does not say it claimed the bug: a dry run claims nothing.
    events = [e["event"] for e in run.events if e.get("bug") == bug_id]
    assert events[0] == "found" and "claimed" not in events
    assert "(dry run: not claimed)" in run.event("found", bug_id)["message"]


def test_codex_runs_in_its_workspace_write_sandbox(harness: Harness) -> None:
    harness.project()
    bug_id = harness.report("ValueError")
    run = harness.run("--once", "--no-push", "--fixer", "codex", OPENAI_API_KEY="sk-openai-key")
    assert run.returncode == 0, run.stderr
    [report] = harness.bug(bug_id)["repair_reports"]
    assert report["failure_reason"].startswith("not_pushed: verified fix"), report["failure_reason"]
    assert report["fixer"] == "codex" and "Guarded parse_int" in report["analysis"]
    assert "1020 tokens" in report["analysis"]
    [seen] = harness.fixer_runs()
    argv = harness.seen(seen)["argv"]
    assert argv[:3] == ["exec", "--sandbox", "workspace-write"] and "--json" in argv
    assert harness.seen(seen)["env"]["OPENAI_API_KEY"] == "sk-openai-key"

    second = harness.report("KeyError")
    harness.run("--once", "--no-push", "--fixer", "codex", scenario="turn_failed")
    reason = harness.bug(second)["failure_reason"]
    assert reason.startswith("fixer_error: codex reported a failure") and "stream disconnected" in reason


def test_a_fixer_that_is_not_installed_is_a_config_error(harness: Harness) -> None:
    harness.project(agent_settings={"fixer": "aider"})
    bug_id = harness.report()
    harness.run("--once", "--no-push", PATH=f"{harness.bin_dir}:/usr/bin:/bin")
    reason = harness.bug(bug_id)["failure_reason"]
    assert reason == "config_missing: `aider` is not on PATH: install it or set LOGCENTER_AGENT_FIXER_PATH"
    assert harness.fixer_runs() == []
