"""A reviewer asks for changes and gets a second commit on the same PR: the forge's webhook (a "request
changes" review) reaches a live Log Center, `logcenter agent --once` with the fake `claude` claims the
revision, checks out the fix's branch from the bare origin, revises and verifies it again, pushes a new commit
on top (no force push), answers on the PR, and reports: the bug awaits review again at the new head."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.agent.conftest import Harness, git
from tests.forgefake.git import BareRepo

REPO = "acme/calc"
SECRET = "hook-secret"
REQUEST = (
    "Return None for an empty list instead of 0.0, callers check for None. "
    "(Our staging DB is postgres://app:Sup3rS3cret@db/app, token=ghp_0123456789abcdefghijklmnopqrstuvwxyz)"
)
FORGE_ENV = {"gitea": "GITEA", "github": "GITHUB", "gitlab": "GITLAB"}


def fixed_once(harness: Harness, fake: Any, repo: str, *, reviewers: list[str]) -> tuple[int, dict[str, str]]:
    """A project on the fake forge with designated reviewers, a bug, and its first fix opened as a PR."""
    fake.add_repo(repo, bare=BareRepo(harness.origin))
    name = FORGE_ENV[fake.kind]
    env = {
        f"LOGCENTER_{name}_URL": fake.api_url if fake.kind == "github" else fake.url,
        f"LOGCENTER_{name}_TOKEN": fake.token,
        "LOGCENTER_AGENT_FORGE_REPO": repo,
    }
    harness.project(forge=fake.kind, forge_url=fake.api_url, forge_repo=repo, forge_token=fake.token,
                    webhook_secret=SECRET)  # fmt: skip
    response = harness.api.put("/api/v1/merge-policies/calc", json={"reviewers": reviewers})
    assert response.status_code == 200, response.text
    bug_id = harness.report()
    run = harness.run("--once", **env)
    assert run.returncode == 0, run.stderr
    assert harness.bug(bug_id)["status"] == "PENDING_REVIEW", harness.bug(bug_id)["failure_reason"]
    return bug_id, env


def request_changes(harness: Harness, fake: Any, repo: str, number: int, *, sender: str) -> dict[str, Any]:
    if fake.kind == "gitea":
        hook = fake.webhook(repo, number, "reviewed", event="pull_request_review_rejected", comment=REQUEST,
                            sender=sender, secret=SECRET)  # fmt: skip
    else:
        hook = fake.webhook(repo, number, "submitted", event="pull_request_review", comment=REQUEST,
                            review_state="changes_requested", sender=sender, secret=SECRET)  # fmt: skip
    response = httpx.post(f"{harness.server.url}/api/webhooks/{fake.kind}", content=hook.body,
                          headers=hook.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", ["gitea", "github"])
def test_a_requested_change_becomes_a_second_commit_on_the_same_pr(harness: Harness, kind, request) -> None:
    fake = request.getfixturevalue(f"fake_{kind}")
    bug_id, env = fixed_once(harness, fake, REPO, reviewers=["alice"])
    first = harness.bug(bug_id)
    branch, number = first["branch_name"], first["pr_number"]
    bare = fake.repos[REPO].bare
    base, first_head = bare.rev("refs/heads/main"), bare.rev(f"refs/heads/{branch}")
    assert first["head_sha"] == first_head

    answer = request_changes(harness, fake, REPO, number, sender="alice")
    assert answer["bugs"] == [{"bug_id": bug_id, "outcome": "revision 1 requested"}]
    waiting = harness.bug(bug_id)
    assert (waiting["status"], waiting["revision"], waiting["lease_owner"]) == ("FIXING", 1, None)

    run = harness.run("--once", **env)
    assert run.returncode == 0, run.stderr
    bug = harness.bug(bug_id)
    assert bug["status"] == "PENDING_REVIEW", bug["history"][-1]
    # The same branch and PR, a second commit on top of the first, which is unchanged; main untouched.
    head = bare.rev(f"refs/heads/{branch}")
    commits = git("rev-list", "--reverse", f"{base}..{head}", cwd=harness.origin).split()
    assert commits == [first_head, head]
    assert bare.rev("refs/heads/main") == base
    assert (bug["pr_number"], bug["branch_name"], bug["head_sha"]) == (number, branch, head)
    assert len(fake.repos[REPO].prs) == 1
    assert "if values else None" in git("show", f"{head}:app/calc.py", cwd=harness.origin)
    subject = git("log", "-1", "--format=%s%n%b", head, cwd=harness.origin)
    assert "revision 1" in subject and "alice" in subject
    # A second repair report, for revision 1, with the new head; the history says what happened.
    first_report, second_report = bug["repair_reports"]
    assert (first_report["revision"], second_report["revision"]) == (None, 1)
    assert second_report["modified_files"] == ["app/calc.py", "tests/test_bug_average.py"]
    assert "FAILED as it should" in second_report["test_output"]  # verified again: fail-to-pass
    kinds = [(e["kind"], e["to_status"]) for e in bug["history"]][-6:]
    assert kinds == [
        ("revision_requested", "FIXING"),
        ("status", "FIXING"),  # claimed by the agent
        ("agent", "FIXING"),  # fixing
        ("agent", "FIXING"),  # verifying
        ("agent", "FIXING"),  # pushed
        ("revised", "PENDING_REVIEW"),
    ]
    assert bug["history"][-1]["note"] == f"Revision 1: PR #{number} updated at {head[:12]}"
    # The agent answered on the PR.
    [reply] = [c for c in fake.repos[REPO].prs[number].comments if c.author.login == fake.bot.login]
    assert f"Revision 1 of the fix for [bug #{bug_id}]" in reply.body and head[:12] in reply.body
    assert "`app/calc.py` (+1, -1)" in reply.body and "Sup3rS3cret" not in reply.body
    assert [e["event"] for e in run.events if e.get("bug") == bug_id] == [
        "claimed", "fixing", "verifying", "pushed", "replied", "done",
    ]  # fmt: skip


def test_the_prompt_carries_the_reviewer_s_comment_as_masked_data(harness: Harness, fake_gitea) -> None:
    bug_id, env = fixed_once(harness, fake_gitea, REPO, reviewers=["alice"])
    number = harness.bug(bug_id)["pr_number"]
    request_changes(harness, fake_gitea, REPO, number, sender="alice")
    harness.run("--once", **env)
    first_run, revision_run = harness.fixer_runs()
    prompt = harness.seen(revision_run)["prompt"]
    assert "Reviewers' comments" not in harness.seen(first_run)["prompt"]
    assert "revision 1 of the fix" in prompt.lower()
    begin = prompt.index("----- BEGIN LOGCENTER-UNTRUSTED-DATA-")
    end = prompt.index("----- END LOGCENTER-UNTRUSTED-DATA-")
    comments = prompt.index("Reviewers' comments on pull request")
    assert begin < comments < end  # inside the data block, never in the instructions
    said = prompt[comments:end]
    assert "--- revision requested by alice (gitea) at " in said
    assert "Return None for an empty list instead of 0.0" in said
    assert "Sup3rS3cret" not in prompt and "ghp_0123456789abcdef" not in prompt
    # Masked by the agent's rules or the server's (logcenter/scrub.py), which run again in the prompt.
    assert re.search(r"postgres://app:\[(MASKED|Filtered)\]@db/app", said)
    # The fixer works in a worktree of the fix's branch, which already holds the first fix.
    assert harness.seen(revision_run)["cwd"] != harness.seen(first_run)["cwd"]


def test_a_failed_revision_keeps_the_pr_as_it_was(harness: Harness, fake_gitea) -> None:
    bug_id, env = fixed_once(harness, fake_gitea, REPO, reviewers=["alice"])
    bug = harness.bug(bug_id)
    branch, number, first_head = bug["branch_name"], bug["pr_number"], bug["head_sha"]
    request_changes(harness, fake_gitea, REPO, number, sender="alice")
    run = harness.run("--once", scenario="breaks", **env)
    assert run.returncode == 0, run.stderr
    bug = harness.bug(bug_id)
    assert (bug["status"], bug["head_sha"], bug["failure_reason"]) == ("PENDING_REVIEW", first_head, None)
    assert fake_gitea.repos[REPO].bare.rev(f"refs/heads/{branch}") == first_head  # nothing pushed
    note = bug["history"][-1]["note"]
    assert note.startswith("Revision 1 failed: tests_failed: the project's tests fail with the fix applied")
    assert note.endswith(f"PR #{number} is as it was before")
    assert bug["repair_reports"][-1]["status"] == "FAILED"
    assert not [c for c in fake_gitea.repos[REPO].prs[number].comments if c.author.login == "logcenter-bot"]


def test_a_stranger_s_review_sends_nothing_to_the_agent(harness: Harness, fake_gitea) -> None:
    bug_id, env = fixed_once(harness, fake_gitea, REPO, reviewers=["alice"])
    number = harness.bug(bug_id)["pr_number"]
    answer = request_changes(harness, fake_gitea, REPO, number, sender="mallory")
    assert "not one of the project's designated reviewers" in answer["bugs"][0]["outcome"]
    run = harness.run("--once", **env)
    assert run.returncode == 0
    assert len(harness.fixer_runs()) == 1  # the agent had nothing to do
    assert harness.bug(bug_id)["status"] == "PENDING_REVIEW"


def test_a_forge_that_refuses_the_reply_fails_nothing(harness: Harness, fake_gitea) -> None:
    bug_id, env = fixed_once(harness, fake_gitea, REPO, reviewers=["alice"])
    number = harness.bug(bug_id)["pr_number"]
    request_changes(harness, fake_gitea, REPO, number, sender="alice")
    fake_gitea.fail_next(403, times=5, path_contains="/comments", message="token lacks write:issue")
    run = harness.run("--once", **env)
    assert run.returncode == 0, run.stderr
    bug = harness.bug(bug_id)
    head = fake_gitea.repos[REPO].bare.rev(f"refs/heads/{bug['branch_name']}")
    assert (bug["status"], bug["head_sha"]) == ("PENDING_REVIEW", head)  # the revision stands
    [missing] = [e for e in bug["history"] if (e["note"] or "").startswith("reply_failed:")]
    assert (
        "the revision is pushed, but the reply on the PR failed" in missing["note"]
        and "403" in missing["note"]
    )
    assert fake_gitea.token not in missing["note"]
