"""GET /api/v1/bugs: filters, text search, time range, sorting and pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from logcenter.bugs.models import BugStatus
from tests.bugs.helpers import committed_bug, ingest

S = BugStatus
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def ids(client, headers, **params):
    response = client.get("/api/v1/bugs", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [b["id"] for b in response.json()["bugs"]]


def id_set(client, headers, **params):
    return set(ids(client, headers, **params))


@pytest.fixture
def bugs(session):
    """Six bugs that differ in every filterable field; last_seen one hour apart, a oldest."""
    spec = {
        "a": dict(
            slug="shop",
            status=S.NEW,
            source="runtime",
            environment="production",
            level="ERROR",
            error_type="ValueError",
            message="invalid literal for int()",
            file_path="shop/views.py",
            occurrence_count=5,
        ),
        "b": dict(
            slug="shop",
            status=S.FIXING,
            source="cicd",
            environment="staging",
            level="WARNING",
            error_type="BuildError",
            message="100% of tests failed",
            file_path=None,
            line_number=None,
            occurrence_count=1,
        ),
        "c": dict(
            slug="shop",
            status=S.FAILED,
            source="deployment",
            environment="production",
            level="CRITICAL",
            error_type="CrashLoopBackOff",
            message="pod restarted",
            file_path=None,
            line_number=None,
            occurrence_count=3,
        ),
        "d": dict(
            slug="billing",
            status=S.PENDING_REVIEW,
            source="runtime",
            environment="production",
            level="ERROR",
            error_type="KeyError",
            message="missing key user_id",
            file_path="billing/Invoice_Service.py",
            occurrence_count=9,
        ),
        "e": dict(
            slug="billing",
            status=S.MERGED,
            source="runtime",
            environment="dev",
            level="INFO",
            error_type="TypeError",
            message="unsupported operand",
            file_path="billing/utils.py",
            occurrence_count=2,
        ),
        "f": dict(
            slug="billing",
            status=S.DEPLOYED,
            source="runtime",
            environment="production",
            level="DEBUG",
            error_type="ZeroDivisionError",
            message="division by zero",
            file_path="billing/userXid.py",
            occurrence_count=7,
        ),
    }
    made = {}
    for i, (name, fields) in enumerate(spec.items()):
        slug = fields.pop("slug")
        status = fields.pop("status")
        seen = T0 + timedelta(hours=i)
        made[name] = committed_bug(
            session,
            status,
            slug=slug,
            seen=seen,
            first_seen=T0 - timedelta(days=10 - i * (-1) ** i),
            status_changed_at=T0 + timedelta(minutes=(7 * i) % 5),
            **fields,
        ).id
    return made


def test_default_lists_everything_newest_first_with_total(client, admin_headers, bugs):
    response = client.get("/api/v1/bugs", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert [b["id"] for b in body["bugs"]] == [bugs[k] for k in "fedcba"]
    assert (body["total"], body["page"], body["page_size"]) == (6, 1, 50)
    first = body["bugs"][0]
    assert first["project_id"] == "billing"
    assert first["status"] == "DEPLOYED"
    assert first["last_seen"] in ("2024-03-01T17:00:00Z", "2024-03-01T17:00:00+00:00")


def test_filter_by_project(client, admin_headers, bugs):
    assert id_set(client, admin_headers, project_id="shop") == {bugs["a"], bugs["b"], bugs["c"]}
    assert id_set(client, admin_headers, project_id="billing") == {bugs["d"], bugs["e"], bugs["f"]}
    assert ids(client, admin_headers, project_id="nope") == []


def test_filter_by_several_statuses_repeated_and_comma_separated(client, admin_headers, bugs):
    response = client.get(
        "/api/v1/bugs", headers=admin_headers, params=[("status", "NEW"), ("status", "FAILED")]
    )
    assert response.status_code == 200
    assert {b["id"] for b in response.json()["bugs"]} == {bugs["a"], bugs["c"]}
    assert response.json()["total"] == 2
    assert id_set(client, admin_headers, status="MERGED,DEPLOYED") == {bugs["e"], bugs["f"]}
    mixed = client.get(
        "/api/v1/bugs", headers=admin_headers, params=[("status", "fixing,PENDING_REVIEW"), ("status", "NEW")]
    )
    assert {b["id"] for b in mixed.json()["bugs"]} == {bugs["a"], bugs["b"], bugs["d"]}


def test_filter_by_source_environment_level(client, admin_headers, bugs):
    assert id_set(client, admin_headers, source="cicd") == {bugs["b"]}
    assert id_set(client, admin_headers, source="DEPLOYMENT") == {bugs["c"]}
    assert id_set(client, admin_headers, environment="production") == {bugs[k] for k in "acdf"}
    assert id_set(client, admin_headers, environment="dev") == {bugs["e"]}
    assert id_set(client, admin_headers, level="error") == {bugs["a"], bugs["d"]}
    assert id_set(client, admin_headers, level="CRITICAL") == {bugs["c"]}


def test_filters_combine(client, admin_headers, bugs):
    assert id_set(client, admin_headers, project_id="billing", environment="production", level="ERROR") == {
        bugs["d"]
    }
    assert ids(client, admin_headers, project_id="shop", status="DEPLOYED") == []


def test_text_search_over_type_message_and_file_case_insensitive(client, admin_headers, bugs):
    assert id_set(client, admin_headers, q="valueerror") == {bugs["a"]}  # type
    assert id_set(client, admin_headers, q="DIVISION BY") == {bugs["f"]}  # message
    assert id_set(client, admin_headers, q="invoice_service") == {bugs["d"]}  # file
    assert id_set(client, admin_headers, q="billing/") == {bugs["d"], bugs["e"], bugs["f"]}
    assert ids(client, admin_headers, q="no such text") == []


def test_text_search_treats_percent_and_underscore_literally(client, admin_headers, bugs):
    assert id_set(client, admin_headers, q="100%") == {bugs["b"]}
    assert ids(client, admin_headers, q="%") == [bugs["b"]]
    # "_" must not match any single character ("userXid" has no underscore).
    assert id_set(client, admin_headers, q="user_id") == {bugs["d"]}
    assert id_set(client, admin_headers, q="_") == {bugs["d"]}
    assert ids(client, admin_headers, q="\\") == []


def test_since_and_until_on_last_seen(client, admin_headers, bugs):
    assert id_set(client, admin_headers, since="2024-03-01T15:00:00Z") == {bugs["d"], bugs["e"], bugs["f"]}
    assert id_set(client, admin_headers, until="2024-03-01T13:00:00Z") == {bugs["a"], bugs["b"]}
    assert id_set(client, admin_headers, since="2024-03-01T13:30:00Z", until="2024-03-01T15:00:00Z") == {
        bugs["c"],
        bugs["d"],
    }
    # Another offset means the same instant.
    assert id_set(client, admin_headers, since="2024-03-01T15:30:00+02:00") == {bugs[k] for k in "cdef"}


def test_bad_since_is_422_naming_it(client, admin_headers):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"since": "yesterday"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["since"]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("last_seen", "abcdef"),
        ("-last_seen", "fedcba"),
        ("id", "abcdef"),
        ("-id", "fedcba"),
        ("occurrence_count", "becafd"),
        ("-occurrence_count", "dfaceb"),
        ("status", "fcbead"),
        ("-status", "daebcf"),
        ("first_seen", "fdbace"),
        ("-first_seen", "ecabdf"),
        # a and f share a status_changed_at: ties go newest bug first, in both directions.
        ("status_changed_at", "fadbec"),
        ("-status_changed_at", "cebdfa"),
    ],
)
def test_sort_keys_ascending_and_descending(client, admin_headers, bugs, sort, order):
    assert ids(client, admin_headers, sort=sort) == [bugs[k] for k in order]


def test_bad_sort_key_is_422(client, admin_headers):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"sort": "message"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["sort"]


def test_pagination_with_total(client, admin_headers, bugs):
    pages = []
    for page in (1, 2, 3):
        response = client.get(
            "/api/v1/bugs", headers=admin_headers, params={"sort": "id", "page": page, "page_size": 4}
        )
        body = response.json()
        assert (body["total"], body["page"], body["page_size"]) == (6, page, 4)
        pages.append([b["id"] for b in body["bugs"]])
    assert pages == [[bugs[k] for k in "abcd"], [bugs[k] for k in "ef"], []]
    filtered = client.get(
        "/api/v1/bugs", headers=admin_headers, params={"project_id": "shop", "page_size": 2}
    ).json()
    assert (filtered["total"], len(filtered["bugs"])) == (3, 2)


@pytest.mark.parametrize(("param", "value"), [("page", 0), ("page_size", 0), ("page_size", 201)])
def test_bad_pagination_is_422(client, admin_headers, param, value):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={param: value})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [param]


def test_environment_filter_matches_any_environment_the_bug_was_seen_in(client, admin_headers):
    # Seen in staging once, then in production again: it still is a staging bug.
    bug_id = ingest(client, environment="staging", timestamp="2024-03-01T10:00:00Z")["id"]
    ingest(client, environment="production", timestamp="2024-03-01T11:00:00Z")
    other = ingest(client, environment="production", error={"line_number": 7})["id"]
    assert ids(client, admin_headers, environment="staging") == [bug_id]
    assert id_set(client, admin_headers, environment="production") == {bug_id, other}
    assert ids(client, admin_headers, environment="dev") == []
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"environment": "staging"})
    assert response.json()["total"] == 1
