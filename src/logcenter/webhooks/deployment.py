"""The CI's deployment call: MERGED → DEPLOYED for the fixes the deployed commit contains.

"Contains" is the forge's answer (is the merge commit an ancestor of the deployed commit?), asked between two
short transactions; without a forge only the merge commit itself counts, and the answer says which bugs were
left and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from logcenter.bugs import history, workflow
from logcenter.bugs.models import Bug, BugStatus
from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.errors import LogCenterError
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project
from logcenter.validation import from_pydantic
from logcenter.webhooks import signatures
from logcenter.webhooks.schemas import DeploymentAnswer, DeploymentIn, LeftBug
from logcenter.webhooks.service import authenticate, claim_delivery, read_body, record_outcome

log = structlog.get_logger(__name__)

DEPLOYMENT = "deployment"
MIN_SHA = 7


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
            session.scalar(select(Project).where(Project.slug == slug))
            if isinstance(slug, str) and "\x00" not in slug  # no slug holds one; PostgreSQL cannot look it up
            else None
        )
        verified = authenticate(
            DEPLOYMENT,
            [project] if project else [],
            headers=headers,
            signed=body.signed,
            settings=settings,
            what=f"project {slug!r}" if isinstance(slug, str) else "this deployment",
            secret_of=project_forge.deployment_secret,
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
                kind=history.HistoryKind.DEPLOYED,
            )
            deployed.append(bug.id)
        message = f"{len(deployed)} bug(s) deployed" + (f", {len(left)} left as they were" if left else "")
        record_outcome(session, source=DEPLOYMENT, delivery=delivery, outcome=message)
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
                except LogCenterError as exc:  # ForgeError, or no answer
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
