"""The words the agent writes: commit message, PR title and body (the seed's `_generate_pr_description`,
with the verification evidence), all built from masked, bounded, single-line report fields."""

from __future__ import annotations

import re

from logcenter.agent.masking import Masker
from logcenter.agent.prompt import clean
from logcenter.agent.verify import Evidence
from logcenter.agent.worktree import Change
from logcenter.bugs.schemas import BugRead

MAX_ANALYSIS = 6_000


def one_line(value: str, limit: int) -> str:
    value = re.sub(r"\s+", " ", clean(value, limit * 2)).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def title(bug: BugRead, masker: Masker) -> str:
    where = bug.file_path.rsplit("/", 1)[-1] if bug.file_path else bug.project_id
    error = one_line(masker.text(bug.error_type), 80)
    return f"fix: {error} in {one_line(masker.text(where), 80)} (bug #{bug.id})"


def commit_message(bug: BugRead, masker: Masker, bug_url: str) -> str:
    return (
        f"{title(bug, masker)}\n\n"
        f"{one_line(masker.text(bug.error_type), 100)}: {one_line(masker.text(bug.message), 300)}\n\n"
        f"Log-Center-Bug: {bug_url}\n"
    )


def _fence(text: str) -> str:
    """A fenced block no backtick run inside `text` can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def pr_body(
    bug: BugRead,
    *,
    bug_url: str,
    masker: Masker,
    analysis: str,
    changes: list[Change],
    evidence: Evidence,
    test_command: str,
    fixer: str,
    cost: str,
) -> str:
    lines = [
        f"Automatic fix of [bug #{bug.id}]({bug_url}) in Log Center, made by `{fixer}` and verified by the "
        "Log Center repair agent.",
        "",
        "## The error",
        _fence(
            f"{one_line(masker.text(bug.error_type), 200)}: {one_line(masker.text(bug.message), 500)}\n"
            f"at {one_line(masker.text(bug.file_path or 'unknown'), 300)}:{bug.line_number or '?'} — seen "
            f"{bug.occurrence_count} times, last {bug.last_seen:%Y-%m-%d %H:%M} UTC"
        ),
        "",
        "## Analysis (by the model)",
        _fence(clean(masker.text(analysis or "(the fixer gave none)"), MAX_ANALYSIS)),
        "",
    ]
    lines += _verification(evidence, test_command)
    lines += ["", "## Files changed", ""]
    lines += [f"- `{c.path}` (+{c.added}, -{c.removed})" for c in changes[:50]]
    if cost:
        lines += ["", f"Fixer run: {cost}."]
    lines += ["", "---", "", WARNING]
    return "\n".join(lines)


WARNING = (
    "⚠️ **Review the changes carefully before merging.** They were written by an AI from an error report "
    "whose text anyone could influence; the agent checked the tests, not the intent."
)


def _verification(evidence: Evidence, test_command: str) -> list[str]:
    lines = ["## Verification (by the agent, not the model)"]
    if evidence.before is not None:
        lines.append(
            f"- Fail before the fix: the new tests ({', '.join(f'`{t}`' for t in evidence.test_files)}) on "
            f"the base commit make `{test_command}` fail (exit {evidence.before.exit_code})."
        )
    if evidence.unverified:
        lines.append(f"- ⚠️ Unverified: {evidence.unverified}.")
    if evidence.after is not None:
        lines.append(
            f"- Pass after the fix: `{test_command}` passes on this branch (exit {evidence.after.exit_code})."
        )
    if evidence.before is not None:
        lines += [
            "",
            "<details><summary>Tests before the fix</summary>",
            "",
            _fence(evidence.before.output[-3000:]),
            "</details>",
        ]
    if evidence.after is not None:
        lines += [
            "",
            "<details><summary>Tests after the fix</summary>",
            "",
            _fence(evidence.after.output[-3000:]),
            "</details>",
        ]
    return lines


def revision_commit_message(bug: BugRead, masker: Masker, bug_url: str, *, number: int, asked_by: str) -> str:
    return (
        f"{title(bug, masker)} — revision {number}\n\n"
        f"Revision {number} of the fix, asked for in review by {one_line(masker.text(asked_by), 300)}.\n\n"
        f"Log-Center-Bug: {bug_url}\n"
    )


def revision_reply(
    bug: BugRead,
    *,
    bug_url: str,
    masker: Masker,
    number: int,
    asked_by: str,
    sha: str,
    analysis: str,
    changes: list[Change],
    evidence: Evidence,
    test_command: str,
    fixer: str,
    cost: str,
) -> str:
    """The agent's answer on the PR after it pushed a revision: what changed and how it was verified (the
    reviewers' own words are not quoted back)."""
    lines = [
        f"Revision {number} of the fix for [bug #{bug.id}]({bug_url}), asked for by "
        f"{one_line(masker.text(asked_by), 300)}: pushed as commit `{sha[:12]}`, made by `{fixer}` and "
        "verified again by the Log Center repair agent.",
        "",
        "## What changed (by the model)",
        _fence(clean(masker.text(analysis or "(the fixer gave none)"), MAX_ANALYSIS)),
        "",
    ]
    lines += _verification(evidence, test_command)
    lines += ["", "## Files changed in this revision", ""]
    lines += [f"- `{one_line(c.path, 300)}` (+{c.added}, -{c.removed})" for c in changes[:50]]
    if cost:
        lines += ["", f"Fixer run: {cost}."]
    lines += ["", "---", "", WARNING]
    return "\n".join(lines)
