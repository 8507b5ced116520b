"""What the services say reaches a Chinese page in Chinese: the error page, the projects page's forge problem,
the forms' validation (pydantic's and the services'), the PR card, batch and triage results, the notification
forms; English pages read as before, and the JSON API stays English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import logcenter
from logcenter.bugs.models import BugStatus
from logcenter.forges.base import ForgeError
from logcenter.web import i18n, messages
from tests.factories import make_bug, make_project
from tests.web.test_access import log_in

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def alerts(page: str) -> str:
    """The page's error and notice texts, as a reader sees them."""
    found = re.findall(r'class="(?:error|missing|hint)"[^>]*>(.*?)</p>', page, flags=re.S)
    found += re.findall(r'<span class="error" role="alert">(.*?)</span>', page, flags=re.S)
    return "\n".join(found)


def test_the_error_page_says_a_missing_bug_in_the_reader_s_language(client, users, admin_headers):
    log_in(client, "victor")
    assert "Bug 999 not found" in client.get("/bugs/999").text
    chinese = client.get("/bugs/999", headers=ZH)
    assert chinese.status_code == 404 and "Bug 999 不存在" in chinese.text
    assert "not found" not in chinese.text
    assert "项目 &#39;nope&#39; 不存在" in client.get("/?project=nope", headers=ZH).text
    # The API keeps its English.
    api = client.get("/api/v1/bugs/999", headers={**admin_headers, **ZH})
    assert api.json() == {"detail": "Bug 999 not found"}


def test_the_projects_page_names_the_forge_problem_in_chinese(client, users, session):
    make_project(
        session, "shop", forge="gitea", forge_url="https://gitea.example.com/api/v1", forge_repo="a/shop"
    )
    make_project(session, "blog")
    session.commit()
    log_in(client, "ada")
    english = alerts(client.get("/projects").text)
    assert "Project &#39;shop&#39; has no gitea token: set forge_token (PUT /api/v1/projects/shop)" in english
    assert "Project &#39;blog&#39; has no forge: set forge, forge_url and forge_token" in english

    client.cookies.set("lc_lang", "zh_CN")
    chinese = alerts(client.get("/projects").text)
    assert (
        "项目 &#39;shop&#39; 没有 gitea 令牌：请设置 forge_token（PUT /api/v1/projects/shop）"
        "或 LOGCENTER_GITEA_TOKEN" in chinese
    )
    assert "项目 &#39;blog&#39; 没有配置代码托管平台：请设置 forge、forge_url 和 forge_token" in chinese
    assert "has no" not in chinese and "set forge" not in chinese


def test_the_new_project_form_explains_its_errors_by_the_field_s_label(client, users, session):
    make_project(session, "shop")
    session.commit()
    client.cookies.set("lc_lang", "zh_CN")
    csrf = log_in(client, "ada")
    bad = client.post("/projects", data={"csrf_token": csrf, "project_id": "bad id!"})
    assert bad.status_code == 422
    assert "项目 ID 只能包含字母、数字和 _ . : @ / -，并以字母或数字开头" in alerts(bad.text)
    assert "String should match" not in bad.text and "pattern" not in alerts(bad.text)
    missing = client.post("/projects", data={"csrf_token": csrf, "project_id": " "})
    assert "项目 ID 为必填项" in alerts(missing.text)
    long = client.post("/projects", data={"csrf_token": csrf, "project_id": "x", "name": "n" * 201})
    assert "名称 太长：最多 200 个字符" in alerts(long.text)
    taken = client.post("/projects", data={"csrf_token": csrf, "project_id": "shop"})
    assert taken.status_code == 409 and "项目 &#39;shop&#39; 已存在" in alerts(taken.text)

    client.cookies.set("lc_lang", "en")
    bad = client.post("/projects", data={"csrf_token": csrf, "project_id": "bad id!"})
    assert "Project ID may contain only letters, digits and _ . : @ / -" in alerts(bad.text)
    assert "Project ID is required" in alerts(client.post("/projects", data={"csrf_token": csrf}).text)
    taken = client.post("/projects", data={"csrf_token": csrf, "project_id": "shop"})
    assert "Project &#39;shop&#39; already exists" in alerts(taken.text)


def test_the_project_editor_s_errors_in_chinese(client, users, session):
    make_project(session, "payroll")
    session.commit()
    client.cookies.set("lc_lang", "zh_CN")
    csrf = log_in(client, "ada")
    base = {
        "scrub_sensitive_fields": "",
        "scrub_safe_fields": "",
        "scrub_ip_addresses": "",
        "csrf_token": csrf,
    }
    page = client.post("/projects/payroll", data={**base, "scrub_data": "off", "repo_url": "not a url"})
    assert page.status_code == 422
    shown = alerts(page.text)
    assert "仓库地址：必须是 http(s)://、ssh://、git@host:path、file:// 地址或绝对路径" in shown
    refused = client.post("/projects/payroll", data={**base, "scrub_data": "off"})
    assert "数据脱敏：此服务器不允许项目关闭脱敏" in alerts(refused.text)
    dashes = client.post("/projects/payroll", data={**base, "scrub_safe_fields": "ok\n-_-"})
    assert "安全字段：[1] &#39;-_-&#39; 只包含短横线和下划线：它会匹配所有键" in alerts(dashes.text)


def test_review_and_triage_results_and_refused_forms_in_chinese(client, users, session):
    project = make_project(session, "rtc_backend")
    new = make_bug(session, project).id
    pending = make_bug(
        session, project, status=BugStatus.PENDING_REVIEW, pr_number=3, pr_url="https://g.example/a/b/pulls/3"
    ).id
    session.commit()
    client.cookies.set("lc_lang", "zh_CN")
    csrf = log_in(client, "rita")

    # The PR card says why the forge could not be asked.
    card = client.get(f"/bugs/{pending}").text
    assert "⚠ 项目 &#39;rtc_backend&#39; 没有配置代码托管平台" in card

    batch = client.post("/bugs/batch", data={"csrf_token": csrf, "action": "merge", "bug_ids": [new]}).text
    assert f"Bug {new} 的状态是 NEW：只有 PENDING_REVIEW 的 Bug 可以合并" in batch
    triage = client.post(
        "/bugs/triage-batch", data={"csrf_token": csrf, "action": "unignore", "bug_ids": [new]}
    ).text
    assert f"Bug {new} 没有被忽略" in triage

    retry = client.post(f"/bugs/{new}/retry", data={"csrf_token": csrf})
    assert retry.status_code == 409
    assert f"Bug {new} 不能重试：它的状态是 NEW，只有 FAILED 的 Bug 可以重试" in retry.text
    empty = client.post(f"/bugs/{pending}/reject", data={"csrf_token": csrf, "reason": ""})
    assert empty.status_code == 422 and "请求无效：原因 为必填项" in empty.text
    assign = client.post(f"/bugs/{new}/assign", data={"csrf_token": csrf, "to": "name", "name": " "})
    assert "请求无效：名称：请填写要分配给的用户名" in assign.text
    # An HTMX action's error is a fragment for the notice area, translated too.
    fragment = client.post(f"/bugs/{new}/unignore", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert fragment.status_code == 409 and f"Bug {new} 没有被忽略" in fragment.text

    client.cookies.set("lc_lang", "en")
    retry = client.post(f"/bugs/{new}/retry", data={"csrf_token": csrf})
    assert f"Bug {new} cannot be retried: it is NEW, only a FAILED bug can be" in retry.text
    batch = client.post("/bugs/batch", data={"csrf_token": csrf, "action": "merge", "bug_ids": [new]}).text
    assert f"Bug {new} is NEW: only a bug PENDING_REVIEW can be merged" in batch


def test_role_and_csrf_refusals_in_chinese(client, users, session):
    project = make_project(session, "rtc_backend")
    bug = make_bug(session, project).id
    session.commit()
    client.cookies.set("lc_lang", "zh_CN")
    csrf = log_in(client, "victor")
    refused = client.post(f"/bugs/{bug}/retry", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert "用户 &#39;victor&#39; 的角色是 viewer：只有审核人和管理员可以执行此操作" in refused.text
    forged = client.post(f"/bugs/{bug}/retry", data={"csrf_token": "forged"})
    assert forged.status_code == 403 and "表单已过期或不是从本站提交的" in forged.text


def test_the_notification_forms_errors_in_chinese(client, users, session):
    client.cookies.set("lc_lang", "zh_CN")
    csrf = log_in(client, "ada")
    page = client.post(
        "/notifications",
        data={"csrf_token": csrf, "kind": "webhook", "name": "ops", "url": "ftp://x", "events": "new_bug"},
    )
    assert "地址：必须是 http:// 或 https:// 地址" in page.text
    nameless = client.post(
        "/notifications",
        data={"csrf_token": csrf, "kind": "webhook", "url": "https://x.example", "events": "new_bug"},
    )
    assert "名称 不能为空" in nameless.text


def test_every_listed_sentence_reads_as_before_in_english_and_translated_in_chinese():
    placeholder = re.compile(r"%\((\w+)\)s")
    try:
        for msgid in messages.SERVICE_MESSAGES:
            names = dict.fromkeys(placeholder.findall(msgid))
            params = {name: f"«{name}{i}»" for i, name in enumerate(names)}
            english = msgid % params
            i18n.activate("en")
            assert messages.translate(english) == english
            i18n.activate("zh_CN")
            chinese = messages.translate(english)
            assert chinese != english and all(value in chinese for value in params.values()), msgid
        assert messages.translate("Something a service says that no page knows") == (
            "Something a service says that no page knows"
        )
        # A forge's detail is itself a sentence of the list.
        nested = "gitea: close PR #7 failed (HTTP 409): the PR is merged: it cannot be closed"
        assert messages.translate(nested) == "gitea：close PR #7 失败（HTTP 409）：PR 已合并：不能关闭"
    finally:
        i18n.activate("en")


def test_a_shared_board_link_with_a_stale_filter_is_explained_in_chinese(client, users):
    client.cookies.set("lc_lang", "zh_CN")
    log_in(client, "victor")
    page = client.get("/?status=BOGUS")
    assert page.status_code == 422
    assert "请求无效：状态：未知状态 &#39;BOGUS&#39;；应为以下之一：" in page.text
    assert "请求无效：页：不是此列表的分页位置" in client.get("/?cursor=nonsense").text
    assert "不能包含 NUL 字符" in client.get("/?q=a%00b").text


# Sentences the services put together from parts: the part each one's source holds.
PENDING_ONLY = ": only a bug PENDING_REVIEW can be "
ASSEMBLED = {
    "Bug %(id)s is %(status)s: only a bug PENDING_REVIEW can be merged": PENDING_ONLY,
    "Bug %(id)s is %(status)s: only a bug PENDING_REVIEW can be rejected": PENDING_ONLY,
    "Bug %(id)s has no pull request to merge": " has no pull request to ",
    "Bug %(id)s has no pull request to reject": " has no pull request to ",
    "the PR is merged: it cannot be closed": " is merged: it cannot be closed",
    "the merge request is merged: it cannot be closed": " is merged: it cannot be closed",
    "the PR is closed": " is closed",
    "the merge request is closed": " is closed",
}


def test_every_listed_sentence_is_still_one_a_service_says():
    """A service that rewords a sentence would leave its page in English: the list follows the sources."""
    root = Path(logcenter.__file__).parent
    texts = []
    for path in root.rglob("*.py"):
        if path != Path(messages.__file__):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.JoinedStr):  # f"Bug {bug.id} not found" -> "Bug \0 not found"
                    texts.append(
                        "".join(v.value if isinstance(v, ast.Constant) else "\0" for v in node.values)
                    )
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    texts.append(node.value)
    sources = "\n".join(texts)
    for msgid in messages.SERVICE_MESSAGES:
        if msgid.startswith("%(forge)s: %(call)s failed"):
            continue  # ForgeError's own sentences, checked below
        part = ASSEMBLED.get(msgid) or max(re.split(r"%\(\w+\)s", msgid), key=len)
        assert part in sources, msgid
    i18n.activate("zh_CN")
    try:
        for status, detail in (
            (409, "not mergeable"),
            (409, ""),
            (None, "timed out (ReadTimeout)"),
            (None, ""),
        ):
            english = ForgeError("gitea", "merge PR #7", status, detail).message
            assert "失败" in messages.translate(english), english
    finally:
        i18n.activate("en")
