"""Verification of a fix by the agent, never by the model (ai-clis.md §2.5, SWE-bench's grading adapted):

1. the diff: inside the repository, no CI or secret files, no symlinks or submodules, within the size limits;
2. fail-to-pass: the fixer's test changes alone, applied to the base commit, make the test command fail;
   with the fix they pass;
3. pass-to-pass: the project's whole test command passes on the fix.

Since the whole suite passes on base + fix + tests and fails on base + tests, the non-test part of the change
is what makes the suite pass: the new tests reproduce the bug and the fix fixes it.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from logcenter.agent import processes
from logcenter.agent.worktree import Change
from logcenter.bugs.schemas import TestOutcome, Verification

# Files the fixer may never change: CI and automation (they run with the repository's secrets), and files
# that hold secrets.
FORBIDDEN = (
    ".git/*",
    ".github/*",
    ".gitea/*",
    ".forgejo/*",
    ".gitlab/*",
    ".gitlab-ci.yml",
    ".circleci/*",
    ".travis.yml",
    ".drone.yml",
    ".woodpecker.yml",
    ".woodpecker/*",
    "Jenkinsfile",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    ".gitmodules",
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    ".netrc",
    ".npmrc",
    ".pypirc",
    "secrets.*",
    "credentials*",
)


class Rejected(Exception):
    """The fix failed a check: `code` names the step (tests_failed, ...), the message says why, `evidence`
    holds the test output."""

    def __init__(self, code: str, message: str, evidence: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.evidence = evidence


def matches(path: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """fnmatch on the whole path and on the file name (so `test_*.py` finds tests/test_x.py)."""
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def check_diff(changes: list[Change], *, max_files: int, max_lines: int) -> None:
    if not changes:
        raise Rejected("no_change", "the fixer changed no file")
    bad = [c.path for c in changes if matches(c.path, FORBIDDEN)]
    if bad:
        raise Rejected(
            "diff_forbidden", f"the fix touches files the agent never commits: {', '.join(bad[:10])}"
        )
    odd = [c.path for c in changes if c.mode in ("120000", "160000")]
    if odd:
        raise Rejected("diff_forbidden", f"the fix adds symlinks or submodules: {', '.join(odd[:10])}")
    outside = [c.path for c in changes if c.path.startswith(("/", "../")) or "/../" in c.path]
    if outside:
        raise Rejected("diff_forbidden", f"the fix reaches outside the repository: {', '.join(outside[:10])}")
    lines = sum(c.added + c.removed for c in changes)
    if len(changes) > max_files or lines > max_lines:
        raise Rejected(
            "diff_too_large",
            f"the fix changes {len(changes)} files and {lines} lines; the limits are {max_files} files and "
            f"{max_lines} lines",
        )


@dataclass
class TestRun:
    passed: bool
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False


@dataclass
class Evidence:
    """What the tests showed, for the report and the PR."""

    test_files: list[str] = field(default_factory=list)
    after: TestRun | None = None  # the whole suite with the fix
    before: TestRun | None = None  # the fixer's tests alone on the base commit
    unverified: str | None = None  # why there is no fail-to-pass evidence, when allowed

    def text(self, command: str) -> str:
        parts = []
        if self.before is not None:
            verdict = (
                "FAILED as it should"
                if not self.before.passed
                else "PASSED (the test does not reproduce the bug)"
            )
            parts.append(
                f"== Before the fix: the new tests ({', '.join(self.test_files)}) on the base commit: "
                f"`{command}` {verdict} (exit {self.before.exit_code}) ==\n{self.before.output}"
            )
        if self.after is not None:
            verdict = "PASSED" if self.after.passed else "FAILED"
            parts.append(
                f"== After the fix: `{command}` {verdict} (exit {self.after.exit_code}) ==\n"
                + self.after.output
            )
        if self.unverified:
            parts.append(f"== Unverified: {self.unverified} ==")
        return "\n\n".join(parts)

    def verification(self, command: str) -> Verification:
        """The same evidence in the report's structured form, which auto-merge reads (never the text)."""
        suite = _outcome(self.after)
        before = _outcome(self.before)
        # The new tests ran with the fix as part of the suite: they passed when it passed.
        after = suite if self.test_files else TestOutcome.NOT_RUN
        shown = before == TestOutcome.FAILED and after == TestOutcome.PASSED
        return Verification(
            command=command[:2_000],
            fail_to_pass=[f[:1_024] for f in self.test_files[:200]] if shown else [],
            before=before,
            after=after,
            suite=suite,
        )


def _outcome(run: TestRun | None) -> TestOutcome:
    if run is None:
        return TestOutcome.NOT_RUN
    if run.timed_out:
        return TestOutcome.TIMED_OUT
    return TestOutcome.PASSED if run.passed else TestOutcome.FAILED


def run_tests(
    command: str, *, cwd: Path, env: dict[str, str], timeout: float, cancel: threading.Event | None
) -> TestRun:
    done = processes.run(["/bin/sh", "-c", command], cwd=cwd, env=env, timeout=timeout, cancel=cancel)
    if done.cancelled:
        raise Rejected("cancelled", "stopped while the tests ran")
    return TestRun(
        passed=done.returncode == 0,
        exit_code=done.returncode,
        output=done.tail(6_000),
        seconds=done.seconds,
        timed_out=done.timed_out,
    )
