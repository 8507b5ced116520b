"""API tokens: created from the CLI, stored as SHA-256 hashes, checked on every API call."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from logcenter.auth.models import ApiToken, Scope
from logcenter.db import utcnow
from logcenter.errors import ValidationFailed

TOKEN_PREFIX = "lc_"
_TOUCH_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    scope: Scope,
    token: str | None = None,
    project_ids: list[int] | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token, restricted to `project_ids` when given (None: every project); returns the row and
    the plaintext, which is never stored or shown again. 422 for an admin token restricted to projects."""
    if project_ids is not None and scope == Scope.ADMIN:
        raise ValidationFailed(
            [{"field": "projects", "message": "an admin token acts on everything: it cannot be restricted"}]
        )
    if project_ids is not None and not project_ids:
        raise ValidationFailed([{"field": "projects", "message": "name at least one project"}])
    plaintext = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        scope=scope,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:8],
        projects=sorted(set(project_ids)) if project_ids is not None else None,
    )
    session.add(row)
    session.flush()
    return row, plaintext


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token matching `token`, or None. Reads only: see `needs_touch` / `touch`."""
    return session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )


def needs_touch(row: ApiToken) -> bool:
    """Whether `last_used_at` is stale enough to be worth a write (at most one a minute per token)."""
    return row.last_used_at is None or utcnow() - row.last_used_at > _TOUCH_EVERY


def touch(session: Session, *, token_id: int) -> None:
    """Record that a token was used."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


def ensure_admin_token(session: Session, *, configured: str | None = None) -> str | None:
    """On first start, create an admin token and return it (to print once); None if one exists already."""
    exists = session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.scope == Scope.ADMIN))
    if exists:
        return None
    _, plaintext = create_token(session, name="admin", scope=Scope.ADMIN, token=configured)
    return plaintext


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke(session: Session, *, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
