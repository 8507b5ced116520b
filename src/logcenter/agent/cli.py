"""`logcenter agent`: its flags, each also read from `LOGCENTER_AGENT_<NAME>` (flags win)."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from logcenter.agent.options import AgentSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--server", help="Log Center URL (default http://127.0.0.1:8002)")
    a("--token", help="agent token (prefer LOGCENTER_AGENT_TOKEN: a flag shows in `ps`)")
    a("--name", help="agent name in leases and history (default host name + pid)")
    a("--workdir", help="mirrors and worktrees (default ./data/agent)")
    a("--concurrency", type=int, help="bugs fixed at once (default 1)")
    a("--project", help="only this project")
    a("--once", action="store_true", default=None, help="fix what is NEW or sent back now, then exit")
    a("--poll", type=float, help="seconds between claims when idle (default 30)")
    a("--lease", type=int, help="lease of a claimed bug in seconds, renewed by heartbeats (default 600)")
    a("--fixer", choices=["claude", "codex", "aider", "command"], help="the AI CLI (default claude)")
    a(
        "--fixer-command",
        help="the program run by --fixer command (prompt on stdin and LOGCENTER_PROMPT_FILE)",
    )
    a("--fixer-path", help="the fixer's executable (default: found on PATH)")
    a("--model", help="model for the fixer")
    a("--timeout", type=float, help="wall-clock seconds per fix (default 1800)")
    a("--test-timeout", type=float, help="wall-clock seconds per test run (default 900)")
    a("--max-turns", type=int, help="fixer turn limit (default 30)")
    a("--max-budget-usd", type=float, help="fixer spend limit per bug (default 2.00)")
    a("--no-push", action="store_true", default=None, help="no push and no PR: the branch stays local")
    a("--dry-run", action="store_true", default=None, help="--no-push and no status change; print reports")
    a("--json", dest="json_output", action="store_true", default=None, help="progress as JSON lines")


def run(args: argparse.Namespace) -> int:
    from logcenter.agent.runner import EXIT_CONFIG, main

    names = [
        "server", "token", "name", "workdir", "concurrency", "project", "once", "poll", "lease", "fixer",
        "fixer_command", "fixer_path", "model", "timeout", "test_timeout", "max_turns", "max_budget_usd",
        "no_push", "dry_run", "json_output",
    ]  # fmt: skip
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    try:
        settings = AgentSettings(**given)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            print(f"logcenter agent: {where}: {error['msg']}", file=sys.stderr)
        return EXIT_CONFIG
    if settings.token is None:
        print("logcenter agent: no token: set LOGCENTER_AGENT_TOKEN (an `agent` token)", file=sys.stderr)
        return EXIT_CONFIG
    from logcenter.agent.hardening import protect

    # Before any child runs: the fixer and the tests must not read the tokens from /proc/<our pid>/environ.
    if not protect():
        print("logcenter agent: warning: could not make the process undumpable (not Linux?)", file=sys.stderr)
    return main(settings)
