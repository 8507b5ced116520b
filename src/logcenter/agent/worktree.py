"""Git inside a bug's worktree: the fixer's change staged and described, its diff, a patch applied, the
commit."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from logcenter.agent.git import GitError, base_env, git


@dataclass(frozen=True)
class Change:
    path: str
    status: str  # A / M / D / R / T
    added: int
    removed: int
    mode: str  # the new file mode (120000 = symlink, 160000 = submodule)


def stage_all(worktree: Path) -> list[Change]:
    """Stage everything the fixer changed and describe it (relative to HEAD, the base)."""
    git("add", "-A", cwd=worktree)
    return staged_changes(worktree)


def staged_changes(worktree: Path, against: str = "HEAD") -> list[Change]:
    """What is staged, relative to `against` (HEAD; for a revision, the commit its branch forked from)."""
    counts: dict[str, tuple[int, int]] = {}
    for line in git("diff", "--cached", "--numstat", "--no-renames", "-z", against, cwd=worktree).split("\0"):
        if not line.strip():
            continue
        plus, minus, name = line.split("\t", 2)
        counts[name] = (int(plus) if plus.isdigit() else 0, int(minus) if minus.isdigit() else 0)
    changes = []
    raw = git("diff", "--cached", "--raw", "--no-renames", "-z", against, cwd=worktree).split("\0")
    for meta, path in zip(raw[0::2], raw[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        _, new_mode, _, _, status = meta[1:].split(" ")
        added, removed = counts.get(path, (0, 0))
        changes.append(Change(path=path, status=status[:1], added=added, removed=removed, mode=new_mode))
    return changes


def staged_diff(
    worktree: Path, paths: list[str] | None = None, *, binary: bool = False, against: str = "HEAD"
) -> str:
    args = ["diff", "--cached", "--no-renames"]
    if binary:
        args.append("--binary")
    args.append(against)
    if paths is not None:
        args += ["--", *paths]
    return git(*args, cwd=worktree)


def apply_patch(worktree: Path, patch: str) -> None:
    proc = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        cwd=worktree,
        input=patch,
        text=True,
        capture_output=True,
        env=base_env(),
    )
    if proc.returncode != 0:
        raise GitError(f"git apply failed: {(proc.stdout + proc.stderr).strip()[-1000:]}")


def commit(worktree: Path, *, message: str, name: str, email: str) -> str:
    proc = subprocess.run(
        [
            "git",
            "-c",
            f"user.name={name}",
            "-c",
            f"user.email={email}",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
            "commit",
            "-q",
            "--no-verify",
            "-F",
            "-",
        ],
        cwd=worktree,
        input=message,
        text=True,
        capture_output=True,
        env=base_env(),
    )
    if proc.returncode != 0:
        raise GitError(f"git commit failed: {(proc.stdout + proc.stderr).strip()[-1000:]}")
    return git("rev-parse", "HEAD", cwd=worktree).strip()
