"""The AI CLIs that edit the code: Claude Code, Codex, Aider, or any command.

Each builds its command line from the documented flags (shared/reference/ai-clis.md §3) and reads what the
tool printed. A fixer's own verdict is one input among several: the agent also requires a non-empty diff and
runs the tests itself, because Claude Code has exited 0 with `"subtype": "success"` on API errors, denied
tools and missing prompts (ai-clis.md §0.2).
"""

from __future__ import annotations

import json
import shlex
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logcenter.agent import processes
from logcenter.agent.bug_file import file_in_worktree
from logcenter.agent.prompt import Prompt

# Claude Code tools that read and edit; the test command is added per project. No WebFetch / WebSearch, no
# Bash wildcard (the `Bash(gh *)` exfiltration: ai-clis.md §4.2).
CLAUDE_TOOLS = [
    "Read",
    "Edit",
    "MultiEdit",
    "Write",
    "Glob",
    "Grep",
    "LS",
    "Bash(git diff:*)",
    "Bash(git status:*)",
]
CLAUDE_DENIED = [
    "WebFetch",
    "WebSearch",
    "Bash(git push:*)",
    "Bash(git commit:*)",
    "Bash(curl:*)",
    "Bash(wget:*)",
    "Bash(gh:*)",
    "Bash(pip install:*)",
    "Bash(npm install:*)",
]


@dataclass
class FixerRun:
    """What a fixer did, as far as its own output tells."""

    ok: bool
    reason: str | None = None  # fixer_error / timeout when not ok
    detail: str = ""  # why, for a person
    analysis: str = ""  # the model's own account of the fix
    cost_usd: float | None = None
    turns: int | None = None
    tokens: int | None = None
    denials: list[str] = field(default_factory=list)
    output_tail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class FixJob:
    prompt: Prompt
    prompt_file: Path  # outside the worktree, so it never lands in the diff
    worktree: Path
    test_command: str
    bug_file: str | None
    env: dict[str, str]
    timeout: float
    max_turns: int
    max_budget_usd: float
    model: str | None
    cancel: threading.Event | None


class FixerMissing(Exception):
    """The fixer's executable is not installed (or the command is not configured)."""


class Fixer:
    name = "command"
    executable = ""

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    def resolve(self) -> str:
        exe = self.path or shutil.which(self.executable)
        if not exe:
            raise FixerMissing(
                f"`{self.executable}` is not on PATH: install it or set LOGCENTER_AGENT_FIXER_PATH"
            )
        return exe

    def argv(self, job: FixJob) -> tuple[list[str], str | None]:
        """The command line and what goes to its stdin."""
        raise NotImplementedError

    def interpret(self, done: processes.Finished, job: FixJob) -> FixerRun:
        if done.returncode != 0:
            return FixerRun(
                ok=False, reason="fixer_error", detail=f"{self.name} exited with {done.returncode}"
            )
        return FixerRun(ok=True, analysis=done.stdout.strip()[-4000:])

    def run(self, job: FixJob) -> FixerRun:
        argv, stdin = self.argv(job)
        done = processes.run(
            argv, cwd=job.worktree, env=job.env, timeout=job.timeout, stdin=stdin, cancel=job.cancel
        )
        if done.timed_out:
            result = FixerRun(
                ok=False,
                reason="timeout",
                detail=f"{self.name} ran past the {job.timeout:g} s limit and was stopped",
            )
        elif done.cancelled:
            result = FixerRun(ok=False, reason="cancelled", detail=f"{self.name} was stopped")
        else:
            result = self.interpret(done, job)
        result.output_tail = done.tail()
        result.seconds = done.seconds
        return result


class ClaudeCode(Fixer):
    """`claude -p --output-format json --permission-mode acceptEdits` with read/edit tools and the test
    command only (ai-clis.md §3.1)."""

    name = executable = "claude"

    def argv(self, job: FixJob) -> tuple[list[str], str | None]:
        tools = [*CLAUDE_TOOLS, f"Bash({job.test_command})", f"Bash({job.test_command}:*)"]
        argv = [
            self.resolve(),
            "-p",
            "--output-format",
            "json",
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            *tools,
            "--disallowedTools",
            *CLAUDE_DENIED,
            "--max-turns",
            str(job.max_turns),
            "--max-budget-usd",
            f"{job.max_budget_usd:g}",
            "--append-system-prompt",
            job.prompt.rules,
        ]
        if job.model:
            argv += ["--model", job.model]
        return argv, job.prompt.text

    def interpret(self, done: processes.Finished, job: FixJob) -> FixerRun:
        result = _last_json(done.stdout, lambda d: d.get("type") == "result")
        if result is None:
            why = f"exited with {done.returncode}" if done.returncode else "printed no JSON result"
            return FixerRun(ok=False, reason="fixer_error", detail=f"claude {why}")
        run = FixerRun(
            ok=True,
            analysis=str(result.get("result") or "")[:20_000],
            cost_usd=_number(result.get("total_cost_usd")),
            turns=_int(result.get("num_turns")),
            denials=[
                str(d.get("tool_name", "?"))
                for d in result.get("permission_denials") or []
                if isinstance(d, dict)
            ],
        )
        subtype = result.get("subtype")
        if result.get("is_error") is True:
            run.ok, run.reason = False, "fixer_error"
            run.detail = f"claude reported an error (is_error true, subtype {subtype}): {run.analysis[:500]}"
        elif subtype == "error_max_turns":
            run.ok, run.reason = False, "fixer_error"
            run.detail = f"claude hit the turn limit ({job.max_turns} turns, --max-turns)"
        elif subtype == "error_max_budget_usd":
            run.ok, run.reason = False, "fixer_error"
            run.detail = f"claude hit the budget limit (${job.max_budget_usd:g}, --max-budget-usd)"
        elif subtype != "success":
            run.ok, run.reason = False, "fixer_error"
            run.detail = f"claude ended with subtype {subtype!r}"
        elif done.returncode != 0:
            run.ok, run.reason = False, "fixer_error"
            run.detail = f"claude exited with {done.returncode}: {run.analysis[:500]}"
        return run


class Codex(Fixer):
    """`codex exec --sandbox workspace-write --json` with stdin closed (ai-clis.md §3.2)."""

    name = executable = "codex"

    def argv(self, job: FixJob) -> tuple[list[str], str | None]:
        argv = [
            self.resolve(),
            "exec",
            "--sandbox",
            "workspace-write",
            "--json",
            "--ephemeral",
            "-C",
            str(job.worktree),
        ]
        if job.model:
            argv += ["--model", job.model]
        # A bare `codex exec` reads a non-TTY stdin and can hang: the prompt is an argument, stdin is empty.
        return [*argv, job.prompt.text], ""

    def interpret(self, done: processes.Finished, job: FixJob) -> FixerRun:
        events = [e for e in (_json(line) for line in done.stdout.splitlines()) if e is not None]
        messages = [
            str(e["item"].get("text", ""))
            for e in events
            if e.get("type") == "item.completed"
            and isinstance(e.get("item"), dict)
            and e["item"].get("type") == "agent_message"
        ]
        tokens = sum(
            int(e.get("usage", {}).get("input_tokens", 0)) + int(e.get("usage", {}).get("output_tokens", 0))
            for e in events
            if e.get("type") == "turn.completed" and isinstance(e.get("usage"), dict)
        )
        turns = sum(1 for e in events if e.get("type") == "turn.completed")
        run = FixerRun(
            ok=True,
            analysis=(messages[-1] if messages else "")[:20_000],
            tokens=tokens or None,
            turns=turns or None,
        )
        failed = [e for e in events if e.get("type") in ("turn.failed", "error")]
        if failed:
            error = failed[-1].get("error") or failed[-1].get("message") or failed[-1]
            run.ok, run.reason, run.detail = (
                False,
                "fixer_error",
                f"codex reported a failure: {str(error)[:500]}",
            )
        elif done.returncode != 0:
            run.ok, run.reason, run.detail = False, "fixer_error", f"codex exited with {done.returncode}"
        return run


class Aider(Fixer):
    """`aider --message-file … --yes-always --no-auto-commits` on the file the error points at (§3.3).

    `--yes-always` answers yes to everything aider asks, so what it would ask is switched off: adding URLs
    of the message to the chat (aider fetches them: the report's URLs are the reporter's, and the agent's
    network is not theirs to browse), adding `.aider*` to the repository's .gitignore (a change of the fix),
    analytics. Its chat history goes beside the prompt, and the repository map's cache it leaves in the
    worktree (`.aider.tags.cache.v4/`) is removed after it, so `git add -A` stages the fix and nothing of
    aider's.
    """

    name = executable = "aider"

    def argv(self, job: FixJob) -> tuple[list[str], str | None]:
        history = job.prompt_file.with_name(job.prompt_file.name + ".aider")
        argv = [
            self.resolve(),
            "--message-file",
            str(job.prompt_file),
            "--yes-always",
            "--no-auto-commits",
            "--no-dirty-commits",
            "--no-gitignore",
            "--no-detect-urls",
            "--no-suggest-shell-commands",
            "--no-analytics",
            "--no-check-update",
            "--no-show-release-notes",
            "--no-pretty",
            "--chat-history-file",
            f"{history}.chat.md",
            "--input-history-file",
            f"{history}.input",
            "--no-stream",
        ]
        if job.model:
            argv += ["--model", job.model]
        bug_file = file_in_worktree(job.worktree, job.bug_file)
        # `--` ends the options: no file name is ever read as one.
        argv += ["--", bug_file] if bug_file else []
        return argv, ""

    def run(self, job: FixJob) -> FixerRun:
        before = {entry.name for entry in job.worktree.glob(".aider*")}
        try:
            return super().run(job)
        finally:
            for entry in job.worktree.glob(".aider*"):
                if entry.name not in before:
                    _remove(entry)


def _remove(entry: Path) -> None:
    """Delete a file or folder the fixer left (a symlink itself, never what it points at)."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


class Command(Fixer):
    """Any program: the prompt on stdin and in the file named by LOGCENTER_PROMPT_FILE; exit 0 = done."""

    name = "command"

    def __init__(self, command: str | None, path: str | None = None) -> None:
        super().__init__(path)
        self.command = command

    def argv(self, job: FixJob) -> tuple[list[str], str | None]:
        if not self.command:
            raise FixerMissing("--fixer command needs --fixer-command (LOGCENTER_AGENT_FIXER_COMMAND)")
        argv = shlex.split(self.command)
        exe = self.path or shutil.which(argv[0]) or argv[0]
        job.env["LOGCENTER_PROMPT_FILE"] = str(job.prompt_file)
        return [exe, *argv[1:]], job.prompt.text


def make(name: str, *, command: str | None = None, path: str | None = None) -> Fixer:
    if name == "claude":
        return ClaudeCode(path)
    if name == "codex":
        return Codex(path)
    if name == "aider":
        return Aider(path)
    return Command(command, path)


def _json(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _last_json(text: str, want: Any) -> dict[str, Any] | None:
    whole = _json(text)
    if whole is not None and want(whole):
        return whole
    for line in reversed(text.splitlines()):
        value = _json(line)
        if value is not None and want(value):
            return value
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
