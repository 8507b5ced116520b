"""A project's forge: which one, where its API is, which repository, with which token and webhook secret.

Each value comes from the project (PUT /api/v1/projects/{id}), else from the server-wide settings
(`LOGCENTER_GITEA_URL`, `LOGCENTER_GITHUB_TOKEN`, ...), else is derived from the project's `repo_url`. Tokens
and webhook secrets are stored encrypted (logcenter/secretbox.py) and leave this module only towards the forge
client or a signature check: never in an API answer, a log line or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter import forges
from logcenter.config import Settings
from logcenter.errors import Conflict
from logcenter.forges.base import Forge, ForgeKind, MergeStyle
from logcenter.projects.models import Project
from logcenter.secretbox import SecretBox, box_for

SECRET_FIELDS = {
    "forge_token": "forge_token_encrypted",
    "webhook_secret": "webhook_secret_encrypted",
    "deployment_secret": "deployment_secret_encrypted",
}


class ForgeNotConfigured(Conflict):
    """The project has no forge (or no token) to act through; the message says what to set."""


def store_secrets(project: Project, values: dict[str, Any], *, box: SecretBox) -> None:
    """Encrypt the write-only fields the client sent onto the project; an empty value clears one."""
    for name, column in SECRET_FIELDS.items():
        if name not in values:
            continue
        secret = values[name]
        plain = secret.get_secret_value() if secret is not None else ""
        setattr(project, column, box.encrypt(plain) if plain else None)


def reencrypt_secrets(session: Session, *, box: SecretBox) -> int:
    """Encrypt every stored forge token and webhook secret again with the newest key (after a rotation);
    returns how many values were rewritten."""
    count = 0
    for project in session.scalars(select(Project).order_by(Project.id)):
        for column in SECRET_FIELDS.values():
            value = getattr(project, column)
            if value:
                setattr(project, column, box.rotate(value))
                count += 1
    session.flush()
    return count


def _remote(project: Project) -> str | None:
    """repo_url when an admin set it and it is a network remote: a repo_url from an error report never
    decides where a token goes or which repository a webhook names."""
    url = project.repo_url
    if url and project.repo_url_confirmed and not url.startswith(("/", "file://")):
        return url
    return None


def repo_path(project: Project) -> str | None:
    """The forge repository: `forge_repo`, else the path a confirmed `repo_url` names (None if neither)."""
    if project.forge_repo:
        return project.forge_repo
    if (url := _remote(project)) is not None:
        try:
            return forges.parse_repo(url)[1]
        except ValueError:
            return None
    return None


def _repo_host(project: Project) -> str:
    if (url := _remote(project)) is not None:
        try:
            return forges.parse_repo(url)[0]
        except ValueError:
            return ""
    return ""


def kind_of(project: Project, settings: Settings) -> ForgeKind | None:
    """The project's forge, else guessed from its repo_url's host, else the one server-wide forge set."""
    if project.forge:
        return ForgeKind(project.forge)
    host = _repo_host(project).lower()
    if host in ("github.com", "www.github.com"):
        return ForgeKind.GITHUB
    for kind in (ForgeKind.GITLAB, ForgeKind.GITEA):
        if kind.value in host:
            return kind
    configured = [
        kind
        for kind, url in (
            (ForgeKind.GITEA, settings.gitea_url),
            (ForgeKind.GITLAB, settings.gitlab_url),
            (ForgeKind.GITHUB, settings.github_token),
        )
        if url
    ]
    return configured[0] if len(configured) == 1 else None


def webhook_secret(project: Project | None, settings: Settings) -> str | None:
    """The secret that signs this project's webhooks: its own, else LOGCENTER_WEBHOOK_SECRET."""
    if project is not None and project.webhook_secret_encrypted:
        return box_for(settings).decrypt(
            project.webhook_secret_encrypted, what=f"the webhook secret of project {project.slug!r}"
        )
    if settings.webhook_secret is not None and settings.webhook_secret.get_secret_value():
        return settings.webhook_secret.get_secret_value()
    return None


def deployment_secret(project: Project | None, settings: Settings) -> str | None:
    """The secret of this project's deployment notices: its own deployment secret, else the webhook secret
    (its own, else LOGCENTER_WEBHOOK_SECRET). With its own, no other secret deploys the project: one team's CI
    cannot mark another team's fixes deployed."""
    if project is not None and project.deployment_secret_encrypted:
        return box_for(settings).decrypt(
            project.deployment_secret_encrypted, what=f"the deployment secret of project {project.slug!r}"
        )
    return webhook_secret(project, settings)


def merge_style(project: Project) -> MergeStyle:
    return MergeStyle(project.merge_style) if project.merge_style else MergeStyle.MERGE


@dataclass(frozen=True)
class ForgeTarget:
    """Everything needed to build the project's forge client, read inside a transaction and used after it."""

    kind: ForgeKind
    api_url: str
    repo: str
    token: str

    def __repr__(self) -> str:  # never the token
        return f"ForgeTarget({self.kind.value}, {self.api_url!r}, {self.repo!r})"


def target_for(project: Project, settings: Settings) -> ForgeTarget:
    """Where and how to reach the project's repository; ForgeNotConfigured (409) names what is missing."""
    where = f"PUT /api/v1/projects/{project.slug}"
    kind = kind_of(project, settings)
    if kind is None:
        raise ForgeNotConfigured(
            f"Project {project.slug!r} has no forge: set forge, forge_url and forge_token ({where}) or the "
            "server-wide LOGCENTER_GITEA_URL / LOGCENTER_GITHUB_TOKEN / LOGCENTER_GITLAB_URL"
        )
    repo = repo_path(project)
    if not repo:
        raise ForgeNotConfigured(
            f"Project {project.slug!r} has no forge repository: set forge_repo ({where})"
        )
    fallback_url = {
        ForgeKind.GITEA: settings.gitea_url,
        ForgeKind.GITHUB: settings.github_api_url,
        ForgeKind.GITLAB: settings.gitlab_url,
    }[kind]
    api_url = project.forge_url or fallback_url
    if not api_url:
        host = _repo_host(project)
        if not host:
            raise ForgeNotConfigured(
                f"Project {project.slug!r} has no forge API URL: set forge_url ({where})"
            )
        api_url = forges.default_api_url(kind, host)
    if project.forge_token_encrypted:
        token = box_for(settings).decrypt(
            project.forge_token_encrypted, what=f"the forge token of project {project.slug!r}"
        )
    else:
        fallback = {
            ForgeKind.GITEA: settings.gitea_token,
            ForgeKind.GITHUB: settings.github_token,
            ForgeKind.GITLAB: settings.gitlab_token,
        }[kind]
        token = fallback.get_secret_value() if fallback is not None else ""
    if not token:
        env = f"LOGCENTER_{kind.value.upper()}_TOKEN"
        raise ForgeNotConfigured(
            f"Project {project.slug!r} has no {kind.value} token: set forge_token ({where}) or {env}"
        )
    return ForgeTarget(kind=kind, api_url=api_base(kind, api_url), repo=repo, token=token)


def api_base(kind: ForgeKind, url: str) -> str:
    """The API base for a URL: as given when it has a path, else (Gitea, GitLab) the forge's usual one on that
    host: people set LOGCENTER_GITEA_URL to the address they open in a browser, https://gitea.example.com.
    A GitHub URL is taken as given (api.github.com serves its API at the root)."""
    parts = urlsplit(url.rstrip("/"))
    if kind is ForgeKind.GITHUB or parts.path.strip("/") or not parts.netloc:
        return url.rstrip("/")
    return forges.default_api_url(kind, parts.netloc, scheme=parts.scheme or "https")


def connect(target: ForgeTarget) -> Forge:
    """The forge client for a target (close it when done)."""
    return forges.make_forge(target.kind, target.api_url, target.token, repo=target.repo)


def forge_for(project: Project, settings: Settings) -> Forge:
    """The client of the project's forge: build it in a transaction if you like, call it outside one."""
    return connect(target_for(project, settings))
