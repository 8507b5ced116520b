"""Signatures are checked on the exact bytes Gitea sent: its 2-space indented JSON, non-ASCII text and all."""

from __future__ import annotations

import json
from urllib.parse import quote

from logcenter.bugs.models import BugStatus
from logcenter.config import Settings
from logcenter.main import create_app
from tests.webhooks import payloads
from tests.webhooks.conftest import SECRET, forge_project, post, reload, review_bug
from tests.webhooks.payloads import Delivery, gitea_delivery, gitea_pr, hmac_hex

# shared/forge-contracts/gitea/README.md: secret "test-secret" over the 12918 bytes of the merged sample.
VECTOR = "203ccf03a2b1eacaf262f5985770c180e2ba140777891aeea13916487d721060"


def test_the_captured_gitea_body_verifies_with_the_documented_test_vector(client, session, admin_headers):
    raw = (payloads.CONTRACTS / "gitea" / "webhook-pull_request-merged.json").read_bytes()
    assert len(raw) == 12918
    bug = review_bug(session, forge_project(session, "app", "logcenter/app"), pr=7)
    response = client.put(
        "/api/v1/projects/app", json={"webhook_secret": "test-secret"}, headers=admin_headers
    )
    assert response.status_code == 200
    headers = {
        "content-type": "application/json",
        "x-gitea-event": "pull_request",
        "x-gitea-delivery": "5f1c7a7e-2b0f-4c1e-9d8a-0c1d2e3f4a5b",
        "x-gitea-signature": VECTOR,
        "x-hub-signature-256": f"sha256={VECTOR}",
    }
    response = client.post("/api/webhooks/gitea", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    bug = reload(session, bug)
    assert bug.status == BugStatus.MERGED
    assert bug.merge_commit_sha == "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
    assert bug.merged_by == "alice"


def test_indented_non_ascii_body_is_verified_on_its_raw_bytes(client, session):
    bug = review_bug(session, forge_project(session, "shop", "acme/shop"))
    body = gitea_pr(
        "closed", repo="acme/shop", number=7, sender="zoë", title="修复: naïve «datetime» — ünïcode"
    )
    raw = json.dumps(body, indent=2, ensure_ascii=False).encode()
    assert b'\n  "action"' in raw and "修复".encode() in raw
    delivery = gitea_delivery(body, secret=SECRET, raw=raw)
    # The same JSON re-serialised (compact, ASCII-escaped) no longer matches the signature: what is checked is
    # the bytes received, not a re-encoding of the parsed body.
    reencoded = Delivery(json.dumps(body).encode(), delivery.headers)
    assert post(client, "/api/webhooks/gitea", reencoded).status_code == 401
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW
    response = post(client, "/api/webhooks/gitea", delivery)
    assert response.status_code == 200, response.text
    bug = reload(session, bug)
    assert bug.status == BugStatus.FAILED
    assert bug.failure_reason == "PR #7 closed without merging by zoë"


def test_the_seeds_merged_action_is_accepted_too(client, session):
    bug = review_bug(session, forge_project(session, "rtc_backend", "airlabs/rtc_backend"), pr=45)
    seed = {  # the seed plan's appendix B sample
        "action": "merged",
        "number": 45,
        "pull_request": {
            "id": 45,
            "number": 45,
            "title": "fix: auto repair bugs #123",
            "head": {"ref": "fix/auto-20260225-1430"},
            "base": {"ref": "main"},
            "merged": True,
            "merged_at": "2026-02-25T15:30:00Z",
        },
        "repository": {"name": "rtc_backend", "full_name": "airlabs/rtc_backend"},
    }
    response = post(client, "/api/webhooks/gitea", gitea_delivery(seed, secret=SECRET))
    assert response.status_code == 200, response.text
    bug = reload(session, bug)
    assert bug.status == BugStatus.MERGED
    assert bug.merged_at.isoformat().startswith("2026-02-25T15:30")


def test_a_form_encoded_gitea_hook_is_verified_on_the_json_it_carries(client, session):
    bug = review_bug(session, forge_project(session, "shop", "acme/shop"))
    raw_json = json.dumps(gitea_pr("closed", repo="acme/shop", number=7), indent=2).encode()
    signature = hmac_hex(SECRET, raw_json)
    form = b"payload=" + quote(raw_json.decode(), safe="").encode()
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-gitea-event": "pull_request",
        "x-gitea-delivery": "d-1",
        "x-gitea-signature": signature,
    }
    response = client.post("/api/webhooks/gitea", content=form, headers=headers)
    assert response.status_code == 200, response.text
    assert reload(session, bug).status == BugStatus.FAILED


def test_without_any_secret_configured_the_endpoints_refuse(db, session, tmp_path):
    settings = Settings(
        database_url=db.url, database_pool_size=2, data_dir=tmp_path / "data", count_interval=0
    )
    bug = review_bug(session, forge_project(session, "shop", "acme/shop"))
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings)) as client:
        delivery = gitea_delivery(gitea_pr("closed", repo="acme/shop", number=7), secret="anything")
        response = post(client, "/api/webhooks/gitea", delivery)
        assert response.status_code == 403, response.text
        assert "LOGCENTER_WEBHOOK_SECRET" in response.json()["detail"]
        deploy = client.post(
            "/api/webhooks/deployment",
            json={"project_id": "shop", "status": "success", "commit": "a" * 40},
            headers={"X-Secret": ""},
        )
        assert deploy.status_code == 403
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW
