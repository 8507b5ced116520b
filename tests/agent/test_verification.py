"""`logcenter agent --once` against a live server and a real repository, with the fake `claude`: every way a
fix can fail ends in FAILED with a reason that names the step, and nothing is pushed."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("scenario", "reason", "words"),
    [
        ("no_test", "no_regression_test", "added or changed no test file"),
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
