"""Who is logged in, CSRF checks, the login rate limit and the security headers of every page.

Sessions are server-side (users/service.py); the cookie is HttpOnly, SameSite=Lax, and Secure when the page
was served over https. Every state-changing request carries the session's CSRF token, as a form field
(`csrf_token`) or, for HTMX, the `X-CSRF-Token` header that static/app.js adds; the login form, before there
is a session, uses a random pre-session cookie and the same value in the form (double submit).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from logcenter.db import session_scope
from logcenter.errors import Forbidden, LogCenterError, RateLimited
from logcenter.users import service as users_service
from logcenter.users.service import SessionUser

SESSION_COOKIE = "lc_session"
PRE_SESSION_COOKIE = "lc_presession"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# Scripts, styles, images and fonts from this server only; no inline script or style anywhere (pages use
# classes, the chart sizes itself from script); no framing; forms post only here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class LoginRequired(LogCenterError):
    """No live session: pages answer with a redirect to /login (HTMX requests: HX-Redirect)."""

    status_code = 401


class CsrfFailed(Forbidden):
    def __init__(self) -> None:
        super().__init__("The form expired or did not come from this site; reload the page and try again")


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_user(request: Request, session: Session) -> SessionUser | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    return users_service.resolve_session(session, token)


async def read_csrf_form(request: Request) -> None:
    """Parse the form once so the CSRF check can read its `csrf_token` (Starlette caches the parse)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            request.state.csrf_form = value if isinstance(value, str) else None


def require_user(request: Request, _form: Annotated[None, Depends(read_csrf_form)]) -> SessionUser:
    """The logged-in user; state-changing requests must also carry the session's CSRF token.

    Read in a short session of its own, so a page that acts in several transactions (batch review, forge
    calls) does not hold the request's write transaction while it works.
    """
    with session_scope(request.app.state.session_factory, write=False) as session:
        user = session_user(request, session)
    if user is None:
        raise LoginRequired("Log in to see this page")
    request.state.user = user
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(request, user.csrf_token)
    return user


def check_csrf(request: Request, expected: str) -> None:
    """The token sent (header or form field, already parsed by the route) must equal the expected one."""
    sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "csrf_form", None) or ""
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed()


def require_reviewer(user: Annotated[SessionUser, Depends(require_user)]) -> SessionUser:
    if not user.can_review:
        raise Forbidden(f"User {user.username!r} is a {user.role}: only reviewers and admins may do this")
    return user


def require_admin(user: Annotated[SessionUser, Depends(require_user)]) -> SessionUser:
    if not user.is_admin:
        raise Forbidden(f"User {user.username!r} is a {user.role}: only admins may do this")
    return user


CurrentUser = Annotated[SessionUser, Depends(require_user)]
Reviewer = Annotated[SessionUser, Depends(require_reviewer)]
AdminUser = Annotated[SessionUser, Depends(require_admin)]


class LoginLimiter:
    """At most `attempts` failed logins per `window` seconds per client address and per username, or per
    device for a browser that logged in as that user before (`trusted_device`).

    In memory, per server process: with several workers a client gets that many tries per worker, still few
    enough to make guessing passwords hopeless against argon2.
    """

    def __init__(self, *, attempts: int = 10, window: float = 300.0) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, *keys: str) -> None:
        """429 with Retry-After while any key is over its limit."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.attempts:
                    retry = max(1, int(times[0] + self.window - now) + 1)
                    raise RateLimited(
                        f"Too many failed logins; try again in {retry} seconds",
                        headers={"Retry-After": str(retry)},
                    )

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # forget idle keys rather than grow without bound
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


# OWASP's "device cookie": a browser that once logged in as a user carries a signed note of it, and its login
# attempts are limited per device rather than per username. Anyone can send ten wrong passwords for `admin`
# and lock the username; the admin's own browser still gets in.
DEVICE_COOKIE = "lc_device"
DEVICE_LIFETIME = 365 * 86400  # seconds


def device_key(request: Request) -> bytes:
    """The HMAC key of device cookies: from the server's secret key, so every worker and restart agrees."""
    key: bytes | None = getattr(request.app.state, "device_key", None)
    if key is None:
        from logcenter.secretbox import SecretKeyError, load_keys

        try:
            secret = load_keys(request.app.state.settings)[0]
        except SecretKeyError:  # no usable key: cookies of this process only
            secret = secrets.token_bytes(32)
        key = request.app.state.device_key = hmac.new(secret, b"logcenter login device", "sha256").digest()
    return key


def device_cookie(key: bytes, username: str) -> str:
    """A new device cookie for a browser that just logged in as `username`."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_device_signature(key, username, nonce)}"


def trusted_device(key: bytes, username: str, cookie: str) -> str | None:
    """The device's id when `cookie` was issued to it for `username`, else None."""
    nonce, _, signature = cookie.partition(".")
    if nonce and hmac.compare_digest(signature.encode(), _device_signature(key, username, nonce).encode()):
        return nonce
    return None


def _device_signature(key: bytes, username: str, nonce: str) -> str:
    return hmac.new(key, f"{username}\0{nonce}".encode(), "sha256").hexdigest()
