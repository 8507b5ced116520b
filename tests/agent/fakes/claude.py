"""A fake `claude` (Claude Code CLI) for the agent's tests: it follows the documented headless contract
(shared/reference/ai-clis.md §3.1: `-p`, `--output-format json`, the prompt on stdin, one JSON `result`
object on stdout) and edits the working directory the way a scenario says.

FAKE_CLAUDE_SCENARIO picks the behaviour; FAKE_CLAUDE_RECORD names a directory where it writes what it saw
(argv, environment, prompt, working directory), one sub-directory per run.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

# What a good fix of each sample bug looks like: (old line, new line, regression test).
FIXES = {
    "ZeroDivisionError": (
        "    return sum(values) / len(values)\n",
        "    return sum(values) / len(values) if values else 0.0\n",
        "average",
        "from app import calc\n\n\ndef test_average_of_nothing_is_zero():\n"
        "    assert calc.average([]) == 0.0\n",
    ),
    "IndexError": (
        "    return values[0]\n",
        "    return values[0] if values else None\n",
        "first",
        "from app import calc\n\n\ndef test_first_of_nothing_is_none():\n    assert calc.first([]) is None\n",
    ),
    "ValueError": (
        "    return int(text)\n",
        "    try:\n        return int(text)\n    except ValueError:\n        return None\n",
        "parse_int",
        "from app import calc\n\n\ndef test_parse_int_of_words_is_none():\n"
        "    assert calc.parse_int('abc') is None\n",
    ),
    "KeyError": (
        "    return table[key]\n",
        "    return table.get(key)\n",
        "lookup",
        "from app import calc\n\n\ndef test_lookup_missing_key_is_none():\n"
        "    assert calc.lookup({}, 'x') is None\n",
    ),
}


# A revision of a fix already on the branch (the reviewer asked for None instead of 0.0): (old, new, test).
REVISIONS = {
    "ZeroDivisionError": (
        "    return sum(values) / len(values) if values else 0.0\n",
        "    return sum(values) / len(values) if values else None\n",
        "from app import calc\n\n\ndef test_average_of_nothing_is_none():\n"
        "    assert calc.average([]) is None\n",
    ),
}


def revise(error_type: str, scenario: str) -> str:
    """Revision mode (the fix is already in the working directory): change it again, as asked."""
    source = Path("app/calc.py")
    name = FIXES[error_type][2]
    if error_type in REVISIONS:
        old, new, test = REVISIONS[error_type]
        source.write_text(source.read_text().replace(old, new))
        Path(f"tests/test_bug_{name}.py").write_text(test)
    else:
        source.write_text(source.read_text() + "\n# Revised after review.\n")
    if scenario == "breaks":
        source.write_text(
            source.read_text().replace("    return sum(values)\n", "    return sum(values) + 1\n")
        )
    return f"Revised: {name} now returns None for empty input, as the reviewer asked; test updated."


def result(
    text: str, *, subtype: str = "success", is_error: bool = False, denials: list | None = None
) -> dict:
    return {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": 1234,
        "duration_api_ms": 1000,
        "num_turns": 7,
        "result": text,
        "session_id": str(uuid.uuid4()),
        "total_cost_usd": 0.0421,
        "usage": {"input_tokens": 1200, "output_tokens": 340},
        "permission_denials": denials or [],
    }


def main() -> int:
    args = sys.argv[1:]
    prompt = sys.stdin.read()
    record = os.environ.get("FAKE_CLAUDE_RECORD")
    if record:
        run = Path(record) / f"{time.time_ns()}-{os.getpid()}"
        run.mkdir(parents=True)
        (run / "argv.json").write_text(json.dumps(args))
        (run / "env.json").write_text(json.dumps(dict(os.environ)))
        (run / "prompt.txt").write_text(prompt)
        (run / "cwd.txt").write_text(os.getcwd())
    if "-p" not in args and "--print" not in args:
        print("fake claude: only print mode (-p) is supported", file=sys.stderr)
        return 2
    output_format = args[args.index("--output-format") + 1] if "--output-format" in args else "text"
    if output_format != "json":
        print("fake claude: this fake speaks only --output-format json", file=sys.stderr)
        return 2
    mode = args[args.index("--permission-mode") + 1] if "--permission-mode" in args else "default"
    if not prompt.strip():
        # Like the real CLI when no prompt arrived (anthropics/claude-code#85040): exit 0, nothing done.
        print(json.dumps(result("No prompt")))
        return 0

    scenario = os.environ.get("FAKE_CLAUDE_SCENARIO", "good")
    if mode not in ("acceptEdits", "bypassPermissions"):
        scenario = "denied"  # in -p mode nobody can answer the edit prompts: every edit is denied
    match = re.search(r"^Error type: (\S+)", prompt, re.M)
    error_type = match.group(1) if match else ""
    if scenario == "hang":
        time.sleep(3600)
    if scenario.startswith("slow"):  # slow:<seconds>, then a good fix
        time.sleep(float(scenario.split(":", 1)[1]))
        scenario = "good"
    if scenario == "is_error":
        print(json.dumps(result("API Error: 529 Overloaded", is_error=True)))
        return 0
    if scenario == "empty":
        print(json.dumps(result("I fixed the bug.")))
        return 0
    if scenario == "denied":
        denial = {"tool_name": "Edit", "tool_use_id": "t1", "tool_input": {"file_path": "app/calc.py"}}
        print(json.dumps(result("I could not edit the file.", denials=[denial])))
        return 0
    if scenario == "ci":
        workflow = Path(".github/workflows/ci.yml")
        workflow.parent.mkdir(parents=True, exist_ok=True)
        workflow.write_text("on: push\njobs: {}\n")
    if error_type not in FIXES:
        print(json.dumps(result(f"I do not know how to fix {error_type!r}")))
        return 0
    old, new, name, test = FIXES[error_type]
    source = Path("app/calc.py")
    if new in source.read_text():  # the fix is on this branch already: a reviewer asked for a revision
        print(json.dumps(result(revise(error_type, scenario))))
        return 0
    if scenario != "test_only":
        source.write_text(source.read_text().replace(old, new))
    if scenario == "breaks":
        source.write_text(
            source.read_text().replace("    return sum(values)\n", "    return sum(values) + 1\n")
        )
    if scenario == "weak_test":
        test = "from app import calc\n\n\ndef test_total_still_works():\n    assert calc.total([1]) == 1\n"
    if scenario != "no_test":
        Path(f"tests/test_bug_{name}.py").write_text(test)
    analysis = f"Root cause: {name} did not handle its edge case ({error_type}). Added a guard and a test."
    print(json.dumps(result(analysis)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
