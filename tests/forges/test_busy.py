"""What a busy repository makes the clients face: more CI contexts than a page holds, answers that are not
what was asked for, and a PR merged by someone else while Log Center closes it."""

from __future__ import annotations

from typing import Any

import pytest

from logcenter.forges import CheckState, ForgeConflict, ForgeError, MergeStyle, PRState
from tests.forgefake.core import FakeForge
from tests.forgefake.gitea import FakeGitea
from tests.forges.test_clients import STATES, open_fix


def many_statuses(fake: FakeForge, sha: str, count: int, *, failing: int, prefix: str = "") -> None:
    """`count` CI contexts on the commit, all green but the one at index `failing`."""
    words = STATES[fake.kind]
    for i in range(count):
        fake.set_status(fake.default_repo, sha, f"{prefix}ci-{i:03}", words["bad" if i == failing else "ok"])


def test_a_failing_check_past_the_first_page_fails_the_commit(fake_forge: FakeForge) -> None:
    """Gitea (30 a page unless `limit` says more, at most MAX_RESPONSE_ITEMS) and GitHub (30 unless
    `per_page` says more) page a commit's statuses: a red context on page 2 must not read as green."""
    forge, number = open_fix(fake_forge)
    sha = forge.get_pull_request(number).head_sha
    many_statuses(fake_forge, sha, 75, failing=70)

    checks = forge.commit_checks(sha)

    assert checks.state is CheckState.FAILURE
    assert len(checks.checks) == 75
    assert {c.name for c in checks.checks if c.state is CheckState.FAILURE} == {"ci-070"}


def test_gitea_statuses_past_a_page_capped_by_the_instance_are_read(fake_gitea: FakeGitea) -> None:
    """The combined status sends X-Total-Count and no Link header; a Gitea whose MAX_RESPONSE_ITEMS is below
    the client's `limit` hands out short pages, and the count says more follow."""
    fake_gitea.max_response_items = 20
    forge, number = open_fix(fake_gitea)
    sha = forge.get_pull_request(number).head_sha
    many_statuses(fake_gitea, sha, 45, failing=44)

    checks = forge.commit_checks(sha)

    assert checks.state is CheckState.FAILURE
    assert len(checks.checks) == 45
    assert len(fake_gitea.calls("GET", "/status")) == 3


def test_github_check_runs_past_a_hundred_are_read(fake_github: FakeForge) -> None:
    """GitHub hands out at most 100 check runs a page; the Link header says more follow."""
    forge, number = open_fix(fake_github)
    sha = forge.get_pull_request(number).head_sha
    many_statuses(fake_github, sha, 130, failing=120, prefix="check:")

    checks = forge.commit_checks(sha)

    assert checks.state is CheckState.FAILURE
    assert len(checks.checks) == 130
    assert {c.name for c in checks.checks if c.state is CheckState.FAILURE} == {"ci-120"}
    assert len(fake_github.calls("GET", "/check-runs")) == 2


@pytest.mark.parametrize("answer", [{"message": "202 Accepted"}, [], "merged", {"iid": "seven"}])
def test_gitlab_merge_answered_200_with_something_else_is_a_forge_error(
    fake_gitlab: FakeForge, answer: Any
) -> None:
    """A proxy or a broken GitLab answering the merge with 200 and no merge request: the caller gets the
    ForgeError it handles (naming the forge and the call), not a KeyError."""
    forge, number = open_fix(fake_gitlab)
    fake_gitlab.fail_next(200, path_contains=f"/merge_requests/{number}/merge", body=answer)

    with pytest.raises(ForgeError) as caught:
        forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=None)

    assert type(caught.value) is ForgeError
    assert caught.value.message == (
        f"gitlab: merge MR !{number} failed (HTTP 200): the answer is not a merge request"
    )


@pytest.mark.parametrize("answer", [{"message": "hello"}, [], None])
def test_reading_a_pull_request_answered_with_something_else_is_a_forge_error(
    fake_forge: FakeForge, answer: Any
) -> None:
    forge, number = open_fix(fake_forge)
    pulls = "merge_requests" if fake_forge.kind == "gitlab" else "pulls"
    fake_forge.fail_next(200, path_contains=f"/{pulls}/{number}", body=answer)

    with pytest.raises(ForgeError) as caught:
        forge.get_pull_request(number)

    assert caught.value.forge == fake_forge.kind
    assert caught.value.forge_status == 200
    assert "the answer is not a" in caught.value.message


def test_closing_a_pull_request_merged_meanwhile_is_a_conflict(fake_forge: FakeForge) -> None:
    """Someone merges on the forge while Log Center rejects: Gitea (412) and GitHub (422 "Validation Failed")
    refuse the close, GitLab answers 200 with the merged MR. Every client says ForgeConflict, so a reject
    never reads as done."""
    forge, number = open_fix(fake_forge)
    fake_forge.merge_pr(fake_forge.default_repo, number, by="alice")

    with pytest.raises(ForgeConflict) as caught:
        forge.close_pull_request(number)

    assert "merged" in caught.value.message
    after = forge.get_pull_request(number)
    assert after.merged and after.state is PRState.MERGED


def test_a_refused_close_of_a_pull_request_still_open_is_a_forge_error_not_a_merge(
    fake_forge: FakeForge,
) -> None:
    """The status that means "merged meanwhile" (Gitea 412, GitHub 422) answered for a PR that is still open
    (a proxy, a validation rule): the forge's own error, not a conflict that a reject would read as merged."""
    forge, number = open_fix(fake_forge)
    status = {"gitea": 412, "github": 422, "gitlab": 422}[fake_forge.kind]
    fake_forge.fail_next(status, path_contains=f"/{number}", message="Validation Failed")

    with pytest.raises(ForgeError) as caught:
        forge.close_pull_request(number)

    assert not isinstance(caught.value, ForgeConflict)
    assert "Validation Failed" in caught.value.message
    assert forge.get_pull_request(number).state is PRState.OPEN


def test_a_server_that_ignores_the_page_asked_for_is_a_forge_error_not_an_endless_loop(
    fake_forge: FakeForge,
) -> None:
    """A proxy or a broken forge answering every page with the same full page and no paging header: the
    listing stops after MAX_PAGES with a ForgeError naming the call, instead of asking for ever."""
    from logcenter.forges.client import MAX_PAGES

    forge, number = open_fix(fake_forge)
    path = f"/merge_requests/{number}/diffs" if fake_forge.kind == "gitlab" else f"/pulls/{number}/files"
    fake_forge.fail_next(200, path_contains=path, body=[{}] * 100, times=MAX_PAGES + 5)

    with pytest.raises(ForgeError) as caught:
        forge.pull_request_files(number)

    assert f"more than {MAX_PAGES} pages" in caught.value.message
    assert caught.value.forge == fake_forge.kind
