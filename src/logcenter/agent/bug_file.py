"""The file a report points at, found in the fixer's worktree however the running app named it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from logcenter.agent import verify


def file_in_worktree(worktree: Path, name: str | None) -> str | None:
    """The report's file, relative to the worktree, when it names an existing file inside it that the fixer
    may edit; else None. The path is the reporter's text, as the running app saw it: a deployment's absolute
    path (`/srv/app/apps/users/views.py`), a bundler's URL (`webpack://shop/./src/App.tsx`), a Dart package
    URI (`package:shop/src/cart.dart`, under `lib/`): the longest tail of it that names a file of the worktree
    is taken (a bare file name only when that is all the report gives). `..`, symlinks out of the worktree,
    option-like names and forbidden files (CI, secrets, .git) are refused."""
    if not name or "\0" in name:
        return None
    root = worktree.resolve()
    for candidate in _tails(name):
        found = _in_worktree(root, candidate)
        if found is not None:
            return found
    return None


def _tails(name: str) -> list[str]:
    """The relative paths a reported file may be in the repository, the most specific first."""
    tails = []
    if name.startswith("package:"):  # package:<name>/<path> is <path> under the package's lib/
        tails.append("lib/" + name.removeprefix("package:").partition("/")[2])
    path = _SCHEME.sub("", name)
    parts = [part for part in PurePosixPath(path).parts if part not in ("/", ".")]
    if ".." in parts:
        return []
    keep = 1 if len(parts) == 1 else 2  # never guess from a bare file name the report did not give alone
    tails += ["/".join(parts[i:]) for i in range(len(parts) - keep + 1)]
    return tails


_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:/*", re.IGNORECASE)


def _in_worktree(root: Path, relative: str) -> str | None:
    if not relative or relative.startswith("-"):
        return None
    try:
        target = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_file() or not target.is_relative_to(root):
        return None
    inside = target.relative_to(root).as_posix()
    if inside.startswith("-") or verify.matches(inside, verify.FORBIDDEN):
        return None
    return inside
