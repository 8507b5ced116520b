"""Webhook authentication, on the raw body bytes and in constant time (shared/forge-contracts/*/README.md).

Gitea: `X-Gitea-Signature` = hex HMAC-SHA256(secret, body) (also sent as `X-Hub-Signature-256: sha256=…`);
GitHub: `X-Hub-Signature-256: sha256=<hex>`; GitLab: `X-Gitlab-Token` is the secret itself; the deployment
call: the seed's `X-Secret: <secret>` or `X-Logcenter-Signature: sha256=<hex HMAC of the body>`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from logcenter.forges.base import ForgeKind


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def _prefixed(value: str | None, prefix: str = "sha256=") -> str | None:
    if value is None or not value.lower().startswith(prefix):
        return None
    return value[len(prefix) :]


def verify(kind: ForgeKind | str, headers: Mapping[str, str], signed: bytes, secret: str) -> bool:
    """Whether `headers` prove the sender knows `secret` for these bytes (`signed`: the bytes the forge
    signed, which is the raw body except for Gitea's form-encoded hooks)."""
    if not secret:
        return False
    if kind == ForgeKind.GITEA:
        given = headers.get("x-gitea-signature") or _prefixed(headers.get("x-hub-signature-256"))
        return bool(given) and _same(given or "", hmac_hex(secret, signed))
    if kind == ForgeKind.GITHUB:
        given = _prefixed(headers.get("x-hub-signature-256"))
        return bool(given) and _same(given or "", hmac_hex(secret, signed))
    if kind == ForgeKind.GITLAB:
        token = headers.get("x-gitlab-token")
        return token is not None and hmac.compare_digest(token.encode(), secret.encode())
    # The deployment call.
    token = headers.get("x-secret")
    if token is not None:
        return hmac.compare_digest(token.encode(), secret.encode())
    given = _prefixed(headers.get("x-logcenter-signature"))
    return bool(given) and _same(given or "", hmac_hex(secret, signed))


def has_credentials(kind: ForgeKind | str, headers: Mapping[str, str]) -> bool:
    names: dict[str, tuple[str, ...]] = {
        ForgeKind.GITEA: ("x-gitea-signature", "x-hub-signature-256"),
        ForgeKind.GITHUB: ("x-hub-signature-256",),
        ForgeKind.GITLAB: ("x-gitlab-token",),
    }
    return any(headers.get(name) for name in names.get(str(kind), ("x-secret", "x-logcenter-signature")))


DELIVERY_HEADERS: dict[str, tuple[str, ...]] = {
    ForgeKind.GITEA: ("x-gitea-delivery", "x-gogs-delivery"),
    ForgeKind.GITHUB: ("x-github-delivery",),
    # Idempotency-Key is stable across GitLab's retries of one delivery; the event UUID is per event.
    ForgeKind.GITLAB: ("idempotency-key", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid"),
}


def delivery_id(kind: ForgeKind | str, headers: Mapping[str, str]) -> str | None:
    for name in DELIVERY_HEADERS.get(str(kind), ("idempotency-key", "x-logcenter-delivery")):
        value = headers.get(name)
        if value and value.strip():
            return value.strip()[:200]
    return None


EVENT_HEADERS = {
    ForgeKind.GITEA: ("x-gitea-event", "x-gogs-event", "x-github-event"),
    ForgeKind.GITHUB: ("x-github-event",),
    ForgeKind.GITLAB: ("x-gitlab-event",),
}


def event_name(kind: ForgeKind, headers: Mapping[str, str]) -> str:
    for name in EVENT_HEADERS[kind]:
        value = headers.get(name)
        if value:
            return value.strip()[:100]
    return ""
