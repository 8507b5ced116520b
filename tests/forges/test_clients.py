"""Every Forge operation, through the real clients, against each fake forge backed by real git repos."""

from __future__ import annotations

import pytest

from logcenter.forges import CheckState, ForgeConflict, ForgeError, MergeStyle, PRState
from tests.forgefake.core import FakeForge
from tests.forgefake.git import git
from tests.forgefake.gitea import FakeGitea

FIX = {"app/calc.py": "def average(values):\n    return sum(values) / len(values) if values else 0.0\n"}


def open_fix(fake: FakeForge, branch: str = "fix-average") -> tuple[object, int]:
    """The agent's flow: push a branch, then open the PR through the client."""
    fake.push(fake.default_repo, branch, FIX, "Fix average of an empty list")
    forge = fake.client()
    pr = forge.create_pull_request(head=branch, base="main", title="Fix average", body="Automated fix")
    return forge, pr.number


def parents(fake: FakeForge, sha: str) -> list[str]:
    return git(fake.repos[fake.default_repo].bare.path, "rev-list", "--parents", "-n", "1", sha).split()[1:]


def test_repository_info_names_the_default_branch(fake_forge: FakeForge) -> None:
    info = fake_forge.client().repo_info()
    assert info.full_name == fake_forge.default_repo
    assert info.default_branch == "main"
    assert git(".", "ls-remote", info.clone_url, "refs/heads/main")  # the clone URL is a real repository


def test_create_pull_request_and_read_it_back(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    pr = forge.get_pull_request(number)
    bare = fake_forge.repos[fake_forge.default_repo].bare
    assert pr.state is PRState.OPEN and not pr.merged and pr.merge_commit_sha is None
    assert (pr.head_branch, pr.base_branch, pr.title) == ("fix-average", "main", "Fix average")
    assert pr.head_sha == bare.rev("refs/heads/fix-average")
    assert pr.author == "logcenter-bot"
    assert pr.url.startswith(fake_forge.url)


def test_creating_the_same_pull_request_again_returns_the_open_one(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    again = forge.create_pull_request(head="fix-average", base="main", title="Fix average", body="again")
    assert again.number == number
    assert len(fake_forge.repos[fake_forge.default_repo].prs) == 1


def test_changed_files_and_diff_come_from_git(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    files = forge.pull_request_files(number)
    assert [(f.filename, f.status, f.additions, f.deletions) for f in files] == [
        ("app/calc.py", "modified", 2, 9)
    ]
    diff = forge.pull_request_diff(number)
    assert diff.startswith("diff --git a/app/calc.py b/app/calc.py")
    assert "+    return sum(values) / len(values) if values else 0.0" in diff
    assert "-def ratio(part: float, whole: float) -> float:" in diff


@pytest.mark.parametrize("style", list(MergeStyle))
def test_merge_creates_a_real_commit_on_the_base_branch(fake_forge: FakeForge, style: MergeStyle) -> None:
    forge, number = open_fix(fake_forge)
    fake_forge.push(
        fake_forge.default_repo, "main", {"CHANGELOG.md": "- something else\n"}, "Unrelated change"
    )
    bare = fake_forge.repos[fake_forge.default_repo].bare
    before = bare.rev("refs/heads/main")
    head = forge.get_pull_request(number).head_sha

    merged = forge.merge_pull_request(
        number, style=style, expected_head_sha=head, message="Reviewed in Log Center"
    )

    assert merged.merged and merged.state is PRState.MERGED and merged.merged_by == "logcenter-bot"
    assert merged.merge_commit_sha is not None and merged.merged_at is not None
    main = bare.rev("refs/heads/main")
    assert main != before and bare.is_ancestor(before, main)
    assert bare.is_ancestor(merged.merge_commit_sha, main)
    assert git(bare.path, "show", f"{main}:app/calc.py") == FIX["app/calc.py"].rstrip("\n")
    if style is MergeStyle.MERGE:
        assert parents(fake_forge, merged.merge_commit_sha) == [before, head]
    elif style is MergeStyle.SQUASH:
        assert parents(fake_forge, merged.merge_commit_sha) == [before]
    if style is not MergeStyle.MERGE:  # squashed or rebased: the branch's own commit is not on main
        assert not bare.is_ancestor(head, main)
    assert forge.get_pull_request(number).merged


def test_a_pull_request_that_moved_since_review_is_not_merged(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    reviewed = forge.get_pull_request(number).head_sha
    fake_forge.push(fake_forge.default_repo, "fix-average", {"app/evil.py": "import os\n"}, "Sneaky change")
    bare = fake_forge.repos[fake_forge.default_repo].bare
    before = bare.rev("refs/heads/main")

    with pytest.raises(ForgeConflict) as caught:
        forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=reviewed)

    assert caught.value.status_code == 409
    assert "moved" in str(caught.value)
    assert bare.rev("refs/heads/main") == before
    assert not forge.get_pull_request(number).merged


def test_a_push_racing_the_merge_is_refused_by_the_forge(
    fake_forge: FakeForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewed sha goes to the forge with the merge: a push between the client's check and the merge is
    refused by the forge itself (409), not merged."""
    forge, number = open_fix(fake_forge)
    reviewed = forge.get_pull_request(number)
    fake_forge.push(fake_forge.default_repo, "fix-average", {"app/evil.py": "import os\n"}, "Sneaky change")
    bare = fake_forge.repos[fake_forge.default_repo].bare
    before = bare.rev("refs/heads/main")
    real_get = forge.get_pull_request
    reads = iter([reviewed])  # the client's own check still sees the reviewed head (the push races it)
    monkeypatch.setattr(forge, "get_pull_request", lambda n: next(reads, None) or real_get(n))

    with pytest.raises(ForgeConflict) as caught:
        forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=reviewed.head_sha)

    assert caught.value.forge_status == 409
    merge_calls = [
        r for r in fake_forge.requests if r.method in ("POST", "PUT") and r.path.endswith("/merge")
    ]
    assert len(merge_calls) == 1
    assert reviewed.head_sha in merge_calls[0].body.decode()
    assert bare.rev("refs/heads/main") == before


def test_a_pull_request_already_merged_on_the_forge_is_recognised(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    head = forge.get_pull_request(number).head_sha
    done = fake_forge.merge_pr(fake_forge.default_repo, number, by="alice")
    bare = fake_forge.repos[fake_forge.default_repo].bare
    tip = bare.rev("refs/heads/main")

    merged = forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=head)

    assert merged.merged and merged.merge_commit_sha == done.merge_commit and merged.merged_by == "alice"
    assert bare.rev("refs/heads/main") == tip  # not merged twice
    assert not [r for r in fake_forge.requests if r.method in ("POST", "PUT") and r.path.endswith("/merge")]


def test_gitea_answering_a_merge_with_200_but_not_merging_is_no_success(fake_gitea: FakeGitea) -> None:
    """A merge is reported done only when the PR reads as merged (Gitea used to return the open PR as the
    "merged" one; GitHub already refused)."""
    forge, number = open_fix(fake_gitea)
    fake_gitea.fail_next(200, path_contains="/merge", message="")

    with pytest.raises(ForgeConflict):
        forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=None)

    assert forge.get_pull_request(number).state is PRState.OPEN


def test_close_pull_request(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    closed = forge.close_pull_request(number)
    assert closed.state is PRState.CLOSED and not closed.merged
    assert forge.get_pull_request(number).state is PRState.CLOSED
    with pytest.raises(ForgeConflict):
        forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=None)


def test_comments_and_reviews_are_listed_oldest_first(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    mine = forge.comment(number, "Rejected in Log Center: the fix hides the error <script>")
    assert mine.author == "logcenter-bot" and mine.body.endswith("<script>")
    fake_forge.add_comment(
        fake_forge.default_repo, number, "Looks right to me", author="alice", kind="review", state="APPROVED"
    )
    fake_forge.add_comment(fake_forge.default_repo, number, "Thanks!", author="bob")

    listed = forge.list_comments(number)

    by_body = {c.body: c for c in listed}
    assert by_body["Rejected in Log Center: the fix hides the error <script>"].kind == "comment"
    assert by_body["Thanks!"].author == "bob"
    approvals = [c for c in listed if c.kind == "review"]
    assert [(c.author, c.state) for c in approvals] == [("alice", "APPROVED")]
    stamped = [c.created_at for c in listed if c.created_at is not None]
    assert stamped == sorted(stamped)


def test_a_discussion_longer_than_a_page_is_listed_once_each(fake_forge: FakeForge) -> None:
    """Gitea answers an issue's comments in one list and ignores page/limit: paging it asked for the same
    comments again and again, without end once a PR had 50."""
    forge, number = open_fix(fake_forge)
    said = [f"comment {i}" for i in range(101)]  # more than a page on every forge (50 / 100 / 100)
    for body in said:
        fake_forge.add_comment(fake_forge.default_repo, number, body, author="bob")

    listed = forge.list_comments(number)

    assert sorted(c.body for c in listed) == sorted(said)


def test_gitea_files_past_a_page_capped_by_the_instance_are_listed(fake_gitea: FakeGitea) -> None:
    """A Gitea whose MAX_RESPONSE_ITEMS is below the client's `limit` hands out short pages; its Link header
    says more follow (the client used to stop at the first short page and miss files)."""
    fake_gitea.max_response_items = 2
    files = {f"app/part{i}.py": f"PART = {i}\n" for i in range(5)}
    fake_gitea.push(fake_gitea.default_repo, "many-files", files, "Split the app")
    forge = fake_gitea.client()
    pr = forge.create_pull_request(head="many-files", base="main", title="Split", body="")

    listed = forge.pull_request_files(pr.number)

    assert sorted(f.filename for f in listed) == sorted(files)
    assert len(fake_gitea.calls("GET", "/files")) == 3


def test_request_reviewers(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    fake_forge.user("alice")
    forge.request_reviewers(number, ["alice"])
    pr = fake_forge.repos[fake_forge.default_repo].prs[number]
    assert [u.login for u in pr.requested_reviewers] == ["alice"]


STATES = {
    "gitea": {"ok": "success", "wait": "pending", "bad": "failure"},
    "github": {"ok": "success", "wait": "pending", "bad": "failure"},
    "gitlab": {"ok": "success", "wait": "running", "bad": "failed"},
}


def test_commit_checks_are_combined(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    sha = forge.get_pull_request(number).head_sha
    words = STATES[fake_forge.kind]
    assert forge.commit_checks(sha).state is CheckState.NONE

    fake_forge.set_status(fake_forge.default_repo, sha, "tests", words["ok"])
    fake_forge.set_status(fake_forge.default_repo, sha, "lint", words["wait"])
    checks = forge.commit_checks(sha)
    assert checks.state is CheckState.PENDING
    assert {c.name: c.state for c in checks.checks} == {
        "tests": CheckState.SUCCESS,
        "lint": CheckState.PENDING,
    }

    fake_forge.set_status(fake_forge.default_repo, sha, "lint", words["bad"])
    assert forge.commit_checks(sha).state is CheckState.FAILURE

    fake_forge.set_status(fake_forge.default_repo, sha, "lint", words["ok"])
    assert forge.commit_checks(sha).state is CheckState.SUCCESS


def test_github_check_runs_count_too(fake_github: FakeForge) -> None:
    forge, number = open_fix(fake_github)
    sha = forge.get_pull_request(number).head_sha
    fake_github.set_status(fake_github.default_repo, sha, "legacy-ci", "success")
    fake_github.set_status(fake_github.default_repo, sha, "check:pytest", "in_progress")
    assert forge.commit_checks(sha).state is CheckState.PENDING
    fake_github.set_status(fake_github.default_repo, sha, "check:pytest", "failure")
    checks = forge.commit_checks(sha)
    assert checks.state is CheckState.FAILURE
    assert {c.name for c in checks.checks} == {"legacy-ci", "pytest"}


def test_contains_commit_is_answered_by_git(fake_forge: FakeForge) -> None:
    forge, number = open_fix(fake_forge)
    merged = forge.merge_pull_request(number, style=MergeStyle.MERGE, expected_head_sha=None)
    bare = fake_forge.repos[fake_forge.default_repo].bare
    fix = merged.merge_commit_sha
    assert fix is not None
    deployed_later = fake_forge.push(fake_forge.default_repo, "main", {"VERSION": "2\n"}, "Release 2")
    old_release = bare.rev(f"{fix}~1")  # main before the merge: does not contain the fix

    assert forge.contains_commit(fix, in_commit=deployed_later)
    assert forge.contains_commit(fix, in_commit=fix)
    assert not forge.contains_commit(fix, in_commit=old_release)
    hotfix = fake_forge.push(fake_forge.default_repo, "hotfix", {"HOTFIX": "1\n"}, "Hotfix")
    assert not forge.contains_commit(hotfix, in_commit=deployed_later)


def test_unknown_pull_request_is_a_forge_error_naming_the_call(fake_forge: FakeForge) -> None:
    with pytest.raises(ForgeError) as caught:
        fake_forge.client().get_pull_request(999)
    assert caught.value.forge_status == 404
    assert str(caught.value).startswith(f"{fake_forge.kind}: get ")
    assert "#999" in str(caught.value) or "!999" in str(caught.value)
