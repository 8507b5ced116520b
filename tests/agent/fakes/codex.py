"""A fake `codex` (OpenAI Codex CLI) for the agent's tests, after its documented non-interactive
contract (shared/reference/ai-clis.md §3.2): `codex exec [flags] "<prompt>"`, `--sandbox workspace-write`
needed to edit, `--json` prints JSONL events (thread.started, turn.started, item.completed, turn.completed
with usage, turn.failed). Without `--sandbox workspace-write` it cannot edit, as the real one; it hangs on
an open stdin the way a bare `codex exec` does.
"""

from __future__ import annotations

import json
import os
import re
import select
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from claude import FIXES  # noqa: E402


def emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] not in ("exec", "e"):
        print("fake codex: only `codex exec` is faked", file=sys.stderr)
        return 2
    # A non-TTY stdin that stays open makes a bare `codex exec` wait for more input.
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    if readable and sys.stdin.read(1):
        time.sleep(3600)
    prompt = args[-1]
    cwd = args[args.index("-C") + 1] if "-C" in args else os.getcwd()
    record = os.environ.get("FAKE_CLAUDE_RECORD")
    if record:
        run = Path(record) / f"codex-{os.getpid()}"
        run.mkdir(parents=True)
        (run / "argv.json").write_text(json.dumps(args[:-1]))
        (run / "env.json").write_text(json.dumps(dict(os.environ)))
        (run / "prompt.txt").write_text(prompt)
        (run / "cwd.txt").write_text(cwd)
    emit({"type": "thread.started", "thread_id": "t-1"})
    emit({"type": "turn.started"})
    if os.environ.get("FAKE_CLAUDE_SCENARIO") == "turn_failed":
        emit({"type": "turn.failed", "error": {"message": "stream disconnected before completion"}})
        return 1
    sandbox = args[args.index("--sandbox") + 1] if "--sandbox" in args else "read-only"
    error_type = re.search(r"^Error type: (\S+)", prompt, re.M)
    if sandbox == "workspace-write" and error_type and error_type.group(1) in FIXES:
        old, new, name, test = FIXES[error_type.group(1)]
        source = Path(cwd) / "app" / "calc.py"
        source.write_text(source.read_text().replace(old, new))
        (Path(cwd) / "tests" / f"test_bug_{name}.py").write_text(test)
        emit({"type": "item.completed", "item": {"id": "i1", "type": "file_change", "changes": []}})
        message = f"Guarded {name} and added a regression test."
    else:
        message = "I cannot edit files in a read-only sandbox."
    emit({"type": "item.completed", "item": {"id": "i2", "type": "agent_message", "text": message}})
    usage = {"input_tokens": 900, "cached_input_tokens": 100, "output_tokens": 120}
    emit({"type": "turn.completed", "usage": usage})
    return 0


if __name__ == "__main__":
    sys.exit(main())
