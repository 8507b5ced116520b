"""One table of the three forges' webhook deliveries, so each behaviour is tested on each forge alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.webhooks import payloads as p
from tests.webhooks.payloads import Delivery

Build = Callable[..., Delivery]


@dataclass(frozen=True)
class ForgeHooks:
    name: str
    path: str
    sign: Callable[..., Delivery]  # (body, secret=..., event=...) -> Delivery
    merged: Callable[..., Delivery]
    closed: Callable[..., Delivery]
    reopened: Callable[..., Delivery]
    comment: Callable[..., Delivery]
    # Header whose value carries the credential, and which names the delivery.
    credential_header: str
    delivery_header: str


def _gitea() -> ForgeHooks:
    def merged(
        *, repo: str, number: int, secret: str | None, merge_commit: str, sender: str = "alice", **kw: Any
    ):
        body = p.gitea_pr(
            "closed", repo=repo, number=number, merged=True, merge_commit=merge_commit, sender=sender, **kw
        )
        return p.gitea_delivery(body, secret=secret)

    def closed(*, repo: str, number: int, secret: str | None, sender: str = "alice", **kw: Any):
        return p.gitea_delivery(
            p.gitea_pr("closed", repo=repo, number=number, sender=sender, **kw), secret=secret
        )

    def reopened(*, repo: str, number: int, secret: str | None, sender: str = "alice", **kw: Any):
        return p.gitea_delivery(
            p.gitea_pr("reopened", repo=repo, number=number, sender=sender, **kw), secret=secret
        )

    def comment(*, repo: str, number: int, secret: str | None, text: str, author: str = "bob"):
        body = p.gitea_comment(repo=repo, number=number, text=text, author=author)
        return p.gitea_delivery(body, secret=secret, event="issue_comment")

    return ForgeHooks(
        "gitea",
        "/api/webhooks/gitea",
        p.gitea_delivery,
        merged,
        closed,
        reopened,
        comment,
        "x-gitea-signature",
        "x-gitea-delivery",
    )


def _github() -> ForgeHooks:
    def merged(
        *, repo: str, number: int, secret: str | None, merge_commit: str, sender: str = "alice", **kw: Any
    ):
        body = p.github_pr(
            "closed", repo=repo, number=number, merged=True, merge_commit=merge_commit, sender=sender, **kw
        )
        return p.github_delivery(body, secret=secret)

    def closed(*, repo: str, number: int, secret: str | None, sender: str = "alice", **kw: Any):
        return p.github_delivery(
            p.github_pr("closed", repo=repo, number=number, sender=sender, **kw), secret=secret
        )

    def reopened(*, repo: str, number: int, secret: str | None, sender: str = "alice", **kw: Any):
        return p.github_delivery(
            p.github_pr("reopened", repo=repo, number=number, sender=sender, **kw), secret=secret
        )

    def comment(*, repo: str, number: int, secret: str | None, text: str, author: str = "bob"):
        body = p.github_comment(repo=repo, number=number, text=text, author=author)
        return p.github_delivery(body, secret=secret, event="issue_comment")

    return ForgeHooks(
        "github",
        "/api/webhooks/github",
        p.github_delivery,
        merged,
        closed,
        reopened,
        comment,
        "x-hub-signature-256",
        "x-github-delivery",
    )


def _gitlab() -> ForgeHooks:
    def merged(
        *, repo: str, number: int, secret: str | None, merge_commit: str, sender: str = "alice", **kw: Any
    ):
        body = p.gitlab_mr("merge", repo=repo, number=number, merge_commit=merge_commit, sender=sender, **kw)
        return p.gitlab_delivery(body, secret=secret)

    def closed(*, repo: str, number: int, secret: str | None, sender: str = "alice", **kw: Any):
        return p.gitlab_delivery(
            p.gitlab_mr("close", repo=repo, number=number, sender=sender, **kw), secret=secret
        )

    def reopened(*, repo: str, number: int, secret: str | None, sender: str = "alice", **kw: Any):
        return p.gitlab_delivery(
            p.gitlab_mr("reopen", repo=repo, number=number, sender=sender, **kw), secret=secret
        )

    def comment(*, repo: str, number: int, secret: str | None, text: str, author: str = "bob"):
        body = p.gitlab_note(repo=repo, number=number, text=text, author=author)
        return p.gitlab_delivery(body, secret=secret, event="Note Hook")

    return ForgeHooks(
        "gitlab",
        "/api/webhooks/gitlab",
        p.gitlab_delivery,
        merged,
        closed,
        reopened,
        comment,
        "x-gitlab-token",
        "idempotency-key",
    )


FORGES = {f.name: f for f in (_gitea(), _github(), _gitlab())}
