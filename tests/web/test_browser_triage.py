"""Triage in a real browser: a reviewer ignores a bug for a week, finds it under the Ignored filter, unignores
it, and assigns it to themself."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import screenshot


def test_ignore_for_a_week_unignore_and_assign_to_me(users, seed, login, live_server, api):
    bug_id = seed.runtime_bug(1, error_type="NoisyError")
    other = seed.runtime_bug(2, error_type="KeptError")
    dialogs: list[str] = []
    page = login("rita")
    page.on("dialog", lambda d: dialogs.append(d.message))  # login's handler accepts the confirmations
    listing = page.locator("section[aria-labelledby=sec-list]")
    expect(listing.locator(f"a[href='/bugs/{bug_id}']").first).to_be_visible()

    page.goto(f"{live_server.url}/bugs/{bug_id}")
    page.select_option("#ignore-choice", "1w")
    page.fill("form[action$='/ignore'] input[name=note]", "known, fixed in the next release")
    page.click("#ignore-btn")
    expect(page.locator("p.ok")).to_contain_text("Ignored")
    assert "Ignore this bug?" in dialogs  # the page's confirmation
    expect(page.locator("#ignored-badge")).to_be_visible()
    expect(page.locator("#ignore-condition")).to_contain_text(re.compile(r"until .*by rita", re.S))
    log = page.locator("ol.log")
    expect(log).to_contain_text("known, fixed in the next release")
    expect(log.locator("li", has_text="rita").locator(".kind")).to_have_text("Ignored")
    screenshot(page, "triage-ignored")
    bug = api.get(f"/api/v1/bugs/{bug_id}").json()
    assert bug["ignored_by"] == "rita" and bug["ignore_until"] is not None
    assert [(h["kind"], h["actor"]) for h in bug["history"]][-1] == ("ignored", "rita")

    # Gone from the board; shown under the Ignored chip, which the URL keeps.
    page.goto(f"{live_server.url}/")
    expect(listing.locator(f"a[href='/bugs/{other}']").first).to_be_visible()
    expect(listing.locator(f"a[href='/bugs/{bug_id}']")).to_have_count(0)
    page.locator("nav.chips a.chip-ignored").click()
    expect(page).to_have_url(re.compile(r"ignored=only"))
    expect(listing.locator("tbody tr")).to_have_count(1)
    expect(listing.locator("tbody tr")).to_contain_text("NoisyError")
    expect(listing.locator("tbody tr .badge.ignored")).to_be_visible()

    # Unignore brings it back to the board.
    listing.locator(f"a[href='/bugs/{bug_id}']").first.click()
    page.click("#unignore-btn")
    expect(page.locator("p.ok")).to_contain_text("No longer ignored")
    expect(page.locator("#ignored-badge")).to_have_count(0)
    page.goto(f"{live_server.url}/")
    expect(listing.locator(f"a[href='/bugs/{bug_id}']").first).to_be_visible()

    # Assign to me: the row shows it, and "assigned to me" lists only it.
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    page.click("#assign-me-btn")
    expect(page.locator("#assignee")).to_have_text("rita")
    page.goto(f"{live_server.url}/")
    row = listing.locator("tbody tr", has=page.locator(f"a[href='/bugs/{bug_id}']"))
    expect(row.locator("td.assignee")).to_have_text("rita")
    page.locator("nav.chips a.chip-mine").click()
    expect(page).to_have_url(re.compile(r"mine=1"))
    expect(listing.locator("tbody tr")).to_have_count(1)
    expect(listing.locator("tbody tr")).to_contain_text("NoisyError")
    screenshot(page, "triage-board-mine")
    assert api.get(f"/api/v1/bugs/{bug_id}").json()["assignee"] == "rita"
