"""Every bug endpoint, for a token restricted to other projects: another project's bug is answered exactly as
a bug that does not exist (404), whatever the body, and is left as it was. Found from the app's own routes,
so an endpoint added later is checked too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from logcenter.auth.models import Scope
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from tests.auth.test_project_tokens import restricted
from tests.factories import make_bug, make_project

UNKNOWN = 2**31 - 1
BODIES: list[Any] = [None, {}, {"status": 5, "reason": "", "bug_ids": "x"}, "not json"]


@pytest.fixture
def world(session, db):
    shop, blog = make_project(session, "shop"), make_project(session, "blog")
    mine = make_bug(session, shop, message="shop's own bug")
    theirs = make_bug(
        session,
        blog,
        status=BugStatus.PENDING_REVIEW,
        message="blog's secret",
        pr_number=7,
        pr_url="https://x/7",
    )
    session.commit()
    tokens = {
        scope: restricted(db, scope, f"shop-{scope}", "shop") for scope in (Scope.AGENT, Scope.REVIEWER)
    }
    return {"mine": mine.id, "theirs": theirs.id, "tokens": tokens}


def bug_routes(app) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{bug_id}" in path
        for method in operations
    ]


def call(client, method: str, path: str, bug_id: int, headers: dict[str, str], body: Any):
    url = path.replace("{bug_id}", str(bug_id))
    if isinstance(body, str):
        return client.request(
            method, url, content=body, headers={**headers, "content-type": "application/json"}
        )
    return client.request(method, url, json=body, headers=headers)


def snapshot(session, bug_id: int) -> tuple[Any, ...]:
    session.expire_all()
    bug = session.get(Bug, bug_id)
    events = session.scalar(select(func.count()).select_from(BugEvent).where(BugEvent.bug_id == bug_id))
    return (bug.status, bug.ignored_at, bug.assignee, bug.merged_into_id, bug.pr_number, bug.revision, events)


def test_every_bug_endpoint_answers_another_projects_bug_as_unknown(app, client, session, world):
    routes = bug_routes(app)
    assert len(routes) >= 15  # status, retry, fail, pr-info, ignore, absorb, merge, revision, ...
    theirs, before = world["theirs"], snapshot(session, world["theirs"])
    for method, path in routes:
        answered = False
        for headers in world["tokens"].values():
            for body in BODIES:
                foreign = call(client, method, path, theirs, headers, body)
                unknown = call(client, method, path, UNKNOWN, headers, body)
                if foreign.status_code == 403:  # this token's scope may not call it at all
                    assert unknown.status_code == 403
                    continue
                # Exactly the answer for a bug that does not exist: 404, or 422 for a body that is not JSON.
                assert foreign.status_code == unknown.status_code, (method, path, body)
                assert foreign.text.replace(str(theirs), "N") == unknown.text.replace(str(UNKNOWN), "N")
                if foreign.status_code == 404:
                    answered = True
                    assert foreign.json() == {"detail": f"Bug {theirs} not found"}
                else:
                    assert (foreign.status_code, body) == (422, "not json"), (method, path, foreign.text)
                assert "secret" not in foreign.text
        assert answered, (method, path)
    assert snapshot(session, theirs) == before


def test_bugs_named_in_the_body_answer_as_unknown_too(client, session, world):
    theirs, mine, before = world["theirs"], world["mine"], snapshot(session, world["theirs"])
    agent, reviewer = world["tokens"][Scope.AGENT], world["tokens"][Scope.REVIEWER]

    def same_as_unknown(path: str, headers: dict[str, str], make_body) -> None:
        foreign = client.post(path, json=make_body(theirs), headers=headers)
        unknown = client.post(path, json=make_body(UNKNOWN), headers=headers)
        assert foreign.status_code == unknown.status_code, (path, foreign.text, unknown.text)
        assert foreign.text.replace(str(theirs), "N") == unknown.text.replace(str(UNKNOWN), "N"), path

    same_as_unknown(f"/api/v1/bugs/{mine}/absorb", agent, lambda i: {"bug_ids": [i]})
    same_as_unknown(f"/api/v1/bugs/{mine}/absorb", agent, lambda i: {"bug_ids": [mine, i]})
    same_as_unknown("/api/v1/bugs/merge", reviewer, lambda i: {"bug_ids": [i]})
    same_as_unknown("/api/v1/bugs/reject", reviewer, lambda i: {"bug_ids": [i], "reason": "no"})
    same_as_unknown(
        "/api/v1/agent/progress", agent, lambda i: {"agent": "a", "bug_id": i, "step": "testing", "note": ""}
    )
    absorbed = client.post(f"/api/v1/bugs/{mine}/absorb", json={"bug_ids": [theirs]}, headers=agent)
    assert absorbed.json() == {"detail": f"Bug {theirs} not found"}
    assert snapshot(session, theirs) == before


def test_a_token_for_both_projects_is_told_why_it_cannot_merge_across_them(client, db, world):
    """Cross-project merging is refused for what it is (422) to a token that may read both bugs anyway."""
    both = restricted(db, Scope.AGENT, "both", "shop", "blog")
    response = client.post(
        f"/api/v1/bugs/{world['mine']}/absorb", json={"bug_ids": [world["theirs"]]}, headers=both
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "bug_ids",
            "message": f"bug {world['theirs']} belongs to another project than bug {world['mine']}",
        }
    ]
