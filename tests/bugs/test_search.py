"""Text search through the trigram index (bugs/search.py): what a user searching the bug list finds.

The semantics (a substring of type, message or file, any case, `%` and `_` literal) are in test_list.py;
these are the cases the index changes: the latest message after new reports, text that looks like the
index's own query syntax, letters beyond ASCII, bugs deleted with their project, and short texts.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from logcenter.bugs import search
from logcenter.bugs.jobs import REFRESH_SECONDS, SEARCH_REFRESH
from logcenter.bugs.models import StaleSearchRow
from logcenter.projects.models import Project
from tests.bugs.helpers import committed_bug, ingest
from tests.jobs.helpers import run_periodic_job


def found(client, headers, q, **params):
    response = client.get("/api/v1/bugs", headers=headers, params={"q": q, **params})
    assert response.status_code == 200, response.text
    return {b["id"] for b in response.json()["bugs"]}


def run_refresh_job(db, settings) -> int:
    """The periodic bugs.search_refresh job, as a worker runs it once it is due."""
    return run_periodic_job(db, settings, SEARCH_REFRESH, due_after=REFRESH_SECONDS + 1)


def test_search_follows_the_latest_message_of_a_bug(client, admin_headers, db, settings):
    first = ingest(client, project_id="shop", error={"message": "card declined by acquirer"})
    assert found(client, admin_headers, "declined by acq") == {first["id"]}

    again = ingest(client, project_id="shop", error={"message": "gateway answered 502 upstream"})
    assert again["id"] == first["id"]  # the same fingerprint: the same bug, now with this message
    assert run_refresh_job(db, settings) == 1
    assert found(client, admin_headers, "answered 502") == {first["id"]}
    # As before the index: the bug shows its latest message, and is found by what it shows.
    assert found(client, admin_headers, "declined by acq") == set()


def test_only_changed_messages_are_noted_for_the_refresh(client, admin_headers, db, settings):
    bug = ingest(client, project_id="shop", error={"message": "same text"})["id"]
    for _ in range(3):
        ingest(client, project_id="shop", error={"message": "same text"})
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(StaleSearchRow)) == 0
    # An older report (its timestamp before the bug's last) does not become the bug's message either.
    ingest(client, project_id="shop", timestamp="2020-01-01T00:00:00Z", error={"message": "from the past"})
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(StaleSearchRow)) == 0
    for n in range(3):
        ingest(client, project_id="shop", error={"message": f"changed {n}"})
    with db.factory() as s:
        assert s.scalars(select(StaleSearchRow.bug_id)).all() == [bug] * 3
    assert run_refresh_job(db, settings) == 1
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(StaleSearchRow)) == 0
    assert found(client, admin_headers, "changed 2") == {bug}
    assert found(client, admin_headers, "changed 1") == set()


def test_a_new_bug_is_found_at_once_and_by_any_of_its_three_fields(client, admin_headers):
    bug = ingest(
        client,
        project_id="shop",
        error={"type": "QuotaExceededError", "message": "no room left", "file_path": "store/quota_keeper.py"},
    )["id"]
    assert found(client, admin_headers, "quotaexceeded") == {bug}
    assert found(client, admin_headers, "ROOM LEFT") == {bug}
    assert found(client, admin_headers, "quota_keeper") == {bug}
    assert found(client, admin_headers, "quota keeper") == set()


@pytest.mark.parametrize(
    "q",
    ['say "hi"', '"', '""', "a AND b", "NEAR(x y)", "col*", "error_type:Value", "-x ^y", "{a b}: c", "'; --"],
)
def test_text_that_looks_like_query_syntax_is_searched_literally(client, admin_headers, session, q):
    bug = committed_bug(session, message=f"before {q} after").id
    other = committed_bug(session, message="something else entirely").id
    assert found(client, admin_headers, q) == {bug}
    assert other not in found(client, admin_headers, "before")


def test_letters_beyond_ascii_fold_as_the_database_s_like_does(client, admin_headers, session, db):
    bug = committed_bug(session, message="Échec de la requête: ÜBERLAUF im Puffer").id
    assert found(client, admin_headers, "Échec de") == {bug}
    assert found(client, admin_headers, "requête: ü".upper().replace("Ê", "ê")) == {bug}  # "REQUêTE: Ü"
    # As before the index: SQLite's LIKE folds ASCII letters only, PostgreSQL's ILIKE every letter.
    folded = {bug} if db.backend == "postgresql" else set()
    assert found(client, admin_headers, "échec de") == folded
    assert found(client, admin_headers, "überlauf") == folded


QUERIES = [
    "valueerror",
    "ERROR",
    "bug number",
    "module_1",
    "app/",
    "%",
    "_",
    "Échec",
    "échec",
    "ß",
    "no match",
]


@pytest.mark.parametrize("q", QUERIES)
def test_the_index_and_the_scan_find_the_same_bugs(client, admin_headers, session, db, monkeypatch, q):
    for i in range(12):
        committed_bug(session, message=f"bug number {i} Échec straße" if i % 3 else f"plain {i}")
    committed_bug(session, error_type="KeyError", file_path="app/module_100%_x.py")
    indexed = found(client, admin_headers, q)
    monkeypatch.setattr(search, "PROBE_CAP", 0)  # every text is now "common": searched by the LIKE scan
    assert found(client, admin_headers, q) == indexed
    finds_nothing = {"no match"} | ({"échec"} if db.backend == "sqlite" else set())
    assert bool(indexed) == (q not in finds_nothing)


def test_short_texts_are_still_searched(client, admin_headers, session):
    bug = committed_bug(session, error_type="OSError", message="x", file_path="a/b.py").id
    other = committed_bug(session, error_type="ValueError", message="y", file_path="c/d.py").id
    assert found(client, admin_headers, "os") == {bug}
    assert found(client, admin_headers, "b.") == {bug}
    assert found(client, admin_headers, "c/") == {other}


def test_search_combines_with_the_other_filters(client, admin_headers, session):
    shop = committed_bug(session, slug="shop", message="timeout talking to redis").id
    committed_bug(session, slug="billing", message="timeout talking to redis")
    assert found(client, admin_headers, "talking to redis", project_id="shop") == {shop}
    assert len(found(client, admin_headers, "talking to redis")) == 2


def test_bugs_deleted_with_their_project_leave_nothing_behind(client, admin_headers, session, db):
    gone = committed_bug(session, slug="old", message="legacy importer crashed").id
    project = session.scalar(select(Project).where(Project.slug == "old"))
    session.delete(project)
    session.commit()
    with db.engine.connect() as conn:
        if db.backend == "sqlite":
            left = conn.execute(text("SELECT count(*) FROM bug_search WHERE rowid = :i"), {"i": gone})
        else:
            left = conn.execute(text("SELECT count(*) FROM bug_search WHERE bug_id = :i"), {"i": gone})
        assert left.scalar() == 0
    # A bug that gets the freed id (SQLite reuses the largest) is stored and found by its own text.
    again = ingest(client, project_id="shop", error={"message": "brand new failure"})
    assert found(client, admin_headers, "brand new failure") == {again["id"]}
    assert found(client, admin_headers, "legacy importer") == set()
