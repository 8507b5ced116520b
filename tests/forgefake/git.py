"""Real git for the fake forges: bare repositories on disk, merges made by git in a scratch clone.

A fake forge's PR is a head branch in a bare repository; merging it runs `git merge` (or squash, or rebase) in
a temporary clone and pushes, so the merge commit, "is A contained in B" and the diff all come from git
itself.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fake Forge",
    "GIT_AUTHOR_EMAIL": "forge@example.invalid",
    "GIT_COMMITTER_NAME": "Fake Forge",
    "GIT_COMMITTER_EMAIL": "forge@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


class GitError(RuntimeError):
    pass


def git(cwd: Path | str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run git in `cwd` and return its stdout (stripped of the final newline)."""
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(cwd), **GIT_ENV, **(env or {})},
    )
    if check and result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.rstrip("\n")


SAMPLE_FILES = {
    "README.md": "# Sample app\n\nA tiny app for Log Center's tests.\n",
    "app/__init__.py": "",
    "app/calc.py": (
        '"""Arithmetic helpers used by the sample app."""\n\n\n'
        "def average(values: list[float]) -> float:\n"
        "    return sum(values) / len(values)\n\n\n"
        "def ratio(part: float, whole: float) -> float:\n"
        "    return part / whole\n"
    ),
    "tests/__init__.py": "",
    "tests/test_calc.py": (
        "from app.calc import average, ratio\n\n\n"
        "def test_average() -> None:\n"
        "    assert average([1, 2, 3]) == 2\n\n\n"
        "def test_ratio() -> None:\n"
        "    assert ratio(1, 4) == 0.25\n"
    ),
}


@dataclass
class BareRepo:
    """A bare repository standing for the forge's copy of one project."""

    path: Path

    @property
    def url(self) -> str:
        """What `git clone` takes (the forge's clone_url)."""
        return str(self.path)

    def rev(self, ref: str) -> str:
        return git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")

    def has(self, ref: str) -> bool:
        return bool(git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False))

    def branches(self) -> list[str]:
        return git(self.path, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()

    def is_ancestor(self, commit: str, of: str) -> bool:
        """Whether `commit` is contained in `of` (equal or an ancestor), as git answers it."""
        result = subprocess.run(
            ["git", "merge-base", "--is-ancestor", commit, of], cwd=self.path, capture_output=True, text=True
        )
        if result.returncode not in (0, 1):
            raise GitError(result.stderr.strip())
        return result.returncode == 0

    def merge_base(self, a: str, b: str) -> str:
        return git(self.path, "merge-base", a, b)

    def commits_between(self, base: str, head: str) -> list[str]:
        """Commits in `head` not in `base` (what `compare base...head` lists), oldest first."""
        out = git(self.path, "rev-list", "--reverse", f"{base}..{head}")
        return out.split() if out else []

    def diff(self, base: str, head: str) -> str:
        """The PR's unified diff: `git diff base...head`."""
        return git(self.path, "diff", "--no-color", "--no-ext-diff", f"{base}...{head}") + "\n"

    def numstat(self, base: str, head: str) -> list[tuple[str, str, int, int]]:
        """(filename, status, additions, deletions) of each file changed by the PR."""
        statuses: dict[str, str] = {}
        for line in git(self.path, "diff", "--name-status", "-M", f"{base}...{head}").splitlines():
            parts = line.split("\t")
            code, name = parts[0], parts[-1]
            statuses[name] = {"A": "added", "D": "deleted", "M": "modified"}.get(code[0], "renamed")
        files = []
        for line in git(self.path, "diff", "--numstat", "-M", f"{base}...{head}").splitlines():
            added, deleted, name = line.split("\t", 2)
            if " => " in name:
                name = name.split(" => ")[-1].replace("{", "").replace("}", "")
            files.append(
                (
                    name,
                    statuses.get(name, "modified"),
                    int(added) if added != "-" else 0,
                    int(deleted) if deleted != "-" else 0,
                )
            )
        return files

    def merge(self, base: str, head: str, *, style: str, message: str, author: str) -> str:
        """Merge branch `head` into `base` with git, push, and return the new tip of `base` (the merge commit,
        the squash commit, or the last rebased commit)."""
        env = {"GIT_COMMITTER_NAME": author, "GIT_AUTHOR_NAME": author if style == "squash" else "Fake Forge"}
        with tempfile.TemporaryDirectory(prefix="fakeforge-merge-") as tmp:
            work = Path(tmp) / "w"
            git(tmp, "clone", "--quiet", "--branch", base, self.url, str(work))
            git(work, "fetch", "--quiet", "origin", f"refs/heads/{head}:refs/remotes/origin/{head}")
            if style == "squash":
                git(work, "merge", "--squash", f"origin/{head}", env=env)
                git(work, "commit", "--quiet", "-m", message, env=env)
            elif style in ("rebase", "rebase-merge"):
                git(work, "checkout", "--quiet", "-B", "rebasing", f"origin/{head}")
                git(work, "rebase", "--quiet", base, env=env)
                if style == "rebase":
                    git(work, "checkout", "--quiet", base)
                    git(work, "merge", "--quiet", "--ff-only", "rebasing")
                else:
                    git(work, "checkout", "--quiet", base)
                    git(work, "merge", "--quiet", "--no-ff", "-m", message, "rebasing", env=env)
            elif style == "fast-forward-only":
                git(work, "merge", "--quiet", "--ff-only", f"origin/{head}")
            else:
                git(work, "merge", "--quiet", "--no-ff", "-m", message, f"origin/{head}", env=env)
            git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{base}")
            return git(work, "rev-parse", "HEAD")

    def can_merge(self, base: str, head: str) -> bool:
        """Whether `head` merges into `base` without conflicts (git merge-tree, no worktree needed)."""
        result = subprocess.run(
            ["git", "merge-tree", "--write-tree", base, head], cwd=self.path, capture_output=True, text=True
        )
        return result.returncode == 0


def init_bare(path: Path, files: dict[str, str] | None = None, *, branch: str = "main") -> BareRepo:
    """A bare repository at `path` whose `branch` holds `files` (default: the sample Python app and its
    tests)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--bare", f"--initial-branch={branch}")
    repo = BareRepo(path)
    commit_files(repo, branch, files if files is not None else SAMPLE_FILES, "Initial commit", create=True)
    return repo


def commit_files(
    repo: BareRepo,
    branch: str,
    files: dict[str, str | None],
    message: str,
    *,
    create: bool = False,
    start: str | None = None,
) -> str:
    """Commit `files` (content, or None to delete) on `branch` (created from `start` or the default branch
    when absent) and push; returns the new commit. This is what a developer's or the agent's push looks
    like."""
    with tempfile.TemporaryDirectory(prefix="fakeforge-commit-") as tmp:
        work = Path(tmp) / "w"
        if create and not repo.branches():
            work.mkdir()
            git(work, "init", "--quiet", f"--initial-branch={branch}")
            git(work, "remote", "add", "origin", repo.url)
        else:
            git(tmp, "clone", "--quiet", repo.url, str(work))
            if repo.has(f"refs/heads/{branch}"):
                git(work, "checkout", "--quiet", branch)
            else:
                git(work, "checkout", "--quiet", "-b", branch, start or "HEAD")
        for name, content in files.items():
            target = work / name
            if content is None:
                git(work, "rm", "--quiet", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            git(work, "add", name)
        git(work, "commit", "--quiet", "--allow-empty", "-m", message)
        git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return git(work, "rev-parse", "HEAD")
