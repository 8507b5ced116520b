"""The review policy job. Designated reviewers are requested on each new fix's PR. Auto-merge looks at each
PENDING_REVIEW fix of a project with a policy, once its grace period is over, and merges it (or, in dry-run
mode, says it would) when every condition holds. Each decision is written on the bug's history with every
condition's value, once per PR head: a new push is a new look.

Forge calls run outside any transaction; the merge goes through the reviews service, as a reviewer's would
(moved head → 409, already merged → recorded), so the MERGED move notifies the channels like any merge.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from logcenter.automerge import designated
from logcenter.automerge import policy as rules
from logcenter.automerge.models import MergeDecision, MergePolicy, Mode, ReviewRequest
from logcenter.bugs import history
from logcenter.bugs import service as bugs_service
from logcenter.bugs.models import Bug, BugStatus
from logcenter.bugs.schemas import Verification
from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.errors import LogCenterError
from logcenter.forges.base import ForgeError, PRState
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project
from logcenter.repair.models import RepairAttempt
from logcenter.reviews import service as reviews

log = structlog.get_logger(__name__)

ACTOR = "auto-merge"


@dataclass(frozen=True, slots=True)
class Candidate:
    bug_id: int
    pr_number: int
    opened_at: datetime
    mode: str
    policy: dict[str, Any]
    target: project_forge.ForgeTarget
    test_passed: bool | None
    verification: Verification | None  # the report's structured verification (none from older agents)
    verified_head: str | None  # the head the agent verified and reported
    revisions: int = 0  # revisions reviewers asked for on this PR


def candidates(session: Session, settings: Settings, *, now: datetime) -> list[Candidate]:
    """Fixes awaiting review in projects whose policy is on (or dry run) and whose grace period is over."""
    rows = session.execute(
        select(Bug, MergePolicy, Project)
        .join(MergePolicy, MergePolicy.project_id == Bug.project_id)
        .join(Project, Project.id == Bug.project_id)
        .where(
            Bug.status == BugStatus.PENDING_REVIEW,
            Bug.pr_number.is_not(None),
            MergePolicy.mode != Mode.OFF,
        )
        .order_by(Bug.id)
    )
    found = []
    for bug, merge_policy, project in rows:
        if now - bug.status_changed_at < timedelta(minutes=merge_policy.grace_minutes):
            continue  # asking the forge can wait until the grace period is over
        report = session.scalar(
            select(RepairAttempt)
            .where(RepairAttempt.bug_id == bug.id)
            .order_by(RepairAttempt.id.desc())
            .limit(1)
        )
        try:
            target = project_forge.target_for(project, settings)
        except LogCenterError:
            continue  # no forge configured: nothing to merge with
        found.append(
            Candidate(
                bug_id=bug.id,
                pr_number=bug.pr_number,  # type: ignore[arg-type]
                opened_at=bug.status_changed_at,
                mode=merge_policy.mode,
                policy={c.name: getattr(merge_policy, c.name) for c in MergePolicy.__table__.columns},
                target=target,
                test_passed=report.test_passed if report else None,
                verification=_verification(report),
                verified_head=bug.head_sha,
                revisions=bug.revision,
            )
        )
    return found


def _verification(report: RepairAttempt | None) -> Verification | None:
    if report is None or report.verification is None:
        return None
    try:
        return Verification.model_validate(report.verification)
    except ValidationError:
        return None  # unreadable: as good as none


def decided(session: Session, bug_id: int, head_sha: str) -> bool:
    return session.get(MergeDecision, (bug_id, head_sha)) is not None


def consider(
    factory: sessionmaker[Session], settings: Settings, candidate: Candidate, *, now: datetime
) -> str | None:
    """Judge one fix; returns the outcome written down, or None (wait, or decided already for this head)."""
    with closing(project_forge.connect(candidate.target)) as forge:
        pr = forge.get_pull_request(candidate.pr_number)
        if pr.state != PRState.OPEN or pr.merged:
            return None  # the forge webhooks and the PR sync job take it from here
        with session_scope(factory, write=False) as session:
            if decided(session, candidate.bug_id, pr.head_sha):
                return None
        policy = MergePolicy(**candidate.policy)
        checks = forge.commit_checks(pr.head_sha).state if policy.require_checks else None
        conditions = rules.evaluate(
            policy,
            test_passed=candidate.test_passed,
            verification=candidate.verification,
            diff=forge.pull_request_diff(candidate.pr_number),
            files=[f.filename for f in forge.pull_request_files(candidate.pr_number)],
            checks=checks,
            opened_at=candidate.opened_at,
            now=now,
            comments=forge.list_comments(candidate.pr_number),
            pr_author=pr.author,
            revisions=candidate.revisions,
        )
        conditions.insert(1, rules.same_head(candidate.verified_head, pr.head_sha))
    verdict = rules.verdict(conditions)
    if verdict is None:
        return None
    text = rules.summary(conditions)
    head = pr.head_sha[:12]
    if verdict is False:
        outcome, note = "refused", f"Auto-merge refused PR #{pr.number} at {head}: {text}"
    elif candidate.mode == Mode.DRY_RUN:
        outcome, note = "would_merge", f"Auto-merge (dry run) would merge PR #{pr.number} at {head}: {text}"
    else:
        try:
            reviews.merge(
                factory,
                settings,
                candidate.bug_id,
                actor=ACTOR,
                note=f"Merged by auto-merge at {head}: {text}",
                expected_head_sha=pr.head_sha,
                admin=True,  # the project's own policy decided: its designated reviewers agreed to it
            )
            outcome, note = "merged", None
        except LogCenterError as exc:
            outcome, note = "failed", f"Auto-merge of PR #{pr.number} at {head} failed: {exc.message}"
    with session_scope(factory) as session:
        session.add(
            MergeDecision(
                bug_id=candidate.bug_id,
                head_sha=pr.head_sha,
                outcome=outcome,
                conditions=[c.to_json() for c in conditions],
                decided_at=now,
            )
        )
        if note is not None:
            bug = bugs_service.get_bug(session, candidate.bug_id, for_update=True)
            history.record_note(
                session,
                bug,
                kind=history.HistoryKind.AUTOMERGE,
                actor=ACTOR,
                note=note,
                link=pr.url,
                now=now,
            )
    log.info("automerge.decided", bug=candidate.bug_id, pr=pr.number, outcome=outcome)
    return outcome


@dataclass(frozen=True, slots=True)
class ReviewAsk:
    bug_id: int
    pr_number: int
    reviewers: list[str]
    target: project_forge.ForgeTarget


def review_asks(session: Session, settings: Settings) -> list[ReviewAsk]:
    """PRs awaiting review in projects with designated reviewers, who were not asked yet."""
    asked = select(ReviewRequest.bug_id).where(
        ReviewRequest.bug_id == Bug.id, ReviewRequest.pr_number == Bug.pr_number
    )
    rows = session.execute(
        select(Bug, MergePolicy, Project)
        .join(MergePolicy, MergePolicy.project_id == Bug.project_id)
        .join(Project, Project.id == Bug.project_id)
        .where(Bug.status == BugStatus.PENDING_REVIEW, Bug.pr_number.is_not(None), ~asked.exists())
        .order_by(Bug.id)
    )
    found = []
    for bug, merge_policy, project in rows:
        if not merge_policy.reviewers:
            continue
        try:
            target = project_forge.target_for(project, settings)
        except LogCenterError:
            continue
        found.append(ReviewAsk(bug.id, bug.pr_number, list(merge_policy.reviewers), target))  # type: ignore[arg-type]
    return found


def ask_reviewers(
    factory: sessionmaker[Session], settings: Settings, ask: ReviewAsk, *, now: datetime
) -> None:
    """Request the designated reviewers on the PR (not its author: forges refuse that), once per PR."""
    with closing(project_forge.connect(ask.target)) as forge:
        pr = forge.get_pull_request(ask.pr_number)
        # People type the list, the forge gives the author's login: compare them as the forge does.
        names = [name for name in ask.reviewers if not designated.is_designated(name, [pr.author or ""])]
        if names and pr.state == PRState.OPEN:
            forge.request_reviewers(ask.pr_number, names)
    with session_scope(factory) as session:
        session.add(
            ReviewRequest(bug_id=ask.bug_id, pr_number=ask.pr_number, reviewers=names, requested_at=now)
        )
        if names:
            bug = bugs_service.get_bug(session, ask.bug_id, for_update=True)
            history.record_note(
                session,
                bug,
                kind=history.HistoryKind.REVIEW_REQUESTED,
                actor=ACTOR,
                note=f"Review of PR #{ask.pr_number} requested from {', '.join(names)}",
                link=pr.url,
                now=now,
            )


def refused_review_request(
    factory: sessionmaker[Session], ask: ReviewAsk, error: ForgeError, *, now: datetime
) -> None:
    """The forge refused the request (a name it does not know, a token without the right): asking again
    every round would be refused again, so the PR is marked asked and the bug's history says why, where the
    people who set the list read it (a forge that does not answer is asked again next round)."""
    with session_scope(factory) as session:
        session.add(ReviewRequest(bug_id=ask.bug_id, pr_number=ask.pr_number, reviewers=[], requested_at=now))
        bug = bugs_service.get_bug(session, ask.bug_id, for_update=True)
        history.record_note(
            session,
            bug,
            kind=history.HistoryKind.REVIEW_REQUESTED,
            actor=ACTOR,
            note=f"Review of PR #{ask.pr_number} could not be requested from {', '.join(ask.reviewers)}: "
            f"{error.message}. Check the designated reviewers' names (forge user names) and request them on "
            "the PR by hand",
            now=now,
        )


def run(factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None) -> dict[int, str]:
    """One round: request designated reviewers on new PRs, then judge every auto-merge candidate; returns each
    decided bug's outcome."""
    now = now or utcnow()
    with session_scope(factory, write=False) as session:
        asks = review_asks(session, settings)
    for ask in asks:
        try:
            ask_reviewers(factory, settings, ask, now=now)
        except LogCenterError as exc:
            log.warning("automerge.review_request_failed", bug=ask.bug_id, error=exc.message)
            if isinstance(exc, ForgeError) and exc.forge_status is not None and 400 <= exc.forge_status < 500:
                refused_review_request(factory, ask, exc, now=now)
    with session_scope(factory, write=False) as session:
        found = candidates(session, settings, now=now)
    outcomes: dict[int, str] = {}
    for candidate in found:
        try:
            outcome = consider(factory, settings, candidate, now=now)
        except LogCenterError as exc:  # one forge down must not stop the others
            log.warning("automerge.skipped", bug=candidate.bug_id, error=exc.message)
            continue
        if outcome is not None:
            outcomes[candidate.bug_id] = outcome
    return outcomes
