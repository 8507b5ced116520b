"""The board and the bug page in a real browser: log in, filter, search, open a bug, review it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import screenshot


def test_board_sections_filters_and_detail(users, seed, login, live_server):
    review = [seed.runtime_bug(i) for i in range(3)]
    for n, bug_id in enumerate(review):
        seed.pending_review(
            bug_id, pr_number=40 + n, pr_url=f"https://gitea.example.com/team/rtc/pulls/{40 + n}"
        )
    fixing = seed.runtime_bug(10, error_type="KeyError")
    seed.claim(fixing)
    failed = seed.runtime_bug(11, error_type="DatabaseTimeout")
    seed.failed(failed, "The regression test passed on the base branch: the bug was not reproduced")
    new = seed.runtime_bug(12, project="rtc_web", error_type="ZeroDivisionError", environment="staging")

    page = login("rita")
    cards = page.locator("ul.cards")
    expect(cards.locator("[data-card=pending_review]")).to_have_text("3")
    expect(cards.locator("[data-card=fixing]")).to_have_text("1")
    expect(cards.locator("[data-card=new]")).to_have_text("6")
    review_section = page.locator("section[aria-labelledby=sec-review]")
    expect(review_section.locator("tbody tr")).to_have_count(3)
    expect(page.locator("section[aria-labelledby=sec-fixing] tbody tr")).to_have_count(1)
    other = page.locator("section[aria-labelledby=sec-list] tbody tr")
    expect(other).to_have_count(2)
    expect(page.locator("section[aria-labelledby=sec-list]")).to_contain_text("ZeroDivisionError")
    expect(review_section.locator("time").first).to_have_text(re.compile(r"(second|minute)s? ago|now"))
    screenshot(page, "board")

    # Status chip: only the failed bug, and the URL says so (shareable).
    page.locator("nav.chips a[title=FAILED]").click()
    expect(page).to_have_url(re.compile(r"status=FAILED"))
    expect(page.locator("section[aria-labelledby=sec-list] tbody tr")).to_have_count(1)
    expect(page.locator("section[aria-labelledby=sec-list]")).to_contain_text("DatabaseTimeout")

    # Search and the project filter.
    page.goto(f"{live_server.url}/?q=ZeroDivision")
    expect(page.locator("table.bugs tbody tr")).to_have_count(1)
    page.goto(f"{live_server.url}/?project=rtc_web&status=NEW")
    expect(page.locator("section[aria-labelledby=sec-list] tbody tr")).to_have_count(1)
    expect(page.locator("section[aria-labelledby=sec-list]")).to_contain_text(f"#{new}")

    # The bug page: stack trace with the raising frame marked, PR card, diff in both layouts.
    page.goto(f"{live_server.url}/")
    page.locator(f"a[href='/bugs/{review[0]}']").first.click()
    expect(page).to_have_url(re.compile(rf"/bugs/{review[0]}$"))
    expect(page.locator(".trace")).to_contain_text("for item in request.user:")
    expect(page.locator(".trace .hll").first).to_contain_text("app/views_0.py")
    card = page.locator("#pr-card")
    expect(card).to_contain_text("PR #40")
    expect(card).to_contain_text("fix/auto-20260225-1430")
    expect(card).to_contain_text("2 files changed")
    link = card.locator("a.button")
    expect(link).to_have_attribute("href", "https://gitea.example.com/team/rtc/pulls/40")
    expect(link).to_have_attribute("target", "_blank")
    diff = page.locator("#diff")
    expect(diff.locator(".diff-file")).to_have_count(2)
    expect(diff.locator(".diff-unified tr.dl-add").first).to_contain_text("if request.user is not None:")
    expect(diff.locator(".diff-split").first).to_be_hidden()
    diff.locator("button[data-diff-mode=split]").click()
    expect(diff.locator(".diff-split").first).to_be_visible()
    expect(diff.locator(".diff-split td.del").first).to_contain_text("for item in request.user:")
    expect(page.locator("#occ-chart canvas").first).to_be_attached()
    expect(page.locator("ol.log")).to_contain_text("Bug recorded")
    expect(page.locator("#merge-btn")).to_be_visible()
    # No forge is configured for this project: the card says so and shows what the agent reported.
    expect(card).to_contain_text("forge")


def test_the_board_refreshes_itself_without_losing_the_readers_place(users, seed, login, live_server):
    live_server.app.state.board_refresh_seconds = 1
    seed.runtime_bug(1)
    page = login("victor")
    expect(page.locator("[data-card=new]")).to_have_text("1")
    page.evaluate("window.readerMark = 42")  # survives only if the page is not reloaded
    seed.runtime_bug(2, error_type="LateError")
    expect(page.locator("[data-card=new]")).to_have_text("2", timeout=10_000)
    expect(page.locator("section[aria-labelledby=sec-list]")).to_contain_text("LateError")
    assert page.evaluate("window.readerMark") == 42
    # On a phone the board is one column and still shows the cards and rows.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("[data-card=new]")).to_be_visible()
    screenshot(page, "board-phone")
