"""A fixer for `--fixer command`: reads the prompt from LOGCENTER_PROMPT_FILE (and checks stdin holds the
same), applies the fake claude's fix for the error type, and records what it saw."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from claude import FIXES  # noqa: E402


def main() -> int:
    prompt = Path(os.environ["LOGCENTER_PROMPT_FILE"]).read_text()
    if sys.stdin.read() != prompt:
        print("stdin and LOGCENTER_PROMPT_FILE differ", file=sys.stderr)
        return 3
    record = os.environ.get("FAKE_CLAUDE_RECORD")
    if record:
        run = Path(record) / f"command-{os.getpid()}"
        run.mkdir(parents=True)
        (run / "env.json").write_text(json.dumps(dict(os.environ)))
        (run / "argv.json").write_text(json.dumps(sys.argv[1:]))
        (run / "prompt.txt").write_text(prompt)
        (run / "cwd.txt").write_text(os.getcwd())
    if os.environ.get("FAKE_CLAUDE_SCENARIO") == "crash":
        print("Traceback: the fixer crashed", file=sys.stderr)
        return 1
    error_type = re.search(r"^Error type: (\S+)", prompt, re.M).group(1)  # type: ignore[union-attr]
    old, new, name, test = FIXES[error_type]
    source = Path("app/calc.py")
    source.write_text(source.read_text().replace(old, new))
    Path(f"tests/test_bug_{name}.py").write_text(test)
    print(f"fixed {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
