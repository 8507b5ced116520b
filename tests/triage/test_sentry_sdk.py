"""Triage of bugs reported by the real sentry-sdk: a merged fingerprint's next events join the survivor, an
ignored bug keeps counting its events and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk

from tests.factories import make_project
from tests.triage.helpers import run_unignore_job


@pytest.fixture
def sentry(api, session) -> Iterator[None]:
    """sentry_sdk.init with the DSN Log Center shows for a new project, as an application would."""
    make_project(session, "shop")
    session.commit()
    dsn = api.get("/api/v1/projects/shop").json()["dsn"]
    # No auto-enabled integrations: they would patch Starlette and SQLAlchemy in the server under test.
    sentry_sdk.init(dsn=dsn, default_integrations=False, auto_enabling_integrations=False)
    yield
    sentry_sdk.get_client().close()


def divide(a: int, b: int) -> float:
    return a / b


def lookup(table: dict[str, int], key: str) -> int:
    return table[key]


def report(fail: Any, *args: Any) -> None:
    try:
        fail(*args)
    except Exception:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=10)


def shop_bugs(api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/bugs", params={"project_id": "shop", "sort": "id", **params})
    assert response.status_code == 200, response.text
    return response.json()["bugs"]  # type: ignore[no-any-return]


def test_events_of_a_merged_fingerprint_join_the_survivor(api, sentry):
    report(divide, 1, 0)
    report(lookup, {}, "user")
    report(lookup, {}, "user")
    division, missing_key = shop_bugs(api)
    assert (division["error_type"], missing_key["error_type"]) == ("ZeroDivisionError", "KeyError")

    merged = api.post(f"/api/v1/bugs/{division['id']}/absorb", json={"bug_ids": [missing_key["id"]]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["occurrence_count"] == 3

    report(lookup, {}, "user")
    [survivor] = shop_bugs(api)
    assert (survivor["id"], survivor["occurrence_count"]) == (division["id"], 4)
    assert survivor["error_type"] == "ZeroDivisionError"  # the survivor keeps its identity
    latest = api.get(f"/api/v1/bugs/{survivor['id']}", params={"occurrences": 1}).json()["occurrences"]
    assert "KeyError" in latest[0]["stack_trace"]
    assert api.get(f"/api/v1/bugs/{missing_key['id']}").json()["occurrence_count"] == 2


def test_an_ignored_bug_keeps_counting_and_comes_back(api, sentry, db, settings):
    report(divide, 1, 0)
    [bug] = shop_bugs(api)
    ignored = api.post(f"/api/v1/bugs/{bug['id']}/ignore", json={"until_occurrences": 2})
    assert ignored.status_code == 200, ignored.text
    report(divide, 2, 0)
    assert shop_bugs(api) == []
    assert [b["occurrence_count"] for b in shop_bugs(api, ignored="only")] == [2]
    report(divide, 3, 0)
    run_unignore_job(db, settings)
    [back] = shop_bugs(api)
    assert (back["id"], back["occurrence_count"], back["ignored_at"]) == (bug["id"], 3, None)
