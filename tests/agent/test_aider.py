"""`--fixer aider` against a fake aider that does what aider does in a git repository
(tests/agent/fakes/aider.py): the fix holds the fix and its test only, and aider fetches no URL of the
(attacker-written) report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.agent.conftest import HERE, Harness


def install_aider(harness: Harness) -> str:
    """A bin folder with the fake aider; returns the PATH to run the agent with."""
    folder = harness.tmp / "aider-bin"
    folder.mkdir()
    script = folder / "aider"
    fake = str(HERE / "fakes" / "aider.py")
    script.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({fake!r}, run_name='__main__')\n")
    script.chmod(0o755)
    return f"{folder}:{harness.bin_dir}:/usr/bin:/bin"


def test_aider_s_own_files_stay_out_of_the_fix_and_it_fetches_no_url(harness: Harness) -> None:
    harness.project()
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/admin"
    bug_id = harness.report(
        "ValueError",
        message=f"invalid literal for int() with base 10: 'abc' (see {metadata})",
        context={"url": "https://attacker.example/payload.txt"},
    )
    run = harness.run(
        "--once", "--no-push", "--fixer", "aider", PATH=install_aider(harness), OPENAI_API_KEY="sk-openai-key"
    )
    assert run.returncode == 0, run.stderr

    [report] = harness.bug(bug_id)["repair_reports"]
    assert report["failure_reason"].startswith("not_pushed: verified fix"), report["failure_reason"]
    # Only the fix and its regression test: no .gitignore line, chat history or repository-map cache of aider.
    assert sorted(report["modified_files"]) == ["app/calc.py", "tests/test_bug_parse_int.py"]
    assert ".aider" not in report["diff"] and ".gitignore" not in report["diff"]

    [seen] = harness.fixer_runs()
    argv = harness.seen(seen)["argv"]
    # The report's URLs are text to read, never pages for aider to fetch from the agent's network.
    assert json.loads((seen / "fetched.json").read_text()) == []
    assert "--no-detect-urls" in argv and "--no-analytics" in argv
    # Its chat history is kept beside the prompt, outside the worktree.
    history = Path(argv[argv.index("--chat-history-file") + 1])
    assert history.exists() and not history.is_relative_to(Path(harness.seen(seen)["cwd"]))
    assert harness.seen(seen)["env"]["OPENAI_API_KEY"] == "sk-openai-key"
