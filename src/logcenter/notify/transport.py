"""Sending one message to one channel: HTTP for the chat services and webhooks, SMTP for email.

Runs outside any database transaction (the delivery job opens none while it waits on the network). A
failure raises `DeliveryFailed` with a message fit for the delivery log: never the URL (it holds the
channel's token) nor the secret.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import orjson

from logcenter.notify import formats, signing
from logcenter.notify.message import Message

TIMEOUT = httpx.Timeout(10.0)
SMTP_TIMEOUT = 20.0


class ChannelKind(StrEnum):
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"
    SLACK = "slack"
    WEBHOOK = "webhook"


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"  # port 587: plain connection upgraded with STARTTLS (refused if not offered)
    TLS = "tls"  # port 465: TLS from the first byte
    NONE = "none"  # a relay on localhost or a trusted network only


class DeliveryFailed(Exception):
    """The channel did not take the message; `str()` is what the delivery log shows."""


@dataclass(slots=True)
class Target:
    """A channel's decrypted settings, read in a short transaction and used after it closed."""

    kind: ChannelKind
    name: str
    url: str | None = None
    secret: str | None = None
    smtp: dict[str, Any] = field(default_factory=dict)
    recipients: list[str] = field(default_factory=list)

    def scrub(self, text: str) -> str:
        """Remove the URL and the secret from an error text before it is stored or logged."""
        for value in (self.url, self.secret):
            if value:
                text = text.replace(value, "***")
        return text[:1000]


def send(target: Target, message: Message, *, delivery_id: int | None = None) -> None:
    """Deliver `message`, or raise DeliveryFailed saying why."""
    try:
        if target.kind is ChannelKind.EMAIL:
            _send_email(target, message)
        else:
            _send_http(target, message, delivery_id)
    except DeliveryFailed as exc:
        raise DeliveryFailed(target.scrub(str(exc))) from None
    except (httpx.HTTPError, OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise DeliveryFailed(target.scrub(detail)) from None


def _send_http(target: Target, message: Message, delivery_id: int | None) -> None:
    if not target.url:
        raise DeliveryFailed("The channel has no URL")
    params: dict[str, str] = {}
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "LogCenter-Notify/1"}
    now = time.time()
    body: dict[str, Any]
    if target.kind is ChannelKind.DINGTALK:
        body = formats.dingtalk(message)
        if target.secret:
            timestamp_ms = int(now * 1000)
            params = {
                "timestamp": str(timestamp_ms),
                "sign": signing.dingtalk_sign(target.secret, timestamp_ms),
            }
    elif target.kind is ChannelKind.WECOM:
        body = formats.wecom(message)
    elif target.kind is ChannelKind.FEISHU:
        body = formats.feishu(message)
        if target.secret:
            timestamp_s = int(now)
            body = {
                "timestamp": str(timestamp_s),
                "sign": signing.feishu_sign(target.secret, timestamp_s),
                **body,
            }
    elif target.kind is ChannelKind.SLACK:
        body = formats.slack(message)
    else:
        body = formats.webhook(message, delivery_id=delivery_id, timestamp=int(now))
        headers["X-LogCenter-Event"] = message.event
        if delivery_id is not None:
            headers["X-LogCenter-Delivery"] = str(delivery_id)
    raw = orjson.dumps(body)
    if target.kind is ChannelKind.WEBHOOK and target.secret:
        headers[signing.WEBHOOK_SIGNATURE_HEADER] = signing.webhook_signature(target.secret, int(now), raw)
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        # Merged into the URL's own query (DingTalk's access_token), which `params=` would replace.
        url = httpx.URL(target.url).copy_merge_params(params) if params else httpx.URL(target.url)
        response = client.post(url, content=raw, headers=headers)
    _check(target.kind, response)


def _check(kind: ChannelKind, response: httpx.Response) -> None:
    """HTTP status first; then the chat services' own answer, which reports errors with a 200."""
    snippet = response.text[:300]
    if not response.is_success:
        raise DeliveryFailed(f"HTTP {response.status_code}: {snippet}")
    if kind is ChannelKind.SLACK:
        if response.text.strip() != "ok":
            raise DeliveryFailed(f"Slack answered {snippet!r}")
        return
    if kind not in (ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.FEISHU):
        return
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryFailed(f"HTTP {response.status_code} with a body that is not JSON: {snippet}") from None
    if not isinstance(answer, dict):
        raise DeliveryFailed(f"Unexpected answer: {snippet}")
    if kind is ChannelKind.FEISHU:
        code = answer.get("code", answer.get("StatusCode", 0))
        text = answer.get("msg", answer.get("StatusMessage", ""))
    else:
        code, text = answer.get("errcode", 0), answer.get("errmsg", "")
    if code not in (0, "0"):
        raise DeliveryFailed(f"{kind.value} refused the message: code {code}: {str(text)[:200]}")


def _send_email(target: Target, message: Message) -> None:
    smtp = target.smtp
    host, port = smtp.get("host"), int(smtp.get("port") or 0)
    if not host or not target.recipients:
        raise DeliveryFailed("The email channel needs an SMTP host and at least one recipient")
    security = SmtpSecurity(smtp.get("security") or SmtpSecurity.STARTTLS)
    sender = smtp.get("from_address") or smtp.get("username") or "logcenter@localhost"
    mail = formats.email(message, sender=sender, recipients=target.recipients)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if security is SmtpSecurity.TLS:
        client = smtplib.SMTP_SSL(host, port or 465, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(host, port or 587, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        if security is SmtpSecurity.STARTTLS:
            if not client.has_extn("starttls"):
                raise DeliveryFailed(f"{host} does not offer STARTTLS; choose security 'tls' or 'none'")
            client.starttls(context=context)
            client.ehlo()
        if smtp.get("username"):
            client.login(smtp["username"], target.secret or "")
        refused = client.send_message(mail)
    if refused:
        raise DeliveryFailed(f"Recipients refused: {', '.join(sorted(refused))}")
