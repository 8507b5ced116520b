"""Webhook deliveries from the fake forges: real-shaped bodies, the forge's headers and signatures, posted to
a URL (say the live Log Center server's /api/webhooks/gitea) or handed to a TestClient."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import Any

import httpx


def hmac_hex(secret: str, body: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One webhook request: the exact bytes and headers a forge would send."""

    headers: dict[str, str]
    body: bytes
    id: str

    def post(self, url: str, *, client: Any = None, timeout: float = 10) -> httpx.Response:
        """POST it to `url` (a full URL), or through `client` (an httpx.Client or Starlette TestClient; `url`
        may then be a path)."""
        if client is not None:
            return client.post(url, content=self.body, headers=self.headers)
        return httpx.post(url, content=self.body, headers=self.headers, timeout=timeout)

    def with_headers(self, **changes: str | None) -> Delivery:
        """A copy with headers replaced (`None` removes one): forged or missing signatures for tests. Header
        names use underscores for dashes: `with_headers(X_Gitea_Signature="00")`."""
        headers = dict(self.headers)
        for key, value in changes.items():
            name = key.replace("_", "-")
            for existing in [h for h in headers if h.lower() == name.lower()]:
                del headers[existing]
            if value is not None:
                headers[name] = value
        return replace(self, headers=headers)

    def with_body(self, body: bytes) -> Delivery:
        """Same headers (and signature), different bytes: a tampered delivery."""
        return replace(self, body=body)
