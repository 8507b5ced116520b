"""The notification pages in a real browser: an admin sets up a channel and tests it, sees a failing channel
in red; a user reads the message centre, whose unread count is in the header."""

from __future__ import annotations

import re
from typing import Any

import httpx

from logcenter.config import Settings
from tests.conftest import Database, LiveServer
from tests.factories import report_payload
from tests.notify.receivers import Receiver
from tests.notify.test_delivery import run_jobs
from tests.web.conftest import login, screenshot, users  # noqa: F401 (fixtures)


def test_admin_sets_up_and_tests_a_channel_and_sees_it_fail_in_red(
    login: Any,  # noqa: F811
    users: dict[str, str],  # noqa: F811
    receiver: Receiver,
) -> None:
    receiver.default = (200, "ok")
    page = login("ada")
    page.click("a[href='/notifications']")
    page.fill("input[name=name]", "team <b>slack</b>")
    page.select_option("select[name=kind]", "slack")
    page.fill("input[name=url]", f"{receiver.url}/services/T/B/secret-path")
    page.click("form.channel-form button[type=submit]")
    row = page.locator("table.channels tbody tr").first
    assert row.locator("a").inner_text() == "team <b>slack</b>"  # escaped, shown as text
    assert "secret-path" not in page.content()
    row.locator("text=Send test message").click()
    assert "✔" in page.locator("#test-result").inner_text()
    assert "Test message from Log Center" in receiver.requests[0].json()["text"]

    receiver.default = (500, "down")
    for _ in range(5):
        page.locator("table.channels tbody tr").first.locator("text=Send test message").click()
    assert "HTTP 500: down" in page.locator("#test-result").inner_text()
    failing = page.locator("table.channels tbody tr.failing")
    assert failing.count() == 1 and "failing" in failing.inner_text()
    assert page.locator("tr.failing td").first.evaluate("e => getComputedStyle(e).backgroundColor") == (
        "rgb(253, 236, 234)"
    )
    screenshot(page, "notifications")
    # Events by name, not by identifier (the list and the channel's page).
    assert "New bug, Regression, Fix ready for review" in failing.inner_text()
    assert "new_bug" not in failing.inner_text()
    failing.locator("a").click()
    assert page.locator("table.deliveries tbody tr").count() == 6
    assert page.locator("table.deliveries tbody tr.failed").count() == 5
    # The channel's facts are a two-column list, like a project's (labels beside their values).
    facts = page.locator("section.card dl.kv")
    label, value = facts.locator("dt").first.bounding_box(), facts.locator("dd").first.bounding_box()
    assert label["y"] == value["y"] and label["x"] < value["x"]
    assert "New bug, Regression" in facts.inner_text() and "new_bug" not in facts.inner_text()
    first = page.locator("table.deliveries tbody tr.failed").first.locator("td")
    assert (first.nth(1).inner_text(), first.nth(3).inner_text()) == ("Test message", "Failed")
    screenshot(page, "notification_channel")


def test_the_message_centre_counts_and_marks_read(
    login: Any,  # noqa: F811
    users: dict[str, str],  # noqa: F811
    api: httpx.Client,
    db: Database,
    settings: Settings,
) -> None:
    page = login("rita")
    assert page.locator("#inbox-link .badge").count() == 0
    for kind in ("ValueError", "KeyError"):
        payload = report_payload(
            project_id="shop", error={"type": kind, "message": "<img src=x onerror=alert(1)>"}
        )
        assert api.post("/api/v1/logs/report", json=payload).status_code == 200
    run_jobs(db, settings)
    page.reload()
    page.wait_for_selector("#inbox-link .badge")
    assert page.locator("#inbox-link .badge").inner_text() == "2"
    page.click("#inbox-link")
    rows = page.locator("table.inbox tbody tr.unread")
    assert rows.count() == 2
    assert rows.first.locator("a").inner_text() == "New bug: KeyError in shop"
    assert "<img src=x" in rows.first.inner_text()  # the report's markup shown as text
    screenshot(page, "inbox")
    rows.first.locator("text=Mark read").click()
    assert page.locator("table.inbox tbody tr.unread").count() == 1
    page.click("#read-all")
    assert page.locator("table.inbox tbody tr.unread").count() == 0
    page.wait_for_load_state("networkidle")
    assert page.locator("#inbox-link .badge").count() == 0
    assert re.search(r"/inbox$", page.url)


def test_the_pages_in_chinese(
    login: Any,  # noqa: F811
    users: dict[str, str],  # noqa: F811
    api: httpx.Client,
    db: Database,
    settings: Settings,
) -> None:
    page = login("ada", locale="zh-CN")
    assert page.locator("a[href='/notifications']").inner_text() == "通知"
    assert page.locator("#inbox-link").inner_text().strip() == "消息中心"
    page.click("a[href='/notifications']")
    assert page.locator("h2", has_text="新建通知渠道").count() == 1
    assert "修复待审核" in page.locator("fieldset").nth(1).inner_text()
    page.fill("input[name=name]", "团队")
    page.select_option("select[name=kind]", "slack")
    page.fill("input[name=url]", "https://hooks.slack.com/services/T/B/x")
    page.click("form.channel-form button[type=submit]")
    row = page.locator("table.channels tbody tr").first
    assert "新缺陷, 回归" in row.inner_text() and "new_bug" not in row.inner_text()
    # The message centre's titles in the reader's language too (the report's own text stays as it was).
    payload = report_payload(project_id="shop", error={"type": "KeyError", "message": "'sku'"})
    assert api.post("/api/v1/logs/report", json=payload).status_code == 200
    run_jobs(db, settings)
    page.click("#inbox-link")
    assert page.locator("table.inbox tbody tr a").first.inner_text() == "新缺陷：shop 中的 KeyError"


def test_admin_edits_a_channel_keeping_its_url_and_secret(
    login: Any,  # noqa: F811
    users: dict[str, str],  # noqa: F811
    api: httpx.Client,
    receiver: Receiver,
    live_server: LiveServer,
) -> None:
    receiver.default = (200, "ok")
    body = {
        "name": "ops",
        "kind": "webhook",
        "url": f"{receiver.url}/hook",
        "secret": "s1",
        "events": ["new_bug"],
    }
    channel_id = api.post("/api/v1/notification-channels", json=body).json()["id"]
    page = login("ada")
    page.goto(f"{live_server.url}/notifications/{channel_id}")
    form = page.locator("form.channel-form")
    assert form.locator("input[name=name]").input_value() == "ops"
    assert form.locator("input[name=url]").input_value() == ""  # write-only: never shown
    form.locator("input[name=name]").fill("ops team")
    form.locator("input[name=events][value=regression]").check()
    form.locator("select[name=min_level]").select_option("ERROR")
    form.locator("input[name=environments]").fill("production, staging")
    form.locator("button[type=submit]").click()
    assert page.locator("p.ok").inner_text() == "✔ Saved."
    saved = api.get(f"/api/v1/notification-channels/{channel_id}").json()
    assert (saved["name"], saved["events"], saved["min_level"]) == (
        "ops team",
        ["new_bug", "regression"],
        "ERROR",
    )
    assert saved["environments"] == ["production", "staging"] and saved["enabled"] is True
    assert saved["url_set"] and saved["secret_set"]  # left empty: kept
    assert api.post(f"/api/v1/notification-channels/{channel_id}/test").json()["delivered"] is True
    assert receiver.requests[-1].path == "/hook" and "X-LogCenter-Signature" in receiver.requests[-1].headers
    # A wrong value is shown and changes nothing; then the secret is removed and the channel switched off.
    form = page.locator("form.channel-form")
    form.locator("input[name=url]").fill("ftp://example.com/hook")
    form.locator("button[type=submit]").click()
    assert (
        "must be an http:// or https:// URL" in page.locator("form.channel-form").locator("..").inner_text()
    )
    assert api.get(f"/api/v1/notification-channels/{channel_id}").json()["url_set"] is True
    form = page.locator("form.channel-form")
    form.locator("input[name=remove_secret]").check()
    form.locator("input[name=enabled]").uncheck()
    form.locator("button[type=submit]").click()
    assert page.locator("p.ok").count() == 1
    saved = api.get(f"/api/v1/notification-channels/{channel_id}").json()
    assert saved["secret_set"] is False and saved["enabled"] is False and saved["name"] == "ops team"
    assert "disabled" in page.locator("section.card dl.kv").inner_text()
    assert page.locator("input[name=smtp_host]").count() == 0  # a webhook's form has no SMTP settings
    screenshot(page, "notification_channel_edit")
