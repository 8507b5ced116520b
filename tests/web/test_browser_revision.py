"""Request changes on a fix from its bug page: the fix goes back to the repair agent with the reviewer's
comment, and the page shows the revision and its history (the agent's side: tests/agent/test_revision.py)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import screenshot

HOSTILE = '<img src=x onerror="document.title=1"> Return None for an empty list'


def test_request_changes_from_the_bug_page(users, seed, login, live_server, api, fake_gitea):
    bug_id = seed.runtime_bug(1, project="calc")
    seed.use_forge("calc", fake_gitea)
    pr = seed.pending_on_forge(bug_id, fake_gitea)
    page = login("rita")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    form = page.locator("form[action$='/revision']")
    expect(form).to_contain_text("Request changes")
    page.fill("form[action$='/revision'] textarea[name=comment]", HOSTILE)
    page.click("#revise-btn")
    expect(page.locator("p.ok")).to_contain_text("the repair agent revises the fix on the same pull request")
    expect(page.locator("h1 .badge")).to_contain_text("Fixing")
    expect(page.locator("#revision")).to_contain_text("revision 1 of the fix — waiting for the repair agent")
    log = page.locator("ol.log li").first
    expect(log).to_contain_text("Revision requested")
    expect(log).to_contain_text(HOSTILE)  # shown as text, escaped
    expect(page.locator("ol.log img")).to_have_count(0)
    assert page.title() != "1"
    expect(page.locator("form[action$='/revision']")).to_have_count(0)  # no longer awaiting review
    screenshot(page, "revision-requested")

    # The repair agent claims it and reports the revised fix: the page shows the revision's report.
    claimed = api.post("/api/v1/agent/claim", json={"agent": "agent-1"}, headers=seed.agent).json()["bugs"]
    assert claimed[0]["revision_request"]["comments"][0]["text"] == HOSTILE
    head = fake_gitea.push(fake_gitea.default_repo, pr.head, {"app/calc.py": "x = None\n"}, "revision 1")
    report = {"agent": "agent-1", "status": "PENDING_REVIEW", "head_sha": head, "test_passed": True,
              "analysis": "Returns None now", "fixer": "claude"}  # fmt: skip
    response = api.post(f"/api/v1/bugs/{bug_id}/repair-reports", json=report, headers=seed.agent)
    assert response.status_code == 201, response.text
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    expect(page.locator("h1 .badge")).to_contain_text("Pending review")
    expect(page.locator("#revision")).to_have_text("revision 1 of the fix")
    expect(page.locator("#rep-h")).to_contain_text("revision 1")
    expect(page.locator("ol.log li").first).to_contain_text("Revised fix")
    expect(page.locator("form[action$='/merge']")).to_contain_text(head[:12])  # the revised head is merged


def test_only_reviewers_see_the_form_and_designated_reviewers_are_enforced(
    users, seed, login, live_server, api, fake_gitea
):
    bug_id = seed.runtime_bug(1, project="calc")
    seed.use_forge("calc", fake_gitea)
    seed.pending_on_forge(bug_id, fake_gitea)
    viewer = login("victor")
    viewer.goto(f"{live_server.url}/bugs/{bug_id}")
    expect(viewer.locator("form[action$='/revision']")).to_have_count(0)
    assert api.put("/api/v1/merge-policies/calc", json={"reviewers": ["alice"]}).status_code == 200
    page = login("rita", locale="zh-CN")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    expect(page.locator("#revise-btn")).to_contain_text("要求修改")
    page.fill("form[action$='/revision'] textarea[name=comment]", "请改用 None")
    page.click("#revise-btn")
    expect(page.locator(".error")).to_contain_text("alice")
    assert api.get(f"/api/v1/bugs/{bug_id}").json()["status"] == "PENDING_REVIEW"
