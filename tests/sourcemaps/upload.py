"""sentry-cli's upload protocol spoken by hand, for bundles a test makes itself (a corrupt map, several
releases): chunk-upload options, chunks, assemble (sentry-cli's api/mod.rs and data_types/chunking)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.test_docs_js import NODE_MODULES

ESBUILD = NODE_MODULES / ".bin" / "esbuild"

CHECKOUT_TS = """\
export function applyCoupon(cart: { total: number }, code: string | undefined): number {
  if (!code) {
    throw new RangeError("No coupon code");
  }
  return cart.total - code.length;
}

(globalThis as any).checkout = (total: number) => applyCoupon({ total }, undefined);
"""


def minify(tmp_path: Path, source: str = CHECKOUT_TS) -> tuple[bytes, bytes]:
    """src/checkout.ts minified by esbuild with its source map: (app.js, app.js.map)."""
    (tmp_path / "src").mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / "checkout.ts").write_text(source)
    command = [
        str(ESBUILD),
        "src/checkout.ts",
        "--bundle",
        "--minify",
        "--sourcemap",
        "--outfile=dist/app.js",
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (tmp_path / "dist" / "app.js").read_bytes(), (tmp_path / "dist" / "app.js.map").read_bytes()


def throw_position(code: bytes) -> tuple[int, int]:
    """(line, column), 1-based as in a browser's stack, of `new RangeError` in the minified code."""
    for number, line in enumerate(code.decode().splitlines(), 1):
        column = line.find("new RangeError")
        if column >= 0:
            return number, column + 1
    raise AssertionError("no throw in the minified code")


def artifact_bundle(files: dict[str, tuple[str, bytes, dict[str, str]]], **meta: str) -> bytes:
    """A zip as sentry-cli writes it: url → (type, content, headers), listed in manifest.json."""
    out = io.BytesIO()
    manifest: dict[str, Any] = {"files": {}, **meta}
    with zipfile.ZipFile(out, "w") as archive:
        for index, (url, (file_type, content, headers)) in enumerate(files.items()):
            name = f"files/_/_/{index}-{url.rsplit('/', 1)[-1]}"
            archive.writestr(name, content)
            manifest["files"][name] = {"type": file_type, "url": url, "headers": headers}
        archive.writestr("manifest.json", json.dumps(manifest))
    return out.getvalue()


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - sentry-cli's content address


def upload(
    client: TestClient,
    headers: dict[str, str],
    bundle: bytes,
    projects: list[str],
    *,
    version: str | None = None,
    chunk_size: int | None = None,
    url: str = "/api/0/organizations/acme/artifactbundle/assemble/",
) -> dict[str, Any]:
    """Upload a bundle as sentry-cli does; the last assemble answer."""
    options = client.get("/api/0/organizations/acme/chunk-upload/", headers=headers)
    assert options.status_code == 200, options.text
    size = chunk_size or options.json()["chunkSize"]
    chunks = [bundle[i : i + size] for i in range(0, len(bundle), size)]
    request = {"checksum": sha1(bundle), "chunks": [sha1(c) for c in chunks], "projects": projects}
    if version:
        request["version"] = version
    first = client.post(url, json=request, headers=headers)
    assert first.status_code == 200, first.text
    if first.json()["state"] == "not_found":
        assert sorted(first.json()["missingChunks"]) == sorted(set(request["chunks"]))
        files = [("file", (sha1(c), c, "application/octet-stream")) for c in chunks]
        sent = client.post("/api/0/organizations/acme/chunk-upload/", files=files, headers=headers)
        assert sent.status_code == 200, sent.text
    done = client.post(url, json=request, headers=headers)
    assert done.status_code == 200, done.text
    answer: dict[str, Any] = done.json()
    return answer
