"""What the services say, in the reader's language: their errors and pydantic's, as the pages show them.

Services and the JSON API speak English, and stay so. A page builds its sentence where it shows it, as mature
Flask/Django apps do with an error's code and parameters:

- a service's message is matched against the English sentences below (each a msgid, with `%(name)s` for the
  parts the service fills in: the sentence is the code, the parts are the parameters), and shown as the
  translated sentence with those parts; a message not listed is shown as the service wrote it;
- a pydantic error is phrased from its `type` and context (`string_too_long`, `max_length` ...) with the
  field's label, never pydantic's own English.

In English a listed sentence is rebuilt from its own parts, so it reads exactly as the service wrote it; form
errors read as sentences naming the field ("Project ID is required") where they showed pydantic's wording
("field required", "String should match pattern '^[A-Za-z0-9]...'"). tests/web/test_service_messages.py
checks that every listed sentence is still one a service says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from logcenter.errors import LogCenterError, ValidationFailed
from logcenter.validation import field_name
from logcenter.web import i18n


def _(message: str) -> str:
    """Marks a string for extraction; translated when shown."""
    return message


# The services' sentences that pages show. Order does not matter: the most specific sentence wins.
SERVICE_MESSAGES = (
    # Not found (the error page)
    _("Bug %(id)s not found"),
    _("Project %(project)s not found"),
    _("Notification channel %(id)s not found"),
    _("No active token #%(id)s"),
    _("User %(user)s not found"),
    # Projects page and its forms
    _("Project %(project)s already exists"),
    _(
        "Project %(project)s has no forge: set forge, forge_url and forge_token (%(where)s) or the "
        "server-wide LOGCENTER_GITEA_URL / LOGCENTER_GITHUB_TOKEN / LOGCENTER_GITLAB_URL"
    ),
    _("Project %(project)s has no forge repository: set forge_repo (%(where)s)"),
    _("Project %(project)s has no forge API URL: set forge_url (%(where)s)"),
    _("Project %(project)s has no %(forge)s token: set forge_token (%(where)s) or %(env)s"),
    _("this server does not let a project turn scrubbing off (LOGCENTER_SCRUB_ALLOW_PROJECT_OFF=false)"),
    _("%(position)s %(name)s is only dashes and underscores: it would match every key"),
    _("must be the forge's http(s):// API base URL"),
    _("must be an http(s)://, ssh://, git@host:path, file:// URL or an absolute path"),
    _("A stored secret does not decrypt with any configured key"),
    _(
        "Cannot decrypt %(what)s with the configured secret key(s): was the key file %(file)s or "
        "LOGCENTER_SECRET_KEY replaced without keeping the old key? Put the old key back (after the new "
        "one), or store the secret again"
    ),
    _("the forge token of project %(project)s"),
    _("a notification channel's URL or secret"),
    # The board's filters (a shared link with a stale or mistyped value)
    _("unknown status %(value)s; expected one of %(allowed)s"),
    _("not a cursor of this list: use the next_cursor of a page as it is"),
    _("made for sort=%(made)s, not sort=%(sort)s: start again without a cursor"),
    _("give either a cursor or a page, not both"),
    _("must not contain a NUL character"),
    _("expected one of %(choices)s"),
    # Review actions (bug page, batch review)
    _("Bug %(id)s cannot move from %(from)s to %(to)s"),
    _("Bug %(id)s cannot be retried: it is %(status)s, only a FAILED bug can be"),
    _("Bug %(id)s is %(status)s: only a bug PENDING_REVIEW can be merged"),
    _("Bug %(id)s is %(status)s: only a bug PENDING_REVIEW can be rejected"),
    _("Bug %(id)s has no pull request to merge"),
    _("Bug %(id)s has no pull request to reject"),
    _("Bug %(id)s has no pull request"),
    _("PR #%(number)s was closed without merging on the forge; it cannot be merged"),
    _(
        "PR #%(number)s: no reviewed head is known (the fix was not reported with one); pass "
        "expected_head_sha, the head you reviewed (now %(head)s)"
    ),
    _(
        "PR #%(number)s moved since it was reviewed: its head is now %(head)s, reviewed at %(reviewed)s; "
        "review it again"
    ),
    _("PR #%(number)s is already merged on the forge: bug %(id)s is now MERGED"),
    _(
        "Only this project's designated reviewers (%(reviewers)s) or an admin may merge its fixes; %(user)s "
        "is not one of them"
    ),
    _("Merging from Log Center needs the reviews service, which this server does not have"),
    # Request changes
    _("Bug %(id)s is %(status)s: only a fix awaiting review (PENDING_REVIEW) is revised"),
    _("Bug %(id)s has no pull request and branch for the repair agent to revise"),
    _("Bug %(id)s cannot move from %(from)s to %(to)s: only a fix awaiting review can be revised"),
    _(
        "Bug %(id)s has had %(count)s revision of its fix, the most allowed (%(limit)s): review it as it is, "
        "reject it, or fix it by hand"
    ),
    _(
        "Bug %(id)s has had %(count)s revisions of its fix, the most allowed (%(limit)s): review it as it "
        "is, reject it, or fix it by hand"
    ),
    _("say what the repair agent should change"),
    _(
        "Only this project's designated reviewers (%(reviewers)s) or an admin may ask for a revision of its "
        "fixes; %(user)s is not one of them"
    ),
    # Triage
    _("Bug %(id)s was merged into bug %(into)s: triage that bug instead"),
    _("Bug %(id)s was merged into bug %(into)s already"),
    _("Bug %(id)s is not ignored"),
    _("Bug %(id)s is %(status)s: a fix is in progress, it cannot be merged into another"),
    _("bug %(id)s belongs to another project than bug %(other)s"),
    _("bug %(id)s cannot absorb itself"),
    _("choose at least two bugs to merge"),
    _("at most %(count)s bugs at once"),
    _("the end of ignoring must be in the future"),
    _("give the name of the user to assign"),
    _("choose one of the selected bugs"),
    # Roles and logins
    _("User %(user)s is a %(role)s: only reviewers and admins may do this"),
    _("User %(user)s is a %(role)s: only admins may do this"),
    _("Too many failed logins; try again in %(seconds)s seconds"),
    _("The form expired or did not come from this site; reload the page and try again"),
    # Tokens and notifications
    _("an admin token acts on everything: it cannot be restricted"),
    _("name at least one project"),
    _("no such project: %(projects)s"),
    _("no project %(project)s"),
    _("must be an http:// or https:// URL"),
    _("choose events from %(events)s"),
    _("The channel has no URL"),
    _("The email channel needs an SMTP host and at least one recipient"),
    _("Recipients refused: %(recipients)s"),
    _("%(host)s does not offer STARTTLS; choose security 'tls' or 'none'"),
    _("HTTP %(status)s: %(answer)s"),
    _("HTTP %(status)s with a body that is not JSON: %(answer)s"),
    _("Unexpected answer: %(answer)s"),
    _("Slack answered %(answer)s"),
    _("%(kind)s refused the message: code %(code)s: %(answer)s"),
    _("Delivery failed"),
    # The forge's answers (the PR card, merge and reject)
    _("%(forge)s: %(call)s failed (HTTP %(status)s): %(detail)s"),
    _("%(forge)s: %(call)s failed (HTTP %(status)s)"),
    _("%(forge)s: %(call)s failed (no answer): %(detail)s"),
    _("%(forge)s: %(call)s failed (no answer)"),
    _("the PR is merged: it cannot be closed"),
    _("the merge request is merged: it cannot be closed"),
    _("the PR is closed"),
    _("the merge request is closed"),
    _("cannot reach the forge (%(error)s)"),
    _("timed out (%(error)s)"),
    _("more than %(count)s pages"),
    _("%(what)s moved to %(head)s since review"),
)
# Parts that are themselves a service's sentence (a forge's detail): translated in turn.
_NESTED = {"detail", "what"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


# Longer texts are shown as written: the services' sentences are shorter, and matching a long text against
# patterns of several parts costs time that grows with its length (a forge's answer is cut at 300 characters).
MAX_MATCHED = 1000


@cache
def _patterns() -> list[tuple[list[str], re.Pattern[str], str]]:
    """(the sentence's fixed parts, its pattern, the msgid), the sentence with the most fixed text first:
    "... cannot move from A to B: only ..." before "... cannot move from A to B"."""
    compiled = []
    for msgid in SERVICE_MESSAGES:
        parts, fixed, seen, pos = [], [], set(), 0
        for m in _PLACEHOLDER.finditer(msgid):
            parts.append(re.escape(msgid[pos : m.start()]))
            fixed.append(msgid[pos : m.start()])
            name = m.group(1)
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
            seen.add(name)
            pos = m.end()
        parts.append(re.escape(msgid[pos:]))
        fixed.append(msgid[pos:])
        compiled.append(([f for f in fixed if f], re.compile("".join(parts), re.S), msgid))
    compiled.sort(key=lambda item: -sum(len(f) for f in item[0]))
    return compiled


def translate(text: str | None) -> str:
    """A service's English sentence in the reader's language; as written when it is not one we know."""
    if not text or len(text) > MAX_MATCHED:
        return text or ""
    for fixed, pattern, msgid in _patterns():
        if not all(f in text for f in fixed):  # most sentences are ruled out without the pattern
            continue
        match = pattern.fullmatch(text)
        if match:
            params = {
                name: translate(value) if name in _NESTED else value
                for name, value in match.groupdict().items()
            }
            return i18n.gettext(msgid) % params if params else i18n.gettext(msgid)
    return text


# What the pages call the fields the services and pydantic name (API field paths -> the forms' labels).
FIELD_LABELS = {
    "project_id": _("Project ID"),
    "name": _("Name"),
    "repo_url": _("Repository URL"),
    "local_path": _("Local path"),
    "default_branch": _("Default branch"),
    "test_command": _("Test command"),
    "forge": _("Forge"),
    "forge_url": _("Forge API URL"),
    "forge_repo": _("Forge repository"),
    "merge_style": _("Merge style"),
    "forge_token": _("Forge token"),
    "webhook_secret": _("Webhook secret"),
    "deployment_secret": _("Deployment secret"),
    "scrubbing.sensitive_fields": _("Additional sensitive fields"),
    "scrubbing.safe_fields": _("Safe fields"),
    "scrubbing.scrub_ip_addresses": _("Scrub IP addresses"),
    "scrubbing.scrub_data": _("Data scrubbing"),
    "reason": _("Reason"),
    "comment": _("Comment"),
    "note": _("Note"),
    "scope": _("Scope"),
    "projects": _("Projects"),
    "kind": _("Kind"),
    "url": _("URL"),
    "secret": _("Secret"),
    "events": _("Events"),
    "recipients": _("Recipients"),
    "min_level": _("Minimum level"),
    "environments": _("Environments"),
    "throttle_seconds": _("Throttle (seconds)"),
    "smtp.host": _("SMTP host"),
    "smtp.port": _("Port"),
    "smtp.security": _("Security"),
    "smtp.username": _("Username"),
    "smtp.from_address": _("From"),
    "bug_ids": _("Bugs"),
    "password": _("Password"),
    "username": _("Username"),
    "status": _("Status"),
    "sort": _("Sort"),
    "cursor": _("Page"),
}


def label(field: str) -> str:
    """The field's label in the reader's language ("scrubbing.safe_fields[2]" is "Safe fields")."""
    base = re.sub(r"\[\d+\]", "", field)
    known = FIELD_LABELS.get(base) or FIELD_LABELS.get(base.split(".")[-1])
    return i18n.gettext(known) if known else field


# Pydantic's error types as sentences naming the field; ctx's values fill them in.
PYDANTIC_MESSAGES = {
    "missing": _("%(field)s is required"),
    "string_too_long": _("%(field)s is too long: at most %(max_length)s characters"),
    "string_too_short": _("%(field)s must have at least %(min_length)s characters"),
    "too_long": _("%(field)s has too many entries: at most %(max_length)s"),
    "too_short": _("%(field)s needs at least %(min_length)s entries"),
    "string_pattern_mismatch": _("%(field)s is not in the expected form"),
    "int_parsing": _("%(field)s must be a whole number"),
    "int_type": _("%(field)s must be a whole number"),
    "int_from_float": _("%(field)s must be a whole number"),
    "float_parsing": _("%(field)s must be a number"),
    "float_type": _("%(field)s must be a number"),
    "bool_parsing": _("%(field)s must be on or off"),
    "bool_type": _("%(field)s must be on or off"),
    "greater_than_equal": _("%(field)s must be at least %(ge)s"),
    "greater_than": _("%(field)s must be more than %(gt)s"),
    "less_than_equal": _("%(field)s must be at most %(le)s"),
    "less_than": _("%(field)s must be less than %(lt)s"),
    "literal_error": _("%(field)s must be one of %(expected)s"),
    "enum": _("%(field)s must be one of %(expected)s"),
    "string_type": _("%(field)s must be text"),
    "list_type": _("%(field)s must be a list"),
    "url_parsing": _("%(field)s is not a valid URL"),
    "url_scheme": _("%(field)s is not a valid URL"),
    "extra_forbidden": _("%(field)s is not a field of this form"),
}
# What a pattern of the forms accepts, in words (the regular expression means nothing to a reader).
PATTERN_MESSAGES = {
    r"^[A-Za-z0-9][A-Za-z0-9_.:@/\-]*$": _(
        "%(field)s may contain only letters, digits and _ . : @ / -, and starts with a letter or digit"
    ),
    r"^[^\x00-\x1f\x7f]*$": _("%(field)s must be one line, without control characters"),
    r"^(?:[A-Za-z0-9_.][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)+)?$": _(
        "%(field)s must be owner/name"
    ),
    r"^(?:[A-Za-z0-9._/][A-Za-z0-9._/\-]*)?$": _("%(field)s may contain only letters, digits and . _ / -"),
    r"^[^\x00-\x1f\x7f,]*$": _("%(field)s must be one line, without control characters or commas"),
}


def pydantic_error(error: Mapping[str, Any]) -> tuple[str, str]:
    """(field path, sentence naming the field's label) for one of pydantic's errors."""
    field = field_name(error.get("loc", ()))
    kind = str(error.get("type", ""))
    ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    params = {**ctx, "field": label(field)}
    if kind == "string_too_short" and ctx.get("min_length") == "1":
        return field, i18n.gettext("%(field)s must not be empty") % params
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_MESSAGES:
        return field, i18n.gettext(PATTERN_MESSAGES[ctx["pattern"]]) % params
    if kind == "value_error":  # a validator's own sentence
        return field, i18n.gettext("%(field)s: %(message)s") % {
            "field": params["field"],
            "message": translate(str((error.get("ctx") or {}).get("error", error.get("msg", "")))),
        }
    template = PYDANTIC_MESSAGES.get(kind)
    if template is not None:
        try:
            return field, i18n.gettext(template) % params
        except KeyError:  # a context without the value the sentence names
            pass
    return field, i18n.gettext("%(field)s: %(message)s") % {
        "field": params["field"],
        "message": str(error.get("msg", "")),
    }


def pydantic_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each field's first problem, as pydantic_error phrases it, by field path."""
    found: dict[str, str] = {}
    for error in errors:
        field, sentence = pydantic_error(error)
        found.setdefault(field, sentence)
    return found


def failure_errors(failure: ValidationFailed) -> dict[str, str]:
    """A service's ValidationFailed as {field path: sentence naming the field's label}."""
    return {
        e["field"]: i18n.gettext("%(field)s: %(message)s")
        % {"field": label(e["field"]), "message": translate(e["message"])}
        for e in failure.errors
    }


def invalid_request(problems: Iterable[str]) -> str:
    """The error page's sentence for a refused form: every problem, in the reader's language."""
    listed = list(problems)
    shown = "; ".join(listed[:5])
    if len(listed) > 5:
        shown += "; " + i18n.gettext("and %(count)s more") % {"count": len(listed) - 5}
    return i18n.gettext("Invalid request: %(problems)s") % {"problems": shown}


def error_message(exc: LogCenterError) -> str:
    """What a page says for a service's error."""
    if isinstance(exc, ValidationFailed):
        return invalid_request(failure_errors(exc).values())
    return translate(exc.message)
