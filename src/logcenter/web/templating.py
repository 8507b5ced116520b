"""The Jinja2 environment of the web UI: autoescape everywhere, translations, and the filters pages share.

Report text reaches templates only as plain strings, escaped by autoescape. The one exception is HTML built by
Pygments (highlight.py), which escapes every character of its input itself.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from logcenter import __version__
from logcenter.bugs.models import BugStatus
from logcenter.web import i18n, messages
from logcenter.web.assets import integrity, static_url
from logcenter.web.security import CSRF_FIELD

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _(message: str) -> str:
    """Marks a string for extraction; translated when shown (templates call the real gettext)."""
    return message


# Each status: its icon (colour is never the only signal), translated label and plain-words meaning.
STATUS_INFO: dict[str, tuple[str, str, str]] = {
    BugStatus.NEW: ("🆕", _("New"), _("Reported, waiting for the repair agent")),
    BugStatus.FIXING: ("🔧", _("Fixing"), _("The repair agent is working on a fix")),
    BugStatus.PENDING_REVIEW: (
        "🟡",
        _("Pending review"),
        _("A fix is ready: its pull request waits for review"),
    ),
    BugStatus.MERGED: ("✅", _("Merged"), _("The fix was merged; waiting for a deployment")),
    BugStatus.DEPLOYED: ("🚀", _("Deployed"), _("The fix is deployed")),
    BugStatus.FAILED: ("❌", _("Failed"), _("No fix: see the reason; retry to try again")),
}


# Role names as templates show them (`_(user.role|capitalize)`).
ROLE_NAMES = (_("Admin"), _("Reviewer"), _("Viewer"))


def safe_url(value: object) -> str | None:
    """The URL if it is http(s) (then a page may link it), else None: reports may hold javascript: links."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return None
    return value.strip() if scheme in ("http", "https") else None


def status_label(status: str) -> str:
    info = STATUS_INFO.get(status)
    return i18n.gettext(info[1]) if info else status


def status_meaning(status: str) -> str:
    info = STATUS_INFO.get(status)
    return i18n.gettext(info[2]) if info else ""


def status_icon(status: str) -> str:
    info = STATUS_INFO.get(status)
    return info[0] if info else "•"


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _query(request: Request, **changes: Any) -> str:
    """The current URL's query string with some parameters changed (None removes one): shareable links."""
    params = {k: v for k, v in request.query_params.multi_items()}
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        relative=i18n.relative,
        absolute=i18n.absolute,
        number=i18n.number,
        percent=i18n.percent,
        duration=i18n.duration,
        safe_url=safe_url,
        status_label=status_label,
        status_meaning=status_meaning,
        status_icon=status_icon,
        to_json=to_json,
        service_message=messages.translate,
    )
    env.globals.update(
        STATUSES=list(BugStatus),
        LANGUAGES=i18n.LANGUAGES,
        version=__version__,
        csrf_field=CSRF_FIELD,
        static_url=static_url,
        integrity=integrity,
    )
    return env


ENV = build_environment()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page (or an HTMX fragment) for the request's user, in the request's language."""
    user = getattr(request.state, "user", None)
    context.setdefault("user", user)
    context.setdefault("csrf_token", user.csrf_token if user else "")
    context.update(
        request=request,
        locale=i18n.current(),
        html_lang="zh-CN" if i18n.current() == "zh_CN" else "en",
        now=dt.datetime.now(dt.UTC),
        query=lambda **changes: _query(request, **changes),
    )
    html = ENV.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
