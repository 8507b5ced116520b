"""Ingest keys on the REST path (LOGCENTER_INGEST_REQUIRE_KEY=true) and the key cache both paths share."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from logcenter.auth.models import Scope
from logcenter.ingest.keys import ProjectKey, ProjectKeys
from logcenter.main import create_app
from tests.conftest import make_token
from tests.factories import make_project, report_payload

REPORT = "/api/v1/logs/report"


@pytest.fixture
def keyed_client(settings):
    with TestClient(create_app(settings.model_copy(update={"ingest_require_key": True}))) as client:
        yield client


@pytest.fixture
def shop(session):
    project = make_project(session, "shop")
    session.commit()
    return project


@pytest.fixture
def key_lookups():
    """`key_lookups(engine)`: the statements that read a project's ingest key on it, from now on to the end
    of the test (the listener is removed then: `db.engine` lives for the whole session)."""
    listening = []

    def watch(engine) -> list[str]:
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "ingest_key" in statement:
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        listening.append((engine, record))
        return seen

    yield watch
    for engine, record in listening:
        event.remove(engine, "before_cursor_execute", record)


def test_the_projects_key_is_read_once_not_per_report(keyed_client, shop, key_lookups):
    lookups = key_lookups(keyed_client.app.state.engine)
    for _ in range(20):
        headers = {"X-Logcenter-Key": shop.ingest_key}
        response = keyed_client.post(REPORT, json=report_payload(project_id="shop"), headers=headers)
        assert response.status_code == 200, response.text
    assert len(lookups) == 1


@pytest.mark.parametrize(
    ("project_id", "headers", "status", "detail"),
    [
        ("shop", {"X-Logcenter-Key": "f" * 32}, 403, "Ingest key is not valid for project 'shop'"),
        ("shop", {"X-Logcenter-Key": "f" * 5000}, 403, "Ingest key is not valid for project 'shop'"),
        # hmac.compare_digest refuses non-ASCII str: this was a 500 (headers are read as Latin-1)
        (
            "shop",
            {"X-Logcenter-Key": "cl\xe9".encode("latin-1")},
            403,
            "Ingest key is not valid for project 'shop'",
        ),
        ("nope", {"X-Logcenter-Key": "f" * 32}, 403, "Ingest key is not valid for project 'nope'"),
        (
            "shop",
            {},
            401,
            "This server requires an ingest key: send X-Logcenter-Key or a bearer token",
        ),
        ("shop", {"Authorization": "Bearer nonsense"}, 401, "Invalid or revoked token"),
    ],
)
def test_reports_without_a_valid_key_or_token_are_refused_and_not_stored(
    keyed_client, admin_headers, shop, project_id, headers, status, detail
):
    response = keyed_client.post(REPORT, json=report_payload(project_id=project_id), headers=headers)
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    bugs = keyed_client.get("/api/v1/bugs", headers=admin_headers).json()
    assert bugs["total"] == 0


@pytest.mark.parametrize(("scope", "status"), [(Scope.INGEST, 200), (Scope.ADMIN, 200), (Scope.AGENT, 403)])
def test_a_bearer_token_with_the_ingest_scope_reports_for_any_project(keyed_client, db, shop, scope, status):
    headers = {"Authorization": f"Bearer {make_token(db, scope, 'reporter')}"}
    response = keyed_client.post(REPORT, json=report_payload(project_id="shop"), headers=headers)
    assert response.status_code == status, response.text


def test_a_key_rotated_elsewhere_works_until_the_cache_expires(db, session, shop):
    now = [0.0]
    keys = ProjectKeys(db.factory, ttl=10, clock=lambda: now[0])
    old = asyncio.run(keys.by_slug("shop"))
    assert old == ProjectKey(shop.id, "shop", shop.ingest_key) and old.accepts(shop.ingest_key)
    shop.ingest_key = "a" * 32  # as another server process on this database would rotate it
    session.commit()
    now[0] = 9.9
    assert asyncio.run(keys.by_slug("shop")) == old
    assert asyncio.run(keys.by_pk(shop.id)).ingest_key == "a" * 32  # a separate entry, read just now
    now[0] = 10.0
    rotated = asyncio.run(keys.by_slug("shop"))
    assert rotated.accepts("a" * 32) and not rotated.accepts(old.ingest_key)


def test_unknown_projects_are_remembered_too(db, session):
    now = [0.0]
    keys = ProjectKeys(db.factory, ttl=10, clock=lambda: now[0])
    assert asyncio.run(keys.by_slug("later")) is None
    project = make_project(session, "later")
    session.commit()
    assert asyncio.run(keys.by_slug("later")) is None
    now[0] = 10.0
    assert asyncio.run(keys.by_slug("later")) == ProjectKey(project.id, "later", project.ingest_key)


def test_the_cache_keeps_at_most_max_entries(db, key_lookups):
    keys = ProjectKeys(db.factory, max_entries=3)
    lookups = key_lookups(db.engine)
    for ref in (1, 2, "a", "b", 1):
        asyncio.run(keys.by_pk(ref) if isinstance(ref, int) else keys.by_slug(ref))
    # 1 was the stalest entry when "b" came, so it was read again; the cache never held more than three.
    assert len(lookups) == 5 and len(keys._entries) == 3


def test_forget_drops_a_project_and_a_lookup_it_overtook_is_not_kept(db, session, shop, key_lookups):
    keys = ProjectKeys(db.factory)
    lookups = key_lookups(db.engine)
    asyncio.run(keys.by_slug("shop"))
    keys.forget(shop.id, "shop")
    asyncio.run(keys.by_slug("shop"))
    assert len(lookups) == 2

    load = keys._load

    def rotated_meanwhile(ref):
        found = load(ref)  # the old key, read just before the rotation committed
        keys.forget(shop.id, "shop")
        return found

    keys._load = rotated_meanwhile  # type: ignore[method-assign]
    keys.forget(shop.id, "shop")
    asyncio.run(keys.by_pk(shop.id))
    keys._load = load  # type: ignore[method-assign]
    asyncio.run(keys.by_pk(shop.id))
    assert len(lookups) == 4
