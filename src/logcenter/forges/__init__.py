"""Forge clients (Gitea, GitHub, GitLab) behind one interface: see base.py (and client.py for what the three
clients share).

`make_forge` builds a client from a kind, an API base, a repository and a token; `parse_repo` finds
the repository path (`owner/name`, or GitLab's `group/sub/name`) and host in a clone URL;
`default_api_url` gives the usual API base for a host.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from logcenter.forges.base import (
    ChangedFile,
    Check,
    CheckState,
    CommitChecks,
    Forge,
    ForgeConfig,
    ForgeConflict,
    ForgeError,
    ForgeKind,
    MergeStyle,
    PRComment,
    PRState,
    PullRequest,
    RepoInfo,
)

__all__ = [
    "ChangedFile",
    "Check",
    "CheckState",
    "CommitChecks",
    "Forge",
    "ForgeConfig",
    "ForgeConflict",
    "ForgeError",
    "ForgeKind",
    "MergeStyle",
    "PRComment",
    "PRState",
    "PullRequest",
    "RepoInfo",
    "default_api_url",
    "make_forge",
    "parse_repo",
]

_SCP = re.compile(r"^(?:(?P<user>[^@/\s]+)@)?(?P<host>[^:/\s]+):(?P<path>[^\s]+)$")


def parse_repo(repo_url: str) -> tuple[str, str]:
    """(host, path) of a repository URL: https://, http://, ssh://, git@host:path (scp form) or a bare
    `owner/name`, with `.git` and slashes trimmed. The host is "" for a bare path; the port is kept.

    >>> parse_repo("git@gitlab.example:group/sub/app.git")
    ('gitlab.example', 'group/sub/app')
    """
    url = repo_url.strip()
    if not url:
        raise ValueError("empty repository URL")
    if "://" in url:
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
        if parts.port and parts.scheme in ("http", "https"):
            host = f"{host}:{parts.port}"
    elif (m := _SCP.match(url)) and "/" not in m.group("host"):
        host, path = m.group("host"), m.group("path")
    else:
        host, path = "", url
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    path = path.removesuffix("/")
    if path.count("/") < 1 or any(not part for part in path.split("/")):
        raise ValueError(f"not a repository path (owner/name): {repo_url!r}")
    return host, path


def default_api_url(kind: ForgeKind | str, host: str, *, scheme: str = "https") -> str:
    """The usual API base for a forge on `host`: github.com → https://api.github.com, GitHub Enterprise →
    /api/v3, Gitea → /api/v1, GitLab → /api/v4."""
    kind = ForgeKind(kind)
    host = host.strip().rstrip("/")
    if kind is ForgeKind.GITHUB:
        if host in ("", "github.com", "www.github.com", "api.github.com"):
            return "https://api.github.com"
        return f"{scheme}://{host}/api/v3"
    if not host:
        raise ValueError(f"a {kind.value} forge needs a host")
    return f"{scheme}://{host}/api/v1" if kind is ForgeKind.GITEA else f"{scheme}://{host}/api/v4"


def make_forge(
    kind: ForgeKind | str,
    api_url: str,
    token: str,
    *,
    repo: str,
    timeout: float = 15.0,
    max_retries: int = 3,
    **http_options: Any,
) -> Forge:
    """The client for `repo` on the forge at `api_url`. `http_options` (backoff, transport) are for tests."""
    config = ForgeConfig(
        kind=ForgeKind(kind),
        api_url=api_url,
        repo=repo,
        token=token,
        timeout=timeout,
        max_retries=max_retries,
    )
    return forge_from_config(config, **http_options)


def forge_from_config(config: ForgeConfig, **http_options: Any) -> Forge:
    """The client for a ForgeConfig."""
    from logcenter.forges import gitea, github, gitlab

    if config.kind is ForgeKind.GITEA:
        return gitea.GiteaForge(config, **http_options)
    if config.kind is ForgeKind.GITHUB:
        return github.GitHubForge(config, **http_options)
    return gitlab.GitLabForge(config, **http_options)
