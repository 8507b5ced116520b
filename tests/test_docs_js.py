"""docs/integration.md's JavaScript and TypeScript examples, run for real against a live server.

- `@sentry/node` in Node.js, with the DSN the project API shows;
- `@sentry/browser` in Chromium, bundled with esbuild as an app's build would, on a page of another origin
  than Log Center's (so the CORS answers of the Sentry endpoints are what lets the event through);
- the plain-REST `reportError` (TypeScript), in Chromium from another origin too, which posts with
  `navigator.sendBeacon`.

The npm packages are pinned in tests/js (`make test` installs them); Chromium is Debian's (`make test`
installs it with apt-get), driven by Playwright. The examples are taken from the docs as they are written;
only the address, the DSN placeholder and Vite's `import.meta.env` (esbuild `--define`) are filled in.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_docs import DOC_DSN, DOC_URL, bugs, example

JS = Path(__file__).resolve().parent / "js"
NODE_MODULES = JS / "node_modules"
ESBUILD = NODE_MODULES / ".bin" / "esbuild"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def node_env() -> dict[str, str]:
    """The environment for node and esbuild: tests/js's packages resolve from any directory."""
    if not ESBUILD.exists():
        pytest.fail(f"{NODE_MODULES} is missing: run `make test` (it runs `npm ci` in tests/js)")
    return {**os.environ, "NODE_PATH": str(NODE_MODULES)}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static web server for tmp_path/site on its own port: an origin other than the live server's."""
    root = tmp_path / "site"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def bundle(entry: Path, out: Path, env: dict[str, str], defines: dict[str, str]) -> None:
    """Bundle an entry module the way a Vite or webpack build would, for the browser."""
    command = [str(ESBUILD), str(entry), "--bundle", "--format=iife", f"--outfile={out}", "--log-level=error"]
    command += [f"--define:{name}={value}" for name, value in defines.items()]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def project_dsn(api: httpx.Client, slug: str) -> str:
    api.post("/api/v1/projects", json={"project_id": slug}).raise_for_status()
    dsn: str = api.get(f"/api/v1/projects/{slug}").json()["dsn"]
    return dsn


def line_of(code: str, text: str) -> int:
    return code.splitlines().index(text) + 1


def test_the_sentry_node_example(api, node_env, tmp_path):
    dsn = project_dsn(api, "rtc_backend")
    code = example("js", 'require("@sentry/node")')
    script = code + (
        "\nfunction checkout(cart) {\n  return cart.items.length;\n}\n\n"
        "try {\n  checkout(undefined);\n} catch (err) {\n  Sentry.captureException(err);\n}\n"
        "Sentry.flush(10000).then((sent) => process.exit(sent ? 0 : 1));\n"
    )
    (tmp_path / "checkout.js").write_text(script)
    env = {**node_env, "SENTRY_DSN": dsn, "NODE_ENV": "production"}
    done = subprocess.run(
        ["node", "checkout.js"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [bug] = bugs(api, "rtc_backend")
    assert (bug["error_type"], bug["message"]) == (
        "TypeError",
        "Cannot read properties of undefined (reading 'items')",
    )
    assert (bug["file_path"], bug["line_number"]) == (
        str(tmp_path / "checkout.js"),
        line_of(script, "  return cart.items.length;"),
    )
    assert bug["environment"] == "production" and bug["occurrence_count"] == 1
    assert "in checkout\n    return cart.items.length;" in bug["stack_trace"]


def test_the_sentry_browser_example_from_another_origin(api, node_env, browser, site, tmp_path):
    dsn = project_dsn(api, "rtc_web")
    code = example("ts", 'from "@sentry/browser"')
    assert DOC_DSN in code
    entry = code.replace(DOC_DSN, dsn) + (
        "\nfunction applyCoupon(code: string | undefined): number {\n  return code!.length;\n}\n\n"
        "(window as any).checkout = async (): Promise<boolean> => {\n"
        "  try {\n    applyCoupon(undefined);\n  } catch (err) {\n    Sentry.captureException(err);\n  }\n"
        "  return Sentry.flush(10000);\n};\n"
    )
    (tmp_path / "main.ts").write_text(entry)
    root, origin = site
    bundle(tmp_path / "main.ts", root / "app.js", node_env, {"import.meta.env.MODE": '"production"'})
    (root / "index.html").write_text('<!doctype html><script src="app.js"></script><title>shop</title>')

    page = browser.new_page()
    try:
        refused: list[str] = []
        page.on("requestfailed", lambda request: refused.append(request.url))
        page.goto(f"{origin}/index.html")
        assert page.evaluate("checkout()") is True  # the SDK sent what it had queued
    finally:
        page.close()
    assert refused == []
    [bug] = bugs(api, "rtc_web")
    assert (bug["error_type"], bug["message"]) == (
        "TypeError",
        "Cannot read properties of undefined (reading 'length')",
    )
    assert bug["file_path"] == f"{origin}/app.js"
    assert (bug["environment"], bug["version"]) == ("production", "rtc_web@1.2.3")
    assert "in applyCoupon" in bug["stack_trace"]


def test_the_typescript_report_error_example_from_another_origin(
    api, live_server, node_env, browser, site, tmp_path
):
    code = example("ts", "export function reportError(")
    (tmp_path / "report.ts").write_text(code.replace(DOC_URL, live_server.url))
    (tmp_path / "main.ts").write_text(
        'import { reportError } from "./report";\n\n'
        "function loadCart(text: string): number {\n  return JSON.parse(text).items;\n}\n\n"
        "(window as any).checkout = (): void => {\n"
        '  try {\n    loadCart("not json");\n'
        '  } catch (err) {\n    reportError(err as Error, { cart: "c_1" });\n  }\n'
        "};\n"
    )
    root, origin = site
    # Vite's variables: the mode, and no VITE_LOG_CENTER_URL, so that the example's default address is used.
    defines = {"import.meta.env.MODE": '"production"', "import.meta.env.VITE_LOG_CENTER_URL": "undefined"}
    bundle(tmp_path / "main.ts", root / "app.js", node_env, defines)
    (root / "index.html").write_text('<!doctype html><script src="app.js"></script><title>shop</title>')

    page = browser.new_page()
    try:
        page.goto(f"{origin}/index.html")
        with page.expect_request(f"{live_server.url}/api/v1/logs/report") as sent:
            page.evaluate("checkout()")
        assert sent.value.post_data_json["project_id"] == "rtc_web"
    finally:
        page.close()
    # sendBeacon does not let the page see the answer: ask the API until the report is there.
    deadline = time.monotonic() + 10
    while not (found := bugs(api, "rtc_web")) and time.monotonic() < deadline:
        time.sleep(0.05)
    [bug] = found
    assert (bug["error_type"], bug["file_path"]) == ("SyntaxError", "/app.js")
    assert bug["line_number"] == line_of((root / "app.js").read_text(), "    return JSON.parse(text).items;")
    assert bug["message"].startswith("Unexpected token")
    assert (bug["environment"], bug["context"]["url"], bug["context"]["cart"]) == (
        "production",
        f"{origin}/index.html",
        "c_1",
    )
