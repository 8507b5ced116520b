"""Each channel's request as its service receives it: format, signature, and errors it answers with a 200.

The signatures are recomputed here from the services' documented recipes, not with Log Center's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logcenter.logs import configure_logging
from logcenter.notify.message import Item, Link, Message
from logcenter.notify.transport import ChannelKind, DeliveryFailed, Target, send
from tests.notify.receivers import Mailbox, Receiver, authenticator, self_signed_cert, serve, smtp_server

HOSTILE = '<script>alert(1)</script> [click](javascript:alert(2)) <!channel> <at user_id="all"></at> **bold**'


def bug_message() -> Message:
    return Message(
        event="new_bug",
        title="New bug: ValueError in shop",
        tone="danger",
        text=f"invalid literal for int(): 'abc'\n{HOSTILE}",
        facts=[("Project", "shop"), ("Status", "NEW"), ("Environment", HOSTILE)],
        links=[
            Link("Open in Log Center", "http://logcenter.example/bugs/7"),
            Link("Pull request #3", "https://git.example/shop/pulls/3"),
        ],
        data={"bug_id": 7, "project": "shop", "status": "NEW"},
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())


def test_dingtalk_markdown_signed_as_dingtalk_documents(receiver: Receiver) -> None:
    secret = "SECabc123"
    url = f"{receiver.url}/robot/send?access_token=tok123"
    before = int(time.time() * 1000)
    send(Target(ChannelKind.DINGTALK, "ding", url=url, secret=secret), bug_message())
    (request,) = receiver.requests
    assert request.path == "/robot/send"
    assert request.query["access_token"] == "tok123"
    timestamp = request.query["timestamp"]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert request.query["sign"] == expected  # parse_qs undid the URL encoding
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "New bug: ValueError in shop"
    text = body["markdown"]["text"]
    assert "[Open in Log Center](http://logcenter.example/bugs/7)" in text
    assert "[Pull request \\#3](https://git.example/shop/pulls/3)" in text
    # The report's markup arrives as text: no tag, no link of its own, no bold.
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[click](javascript" not in text and "\\[click\\]\\(javascript" in text
    assert "**bold**" not in text


def test_dingtalk_error_code_in_a_200_is_a_failure(receiver: Receiver) -> None:
    receiver.default = (200, '{"errcode": 310000, "errmsg": "sign not match"}')
    url = f"{receiver.url}/robot/send?access_token=tok-secret-value"
    with pytest.raises(DeliveryFailed) as failed:
        send(Target(ChannelKind.DINGTALK, "ding", url=url, secret="SECx"), bug_message())
    assert "310000" in str(failed.value) and "sign not match" in str(failed.value)
    assert "tok-secret-value" not in str(failed.value)


def test_wecom_markdown(receiver: Receiver) -> None:
    url = f"{receiver.url}/cgi-bin/webhook/send?key=abc-key"
    send(Target(ChannelKind.WECOM, "wecom", url=url), bug_message())
    (request,) = receiver.requests
    assert request.query == {"key": "abc-key"}
    body = request.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith('## <font color="warning">New bug: ValueError in shop</font>')
    assert "**Project**: shop" in content
    assert "[Open in Log Center](http://logcenter.example/bugs/7)" in content
    assert "<at" not in content and "<script>" not in content


def test_wecom_long_message_stays_under_its_limit(receiver: Receiver) -> None:
    message = bug_message()
    message.text = "错误" * 3000
    message.items = [Item(f"bug {i} 很长的标题" * 5, f"http://x/bugs/{i}") for i in range(100)]
    send(Target(ChannelKind.WECOM, "wecom", url=f"{receiver.url}/send?key=k"), message)
    content = receiver.requests[0].json()["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert "New bug: ValueError in shop" in content


def test_feishu_card_with_signature(receiver: Receiver) -> None:
    receiver.default = (200, '{"code": 0, "msg": "success", "data": {}}')
    secret = "feishu-secret"
    before = int(time.time())
    send(
        Target(ChannelKind.FEISHU, "lark", url=f"{receiver.url}/open-apis/bot/v2/hook/abc", secret=secret),
        bug_message(),
    )
    body = receiver.requests[0].json()
    timestamp = body["timestamp"]
    assert isinstance(timestamp, str) and before <= int(timestamp) <= int(time.time())
    key = f"{timestamp}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    card = body["card"]
    assert body["msg_type"] == "interactive"
    assert card["header"]["title"] == {"tag": "plain_text", "content": "New bug: ValueError in shop"}
    assert card["header"]["template"] == "red"
    markdown = card["elements"][0]["text"]
    assert markdown["tag"] == "lark_md"
    assert "<at" not in markdown["content"]
    buttons = card["elements"][1]["actions"]
    assert [b["url"] for b in buttons] == [
        "http://logcenter.example/bugs/7",
        "https://git.example/shop/pulls/3",
    ]


def test_feishu_error_answer(receiver: Receiver) -> None:
    receiver.default = (200, '{"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}')
    with pytest.raises(DeliveryFailed, match="19021"):
        send(Target(ChannelKind.FEISHU, "lark", url=f"{receiver.url}/hook/x", secret="s"), bug_message())


def test_slack_blocks_escape_mentions(receiver: Receiver) -> None:
    receiver.default = (200, "ok")
    send(Target(ChannelKind.SLACK, "slack", url=f"{receiver.url}/services/T0/B0/XYZ"), bug_message())
    body = receiver.requests[0].json()
    assert "New bug: ValueError in shop" in body["text"]
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    raw = receiver.requests[0].body.decode()
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw
    assert [e["url"] for e in body["blocks"][3]["elements"]][0] == "http://logcenter.example/bugs/7"


def test_slack_refusal(receiver: Receiver) -> None:
    receiver.default = (404, "no_service")
    with pytest.raises(DeliveryFailed, match="HTTP 404: no_service"):
        send(Target(ChannelKind.SLACK, "slack", url=f"{receiver.url}/services/x"), bug_message())


def test_webhook_json_signed_with_hmac_sha256(receiver: Receiver) -> None:
    receiver.default = (204, "")
    secret = "whsec-123"
    send(
        Target(ChannelKind.WEBHOOK, "hook", url=f"{receiver.url}/hook", secret=secret),
        bug_message(),
        delivery_id=41,
    )
    request = receiver.requests[0]
    header = request.headers["X-LogCenter-Signature"]
    timestamp, _, mac = header.partition(",")
    assert timestamp.startswith("t=") and mac.startswith("v1=")
    expected = hmac.new(
        secret.encode(), f"{timestamp[2:]}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(mac[3:], expected)
    assert request.headers["X-LogCenter-Event"] == "new_bug"
    assert request.headers["X-LogCenter-Delivery"] == "41"
    body = request.json()
    assert body["event"] == "new_bug" and body["delivery_id"] == 41
    assert body["data"] == {"bug_id": 7, "project": "shop", "status": "NEW"}
    assert body["text"].endswith(HOSTILE)  # JSON carries the text as it is; the receiver decides


def test_unreachable_receiver_is_a_failure_without_the_url() -> None:
    url = "http://127.0.0.1:9/hook?token=very-secret-token"
    with pytest.raises(DeliveryFailed) as failed:
        send(Target(ChannelKind.WEBHOOK, "hook", url=url), bug_message())
    assert "ConnectError" in str(failed.value)
    assert "very-secret-token" not in str(failed.value)


def test_email_through_a_real_smtp_server_with_login() -> None:
    mailbox = Mailbox()
    server = smtp_server(
        mailbox, authenticator=authenticator("alerts", "pw-123", mailbox), auth_require_tls=False
    )
    try:
        target = Target(
            ChannelKind.EMAIL,
            "mail",
            secret="pw-123",
            smtp={"host": "127.0.0.1", "port": server.port, "security": "none", "username": "alerts",
                  "from_address": "logcenter@example.org"},
            recipients=["dev@example.org", "ops@example.org"],
        )  # fmt: skip
        send(target, bug_message())
    finally:
        server.stop()
    assert mailbox.logins == ["alerts"]
    ((sender, rcpts, mail),) = mailbox.messages
    assert sender == "logcenter@example.org"
    assert rcpts == ["dev@example.org", "ops@example.org"]
    assert mail["Subject"] == "[Log Center] New bug: ValueError in shop"
    text = mail.get_body(("plain",)).get_content()
    assert "Project: shop" in text and "http://logcenter.example/bugs/7" in text
    page = mail.get_body(("html",)).get_content()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert '<a href="https://git.example/shop/pulls/3">Pull request #3</a>' in page


def test_email_starttls_verifies_the_server_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    server = smtp_server(
        mailbox, tls_context=context, require_starttls=True, authenticator=authenticator("u", "p", mailbox)
    )
    smtp = {"host": "127.0.0.1", "port": server.port, "security": "starttls", "username": "u"}
    try:
        # Not trusted yet: the delivery fails instead of sending the password to an unverified server.
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            send(
                Target(ChannelKind.EMAIL, "mail", secret="p", smtp=smtp, recipients=["a@example.org"]),
                bug_message(),
            )
        assert mailbox.logins == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        send(
            Target(ChannelKind.EMAIL, "mail", secret="p", smtp=smtp, recipients=["a@example.org"]),
            bug_message(),
        )
    finally:
        server.stop()
    assert mailbox.logins == ["u"]
    assert len(mailbox.messages) == 1


def test_email_wrong_password_is_a_failure_naming_the_cause() -> None:
    mailbox = Mailbox()
    server = smtp_server(mailbox, authenticator=authenticator("u", "right", mailbox), auth_require_tls=False)
    smtp = {"host": "127.0.0.1", "port": server.port, "security": "none", "username": "u"}
    try:
        with pytest.raises(DeliveryFailed, match="SMTPAuthenticationError") as failed:
            send(
                Target(ChannelKind.EMAIL, "mail", secret="wrong-pw", smtp=smtp, recipients=["a@example.org"]),
                bug_message(),
            )
    finally:
        server.stop()
    assert "wrong-pw" not in str(failed.value)
    assert mailbox.messages == []


def test_the_docs_verification_example_accepts_a_real_delivery(receiver: Receiver) -> None:
    """docs/notifications.md's receiver code, run on what Log Center sent (and on a tampered copy)."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    (code,) = [c for c in re.findall(r"```python\n(.*?)```", doc, re.DOTALL) if "def verify" in c]
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 (our own documentation)
    verify = namespace["verify"]
    receiver.default = (200, "")
    send(
        Target(ChannelKind.WEBHOOK, "hook", url=f"{receiver.url}/h", secret="k3y"),
        bug_message(),
        delivery_id=1,
    )
    request = receiver.requests[0]
    header = request.headers["X-LogCenter-Signature"]
    assert verify("k3y", header, request.body) is True  # type: ignore[operator]
    assert verify("k3y", header, request.body.replace(b"shop", b"shap")) is False  # type: ignore[operator]
    assert verify("other", header, request.body) is False  # type: ignore[operator]


def test_a_debug_log_never_holds_a_channel_s_url_token(receiver: Receiver, caplog) -> None:
    # With LOGCENTER_LOG_LEVEL=debug, httpx logged each request's URL: DingTalk's access_token, a Slack or
    # Feishu hook's path, a WeCom key. The log keeps the host only.
    configure_logging("debug")
    caplog.set_level(logging.DEBUG)
    for kind, url in (
        (ChannelKind.DINGTALK, f"{receiver.url}/robot/send?access_token=tok-dingtalk-123"),
        (ChannelKind.WECOM, f"{receiver.url}/cgi-bin/webhook/send?key=tokWecomKey123"),
    ):
        send(Target(kind, "x", url=url, secret="SECsign456"), bug_message())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request: POST" in logged and receiver.url in logged  # still says where it went
    for secret in ("tok-dingtalk-123", "tokWecomKey123", "SECsign456", "/robot/send", "/cgi-bin/"):
        assert secret not in logged
