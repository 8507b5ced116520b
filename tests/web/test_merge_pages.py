"""Merging duplicates on the web UI over HTTP: from the bug page (into a bug found by id or text) and from the
board (the selected rows into the one chosen); the board's other actions on selected rows (ignore, unignore,
assign to me); who may do them, and what the status chips count."""

from __future__ import annotations

import re

import pytest

from logcenter.bugs.models import BugStatus
from logcenter.bugs.service import get_bug
from logcenter.triage import service as triage
from tests.factories import make_bug, make_project
from tests.web.test_access import log_in


@pytest.fixture
def bugs(session):
    """Three NEW bugs of `shop` (the first two duplicates), one of `billing`, one of `shop` being fixed."""
    shop = make_project(session, "shop")
    billing = make_project(session, "billing")
    made = {
        "dup_a": make_bug(
            session, shop, error_type="CartError", message="cart <b>empty</b>", occurrence_count=3
        ),
        "dup_b": make_bug(session, shop, error_type="CartError", message="cart is empty", occurrence_count=5),
        "other": make_bug(
            session, shop, error_type="PriceError", message="negative price", occurrence_count=1
        ),
        "billing": make_bug(session, billing, error_type="CartError", occurrence_count=2),
        "fixing": make_bug(session, shop, status=BugStatus.FIXING, error_type="LoginError"),
    }
    session.commit()
    return {name: bug.id for name, bug in made.items()}


def candidates(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<input type="radio" name="into" value="(\d+)"', page)]


def test_the_bug_page_offers_the_projects_other_bugs_and_searches_them(client, users, bugs):
    log_in(client, "rita")
    page = client.get(f"/bugs/{bugs['dup_a']}").text
    assert 'id="merge-into-form"' in page
    offered = candidates(page)
    assert set(offered) == {bugs["dup_b"], bugs["other"], bugs["fixing"]}  # its project's, not itself
    assert "cart &lt;b&gt;empty&lt;/b&gt;" in page and "<b>empty</b>" not in page

    # By text (type, message or file), as the search box asks while typing and without script.
    fragment = client.get(f"/bugs/{bugs['dup_a']}/merge-candidates", params={"merge_q": "cart is"}).text
    assert candidates(fragment) == [bugs["dup_b"]]
    assert candidates(client.get(f"/bugs/{bugs['dup_a']}", params={"merge_q": "cart is"}).text) == [
        bugs["dup_b"]
    ]
    # By number, with or without "#"; another project's bug is never offered.
    for q in (str(bugs["other"]), f"#{bugs['other']}"):
        found = client.get(f"/bugs/{bugs['dup_a']}/merge-candidates", params={"merge_q": q}).text
        assert candidates(found)[0] == bugs["other"], q
    found = client.get(f"/bugs/{bugs['dup_a']}/merge-candidates", params={"merge_q": f"#{bugs['billing']}"})
    assert candidates(found.text) == [] and "No other bug of this project matches" in found.text


def test_merge_into_from_the_bug_page(client, users, bugs, admin_headers):
    csrf = log_in(client, "rita")
    done = client.post(
        f"/bugs/{bugs['dup_a']}/merge-into",
        data={"into": bugs["dup_b"], "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/bugs/{bugs['dup_b']}?done=absorbed"
    survivor = client.get(done.headers["location"]).text
    assert "Merged: the duplicates" in survivor
    assert re.search(r"<dt>Occurrences</dt><dd>8</dd>", survivor)  # 3 + 5
    assert f"Absorbed bug {bugs['dup_a']} (3 occurrences)" in survivor
    merged = client.get(f"/bugs/{bugs['dup_a']}").text
    assert re.search(rf'Merged into <a href="/bugs/{bugs["dup_b"]}">#{bugs["dup_b"]}</a>', merged)
    assert 'id="merge-into-form"' not in merged  # nothing to merge a merged-away bug into
    assert f"Merged into bug {bugs['dup_b']}" in merged
    api = client.get(f"/api/v1/bugs/{bugs['dup_a']}", headers=admin_headers).json()
    assert api["merged_into_id"] == bugs["dup_b"]
    assert [h["actor"] for h in api["history"] if h["kind"] == "absorbed"] == ["rita"]
    # Gone from the board; a merged-away bug is offered to nobody.
    board = client.get("/").text
    assert f'href="/bugs/{bugs["dup_a"]}"' not in board
    assert bugs["dup_a"] not in candidates(client.get(f"/bugs/{bugs['other']}").text)


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("billing", 422, "belongs to another project"),
        ("dup_a", 422, "cannot absorb itself"),
        (None, 404, "not found"),
    ],
)
def test_refused_merges_say_why_and_change_nothing(client, users, bugs, session, target, status, message):
    csrf = log_in(client, "rita")
    into = bugs[target] if target else 999_999
    refused = client.post(f"/bugs/{bugs['dup_a']}/merge-into", data={"into": into, "csrf_token": csrf})
    assert refused.status_code == status
    assert message in refused.text
    assert get_bug(session, bugs["dup_a"]).merged_into_id is None


def test_a_bug_being_fixed_is_not_merged_away(client, users, bugs, session):
    csrf = log_in(client, "rita")
    refused = client.post(
        f"/bugs/{bugs['fixing']}/merge-into", data={"into": bugs["dup_a"], "csrf_token": csrf}
    )
    assert refused.status_code == 409 and "a fix is in progress" in refused.text
    # It can be the one kept.
    kept = client.post(f"/bugs/{bugs['dup_a']}/merge-into", data={"into": bugs["fixing"], "csrf_token": csrf})
    assert kept.status_code == 200 and kept.url.path == f"/bugs/{bugs['fixing']}"


def test_merge_selected_rows_of_the_board(client, users, bugs, session):
    csrf = log_in(client, "rita")
    board = client.get("/").text
    assert 'id="merge-selected-btn"' in board
    assert re.search(rf'name="bug_ids" value="{bugs["dup_a"]}" form="bulk"', board)
    selected = {"action": "merge", "bug_ids": [bugs["dup_a"], bugs["dup_b"]], "csrf_token": csrf}
    chooser = client.post("/bugs/triage-batch", data=selected)
    assert chooser.status_code == 200
    assert chooser.url.path == "/bugs/merge-duplicates"
    # The one seen most is preselected.
    assert re.search(rf'name="survivor" value="{bugs["dup_b"]}" checked', chooser.text)
    assert "cart &lt;b&gt;empty&lt;/b&gt;" in chooser.text
    done = client.post(
        "/bugs/merge-duplicates",
        data={"survivor": bugs["dup_a"], "bug_ids": [bugs["dup_a"], bugs["dup_b"]], "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/bugs/{bugs['dup_a']}?done=absorbed"
    assert get_bug(session, bugs["dup_b"]).merged_into_id == bugs["dup_a"]
    session.rollback()  # a new read transaction sees what the requests committed
    assert get_bug(session, bugs["dup_a"]).occurrence_count == 8


@pytest.mark.parametrize(
    ("names", "status", "message"),
    [
        (["dup_a"], 422, "at least two"),
        (["dup_a", "billing"], 422, "belongs to another project"),
    ],
)
def test_the_board_chooser_refuses_what_cannot_be_merged(client, users, bugs, names, status, message):
    log_in(client, "rita")
    refused = client.get("/bugs/merge-duplicates", params={"bug_ids": [bugs[n] for n in names]})
    assert refused.status_code == status and message in refused.text


def test_the_survivor_must_be_one_of_the_selected(client, users, bugs, session):
    csrf = log_in(client, "rita")
    refused = client.post(
        "/bugs/merge-duplicates",
        data={"survivor": bugs["other"], "bug_ids": [bugs["dup_a"], bugs["dup_b"]], "csrf_token": csrf},
    )
    assert refused.status_code == 422 and "one of the selected" in refused.text
    assert get_bug(session, bugs["dup_a"]).merged_into_id is None


def test_ignore_unignore_and_assign_selected_rows_of_the_board(client, users, bugs, session):
    csrf = log_in(client, "rita")
    selected = [bugs["dup_a"], bugs["other"], bugs["fixing"]]
    answer = client.post(
        "/bugs/triage-batch",
        data={"action": "ignore", "choice": "1w", "bug_ids": selected, "csrf_token": csrf},
    )
    assert answer.status_code == 200
    assert answer.text.count('class="ok"') == 3
    session.rollback()  # a new read transaction sees what the requests committed
    assert all(get_bug(session, i).ignore_until is not None for i in selected)
    board = client.get("/").text
    assert 'id="bulk-unignore-btn"' not in board  # nothing ignored is listed there
    assert 'id="bulk-unignore-btn"' in client.get("/?ignored=only").text

    # Each bug has its own result: one that is not ignored cannot be unignored; the others are.
    unignored = client.post(
        "/bugs/triage-batch",
        data={"action": "unignore", "bug_ids": [bugs["dup_a"], bugs["dup_b"]], "csrf_token": csrf},
    )
    results = {
        int(bug): result
        for result, bug in re.findall(r'<li class="(ok|failed)" data-bug="(\d+)"', unignored.text)
    }
    assert results == {bugs["dup_a"]: "ok", bugs["dup_b"]: "failed"}
    assert "not ignored" in unignored.text

    assigned = client.post(
        "/bugs/triage-batch", data={"action": "assign_me", "bug_ids": selected, "csrf_token": csrf}
    )
    assert assigned.text.count('class="ok"') == 3, assigned.text
    session.rollback()  # a new read transaction sees what the requests committed
    assert [get_bug(session, i).assignee for i in selected] == ["rita"] * 3


def test_viewers_see_no_merge_controls_and_are_refused(client, users, bugs, session):
    csrf = log_in(client, "victor")
    assert 'id="merge-into-form"' not in client.get(f"/bugs/{bugs['dup_a']}").text
    board = client.get("/").text
    assert 'id="merge-selected-btn"' not in board and 'name="bug_ids"' not in board
    attempts = [
        client.post(f"/bugs/{bugs['dup_a']}/merge-into", data={"into": bugs["dup_b"], "csrf_token": csrf}),
        client.post(
            "/bugs/merge-duplicates",
            data={"survivor": bugs["dup_b"], "bug_ids": [bugs["dup_a"], bugs["dup_b"]], "csrf_token": csrf},
        ),
        client.get("/bugs/merge-duplicates", params={"bug_ids": [bugs["dup_a"], bugs["dup_b"]]}),
        client.get(f"/bugs/{bugs['dup_a']}/merge-candidates"),
        client.post(
            "/bugs/triage-batch", data={"action": "ignore", "bug_ids": [bugs["dup_a"]], "csrf_token": csrf}
        ),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    assert get_bug(session, bugs["dup_a"]).merged_into_id is None


def test_merging_needs_the_csrf_token(client, users, bugs, session):
    log_in(client, "ada")
    refused = client.post(f"/bugs/{bugs['dup_a']}/merge-into", data={"into": bugs["dup_b"]})
    assert refused.status_code == 403
    bulk = client.post("/bugs/triage-batch", data={"action": "ignore", "bug_ids": [bugs["dup_a"]]})
    assert bulk.status_code == 403
    bug = get_bug(session, bugs["dup_a"])
    assert bug.merged_into_id is None and bug.ignored_at is None


def chips(page: str) -> dict[str, str]:
    return dict(re.findall(r'title="([A-Z_]+)"[^>]*>[^<]*<span class="count">([^<]+)</span>', page))


def test_status_chips_count_what_they_list(client, users, bugs, session):
    triage.ignore(session, bugs["other"], actor="ada")
    triage.absorb(session, bugs["dup_b"], [bugs["dup_a"]], actor="ada", retention=100)
    session.commit()
    log_in(client, "victor")
    # NEW: dup_b and billing's bug are listed; the ignored bug and the merged-away one are not.
    assert chips(client.get("/").text)["NEW"] == "2"
    assert chips(client.get("/?status=NEW").text)["NEW"] == "2"
    assert chips(client.get("/?ignored=only").text)["NEW"] == "1"
    assert chips(client.get("/?project=shop").text)["NEW"] == "1"
    assert chips(client.get("/").text)["FIXING"] == "1"
