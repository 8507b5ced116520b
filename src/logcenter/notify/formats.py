"""Each channel's own message format, built from a `Message`.

Pure functions: a dict (JSON body) or, for email, an `EmailMessage`. Text from reports is escaped for the
markup of each service, so a report cannot add links, mentions (`<at>`, `<!channel>`) or formatting of its
own: Markdown escapes and HTML entities for DingTalk, WeCom and Feishu, entities and code blocks for Slack,
`html.escape` for the email's HTML part.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from typing import Any

from logcenter.notify.message import Message

WECOM_MAX_BYTES = 4096  # WeCom refuses markdown content above this
SLACK_MAX_SECTION = 2900  # Slack: 3,000 characters per section text
SLACK_MAX_FIELDS = 10

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")

WECOM_COLOURS = {"danger": "warning", "warning": "warning", "good": "info", "info": "comment"}
FEISHU_TEMPLATES = {"danger": "red", "warning": "orange", "good": "green", "info": "blue"}
SLACK_EMOJI = {"danger": ":red_circle:", "warning": ":large_orange_circle:", "good": ":large_green_circle:"}


def md(value: str) -> str:
    """Untrusted text as literal Markdown: entities for tags, backslashes for Markdown's characters."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def md_url(url: str) -> str:
    """A URL inside (...): parentheses and spaces would end it early."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _markdown_lines(message: Message) -> list[str]:
    """The body shared by DingTalk, WeCom and Feishu: facts, the quoted text, digest items, links."""
    lines = [f"**{md(label)}**: {md(value)}" for label, value in message.facts]
    if message.text:
        lines.append("")
        lines.extend(f"> {md(line) or ' '}" for line in message.text.splitlines())
    if message.items:
        lines.append("")
        for item in message.items:
            lines.append(f"- [{md(item.text)}]({md_url(item.url)})" if item.url else f"- {md(item.text)}")
    if message.links:
        lines.append("")
        lines.append(" | ".join(f"[{md(link.label)}]({md_url(link.url)})" for link in message.links))
    return lines


def dingtalk(message: Message) -> dict[str, Any]:
    """DingTalk custom robot, `msgtype` markdown. Its renderer needs blank lines between lines."""
    body = "\n\n".join(line for line in _markdown_lines(message) if line)
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.title[:100], "text": f"#### {md(message.title)}\n\n{body}"},
    }


def wecom(message: Message) -> dict[str, Any]:
    """WeCom group robot, `msgtype` markdown, at most 4,096 bytes (the quoted text goes first if longer)."""
    colour = WECOM_COLOURS.get(message.tone, "comment")
    head = f'## <font color="{colour}">{md(message.title)}</font>'
    content = "\n".join([head, *_markdown_lines(message)])
    if len(content.encode()) > WECOM_MAX_BYTES:
        content = "\n".join([head, *_markdown_lines(_without_text(message))])
    if len(content.encode()) > WECOM_MAX_BYTES:
        content = content.encode()[: WECOM_MAX_BYTES - 3].decode(errors="ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


def _without_text(message: Message) -> Message:
    return Message(
        event=message.event,
        title=message.title,
        tone=message.tone,
        facts=message.facts,
        links=message.links,
        items=message.items[:20],
        data=message.data,
    )


def feishu(message: Message) -> dict[str, Any]:
    """Feishu / Lark custom bot: an interactive card (header in the event's colour, lark_md, buttons)."""
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(_markdown_lines(_no_links(message)))}}
    ]
    if message.links:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": link.label},
                        "type": "primary" if i == 0 else "default",
                        "url": link.url,
                    }
                    for i, link in enumerate(message.links)
                ],
            }
        )
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": message.title},
                "template": FEISHU_TEMPLATES.get(message.tone, "blue"),
            },
            "elements": elements,
        },
    }


def _no_links(message: Message) -> Message:
    return Message(
        event=message.event,
        title=message.title,
        tone=message.tone,
        text=message.text,
        facts=message.facts,
        items=message.items,
        data=message.data,
    )


def slack_escape(value: str) -> str:
    """Slack's three control characters; with them escaped no `<!channel>` or `<url|link>` gets through."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(value: str) -> str:
    # Inside ``` ... ``` Slack applies no formatting; only a closing fence could end the block early.
    return "```" + slack_escape(value.replace("`", "ˋ"))[:SLACK_MAX_SECTION] + "```"


def slack(message: Message) -> dict[str, Any]:
    """Slack incoming webhook: Block Kit (header, fields, the quoted text, buttons) and a plain fallback."""
    emoji = SLACK_EMOJI.get(message.tone, ":information_source:")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150], "emoji": True}}
    ]
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_escape(label)}*\n{slack_escape(value)}"[:2000]}
                    for label, value in message.facts[:SLACK_MAX_FIELDS]
                ],
            }
        )
    if message.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_code(message.text)}})
    if message.items:
        lines = [
            f"• <{item.url}|{slack_escape(item.text)}>" if item.url else f"• {slack_escape(item.text)}"
            for item in message.items
        ]
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:SLACK_MAX_SECTION]}}
        )
    if message.links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": link.label[:75]},
                        "url": link.url,
                        **({"style": "primary"} if i == 0 else {}),
                    }
                    for i, link in enumerate(message.links)
                ],
            }
        )
    return {"text": f"{emoji} {slack_escape(message.title)}", "blocks": blocks}


def webhook(message: Message, *, delivery_id: int | None, timestamp: int) -> dict[str, Any]:
    """The generic JSON webhook: the event, its fields, and the message as other formats show it."""
    return {
        "event": message.event,
        "delivery_id": delivery_id,
        "timestamp": timestamp,
        "title": message.title,
        "text": message.text,
        "facts": [{"label": label, "value": value} for label, value in message.facts],
        "links": [{"label": link.label, "url": link.url} for link in message.links],
        "items": [{"text": item.text, "url": item.url} for item in message.items],
        "data": message.data,
    }


def email(message: Message, *, sender: str, recipients: list[str]) -> EmailMessage:
    """A multipart email: plain text, and an HTML alternative with the same content, every value escaped."""
    mail = EmailMessage()
    mail["Subject"] = f"[Log Center] {message.title}"
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    text = [message.title, ""]
    text += [f"{label}: {value}" for label, value in message.facts]
    if message.text:
        text += ["", *(f"    {line}" for line in message.text.splitlines())]
    if message.items:
        text += ["", *(f"- {item.text}" + (f" <{item.url}>" if item.url else "") for item in message.items)]
    text += ["", *(f"{link.label}: {link.url}" for link in message.links)]
    mail.set_content("\n".join(text))
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in message.facts
    )
    parts = [f"<h2>{e(message.title)}</h2>", f"<table>{rows}</table>"]
    if message.text:
        parts.append(
            f'<pre style="background:#f6f8fa;padding:8px;white-space:pre-wrap">{e(message.text)}</pre>'
        )
    if message.items:
        parts.append(
            "<ul>"
            + "".join(
                f'<li><a href="{e(item.url)}">{e(item.text)}</a></li>'
                if item.url
                else f"<li>{e(item.text)}</li>"
                for item in message.items
            )
            + "</ul>"
        )
    parts.append(" | ".join(f'<a href="{e(link.url)}">{e(link.label)}</a>' for link in message.links))
    mail.add_alternative(f"<html><body>{''.join(parts)}</body></html>", subtype="html")
    return mail
