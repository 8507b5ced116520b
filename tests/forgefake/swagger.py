"""Gitea's real swagger (shared/forge-contracts/gitea/swagger.v1.json) as a validator for the fake's requests
and responses, so the fake cannot drift from the API it stands for.

Swagger 2.0 has no `nullable`; Gitea serialises Go pointer fields (`*time.Time`, `*User`, `*string`) as
`null`, so a `$ref`, a date-time or one of the few pointer strings may be null. Everything else is checked as
written.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

CONTRACTS = Path("/work/shared/forge-contracts")
SWAGGER = CONTRACTS / "gitea" / "swagger.v1.json"
POINTER_STRINGS = {"merge_commit_sha"}


def _nullable(schema: Any, name: str | None = None) -> Any:
    if isinstance(schema, dict):
        out = {k: _nullable(v) for k, v in schema.items() if k != "properties"}
        if "properties" in schema:
            out["properties"] = {k: _nullable(v, k) for k, v in schema["properties"].items()}
        if name is not None and (
            "$ref" in schema or schema.get("format") == "date-time" or name in POINTER_STRINGS
        ):
            return {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(schema, list):
        return [_nullable(v) for v in schema]
    return schema


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return json.loads(SWAGGER.read_text())


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    return _nullable(copy.deepcopy(spec()["definitions"]))


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    return Draft4Validator({**schema, "definitions": _definitions()})


def operation(method: str, path: str) -> dict[str, Any]:
    """The swagger operation for `path` (a template such as /repos/{owner}/{repo}/pulls, without /api/v1)."""
    try:
        return spec()["paths"][path][method.lower()]
    except KeyError:
        raise KeyError(f"{method} {path} is not in Gitea's swagger") from None


def request_errors(method: str, path: str, body: Any) -> list[str]:
    """What is wrong with a request body for this operation, as readable messages (empty when valid)."""
    params = [p for p in operation(method, path).get("parameters", []) if p.get("in") == "body"]
    if not params:
        return []
    schema = params[0]["schema"]
    if body is None:
        return ["a JSON body is required"] if params[0].get("required") else []
    return [_message(e) for e in _validator(schema).iter_errors(body)]


def response_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    """What is wrong with a response for this operation and status (empty when valid)."""
    responses = operation(method, path)["responses"]
    if str(status) not in responses:
        return [f"status {status} is not a documented answer of {method} {path}"]
    response = responses[str(status)]
    if "$ref" in response:
        response = spec()["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response.get("schema")
    if schema is None:
        return []
    return [_message(e) for e in _validator(schema).iter_errors(body)]


def definition_errors(name: str, value: Any) -> list[str]:
    """Validate a value against one definition (say `PullRequest` for a webhook's `pull_request`)."""
    return [_message(e) for e in _validator({"$ref": f"#/definitions/{name}"}).iter_errors(value)]


def _message(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    return f"{where}: {error.message}"
