"""Notification channels (admins) and the message centre (everyone) in the web UI.

Pages call the notify services, as the JSON API does. The "send test message" button waits for the channel's
answer outside any transaction (notify/probe.py), like the API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from logcenter.db import session_scope
from logcenter.deps import SessionDep
from logcenter.errors import LogCenterError, ValidationFailed
from logcenter.notify import inbox, probe
from logcenter.notify import service as channels
from logcenter.notify.events import SUBSCRIBABLE
from logcenter.notify.schemas import ChannelCreate, ChannelUpdate
from logcenter.notify.transport import ChannelKind, SmtpSecurity
from logcenter.projects import service as projects_service
from logcenter.web import messages
from logcenter.web.security import AdminUser, CurrentUser
from logcenter.web.templating import _, render

router = APIRouter(include_in_schema=False)

EVENT_LABELS = {
    "new_bug": _("New bug"),
    "regression": _("Regression"),
    "pr_opened": _("Fix ready for review"),
    "fix_failed": _("Fix failed"),
    "merged": _("Fix merged"),
    "deployed": _("Fix deployed"),
    "revision_requested": _("Changes requested"),
    "revised": _("Fix revised"),
    "digest": _("Daily digest"),
}
# What the pages call each event and delivery state (the API's identifiers stay as they are).
SHOWN_EVENTS = {
    **EVENT_LABELS,
    "test": _("Test message"),
    "summary": _("Summary of held-back messages"),
}
DELIVERY_STATES = {"queued": _("Queued"), "retrying": _("Retrying"), "sent": _("Sent"), "failed": _("Failed")}
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _page(request: Request, session: Any, **context: Any) -> Response:
    settings = request.app.state.settings
    rows = [channels.to_read(session, c, settings) for c in channels.list_channels(session)]
    context.setdefault("errors", [])
    context.setdefault("values", {})
    return render(
        request,
        "notifications.html",
        channels=rows,
        event_names=SHOWN_EVENTS,
        kinds=[k.value for k in ChannelKind],
        securities=[s.value for s in SmtpSecurity],
        events=[(e.value, EVENT_LABELS[e.value]) for e in SUBSCRIBABLE],
        levels=LEVELS,
        projects=[p.slug for p in projects_service.list_projects(session)],
        **context,
    )


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _page(request, session)


def _lines(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _form_body(form: Any, values: dict[str, str], kind: str) -> dict[str, Any]:
    """The channel's fields from the new-channel or the edit form (the API's body)."""
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "events": [str(v) for v in form.getlist("events")],
        "throttle_seconds": int(values["throttle_seconds"])
        if values.get("throttle_seconds", "").isdigit()
        else None,
    }
    for field in ("url", "secret", "project_id", "min_level"):
        if values.get(field):
            body[field] = values[field]
    if values.get("environments"):
        body["environments"] = _lines(values["environments"])
    if kind == ChannelKind.EMAIL:
        body["recipients"] = _lines(values.get("recipients", ""))
        smtp = {k: values.get(f"smtp_{k}") for k in ("host", "port", "security", "username", "from_address")}
        body["smtp"] = {k: v for k, v in smtp.items() if v}
    return body


@router.post("/notifications")
async def channel_create(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    body = {"kind": values.get("kind", ""), **_form_body(form, values, values.get("kind", ""))}
    errors: list[str] = []
    try:
        data = ChannelCreate.model_validate(body)
        with session_scope(request.app.state.session_factory) as session:
            channels.create(session, data=data, settings=request.app.state.settings)
    except ValidationError as exc:
        errors = list(messages.pydantic_errors(exc.errors()).values())
    except ValidationFailed as exc:
        errors = list(messages.failure_errors(exc).values())
    except LogCenterError as exc:
        errors = [messages.translate(exc.message)]
    if errors:
        values.pop("secret", None)  # never echoed back into the page
        with session_scope(request.app.state.session_factory, write=False) as session:
            return _page(request, session, errors=errors, values=values, selected=body["events"])
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{channel_id}/test")
async def channel_test(channel_id: int, request: Request, user: AdminUser) -> Response:
    result = await run_in_threadpool(
        probe.send_test, request.app.state.session_factory, channel_id, settings=request.app.state.settings
    )
    with session_scope(request.app.state.session_factory, write=False) as session:
        return _page(request, session, tested=(channel_id, result))


@router.post("/notifications/{channel_id}/delete")
def channel_delete(channel_id: int, session: SessionDep, user: AdminUser) -> Response:
    channels.delete(session, channel_id)
    return RedirectResponse("/notifications", status_code=303)


def _channel_page(
    request: Request, session: Any, channel_id: int, *, errors: list[str] | None = None, saved: bool = False
) -> Response:
    channel = channels.to_read(session, channels.get(session, channel_id), request.app.state.settings)
    smtp = channel.smtp.model_dump(mode="json") if channel.smtp else {}
    values = {
        "name": channel.name,
        "kind": channel.kind.value,
        "project_id": channel.project_id or "",
        "min_level": channel.min_level or "",
        "environments": ", ".join(channel.environments),
        "throttle_seconds": str(channel.throttle_seconds),
        "recipients": ", ".join(channel.recipients),
        "enabled": channel.enabled,
        **{f"smtp_{k}": "" if v is None else str(v) for k, v in smtp.items() if k != "password"},
    }
    return render(
        request,
        "notification_channel.html",
        status_code=422 if errors else 200,
        channel=channel,
        deliveries=channels.deliveries(session, channel_id, limit=100, before=None, status=None),
        event_names=SHOWN_EVENTS,
        delivery_states=DELIVERY_STATES,
        editing=True,
        values=values,
        selected=channel.events,
        errors=errors or [],
        saved=saved,
        events=[(e.value, EVENT_LABELS[e.value]) for e in SUBSCRIBABLE],
        securities=[s.value for s in SmtpSecurity],
        levels=LEVELS,
        projects=[p.slug for p in projects_service.list_projects(session)],
    )


@router.get("/notifications/{channel_id}")
def channel_page(channel_id: int, request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _channel_page(request, session, channel_id, saved=request.query_params.get("saved") == "1")


@router.post("/notifications/{channel_id}")
async def channel_edit(channel_id: int, request: Request, user: AdminUser) -> Response:
    """The edit form: the fields as the new-channel form sends them; an empty URL or secret keeps the stored
    one, "Remove the secret" removes it, an empty project means every project (PUT's rules)."""
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    factory = request.app.state.session_factory
    errors: list[str] = []
    try:
        with session_scope(factory) as session:
            kind = channels.get(session, channel_id).kind
            body = _form_body(form, values, kind)
            body.update(
                project_id=values.get("project_id", ""),
                min_level=values.get("min_level") or None,
                environments=_lines(values.get("environments", "")),
                enabled=values.get("enabled") == "1",
            )
            if values.get("remove_secret") == "1":
                body["secret"] = ""
            data = ChannelUpdate.model_validate(body)
            channels.update(session, channel_id, data=data, settings=request.app.state.settings)
    except ValidationError as exc:
        errors = list(messages.pydantic_errors(exc.errors()).values())
    except ValidationFailed as exc:
        errors = list(messages.failure_errors(exc).values())
    except LogCenterError as exc:
        if exc.status_code == 404:
            raise
        errors = [messages.translate(exc.message)]
    if errors:
        with session_scope(factory, write=False) as session:
            return _channel_page(request, session, channel_id, errors=errors)
    return RedirectResponse(f"/notifications/{channel_id}?saved=1", status_code=303)


@router.get("/inbox")
def inbox_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    items = inbox.items(session, user.user_id, limit=200)
    unread = inbox.unread_count(session, user.user_id)
    return render(request, "inbox.html", items=items, unread=unread, event_names=EVENT_LABELS)


@router.get("/inbox/badge")
def inbox_badge(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The header's unread count, loaded by HTMX after the page (pages stay as fast without it)."""
    return render(request, "inbox_badge.html", unread=inbox.unread_count(session, user.user_id))


@router.post("/inbox/read")
def inbox_read(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    item: Annotated[int | None, Form()] = None,
) -> Response:
    inbox.mark_read(session, user.user_id, ids=[item] if item is not None else None)
    return RedirectResponse("/inbox", status_code=303)
