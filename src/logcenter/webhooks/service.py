"""Forge and deployment webhooks: authenticate, de-duplicate, find the bugs, move them along.

Every check runs before anything is written: a bad or missing signature is a 401 and nothing changes; a body
whose repository no project has, or whose PR no bug has, is answered 200 "ignored". A forge webhook is
handled in one short transaction; the deployment call (deployment.py) shares the checks defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from logcenter.bugs.models import Bug
from logcenter.config import Settings
from logcenter.db import session_scope, upsert_insert, utcnow
from logcenter.errors import BadRequest, Forbidden, Unauthorized
from logcenter.forges.base import ForgeKind
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project
from logcenter.reviews import apply
from logcenter.revisions import service as revisions
from logcenter.webhooks import events, signatures
from logcenter.webhooks.events import Action, ForgeEvent
from logcenter.webhooks.models import WebhookDelivery
from logcenter.webhooks.schemas import (
    BugOutcome,
    WebhookAnswer,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Body:
    payload: dict[str, Any]
    signed: bytes  # the bytes the sender signed


def read_body(kind: ForgeKind | str, raw: bytes, content_type: str) -> Body:
    """The JSON object of a webhook body (JSON, or a form's `payload` field as Gitea and GitHub can send)."""
    signed = raw
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if "payload" not in fields:
            raise BadRequest("A form-encoded webhook body must have a `payload` field")
        text = fields["payload"][0]
        # Gitea signs the JSON it then form-encodes; GitHub signs the body as sent.
        if kind == ForgeKind.GITEA:
            signed = text.encode()
        raw = text.encode()
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The webhook body is not valid JSON") from None
    return Body(events.require_object(payload), signed)


def _secret_problem(kind: ForgeKind | str, what: str) -> Forbidden:
    return Forbidden(
        f"No webhook secret is configured for {what}: set the project's webhook_secret "
        f"(PUT /api/v1/projects/{{id}}) or LOGCENTER_WEBHOOK_SECRET; {kind} webhooks are refused until then"
    )


def _bad_signature(kind: ForgeKind | str, headers: Mapping[str, str]) -> Unauthorized:
    headers_by_kind: dict[str, str] = {
        ForgeKind.GITEA: "X-Gitea-Signature",
        ForgeKind.GITHUB: "X-Hub-Signature-256",
        ForgeKind.GITLAB: "X-Gitlab-Token",
    }
    header = headers_by_kind.get(str(kind), "X-Secret or X-Logcenter-Signature")
    state = "Invalid" if signatures.has_credentials(kind, headers) else "Missing"
    return Unauthorized(f"{state} webhook signature ({header})")


def authenticate(
    kind: ForgeKind | str,
    projects: Iterable[Project],
    *,
    headers: Mapping[str, str],
    signed: bytes,
    settings: Settings,
    what: str,
    secret_of: Callable[[Project | None, Settings], str | None] = project_forge.webhook_secret,
) -> list[Project] | None:
    """The projects whose secret (`secret_of`: the webhook secret, or the deployment secret) signed this body;
    None when no project matched but the server-wide secret did. 403 when there is no secret to check against,
    401 when none matches."""
    projects = list(projects)
    if not projects:
        secret = secret_of(None, settings)
        if secret is None:
            raise _secret_problem(kind, what)
        if not signatures.verify(kind, headers, signed, secret):
            raise _bad_signature(kind, headers)
        return None
    secrets = [(p, secret_of(p, settings)) for p in projects]
    if all(secret is None for _, secret in secrets):
        raise _secret_problem(kind, what)
    verified = [p for p, s in secrets if s is not None and signatures.verify(kind, headers, signed, s)]
    if not verified:
        raise _bad_signature(kind, headers)
    return verified


def projects_for_repo(session: Session, kind: ForgeKind, repo: str | None) -> list[Project]:
    """Projects whose forge repository is exactly `repo` (case-insensitive, as forges treat names): a repo
    named `app` never matches `app_backend`. Projects set to another forge are left out."""
    if not repo:
        return []
    wanted = repo.strip().strip("/").lower()
    found = []
    for project in session.scalars(select(Project).order_by(Project.id)):
        if project.forge and project.forge != kind:
            continue
        path = project_forge.repo_path(project)
        if path and path.lower() == wanted:
            found.append(project)
    return found


def claim_delivery(session: Session, *, source: str, delivery: str | None, event: str) -> bool:
    """Record a delivery id; False if it was recorded before (a redelivery). Concurrent copies of one
    delivery: the second waits for the first's commit and then finds it."""
    if delivery is None:
        return True
    row = session.scalar(
        upsert_insert(session, WebhookDelivery)
        .values(source=source, delivery_id=delivery, event=event[:100], outcome="", received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
        .returning(WebhookDelivery.id)
    )
    return row is not None


def record_outcome(session: Session, *, source: str, delivery: str | None, outcome: str) -> None:
    if delivery is not None:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.source == source, WebhookDelivery.delivery_id == delivery)
            .values(outcome=outcome[:500])
        )


def _bugs_of(session: Session, project_ids: list[int], event: ForgeEvent) -> list[Bug]:
    """Bugs of these projects whose fix is this PR (by number), else whose branch is the PR's head branch."""
    base = select(Bug).where(Bug.project_id.in_(project_ids)).order_by(Bug.id).with_for_update()
    bugs: list[Bug] = []
    if event.number is not None:
        bugs = list(session.scalars(base.where(Bug.pr_number == event.number)))
    if not bugs and event.head_branch:
        bugs = list(
            session.scalars(base.where(Bug.branch_name == event.head_branch, Bug.pr_number.is_(None)))
        )
    return bugs


def _apply(session: Session, bug: Bug, event: ForgeEvent, settings: Settings) -> str:
    actor = f"{event.actor} ({event.forge})"
    if event.action is Action.MERGED:
        return apply.merged(
            session,
            bug,
            actor=actor,
            merged_by=event.actor,
            merge_commit=event.merge_commit,
            merged_at=event.merged_at,
            number=event.number,
            link=event.link,
        )
    if event.action is Action.CLOSED:
        return apply.closed(
            session,
            bug,
            actor=actor,
            number=event.number,
            reason=f"PR #{event.number} closed without merging by {event.actor}",
            link=event.link,
        )
    if event.action is Action.REOPENED:
        return apply.reopened(session, bug, actor=actor, by=event.actor, number=event.number, link=event.link)
    if event.action is Action.PUSHED:
        return apply.head_moved(session, bug, head_sha=event.head_sha, actor=actor, link=event.link)
    # A reviewer's "request changes" review or trigger comment sends the fix back to the repair agent.
    revision = revisions.from_forge(session, bug, event, actor=actor, settings=settings)
    if revision is not None:
        return revision
    return apply.commented(
        session, bug, actor=actor, text=event.text, link=event.link, review_state=event.review_state
    )


def receive_forge(
    factory: sessionmaker[Session],
    settings: Settings,
    kind: ForgeKind,
    *,
    headers: Mapping[str, str],
    raw: bytes,
) -> WebhookAnswer:
    """Handle one forge webhook delivery, in one short transaction (no forge call is needed)."""
    body = read_body(kind, raw, headers.get("content-type", "application/json"))
    event_header = signatures.event_name(kind, headers)
    repo = events.repository_of(kind, body.payload)
    delivery = signatures.delivery_id(kind, headers)
    with session_scope(factory) as session:
        matched = projects_for_repo(session, kind, repo)
        verified = authenticate(
            kind,
            matched,
            headers=headers,
            signed=body.signed,
            settings=settings,
            what=f"repository {repo!r}" if repo else "this webhook",
        )
        if not claim_delivery(session, source=kind, delivery=delivery, event=event_header):
            return WebhookAnswer(status="duplicate", message=f"Delivery {delivery} was handled already")
        answer = _handle(session, kind, event_header, body.payload, verified, repo, settings)
        record_outcome(session, source=kind, delivery=delivery, outcome=f"{answer.status}: {answer.message}")
    log.info(
        "webhook.handled",
        forge=str(kind),
        forge_event=event_header,
        delivery=delivery,
        status=answer.status,
        bugs=[b.bug_id for b in answer.bugs],
    )
    return answer


def _handle(
    session: Session,
    kind: ForgeKind,
    event_header: str,
    payload: dict[str, Any],
    verified: list[Project] | None,
    repo: str | None,
    settings: Settings,
) -> WebhookAnswer:
    if verified is None:
        return WebhookAnswer(status="ignored", message=f"No project has the forge repository {repo!r}")
    event = events.PARSERS[kind](event_header, payload)
    if event.action is Action.IGNORED:
        return WebhookAnswer(status="ignored", message=event.ignored_because or "Nothing to do")
    bugs = _bugs_of(session, [p.id for p in verified], event)
    if not bugs:
        what = f"PR #{event.number}" if event.number else f"branch {event.head_branch!r}"
        return WebhookAnswer(status="ignored", message=f"No bug has {what} of {repo}")
    outcomes = [BugOutcome(bug_id=bug.id, outcome=_apply(session, bug, event, settings)) for bug in bugs]
    session.flush()
    return WebhookAnswer(status="ok", message=f"{event.action} applied", bugs=outcomes)


def prune_deliveries(session: Session, *, older_than: datetime) -> int:
    """Forget delivery ids older than forges redeliver (days): the table stays small."""
    result = session.execute(delete(WebhookDelivery).where(WebhookDelivery.received_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
