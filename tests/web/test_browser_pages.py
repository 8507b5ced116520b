"""Stats, projects, repair history, tokens, Chinese, and hostile report text, in a real browser."""

from __future__ import annotations

import os
import re
import subprocess

from playwright.sync_api import expect

from tests.sentry.helpers import event
from tests.web.conftest import PASSWORD, screenshot

HOSTILE = "<script>alert('xss')</script><img src=x onerror=alert('img')>"


def test_hostile_report_is_shown_as_text_and_runs_nothing(users, seed, login, live_server):
    bug_id = seed.report(
        project_id="rtc_backend",
        error={
            "type": "XSSError",
            "message": HOSTILE,
            "file_path": "app/<b>views</b>.py",
            "line_number": 3,
            "stack_trace": [
                "Traceback (most recent call last):",
                f'  File "x.py", line 3, in {HOSTILE}',
                HOSTILE,
            ],
        },
        context={
            HOSTILE: HOSTILE,
            "url": "javascript:alert('ctx')",
            "referer_url": "javascript:alert('ref')",
            "nested": {"<svg onload=alert(1)>": ["<iframe src=javascript:alert(2)>"]},
        },
    )
    seed.pending_review(
        bug_id,
        pr_number=9,
        pr_url="https://gitea.example.com/t/r/pulls/9",
        analysis=HOSTILE,
        diff=(
            "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,1 +1,1 @@\n"
            f"-{HOSTILE}\n+<a href=\"javascript:alert('diff')\">{HOSTILE}</a>\n"
        ),
        test_output=HOSTILE,
    )
    sentry_bug = seed.sentry_event(
        "rtc_backend",
        event(
            exception={
                "values": [
                    {
                        "type": "XSSError",
                        "value": HOSTILE,
                        "stacktrace": {
                            "frames": [
                                {"filename": "app/x.py", "lineno": 7, "function": HOSTILE, "in_app": True}
                            ]
                        },
                    }
                ]
            },
            tags={"<b>tag</b>": HOSTILE},
            request={"url": "javascript:alert('req')", "method": "GET", "headers": {HOSTILE: HOSTILE}},
            user={"id": HOSTILE, "email": "<img src=x onerror=alert(5)>@x.io"},
            breadcrumbs={"values": [{"category": HOSTILE, "message": HOSTILE, "level": "info"}]},
            extra={"<i>note</i>": HOSTILE, "db_password": "hunter2-secret"},
        ),
    )
    dialogs: list[str] = []
    page = login("rita", dialogs=dialogs)
    expect(page.locator("section[aria-labelledby=sec-review]")).to_contain_text(HOSTILE[:30])
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    expect(page.locator("dd.title")).to_contain_text(HOSTILE)
    expect(page.locator(".trace")).to_contain_text(HOSTILE)
    expect(page.locator("table.kvt").first).to_contain_text(HOSTILE)
    expect(page.locator("#diff")).to_contain_text("javascript:alert('diff')")
    # Nothing from the report became an element or a link.
    main = page.locator("main")
    assert main.locator("img").count() == 0
    assert main.locator("iframe, svg[onload], script:not([type='application/json'])").count() == 0
    assert main.locator("a[href^='javascript:']").count() == 0
    expect(page.locator(".unlinked", has_text="javascript:alert('ctx')")).to_have_count(1)
    page.wait_for_timeout(300)  # give an injected handler its chance to fire
    screenshot(page, "xss")
    page.goto(f"{live_server.url}/bugs/{sentry_bug}")
    page.locator("details summary", has_text="Breadcrumbs").click()
    for title in ("Request", "User", "Tags", "Additional data", "Breadcrumbs"):
        expect(page.locator("details", has=page.locator("summary", has_text=title))).to_contain_text(
            HOSTILE[:20]
        )
    extra = page.locator("details", has=page.locator("summary", has_text="Additional data"))
    expect(extra).to_contain_text("<i>note</i>")  # set_extra's data, scrubbed like the rest
    expect(extra).to_contain_text("[Filtered]")
    assert "hunter2-secret" not in page.content()
    expect(page.locator(".unlinked", has_text="javascript:alert('req')").first).to_be_visible()
    assert page.locator("main img, main script:not([type='application/json']), main iframe").count() == 0
    assert page.locator("main a[href^='javascript:']").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_chinese_labels_from_accept_language_and_switcher(users, seed, login, live_server):
    bug_id = seed.runtime_bug(1)
    seed.pending_review(bug_id, pr_number=3, pr_url="https://gitea.example.com/t/r/pulls/3")
    page = login("rita", locale="zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("Bug 看板")
    expect(page.locator("ul.cards")).to_contain_text("待审核")
    expect(page.locator("ul.cards")).to_contain_text("修复中")
    expect(page.locator("#sec-review")).to_contain_text("需要你的审核")
    badge = page.locator("section[aria-labelledby=sec-review] .badge").first
    expect(badge).to_contain_text("待审核")
    expect(badge).to_have_attribute("title", re.compile(r"^PENDING_REVIEW"))
    expect(page.locator("section[aria-labelledby=sec-review] time").first).to_have_text(re.compile("前|刚刚"))
    screenshot(page, "board-zh")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    expect(page.locator("#pr-card a.button")).to_contain_text("前往 Gitea 审核 PR")
    expect(page.locator("#log-h")).to_contain_text("操作日志")
    expect(page.locator("#diff .tag").first).to_have_text("修改")  # a file's change, in the page's language
    screenshot(page, "detail-zh")
    # The switcher wins over Accept-Language, and is remembered.
    page.click("header .langs a[lang=en]")
    expect(page.locator("#log-h")).to_contain_text("Operation log")
    page.goto(f"{live_server.url}/")
    expect(page.locator("h1")).to_have_text("Bug board")


def test_stats_chart_and_project_table(users, seed, login, live_server):
    fixed = seed.runtime_bug(1)
    seed.pending_review(fixed, pr_number=1, pr_url="https://gitea.example.com/t/r/pulls/1")
    failed = seed.runtime_bug(2, project="rtc_web")
    seed.failed(failed, "Could not reproduce")
    seed.runtime_bug(3)
    page = login("victor")
    page.click("nav a[href='/stats']")
    expect(page.locator("[data-total=found]")).to_have_text("3")
    expect(page.locator("[data-total=auto_fixed]")).to_have_text("1")
    expect(page.locator("[data-total=rate]")).to_have_text("50.0%")
    expect(page.locator("#trend-chart canvas").first).to_be_attached()
    expect(page.locator("#trend-chart .u-legend")).to_contain_text("Auto-fixed")
    rows = page.locator("section[aria-labelledby=proj-h] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("rtc_backend")
    page.select_option("select[name=days]", "30")
    page.click("form.filters button")
    expect(page).to_have_url(re.compile(r"days=30"))
    expect(page.locator("section[aria-labelledby=trend-h] table.compact tbody tr")).to_have_count(30)
    screenshot(page, "stats")


def test_project_inline_edit_and_missing_fields(users, seed, login, live_server, api):
    seed.runtime_bug(1)
    page = login("ada")
    page.click("nav a[href='/projects']")
    card = page.locator("section.project").first
    expect(card.locator(".missing").first).to_contain_text("cannot fix")
    expect(card.locator(".missing-field[data-field=test_command]")).to_be_visible()
    expect(card.locator("dd.missing-value[data-field=test_command]")).to_have_css("color", "rgb(179, 38, 30)")
    expect(card.locator("code[id^=dsn-]")).to_contain_text("@127.0.0.1")
    expect(card).to_contain_text("/api/webhooks/gitea")
    screenshot(page, "projects")
    card.locator("button.edit-btn").click()
    form = page.locator("section.project.editing form")
    form.locator("input[name=repo_url]").fill("not a url")
    form.locator("button[type=submit]").click()
    expect(page.locator("section.project.editing .error")).to_contain_text("must be")
    form = page.locator("section.project.editing form")
    form.locator("input[name=repo_url]").fill("https://gitea.example.com/team/rtc_backend.git")
    form.locator("input[name=default_branch]").fill("main")
    form.locator("input[name=test_command]").fill("pytest -q")
    form.locator("button[type=submit]").click()
    card = page.locator("section.project").first
    expect(card.locator("p.ok")).to_contain_text("Saved")
    expect(card.locator("dd[data-field=test_command]")).to_have_text("pytest -q")
    expect(card.locator(".missing-field[data-field=test_command]")).to_have_count(0)
    project = api.get("/api/v1/projects/rtc_backend").json()
    assert (project["test_command"], project["default_branch"]) == ("pytest -q", "main")
    # Forge settings: the token is write-only, shown as set, never echoed.
    expect(card.locator("p.missing[data-field=forge]")).to_contain_text("has no gitea token")
    card.locator("button.edit-btn").click()
    form = page.locator("section.project.editing form")
    form.locator("select[name=forge]").select_option("gitea")
    form.locator("input[name=forge_url]").fill("https://gitea.example.com/api/v1")
    form.locator("input[name=forge_repo]").fill("team/rtc_backend")
    form.locator("input[name=forge_token]").fill("secret-forge-token-123")
    form.locator("input[name=deployment_secret]").fill("secret-deploy-456")
    form.locator("button[type=submit]").click()
    card = page.locator("section.project").first
    expect(card.locator("p.ok")).to_contain_text("Saved")
    expect(card.locator("p.missing[data-field=forge]")).to_have_count(0)
    expect(card).to_contain_text("✔ set")
    assert "secret-forge-token-123" not in page.content() and "secret-deploy-456" not in page.content()
    card.locator("button.edit-btn").click()
    assert "secret-forge-token-123" not in page.content() and "secret-deploy-456" not in page.content()
    page.locator("section.project.editing button", has_text="Cancel").click()
    project = api.get("/api/v1/projects/rtc_backend").json()
    assert project["forge_token_set"] is True and project["forge"] == "gitea"
    assert project["deployment_secret_set"] is True and project["webhook_secret_set"] is False
    # The card's CI step, run as a CI job runs it: a refused notice fails the job instead of passing.
    card.locator("summary", has_text="Webhooks and CI").click()
    expect(card.locator("ul.urls")).to_contain_text("GitHub: ")
    snippet = card.locator("pre[id^=ci-]").inner_text()
    env = {"PATH": os.environ["PATH"], "CI_COMMIT_SHA": "5e0b7c2a1d9f8e7d6c5b4a3928170f6e5d4c3b2a"}

    def ci(secret: str) -> subprocess.CompletedProcess[str]:
        command = ["bash", "-eo", "pipefail", "-c", snippet]
        return subprocess.run(command, env={**env, "WEBHOOK_SECRET": secret}, capture_output=True, text=True)

    refused = ci("not-the-secret")
    assert refused.returncode != 0 and "Invalid webhook signature" in refused.stdout
    done = ci("secret-deploy-456")
    assert done.returncode == 0 and '"status":"ok"' in done.stdout, done.stdout + done.stderr
    old_key = project["ingest_key"]
    card.locator("button", has_text="Rotate key").click()
    expect(page.locator("section.project p.ok")).to_contain_text("New ingest key")
    assert api.get("/api/v1/projects/rtc_backend").json()["ingest_key"] != old_key


def test_tokens_and_repair_history(users, seed, login, live_server, api):
    bug_id = seed.runtime_bug(1)
    seed.failed(bug_id, "The fixer changed no file")
    page = login("ada")
    page.click("nav a[href='/repairs']")
    row = page.locator("table.bugs tbody tr").first
    expect(row).to_contain_text(f"#{bug_id}")
    expect(row).to_contain_text("codex")
    expect(row).to_contain_text("The fixer changed no file")
    screenshot(page, "repairs")
    page.click("nav a[href='/tokens']")
    page.fill("input[name=name]", "ci-agent")
    page.select_option("select[name=scope]", "agent")
    page.click("form[action='/tokens'] button[type=submit]")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("lc_")
    assert api.get("/api/v1/bugs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    screenshot(page, "tokens")
    page.goto(f"{live_server.url}/tokens")  # shown once: not on the page again
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    page.locator("tr", has_text="ci-agent").locator("button", has_text="Revoke").click()
    expect(page.locator("tr", has_text="ci-agent")).to_contain_text("revoked")
    assert api.get("/api/v1/bugs", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # A token restricted to one project: it sees that project's bugs only.
    other = seed.runtime_bug(2, project="blog")
    page.reload()
    expect(page.locator("#projects-hint")).to_have_text(re.compile(r"^None chosen: every project"))
    expect(page.locator("select[name=projects]")).to_have_attribute("aria-describedby", "projects-hint")
    page.fill("input[name=name]", "shop-agent")
    page.select_option("select[name=scope]", "agent")
    page.select_option("select[name=projects]", ["rtc_backend"])
    page.click("form[action='/tokens'] button[type=submit]")
    limited = {"Authorization": f"Bearer {page.locator('#new-token').inner_text()}"}
    expect(page.locator("tr", has_text="shop-agent").locator("td.token-projects")).to_have_text("rtc_backend")
    expect(page.locator("tr", has_text="ci-agent").locator("td.token-projects")).to_have_text("all")
    assert [b["id"] for b in api.get("/api/v1/bugs", headers=limited).json()["bugs"]] == [bug_id]
    assert api.get(f"/api/v1/bugs/{other}", headers=limited).status_code == 404


def test_chinese_stats_and_charts_name_days(users, seed, login, live_server):
    bug_id = seed.runtime_bug(1)
    page = login("victor", locale="zh-CN")
    page.goto(f"{live_server.url}/stats")
    # The tile counts bugs: not the bug page's "Found" (a date, 发现时间).
    expect(page.locator("li.stat:has([data-total=found]) .label")).to_have_text("发现 Bug")
    legend = page.locator("#trend-chart .u-legend")
    expect(legend).to_contain_text("日期")
    expect(legend).not_to_contain_text("Time")
    page.goto(f"{live_server.url}/bugs/{bug_id}")
    legend = page.locator("#occ-chart .u-legend")
    expect(legend).to_contain_text("日期")
    expect(legend).not_to_contain_text("Time")
    # Each point is a day: the legend names the day under the cursor, without a time of day ("12:00am").
    page.hover("#occ-chart .u-over", position={"x": 5, "y": 20})
    expect(legend.locator(".u-series").first.locator(".u-value")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d$")
    )


def _hostile(tag: str) -> str:
    """Markup that, if any page rendered it, would run and record `tag` in window.__xss."""
    record = f"window.__xss=(window.__xss||[]).concat(['{tag}'])"
    return f'"><img src=x onerror="{record}"><svg onload="{record}">'


def test_every_page_escapes_report_text_even_without_the_csp(users, seed, browser, live_server):
    # The CSP would stop an injected handler; here it is bypassed, so only escaping stands between the
    # reporter's text and the reader's browser: every string of both ingest paths, on every page.
    h = _hostile
    runtime = seed.report(
        environment=h("env")[:64],
        version=h("version"),
        error={"type": h("type"), "message": h("msg"), "file_path": h("file"), "stack_trace": h("trace")},
        context={h("ctx-key"): h("ctx"), "url": "javascript:alert(1)", "x_url": "JaVaScRiPt:alert(1)"},
        fingerprint=[h("fp")],
    )
    cicd = seed.report(
        source="cicd",
        error={"type": h("ci-type"), "message": h("ci-msg"), "stack_trace": [h("ci-trace")]},
        context={"job_name": h("job"), "step_name": h("step")},
    )
    frame = {
        "filename": h("filename"), "abs_path": h("abs"), "module": h("module"), "function": h("func"),
        "lineno": 7, "in_app": True, "context_line": h("line"), "pre_context": [h("pre")],
        "post_context": [h("post")], "vars": {h("var-key"): h("var")},
    }  # fmt: skip
    exception = {"type": h("s-type"), "value": h("value"), "stacktrace": {"frames": [frame]}}
    crumb = {"category": h("crumb"), "message": h("crumb-msg"), "data": {h("crumb-key"): h("crumb-data")}}
    sentry = seed.sentry_event(
        "rtc_backend",
        event(
            release=h("release"), environment=h("s-env")[:60], server_name=h("server"), logger=h("logger"),
            transaction=h("tx"), fingerprint=[h("s-fp")],
            exception={"values": [exception]},
            tags={h("tag-key"): h("tag"), "url": "javascript:alert(2)"},
            contexts={"os": {"name": h("os")}, h("c-key"): {h("c-sub"): h("c-val")}},
            request={
                "url": "javascript:alert(3)", "query_string": h("qs"), "data": {h("d-key"): h("data")},
                "headers": {h("hdr-key"): h("hdr"), "Referer": "javascript:alert(4)"},
            },
            user={"id": h("uid"), "email": h("email"), "username": h("user"), h("u-key"): h("u-val")},
            breadcrumbs={"values": [crumb]},
            extra={h("extra-key"): h("extra")},
        ),
    )  # fmt: skip
    seed.pending_review(
        runtime,
        pr_number=9,
        pr_url="https://gitea.example.com/t/r/pulls/9",
        analysis=h("analysis"),
        test_output=h("output"),
        modified_files=[h("modified")],
        diff=(
            "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
            f"@@ -1,1 +1,1 @@ {h('hunk')}\n-{h('old')}\n+{h('new')}\n"
        ),
    )
    seed.failed(cicd, h("reason")[:500])
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=username]", "ada")
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
        pages = [
            "/", "/?status=FAILED", f"/?q={h('q')}", "/stats", "/projects", "/repairs", "/tokens",
            "/notifications", "/inbox", f"/bugs/{runtime}", f"/bugs/{cicd}", f"/bugs/{sentry}",
            f"/bugs/{runtime}/merge-candidates?q=img", f"/bugs/{runtime}/diff/0",
        ]  # fmt: skip
        for path in pages:
            page.goto(live_server.url + path)
            page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
            page.wait_for_timeout(150)  # give an injected handler its chance to fire
            assert page.evaluate("window.__xss || []") == [], path
            injected = "img[src=x], svg[onload], [onerror], [onload], a[href^='javascript:' i]"
            assert page.locator(injected).count() == 0, path
        page.goto(f"{live_server.url}/bugs/{sentry}")
        assert h("value") in page.locator("main").inner_text()  # shown, as text
        assert dialogs == []
    finally:
        context.close()
