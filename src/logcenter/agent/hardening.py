"""What the agent process does to itself at start so that the code it runs (the fixer, the project's tests,
both as the agent's own user) cannot lift its tokens.

A same-user process may read `/proc/<pid>/environ` (and `/proc/<pid>/mem`) of any *dumpable* process of that
user: the fixer's tests could read `/proc/$PPID/environ` and find `LOGCENTER_AGENT_TOKEN` and the forge
tokens. `prctl(PR_SET_DUMPABLE, 0)` makes those files root-owned and refuses ptrace to same-user processes.
The token variables are also dropped from `os.environ` once read into the settings, so no child inherits them
by accident. This is mitigation, not isolation: docs/agent.md says how to run the agent as its own user.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3

# The variables that hold the agent's secrets (AgentSettings reads them once at start).
TOKEN_VARIABLES = (
    "LOGCENTER_AGENT_TOKEN",
    "LOGCENTER_GITEA_TOKEN",
    "LOGCENTER_GITHUB_TOKEN",
    "LOGCENTER_GITLAB_TOKEN",
)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def make_undumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0): same-user processes can no longer read this process's /proc/<pid>/environ
    or memory, nor ptrace it. False where that is not available (not Linux)."""
    libc = _libc()
    if libc is None:
        return False
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        return False
    return bool(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)


def drop_token_variables() -> list[str]:
    """Remove the token variables from this process's environment (the settings hold them now)."""
    dropped = [name for name in TOKEN_VARIABLES if name in os.environ]
    for name in dropped:
        del os.environ[name]
    return dropped


def protect() -> bool:
    """Both of the above; whether the process is now undumpable."""
    undumpable = make_undumpable()
    drop_token_variables()
    return undumpable
