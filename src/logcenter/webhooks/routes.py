"""The seed's webhook paths: /api/webhooks/gitea, /github, /gitlab and /deployment (docs/forges-setup.md).

They take the raw body (signatures are over its exact bytes) and no bearer token: the forge or CI proves
itself with the webhook secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from logcenter.errors import PayloadTooLarge
from logcenter.forges.base import ForgeKind
from logcenter.webhooks import deployment as deployments
from logcenter.webhooks import service
from logcenter.webhooks.schemas import DeploymentAnswer, WebhookAnswer

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB, but a PR event is tens of KB

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not a JSON object"},
    401: {"description": "Missing or invalid signature: nothing changed"},
    403: {"description": "No webhook secret configured: the endpoint refuses"},
    413: {"description": "Body too large"},
    422: {"description": "A field is invalid (a branch name holding a NUL character)"},
}


async def _raw(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"Webhook body over {MAX_WEBHOOK_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"Webhook body over {MAX_WEBHOOK_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _forge(kind: ForgeKind, request: Request) -> WebhookAnswer:
    raw = await _raw(request)
    return await run_in_threadpool(
        service.receive_forge,
        request.app.state.session_factory,
        request.app.state.settings,
        kind,
        headers=request.headers,
        raw=raw,
    )


@router.post(
    "/gitea", response_model=WebhookAnswer, responses=_ERRORS, summary="Gitea webhook (X-Gitea-Signature)"
)
async def gitea(request: Request) -> WebhookAnswer:
    """Pull request merged / closed / reopened, comments and reviews, signed with the webhook secret."""
    return await _forge(ForgeKind.GITEA, request)


@router.post(
    "/github", response_model=WebhookAnswer, responses=_ERRORS, summary="GitHub webhook (X-Hub-Signature-256)"
)
async def github(request: Request) -> WebhookAnswer:
    """pull_request, issue_comment, pull_request_review and pull_request_review_comment events."""
    return await _forge(ForgeKind.GITHUB, request)


@router.post(
    "/gitlab", response_model=WebhookAnswer, responses=_ERRORS, summary="GitLab webhook (X-Gitlab-Token)"
)
async def gitlab(request: Request) -> WebhookAnswer:
    """Merge Request Hook and Note Hook events; X-Gitlab-Token must equal the secret."""
    return await _forge(ForgeKind.GITLAB, request)


@router.post(
    "/deployment",
    response_model=DeploymentAnswer,
    responses={**_ERRORS, 422: {"description": "A field is missing or invalid"}},
    summary="CI deployment notice (X-Secret or X-Logcenter-Signature)",
)
async def deployment(request: Request) -> DeploymentAnswer:
    """`{"project_id", "status", "commit", "environment"?, "version"?, "deployed_at"?}`: on success, each
    MERGED bug whose merge commit the deployed commit contains becomes DEPLOYED; the answer lists them and
    says why the others were left."""
    raw = await _raw(request)
    return await run_in_threadpool(
        deployments.receive_deployment,
        request.app.state.session_factory,
        request.app.state.settings,
        headers=request.headers,
        raw=raw,
    )
