"""Forge and deployment webhooks: authenticate, de-duplicate, find the bugs, move them along.

Every check runs before anything is written: a bad or missing signature is a 401 and nothing changes; a body
whose repository no project has, or whose PR no bug has, is answered 200 "ignored". Forge calls (is the
merge contained in the deployed commit?) run between two short transactions, never inside one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from logcenter.bugs import workflow
from logcenter.bugs.models import Bug, BugStatus
from logcenter.config import Settings
from logcenter.db import session_scope, upsert_insert, utcnow
from logcenter.errors import BadRequest, Forbidden, LogCenterError, Unauthorized
from logcenter.forges.base import ForgeError, ForgeKind
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project
from logcenter.reviews import apply
from logcenter.validation import from_pydantic
from logcenter.webhooks import events, signatures
from logcenter.webhooks.events import Action, ForgeEvent
from logcenter.webhooks.models import WebhookDelivery
from logcenter.webhooks.schemas import (
    BugOutcome,
    DeploymentAnswer,
    DeploymentIn,
    LeftBug,
    WebhookAnswer,
)

log = structlog.get_logger(__name__)

DEPLOYMENT = "deployment"
MIN_SHA = 7


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
) -> list[Project] | None:
    """The projects whose secret signed this body; None when no project matched but the server-wide secret
    did. 403 when there is no secret to check against, 401 when none matches."""
    projects = list(projects)
    if not projects:
        secret = project_forge.webhook_secret(None, settings)
        if secret is None:
            raise _secret_problem(kind, what)
        if not signatures.verify(kind, headers, signed, secret):
            raise _bad_signature(kind, headers)
        return None
    secrets = [(p, project_forge.webhook_secret(p, settings)) for p in projects]
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


def _record_outcome(session: Session, *, source: str, delivery: str | None, outcome: str) -> None:
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


def _apply(session: Session, bug: Bug, event: ForgeEvent) -> str:
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
        return apply.head_moved(bug, head_sha=event.head_sha)
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
        answer = _handle(session, kind, event_header, body.payload, verified, repo)
        _record_outcome(session, source=kind, delivery=delivery, outcome=f"{answer.status}: {answer.message}")
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
    outcomes = [BugOutcome(bug_id=bug.id, outcome=_apply(session, bug, event)) for bug in bugs]
    session.flush()
    return WebhookAnswer(status="ok", message=f"{event.action} applied", bugs=outcomes)


# Deployment -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Merged:
    bug_id: int
    merge_commit: str | None


def _same_commit(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    n = min(len(a), len(b))
    return n >= MIN_SHA and a[:n] == b[:n]


def receive_deployment(
    factory: sessionmaker[Session], settings: Settings, *, headers: Mapping[str, str], raw: bytes
) -> DeploymentAnswer:
    """MERGED → DEPLOYED for each bug of the project whose merge commit the deployed commit contains."""
    body = read_body(DEPLOYMENT, raw, headers.get("content-type", "application/json"))
    slug = body.payload.get("project_id")
    delivery = signatures.delivery_id(DEPLOYMENT, headers)
    with session_scope(factory, write=False) as session:
        project = (
            session.scalar(select(Project).where(Project.slug == slug)) if isinstance(slug, str) else None
        )
        verified = authenticate(
            DEPLOYMENT,
            [project] if project else [],
            headers=headers,
            signed=body.signed,
            settings=settings,
            what=f"project {slug!r}" if isinstance(slug, str) else "this deployment",
        )
        try:
            data = DeploymentIn.model_validate(body.payload)
        except ValidationError as exc:
            raise from_pydantic(exc) from None
        if verified is None or project is None:
            return DeploymentAnswer(status="ignored", message=f"No project {str(slug)[:100]!r}")
        if data.status.strip().lower() != "success":
            return DeploymentAnswer(
                status="ignored", message=f"Deployment status {data.status!r}: nothing changed"
            )
        merged = [
            _Merged(bug_id, sha)
            for bug_id, sha in session.execute(
                select(Bug.id, Bug.merge_commit_sha)
                .where(Bug.project_id == project.id, Bug.status == BugStatus.MERGED)
                .order_by(Bug.id)
            )
        ]
        try:
            target: project_forge.ForgeTarget | None = project_forge.target_for(project, settings)
        except project_forge.ForgeNotConfigured:
            target = None
        project_id = project.id
    # No transaction from here until the write below: the forge may take seconds to answer.
    contained, left = _contained(merged, data.commit, target)
    deployed: list[int] = []
    with session_scope(factory) as session:
        if not claim_delivery(session, source=DEPLOYMENT, delivery=delivery, event="deployment"):
            return DeploymentAnswer(status="duplicate", message=f"Delivery {delivery} was handled already")
        at = data.deployed_at or utcnow()
        for bug in session.scalars(
            select(Bug)
            .where(Bug.id.in_(contained), Bug.project_id == project_id)
            .order_by(Bug.id)
            .with_for_update()
        ):
            if bug.status != BugStatus.MERGED:
                left.append(LeftBug(bug_id=bug.id, reason=f"now {bug.status}"))
                continue
            workflow.deploy(
                session,
                bug,
                actor=f"deployment ({data.environment or 'unknown environment'})",
                commit=data.commit.lower(),
                version=data.version,
                environment=data.environment,
                deployed_at=at,
                note=f"Deployed in commit {data.commit[:12]}"
                + (f" ({data.version})" if data.version else "")
                + (f" to {data.environment}" if data.environment else ""),
                kind=workflow.HistoryKind.DEPLOYED,
            )
            deployed.append(bug.id)
        message = f"{len(deployed)} bug(s) deployed" + (f", {len(left)} left as they were" if left else "")
        _record_outcome(session, source=DEPLOYMENT, delivery=delivery, outcome=message)
    log.info("webhook.deployment", project=slug, commit=data.commit, deployed=deployed, left=len(left))
    return DeploymentAnswer(
        status="ok", message=message, deployed=deployed, left=sorted(left, key=lambda b: b.bug_id)
    )


def _contained(
    merged: list[_Merged], commit: str, target: project_forge.ForgeTarget | None
) -> tuple[list[int], list[LeftBug]]:
    """Which merged bugs' merge commits the deployed commit contains: the same commit, or (with a forge) an
    ancestor of it. Without a forge only the same commit counts, and each bug left says why."""
    contained: list[int] = []
    left: list[LeftBug] = []
    answers: dict[str, bool | str] = {}
    client = None
    try:
        for bug in merged:
            if not bug.merge_commit:
                left.append(LeftBug(bug_id=bug.bug_id, reason="no merge commit recorded for its fix"))
                continue
            if _same_commit(bug.merge_commit, commit):
                contained.append(bug.bug_id)
                continue
            if target is None:
                left.append(
                    LeftBug(
                        bug_id=bug.bug_id,
                        reason=f"merge commit {bug.merge_commit[:12]} is not the deployed commit, and "
                        "without a forge configured Log Center cannot tell whether the deployed commit "
                        "contains it",
                    )
                )
                continue
            if bug.merge_commit not in answers:
                try:
                    client = client or project_forge.connect(target)
                    answers[bug.merge_commit] = client.contains_commit(bug.merge_commit, in_commit=commit)
                except (ForgeError, LogCenterError) as exc:
                    answers[bug.merge_commit] = f"the forge could not tell: {exc.message}"
            answer = answers[bug.merge_commit]
            if answer is True:
                contained.append(bug.bug_id)
            elif answer is False:
                left.append(
                    LeftBug(
                        bug_id=bug.bug_id,
                        reason=f"merge commit {bug.merge_commit[:12]} is not in deployed commit "
                        f"{commit[:12]}",
                    )
                )
            else:
                left.append(LeftBug(bug_id=bug.bug_id, reason=str(answer)))
    finally:
        if client is not None:
            client.close()
    return contained, left


def prune_deliveries(session: Session, *, older_than: datetime) -> int:
    """Forget delivery ids older than forges redeliver (days): the table stays small."""
    from sqlalchemy import delete

    result = session.execute(delete(WebhookDelivery).where(WebhookDelivery.received_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
