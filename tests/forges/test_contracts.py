"""The fakes keep to the forges' contracts (shared/forge-contracts): the Gitea fake against Gitea's swagger,
and
the webhook deliveries against the captured payloads, headers and signature rules of all three forges."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from logcenter.forges import MergeStyle
from tests.forgefake import swagger
from tests.forgefake.core import FakeForge, free_port, serve
from tests.forgefake.gitea import FakeGitea
from tests.forgefake.github import FakeGitHub
from tests.forgefake.gitlab import FakeGitLab

CONTRACTS = swagger.CONTRACTS
FIX = {"app/calc.py": "def average(values):\n    return sum(values) / len(values) if values else 0.0\n"}
SECRET = "webhook-s3cret"


def api(fake: FakeForge) -> httpx.Client:
    return httpx.Client(base_url=fake.api_url, headers={"Authorization": f"token {fake.token}"}, timeout=10)


# ---- Gitea swagger -----------------------------------------------------------------------------------------
def test_the_contract_samples_validate_and_the_validator_can_fail() -> None:
    sample = json.loads((CONTRACTS / "gitea" / "api-pull_request-create-response.json").read_text())
    assert swagger.definition_errors("PullRequest", sample) == []
    broken = {**sample, "number": "seven", "merged": "yes", "head": {"sha": 42}}
    errors = swagger.response_errors("GET", "/repos/{owner}/{repo}/pulls/{index}", 200, broken)
    assert any(e.startswith("number:") for e in errors)
    assert any(e.startswith("merged:") for e in errors)
    assert any(e.startswith("head") for e in errors)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/pulls/1/merge", {}, "do"),
        ("/pulls/1/merge", {"do": "yolo"}, "do"),
        ("/pulls/1/merge", {"do": "merge", "head_commit_id": 123}, "head_commit_id"),
        ("/issues/1/comments", {"body": 5}, "body"),
        ("/issues/1/comments", {}, "body"),
        ("/pulls", {"head": ["fix-average"], "base": "main", "title": "x"}, "head"),
    ],
)
def test_the_gitea_fake_rejects_malformed_requests(
    fake_gitea: FakeGitea, path: str, body: dict[str, Any], field: str
) -> None:
    fake_gitea.open_pr("acme/app", "fix-average", files=FIX)
    bare = fake_gitea.repos["acme/app"].bare
    before = bare.rev("refs/heads/main")
    with api(fake_gitea) as client:
        response = client.post(f"/repos/acme/app{path}", json=body)
    assert response.status_code == 422
    assert field in response.json()["message"]
    assert set(response.json()) == {"message", "url"}  # Gitea's APIError shape
    assert bare.rev("refs/heads/main") == before
    assert not fake_gitea.repos["acme/app"].prs[1].comments


def test_every_gitea_answer_validates_against_the_swagger(fake_gitea: FakeGitea) -> None:
    forge = fake_gitea.client()
    fake_gitea.push("acme/app", "fix-average", FIX, "Fix")
    pr = forge.create_pull_request(head="fix-average", base="main", title="Fix ✓ ünïcode", body="b")
    forge.create_pull_request(head="fix-average", base="main", title="again", body="b")  # the 409 path
    forge.pull_request_files(pr.number)
    forge.pull_request_diff(pr.number)
    forge.comment(pr.number, "hi")
    fake_gitea.add_comment("acme/app", pr.number, "ok", kind="review", state="APPROVED")
    forge.list_comments(pr.number)
    forge.request_reviewers(pr.number, ["alice"])
    fake_gitea.set_status("acme/app", pr.head_sha, "ci", "success")
    forge.commit_checks(pr.head_sha)
    merged = forge.merge_pull_request(pr.number, style=MergeStyle.SQUASH, expected_head_sha=pr.head_sha)
    forge.merge_pull_request(pr.number, style=MergeStyle.MERGE, expected_head_sha=None)
    assert merged.merge_commit_sha
    forge.contains_commit(merged.merge_commit_sha, in_commit="main")
    with api(fake_gitea) as client:
        assert client.post("/repos/acme/app/pulls/1/merge", json={"do": "merge"}).status_code == 405
        assert client.patch("/repos/acme/app/pulls/1", json={"state": "closed"}).status_code == 412
    checked = {r.path for r in fake_gitea.requests}
    assert len(checked) >= 10
    assert fake_gitea.contract_errors == []


def test_a_gitea_fake_that_drifts_from_the_swagger_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeGitea(tmp_path) as fake:
        fake.add_repo("acme/app")
        real = FakeGitea.repo_json
        monkeypatch.setattr(
            FakeGitea, "repo_json", lambda self, repo: {**real(self, repo), "stars_count": "many"}
        )
        with api(fake) as client:
            assert client.get("/repos/acme/app").status_code == 200
    assert fake.contract_errors and "stars_count" in fake.contract_errors[0]


# ---- webhooks ----------------------------------------------------------------------------------------------
def test_gitea_signature_test_vector_from_the_contract() -> None:
    body = (CONTRACTS / "gitea" / "webhook-pull_request-merged.json").read_bytes()
    assert len(body) == 12918
    expected = "203ccf03a2b1eacaf262f5985770c180e2ba140777891aeea13916487d721060"
    assert hmac.new(b"test-secret", body, hashlib.sha256).hexdigest() == expected


def test_gitea_merged_webhook_is_real_shaped_and_signed_over_the_raw_bytes(fake_gitea: FakeGitea) -> None:
    pr = fake_gitea.open_pr("acme/app", "fix-average", files=FIX, title="Corrige la moyenne — 平均値")
    fake_gitea.merge_pr("acme/app", pr.number, by="alice")
    delivery = fake_gitea.webhook("acme/app", pr.number, "closed", secret=SECRET)

    text = delivery.body.decode()
    assert text.startswith(
        '{\n  "action": "closed",\n  "number": 1,\n  "pull_request": {'
    )  # Go MarshalIndent
    assert "平均値" in text and not text.endswith("\n")
    signature = hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Gitea-Signature"] == signature
    assert delivery.headers["X-Hub-Signature-256"] == f"sha256={signature}"
    assert delivery.headers["X-Gitea-Event"] == "pull_request"
    assert delivery.headers["X-Gitea-Delivery"] == delivery.id

    payload = json.loads(delivery.body)
    template = json.loads((CONTRACTS / "gitea" / "webhook-pull_request-merged.json").read_text())
    assert list(payload) == list(template)
    assert list(payload["pull_request"]) == list(template["pull_request"])
    assert swagger.definition_errors("PullRequest", payload["pull_request"]) == []
    assert swagger.definition_errors("Repository", payload["repository"]) == []
    pull = payload["pull_request"]
    assert pull["merged"] is True and pull["state"] == "closed"
    assert pull["merge_commit_sha"] == fake_gitea.repos["acme/app"].bare.rev("refs/heads/main")
    assert pull["merged_by"]["login"] == "alice" and payload["sender"]["login"] == "alice"
    assert pull["head"]["ref"] == "fix-average" and payload["repository"]["full_name"] == "acme/app"


def test_gitea_closed_without_merge_and_unsigned(fake_gitea: FakeGitea) -> None:
    pr = fake_gitea.open_pr("acme/app", "fix-average", files=FIX)
    fake_gitea.close_pr("acme/app", pr.number)
    delivery = fake_gitea.webhook("acme/app", pr.number, "closed", secret=None, sender="bob")
    payload = json.loads(delivery.body)
    assert payload["pull_request"]["merged"] is False
    assert (
        payload["pull_request"]["merge_commit_sha"] is None and payload["pull_request"]["merged_by"] is None
    )
    assert (
        delivery.headers["X-Gitea-Signature"] == "" and delivery.headers["X-Hub-Signature-256"] == "sha256="
    )


def test_github_webhook_validates_against_githubs_schema(fake_github: FakeGitHub) -> None:
    schema = json.loads((CONTRACTS / "github" / "webhook-pull_request-closed.schema.json").read_text())
    pr = fake_github.open_pr("acme/app", "fix-average", files=FIX)
    fake_github.merge_pr("acme/app", pr.number, style="squash")
    delivery = fake_github.webhook("acme/app", pr.number, "closed", secret=SECRET)
    payload = json.loads(delivery.body)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(payload)
    ]
    assert errors == []
    assert payload["pull_request"]["merged"] is True
    assert payload["pull_request"]["merge_commit_sha"] == fake_github.repos["acme/app"].bare.rev("main")
    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Hub-Signature-256"] == expected
    assert delivery.headers["X-GitHub-Event"] == "pull_request" and delivery.headers["X-GitHub-Delivery"]


def test_github_comment_and_review_events(fake_github: FakeGitHub) -> None:
    pr = fake_github.open_pr("acme/app", "fix-average", files=FIX)
    comment = json.loads(
        fake_github.webhook(
            "acme/app",
            pr.number,
            "created",
            secret=SECRET,
            event="issue_comment",
            comment="Why?",
            sender="carol",
        ).body
    )
    assert comment["issue"]["pull_request"] and comment["comment"]["body"] == "Why?"
    assert comment["comment"]["user"]["login"] == "carol"
    review = json.loads(
        fake_github.webhook(
            "acme/app",
            pr.number,
            "submitted",
            secret=SECRET,
            event="pull_request_review",
            review_state="approved",
            comment="Ship it",
            sender="dave",
        ).body
    )
    assert review["review"]["state"] == "approved" and review["review"]["user"]["login"] == "dave"
    listed = fake_github.client().list_comments(pr.number)
    assert {(c.author, c.kind) for c in listed} == {("carol", "comment"), ("dave", "review")}


def test_gitlab_merge_hook_keys_and_token(fake_gitlab: FakeGitLab) -> None:
    repo = fake_gitlab.default_repo
    pr = fake_gitlab.open_pr(repo, "fix-average", files=FIX)
    fake_gitlab.merge_pr(repo, pr.number, by="erin")
    delivery = fake_gitlab.webhook(repo, pr.number, "merge", secret=SECRET)
    payload = json.loads(delivery.body)
    template = json.loads((CONTRACTS / "gitlab" / "webhook-merge_request-merged.json").read_text())
    assert set(payload) == set(template)
    assert set(template["object_attributes"]) <= set(payload["object_attributes"])
    attrs = payload["object_attributes"]
    assert (payload["object_kind"], attrs["action"], attrs["state"]) == ("merge_request", "merge", "merged")
    assert (
        attrs["iid"] == pr.number
        and attrs["source_branch"] == "fix-average"
        and attrs["target_branch"] == "main"
    )
    assert attrs["merge_commit_sha"] == fake_gitlab.repos[repo].bare.rev("main")
    assert payload["project"]["path_with_namespace"] == "acme/team/app"
    assert payload["user"]["username"] == "erin"
    assert delivery.headers["X-Gitlab-Token"] == SECRET
    assert delivery.headers["X-Gitlab-Event"] == "Merge Request Hook"
    assert delivery.headers["X-Gitlab-Event-UUID"] == delivery.id

    note = json.loads(
        fake_gitlab.webhook(repo, pr.number, "create", secret=SECRET, event="Note Hook", comment="Nice").body
    )
    assert note["object_kind"] == "note" and note["object_attributes"]["note"] == "Nice"
    assert note["merge_request"]["iid"] == pr.number


def test_deliveries_post_the_exact_bytes(fake_gitea: FakeGitea) -> None:
    """A receiver that checks the signature on the raw body, as Log Center's webhook endpoint must."""
    received: list[bytes] = []

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        received.append(body)
        good = hmac.compare_digest(
            request.headers.get("x-gitea-signature", ""),
            hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        )
        return JSONResponse({"ok": good}, status_code=200 if good else 401)

    app = Starlette(routes=[Route("/api/webhooks/gitea", receive, methods=["POST"])])
    pr = fake_gitea.open_pr("acme/app", "fix-average", files=FIX, title="Ünïcödé ✓")
    delivery = fake_gitea.webhook("acme/app", pr.number, "opened", secret=SECRET)
    with TestClient(app) as client:
        assert delivery.post("/api/webhooks/gitea", client=client).status_code == 200
        assert (
            delivery.with_headers(X_Gitea_Signature="0" * 64)
            .post("/api/webhooks/gitea", client=client)
            .status_code
            == 401
        )
        assert (
            delivery.with_headers(X_Gitea_Signature=None)
            .post("/api/webhooks/gitea", client=client)
            .status_code
            == 401
        )
        tampered = delivery.with_body(delivery.body.replace(b"fix-average", b"fix-averagX"))
        assert tampered.post("/api/webhooks/gitea", client=client).status_code == 401
    assert received[0] == delivery.body


def test_webhook_bodies_read_back_as_pull_requests(
    fake_gitea: FakeGitea, fake_github: FakeGitHub, fake_gitlab: FakeGitLab
) -> None:
    """The clients' parsers read the fakes' webhook bodies: what the webhook endpoints will use."""
    from logcenter.forges import gitea, github, gitlab

    for fake, parse in ((fake_gitea, gitea.pull_request_from), (fake_github, github.pull_request_from)):
        pr = fake.open_pr(fake.default_repo, "fix-average", files=FIX)
        fake.merge_pr(fake.default_repo, pr.number, by="alice")
        body = json.loads(fake.webhook(fake.default_repo, pr.number, "closed", secret=SECRET).body)
        parsed = parse(body["pull_request"])
        assert parsed.merged and parsed.merged_by == "alice" and parsed.head_branch == "fix-average"
        assert parsed.merge_commit_sha == fake.repos[fake.default_repo].bare.rev("main")
    pr = fake_gitlab.open_pr(fake_gitlab.default_repo, "fix-average", files=FIX)
    fake_gitlab.merge_pr(fake_gitlab.default_repo, pr.number, by="alice")
    hook = json.loads(fake_gitlab.webhook(fake_gitlab.default_repo, pr.number, "merge", secret=SECRET).body)
    parsed = gitlab.pull_request_from_hook(hook)
    assert parsed.merged and parsed.merged_by == "alice" and parsed.number == pr.number
    assert parsed.merge_commit_sha == fake_gitlab.repos[fake_gitlab.default_repo].bare.rev("main")
    assert parsed.merged_at is not None


def test_a_configured_hook_is_delivered_when_the_pr_changes(fake_forge: FakeForge) -> None:
    """Like a real forge, the fake sends its webhook when a PR is opened or merged through the API."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> JSONResponse:
        received.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    port = free_port()
    server, thread = serve(app, port, name="hook-receiver")
    try:
        hook = fake_forge.add_hook(f"http://127.0.0.1:{port}/hook", secret=SECRET)
        fake_forge.push(fake_forge.default_repo, "fix-average", FIX, "Fix")
        forge = fake_forge.client()
        pr = forge.create_pull_request(head="fix-average", base="main", title="Fix", body="")
        forge.merge_pull_request(pr.number, style=MergeStyle.MERGE, expected_head_sha=pr.head_sha)
        fake_forge.wait_for_deliveries()
    finally:
        server.should_exit = True
        thread.join(15)
    assert [status for _, status in hook.sent] == [200, 200]
    bodies = [json.loads(body) for _, body in received]
    if fake_forge.kind == "gitlab":
        actions = sorted(b["object_attributes"]["action"] for b in bodies)
        assert actions == ["merge", "open"]
        assert all(h["x-gitlab-token"] == SECRET for h, _ in received)
    else:
        assert sorted(b["action"] for b in bodies) == ["closed", "opened"]
        merged = next(b for b in bodies if b["action"] == "closed")
        assert merged["pull_request"]["merged"] is True
        for headers, body in received:
            expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-hub-signature-256"] == f"sha256={expected}"
