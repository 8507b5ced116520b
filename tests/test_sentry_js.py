"""@sentry/node, @sentry/browser and @sentry/react (the versions pinned in tests/js) as their users have them,
against a live Log Center: unhandled rejections (of Errors and of other values), uncaught exceptions,
`captureMessage`, errors with a `cause`, a minified bundle, React's ErrorBoundary, tracing, Session Replay,
check-ins, feedback and attachments (accepted, not bugs), the `tunnel` option, the deprecated /store/ endpoint
with the key in the query string or X-Sentry-Auth, and the quota's 429 as the browser SDK reads it, from pages
of another origin.

The packages and the esbuild/Chromium set-up are those of tests/test_docs_js.py.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from logcenter.main import create_app
from tests import test_docs_js
from tests.conftest import run_live_server
from tests.test_docs import bugs
from tests.test_docs_js import bundle, line_of, project_dsn

# The fixtures of the docs' JavaScript tests: node with tests/js's packages, and a site of another origin.
node_env = test_docs_js.node_env
site = test_docs_js.site


def run_node(script: str, tmp_path: Path, env: dict[str, str], dsn: str) -> None:
    (tmp_path / "app.js").write_text(script)
    done = subprocess.run(
        ["node", "app.js"],
        cwd=tmp_path,
        env={**env, "SENTRY_DSN": dsn},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def occurrence(api: httpx.Client, bug: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/api/v1/bugs/{bug['id']}").json()["occurrences"][0]
    return found


_NODE_INIT = (
    'const Sentry = require("@sentry/node");\n'
    # shutdownTimeout: how long the SDK waits to send a fatal error before it exits (2 s by default).
    'Sentry.init({ dsn: process.env.SENTRY_DSN, release: "api@2.0.0", shutdownTimeout: 10000 });\n'
)
_NODE_EXIT = "\nsetTimeout(() => Sentry.flush(10000).then((sent) => process.exit(sent ? 0 : 1)), 300);\n"


def test_node_unhandled_rejection(api, node_env, tmp_path):
    dsn = project_dsn(api, "api")
    script = (
        _NODE_INIT
        + (
            "async function loadInvoice(id) {\n"
            "  throw new RangeError(`invoice ${id} is out of range`);\n"
            "}\n\n"
            "loadInvoice(42);\n"
        )
        + _NODE_EXIT
    )
    run_node(script, tmp_path, node_env, dsn)
    [bug] = bugs(api, "api")
    assert (bug["error_type"], bug["message"]) == ("RangeError", "invoice 42 is out of range")
    assert (bug["file_path"], bug["line_number"]) == (
        str(tmp_path / "app.js"),
        line_of(script, "  throw new RangeError(`invoice ${id} is out of range`);"),
    )
    data = occurrence(api, bug)["data"]
    assert data["mechanism"]["type"] == "auto.node.onunhandledrejection"
    assert data["mechanism"]["handled"] is False
    assert bug["version"] == "api@2.0.0"


def test_node_capture_message(api, node_env, tmp_path):
    dsn = project_dsn(api, "api")
    script = (
        _NODE_INIT
        + (
            'Sentry.captureMessage("Payment provider slow: 2300 ms", "warning");\n'
            'Sentry.captureMessage("Payment provider slow: 4100 ms", "warning");\n'
        )
        + _NODE_EXIT
    )
    run_node(script, tmp_path, node_env, dsn)
    [bug] = bugs(api, "api")
    assert (bug["error_type"], bug["level"], bug["occurrence_count"]) == ("Message", "WARNING", 2)
    assert bug["message"] == "Payment provider slow: 4100 ms"


def test_node_error_with_a_cause_is_one_bug_at_the_newest_error_with_the_chain_in_its_trace(
    api, node_env, tmp_path
):
    dsn = project_dsn(api, "api")
    script = (
        _NODE_INIT
        + (
            "function readConfig() {\n"
            '  return JSON.parse("{oops");\n'
            "}\n\n"
            "function boot() {\n"
            "  try {\n"
            "    readConfig();\n"
            "  } catch (err) {\n"
            '    throw new Error("Boot failed", { cause: err });\n'
            "  }\n"
            "}\n\n"
            "try {\n  boot();\n} catch (err) {\n  Sentry.captureException(err);\n}\n"
        )
        + _NODE_EXIT
    )
    run_node(script, tmp_path, node_env, dsn)
    [bug] = bugs(api, "api")
    assert (bug["error_type"], bug["message"]) == ("Error", "Boot failed")
    assert bug["line_number"] == line_of(script, '    throw new Error("Boot failed", { cause: err });')
    trace = bug["stack_trace"]
    # The cause (oldest) comes first, as in Python's chained tracebacks, and the raised error last.
    assert (
        trace.index("SyntaxError")
        < trace.index("The above exception was the direct cause")
        < trace.index("Error: Boot failed")
    )
    assert trace.endswith("Error: Boot failed")


def browser_bug(node_env, browser, site, tmp_path, init: str, app: str, minify: bool) -> Any:
    """Bundle `init` + `app` (TypeScript defining window.run) for a page of another origin, run it, and return
    the origin, the bundle, the requests the SDK made and their answers' statuses."""
    (tmp_path / "main.ts").write_text('import * as Sentry from "@sentry/browser";\n' + init + app)
    root, origin = site
    out = root / "app.js"
    command_defines = {"import.meta.env.MODE": '"production"'}
    bundle(tmp_path / "main.ts", out, node_env, command_defines)
    if minify:
        esbuild = Path(node_env["NODE_PATH"]) / ".bin" / "esbuild"
        done = subprocess.run(
            [
                str(esbuild),
                str(out),
                "--minify",
                f"--outfile={out}",
                "--allow-overwrite",
                "--log-level=error",
            ],
            env=node_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    (root / "index.html").write_text('<!doctype html><script src="app.js"></script><title>shop</title>')
    page = browser.new_page()
    sent: list[Any] = []
    statuses: list[int] = []
    refused: list[str] = []
    try:
        page.on("request", lambda request: sent.append(request) if "/api/" in request.url else None)
        page.on(
            "response", lambda response: statuses.append(response.status) if "/api/" in response.url else None
        )
        page.on("requestfailed", lambda request: refused.append(request.url))
        page.goto(f"{origin}/index.html")
        assert page.evaluate("run()") is True
    finally:
        page.close()
    assert refused == []
    return origin, out.read_text(), sent, statuses


_BROWSER_APP = (
    "function applyCoupon(code: string | undefined): number {\n  return code!.length;\n}\n\n"
    "(window as any).run = async (): Promise<boolean> => {\n"
    "  try {\n    applyCoupon(undefined);\n  } catch (err) {\n"
    '    Sentry.captureException(new Error("Checkout failed", { cause: err }));\n  }\n'
    '  Sentry.captureMessage("Coupon service slow");\n'
    "  return Sentry.flush(10000);\n};\n"
)


def test_browser_minified_bundle_from_another_origin(api, node_env, browser, site, tmp_path):
    dsn = project_dsn(api, "web")
    init = f'Sentry.init({{ dsn: "{dsn}", release: "web@3.1.0" }});\n'
    origin, code, sent, _ = browser_bug(node_env, browser, site, tmp_path, init, _BROWSER_APP, True)
    # The key travels in the query string, the body as text/plain: no CORS preflight is needed.
    assert all("sentry_key=" in request.url and "sentry_version=7" in request.url for request in sent)
    assert {request.headers.get("content-type") for request in sent} == {"text/plain;charset=UTF-8"}
    found = {bug["error_type"]: bug for bug in bugs(api, "web")}
    assert set(found) == {"Error", "Message"}
    error = found["Error"]
    [line] = [number for number, text in enumerate(code.splitlines(), 1) if "Checkout failed" in text]
    assert (error["message"], error["file_path"], error["line_number"]) == (
        "Checkout failed",
        f"{origin}/app.js",
        line,
    )
    # On a minified line, only the column tells where: it is in the trace, for people and the repair agent.
    column = code.splitlines()[line - 1].index('new Error("Checkout failed"') + 1
    assert (
        f'app.js", line {line}, column {column}, in window.run\nError: Checkout failed'
        in error["stack_trace"]
    )
    assert "TypeError: Cannot read properties of undefined (reading 'length')" in error["stack_trace"]
    assert found["Message"]["message"] == "Coupon service slow"


def test_browser_through_the_tunnel_option(api, live_server, node_env, browser, site, tmp_path):
    """`tunnel` sends the envelope, its `dsn` header inside, to the URL given, without the query string."""
    dsn = project_dsn(api, "web")
    project_id = dsn.rsplit("/", 1)[1]
    tunnel = f"{live_server.url}/api/{project_id}/envelope/"
    init = f'Sentry.init({{ dsn: "{dsn}", tunnel: "{tunnel}" }});\n'
    _, _, sent, _ = browser_bug(node_env, browser, site, tmp_path, init, _BROWSER_APP, False)
    assert {request.url for request in sent} == {tunnel}
    assert {bug["error_type"] for bug in bugs(api, "web")} == {"Error", "Message"}


def test_the_store_endpoint_from_a_browser_with_query_string_or_header_auth(api, live_server, browser, site):
    """Older browser SDKs (raven-js, @sentry/browser before envelopes) POST one JSON event to /store/, with
    the key in the query string or in X-Sentry-Auth; a JSON content type and the header need a preflight."""
    dsn = project_dsn(api, "web")
    key, project_id = dsn.split("//")[1].split("@")[0], dsn.rsplit("/", 1)[1]
    store = f"{live_server.url}/api/{project_id}/store/"
    root, origin = site
    (root / "index.html").write_text("<!doctype html><title>shop</title>")
    bundle_url = f"{origin}/app.min.js"
    frame = {"filename": bundle_url, "abs_path": bundle_url, "lineno": 1, "colno": 4242, "function": "n"}
    event = {
        "platform": "javascript",
        "exception": {
            "values": [{"type": "TypeError", "value": "e is undefined", "stacktrace": {"frames": [frame]}}]
        },
        "request": {"url": f"{origin}/index.html", "headers": {"User-Agent": "Chromium"}},
    }
    page = browser.new_page()
    try:
        page.goto(f"{origin}/index.html")
        answers = page.evaluate(
            """async ([store, key, event]) => {
                const send = async (url, headers) => {
                    const body = JSON.stringify(event);
                    const response = await fetch(url, { method: "POST", body, headers });
                    return [response.status, await response.json()];
                };
                return [
                    await send(`${store}?sentry_version=7&sentry_key=${key}&sentry_client=raven-js/3.27.2`,
                               { "Content-Type": "text/plain;charset=UTF-8" }),
                    await send(store, {
                        "Content-Type": "application/json",
                        "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=raven-js/3.27.2, `
                            + `sentry_key=${key}`,
                    }),
                ];
            }""",
            [store, key, event],
        )
    finally:
        page.close()
    assert [status for status, _ in answers] == [200, 200]
    assert all(len(body["id"]) == 32 for _, body in answers)
    [bug] = bugs(api, "web")
    assert (bug["error_type"], bug["file_path"], bug["line_number"], bug["occurrence_count"]) == (
        "TypeError",
        f"{origin}/app.min.js",
        1,
        2,
    )
    assert bug["context"]["url"] == f"{origin}/index.html"


def test_react_error_boundary(api, node_env, browser, site, tmp_path):
    """@sentry/react's ErrorBoundary reports a render error with the component stack as its `cause`."""
    dsn = project_dsn(api, "web")
    (tmp_path / "main.tsx").write_text(
        'import * as React from "react";\n'
        'import { createRoot } from "react-dom/client";\n'
        'import * as Sentry from "@sentry/react";\n\n'
        f'Sentry.init({{ dsn: "{dsn}", release: "web@3.1.0" }});\n\n'
        "function Basket({ items }: { items?: string[] }) {\n"
        "  return <ul>{items!.map((item) => <li key={item}>{item}</li>)}</ul>;\n"
        "}\n\n"
        "(window as any).run = async (): Promise<boolean> => {\n"
        '  const root = createRoot(document.getElementById("app")!);\n'
        "  root.render(\n"
        "    <Sentry.ErrorBoundary fallback={<p>Sorry</p>}>\n"
        "      <Basket />\n"
        "    </Sentry.ErrorBoundary>,\n"
        "  );\n"
        "  await new Promise((resolve) => setTimeout(resolve, 200));\n"
        "  return Sentry.flush(10000);\n"
        "};\n"
    )
    root, origin = site
    bundle(tmp_path / "main.tsx", root / "app.js", node_env, {"process.env.NODE_ENV": '"production"'})
    (root / "index.html").write_text('<!doctype html><div id="app"></div><script src="app.js"></script>')
    page = browser.new_page()
    try:
        page.goto(f"{origin}/index.html")
        assert page.evaluate("run()") is True
        assert page.inner_text("#app") == "Sorry"
    finally:
        page.close()
    [bug] = bugs(api, "web")
    assert (bug["error_type"], bug["message"]) == (
        "TypeError",
        "Cannot read properties of undefined (reading 'map')",
    )
    code = (root / "app.js").read_text()
    [line] = [number for number, text in enumerate(code.splitlines(), 1) if "items.map(" in text]
    assert (bug["file_path"], bug["line_number"]) == (f"{origin}/app.js", line)
    # The component stack (the cause) first, then the error React caught, raised in Basket.
    trace = bug["stack_trace"]
    assert trace.index("in Basket\nReact ErrorBoundary TypeError") < trace.index("direct cause")
    assert trace.endswith(
        f"line {line}, column {code.splitlines()[line - 1].index('items.map(') + 7}, in Basket\n"
        "TypeError: Cannot read properties of undefined (reading 'map')"
    )
    assert occurrence(api, bug)["data"]["contexts"]["react"] == {"version": "19.3.1"}


def test_node_rejections_with_values_that_are_not_errors(api, node_env, tmp_path):
    dsn = project_dsn(api, "api")
    script = (
        _NODE_INIT
        + 'Promise.reject({ code: "E_QUOTA", detail: "monthly quota reached" });\n'
        + 'Promise.reject("socket hang up");\n'
        + _NODE_EXIT
    )
    run_node(script, tmp_path, node_env, dsn)
    # The SDK makes an Error of each value where it caught it, in its own code: not where the bug is.
    found = {bug["message"]: bug for bug in bugs(api, "api")}
    assert set(found) == {"Object captured as exception with keys: code, detail", "socket hang up"}
    for bug in found.values():
        assert (bug["error_type"], bug["file_path"], bug["line_number"]) == ("Error", None, None)
        assert occurrence(api, bug)["data"]["mechanism"]["synthetic"] is True


def test_node_uncaught_exception_is_a_fatal_crash(api, node_env, tmp_path):
    dsn = project_dsn(api, "api")
    script = _NODE_INIT + (
        "function parsePort(value) {\n"
        "  if (!/^[0-9]+$/.test(value)) throw new TypeError(`bad port ${value}`);\n"
        "  return Number(value);\n"
        "}\n\n"
        'setTimeout(() => parsePort("http"), 10);\n'
    )
    (tmp_path / "app.js").write_text(script)
    done = subprocess.run(
        ["node", "app.js"], cwd=tmp_path, env={**node_env, "SENTRY_DSN": dsn}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # the SDK exits as Node would, after sending
    [bug] = bugs(api, "api")
    assert (bug["error_type"], bug["message"], bug["level"]) == ("TypeError", "bad port http", "CRITICAL")
    assert bug["line_number"] == line_of(
        script, "  if (!/^[0-9]+$/.test(value)) throw new TypeError(`bad port ${value}`);"
    )
    assert occurrence(api, bug)["data"]["mechanism"] == {
        "type": "auto.node.onuncaughtexception",
        "handled": False,
    }


_GLOBAL_HANDLERS_APP = (
    "function loadPrices(): void {\n"
    '  throw new RangeError("price list is empty");\n'
    "}\n\n"
    "const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));\n\n"
    "(window as any).run = async (): Promise<boolean> => {\n"
    '  Promise.reject(new Error("basket sync failed"));\n'
    '  Promise.reject("offline");\n'
    '  Promise.reject("timed out after 30 s");\n'
    '  Promise.reject("timed out after 60 s");\n'
    "  await later(100);\n"
    # The SDK ignores global errors for a moment after one of the callbacks it wraps threw: last.
    "  setTimeout(loadPrices, 0);\n"
    "  await later(100);\n"
    "  return Sentry.flush(10000);\n"
    "};\n"
)


def test_browser_uncaught_errors_and_unhandled_rejections(api, node_env, browser, site, tmp_path):
    dsn = project_dsn(api, "web")
    init = f'Sentry.init({{ dsn: "{dsn}" }});\n'
    origin, code, _, _ = browser_bug(node_env, browser, site, tmp_path, init, _GLOBAL_HANDLERS_APP, False)
    found = {bug["message"]: bug for bug in bugs(api, "web")}
    non_error = "Non-Error promise rejection captured with value: "
    assert set(found) == {
        "price list is empty",
        "basket sync failed",
        non_error + "offline",
        non_error + "timed out after 60 s",  # and 30 s: one bug, numbers masked as in messages
    }
    lines = code.splitlines()
    for message, text in (
        ("price list is empty", "price list is empty"),
        ("basket sync failed", "basket sync"),
    ):
        [line] = [number for number, source in enumerate(lines, 1) if text in source]
        assert (found[message]["file_path"], found[message]["line_number"]) == (f"{origin}/app.js", line)
    for value in ("offline", "timed out after 60 s"):
        bug = found[non_error + value]
        assert (bug["error_type"], bug["file_path"], bug["occurrence_count"]) == (
            "UnhandledRejection",
            None,
            1 if value == "offline" else 2,
        )
    mechanism = occurrence(api, found["price list is empty"])["data"]["mechanism"]
    assert mechanism == {"type": "auto.browser.browserapierrors.setTimeout", "handled": False}


def test_node_spans_feedback_attachments_and_check_ins_are_accepted_and_not_bugs(api, node_env, tmp_path):
    """With `debug: true` the SDK logs every answer that is not 2xx ("Sentry responded with status code"):
    none may be, whatever the item type."""
    dsn = project_dsn(api, "api")
    script = (
        'const Sentry = require("@sentry/node");\n'
        "Sentry.init({ dsn: process.env.SENTRY_DSN, tracesSampleRate: 1.0, debug: true });\n\n"
        'Sentry.startSpan({ name: "nightly-report", op: "task" }, () => {\n'
        '  Sentry.startSpan({ name: "SELECT 1", op: "db" }, () => {});\n'
        "});\n"
        'const checkIn = Sentry.captureCheckIn({ monitorSlug: "nightly", status: "in_progress" });\n'
        'Sentry.captureCheckIn({ checkInId: checkIn, monitorSlug: "nightly", status: "ok" });\n'
        'Sentry.captureFeedback({ message: "The basket emptied itself", email: "ana@example.com" });\n'
        'Sentry.getIsolationScope().addAttachment({ filename: "cart.json", data: \'{"items": []}\' });\n'
        'Sentry.captureException(new Error("basket lost"));\n'
        "Sentry.getIsolationScope().clearAttachments();\n"
        'Sentry.logger.info("checkout done");\n' + _NODE_EXIT
    )
    (tmp_path / "app.js").write_text(script)
    done = subprocess.run(
        ["node", "app.js"], cwd=tmp_path, env={**node_env, "SENTRY_DSN": dsn}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "responded with status code" not in output
    [bug] = bugs(api, "api")
    assert (bug["error_type"], bug["message"], bug["occurrence_count"]) == ("Error", "basket lost", 1)


def test_browser_session_replay_and_tracing_are_accepted_and_not_bugs(api, node_env, browser, site, tmp_path):
    """What the Sentry wizard sets up for a web app: tracing and Session Replay, whose recording (a binary
    item) is sent when an error happens."""
    dsn = project_dsn(api, "web")
    (tmp_path / "main.ts").write_text(
        'import * as Sentry from "@sentry/browser";\n'
        f'Sentry.init({{ dsn: "{dsn}", tracesSampleRate: 1.0, replaysSessionSampleRate: 0, '
        "replaysOnErrorSampleRate: 1.0,\n"
        "  integrations: [Sentry.browserTracingIntegration(),\n"
        "                 Sentry.replayIntegration({ flushMinDelay: 50, flushMaxDelay: 200 })] });\n"
        "(window as any).run = (): void => {\n"
        '  document.body.append("checking out");\n'
        '  Sentry.captureException(new Error("payment declined"));\n'
        "};\n"
    )
    root, _ = site
    bundle(tmp_path / "main.ts", root / "app.js", node_env, {})
    (root / "index.html").write_text('<!doctype html><script src="app.js"></script><title>shop</title>')
    answers: list[tuple[list[str], int]] = []

    def answered(response: Any) -> None:
        if "/api/" in response.url:
            body = response.request.post_data_buffer or b""
            answers.append(
                ([t.decode() for t in re.findall(rb'\{"type":"([a-z_]+)"', body)], response.status)
            )

    page = browser.new_page()
    try:
        page.on("response", answered)
        page.goto(f"{site[1]}/index.html")
        page.evaluate("run()")
        deadline = time.monotonic() + 20
        while not any("replay_recording" in types for types, _ in answers) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
    finally:
        page.close()
    types = {t for sent, _ in answers for t in sent}
    assert {"event", "replay_event", "replay_recording"} <= types, answers
    assert all(status == 200 for _, status in answers), answers
    [bug] = bugs(api, "web")
    assert (bug["error_type"], bug["message"], bug["occurrence_count"]) == ("Error", "payment declined", 1)


def test_the_browser_sdk_backs_off_on_the_quotas_429(
    api, live_server, settings, node_env, browser, site, tmp_path
):
    """Over the project's quota Log Center answers 429 with X-Sentry-Rate-Limits and Retry-After, exposed to
    pages of other origins (CORS): the SDK stops sending for that long."""
    dsn = project_dsn(api, "web")
    limited = create_app(settings.model_copy(update={"project_quota_per_minute": 1}))
    for url, _ in run_live_server(limited):
        limited_dsn = dsn.replace(live_server.url.split("//")[1], url.split("//")[1])
        init = f'Sentry.init({{ dsn: "{limited_dsn}" }});\n'
        app = (
            "(window as any).run = async (): Promise<boolean> => {\n"
            "  for (const n of [1, 2, 3, 4]) {\n"
            "    Sentry.captureException(new Error(`declined ${n}`));\n"
            "    await Sentry.flush(5000);\n"
            "  }\n"
            "  return true;\n"
            "};\n"
        )
        _, _, sent, statuses = browser_bug(node_env, browser, site, tmp_path, init, app, False)
        assert len(sent) == 2
        # The first is stored, the second refused with the rate limits; the SDK sends nothing more.
        assert statuses == [200, 429], statuses
        # How long it waits it reads from the headers, which a page of another origin sees only if exposed
        # (else the SDK assumes 60 s): read them as it does.
        page = browser.new_page()
        try:
            page.goto(f"{site[1]}/index.html")
            seen = page.evaluate(
                """async (url) => {
                    const answer = await fetch(url, { method: "POST", body: '{}\\n{"type":"event"}\\n{}' });
                    const header = (name) => answer.headers.get(name);
                    return [answer.status, header("x-sentry-rate-limits"), header("retry-after")];
                }""",
                sent[0].url,
            )
        finally:
            page.close()
        assert seen[0] == 429 and seen[2] is not None and seen[1] == f"{seen[2]}::project", seen
    assert [bug["message"] for bug in bugs(api, "web")] == ["declined 1"]
