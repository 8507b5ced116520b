"""Gitea's webhook deliveries from the fake: the contract's payloads (key order included) filled with the
PR at hand, 2-space indented as Go's MarshalIndent writes them, with Gitea's signature headers."""

from __future__ import annotations

import copy
import json
import uuid
from functools import lru_cache
from typing import Any

from tests.forgefake.core import FakeForge
from tests.forgefake.swagger import CONTRACTS
from tests.forgefake.webhooks import Delivery, hmac_hex

SAMPLES = CONTRACTS / "gitea"


@lru_cache(maxsize=4)
def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def _template(name: str) -> dict[str, Any]:
    return copy.deepcopy(_sample(name))


class GiteaHooks(FakeForge):
    """The webhook half of the fake gitea (the API half is in gitea.py)."""

    # ---- webhooks ------------------------------------------------------------------------------------------
    def pull_request_payload(
        self,
        full_name: str,
        number: int,
        action: str,
        *,
        sender: str | None = None,
        review: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A `pull_request` payload as Gitea sends it: the contract's key order, this PR's values."""
        r, pr = self.repos[full_name], self.pr(full_name, number)
        payload = _template("webhook-pull_request-merged.json")
        actor = self.user(sender) if sender else (pr.merged_by if pr.merged and pr.merged_by else self.bot)
        payload.update(
            action=action,
            number=pr.number,
            pull_request=self.pr_json(r, pr),
            repository=self.repo_json(r),
            sender=self.user_json(actor),
            commit_id="",
            review=review,
        )
        return payload

    def webhook(
        self,
        full_name: str,
        number: int,
        action: str,
        *,
        secret: str | None,
        event: str = "pull_request",
        sender: str | None = None,
        comment: str | None = None,
        review_state: str | None = None,
        delivery: str | None = None,
    ) -> Delivery:
        """A signed delivery. `action`: opened / closed (merged or not, per the PR) / reopened /
        synchronized; with `event="issue_comment"` and `comment` a comment; with
        `event="pull_request_review_approved"` (or `_rejected`, `_comment`) a review."""
        if event == "issue_comment":
            body_obj = self.comment_payload(full_name, number, comment or "", sender=sender)
        else:
            review = None
            if event.startswith("pull_request_review"):  # approved / rejected / comment: action "reviewed"
                verdict = {"approved": "APPROVED", "rejected": "REQUEST_CHANGES"}.get(
                    event.rsplit("_", 1)[-1]
                )
                self.add_comment(
                    full_name,
                    number,
                    comment or "",
                    author=sender or "reviewer",
                    kind="review",
                    state=review_state or verdict or "COMMENT",
                )
                review = {"type": event, "content": comment or ""}
            body_obj = self.pull_request_payload(full_name, number, action, sender=sender, review=review)
        body = json.dumps(body_obj, indent=2, ensure_ascii=False).encode()  # Go's MarshalIndent(p, "", "  ")
        delivery = delivery or str(uuid.uuid4())
        signature = hmac_hex(secret, body) if secret else ""
        headers = {
            "Content-Type": "application/json",
            "X-Gitea-Event": event,
            "X-Gogs-Event": event,
            "X-GitHub-Event": event,
            "X-Gitea-Event-Type": event,
            "X-Gogs-Event-Type": event,
            "X-GitHub-Event-Type": event,
            "X-Gitea-Delivery": delivery,
            "X-Gogs-Delivery": delivery,
            "X-GitHub-Delivery": delivery,
            "X-Gitea-Signature": signature,
            "X-Gogs-Signature": signature,
            "X-Hub-Signature-256": f"sha256={signature}",
            "X-Hub-Signature": "sha1=" + (hmac_hex(secret, body, "sha1") if secret else ""),
            "X-Gitea-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-Type": "repository",
        }
        return Delivery(headers=headers, body=body, id=delivery)

    def comment_payload(
        self, full_name: str, number: int, text: str, *, sender: str | None
    ) -> dict[str, Any]:
        """An `issue_comment` payload on a PR (Gitea's IssueCommentPayload: action, issue, pull_request,
        comment, repository, sender, is_pull)."""
        r, pr = self.repos[full_name], self.pr(full_name, number)
        author = self.user(sender or "reviewer")
        comment = self.add_comment(full_name, number, text, author=author.login)
        pr_json = self.pr_json(r, pr)
        issue = {
            "id": pr.id,
            "url": f"{self.api_url}/repos/{full_name}/issues/{pr.number}",
            "html_url": pr_json["html_url"],
            "number": pr.number,
            "user": pr_json["user"],
            "title": pr.title,
            "body": pr.body,
            "state": pr.state,
            "pull_request": {
                "merged": pr.merged,
                "merged_at": pr_json["merged_at"],
                "html_url": pr_json["html_url"],
            },
        }
        return {
            "action": "created",
            "issue": issue,
            "pull_request": pr_json,
            "comment": self.comment_json(r, pr, comment),
            "repository": self.repo_json(r),
            "sender": self.user_json(author),
            "is_pull": True,
        }
