"""The whole way to a pull request: `logcenter agent --once` with the fake `claude`, a live Log Center and the
fake Gitea (tests/forgefake) serving the sample app's bare origin; the agent pushes with git and opens the PR
through the real Gitea client."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.agent.conftest import Harness, git
from tests.forgefake.git import BareRepo

REPO = "acme/calc"


@pytest.fixture
def gitea(harness: Harness, fake_gitea):
    fake_gitea.add_repo(REPO, bare=BareRepo(harness.origin))
    return fake_gitea


def forge_env(gitea) -> dict[str, str]:
    return {"LOGCENTER_GITEA_URL": gitea.url, "LOGCENTER_GITEA_TOKEN": gitea.token}


def test_a_verified_fix_becomes_a_pull_request(harness: Harness, gitea) -> None:
    harness.project()
    bug_id = harness.report()
    run = harness.run("--once", **forge_env(gitea))
    assert run.returncode == 0, run.stderr

    bug = harness.bug(bug_id)
    assert bug["status"] == "PENDING_REVIEW", bug["failure_reason"]
    [report] = bug["repair_reports"]
    [pr] = gitea.repos[REPO].prs.values()
    assert (report["pr_number"], bug["pr_number"]) == (pr.number, pr.number)
    assert bug["pr_url"] == report["pr_url"] and report["pr_url"].endswith(f"/{REPO}/pulls/{pr.number}")
    branch = report["branch_name"]
    assert bug["branch_name"] == branch and pr.head == branch and pr.base == "main"
    assert pr.title == f"fix: ZeroDivisionError in calc.py (bug #{bug_id})"
    for words in (
        f"[bug #{bug_id}]({harness.server.url}/bugs/{bug_id})",
        "Root cause: average did not handle its edge case",
        "Fail before the fix: the new tests (`tests/test_bug_average.py`)",
        "Pass after the fix",
        "`app/calc.py` (+1, -1)",
        "`tests/test_bug_average.py` (+5, -0)",
        "Review the changes carefully before merging",
    ):
        assert words in pr.body, words
    # The branch and the agent's commit are in origin; main is untouched.
    head = gitea.repos[REPO].bare.rev(f"refs/heads/{branch}")
    author, subject = git("log", "-1", "--format=%an|%s", head, cwd=harness.origin).strip().split("|")
    assert (author, subject) == ("Log Center Repair Agent", pr.title)
    changed = git("diff", "--name-only", "main", branch, cwd=harness.origin).split()
    assert changed == ["app/calc.py", "tests/test_bug_average.py"]
    # The bug's history: claimed, each step of the run, then the PR.
    steps = [
        (e["kind"], e["to_status"], (e["note"] or "").split(":")[0])
        for e in bug["history"]
        if e["kind"] != "created"
    ]
    assert steps == [
        ("status", "FIXING", "Claimed by repair agent"),
        ("agent", "FIXING", "fixing"),
        ("agent", "FIXING", "verifying"),
        ("agent", "FIXING", "pushed"),
        ("repair", "PENDING_REVIEW", f"PR #{pr.number}"),
    ]
    events = [e["event"] for e in run.events if e.get("bug") == bug_id]
    assert events == ["claimed", "fixing", "verifying", "pushed", "pr", "done"]
    # --json: every line on stderr is one JSON object, with no library's log line in between.
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(run.events) == len(lines), run.stderr


def test_the_forge_token_stays_in_the_agent(harness: Harness, gitea) -> None:
    harness.project()
    bug_id = harness.report()
    run = harness.run("--once", **forge_env(gitea))
    assert harness.bug(bug_id)["status"] == "PENDING_REVIEW"
    # The PR call carried it...
    [create] = gitea.calls("POST", "/pulls")
    assert gitea.token in create.headers.get("authorization", "")
    # ...but the fixer, the output, the report and every git config the agent wrote never saw it.
    [seen] = harness.fixer_runs()
    assert gitea.token not in "\n".join(harness.seen(seen)["env"].values())
    assert gitea.token not in run.stderr + run.stdout
    assert gitea.token not in str(harness.bug(bug_id))
    for config in (harness.tmp / "agent").rglob("config"):
        assert gitea.token not in config.read_text()
    assert gitea.token not in (harness.origin / "config").read_text()


def test_a_refused_push_fails_with_push_failed(harness: Harness, gitea) -> None:
    hook = harness.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: pushes need review' >&2\nexit 1\n")
    hook.chmod(0o755)
    harness.project()
    bug_id = harness.report()
    harness.run("--once", **forge_env(gitea))
    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    assert bug["failure_reason"].startswith("push_failed: git push failed")
    assert "protected: pushes need review" in bug["failure_reason"]
    assert gitea.repos[REPO].prs == {}


def test_a_forge_that_refuses_the_pr_fails_with_pr_failed(harness: Harness, gitea) -> None:
    harness.project()
    bug_id = harness.report()
    gitea.fail_next(403, times=10, path_contains="/pulls", message="token lacks write:repository")
    harness.run("--once", **forge_env(gitea))
    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    reason = bug["failure_reason"]
    assert reason.startswith("pr_failed: branch fix/auto-") and "was pushed" in reason and "403" in reason
    branch = bug["repair_reports"][0]["branch_name"]
    assert gitea.repos[REPO].bare.has(f"refs/heads/{branch}")  # kept for a person to open the PR


def test_two_agents_open_one_pr_per_bug(harness: Harness, gitea) -> None:
    harness.project()
    bugs = [harness.report(kind) for kind in ("ZeroDivisionError", "IndexError", "ValueError", "KeyError")]
    results = {}

    def agent(name: str) -> None:
        results[name] = harness.run(
            "--once", "--concurrency", "2", "--name", name, scenario="slow:1", **forge_env(gitea)
        )

    threads = [threading.Thread(target=agent, args=(name,)) for name in ("agent-a", "agent-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.returncode == 0 for r in results.values()), [r.stderr for r in results.values()]
    prs = gitea.repos[REPO].prs.values()
    assert len(prs) == 4
    for bug_id in bugs:
        bug = harness.bug(bug_id)
        assert bug["status"] == "PENDING_REVIEW", bug["failure_reason"]
        assert len(bug["repair_reports"]) == 1
    assert sorted(pr.title.rsplit("#", 1)[1].rstrip(")") for pr in prs) == sorted(str(b) for b in bugs)
    assert len({pr.head for pr in prs}) == 4
    assert list(Path(harness.tmp / "agent" / "worktrees").iterdir()) == []


FORGE_ENV = {"gitea": "GITEA", "github": "GITHUB", "gitlab": "GITLAB"}


def test_each_forge_gets_its_pull_request(harness: Harness, fake_forge) -> None:
    repo = "acme/team/calc" if fake_forge.kind == "gitlab" else REPO  # GitLab: a nested group
    fake_forge.add_repo(repo, bare=BareRepo(harness.origin))
    name = FORGE_ENV[fake_forge.kind]
    env = {
        f"LOGCENTER_{name}_URL": fake_forge.api_url if fake_forge.kind == "github" else fake_forge.url,
        f"LOGCENTER_{name}_TOKEN": fake_forge.token,
        "LOGCENTER_AGENT_FORGE_REPO": repo,
    }
    harness.project()
    bug_id = harness.report("IndexError")
    run = harness.run("--once", **env)
    assert run.returncode == 0, run.stderr
    bug = harness.bug(bug_id)
    assert bug["status"] == "PENDING_REVIEW", bug["failure_reason"]
    [pr] = fake_forge.repos[repo].prs.values()
    assert bug["pr_number"] == pr.number and pr.title == f"fix: IndexError in calc.py (bug #{bug_id})"
    assert fake_forge.repos[repo].bare.has(f"refs/heads/{bug['branch_name']}")


def test_the_project_s_forge_settings_with_the_agent_s_own_token(harness: Harness, gitea) -> None:
    # The server knows the forge (and holds a token of its own for webhooks and merges); the agent takes
    # where to open the PR from the project, and the token only from its own environment.
    harness.project(forge="gitea", forge_url=gitea.api_url, forge_repo=REPO, forge_token="server-side-token")
    bug_id = harness.report("KeyError")
    run = harness.run("--once", LOGCENTER_GITEA_TOKEN=gitea.token)
    assert run.returncode == 0, run.stderr
    assert harness.bug(bug_id)["status"] == "PENDING_REVIEW", harness.bug(bug_id)["failure_reason"]
    [create] = gitea.calls("POST", "/pulls")
    assert create.headers["authorization"] == f"token {gitea.token}"
