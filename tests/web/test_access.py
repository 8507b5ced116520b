"""Who may do what: logged-out visitors, viewers, CSRF, the login rate limit, sessions and languages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from logcenter.bugs.models import BugStatus
from logcenter.users import service as users_service
from tests.factories import make_bug, make_project, report_payload
from tests.web.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (from the board's meta tag)."""
    form = client.get("/login")
    token = CSRF.search(form.text).group(1)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    board = client.get("/")
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', board.text).group(1)


@pytest.fixture
def pending_bug(session):
    project = make_project(session, "rtc_backend")
    bug = make_bug(
        session, project, status=BugStatus.PENDING_REVIEW, pr_number=5, pr_url="https://g.example/p/5"
    )
    session.commit()
    return bug.id


@pytest.mark.parametrize("path", ["/", "/bugs/1", "/stats", "/projects", "/repairs", "/tokens"])
def test_logged_out_visits_redirect_to_login(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_htmx_request_of_a_logged_out_visitor_is_sent_to_login(client):
    response = client.get("/?partial=1", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers["HX-Redirect"].startswith("/login?next=/")


def test_viewer_sees_no_review_buttons_and_cannot_merge_or_reject(client, users, pending_bug):
    csrf = log_in(client, "victor")
    page = client.get(f"/bugs/{pending_bug}")
    assert page.status_code == 200
    assert "merge-btn" not in page.text and "reject-btn" not in page.text
    for action, data in (("merge", {}), ("reject", {"reason": "no"}), ("fail", {"reason": "no"})):
        response = client.post(f"/bugs/{pending_bug}/{action}", data={**data, "csrf_token": csrf})
        assert response.status_code == 403, action
        assert "only reviewers and admins" in response.text
    batch = client.post(
        "/bugs/batch", data={"action": "reject", "bug_ids": [pending_bug], "csrf_token": csrf}
    )
    assert batch.status_code == 403
    assert 'id="batch"' not in client.get("/").text
    assert client.get("/tokens").status_code == 403  # admins only
    with client.app.state.session_factory() as session:
        from logcenter.bugs.service import get_bug

        assert get_bug(session, pending_bug).status == BugStatus.PENDING_REVIEW


def test_posts_without_the_csrf_token_are_refused(client, users, pending_bug):
    csrf = log_in(client, "rita")
    for url, data in (
        (f"/bugs/{pending_bug}/reject", {"reason": "no"}),
        ("/bugs/batch", {"action": "reject", "bug_ids": str(pending_bug)}),
        ("/logout", {}),
    ):
        assert client.post(url, data=data).status_code == 403, url
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 403, url
    # Another session's token does not work either.
    other = TestClient(client.app)  # a second browser of the same (already started) app
    log_in(other, "ada")
    refused = other.post("/tokens", data={"name": "x", "scope": "agent", "csrf_token": csrf})
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text
    # With its token the same reviewer's POST goes through (to the workflow, which refuses an illegal move).
    response = client.post(f"/bugs/{pending_bug}/retry", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert "only a FAILED bug" in response.text


def test_the_login_form_needs_its_csrf_cookie(client, users):
    response = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": "x"})
    assert response.status_code == 403
    assert "lc_session" not in client.cookies


def test_session_cookie_flags_and_logout(client, users):
    form = client.get("/login")
    token = CSRF.search(form.text).group(1)
    response = client.post(
        "/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert "lc_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/").text).group(1)
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_passwords_are_rate_limited(client, users):
    for _ in range(10):
        form = client.get("/login")
        token = CSRF.search(form.text).group(1)
        response = client.post(
            "/login", data={"username": "rita", "password": "wrong pass", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
    form = client.get("/login")
    token = CSRF.search(form.text).group(1)
    response = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_a_username_locked_by_someone_else_still_lets_in_a_browser_that_logged_in_before(client, users):
    """OWASP's device cookie: ten wrong passwords for rita sent from elsewhere lock her username for browsers
    that never logged in as her (or forge the cookie), not for her own."""

    def attempt(browser: TestClient, password: str):
        token = CSRF.search(browser.get("/login").text).group(1)
        data = {"username": "rita", "password": password, "csrf_token": token}
        return browser.post("/login", data=data, follow_redirects=False)

    client.post("/logout", data={"csrf_token": log_in(client, "rita")})
    attacker = TestClient(client.app, client=("203.0.113.9", 50000))
    for _ in range(10):
        assert attempt(attacker, "wrong pass").status_code == 401
    stranger = TestClient(client.app, client=("198.51.100.7", 40000))
    assert attempt(stranger, PASSWORD).status_code == 429
    stranger.cookies.set("lc_device", "forged.0123abcd", path="/login")
    assert attempt(stranger, PASSWORD).status_code == 429
    assert attempt(client, PASSWORD).status_code == 303  # rita's own browser


def test_disabled_user_is_logged_out_and_cannot_log_in(client, users, db):
    log_in(client, "rita")
    with db.factory() as session:
        users_service.set_disabled(session, username="rita", disabled=True)
        session.commit()
    assert client.get("/", follow_redirects=False).status_code == 303
    form = client.get("/login")
    token = CSRF.search(form.text).group(1)
    response = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401


def test_no_open_redirect_after_login(client, users):
    form = client.get("/login")
    token = CSRF.search(form.text).group(1)
    response = client.post(
        "/login",
        data={"username": "rita", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_pages_send_a_csp_without_inline_scripts(client, users):
    log_in(client, "rita")
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in response.text  # every script is a file (data islands are type=application/json)
    assert response.headers["x-frame-options"] == "DENY"


def test_static_files_are_cached_and_vendored_with_integrity(client):
    page = client.get("/login")
    match = re.search(
        r'src="(/static/vendor/htmx\.min\.js\?v=[0-9a-f]+)" integrity="(sha384-[^"]+)"', page.text
    )
    assert match
    response = client.get(match.group(1))
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    import base64
    import hashlib

    assert match.group(2) == "sha384-" + base64.b64encode(hashlib.sha384(response.content).digest()).decode()


def test_language_from_accept_language_and_cookie(client):
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert "Log in" in client.get("/login", headers={"Accept-Language": "fr-FR, en;q=0.8"}).text
    client.get("/lang/zh_CN?next=/login")
    assert "登录" in client.get("/login", headers={"Accept-Language": "en"}).text


def test_saving_a_project_does_not_confirm_a_suggested_repository(client, users, admin_headers):
    report = report_payload(project_id="shop", repo_url="https://git.example.com/team/shop.git")
    assert client.post("/api/v1/logs/report", json=report).status_code == 200
    csrf = log_in(client, "ada")
    card = client.get("/projects").text
    assert "not confirmed" in card
    fields = {
        "repo_url": "https://git.example.com/team/shop.git",
        "test_command": "pytest -q",
        "csrf_token": csrf,
    }
    assert client.post("/projects/shop", data=fields).status_code == 200
    project = client.get("/api/v1/projects/shop", headers=admin_headers).json()
    assert (project["test_command"], project["repo_url_confirmed"]) == ("pytest -q", False)
    assert client.post("/projects/shop", data={**fields, "confirm_repo_url": "1"}).status_code == 200
    assert client.get("/api/v1/projects/shop", headers=admin_headers).json()["repo_url_confirmed"] is True
    assert "not confirmed" not in client.get("/projects").text


def test_a_page_that_does_not_exist_is_an_error_page_not_json(client, users):
    log_in(client, users["viewer"])
    for path, status in (("/nope", 404), ("/bugs/1/nothing", 404), ("/projects/rtc_backend", 405)):
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert f"Something went wrong <small>({status})</small>" in response.text, path
        assert "Back to the board" in response.text
    missing = client.get("/bugs/999")  # a page's own error carries its code too
    assert missing.status_code == 404 and "Something went wrong <small>(404)</small>" in missing.text
    assert "Bug 999 not found" in missing.text
    chinese = client.get("/nope", headers={"Accept-Language": "zh-CN"})
    assert "出错了" in chinese.text and "页面不存在" in chinese.text
    api = client.get("/api/nope")  # the API keeps answering JSON
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_pages_name_their_icon_and_the_browser_s_default_address_finds_it(client):
    page = client.get("/login")
    match = re.search(
        r'<link rel="icon" href="(/static/favicon\.svg\?v=[0-9a-f]+)" type="image/svg\+xml">', page.text
    )
    assert match
    icon = client.get(match.group(1))
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    default = client.get(
        "/favicon.ico", follow_redirects=False
    )  # asked for by browsers on pages without a link
    assert default.status_code == 301 and default.headers["location"] == "/static/favicon.svg"


def _page_routes(routes):
    """The app's routes, through included routers (FastAPI keeps them as wrappers of the router)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _page_routes(route.original_router.routes)
        elif getattr(route, "methods", None):
            yield route


def test_every_state_changing_page_refuses_a_request_without_the_csrf_token(client, users, pending_bug):
    # Walks the app's own routes, so a page added later is checked too.
    log_in(client, "ada")
    checked = []
    for route in _page_routes(client.app.router.routes):
        if route.path.startswith(("/api/", "/docs", "/redoc", "/openapi")):
            continue
        for method in sorted(route.methods - {"GET", "HEAD", "OPTIONS"}):
            url = re.sub(r"\{[^}]+\}", str(pending_bug), route.path)
            response = client.request(method, url, data={"reason": "no", "csrf_token": "forged"})
            assert response.status_code == 403, (method, route.path, response.status_code)
            checked.append(route.path)
    assert len(checked) >= 20 and "/bugs/{bug_id}/merge" in checked and "/tokens" in checked
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in: logout was refused


@pytest.mark.parametrize(
    "url", ["/?q=a%00b", "/?q=a%00b&partial=1", "/?environment=%00", "/repairs?project=%00"]
)
def test_a_nul_in_a_page_url_is_an_error_page_not_a_500(client, users, url):
    # PostgreSQL text cannot hold NUL, SQLite's full-text search read it as the end of its string: 500s.
    assert client.post("/api/v1/logs/report", json=report_payload()).status_code == 200
    log_in(client, "rita")
    response = client.get(url)
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "NUL" in response.text


def test_a_nul_in_a_form_is_an_error_page_not_a_500(client, users):
    csrf = log_in(client, "ada")
    response = client.post("/tokens", data={"name": "ci\x00", "scope": "agent", "csrf_token": csrf})
    assert response.status_code == 422
    assert "NUL" in response.text
    assert "ci" not in client.get("/tokens").text.split("<table", 1)[-1]  # no token was made
