"""Merging duplicates in a real browser: from a bug's page (found by searching its number) and from the board
(rows selected, the one to keep chosen); the survivor shows both counts, and a new report of a merged-away
fingerprint lands on it. A viewer sees no merge controls."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import screenshot


def reported(seed, n: int, times: int, **extra) -> int:
    """A bug of its own fingerprint (file app/views_<n>.py), reported `times` times."""
    ids = {seed.runtime_bug(n, error_type="CartError", **extra) for _ in range(times)}
    [bug_id] = ids
    return bug_id


def count_on_page(page) -> str:
    return page.locator("dl.kv dt:text-is('Occurrences') + dd").inner_text()


def test_merge_from_the_bug_page_by_searching_its_number(users, seed, login, live_server, api):
    duplicate = reported(seed, 1, 2)
    survivor = reported(seed, 2, 3)
    reported(seed, 3, 1)
    reported(seed, 4, 1, project="billing")  # another project's bug is never offered
    dialogs: list[str] = []
    page = login("rita")
    page.on("dialog", lambda d: dialogs.append(d.message))  # login's handler accepts the confirmations

    page.goto(f"{live_server.url}/bugs/{duplicate}")
    choices = page.locator("#merge-candidates input[name=into]")
    expect(choices).to_have_count(2)  # the project's other bugs, offered before any search
    with page.expect_response(re.compile(r"/merge-candidates\?merge_q=")):
        page.fill("#merge-q", f"#{survivor}")  # the search answers while typing (HTMX)
    expect(choices).to_have_count(1)  # once the search's answer replaced the choices
    expect(page.locator("#merge-candidates label.candidate")).to_contain_text(f"#{survivor}")
    page.locator(f"#merge-candidates input[value='{survivor}']").check()
    screenshot(page, "merge-into")
    page.click("#merge-into-btn")

    expect(page).to_have_url(re.compile(rf"/bugs/{survivor}\?done=absorbed"))
    assert "Merge this bug into the chosen one? This cannot be undone." in dialogs
    expect(page.locator("p.ok")).to_contain_text("Merged")
    expect(page.locator("dl.kv dt:text-is('Occurrences') + dd")).to_have_text("5")
    expect(page.locator("ol.log")).to_contain_text(f"Absorbed bug {duplicate} (2 occurrences)")

    # The merged-away bug's page says where it went, with a link, and offers no triage.
    page.goto(f"{live_server.url}/bugs/{duplicate}")
    note = page.locator("p.merged-into")
    expect(note).to_contain_text(f"Merged into #{survivor}")
    expect(page.locator("#merge-into-form")).to_have_count(0)
    note.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/bugs/{survivor}$"))

    # A new report of the merged-away fingerprint is stored on the survivor.
    assert seed.runtime_bug(1, error_type="CartError") == survivor
    page.reload()
    expect(page.locator("dl.kv dt:text-is('Occurrences') + dd")).to_have_text("6")
    assert api.get(f"/api/v1/bugs/{duplicate}").json()["merged_into_id"] == survivor


def test_merge_selected_rows_of_the_board(users, seed, login, live_server, api):
    first = reported(seed, 1, 4)
    second = reported(seed, 2, 1)
    kept_out = reported(seed, 3, 1)
    page = login("rita")
    listing = page.locator("section[aria-labelledby=sec-list]")
    for bug_id in (first, second):
        listing.locator(f"input[name=bug_ids][value='{bug_id}']").check()
    page.click("#merge-selected-btn")

    expect(page).to_have_url(re.compile(r"/bugs/merge-duplicates\?"))
    rows = page.locator("#merge-duplicates tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(f"input[name=survivor][value='{first}']")).to_be_checked()  # seen most
    page.locator(f"input[name=survivor][value='{second}']").check()  # keep the other one instead
    screenshot(page, "merge-duplicates")
    page.click("#merge-duplicates-btn")

    expect(page).to_have_url(re.compile(rf"/bugs/{second}\?done=absorbed"))
    expect(page.locator("dl.kv dt:text-is('Occurrences') + dd")).to_have_text("5")
    page.goto(f"{live_server.url}/")
    expect(listing.locator(f"a[href='/bugs/{second}']").first).to_be_visible()
    expect(listing.locator(f"a[href='/bugs/{kept_out}']").first).to_be_visible()
    expect(listing.locator(f"a[href='/bugs/{first}']")).to_have_count(0)
    expect(page.locator("nav.chips a[title=NEW] .count")).to_have_text("2")

    # The same selection ignores rows (each bug's result listed), here for a week.
    listing.locator(f"input[name=bug_ids][value='{kept_out}']").check()
    page.select_option("#bulk-ignore-choice", "1w")
    page.click("#bulk-ignore-btn")
    expect(page.locator(f"#bulk-results li.ok[data-bug='{kept_out}']")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(listing.locator(f"a[href='/bugs/{kept_out}']")).to_have_count(0)
    expect(page.locator("nav.chips a[title=NEW] .count")).to_have_text("1")
    assert api.get(f"/api/v1/bugs/{kept_out}").json()["ignored_by"] == "rita"

    # The merged-away fingerprint reports to the survivor, through the Sentry endpoint too.
    event = {
        "exception": {
            "values": [
                {
                    "type": "CartError",
                    "value": "'NoneType' object is not iterable (case 1)",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app/views_1.py",
                                "lineno": 24,
                                "function": "user_login",
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        "level": "error",
        "platform": "python",
    }
    seed.sentry_event("rtc_backend", event)
    survivor = api.get(f"/api/v1/bugs/{second}").json()
    assert survivor["occurrence_count"] == 6
    listed = api.get("/api/v1/bugs", params={"project_id": "rtc_backend", "ignored": "include"}).json()
    assert listed["total"] == 2


def test_a_viewer_sees_no_merge_controls(users, seed, login, live_server):
    bug_id = reported(seed, 1, 1)
    reported(seed, 2, 1)
    page = login("victor")
    expect(page.locator("section[aria-labelledby=sec-list] tbody tr")).to_have_count(2)
    expect(page.locator("#merge-selected-btn")).to_have_count(0)
    expect(page.locator("input[name=bug_ids]")).to_have_count(0)
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    expect(page.locator("#merge-into-form")).to_have_count(0)
    expect(page.locator("#merge-q")).to_have_count(0)
    page.goto(f"{live_server.url}/bugs/merge-duplicates?bug_ids={bug_id}&bug_ids={bug_id + 1}")
    expect(page.locator("body")).to_contain_text("only reviewers and admins")
