"""GitHub's webhook deliveries from the fake: the octokit payloads filled with the PR at hand, with
X-Hub-Signature-256 when a secret is set."""

from __future__ import annotations

import copy
import json
import uuid
from functools import lru_cache
from typing import Any

from tests.forgefake.core import FakeForge
from tests.forgefake.swagger import CONTRACTS
from tests.forgefake.webhooks import Delivery, hmac_hex

SAMPLES = CONTRACTS / "github"


@lru_cache(maxsize=4)
def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


class GitHubHooks(FakeForge):
    """The webhook half of the fake github (the API half is in github.py)."""

    # ---- webhooks ---------------------------------------------------------------------------------------
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
        """A signed delivery. `event`: pull_request (action opened / closed / reopened / synchronize),
        issue_comment (action created, `comment` the text), pull_request_review (action submitted,
        `review_state` approved / changes_requested / commented)."""
        r, pr = self.repos[full_name], self.pr(full_name, number)
        actor = self.user(sender) if sender else (pr.merged_by if pr.merged and pr.merged_by else self.bot)
        payload: dict[str, Any]
        if event == "pull_request":
            payload = copy.deepcopy(_sample("webhook-pull_request-closed.json"))
            payload.update(
                action=action,
                number=pr.number,
                pull_request=self.pr_json(r, pr),
                repository=self.repo_json(r),
                sender=self.user_json(actor),
            )
            payload.pop("installation", None)
        elif event == "issue_comment":
            c = self.add_comment(full_name, number, comment or "", author=actor.login)
            pr_json = self.pr_json(r, pr)
            issue = {
                "url": pr_json["issue_url"],
                "html_url": pr_json["html_url"],
                "id": pr.id,
                "number": pr.number,
                "title": pr.title,
                "user": pr_json["user"],
                "state": pr.state,
                "body": pr.body,
                "pull_request": {
                    "url": pr_json["url"],
                    "html_url": pr_json["html_url"],
                    "merged_at": pr_json["merged_at"],
                },
            }
            payload = {
                "action": action or "created",
                "issue": issue,
                "comment": self.comment_json(r, pr, c),
                "repository": self.repo_json(r),
                "sender": self.user_json(actor),
            }
        elif event == "pull_request_review":
            state = {"approved": "APPROVED", "changes_requested": "REQUEST_CHANGES"}.get(
                review_state or "", "COMMENT"
            )
            c = self.add_comment(
                full_name, number, comment or "", author=actor.login, kind="review", state=state
            )
            review = self.review_json(r, pr, c)
            review["state"] = (review_state or "commented").lower()  # webhooks send the state in lower case
            payload = {
                "action": action or "submitted",
                "review": review,
                "pull_request": self.pr_json(r, pr),
                "repository": self.repo_json(r),
                "sender": self.user_json(actor),
            }
        else:
            raise ValueError(f"no fake GitHub event {event!r}")
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        delivery = delivery or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fake",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(r.id),
        }
        if secret:  # sent only when a secret is configured
            headers["X-Hub-Signature-256"] = "sha256=" + hmac_hex(secret, body)
            headers["X-Hub-Signature"] = "sha1=" + hmac_hex(secret, body, "sha1")
        return Delivery(headers=headers, body=body, id=delivery)
