"""Triage on the web UI over HTTP: what the bug page says about ignoring, assigning and merging away, the
board's Ignored and "assigned to me" filters, and who may triage (roles, CSRF)."""

from __future__ import annotations

import re

import pytest

from logcenter.bugs.service import get_bug
from logcenter.triage import service as triage
from tests.factories import make_bug, make_project
from tests.web.test_access import log_in


@pytest.fixture
def bug_ids(session):
    """Two NEW bugs of one project: (the one triaged, another that stays on the board)."""
    project = make_project(session, "rtc_backend")
    first = make_bug(session, project, error_type="TriageMeError", occurrence_count=3)
    second = make_bug(session, project, error_type="OtherError")
    session.commit()
    return first.id, second.id


def rows(page: str) -> str:
    """The board's bug rows (tables), without the header and the filter form."""
    return "".join(re.findall(r"<tbody>.*?</tbody>", page, flags=re.S))


def test_viewer_sees_no_triage_buttons_and_cannot_triage(client, users, bug_ids):
    bug_id, _ = bug_ids
    csrf = log_in(client, "victor")
    page = client.get(f"/bugs/{bug_id}")
    assert page.status_code == 200
    assert "ignore-btn" not in page.text and "assign-me-btn" not in page.text
    for action, data in (("ignore", {"choice": "1w"}), ("unignore", {}), ("assign", {"to": "me"})):
        response = client.post(f"/bugs/{bug_id}/{action}", data={**data, "csrf_token": csrf})
        assert response.status_code == 403, action
        assert "only reviewers and admins" in response.text
    with client.app.state.session_factory() as session:
        bug = get_bug(session, bug_id)
        assert bug.ignored_at is None and bug.assignee is None


def test_triage_posts_without_the_csrf_token_are_refused(client, users, bug_ids):
    bug_id, _ = bug_ids
    csrf = log_in(client, "rita")
    for action, data in (("ignore", {"choice": "forever"}), ("assign", {"to": "me"})):
        assert client.post(f"/bugs/{bug_id}/{action}", data=data).status_code == 403, action
        forged = client.post(f"/bugs/{bug_id}/{action}", data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403, action
    with client.app.state.session_factory() as session:
        bug = get_bug(session, bug_id)
        assert bug.ignored_at is None and bug.assignee is None
    # With the token the same POST goes through.
    done = client.post(
        f"/bugs/{bug_id}/assign", data={"to": "me", "csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/bugs/{bug_id}?done=assigned"


@pytest.mark.parametrize(
    ("choice", "shown"),
    [
        ("forever", "forever"),
        ("10", "until 10 more occurrences (0 of 10)"),
        ("100", "until 100 more occurrences (0 of 100)"),
        ("1d", "until "),
    ],
)
def test_ignore_from_the_page_shows_its_condition(client, users, bug_ids, choice, shown):
    bug_id, other_id = bug_ids
    csrf = log_in(client, "rita")
    page = client.post(
        f"/bugs/{bug_id}/ignore", data={"choice": choice, "note": "noisy <b>bot</b>", "csrf_token": csrf}
    )
    assert page.status_code == 200 and page.url.path == f"/bugs/{bug_id}"
    assert 'id="ignored-badge"' in page.text
    condition = re.search(r'<dd id="ignore-condition">(.*?)</dd>', page.text, flags=re.S).group(1)
    assert shown in condition
    assert "by rita" in condition
    assert "noisy &lt;b&gt;bot&lt;/b&gt;" in page.text  # the note, escaped, in the operation log
    assert 'id="unignore-btn"' in page.text
    board = rows(client.get("/").text)
    assert f'href="/bugs/{bug_id}"' not in board and f'href="/bugs/{other_id}"' in board
    ignored = rows(client.get("/?ignored=only").text)
    assert f'href="/bugs/{bug_id}"' in ignored and f'href="/bugs/{other_id}"' not in ignored
    assert "🔕 Ignored" in ignored


def test_the_condition_counts_occurrences_since_ignoring_and_a_date(client, users, session, bug_ids):
    bug_id, _ = bug_ids
    bug = triage.ignore(session, bug_id, actor="ada", occurrences=50)
    bug.occurrence_count += 12  # twelve reports counted since it was ignored
    session.commit()
    log_in(client, "rita")
    page = client.get(f"/bugs/{bug_id}").text
    assert "until 38 more occurrences (12 of 50)" in page
    with client.app.state.session_factory() as s:
        from datetime import UTC, datetime

        triage.ignore(s, bug_id, actor="ada", until=datetime(2099, 12, 13, 9, 0, tzinfo=UTC), occurrences=50)
        s.commit()
    condition = re.search(
        r'<dd id="ignore-condition">(.*?)</dd>', client.get(f"/bugs/{bug_id}").text, flags=re.S
    ).group(1)
    assert "until" in condition and "2099-12-13" in condition and "or until 50 more occurrences" in condition


def test_assign_to_a_name_to_me_and_to_nobody(client, users, bug_ids):
    bug_id, other_id = bug_ids
    csrf = log_in(client, "rita")
    page = client.post(f"/bugs/{bug_id}/assign", data={"to": "name", "name": " maria ", "csrf_token": csrf})
    assert '<dd id="assignee">maria</dd>' in page.text
    assert '<td class="assignee">maria</td>' in client.get("/").text
    assert f'href="/bugs/{bug_id}"' not in rows(client.get("/?mine=1").text)
    page = client.post(f"/bugs/{bug_id}/assign", data={"to": "me", "csrf_token": csrf})
    assert '<dd id="assignee">rita</dd>' in page.text
    mine = rows(client.get("/?mine=1").text)
    assert f'href="/bugs/{bug_id}"' in mine and f'href="/bugs/{other_id}"' not in mine
    page = client.post(f"/bugs/{bug_id}/assign", data={"to": "nobody", "csrf_token": csrf})
    assert '<dd id="assignee">nobody</dd>' in page.text
    assert f'href="/bugs/{bug_id}"' not in rows(client.get("/?mine=1").text)
    empty = client.post(f"/bugs/{bug_id}/assign", data={"to": "name", "name": "  ", "csrf_token": csrf})
    assert empty.status_code == 422 and "give the name" in empty.text
    wrong = client.post(f"/bugs/{bug_id}/ignore", data={"choice": "1y", "csrf_token": csrf})
    assert wrong.status_code == 422 and "choice" in wrong.text


def test_unignoring_a_bug_that_is_not_ignored_is_explained(client, users, bug_ids):
    bug_id, _ = bug_ids
    csrf = log_in(client, "ada")
    response = client.post(f"/bugs/{bug_id}/unignore", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert "not ignored" in response.text


def test_a_merged_away_bug_links_to_its_survivor_and_offers_no_triage(client, users, session, bug_ids):
    absorbed, survivor = bug_ids
    triage.absorb(session, survivor, [absorbed], actor="ada", retention=100)
    session.commit()
    csrf = log_in(client, "rita")
    page = client.get(f"/bugs/{absorbed}").text
    assert re.search(rf'Merged into <a href="/bugs/{survivor}">#{survivor}</a>', page)
    assert "ignore-btn" not in page and "assign-me-btn" not in page
    refused = client.post(f"/bugs/{absorbed}/ignore", data={"choice": "forever", "csrf_token": csrf})
    assert refused.status_code == 409
    assert f"merged into bug {survivor}" in refused.text.lower()


def test_the_chinese_page_translates_triage(client, users, bug_ids):
    bug_id, _ = bug_ids
    client.cookies.set("lc_lang", "zh_CN")
    csrf = log_in(client, "rita")
    page = client.post(f"/bugs/{bug_id}/ignore", data={"choice": "10", "csrf_token": csrf}).text
    assert "已忽略" in page
    condition = re.search(r'<dd id="ignore-condition">(.*?)</dd>', page, flags=re.S).group(1)
    assert "直到再发生 10 次（已 0 / 10 次）" in condition and "操作人 rita" in condition
    assert "负责人" in page and "取消忽略" in page and "分配给我" in client.get("/").text
    for english in ("more occurrences", "Assignee", "Unignore", "Change ignoring", "for 1 week", "to me"):
        assert english not in page, english
