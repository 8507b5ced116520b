"""Accounts and sessions: argon2 password hashes (argon2-cffi), sessions as hashed random tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.errors import Conflict, NotFound, ValidationFailed
from logcenter.users.models import Role, User, WebSession

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD = 8
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")


class _Passwords:
    """The process's argon2 hasher, with the cost of the settings it was configured from."""

    hasher = PasswordHasher()
    # Verified against when the username is unknown, so a login takes as long whether or not the user exists.
    # Made when the app is configured, not at import: every process that imports this would pay for a hash.
    dummy_hash: str | None = None


def configure_passwords(settings: Settings) -> None:
    """Hash new passwords with the settings' argon2 cost (create_app and the user commands call this)."""
    hasher = PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
    if _cost(hasher) != _cost(_Passwords.hasher) or _Passwords.dummy_hash is None:
        _Passwords.hasher, _Passwords.dummy_hash = hasher, hasher.hash(secrets.token_hex(8))


def _cost(hasher: PasswordHasher) -> tuple[int, int, int]:
    return hasher.time_cost, hasher.memory_cost, hasher.parallelism


def _dummy_hash() -> str:
    if _Passwords.dummy_hash is None:
        _Passwords.dummy_hash = _Passwords.hasher.hash(secrets.token_hex(8))
    return _Passwords.dummy_hash


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The logged-in user of a request, with the session's CSRF token."""

    user_id: int
    username: str
    role: Role
    csrf_token: str
    session_id: int

    @property
    def can_review(self) -> bool:
        return self.role in (Role.ADMIN, Role.REVIEWER)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed([{"field": "password", "message": f"at least {MIN_PASSWORD} characters"}])


def create_user(session: Session, *, username: str, password: str, role: Role) -> User:
    """A new account; 409 if the username is taken."""
    if not USERNAME.match(username):
        raise ValidationFailed(
            [{"field": "username", "message": "1-100 letters, digits, '.', '_', '@' or '-'"}]
        )
    _check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"User {username!r} already exists")
    user = User(username=username, password_hash=_Passwords.hasher.hash(password), role=Role(role))
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound(f"User {username!r} not found")
    return user


def set_password(session: Session, *, username: str, password: str) -> User:
    """A new password; the user's open sessions end."""
    _check_password(password)
    user = get_user(session, username)
    user.password_hash = _Passwords.hasher.hash(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


def set_disabled(session: Session, *, username: str, disabled: bool) -> User:
    """Disable (ending the user's sessions) or enable an account."""
    user = get_user(session, username)
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The enabled user with this password, or None."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    try:
        _Passwords.hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _Passwords.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _Passwords.hasher.hash(password)
    return user


def start_session(session: Session, *, user: User, now: datetime | None = None) -> str:
    """Open a session for `user`; returns the cookie value (stored only as a hash)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    user.last_login_at = now
    # Expired sessions of everyone go at each login: the table stays as small as the live sessions.
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.flush()
    return token


def resolve_session(session: Session, token: str) -> SessionUser | None:
    """The live session's user for a cookie value, or None (expired, logged out, user disabled)."""
    row = session.execute(
        select(WebSession.id, WebSession.csrf_token, User.id, User.username, User.role)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.token_hash == _hash_token(token),
            WebSession.expires_at > utcnow(),
            User.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    session_id, csrf, user_id, username, role = row
    return SessionUser(user_id, username, Role(role), csrf, session_id)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))
