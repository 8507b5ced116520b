"""The verify step of a repair: the fixer's change is staged and checked, then the tests run — the new tests
fail on the base commit and the whole suite passes with the fix (the checks themselves are in verify.py)."""

from __future__ import annotations

from dataclasses import dataclass

from logcenter.agent import verify
from logcenter.agent.fixing import Fixed
from logcenter.agent.git import GitError
from logcenter.agent.job import Attempt, Cancelled, Failure, Job
from logcenter.agent.preparation import Checkout, Setup
from logcenter.agent.worktree import Change, apply_patch, stage_all, staged_changes, staged_diff

MAX_DIFF = 500_000
MAX_OUTPUT = 60_000


@dataclass(frozen=True)
class Verified:
    """The fix as the agent verified it."""

    changes: list[Change]  # this run's change (a revision's: on top of the fix)
    evidence: verify.Evidence
    text: str  # the evidence for the report and the PR, masked


def verify_fix(job: Job, setup: Setup, tree: Checkout, fixed: Fixed, attempt: Attempt) -> Verified:
    """The change is staged and checked (not empty, allowed files, within the limits), then the tests: the
    new ones fail on the base commit, the whole suite passes with the fix."""
    config, revision, worktree = setup.config, job.bug.revision_request, tree.worktree
    changes = stage_all(worktree)  # this run's change (a revision's: on top of the fix)
    attempt.modified = [c.path for c in changes]
    attempt.diff = setup.secret_masker.text(staged_diff(worktree))[:MAX_DIFF] or None
    try:
        if not changes and fixed.run.denials:
            raise verify.Rejected(
                "no_change",
                f"the fixer changed no file; its tools were denied: {', '.join(fixed.run.denials)}",
            )
        if not changes:
            raise verify.Rejected("no_change", f"{setup.fixer.name} reported success but changed no file")
        # The whole fix is judged: a revision's branch since it forked, as the PR shows it.
        whole = changes if revision is None else staged_changes(worktree, against=tree.base)
        verify.check_diff(changes, max_files=config.max_files, max_lines=config.max_lines)
        if revision is not None:
            verify.check_diff(whole, max_files=config.max_files, max_lines=config.max_lines)
        evidence = _evidence(job, setup, tree, whole, attempt)
    except verify.Rejected as rejected:
        if rejected.code == "cancelled":
            raise Cancelled(job.why) from rejected
        raise Failure(rejected.code, str(rejected), rejected.evidence) from rejected
    text = setup.secret_masker.text(evidence.text(config.test_command))[-MAX_OUTPUT:]
    return Verified(changes, evidence, text)


def _evidence(
    job: Job, setup: Setup, tree: Checkout, changes: list[Change], attempt: Attempt
) -> verify.Evidence:
    """The tests: the whole suite on the fix (pass-to-pass), the fix's new tests alone on the base commit
    (fail-to-pass)."""
    worktree, repo, config, env = tree.worktree, tree.repo, setup.config, setup.test_env
    timeout = setup.settings.test_timeout
    evidence = verify.Evidence()
    evidence.test_files = [
        c.path for c in changes if c.status != "D" and verify.matches(c.path, config.test_patterns)
    ]
    if not evidence.test_files:
        if config.require_regression_test:
            raise verify.Rejected(
                "no_regression_test",
                "the fix, against the base branch, adds or changes no test file (patterns: "
                f"{', '.join(config.test_patterns[:10])}); the project requires a regression test",
            )
        evidence.unverified = (
            "no regression test (the project does not require one), so no test was seen to fail before "
            "the fix"
        )
    after = verify.run_tests(config.test_command, cwd=worktree, env=env, timeout=timeout, cancel=job.cancel)
    evidence.after = after
    attempt.timings["tests_after"] = round(after.seconds, 3)
    if not after.passed:
        attempt.test_passed = False
        why = f"ran past {timeout:g} s" if after.timed_out else f"exited with {after.exit_code}"
        raise verify.Rejected(
            "tests_failed",
            f"the project's tests fail with the fix applied (`{config.test_command}` {why})",
            evidence.text(config.test_command),
        )
    if evidence.test_files:
        base_tree = repo.add_worktree(
            worktree.with_name(worktree.name + "-base"), branch=None, base=tree.base
        )
        attempt.base_worktree = base_tree
        try:
            patch = staged_diff(worktree, evidence.test_files, binary=True, against=tree.base)
            apply_patch(base_tree, patch)
        except GitError as exc:
            raise verify.Rejected(
                "test_not_failing_before_fix", f"the new tests do not apply alone: {exc}"
            ) from exc
        before = verify.run_tests(
            config.test_command, cwd=base_tree, env=env, timeout=timeout, cancel=job.cancel
        )
        evidence.before = before
        attempt.timings["tests_before"] = round(before.seconds, 3)
        repo.remove_worktree(base_tree)
        attempt.base_worktree = None
        if before.passed:
            attempt.test_passed = True
            raise verify.Rejected(
                "test_not_failing_before_fix",
                f"the new tests ({', '.join(evidence.test_files)}) pass without the fix too, so they do "
                "not reproduce the bug",
                evidence.text(config.test_command),
            )
    attempt.test_passed = True
    return evidence
