"""Finding a repository's path and API base from what users paste: clone URLs in every form."""

from __future__ import annotations

import pytest

from logcenter.forges import ForgeKind, default_api_url, make_forge, parse_repo
from logcenter.forges.gitea import GiteaForge
from logcenter.forges.github import GitHubForge
from logcenter.forges.gitlab import GitLabForge


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/app", ("github.com", "acme/app")),
        ("https://github.com/acme/app.git", ("github.com", "acme/app")),
        ("https://github.com/acme/app/", ("github.com", "acme/app")),
        ("git@github.com:acme/app.git", ("github.com", "acme/app")),
        ("ssh://git@gitea.example:2222/acme/app.git", ("gitea.example", "acme/app")),
        ("https://gitea.example:3000/acme/app.git", ("gitea.example:3000", "acme/app")),
        ("https://user:pw@gitlab.example/group/sub/app.git", ("gitlab.example", "group/sub/app")),
        ("git@gitlab.example:group/sub/deeper/app.git", ("gitlab.example", "group/sub/deeper/app")),
        ("acme/app", ("", "acme/app")),
    ],
)
def test_parse_repo(url: str, expected: tuple[str, str]) -> None:
    assert parse_repo(url) == expected


@pytest.mark.parametrize("url", ["", "https://github.com/acme", "just-a-name", "https://github.com//app"])
def test_parse_repo_refuses_what_is_not_a_repository(url: str) -> None:
    with pytest.raises(ValueError):
        parse_repo(url)


def test_default_api_urls() -> None:
    assert default_api_url("github", "github.com") == "https://api.github.com"
    assert default_api_url(ForgeKind.GITHUB, "") == "https://api.github.com"
    assert default_api_url("github", "ghe.example") == "https://ghe.example/api/v3"
    assert default_api_url("gitea", "gitea.example:3000") == "https://gitea.example:3000/api/v1"
    assert default_api_url("gitlab", "gitlab.example", scheme="http") == "http://gitlab.example/api/v4"
    with pytest.raises(ValueError):
        default_api_url("gitlab", "")
    with pytest.raises(ValueError):
        default_api_url("bitbucket", "bitbucket.org")


def test_make_forge_picks_the_client_and_keeps_the_token_out_of_repr() -> None:
    kinds = {"gitea": GiteaForge, "github": GitHubForge, "gitlab": GitLabForge}
    for kind, cls in kinds.items():
        forge = make_forge(kind, "https://forge.example/api", "s3cr3t-token", repo="acme/app")
        try:
            assert isinstance(forge, cls) and forge.kind == kind
            assert "s3cr3t-token" not in repr(forge.config)  # type: ignore[attr-defined]
        finally:
            forge.close()


def test_forge_timestamps() -> None:
    from datetime import UTC, datetime

    from logcenter.forges.http import parse_time

    moment = datetime(2026, 7, 20, 10, 2, 11, tzinfo=UTC)
    assert parse_time("2026-07-20T10:02:11Z") == moment
    assert parse_time("2026-07-20T12:02:11+02:00") == moment
    assert parse_time("2026-07-20 10:02:11 UTC") == moment
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time(None) is None and parse_time("yesterday") is None


def test_gitea_pull_request_keeps_the_branch_name_after_the_branch_is_deleted() -> None:
    import json

    from logcenter.forges import gitea
    from tests.forgefake.swagger import CONTRACTS

    payload = json.loads((CONTRACTS / "gitea" / "webhook-pull_request-merged.json").read_text())
    pull = payload["pull_request"]
    assert gitea.pull_request_from(pull).head_branch == "logcenter/fix-issue-42"
    pull["head"]["ref"] = "refs/pull/7/head"
    parsed = gitea.pull_request_from(pull)
    assert parsed.head_branch == "logcenter/fix-issue-42"
    assert parsed.merged and parsed.merge_commit_sha == pull["merge_commit_sha"] and parsed.number == 7
