"""The scrubbed environment the fixer and the project's tests run in.

The fixer reads attacker-controlled text, so it must hold nothing worth stealing: no Log Center or forge
token, nothing named `LOGCENTER_*`, no `*_TOKEN` / `*_SECRET` / `*_PASSWORD` / `*_KEY` variable except the AI
CLI's own credentials (an allowlist per fixer), no SSH agent or git credential plumbing that would let it
push, and no variable whose value is one of the agent's secrets under another name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

# The variables each AI CLI needs to reach its model (docs: ai-clis.md §3).
FIXER_ALLOWED: dict[str, frozenset[str]] = {
    "claude": frozenset(
        {
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_MODEL",
            "ANTHROPIC_DEFAULT_OPUS_MODEL",
            "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL",
            "API_TIMEOUT_MS",
            "CLAUDE_CONFIG_DIR",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
        }
    ),
    "codex": frozenset({"CODEX_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_HOME"}),
    "aider": frozenset(
        {
            "OPENAI_API_KEY",
            "OPENAI_API_BASE",
            "ANTHROPIC_API_KEY",
            "OPENROUTER_API_KEY",
            "GEMINI_API_KEY",
            "DEEPSEEK_API_KEY",
            "AIDER_MODEL",
        }
    ),
    "command": frozenset(),
}

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|COOKIE|SESSION|_KEY$|"
    r"^DATABASE_URL$|_DSN$",
    re.IGNORECASE,
)
# Ways to push or authenticate that are not named like secrets.
_DROPPED = frozenset(
    {
        "SSH_AUTH_SOCK",
        "SSH_AGENT_PID",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_CONFIG",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "NETRC",
        "GH_HOST",
        "DOCKER_HOST",
        "KUBECONFIG",
    }
)


def scrubbed(
    fixer: str,
    *,
    secrets: Iterable[str],
    extra_allowed: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A copy of `base` (default os.environ) fit for the fixer `fixer` ("command" keeps no AI key: the
    project's tests run with that)."""
    allowed = FIXER_ALLOWED.get(fixer, frozenset()) | set(extra_allowed)
    known = [s for s in secrets if len(s) >= 4]
    env: dict[str, str] = {}
    for key, value in (os.environ if base is None else base).items():
        if key in allowed:
            env[key] = value
            continue
        if key.upper().startswith("LOGCENTER_") or key in _DROPPED or key.startswith("GIT_CONFIG_"):
            continue
        if _SECRET_NAME.search(key) or any(secret in value for secret in known):
            continue
        env[key] = value
    env["GIT_TERMINAL_PROMPT"] = "0"
    if fixer == "claude":
        # Claude Code strips its own credentials from the commands it runs (ai-clis.md §4.2).
        env["CLAUDE_CODE_SUBPROCESS_ENV_SCRUB"] = "1"
    return env
