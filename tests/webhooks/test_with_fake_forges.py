"""The whole right half of the loop against each fake forge (real git behind it): merge and reject from the
API, PRs that moved or were merged elsewhere, forge outages, deployments the forge says contain the fix."""

from __future__ import annotations

import os
import stat
from typing import Any

import pytest
from sqlalchemy import select

from logcenter.auth.models import Scope
from logcenter.bugs.models import BugStatus
from logcenter.forges import http as forge_http
from logcenter.projects.models import Project
from tests.conftest import make_token
from tests.webhooks.conftest import SECRET, history, reload, review_bug

FIX = {"app/calc.py": "def add(a, b):\n    return a + b  # fixed\n"}
MERGED_ACTION = {"gitea": "closed", "github": "closed", "gitlab": "merge"}


def configure(client, headers, fake, slug: str = "app") -> Project:
    """Create the project and point it at the fake forge through the API, as an admin would."""
    body = {
        "project_id": slug,
        "forge": fake.kind,
        "forge_url": fake.api_url,
        "forge_repo": fake.default_repo,
        "forge_token": fake.token,
    }
    response = client.post("/api/v1/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert fake.token not in response.text
    return response.json()


def pending(session, fake, branch: str = "fix/auto-1", slug: str = "app") -> tuple[Any, Any]:
    """A bug awaiting review in a PR opened on the fake from `branch`."""
    pr = fake.open_pr(fake.default_repo, branch, files=FIX, title=f"Fix from {branch}")
    project = session.scalar(select(Project).where(Project.slug == slug))
    head = fake.repos[fake.default_repo].head_sha(pr)
    bug = review_bug(session, project, pr=pr.number, branch_name=branch, head_sha=head)
    return bug, pr


def test_merge_from_log_center_merges_on_the_forge_then_the_webhook_changes_nothing(
    client, session, admin_headers, fake_forge
):
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    head = fake_forge.repos[fake_forge.default_repo].head_sha(pr)
    response = client.post(
        f"/api/v1/bugs/{bug.id}/merge",
        json={"expected_head_sha": head, "note": "LGTM"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "MERGED"
    assert pr.merged and pr.merge_commit
    bug = reload(session, bug)
    assert bug.merge_commit_sha == pr.merge_commit
    assert history(session, bug)[-1].note == "LGTM"
    hook = fake_forge.webhook(
        fake_forge.default_repo, pr.number, MERGED_ACTION[fake_forge.kind], secret=SECRET
    )
    answer = hook.post(f"/api/webhooks/{fake_forge.kind}", client=client)
    assert answer.json()["bugs"] == [{"bug_id": bug.id, "outcome": "already merged"}]


def test_a_pr_that_moved_since_review_is_not_merged(client, session, admin_headers, fake_forge):
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    reviewed = fake_forge.repos[fake_forge.default_repo].head_sha(pr)
    fake_forge.push(fake_forge.default_repo, "fix/auto-1", {"app/extra.py": "x = 1\n"}, "unreviewed change")
    response = client.post(
        f"/api/v1/bugs/{bug.id}/merge", json={"expected_head_sha": reviewed}, headers=admin_headers
    )
    assert response.status_code == 409, response.text
    assert "moved" in response.json()["detail"]
    assert not pr.merged
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW


def test_a_pr_already_merged_on_the_forge_is_recorded_not_merged_twice(
    client, session, admin_headers, fake_forge
):
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    fake_forge.merge_pr(fake_forge.default_repo, pr.number, by="maria")
    before = len(fake_forge.calls(contains="merge"))
    response = client.post(f"/api/v1/bugs/{bug.id}/merge", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert [c for c in fake_forge.calls(contains="merge")[before:] if c.method in ("POST", "PUT")] == []
    bug = reload(session, bug)
    assert (bug.status, bug.merge_commit_sha, bug.merged_by) == (BugStatus.MERGED, pr.merge_commit, "maria")


def test_forge_down_or_failing_is_a_clear_502_and_the_bug_is_unchanged(
    client, session, admin_headers, fake_forge, monkeypatch
):
    # The server's waits between retries are recorded instead of slept (3.5 s a call).
    waits: list[float] = []
    monkeypatch.setattr(forge_http, "sleep", waits.append)
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    with fake_forge.outage():
        down = client.post(f"/api/v1/bugs/{bug.id}/merge", headers=admin_headers)
    assert down.status_code == 502, down.text
    assert fake_forge.kind in down.json()["detail"]
    assert waits == [0.5, 1.0, 2.0]  # retried three times, backing off, before it gave up
    fake_forge.fail_next(500, times=20)
    failing = client.post(f"/api/v1/bugs/{bug.id}/reject", json={"reason": "no"}, headers=admin_headers)
    assert failing.status_code == 502, failing.text
    assert waits == [0.5, 1.0, 2.0] * 2
    assert "500" in failing.json()["detail"]
    for answer in (down, failing):
        assert fake_forge.token not in answer.text
    assert reload(session, bug).status == BugStatus.PENDING_REVIEW
    assert not pr.merged and pr.state == "open"


def test_reject_comments_the_reason_and_closes_the_pr(client, db, session, admin_headers, fake_forge):
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    reviewer = {"Authorization": f"Bearer {make_token(db, Scope.REVIEWER, 'rita')}"}
    response = client.post(
        f"/api/v1/bugs/{bug.id}/reject",
        json={"reason": "Hides the error instead of fixing it"},
        headers=reviewer,
    )
    assert response.status_code == 200, response.text
    assert pr.state == "closed" and not pr.merged
    assert any("Hides the error" in c.body for c in pr.comments)
    bug = reload(session, bug)
    assert bug.status == BugStatus.FAILED
    assert bug.failure_reason == f"PR #{pr.number} rejected by rita: Hides the error instead of fixing it"


def test_only_admin_and_reviewer_tokens_may_merge(client, session, admin_headers, agent_headers, fake_forge):
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    refused = client.post(f"/api/v1/bugs/{bug.id}/merge", headers=agent_headers)
    assert refused.status_code == 403
    assert client.post(f"/api/v1/bugs/{bug.id}/merge").status_code == 401
    assert not pr.merged


def test_batch_merge_reports_each_bug_and_one_failure_does_not_stop_the_others(
    client, session, admin_headers, fake_gitea
):
    configure(client, admin_headers, fake_gitea)
    first, pr1 = pending(session, fake_gitea, "fix/auto-1")
    moved, pr2 = pending(session, fake_gitea, "fix/auto-2")
    third, pr3 = pending(session, fake_gitea, "fix/auto-3")
    fake_gitea.push(fake_gitea.default_repo, "fix/auto-2", {"app/other.py": "y = 2\n"}, "pushed after review")
    response = client.post(
        "/api/v1/bugs/merge", json={"bug_ids": [first.id, moved.id, third.id, 999999]}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    results = {r["bug_id"]: r for r in body["results"]}
    assert results[first.id]["ok"] and results[third.id]["ok"]
    assert results[moved.id]["status_code"] == 409 and not results[moved.id]["ok"]
    assert results[999999]["status_code"] == 404
    assert (body["succeeded"], body["failed"]) == (2, 2)
    assert pr1.merged and pr3.merged and not pr2.merged
    assert reload(session, moved).status == BugStatus.PENDING_REVIEW


def test_batch_reject(client, session, admin_headers, fake_github):
    configure(client, admin_headers, fake_github)
    a, pr_a = pending(session, fake_github, "fix/auto-1")
    b, pr_b = pending(session, fake_github, "fix/auto-2")
    response = client.post(
        "/api/v1/bugs/reject", json={"bug_ids": [a.id, b.id], "reason": "wrong"}, headers=admin_headers
    )
    assert response.json()["succeeded"] == 2
    assert pr_a.state == pr_b.state == "closed"


def test_pull_request_view_shows_files_and_diff_and_is_cached(client, session, admin_headers, fake_forge):
    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    response = client.get(f"/api/v1/bugs/{bug.id}/pull-request", headers=admin_headers)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["number"] == pr.number and view["state"] == "open"
    assert [f["filename"] for f in view["files"]] == ["app/calc.py"]
    assert view["additions"] >= 1
    assert "+    return a + b  # fixed" in view["diff"]
    calls = len(fake_forge.requests)
    assert client.get(f"/api/v1/bugs/{bug.id}/pull-request", headers=admin_headers).json() == view
    assert len(fake_forge.requests) == calls
    # A merge from Log Center drops the cached answer: the page shows the merged PR at once.
    assert client.post(f"/api/v1/bugs/{bug.id}/merge", headers=admin_headers).status_code == 200
    after = client.get(f"/api/v1/bugs/{bug.id}/pull-request", headers=admin_headers).json()
    assert after["merged"] is True and after["merge_commit_sha"] == pr.merge_commit


def test_deployment_asks_the_forge_whether_the_deployed_commit_contains_the_merge(
    client, session, admin_headers, fake_forge
):
    configure(client, admin_headers, fake_forge)
    repo = fake_forge.repos[fake_forge.default_repo]
    before_merge = repo.bare.rev(f"refs/heads/{repo.default_branch}")
    bug, pr = pending(session, fake_forge)
    fake_forge.merge_pr(fake_forge.default_repo, pr.number)
    hook = fake_forge.webhook(
        fake_forge.default_repo, pr.number, MERGED_ACTION[fake_forge.kind], secret=SECRET
    )
    assert hook.post(f"/api/webhooks/{fake_forge.kind}", client=client).json()["status"] == "ok"
    assert reload(session, bug).merge_commit_sha == pr.merge_commit
    later = fake_forge.push(
        fake_forge.default_repo, repo.default_branch, {"README.md": "later\n"}, "later work"
    )

    def deploy(commit: str) -> dict[str, Any]:
        body = {"project_id": "app", "status": "success", "commit": commit, "environment": "prod"}
        response = client.post("/api/webhooks/deployment", json=body, headers={"X-Secret": SECRET})
        assert response.status_code == 200, response.text
        return response.json()

    old = deploy(before_merge)
    assert old["deployed"] == [] and "is not in deployed commit" in old["left"][0]["reason"]
    assert reload(session, bug).status == BugStatus.MERGED
    assert deploy(later)["deployed"] == [bug.id]
    bug = reload(session, bug)
    assert (bug.status, bug.deployed_commit) == (BugStatus.DEPLOYED, later)


def test_tokens_are_stored_encrypted_and_never_shown(client, session, admin_headers, fake_gitea, settings):
    project = configure(client, admin_headers, fake_gitea)
    assert project["forge_token_set"] is True
    shown = client.get("/api/v1/projects/app", headers=admin_headers)
    assert fake_gitea.token not in shown.text
    stored = reload_project(session)
    assert stored.forge_token_encrypted and fake_gitea.token not in stored.forge_token_encrypted
    key = settings.data_dir / "secret.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    # Clearing it: the server-wide token (none here) applies again.
    cleared = client.put("/api/v1/projects/app", json={"forge_token": ""}, headers=admin_headers)
    assert cleared.json()["forge_token_set"] is False


def reload_project(session) -> Project:
    session.rollback()
    session.expire_all()
    return session.scalar(select(Project).where(Project.slug == "app"))


def test_a_rejected_token_is_a_502_that_never_echoes_it(client, session, admin_headers, fake_gitlab, capsys):
    configure(client, admin_headers, fake_gitlab)
    bug, _ = pending(session, fake_gitlab)
    wrong = "glpat-" + "z" * 20
    client.put("/api/v1/projects/app", json={"forge_token": wrong}, headers=admin_headers)
    response = client.post(f"/api/v1/bugs/{bug.id}/merge", headers=admin_headers)
    assert response.status_code == 502, response.text
    assert "401" in response.json()["detail"]
    assert wrong not in response.text
    out = capsys.readouterr()
    assert wrong not in out.out and wrong not in out.err


@pytest.mark.parametrize("missing", ["forge", "token"])
def test_without_a_forge_merging_says_what_to_configure(client, session, admin_headers, missing):
    body: dict[str, Any] = {"project_id": "app", "forge_repo": "acme/app"}
    if missing == "token":
        body |= {"forge": "gitea", "forge_url": "http://127.0.0.1:9/api/v1"}
    assert client.post("/api/v1/projects", json=body, headers=admin_headers).status_code == 201
    bug = review_bug(session, reload_project(session))
    response = client.post(f"/api/v1/bugs/{bug.id}/merge", headers=admin_headers)
    assert response.status_code == 409
    assert ("no forge" if missing == "forge" else "LOGCENTER_GITEA_TOKEN") in response.json()["detail"]


def test_rejecting_a_pr_merged_meanwhile_records_the_merge(client, session, admin_headers, fake_github):
    configure(client, admin_headers, fake_github)
    bug, pr = pending(session, fake_github)
    fake_github.merge_pr(fake_github.default_repo, pr.number, by="maria")
    response = client.post(
        f"/api/v1/bugs/{bug.id}/reject", json={"reason": "too late"}, headers=admin_headers
    )
    assert response.status_code == 409
    assert "already merged" in response.json()["detail"]
    bug = reload(session, bug)
    assert (bug.status, bug.merge_commit_sha) == (BugStatus.MERGED, pr.merge_commit)
    assert not pr.comments


def test_a_pr_merged_while_it_is_being_rejected_is_recorded_as_merged(
    client, session, admin_headers, fake_forge, monkeypatch
):
    """Someone merges on the forge between Log Center reading the PR and closing it: the forge refuses the
    close (or answers with the merged PR), and the bug is MERGED, not FAILED."""
    from logcenter.projects import forge as project_forge

    configure(client, admin_headers, fake_forge)
    bug, pr = pending(session, fake_forge)
    connect = project_forge.connect

    def connect_and_merge_meanwhile(target):
        forge = connect(target)
        comment = forge.comment

        def comment_then_someone_merges(number, body):
            result = comment(number, body)
            fake_forge.merge_pr(fake_forge.default_repo, pr.number, by="maria")
            return result

        forge.comment = comment_then_someone_merges
        return forge

    monkeypatch.setattr(project_forge, "connect", connect_and_merge_meanwhile)
    response = client.post(
        f"/api/v1/bugs/{bug.id}/reject", json={"reason": "too late"}, headers=admin_headers
    )
    assert response.status_code == 409, response.text
    assert "already merged" in response.json()["detail"]
    bug = reload(session, bug)
    assert (bug.status, bug.merge_commit_sha) == (BugStatus.MERGED, pr.merge_commit)


def test_no_transaction_is_held_while_the_forge_answers(live_server, api, session, fake_gitea):
    """A merge waiting for a slow forge does not hold the database: other writes go on meanwhile (on SQLite a
    write transaction held across the forge call would make them wait for it)."""
    import threading
    import time

    body = {
        "project_id": "app",
        "forge": "gitea",
        "forge_url": fake_gitea.api_url,
        "forge_repo": fake_gitea.default_repo,
        "forge_token": fake_gitea.token,
    }
    assert api.post("/api/v1/projects", json=body).status_code == 201
    bug, pr = pending(session, fake_gitea)
    answers: list[int] = []
    with fake_gitea.lock:  # the fake forge answers nothing until released
        merging = threading.Thread(
            target=lambda: answers.append(api.post(f"/api/v1/bugs/{bug.id}/merge", timeout=60).status_code)
        )
        merging.start()
        time.sleep(0.5)  # let the merge reach the forge
        edited = api.put("/api/v1/projects/app", json={"description": "edited meanwhile"}, timeout=10)
        assert edited.status_code == 200
        assert merging.is_alive()  # the merge was still waiting for the forge
    merging.join(60)
    assert answers == [200]
    assert pr.merged


def test_a_merge_with_no_reviewed_head_known_asks_for_one(client, session, admin_headers, fake_gitea):
    # A PR linked by hand carries no head: merging "whatever the PR holds now" could merge unreviewed commits.
    configure(client, admin_headers, fake_gitea)
    pr = fake_gitea.open_pr(fake_gitea.default_repo, "fix/by-hand", files=FIX, title="Fix by hand")
    project = session.scalar(select(Project).where(Project.slug == "app"))
    bug = review_bug(session, project, pr=pr.number, branch_name="fix/by-hand", head_sha=None)
    refused = client.post(f"/api/v1/bugs/{bug.id}/merge", json={}, headers=admin_headers)
    assert refused.status_code == 409 and "expected_head_sha" in refused.json()["detail"]
    assert not pr.merged
    head = fake_gitea.repos[fake_gitea.default_repo].head_sha(pr)
    merged = client.post(
        f"/api/v1/bugs/{bug.id}/merge", json={"expected_head_sha": head}, headers=admin_headers
    )
    assert merged.status_code == 200, merged.text
    assert pr.merged
