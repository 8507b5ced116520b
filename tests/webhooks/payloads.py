"""Real-shaped webhook deliveries built from the captured bodies in shared/forge-contracts, with the fields of
the PR at hand changed, signed the way each forge signs them (Gitea: 2-space indented JSON, as Go's
json.MarshalIndent writes it; GitHub and GitLab: compact JSON)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# shared/ lies beside the repository (worktree or CI's clean clone).
CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "forge-contracts"


@cache
def contract(path: str) -> dict[str, Any]:
    return json.loads((CONTRACTS / path).read_text())  # type: ignore[no-any-return]


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]

    def with_headers(self, **changes: str | None) -> Delivery:
        headers = dict(self.headers)
        for name, value in changes.items():
            key = name.replace("_", "-")
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return Delivery(self.body, headers)


def _user(login: str) -> dict[str, Any]:
    return {"id": 99, "login": login, "username": login}


# Gitea ------------------------------------------------------------------------------------------------------


def gitea_pr(
    action: str,
    *,
    repo: str,
    number: int,
    merged: bool = False,
    head_branch: str = "fix/auto-1",
    head_sha: str = "a" * 40,
    merge_commit: str | None = None,
    sender: str = "alice",
    title: str = "fix: bug",
) -> dict[str, Any]:
    source = "gitea/webhook-pull_request-merged.json" if merged else "gitea/webhook-pull_request-closed.json"
    body = copy.deepcopy(contract(source))
    body["action"] = action
    body["number"] = number
    pr = body["pull_request"]
    pr["number"] = number
    pr["title"] = title
    pr["html_url"] = f"https://gitea.example/{repo}/pulls/{number}"
    pr["head"]["ref"] = pr["head"]["label"] = head_branch
    pr["head"]["sha"] = head_sha
    if merged:
        pr["merge_commit_sha"] = merge_commit
        pr["merged_by"]["login"] = sender
    if action != "closed":
        pr["state"] = "open"
        pr["merged"] = False
    body["repository"]["full_name"] = repo
    body["repository"]["name"] = repo.rsplit("/", 1)[-1]
    body["sender"]["login"] = sender
    return body


def gitea_comment(*, repo: str, number: int, text: str, author: str = "bob") -> dict[str, Any]:
    return {
        "action": "created",
        "issue": {"id": 5, "number": number, "title": "fix", "pull_request": {"merged": False}},
        "comment": {
            "id": 31,
            "html_url": f"https://gitea.example/{repo}/pulls/{number}#issuecomment-31",
            "body": text,
            "user": _user(author),
        },
        "repository": {"full_name": repo, "name": repo.rsplit("/", 1)[-1]},
        "sender": _user(author),
        "is_pull": True,
    }


def gitea_delivery(
    body: dict[str, Any], *, secret: str | None, event: str = "pull_request", raw: bytes | None = None
) -> Delivery:
    data = raw if raw is not None else json.dumps(body, indent=2, ensure_ascii=False).encode()
    signature = hmac_hex(secret, data) if secret else ""
    return Delivery(
        data,
        {
            "content-type": "application/json",
            "x-gitea-event": event,
            "x-gitea-event-type": event,
            "x-github-event": event,
            "x-gitea-delivery": str(uuid.uuid4()),
            "x-gitea-signature": signature,
            "x-hub-signature-256": f"sha256={signature}",
        },
    )


# GitHub -----------------------------------------------------------------------------------------------------


def github_pr(
    action: str,
    *,
    repo: str,
    number: int,
    merged: bool = False,
    head_branch: str = "fix/auto-1",
    head_sha: str = "b" * 40,
    merge_commit: str | None = None,
    sender: str = "alice",
) -> dict[str, Any]:
    source = (
        "github/webhook-pull_request-merged.json" if merged else "github/webhook-pull_request-closed.json"
    )
    body = copy.deepcopy(contract(source))
    body["action"] = action
    body["number"] = number
    pr = body["pull_request"]
    pr["number"] = number
    pr["html_url"] = f"https://github.com/{repo}/pull/{number}"
    pr["head"]["ref"] = head_branch
    pr["head"]["sha"] = head_sha
    # On an unmerged PR merge_commit_sha is the test merge: never a reason to think it merged.
    pr["merge_commit_sha"] = merge_commit or "c" * 40
    if merged:
        pr["merged_by"]["login"] = sender
    if action != "closed":
        pr["state"] = "open"
        pr["merged"] = False
    body["repository"]["full_name"] = repo
    body["repository"]["name"] = repo.rsplit("/", 1)[-1]
    body["sender"]["login"] = sender
    return body


def github_comment(*, repo: str, number: int, text: str, author: str = "bob") -> dict[str, Any]:
    return {
        "action": "created",
        "issue": {
            "number": number,
            "pull_request": {"url": f"https://api.github.com/repos/{repo}/pulls/{number}"},
        },
        "comment": {
            "id": 77,
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-77",
            "body": text,
            "user": _user(author),
        },
        "repository": {"full_name": repo},
        "sender": _user(author),
    }


def github_review(*, repo: str, number: int, text: str, state: str, author: str = "carol") -> dict[str, Any]:
    return {
        "action": "submitted",
        "review": {
            "id": 8,
            "body": text,
            "state": state,
            "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-8",
            "user": _user(author),
        },
        "pull_request": {"number": number, "head": {"ref": "fix/auto-1", "sha": "b" * 40}},
        "repository": {"full_name": repo},
        "sender": _user(author),
    }


def github_delivery(body: dict[str, Any], *, secret: str | None, event: str = "pull_request") -> Delivery:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": str(uuid.uuid4()),
        "user-agent": "GitHub-Hookshot/abc123",
    }
    if secret:
        headers["x-hub-signature-256"] = f"sha256={hmac_hex(secret, data)}"
    return Delivery(data, headers)


# GitLab -----------------------------------------------------------------------------------------------------


def gitlab_mr(
    action: str,
    *,
    repo: str,
    number: int,
    head_branch: str = "fix/auto-1",
    merge_commit: str | None = None,
    sender: str = "alice",
) -> dict[str, Any]:
    source = (
        "gitlab/webhook-merge_request-merged.json"
        if action == "merge"
        else "gitlab/webhook-merge_request-closed.json"
    )
    body = copy.deepcopy(contract(source))
    attrs = body["object_attributes"]
    attrs["action"] = action
    attrs["state"] = {"merge": "merged", "close": "closed"}.get(action, "opened")
    attrs["iid"] = number
    attrs["source_branch"] = head_branch
    attrs["url"] = f"https://gitlab.example/{repo}/-/merge_requests/{number}"
    attrs["merge_commit_sha"] = merge_commit if action == "merge" else None
    body["project"]["path_with_namespace"] = repo
    body["user"]["username"] = sender
    return body


def gitlab_note(*, repo: str, number: int, text: str, author: str = "bob") -> dict[str, Any]:
    return {
        "object_kind": "note",
        "event_type": "note",
        "user": {"id": 4, "name": author.title(), "username": author},
        "project": {"id": 1, "path_with_namespace": repo},
        "object_attributes": {
            "id": 1244,
            "note": text,
            "noteable_type": "MergeRequest",
            "url": f"https://gitlab.example/{repo}/-/merge_requests/{number}#note_1244",
        },
        "merge_request": {"iid": number, "source_branch": "fix/auto-1"},
    }


def gitlab_delivery(
    body: dict[str, Any], *, secret: str | None, event: str = "Merge Request Hook"
) -> Delivery:
    headers = {
        "content-type": "application/json",
        "x-gitlab-event": event,
        "x-gitlab-webhook-uuid": str(uuid.uuid4()),
        "x-gitlab-event-uuid": str(uuid.uuid4()),
        "idempotency-key": str(uuid.uuid4()),
        "user-agent": "GitLab/17.9.0",
    }
    if secret:
        headers["x-gitlab-token"] = secret
    return Delivery(json.dumps(body, separators=(",", ":")).encode(), headers)
