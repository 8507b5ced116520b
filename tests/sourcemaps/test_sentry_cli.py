"""Source maps end to end: a React app bundled and minified by esbuild, its maps uploaded by the real
`@sentry/cli`, and a real error from that bundle sent by `@sentry/browser` in Chromium. The bug must show the
original file and line, src/components/UserList.tsx:42, as the repair agent needs them.

The npm packages are pinned in tests/js (`make test` runs `npm ci` there); Chromium is Debian's.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.test_docs import bugs
from tests.test_docs_js import NODE_MODULES, project_dsn

APP = Path(__file__).resolve().parent / "app"
ESBUILD = NODE_MODULES / ".bin" / "esbuild"
SENTRY_CLI = NODE_MODULES / ".bin" / "sentry-cli"
THROW_LINE = "  throw new TypeError(message);"


def build(app: Path, env: dict[str, str], dsn: str, release: str) -> str:
    """The production build: one minified bundle with its source map, as `vite build` makes it."""
    command = [
        str(ESBUILD),
        "src/main.tsx",
        "--bundle",
        "--minify",
        "--sourcemap",
        "--jsx=automatic",
        "--format=iife",
        "--outdir=dist",
        "--log-level=error",
        '--define:process.env.NODE_ENV="production"',
        f'--define:__SENTRY_DSN__="{dsn}"',
        f'--define:__RELEASE__="{release}"',
    ]
    done = subprocess.run(command, cwd=app, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code = (app / "dist" / "main.js").read_text()
    assert "describeMissing" not in code  # minified: the original names are gone
    return code


def sentry_cli(args: list[str], env: dict[str, str], server: str, token: str, cwd: Path) -> str:
    cli_env = {
        **env,
        "SENTRY_URL": server,
        "SENTRY_AUTH_TOKEN": token,
        "SENTRY_ORG": "any-org",
        "SENTRY_LOG_LEVEL": "info",
    }
    done = subprocess.run(
        [str(SENTRY_CLI), *args], cwd=cwd, env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def copy_app(tmp_path: Path, root: Path) -> Path:
    """The app in the served folder, as a project's checkout: its map's sources are `../src/...`."""
    app = root
    shutil.copytree(APP / "src", app / "src")
    shutil.copy(APP / "index.html", app / "index.html")
    return app


def crash_in_browser(browser: Any, origin: str) -> None:
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{origin}/index.html")
        page.wait_for_function("() => typeof window.flush === 'function'")
        deadline = time.monotonic() + 15
        while not errors and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert errors and "has no profile" in errors[0], errors
        assert page.evaluate("flush()") is True  # the SDK sent what it had queued
    finally:
        page.close()


def the_bug(api: httpx.Client, slug: str) -> dict[str, Any]:
    [bug] = bugs(api, slug)
    return bug


def occurrence_data(api: httpx.Client, bug_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/bugs/{bug_id}")
    assert response.status_code == 200, response.text
    [occurrence] = response.json()["occurrences"]
    data: dict[str, Any] = occurrence["data"]
    return data


def test_debug_id_bundle_uploaded_by_sentry_cli_resolves_a_browser_error(
    api, live_server, node_env, browser, site, upload_token
):
    root, origin = site
    app = copy_app(root.parent, root)
    dsn = project_dsn(api, "users_web")
    build(app, node_env, dsn, "users_web@2.0.0")
    injected = sentry_cli(["sourcemaps", "inject", "dist"], node_env, live_server.url, upload_token, app)
    assert "debug" in injected.lower()
    uploaded = sentry_cli(
        ["sourcemaps", "upload", "--project", "users_web", "dist"],
        node_env,
        live_server.url,
        upload_token,
        app,
    )
    assert "main.js" in uploaded

    crash_in_browser(browser, origin)

    bug = the_bug(api, "users_web")
    source = (APP / "src" / "components" / "UserList.tsx").read_text()
    assert source.splitlines().index(THROW_LINE) + 1 == 42
    assert (bug["error_type"], bug["message"]) == ("TypeError", "User 3 has no profile")
    assert (bug["file_path"], bug["line_number"]) == ("src/components/UserList.tsx", 42)
    assert 'File "src/components/UserList.tsx", line 42' in bug["stack_trace"]
    assert THROW_LINE.strip() in bug["stack_trace"]  # the original line as context
    assert "node_modules/react-dom" in bug["stack_trace"]  # React's own frames are resolved too
    data = occurrence_data(api, bug["id"])
    assert f"{origin}/dist/main.js" in data["raw_stacktrace"]  # the minified frame stays available
    assert "main.js" not in bug["stack_trace"]  # every frame resolved, React's too


def test_release_and_url_upload_resolves_a_browser_error_and_no_map_is_no_failure(
    api, live_server, node_env, browser, site, upload_token
):
    """The older naming: no debug ids, files uploaded for a release under `~/dist/...` (sentry-cli
    `sourcemaps upload --release`, as `releases files upload-sourcemaps` did)."""
    root, origin = site
    app = copy_app(root.parent, root)
    dsn = project_dsn(api, "users_web")
    build(app, node_env, dsn, "users_web@2.0.0")

    crash_in_browser(browser, origin)  # before the upload: the minified frame, and no failure
    before = the_bug(api, "users_web")
    assert before["file_path"] == f"{origin}/dist/main.js"
    assert before["message"] == "User 3 has no profile"

    uploaded = sentry_cli(
        ["sourcemaps", "upload", "--project", "users_web", "--release", "users_web@2.0.0", "--url-prefix",
         "~/dist", "dist"],
        node_env, live_server.url, upload_token, app,
    )  # fmt: skip
    assert "~/dist/main.js" in uploaded

    crash_in_browser(browser, origin)
    after = [bug for bug in bugs(api, "users_web") if bug["id"] != before["id"]]
    assert [(bug["file_path"], bug["line_number"]) for bug in after] == [("src/components/UserList.tsx", 42)]
    assert (after[0]["version"], after[0]["error_type"]) == ("users_web@2.0.0", "TypeError")
