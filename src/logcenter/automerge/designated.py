"""Designated reviewers: when a project names them, only they (and admins) may merge its fixes from Log
Center. A person is recognised by name: the API token's name or the web user's name must be their forge user
name."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.automerge.models import MergePolicy
from logcenter.bugs.models import Bug
from logcenter.errors import Forbidden


def is_designated(login: str, reviewers: Iterable[str]) -> bool:
    """Forge logins compare case-insensitively (GitHub, Gitea and GitLab treat them so)."""
    wanted = login.casefold()
    return any(wanted == r.casefold() for r in reviewers)


def reviewers_of(session: Session, project_id: int) -> list[str]:
    policy = session.get(MergePolicy, project_id)
    return list(policy.reviewers or []) if policy is not None else []


def check_may_merge(session: Session, *, bug_id: int, actor: str, admin: bool) -> None:
    """403 unless the project has no designated reviewers, `actor` is one of them, or an admin acts."""
    if admin:
        return
    project_id = session.scalar(select(Bug.project_id).where(Bug.id == bug_id))
    names = reviewers_of(session, project_id) if project_id is not None else []
    if names and not is_designated(actor, names):
        raise Forbidden(
            f"Only this project's designated reviewers ({', '.join(names)}) or an admin may merge its fixes; "
            f"{actor[:100]!r} is not one of them"
        )
