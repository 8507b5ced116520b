"""The origin repository fixture: a real bare repo with a small Python app whose own tests run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.forgefake.git import BareRepo, git


def test_origin_repo_holds_an_app_whose_tests_pass(origin_repo: BareRepo, tmp_path: Path) -> None:
    work = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", origin_repo.url, str(work))
    assert (work / "app" / "calc.py").is_file() and (work / "tests" / "test_calc.py").is_file()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert origin_repo.branches() == ["main"]
