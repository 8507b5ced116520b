"""Per-project scrubbing rules: set and validated through the projects API, applied to the project's REST
reports before anything is stored, and re-read by the ingest path's cache when they change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from logcenter.db import create_db_engine, create_session_factory
from logcenter.errors import Unavailable
from logcenter.ingest import scrubbers as scrubbers_module
from logcenter.ingest.scrubbers import ProjectScrubbers
from logcenter.main import create_app
from logcenter.projects.models import Project
from logcenter.scrub import FILTERED, ScrubRules
from tests.factories import make_project, report_payload

RULES = {"sensitive_fields": ["employee_id"], "safe_fields": ["session_count"]}


def stored_rows(session) -> str:
    """Every row the ingest writes, as one string."""
    rows = []
    for table in ("bugs", "occurrences", "bug_events"):
        rows += [repr(tuple(row)) for row in session.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(rows)


def report(client: TestClient, project: str, n: int, **context: Any) -> int:
    body = report_payload(
        project_id=project,
        error={"message": f"payroll export failed for employee_id=E-{n}0210", "line_number": n},
        context={"employee_id": f"E-{n}0210", "session_count": 42, "password": "hunter2", **context},
    )
    response = client.post("/api/v1/logs/report", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def latest_context(client: TestClient, headers: dict[str, str], bug_id: int) -> dict[str, Any]:
    bug = client.get(f"/api/v1/bugs/{bug_id}", headers=headers).json()
    return bug["occurrences"][0]["context"]


def put(client: TestClient, headers: dict[str, str], slug: str, body: Any, status: int = 200) -> Any:
    response = client.put(f"/api/v1/projects/{slug}", headers=headers, json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_a_projects_rules_apply_to_its_rest_reports_only(client, admin_headers, session):
    make_project(session, "payroll")
    make_project(session, "shop")
    session.commit()
    put(client, admin_headers, "payroll", {"scrubbing": RULES})

    payroll_bug = report(client, "payroll", 1)
    shop_bug = report(client, "shop", 2)

    rows = stored_rows(session)
    assert "E-10210" not in rows  # neither in the context nor in the message
    assert "payroll export failed for employee_id=[Filtered]" in rows
    assert latest_context(client, admin_headers, payroll_bug) == {
        "employee_id": FILTERED,
        "session_count": 42,  # a safe field: kept, although "session" is a built-in sensitive word
        "password": FILTERED,  # the built-in rules still apply
    }
    # The other project has the server's rules only.
    assert "E-20210" in rows
    assert latest_context(client, admin_headers, shop_bug) == {
        "employee_id": "E-20210",
        "session_count": FILTERED,
        "password": FILTERED,
    }


def test_new_rules_apply_from_the_next_report(client, admin_headers, session):
    make_project(session, "payroll")
    session.commit()
    before = report(client, "payroll", 1)  # the server's rules, cached for the project
    assert latest_context(client, admin_headers, before)["employee_id"] == "E-10210"

    put(client, admin_headers, "payroll", {"scrubbing": RULES})
    after = report(client, "payroll", 2)
    assert latest_context(client, admin_headers, after)["employee_id"] == FILTERED

    # Replaced as a whole: employee_id is no longer sensitive, badge_no is.
    put(client, admin_headers, "payroll", {"scrubbing": {"sensitive_fields": ["badge_no"]}})
    third = report(client, "payroll", 3, badge_no="B-77")
    assert latest_context(client, admin_headers, third) == {
        "employee_id": "E-30210",
        "session_count": FILTERED,
        "password": FILTERED,
        "badge_no": FILTERED,
    }
    assert "B-77" not in stored_rows(session)


def test_get_shows_the_projects_rules_and_the_effective_ones(settings, admin_headers, agent_headers, session):
    make_project(session, "payroll")
    session.commit()
    server = settings.model_copy(update={"scrub_fields": "iban, tax_id", "scrub_ip_addresses": True})
    with TestClient(create_app(server)) as client:
        assert client.get("/api/v1/projects/payroll", headers=admin_headers).json()["scrubbing"] == {
            "sensitive_fields": [],
            "safe_fields": [],
            "scrub_ip_addresses": None,
            "scrub_data": None,
            "effective": {
                "scrub_data": True,
                "sensitive_fields": ["iban", "tax_id"],
                "safe_fields": [],
                "scrub_ip_addresses": True,
            },
        }
        body = {"scrubbing": {**RULES, "sensitive_fields": ["employee_id", "Employee-ID", "IBAN"]}}
        body["scrubbing"]["scrub_ip_addresses"] = False
        put(client, admin_headers, "payroll", body)
        # The agent token reads them too (the repair agent masks its prompt with them); no secret is in them.
        shown = client.get("/api/v1/projects/payroll", headers=agent_headers).json()["scrubbing"]
    assert shown["sensitive_fields"] == ["employee_id", "IBAN"]  # the same name twice is kept once
    assert shown["scrub_ip_addresses"] is False
    assert shown["effective"] == {
        "scrub_data": True,
        "sensitive_fields": ["iban", "tax_id", "employee_id"],
        "safe_fields": ["session_count"],
        "scrub_ip_addresses": False,  # the project's choice over the server's
    }


@pytest.mark.parametrize(
    ("scrubbing", "field"),
    [
        ({"sensitive_fields": ["ok", "-_"]}, "scrubbing.sensitive_fields"),
        ({"sensitive_fields": "employee_id"}, "scrubbing.sensitive_fields"),
        ({"safe_fields": ["a,b"]}, "scrubbing.safe_fields[0]"),
        ({"safe_fields": ["bad\nname"]}, "scrubbing.safe_fields[0]"),
        ({"sensitive_fields": ["x" * 101]}, "scrubbing.sensitive_fields[0]"),
        ({"sensitive_fields": [f"f{i}" for i in range(101)]}, "scrubbing.sensitive_fields"),
        ({"scrub_ip_addresses": "sometimes"}, "scrubbing.scrub_ip_addresses"),
        ({"scrub_data": False}, "scrubbing.scrub_data"),
        ({"sensitive": ["employee_id"]}, "scrubbing.sensitive"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(client, admin_headers, session, scrubbing, field):
    make_project(session, "payroll")
    session.commit()
    put(client, admin_headers, "payroll", {"scrubbing": RULES})
    answer = put(client, admin_headers, "payroll", {"scrubbing": scrubbing, "name": "Payroll"}, status=422)
    assert field in [e["field"] for e in answer["errors"]], answer
    # Nothing of the request was stored.
    project = client.get("/api/v1/projects/payroll", headers=admin_headers).json()
    assert project["name"] is None
    assert project["scrubbing"]["sensitive_fields"] == ["employee_id"]


def test_creating_a_project_with_rules(client, admin_headers):
    response = client.post(
        "/api/v1/projects", headers=admin_headers, json={"project_id": "payroll", "scrubbing": RULES}
    )
    assert response.status_code == 201, response.text
    assert response.json()["scrubbing"]["effective"]["safe_fields"] == ["session_count"]
    refused = client.post(
        "/api/v1/projects",
        headers=admin_headers,
        json={"project_id": "hr", "scrubbing": {"scrub_data": False}},
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "scrubbing.scrub_data"
    assert client.get("/api/v1/projects/hr", headers=admin_headers).status_code == 404


def test_only_admins_set_rules(client, agent_headers, session):
    make_project(session, "payroll")
    session.commit()
    response = client.put("/api/v1/projects/payroll", headers=agent_headers, json={"scrubbing": RULES})
    assert response.status_code == 403


def test_scrubbing_off_for_a_project_where_the_server_allows_it(settings, admin_headers, session):
    make_project(session, "payroll")
    make_project(session, "shop")
    session.commit()
    allowing = settings.model_copy(update={"scrub_allow_project_off": True})
    with TestClient(create_app(allowing)) as client:
        project = put(client, admin_headers, "payroll", {"scrubbing": {"scrub_data": False}})
        assert project["scrubbing"]["effective"]["scrub_data"] is False
        kept = report(client, "payroll", 1)
        scrubbed = report(client, "shop", 2)
        assert latest_context(client, admin_headers, kept)["password"] == "hunter2"
        assert latest_context(client, admin_headers, scrubbed)["password"] == FILTERED
    # Stored while allowed, then the server stops allowing it: the project's reports are scrubbed again.
    with TestClient(create_app(settings)) as client:
        project = client.get("/api/v1/projects/payroll", headers=admin_headers).json()
        assert project["scrubbing"]["scrub_data"] is False
        assert project["scrubbing"]["effective"]["scrub_data"] is True
        again = report(client, "payroll", 3)
        assert latest_context(client, admin_headers, again)["password"] == FILTERED


def test_the_ingest_cache_builds_one_scrubber_per_rule_set_and_rereads_after_its_ttl(db, session):
    payroll = make_project(session, "payroll")
    shop = make_project(session, "shop")
    billing = make_project(session, "billing")
    session.commit()
    now = [0.0]
    scrubbers = ProjectScrubbers(db.factory, ScrubRules(), ttl=10, clock=lambda: now[0])

    async def check() -> None:
        # Projects without rules of their own (and unknown ones) share the server's Scrubber.
        assert await scrubbers.by_slug("shop") is scrubbers.server
        assert await scrubbers.by_pk(billing.id) is scrubbers.server
        assert await scrubbers.by_slug("nobody") is scrubbers.server
        assert await scrubbers.by_pk(payroll.id) is scrubbers.server

        # Changed by another process: seen once the entry is older than the TTL.
        with db.factory() as other:
            for pk in (payroll.id, shop.id):
                other.get_one(Project, pk).scrubbing = {**RULES}
            other.commit()
        assert await scrubbers.by_pk(payroll.id) is scrubbers.server
        now[0] = 11
        first = await scrubbers.by_pk(payroll.id)
        assert first.scrub({"employee_id": 7, "session_count": 1}) == {
            "employee_id": FILTERED,
            "session_count": 1,
        }
        # The same rules in another project, or read again later, are the same Scrubber (built once).
        assert await scrubbers.by_slug("shop") is first
        now[0] = 30
        assert await scrubbers.by_pk(payroll.id) is first

        # Changed through this process: `forget` drops it at once.
        with db.factory() as other:
            other.get_one(Project, payroll.id).scrubbing = None
            other.commit()
        scrubbers.forget(payroll.id, "payroll")
        assert await scrubbers.by_pk(payroll.id) is scrubbers.server

    asyncio.run(check())


def test_rules_stored_by_hand_that_do_not_validate_fall_back_to_the_servers(client, session):
    # Not something the API writes; the ingest path must still take reports rather than fail them.
    make_project(session, "payroll", scrubbing={"sensitive_fields": "employee_id"})
    session.commit()
    response = client.post("/api/v1/logs/report", json=report_payload(project_id="payroll"))
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Log reported"


def test_rules_that_cannot_be_read_refuse_the_report_for_now(tmp_path):
    # A database without the projects table stands for one that does not answer: never the server's rules
    # instead of the project's, but a 503 the client retries after.
    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}", pool_size=1)
    scrubbers = ProjectScrubbers(create_session_factory(engine), ScrubRules())
    with pytest.raises(Unavailable) as refused:
        asyncio.run(scrubbers.by_slug("payroll"))
    engine.dispose()
    assert refused.value.status_code == 503 and refused.value.headers["Retry-After"] == "5"


def test_the_scrubbers_kept_are_bounded_least_recently_used_first(db, session, monkeypatch):
    monkeypatch.setattr(scrubbers_module, "MAX_RULE_SETS", 2)
    for n in range(4):
        make_project(session, f"p{n}", scrubbing={"sensitive_fields": [f"field_{n}"]})
    session.commit()
    now = [0.0]
    scrubbers = ProjectScrubbers(db.factory, ScrubRules(), ttl=10, clock=lambda: now[0])

    async def check() -> None:
        p0 = await scrubbers.by_slug("p0")
        p1 = await scrubbers.by_slug("p1")
        now[0] = 11  # all entries stale: the next lookups read the rules again
        assert await scrubbers.by_slug("p0") is p0  # refreshed: now the most recently used
        await scrubbers.by_slug("p2")  # a third rule set: p1's Scrubber, the least recently used, goes
        assert await scrubbers.by_slug("p1") is not p1
        assert (await scrubbers.by_slug("p0")).scrub({"field_0": 1}) == {"field_0": FILTERED}
        assert await scrubbers.by_slug("nobody") is scrubbers.server  # the server's always stays

    asyncio.run(check())
