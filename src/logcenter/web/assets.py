"""Static files with cache headers, versioned URLs and Subresource Integrity for the vendored files."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles as _StaticFiles
from starlette.types import Scope

ROOT = Path(__file__).parent / "static"


class StaticFiles(_StaticFiles):
    """A file asked for with its content hash (`?v=`, as pages link it) never changes: cached for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
            )
        return response


@cache
def _digest(name: str) -> bytes:
    return hashlib.sha384((ROOT / name).read_bytes()).digest()


def static_url(name: str) -> str:
    return f"/static/{name}?v={_digest(name).hex()[:12]}"


def integrity(name: str) -> str:
    return "sha384-" + base64.b64encode(_digest(name)).decode()
