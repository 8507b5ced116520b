"""A fake `aider` for the agent's tests, after what aider itself does in a git repository (aider/main.py,
aider/args.py, aider/coders/base_coder.py, aider/repomap.py of Aider-AI/aider; ai-clis.md §3.3):

- unknown options are an argparse error (exit 2), as in aider;
- `--gitignore` (the default) adds `.aider*` to the repository's `.gitignore`, and with `--yes-always` it
  does not ask first (`check_gitignore`);
- the chat is appended to `--chat-history-file` (default `.aider.chat.history.md` in the git root), and the
  repository map's cache is a `.aider.tags.cache.v4/` folder in the git root;
- `--detect-urls` (the default) offers every http(s) URL of the message to the chat, and `--yes-always`
  accepts: aider then fetches the page (`check_for_urls`). The fake records the URLs it would have fetched.

Then it applies the fake claude's fix for the error type. FAKE_CLAUDE_RECORD names a directory where it writes
what it saw (argv, environment, prompt, working directory, fetched URLs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from claude import FIXES  # noqa: E402

URL = re.compile(r"(https?://[^\s/$.?#].[^\s]*[^\s,.])")  # aider's own pattern (check_for_urls)


def parser(root: Path) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aider")
    p.add_argument("files", nargs="*")
    p.add_argument("--message-file", "-f")
    p.add_argument("--model")
    p.add_argument("--yes-always", action="store_true", default=None)
    for flag, default in (
        ("auto-commits", True),
        ("dirty-commits", True),
        ("stream", True),
        ("gitignore", True),
        ("detect-urls", True),
        ("analytics", None),
        ("check-update", True),
        ("show-release-notes", None),
        ("suggest-shell-commands", True),
        ("pretty", True),
    ):
        p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=default)
    p.add_argument("--map-tokens", type=int, default=None)
    p.add_argument("--chat-history-file", default=str(root / ".aider.chat.history.md"))
    p.add_argument("--input-history-file", default=str(root / ".aider.input.history"))
    return p


def main() -> int:
    root = Path(
        subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True).stdout.strip()
        or os.getcwd()
    )
    args = parser(root).parse_args()  # exits 2 on an option aider does not have
    message = Path(args.message_file).read_text()
    fetched = URL.findall(message) if args.detect_urls and args.yes_always else []
    record = os.environ.get("FAKE_CLAUDE_RECORD")
    if record:
        run = Path(record) / f"aider-{os.getpid()}"
        run.mkdir(parents=True)
        (run / "argv.json").write_text(json.dumps(sys.argv[1:]))
        (run / "env.json").write_text(json.dumps(dict(os.environ)))
        (run / "prompt.txt").write_text(message)
        (run / "cwd.txt").write_text(os.getcwd())
        (run / "fetched.json").write_text(json.dumps(fetched))
    if args.gitignore and args.yes_always:
        ignore = root / ".gitignore"
        content = ignore.read_text() if ignore.exists() else ""
        if ".aider*" not in content.splitlines():
            ignore.write_text(content + ("" if not content or content.endswith("\n") else "\n") + ".aider*\n")
            print("Added .aider* to .gitignore")
    if args.map_tokens != 0:
        cache = root / ".aider.tags.cache.v4"
        cache.mkdir(exist_ok=True)
        (cache / "cache.db").write_bytes(b"SQLite format 3\x00")
    with open(args.chat_history_file, "a") as chat:
        chat.write(f"\n# aider chat started\n\n#### {message}\n")
    error_type = re.search(r"^Error type: (\S+)", message, re.M)
    if not error_type or error_type.group(1) not in FIXES:
        print("Nothing to change.")
        return 0
    old, new, name, test = FIXES[error_type.group(1)]
    source = root / "app" / "calc.py"
    source.write_text(source.read_text().replace(old, new))
    (root / "tests" / f"test_bug_{name}.py").write_text(test)
    print(f"Applied edit to app/calc.py\nApplied edit to tests/test_bug_{name}.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
