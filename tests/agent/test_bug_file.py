"""The file the report points at, found in the repository however the running app named it: Aider is given
it to edit (`-- <file>`), so a wrong or missing answer sends it to the wrong file or to none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logcenter.agent.bug_file import file_in_worktree


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in (
        "apps/users/views.py",
        "lib/src/cart/cart_model.dart",
        "src/App.tsx",
        "views.py",
        ".github/workflows/ci.yml",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    outside = tmp_path / "secret.py"
    outside.write_text("token = 1\n")
    os.symlink(outside, root / "apps" / "link.py")
    return root


@pytest.mark.parametrize(
    ("reported", "found"),
    [
        ("apps/users/views.py", "apps/users/views.py"),
        ("/srv/app/apps/users/views.py", "apps/users/views.py"),  # sentry-python's abs_path on a server
        ("package:shop/src/cart/cart_model.dart", "lib/src/cart/cart_model.dart"),  # sentry-dart
        ("webpack://shop/./src/App.tsx", "src/App.tsx"),  # a source-mapped browser frame
        ("app:///src/App.tsx", "src/App.tsx"),  # React Native
        ("views.py", "views.py"),
        ("/srv/other/thing/views.py", None),  # only its bare name matches: not guessed
        ("/etc/passwd", None),
        ("../../etc/passwd", None),
        ("apps/../../secret.py", None),
        ("apps/link.py", None),  # a symlink out of the worktree
        (".github/workflows/ci.yml", None),  # the fixer may not edit CI
        ("-rf", None),
        ("", None),
        ("apps/users/views.py\0", None),
    ],
)
def test_the_reported_file_is_found_in_the_repository(worktree, reported, found):
    assert file_in_worktree(worktree, reported) == found
