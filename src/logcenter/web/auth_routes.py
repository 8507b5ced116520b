"""Login, logout and the language switcher."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from logcenter.deps import SessionDep
from logcenter.users import service as users_service
from logcenter.users.service import SESSION_LIFETIME
from logcenter.web import i18n
from logcenter.web.security import (
    DEVICE_COOKIE,
    DEVICE_LIFETIME,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    check_csrf,
    device_cookie,
    device_key,
    is_https,
    read_csrf_form,
    session_user,
    trusted_device,
)
from logcenter.web.templating import render

router = APIRouter(include_in_schema=False)


def _local_next(value: str | None) -> str:
    """Where to go after logging in: only a path of this site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _login_page(request: Request, *, next_url: str, error: str | None = None, status: int = 200) -> Response:
    token = request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request, "login.html", status_code=status, csrf_token=token, next_url=next_url, error=error, user=None
    )
    response.set_cookie(
        PRE_SESSION_COOKIE, token, httponly=True, samesite="lax", secure=is_https(request), path="/login"
    )
    return response


@router.get("/login")
def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if session_user(request, session) is not None:
        return RedirectResponse(_local_next(next), status_code=303)
    return _login_page(request, next_url=_local_next(next))


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    await read_csrf_form(request)
    check_csrf(request, request.cookies.get(PRE_SESSION_COOKIE, ""))
    limiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    name = username.strip().lower()
    device = trusted_device(device_key(request), name, request.cookies.get(DEVICE_COOKIE, ""))
    keys = (f"ip:{client}", f"device:{device}" if device else f"user:{name}")
    limiter.check(*keys)
    from starlette.concurrency import run_in_threadpool

    token = await run_in_threadpool(_login, request, username, password)
    if token is None:
        limiter.failed(*keys)
        return _login_page(
            request, next_url=_local_next(next), error=i18n.gettext("Wrong username or password"), status=401
        )
    limiter.succeeded(keys[1], f"user:{name}")
    response = RedirectResponse(_local_next(next), status_code=303)
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie(device_key(request), name),
        max_age=DEVICE_LIFETIME,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/login",
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/login")
    return response


def _login(request: Request, username: str, password: str) -> str | None:
    from logcenter.db import session_scope

    with session_scope(request.app.state.session_factory) as session:
        user = users_service.authenticate(session, username=username, password=password)
        if user is None:
            return None
        return users_service.start_session(session, user=user)


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    users_service.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{locale}")
def set_language(locale: str, request: Request, next: str | None = None) -> Response:
    """Remember the reader's language; a GET (it changes nothing but a preference of this browser)."""
    response = RedirectResponse(_local_next(next), status_code=303)
    if locale in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE, locale, max_age=365 * 86400, samesite="lax", secure=is_https(request), path="/"
        )
    return response
