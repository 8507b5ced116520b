"""Forge calls that fail: retries on 5xx and 429 (honouring Retry-After), a forge that is down, bad tokens,
and tokens that never reach an error message or a log line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote

import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logcenter.forges import ForgeError
from logcenter.forges import http as forge_http
from tests.forgefake.core import FakeForge, free_port, serve


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(forge_http, "sleep", waited.append)
    return waited


def repo_calls(fake: FakeForge) -> int:
    return len([r for r in fake.requests if r.method == "GET"])


def test_a_5xx_is_retried_and_then_succeeds(fake_forge: FakeForge, sleeps: list[float]) -> None:
    fake_forge.fail_next(502, times=2)
    info = fake_forge.client().repo_info()
    assert info.default_branch == "main"
    assert repo_calls(fake_forge) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # backoff grows


def test_429_waits_as_long_as_retry_after_says(fake_forge: FakeForge, sleeps: list[float]) -> None:
    fake_forge.fail_next(429, retry_after=7, message="API rate limit exceeded")
    assert fake_forge.client().repo_info().full_name == fake_forge.default_repo
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=12), usegmt=True)
    assert forge_http.retry_after_seconds(header, now=now.timestamp()) == 12
    assert forge_http.retry_after_seconds("5") == 5
    assert forge_http.retry_after_seconds("soon") is None
    assert forge_http.retry_after_seconds(None) is None


def test_a_retry_after_too_long_fails_at_once(fake_forge: FakeForge, sleeps: list[float]) -> None:
    fake_forge.fail_next(429, retry_after=3600, message="API rate limit exceeded")
    with pytest.raises(ForgeError) as caught:
        fake_forge.client().repo_info()
    assert caught.value.forge_status == 429
    assert "rate limit" in str(caught.value)
    assert sleeps == [] and repo_calls(fake_forge) == 1


def test_retries_are_bounded(fake_forge: FakeForge, sleeps: list[float]) -> None:
    fake_forge.fail_next(503, times=10, message="maintenance")
    with pytest.raises(ForgeError) as caught:
        fake_forge.client(max_retries=2).get_pull_request(1)
    error = caught.value
    assert (error.forge, error.forge_status, error.status_code) == (fake_forge.kind, 503, 502)
    assert str(error).startswith(f"{fake_forge.kind}: get ")
    assert "HTTP 503" in str(error) and "maintenance" in str(error)
    assert repo_calls(fake_forge) == 3 and len(sleeps) == 2


def test_client_errors_are_not_retried(fake_forge: FakeForge, sleeps: list[float]) -> None:
    with pytest.raises(ForgeError) as caught:
        fake_forge.client().get_pull_request(404)
    assert caught.value.forge_status == 404
    assert repo_calls(fake_forge) == 1 and sleeps == []


def test_a_forge_that_is_down_is_a_clear_error(fake_forge: FakeForge, sleeps: list[float]) -> None:
    forge = fake_forge.client(max_retries=1)
    with fake_forge.outage(), pytest.raises(ForgeError) as caught:
        forge.repo_info()
    message = str(caught.value)
    assert caught.value.forge_status is None
    assert (
        message.startswith(f"{fake_forge.kind}: get ")
        and "no answer" in message
        and "cannot reach" in message
    )
    assert "Traceback" not in message
    assert len(sleeps) == 1
    assert forge.repo_info().default_branch == "main"  # back after the outage


def test_a_wrong_token_is_a_401_that_does_not_show_the_token(fake_forge: FakeForge) -> None:
    wrong = "glpat-WRONG-secret-token-123"
    with pytest.raises(ForgeError) as caught:
        fake_forge.client(token=wrong).repo_info()
    assert caught.value.forge_status == 401
    assert wrong not in str(caught.value) and fake_forge.token not in str(caught.value)


def test_the_token_is_sent_but_never_logged_or_echoed(fake_forge: FakeForge, sleeps: list[float]) -> None:
    fake_forge.fail_next(500, times=5, message=f"upstream said: bad credentials {fake_forge.token}")
    with structlog.testing.capture_logs() as logs, pytest.raises(ForgeError) as caught:
        fake_forge.client(max_retries=1).repo_info()
    assert fake_forge.token not in str(caught.value)
    assert "[token]" in str(caught.value)
    assert logs and fake_forge.token not in repr(logs)
    assert fake_forge.token not in repr(fake_forge.client().config)
    sent = fake_forge.requests[0].headers
    assert fake_forge.token in (sent.get("authorization", "") + sent.get("private-token", ""))


def test_a_comment_is_not_repeated_after_an_ambiguous_failure(
    fake_forge: FakeForge, sleeps: list[float]
) -> None:
    """A 502 may come after the forge stored the comment: posting again could comment twice."""
    repo = fake_forge.default_repo
    pr = fake_forge.open_pr(repo, "fix-average", files={"app/calc.py": "x = 1\n"})
    fake_forge.fail_next(502, path_contains="/comments" if fake_forge.kind != "gitlab" else "/notes")
    forge = fake_forge.client()
    with pytest.raises(ForgeError) as caught:
        forge.comment(pr.number, "Rejected: hides the error")
    assert caught.value.forge_status == 502 and sleeps == []

    fake_forge.fail_next(
        429, retry_after=2, path_contains="/comments" if fake_forge.kind != "gitlab" else "/notes"
    )
    forge.comment(pr.number, "Rejected: hides the error")  # a 429 was refused before acting: retried
    assert sleeps == [2.0]
    assert [c.body for c in fake_forge.repos[repo].prs[pr.number].comments] == ["Rejected: hides the error"]


def test_a_redirect_is_followed_without_taking_the_token_to_another_host(fake_forge: FakeForge) -> None:
    """A moved repository answers with a redirect; to another host, the token must stay behind."""
    seen: list[dict[str, str]] = []

    async def elsewhere(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        return JSONResponse({"message": "not here"}, status_code=404)

    port = free_port()
    server, thread = serve(Starlette(routes=[Route("/{path:path}", elsewhere)]), port, name="elsewhere")
    try:
        fake_forge.fail_next(301, location=f"http://127.0.0.1:{port}/moved")
        with pytest.raises(ForgeError) as caught:
            fake_forge.client().repo_info()
    finally:
        server.should_exit = True
        thread.join(15)
    assert caught.value.forge_status == 404
    assert len(seen) == 1
    assert fake_forge.token not in repr(seen)


def test_a_redirect_on_the_same_forge_is_followed(fake_forge: FakeForge) -> None:
    repo = fake_forge.default_repo
    where = f"/projects/{quote(repo, safe='')}" if fake_forge.kind == "gitlab" else f"/repos/{repo}"
    real = fake_forge.client().repo_info()
    fake_forge.fail_next(301, location=fake_forge.api_url + where)
    assert fake_forge.client().repo_info() == real
    assert len(fake_forge.requests) == 3
