"""The security review's findings, each shown closed: a report cannot choose the repository the agent works
on, the forge token goes to the forge's host only, the fixer's code cannot read the agent's tokens from /proc
nor redirect the push through the repository's config, and Aider gets no file from outside the worktree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from logcenter.agent import fixers, forge
from logcenter.agent.git import Repository, Tampered
from logcenter.agent.hardening import drop_token_variables
from logcenter.agent.job import Failure
from logcenter.agent.options import AgentSettings
from logcenter.agent.preparation import project_config
from logcenter.agent.prompt import Prompt
from logcenter.agent.worktree import commit, stage_all
from logcenter.forges.base import ForgeKind
from tests.agent.conftest import REPO_ROOT, TEST_COMMAND, Harness, git
from tests.agent.test_pull_request import REPO, forge_env, gitea  # noqa: F401  (the fixture)

EVIL_URL = "https://evil.example/acme/calc.git"


def report_with_repo_url(harness: Harness, repo_url: str) -> int:
    """An error report that names a repository, as anyone holding the (public) ingest key can send."""
    body = {
        "project_id": "calc",
        "environment": "production",
        "level": "ERROR",
        "repo_url": repo_url,
        "error": {
            "type": "ZeroDivisionError",
            "message": "division by zero",
            "file_path": "app/calc.py",
            "line_number": 5,
            "stack_trace": ["Traceback (most recent call last):", "ZeroDivisionError: division by zero"],
        },
    }
    response = harness.api.post("/api/v1/logs/report", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def test_a_repository_address_from_a_report_is_never_worked_on(harness: Harness) -> None:
    bug_id = report_with_repo_url(harness, EVIL_URL)
    project = harness.api.get("/api/v1/projects/calc").json()
    assert project["repo_url"] == EVIL_URL and not project.get("repo_url_confirmed")
    harness.run("--once", "--no-push", LOGCENTER_AGENT_TEST_COMMAND=TEST_COMMAND)
    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    reason = bug["failure_reason"]
    assert reason.startswith("config_missing: project 'calc' has a repo_url"), reason
    assert "came from an error report" in reason and "An admin must confirm it" in reason
    assert "PUT /api/v1/projects/calc" in reason and "Projects page" in reason
    # Nothing was cloned, nothing was run.
    assert harness.fixer_runs() == []
    assert not list((harness.tmp / "agent").glob("mirrors/*.git"))


def test_a_repository_an_admin_confirmed_is_worked_on(harness: Harness) -> None:
    bug_id = report_with_repo_url(harness, EVIL_URL)
    response = harness.api.put(
        "/api/v1/projects/calc", json={"repo_url": str(harness.origin), "test_command": TEST_COMMAND}
    )
    assert response.status_code == 200, response.text
    assert response.json()["repo_url_confirmed"] is True
    harness.run("--once", "--no-push")
    bug = harness.bug(bug_id)
    assert bug["failure_reason"].startswith("not_pushed: verified fix committed"), bug["failure_reason"]
    [mirror] = (harness.tmp / "agent" / "mirrors").glob("*.git")
    assert git("config", "remote.origin.url", cwd=mirror).strip() == str(harness.origin)


def test_the_agent_s_own_repository_wins_over_one_a_report_named(harness: Harness) -> None:
    bug_id = report_with_repo_url(harness, EVIL_URL)
    harness.run(
        "--once",
        "--no-push",
        LOGCENTER_AGENT_REPO_URL=str(harness.origin),
        LOGCENTER_AGENT_TEST_COMMAND=TEST_COMMAND,
    )
    bug = harness.bug(bug_id)
    assert bug["failure_reason"].startswith("not_pushed: verified fix committed"), bug["failure_reason"]
    [mirror] = (harness.tmp / "agent" / "mirrors").glob("*.git")
    assert git("config", "remote.origin.url", cwd=mirror).strip() == str(harness.origin)


def _project(**fields: object) -> object:
    from logcenter.projects.schemas import ProjectRead

    base = {
        "id": 1, "project_id": "calc", "name": None, "repo_url": None, "repo_url_confirmed": False,
        "local_path": None,
        "description": None, "default_branch": None, "test_command": "pytest", "forge": None,
        "forge_url": None, "forge_repo": None, "forge_token_set": False, "webhook_secret_set": False,
        "merge_style": None, "ingest_key": "k", "dsn": "http://k@h/1",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    return ProjectRead.model_validate({**base, **fields})


def test_which_repository_the_agent_works_on(tmp_path: Path) -> None:
    own = AgentSettings(repo_url="https://git.example.com/acme/calc.git", token=None)
    none = AgentSettings(token=None)
    confirmed = _project(repo_url="https://git.example.com/acme/app.git", repo_url_confirmed=True)
    reported = _project(repo_url=EVIL_URL)
    assert project_config(confirmed, none).repo_url == "https://git.example.com/acme/app.git"  # type: ignore[arg-type]
    assert project_config(confirmed, own).repo_url == "https://git.example.com/acme/app.git"  # type: ignore[arg-type]
    assert project_config(reported, own).repo_url == "https://git.example.com/acme/calc.git"  # type: ignore[arg-type]
    local = project_config(_project(repo_url=EVIL_URL, local_path=str(tmp_path)), none)  # type: ignore[arg-type]
    assert (local.repo_url, local.local_path) == (None, str(tmp_path))
    with pytest.raises(Failure) as failed:
        project_config(reported, none)  # type: ignore[arg-type]
    assert failed.value.code == "config_missing" and "came from an error report" in str(failed.value)


def test_the_forge_token_is_offered_only_to_the_forge_s_host() -> None:
    settings = AgentSettings(
        gitea_url="https://gitea.example.com",
        gitea_token=SecretStr("gitea-token"),
        github_token=SecretStr("github-token"),
        token=None,
    )
    url = "https://gitea.example.com/acme/calc.git"
    target = forge.resolve(_project(repo_url=url), settings, url)  # type: ignore[arg-type]
    assert target.kind == ForgeKind.GITEA
    offered = target.credentials(url)
    assert offered is not None and offered.password == "gitea-token" and offered.host == "gitea.example.com"
    assert offered.env(url)["GIT_CONFIG_KEY_0"] == "http.https://gitea.example.com/.extraHeader"
    for elsewhere in (
        EVIL_URL,
        "https://gitea.example.com.evil.example/acme/calc.git",
        "https://gitea.example.com@evil.example/acme/calc.git",
        "ssh://gitea.example.com/acme/calc.git",
        "git@gitea.example.com:acme/calc.git",
        "file:///srv/git/acme/calc.git",
        "/srv/git/acme/calc.git",
    ):
        assert target.credentials(elsewhere) is None, elsewhere

    # GitHub: the API is api.github.com, the pushes go to github.com and nowhere else.
    hub_url = "https://github.com/acme/calc.git"
    hub = forge.resolve(_project(repo_url=hub_url, forge="github"), settings, hub_url)  # type: ignore[arg-type]
    assert hub.credentials(hub_url) is not None
    assert hub.credentials("https://api.github.com.evil.example/acme/calc.git") is None
    assert hub.credentials(EVIL_URL) is None

    # A project whose forge is set on the server sends the token to that forge's host only, whatever the
    # repository address says.
    pinned = forge.resolve(
        _project(repo_url=EVIL_URL, forge="gitea", forge_url="https://gitea.example.com"),  # type: ignore[arg-type]
        settings,
        EVIL_URL,
    )
    assert pinned.credentials(EVIL_URL) is None
    assert pinned.credentials(url) is not None


def test_processes_of_the_agent_s_user_cannot_read_its_tokens(harness: Harness, tmp_path: Path) -> None:
    # The agent as an ordinary user (root would read any process's memory anyway): a reader of the same user
    # finds neither the agent token nor the forge token in /proc/<agent>/environ.
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    workdir = tmp_path / "shared"
    workdir.mkdir(mode=0o777)
    workdir.chmod(0o777)
    env = harness.env(
        LOGCENTER_AGENT_WORKDIR=str(workdir / "agent"),
        LOGCENTER_GITEA_URL="https://gitea.example.com",
        LOGCENTER_GITEA_TOKEN="gitea-token-0123456789abcdef",
        HOME=str(workdir),
        PYTHONPATH=f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT / 'sdk' / 'src'}",
    )
    agent = subprocess.Popen(
        [*as_user, sys.executable, "-m", "logcenter", "agent", "--json", "--poll", "60"],
        env=env,
        cwd=workdir,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert agent.stderr is not None
        first = json.loads(agent.stderr.readline())
        assert first["event"] == "started", first
        seen = subprocess.run(
            [*as_user, "cat", f"/proc/{agent.pid}/environ"], capture_output=True, errors="replace"
        )
        assert harness.agent_token not in seen.stdout
        assert "gitea-token-0123456789abcdef" not in seen.stdout
        assert "Permission denied" in seen.stderr
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=60)
    assert agent.returncode == 0


def test_a_push_is_refused_when_the_tests_rewrote_the_git_config(harness: Harness, gitea) -> None:  # noqa: F811
    # The project's tests (code the fixer wrote) run as the agent's user in a worktree of the shared mirror:
    # they point the push elsewhere through the mirror's config. The push goes nowhere and says why.
    evil = harness.tmp / "evil.git"
    git("init", "-q", "--bare", str(evil), cwd=harness.tmp)
    tamper = f"git config remote.origin.pushurl {evil} && git config url.{evil}.insteadOf {harness.origin}"
    harness.project(test_command=f"{tamper} && {TEST_COMMAND}")
    bug_id = harness.report()
    harness.run("--once", **forge_env(gitea))
    bug = harness.bug(bug_id)
    assert bug["status"] == "FAILED"
    reason = bug["failure_reason"]
    assert reason.startswith("push_failed: refusing to push: the repository's git settings changed"), reason
    assert "config" in reason
    assert git("for-each-ref", cwd=evil) == ""
    assert git("for-each-ref", "refs/heads/fix/", cwd=harness.origin) == ""
    assert gitea.repos[REPO].prs == {}

    # The next run does not fetch through the tampered mirror either.
    second = harness.report("IndexError")
    harness.run("--once", **forge_env(gitea))
    reason = harness.bug(second)["failure_reason"]
    assert reason.startswith("checkout_failed: the mirror"), reason
    assert "remote.origin.pushurl" in reason and "url." in reason
    assert git("for-each-ref", cwd=evil) == ""


def _aider_argv(worktree: Path, bug_file: str | None) -> list[str]:
    job = fixers.FixJob(
        prompt=Prompt(text="fix it", rules="rules", marker="m"),
        prompt_file=worktree.parent / "prompt.txt",
        worktree=worktree,
        test_command="pytest",
        bug_file=bug_file,
        env={},
        timeout=10,
        max_turns=1,
        max_budget_usd=1,
        model=None,
        cancel=None,
    )
    return fixers.Aider(path="/usr/bin/aider").argv(job)[0]


def test_aider_gets_only_a_file_inside_the_worktree(tmp_path: Path) -> None:
    worktree = tmp_path / "worktree"
    (worktree / "app").mkdir(parents=True)
    (worktree / "app" / "calc.py").write_text("x = 1\n")
    (worktree / "-rf").write_text("")
    (worktree / ".github" / "workflows").mkdir(parents=True)
    (worktree / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (worktree / ".env").write_text("SECRET=1\n")
    (worktree / "passwd").symlink_to("/etc/passwd")
    (tmp_path / "outside.py").write_text("")

    argv = _aider_argv(worktree, "app/calc.py")
    assert argv[-2:] == ["--", "app/calc.py"]
    assert _aider_argv(worktree, "./app/calc.py")[-2:] == ["--", "app/calc.py"]
    for hostile in (
        "/etc/passwd",
        "../outside.py",
        "app/../../outside.py",
        str(tmp_path / "outside.py"),
        "passwd",  # a symlink out of the worktree
        "-rf",
        "--help",
        ".github/workflows/ci.yml",
        ".env",
        "app/missing.py",
        "app",
        "",
    ):
        argv = _aider_argv(worktree, hostile)
        assert argv[-1] == "--no-stream" and "--" not in argv, (hostile, argv)


def _mirror_with_branch(tmp_path: Path, origin: Path) -> Repository:
    repo = Repository.mirror(tmp_path / "agent", str(origin), None)
    worktree = repo.add_worktree(tmp_path / "agent" / "worktrees" / "w", branch="fix/x", base="origin/main")
    (worktree / "NEW.txt").write_text("new\n")
    stage_all(worktree)
    commit(worktree, message="change", name="Agent", email="agent@example.com")
    return repo


def test_hooks_and_worktree_config_written_after_the_checkout_stop_the_push(
    tmp_path: Path, origin: Path
) -> None:
    repo = _mirror_with_branch(tmp_path, origin)
    hook = repo.path / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\ntouch /tmp/pwned\n")
    hook.chmod(0o755)
    worktree_config = next((repo.path / "worktrees").iterdir()) / "config.worktree"
    worktree_config.write_text("[core]\n\tsshCommand = touch /tmp/pwned\n")
    with pytest.raises(Tampered) as refused:
        repo.push("fix/x")
    assert "hooks/pre-push" in str(refused.value) and "config.worktree" in str(refused.value)
    assert git("for-each-ref", "refs/heads/fix/", cwd=origin) == ""
    # Put back as it was, the push goes through.
    hook.unlink()
    worktree_config.unlink()
    repo.push("fix/x")
    assert git("for-each-ref", "--format=%(refname)", "refs/heads/fix/", cwd=origin).split() == [
        "refs/heads/fix/x"
    ]


def test_the_user_s_global_git_config_does_not_redirect_the_push(
    tmp_path: Path, origin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixer's code can write the agent user's ~/.gitconfig as well: the push reads no global config.
    evil = tmp_path / "evil.git"
    git("init", "-q", "--bare", str(evil), cwd=tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    repo = _mirror_with_branch(tmp_path, origin)
    (home / ".gitconfig").write_text(f'[url "{evil}"]\n\tpushInsteadOf = {origin}\n')
    repo.push("fix/x")
    assert git("for-each-ref", cwd=evil) == ""
    assert "refs/heads/fix/x" in git("for-each-ref", "refs/heads/fix/", cwd=origin)


def test_the_token_variables_leave_the_environment_once_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGCENTER_AGENT_TOKEN", "agent-token-value")
    monkeypatch.setenv("LOGCENTER_GITEA_TOKEN", "gitea-token-value")
    monkeypatch.setenv("LOGCENTER_AGENT_SERVER", "http://logcenter.example")
    settings = AgentSettings()
    assert sorted(drop_token_variables()) == ["LOGCENTER_AGENT_TOKEN", "LOGCENTER_GITEA_TOKEN"]
    assert "LOGCENTER_AGENT_TOKEN" not in os.environ and "LOGCENTER_GITEA_TOKEN" not in os.environ
    assert os.environ["LOGCENTER_AGENT_SERVER"] == "http://logcenter.example"
    assert settings.secrets() == ["agent-token-value", "gitea-token-value"]
