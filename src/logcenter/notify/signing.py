"""The signatures the chat services check, and the one Log Center's generic webhook sends.

DingTalk custom robot ("加签"): HMAC-SHA256 keyed with the secret over "<timestamp ms>\\n<secret>", Base64,
sent URL-encoded as the `sign` query parameter beside `timestamp`.
Feishu / Lark custom bot ("签名校验"): HMAC-SHA256 keyed with "<timestamp s>\\n<secret>" over an empty
message, Base64, sent as `sign` beside `timestamp` in the JSON body.
Generic webhook: HMAC-SHA256 keyed with the secret over "<timestamp>.<raw body>", hex, in the
`X-LogCenter-Signature` header as `t=<timestamp>,v1=<hex>` (the timestamp lets receivers refuse replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query value before URL encoding (the HTTP client encodes query values)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


WEBHOOK_SIGNATURE_HEADER = "X-LogCenter-Signature"


def webhook_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """The header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_s},v1={mac}"


def verify_webhook_signature(secret: str, header: str, body: bytes) -> bool:
    """For receivers written in Python (and the docs): constant-time check of the header against the body."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), header)
