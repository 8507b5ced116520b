"""Which forge a project's pull requests go to, with the agent's own credentials, and the PR's text.

The project's forge settings come from the server (kind, API URL, repository) when it has them; the token
always comes from this process's environment (`LOGCENTER_GITEA_TOKEN`, ...), never from the server's API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from logcenter.agent.git import Credentials
from logcenter.agent.options import AgentSettings
from logcenter.forges.base import ForgeKind
from logcenter.projects.schemas import ProjectRead

# How each forge takes a token over git's HTTP basic auth.
_GIT_USER = {ForgeKind.GITEA: "oauth2", ForgeKind.GITHUB: "x-access-token", ForgeKind.GITLAB: "oauth2"}


class ForgeMissing(Exception):
    """No forge (or no token) is configured for a project that needs a pull request."""


@dataclass(frozen=True)
class ForgeTarget:
    kind: ForgeKind
    api_url: str
    repo: str  # owner/name (GitLab: group/sub/name)
    token: str = field(repr=False)
    host: str = ""  # the forge's web (git) host: the one host its token may be sent to

    def credentials(self, remote_url: str) -> Credentials | None:
        """Basic-auth credentials for pushing to `remote_url`, only when it is an http(s) URL on the
        configured forge's own host: a repository address pointing anywhere else never gets the token."""
        parts = urlsplit(remote_url)
        host = (parts.hostname or "").lower()
        if not host or parts.scheme not in ("http", "https") or host != self.host.lower():
            return None
        return Credentials(host=host, username=_GIT_USER[self.kind], password=self.token)


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


def _api_url(kind: ForgeKind, base: str | None) -> str:
    if kind == ForgeKind.GITHUB:
        # LOGCENTER_GITHUB_API_URL (as on the server) is the API itself (GitHub Enterprise:
        # https://github.example.com/api/v3).
        if not base or _host(base) in ("github.com", "www.github.com"):
            return "https://api.github.com"
        return base.rstrip("/")
    if not base:
        raise ForgeMissing(f"no {kind} URL: set LOGCENTER_{kind.upper()}_URL or the project's forge_url")
    base = base.rstrip("/")
    suffix = "/api/v1" if kind == ForgeKind.GITEA else "/api/v4"
    return base if base.endswith(suffix) else base + suffix


def repo_path(repo_url: str) -> str:
    """owner/name (GitLab: group/sub/name) from an https, ssh or scp-like git URL; for a local path or a
    file:// URL (a mirror the forge serves from), its last two parts."""
    if repo_url.startswith(("/", "file://")):
        parts = [p for p in urlsplit(repo_url).path.strip("/").removesuffix(".git").split("/") if p]
        return "/".join(parts[-2:])
    from logcenter import forges

    parse = getattr(forges, "parse_repo", None)
    if parse is not None:
        try:
            return str(parse(repo_url)[1])
        except ValueError as exc:
            raise ForgeMissing(f"cannot tell the forge repository from {repo_url!r}: {exc}") from exc
    path = repo_url.split(":", 1)[1] if repo_url.startswith("git@") else urlsplit(repo_url).path
    return path.strip("/").removesuffix(".git")


def resolve(project: ProjectRead, settings: AgentSettings, repo_url: str) -> ForgeTarget:
    """The forge for this project: its kind from the project, the agent's options or the repository host."""
    configured = {
        ForgeKind.GITEA: (settings.gitea_url, settings.gitea_token),
        ForgeKind.GITHUB: (settings.github_url, settings.github_token),
        ForgeKind.GITLAB: (settings.gitlab_url, settings.gitlab_token),
    }
    kind_name = project.forge or settings.forge
    kind: ForgeKind | None = ForgeKind(kind_name) if kind_name else None
    host = _host(repo_url)
    if kind is None and host:
        if host == "github.com":
            kind = ForgeKind.GITHUB
        else:
            kind = next((k for k, (url, _) in configured.items() if url and _host(url) == host), None)
    if kind is None:
        with_token = [k for k, (_, token) in configured.items() if token is not None]
        if len(with_token) == 1:
            kind = with_token[0]
    if kind is None:
        raise ForgeMissing(
            "no forge for this project: set the project's forge on the server, or LOGCENTER_AGENT_FORGE "
            "with LOGCENTER_GITEA_URL/_TOKEN, LOGCENTER_GITHUB_TOKEN or LOGCENTER_GITLAB_URL/_TOKEN"
        )
    url, token = configured[kind]
    if token is None or not token.get_secret_value():
        raise ForgeMissing(f"no {kind} token: set LOGCENTER_{kind.upper()}_TOKEN in the agent's environment")
    api_url = _api_url(kind, project.forge_url or url)
    repo = project.forge_repo or settings.forge_repo or repo_path(repo_url)
    return ForgeTarget(
        kind=kind, api_url=api_url, repo=repo, token=token.get_secret_value(), host=_web_host(kind, api_url)
    )


def _web_host(kind: ForgeKind, api_url: str) -> str:
    """The host git talks to for this forge: the API's host, except github.com's API at api.github.com."""
    host = _host(api_url) or ""
    if kind == ForgeKind.GITHUB and host == "api.github.com":
        return "github.com"
    return host


def open_forge(target: ForgeTarget) -> Any:
    """A `logcenter.forges.base.Forge` client for the target."""
    from logcenter import forges

    make = getattr(forges, "make_forge", None)
    if make is None:
        raise ForgeMissing("this installation has no forge clients (logcenter.forges.make_forge)")
    return make(target.kind, target.api_url, target.token, repo=target.repo)
