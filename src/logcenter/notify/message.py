"""What a notification says, independent of the channel that carries it.

A `Message` is captured when an event is matched and stored with its delivery (as JSON), so retries send
the same thing. Every text in it that came from a report (error type and message, file, environment,
release, failure reasons) is untrusted: the channel formats escape it for their markup (formats.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from logcenter.bugs.models import Bug, BugEvent
from logcenter.notify.events import EventKind
from logcenter.projects.models import Project

# Chat services cut long messages (WeCom: 4,096 bytes of markdown); a notification points to the bug.
MAX_TEXT = 600
MAX_FACT = 200

_TRAILING_NUMBER = re.compile(r"/(\d+)/?$")

HEADLINES = {
    EventKind.NEW_BUG: "New bug",
    EventKind.REGRESSION: "Regression",
    EventKind.PR_OPENED: "Fix ready for review",
    EventKind.FIX_FAILED: "Fix failed",
    EventKind.MERGED: "Fix merged",
    EventKind.DEPLOYED: "Fix deployed",
    EventKind.REVISION_REQUESTED: "Changes requested",
    EventKind.REVISED: "Fix revised",
    EventKind.DIGEST: "Daily digest",
    EventKind.TEST: "Test message",
    EventKind.SUMMARY: "More notifications",
}

# How chat cards colour the event: bad news red, waiting orange, good news green.
TONES = {
    EventKind.NEW_BUG: "danger",
    EventKind.REGRESSION: "danger",
    EventKind.FIX_FAILED: "danger",
    EventKind.PR_OPENED: "warning",
    EventKind.MERGED: "good",
    EventKind.DEPLOYED: "good",
    EventKind.REVISION_REQUESTED: "info",
    EventKind.REVISED: "warning",
    EventKind.DIGEST: "info",
    EventKind.TEST: "info",
    EventKind.SUMMARY: "info",
}


@dataclass(slots=True)
class Link:
    label: str
    url: str


@dataclass(slots=True)
class Item:
    """One line of a digest: a bug and where to see it."""

    text: str
    url: str | None = None


@dataclass(slots=True)
class Message:
    event: str
    title: str
    tone: str
    text: str | None = None  # the error message or failure reason: untrusted, shown quoted
    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    # Machine-readable fields for the generic webhook.
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Message:
        return cls(
            event=value["event"],
            title=value["title"],
            tone=value.get("tone", "info"),
            text=value.get("text"),
            facts=[(str(k), str(v)) for k, v in value.get("facts", [])],
            links=[Link(**link) for link in value.get("links", [])],
            items=[Item(**item) for item in value.get("items", [])],
            data=value.get("data", {}),
        )


def clip(value: str | None, limit: int) -> str:
    """One line of at most `limit` characters (reports may hold megabytes and newlines)."""
    if not value:
        return ""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clip_text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """Multi-line text cut to `limit` characters, at most 8 lines."""
    if not value:
        return None
    lines = value.strip().splitlines()[:8]
    text = "\n".join(line.rstrip() for line in lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_web_url(value: str | None) -> bool:
    """Only http(s) links are offered; a report or agent could send `javascript:` or worse."""
    return bool(value) and value.lower().startswith(("https://", "http://"))  # type: ignore[union-attr]


def bug_url(base_url: str, bug_id: int) -> str:
    return f"{base_url.rstrip('/')}/bugs/{bug_id}"


def for_event(
    bug: Bug, project: Project, event: BugEvent, kind: EventKind, *, base_url: str, pr_link: str | None = None
) -> Message:
    """The message for one history row of a bug. `pr_link`: the PR linked to the bug by an earlier row."""
    where = bug.file_path + (f":{bug.line_number}" if bug.line_number else "") if bug.file_path else None
    headline, tone = HEADLINES[kind], TONES[kind]
    if kind is EventKind.REVISED and " failed: " in (event.note or "")[:40]:
        headline, tone = "Revision failed", "danger"  # the PR is as it was; the reason is in the facts
    title = f"{headline}: {clip(bug.error_type, 120)} in {clip(project.slug, 100)}"
    facts = [
        ("Project", clip(project.name or project.slug, MAX_FACT)),
        ("Bug", f"#{bug.id} {clip(bug.error_type, MAX_FACT)}"),
        ("Status", bug.status if kind is not EventKind.NEW_BUG else "NEW"),
        ("Level", clip(bug.level, 20)),
        ("Environment", clip(bug.environment, 64)),
    ]
    if where:
        facts.append(("Location", clip(where, MAX_FACT)))
    facts.append(("Occurrences", str(bug.occurrence_count or 1)))
    text = clip_text(bug.message)
    if kind is EventKind.FIX_FAILED:
        facts.append(("Reason", clip(event.note or bug.failure_reason or "No reason given", MAX_FACT)))
    elif kind is EventKind.REGRESSION and event.note:
        facts.append(("Why", clip(event.note, MAX_FACT)))
    elif kind is EventKind.DEPLOYED:
        release = bug.deployed_version or (bug.deployed_commit or "")[:12]
        if release:
            facts.append(("Release", clip(release, MAX_FACT)))
    elif kind is EventKind.MERGED and bug.merge_commit_sha:
        facts.append(("Merge commit", bug.merge_commit_sha[:12]))
    elif kind is EventKind.REVISION_REQUESTED:
        facts.append(("Comment", clip(event.note or "", MAX_FACT)))
    elif kind is EventKind.REVISED:
        facts.append(("Revision", clip(event.note or f"revision {bug.revision}", MAX_FACT)))
    if event.actor and kind in (
        EventKind.MERGED, EventKind.FIX_FAILED, EventKind.PR_OPENED, EventKind.REVISION_REQUESTED,
        EventKind.REVISED,
    ):  # fmt: skip
        facts.append(("By", clip(event.actor, 100)))
    links = [Link("Open in Log Center", bug_url(base_url, bug.id))]
    pr_url = _pull_request_url(bug, event, kind, pr_link)
    if pr_url:
        links.append(Link(_pull_request_label(bug, pr_url), pr_url))
    return Message(
        event=kind.value,
        title=title,
        tone=tone,
        text=text,
        facts=facts,
        links=links,
        data={
            "bug_id": bug.id,
            "project": project.slug,
            "status": bug.status,
            "level": bug.level,
            "environment": bug.environment,
            "error_type": bug.error_type,
            "message": clip_text(bug.message, 2000),
            "file_path": bug.file_path,
            "line_number": bug.line_number,
            "occurrences": bug.occurrence_count,
            "pr_url": pr_url,
            "failure_reason": bug.failure_reason if kind is EventKind.FIX_FAILED else None,
            "history_id": event.id,
            "history_note": clip_text(event.note, 2000),
            "at": event.created_at.isoformat() if event.created_at else None,
            "url": bug_url(base_url, bug.id),
        },
    )


def _pull_request_url(bug: Bug, event: BugEvent, kind: EventKind, pr_link: str | None) -> str | None:
    """The PR this event is about: the history's own link (the bug may have been reopened, or moved on to
    another fix, by the time the dispatcher reads it), else the bug's current PR."""
    if kind in (EventKind.NEW_BUG, EventKind.REGRESSION):
        return None
    for link in (event.link, pr_link, bug.pr_url):
        if is_web_url(link):
            return link
    return None


def _pull_request_label(bug: Bug, url: str) -> str:
    number = bug.pr_number if bug.pr_url == url else None
    if number is None:
        match = _TRAILING_NUMBER.search(url)
        number = int(match.group(1)) if match else None
    return f"Pull request #{number}" if number is not None else "Pull request"


def test_message(channel_name: str, *, base_url: str) -> Message:
    """What the "send test message" button sends."""
    return Message(
        event=EventKind.TEST.value,
        title=f"Test message from Log Center: {clip(channel_name, 100)}",
        tone=TONES[EventKind.TEST],
        text="If you can read this, the channel works.",
        facts=[("Channel", clip(channel_name, MAX_FACT))],
        links=[Link("Open Log Center", base_url)],
        data={"channel": channel_name, "url": base_url},
    )
