"""GitLab's webhook deliveries from the fake: Merge Request Hook and Note Hook bodies from the contract
samples, with X-Gitlab-Token carrying the secret verbatim."""

from __future__ import annotations

import copy
import json
import uuid
from functools import lru_cache
from typing import Any

from tests.forgefake.core import FakeForge
from tests.forgefake.swagger import CONTRACTS
from tests.forgefake.webhooks import Delivery

SAMPLES = CONTRACTS / "gitlab"
_STATE_IDS = {"opened": 1, "closed": 2, "merged": 3}


@lru_cache(maxsize=4)
def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


class GitLabHooks(FakeForge):
    """The webhook half of the fake gitlab (the API half is in gitlab.py)."""

    # ---- webhooks ---------------------------------------------------------------------------------------
    def webhook(
        self,
        full_name: str,
        number: int,
        action: str,
        *,
        secret: str | None,
        event: str = "Merge Request Hook",
        sender: str | None = None,
        comment: str | None = None,
        review_state: str | None = None,
        delivery: str | None = None,
    ) -> Delivery:
        """A delivery with X-Gitlab-Token. Merge Request Hook actions: open / close / reopen / merge /
        update / approved; "Note Hook" with `comment` is a comment on the MR."""
        repo, pr = self.repos[full_name], self.pr(full_name, number)
        actor = self.user(sender) if sender else (pr.merged_by if pr.merged and pr.merged_by else self.bot)
        project = copy.deepcopy(_sample("webhook-merge_request-merged.json")["project"])
        web = f"{self.url}/{repo.full_name}"
        project.update(
            id=repo.id,
            name=repo.name,
            web_url=web,
            path_with_namespace=repo.full_name,
            default_branch=repo.default_branch,
            git_http_url=repo.bare.url,
            http_url=repo.bare.url,
            url=repo.bare.url,
            homepage=web,
            namespace=repo.full_name.split("/")[0],
            git_ssh_url=f"git@127.0.0.1:{repo.full_name}.git",
            ssh_url=f"git@127.0.0.1:{repo.full_name}.git",
        )
        user = {
            "id": actor.id,
            "name": actor.login,
            "username": actor.login,
            "avatar_url": None,
            "email": "[REDACTED]",
        }
        mr = self.mr_json(repo, pr)
        attrs = copy.deepcopy(_sample("webhook-merge_request-merged.json")["object_attributes"])
        attrs.update(
            id=pr.id,
            iid=pr.number,
            target_branch=pr.base,
            source_branch=pr.head,
            source_project_id=repo.id,
            target_project_id=repo.id,
            author_id=pr.author.id,
            title=pr.title,
            description=pr.body,
            created_at=_gl_time(pr.created_at),
            updated_at=_gl_time(pr.updated_at),
            state=self.state(pr),
            state_id=_STATE_IDS[self.state(pr)],
            url=mr["web_url"],
            action=action,
            merge_commit_sha=mr["merge_commit_sha"] if pr.merged else None,
            merge_user_id=pr.merged_by.id if pr.merged_by else None,
            updated_by_id=actor.id,
            reviewer_ids=[u.id for u in pr.requested_reviewers],
        )
        attrs["last_commit"] = {
            **attrs.get("last_commit", {}),
            "id": repo.head_sha(pr),
            "url": f"{web}/-/commit/{repo.head_sha(pr)}",
        }
        for side in ("source", "target"):
            attrs[side] = {
                **attrs.get(side, {}),
                "name": repo.name,
                "path_with_namespace": repo.full_name,
                "web_url": web,
                "default_branch": repo.default_branch,
                "git_http_url": repo.bare.url,
            }
        payload: dict[str, Any]
        if event == "Merge Request Hook":
            payload = copy.deepcopy(_sample("webhook-merge_request-merged.json"))
            payload.update(
                user=user,
                project=project,
                object_attributes=attrs,
                changes={},
                repository={"name": repo.name, "url": repo.bare.url, "description": "", "homepage": web},
            )
            if action == "approved":
                self.add_comment(full_name, number, "", author=actor.login, kind="review", state="APPROVED")
        elif event == "Note Hook":
            c = self.add_comment(full_name, number, comment or "", author=actor.login)
            note = {
                "id": c.id,
                "note": c.body,
                "noteable_type": "MergeRequest",
                "author_id": actor.id,
                "created_at": _gl_time(c.created_at),
                "updated_at": _gl_time(c.created_at),
                "project_id": repo.id,
                "system": False,
                "type": None,
                "noteable_id": pr.id,
                "url": f"{mr['web_url']}#note_{c.id}",
                "action": "create",
            }
            payload = {
                "object_kind": "note",
                "event_type": "note",
                "user": user,
                "project_id": repo.id,
                "project": project,
                "object_attributes": note,
                "repository": {"name": repo.name, "url": repo.bare.url, "description": "", "homepage": web},
                "merge_request": attrs,
            }
        else:
            raise ValueError(f"no fake GitLab event {event!r}")
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        delivery = delivery or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitLab/17.0.0",
            "X-Gitlab-Event": event,
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Event-UUID": delivery,
            "X-Gitlab-Instance": self.url,
            "Idempotency-Key": delivery,
        }
        if secret:
            headers["X-Gitlab-Token"] = secret
        return Delivery(headers=headers, body=body, id=delivery)


def _gl_time(value: Any) -> str:
    """GitLab webhook timestamps look like `2013-12-03 17:23:34 UTC`."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")
