"""Reviewing a fix whose pull request lives on a (fake) Gitea, from the bug page and in a batch."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import screenshot


def test_approve_and_merge_merges_on_the_forge(users, seed, login, live_server, api, fake_gitea):
    bug_id = seed.runtime_bug(1, project="calc")
    seed.use_forge("calc", fake_gitea)
    pr = seed.pending_on_forge(bug_id, fake_gitea)
    head = fake_gitea.repos[fake_gitea.default_repo].head_sha(pr)
    page = login("rita")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    card = page.locator("#pr-card")
    expect(card).to_contain_text(f"PR #{pr.number}")
    expect(card).to_contain_text("Open (waiting for review)")
    expect(card).to_contain_text(head[:12])
    expect(card).to_contain_text("→ main")
    expect(card.locator("a.button")).to_have_attribute("href", re.compile(rf"/pulls/{pr.number}$"))
    expect(page.locator("#diff .diff-file")).to_have_count(2)
    expect(page.locator("#diff tr.dl-add").first).to_contain_text("if not values:")
    expect(page.locator("form[action$='/merge']")).to_contain_text(head[:12])  # the sha being approved
    screenshot(page, "detail")
    page.click("#merge-btn")
    expect(page.locator("p.ok")).to_contain_text("Merged")
    expect(page.locator("h1 .badge")).to_contain_text("Merged")
    expect(page.locator("#pr-card")).to_contain_text("Merged")
    expect(page.locator("ol.log")).to_contain_text("rita")
    assert pr.merged and pr.merge_commit
    bug = api.get(f"/api/v1/bugs/{bug_id}").json()
    assert (bug["status"], bug["merge_commit_sha"]) == ("MERGED", pr.merge_commit)


def test_a_pr_that_moved_after_the_page_was_loaded_is_not_merged(users, seed, login, live_server, fake_gitea):
    bug_id = seed.runtime_bug(1, project="calc")
    seed.use_forge("calc", fake_gitea)
    pr = seed.pending_on_forge(bug_id, fake_gitea)
    page = login("rita")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    fake_gitea.push(fake_gitea.default_repo, pr.head, {"app/extra.py": "x = 1\n"}, "unreviewed change")
    page.click("#merge-btn")
    expect(page.locator(".error")).to_contain_text("moved")
    assert not pr.merged


def test_reject_with_a_reason_closes_the_pr_and_fails_the_bug(
    users, seed, login, live_server, api, fake_gitea
):
    bug_id = seed.runtime_bug(1, project="calc")
    seed.use_forge("calc", fake_gitea)
    pr = seed.pending_on_forge(bug_id, fake_gitea)
    page = login("rita")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    reason = "The check hides the bug: callers must not pass None"
    page.fill("form[action$='/reject'] textarea[name=reason]", reason)
    page.click("#reject-btn")
    expect(page.locator("h1 .badge")).to_contain_text("Failed")
    expect(page.locator("dd.failure").first).to_contain_text(reason)
    assert api.get(f"/api/v1/bugs/{bug_id}").json()["status"] == "FAILED"
    assert pr.state == "closed" and not pr.merged
    assert any(reason in c.body for c in pr.comments)
    # A failed bug can be sent back to the agent.
    page.click("#retry-btn")
    expect(page.locator("h1 .badge")).to_contain_text("New")


def test_batch_review_of_three_bugs(users, seed, login, live_server, api, fake_gitea):
    seed.runtime_bug(0, project="calc")
    seed.use_forge("calc", fake_gitea)
    bugs = [seed.runtime_bug(i, project="calc") for i in range(1, 6)]
    prs = [seed.pending_on_forge(b, fake_gitea) for b in bugs]
    page = login("rita")
    for bug_id in bugs[:3]:
        page.check(f"input[name=bug_ids][value='{bug_id}']")
    page.click("form#batch button[value=merge]")
    for bug_id in bugs[:3]:
        expect(page.locator(f"#batch-results li[data-bug='{bug_id}']")).to_contain_text("Merged")
    assert [pr.merged for pr in prs] == [True, True, True, False, False]
    screenshot(page, "batch")
    page.goto(f"{live_server.url}/")
    page.check(f"input[name=bug_ids][value='{bugs[3]}']")
    page.check(f"input[name=bug_ids][value='{bugs[4]}']")
    page.fill("form#batch input[name=reason]", "Wrong approach")
    page.click("form#batch button[value=reject]")
    expect(page.locator("#batch-results li.ok")).to_have_count(2)
    statuses = [api.get(f"/api/v1/bugs/{b}").json()["status"] for b in bugs]
    assert statuses == ["MERGED"] * 3 + ["FAILED"] * 2
    assert prs[3].state == "closed" and not prs[3].merged
