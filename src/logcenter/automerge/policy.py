"""The auto-merge conditions, each with the value it was judged on (written on the bug's history).

A condition is True (holds), False (refuses the merge for this PR head) or None (not yet: CI still running,
grace period not over). Pure functions: the job (service.py) gathers the facts from the database and the
forge.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from logcenter.automerge.models import MergePolicy
from logcenter.bugs.schemas import TestOutcome, Verification
from logcenter.forges.base import CheckState, PRComment

# Files a fix must never touch without a person: dependencies, CI, migrations, secrets.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "dependency": (
        "requirements*.txt", "requirements/*", "pyproject.toml", "setup.py", "setup.cfg", "Pipfile",
        "Pipfile.lock", "poetry.lock", "uv.lock", "package.json", "package-lock.json", "yarn.lock",
        "pnpm-lock.yaml", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "Gemfile", "Gemfile.lock",
        "composer.json", "composer.lock",
        "pom.xml", "build.gradle", "build.gradle.kts", "*.csproj", "pubspec.yaml", "pubspec.lock",
    ),
    "CI": (
        ".github/*", ".gitea/*", ".gitlab-ci.yml", ".gitlab/*", ".circleci/*", "Jenkinsfile", ".travis.yml",
        "azure-pipelines.yml", ".drone.yml", ".woodpecker*", "Makefile", "Dockerfile", ".ci/*",
    ),
    "migration": ("*/migrations/*", "migrations/*", "*/alembic/*", "alembic/*", "*.sql"),
    "secret": (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "*secret*", "*credential*"),
}  # fmt: skip

_DIFF_FILE = re.compile(r"^diff --git a/(.+?) b/(.+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    ok: bool | None
    value: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def matches(path: str, pattern: str) -> bool:
    """A glob against the whole path or its file name (`*` crosses folders here)."""
    return fnmatchcase(path, pattern) or fnmatchcase(path.rsplit("/", 1)[-1], pattern)


def forbidden_kind(path: str) -> str | None:
    for kind, patterns in FORBIDDEN.items():
        if any(matches(path, p) for p in patterns):
            return kind
    return None


def diff_files(diff: str) -> list[str]:
    return list(dict.fromkeys(m.group(2) for m in _DIFF_FILE.finditer(diff or "")))


def changed_lines(diff: str) -> int:
    """Added plus removed lines of a unified diff."""
    return sum(
        1
        for line in (diff or "").splitlines()
        if (line.startswith("+") and not line.startswith("+++"))
        or (line.startswith("-") and not line.startswith("---"))
    )


def verified(test_passed: bool | None, verification: Verification | None) -> Condition:
    """The agent's structured evidence: its new tests failed on the base commit and pass with the fix, and
    the suite passed. Never read from the report's `test_output`: that text quotes the tests' output, which
    can quote anything (the error report's own words included). A report without it is refused."""
    if verification is None:
        return Condition(
            "verified",
            False,
            "the repair report has no structured verification (an older agent): merge by hand",
        )
    if not test_passed or verification.suite != TestOutcome.PASSED:
        return Condition("verified", False, "the suite did not pass")
    if not verification.shows_fail_to_pass():
        return Condition("verified", False, "no fail-to-pass evidence")
    count = len(verification.fail_to_pass)
    return Condition(
        "verified", True, f"suite passed, fail-to-pass shown ({count} test{'s' if count != 1 else ''})"
    )


def same_head(verified: str | None, head: str) -> Condition:
    """The PR's head is the commit the agent verified: a push since (by anyone) was not verified."""
    ok = verified is None or head.lower().startswith(verified.lower())
    value = head[:12] if ok else f"{head[:12]}, verified {verified[:12]}"  # type: ignore[index]
    return Condition("verified_head", ok, value)


def evaluate(
    policy: MergePolicy,
    *,
    test_passed: bool | None,
    verification: Verification | None,
    diff: str,
    files: list[str],
    checks: CheckState | None,
    opened_at: datetime,
    now: datetime,
    comments: list[PRComment],
    pr_author: str | None,
    revisions: int = 0,
) -> list[Condition]:
    """Every condition, in the order they are written down."""
    files = list(dict.fromkeys([*files, *diff_files(diff)]))
    lines = changed_lines(diff)
    conditions = [verified(test_passed, verification)]
    conditions.append(
        Condition("lines", bool(diff) and lines <= policy.max_lines, f"{lines} of {policy.max_lines}")
    )
    conditions.append(
        Condition("files", 0 < len(files) <= policy.max_files, f"{len(files)} of {policy.max_files}")
    )
    outside = [
        f for f in files if policy.allowed_paths and not any(matches(f, p) for p in policy.allowed_paths)
    ]
    conditions.append(
        Condition(
            "allowed_paths",
            not outside,
            "all allowed" if not outside else f"not allowed: {', '.join(outside)}",
        )
    )
    touched = [(f, kind) for f in files if (kind := forbidden_kind(f))]
    conditions.append(
        Condition(
            "protected_files",
            not touched,
            "none" if not touched else ", ".join(f"{f} ({kind})" for f, kind in touched),
        )
    )
    if policy.require_checks:
        state = checks or CheckState.NONE
        ok = {CheckState.SUCCESS: True, CheckState.PENDING: None}.get(state, False)
        conditions.append(Condition("checks", ok, state.value))
    grace = timedelta(minutes=policy.grace_minutes)
    waited = now - opened_at
    conditions.append(
        Condition(
            "grace_period",
            waited >= grace or None,
            f"{int(waited.total_seconds() // 60)} of {policy.grace_minutes} min",
        )
    )
    said = [
        c for c in comments
        if c.author != pr_author and (c.created_at is None or c.created_at >= opened_at)
    ]  # fmt: skip
    conditions.append(
        Condition(
            "no_review_comment",
            not said,
            "none"
            if not said
            else f"{said[0].kind} by {said[0].author}"
            + (f" and {len(said) - 1} more" if len(said) > 1 else ""),
        )
    )
    # A reviewer asked for changes on this PR: a person is reviewing it, and merges its revised fix.
    conditions.append(
        Condition(
            "no_revision",
            revisions == 0,
            "none" if revisions == 0 else f"{revisions} revision{'s' if revisions != 1 else ''} asked for",
        )
    )
    return conditions


def verdict(conditions: list[Condition]) -> bool | None:
    """True: merge. False: refused for this head. None: wait and look again."""
    if any(c.ok is False for c in conditions):
        return False
    if any(c.ok is None for c in conditions):
        return None
    return True


def summary(conditions: list[Condition]) -> str:
    marks = {True: "✔", False: "✖", None: "…"}
    return "; ".join(f"{marks[c.ok]} {c.name}: {c.value}" for c in conditions)
