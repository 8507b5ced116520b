"""`logcenter user create / list / disable / set-password` against a real database."""

from __future__ import annotations

import pytest

from logcenter import cli
from logcenter.config import get_settings
from logcenter.users import service as users_service


@pytest.fixture
def cli_env(db, monkeypatch):
    monkeypatch.setenv("LOGCENTER_DATABASE_URL", db.url)
    # cli.main configures structlog to print to this test's captured stderr, which pytest closes afterwards:
    # later tests' log lines would fail on it.
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_user_commands(cli_env, db, capsys):
    assert (
        cli.main(["user", "create", "--username", "mei", "--role", "reviewer", "--password", "s3cret-pass"])
        == 0
    )
    assert "Created reviewer user 'mei'" in capsys.readouterr().err
    assert (
        cli.main(["user", "create", "--username", "MEI", "--role", "viewer", "--password", "s3cret-pass"])
        == 1
    )
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["user", "create", "--username", "x", "--role", "viewer", "--password", "short"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err
    cli.main(["user", "list"])
    out = capsys.readouterr().out
    assert "mei\treviewer\tactive" in out and "s3cret" not in out
    with db.factory() as session:
        assert users_service.authenticate(session, username="mei", password="s3cret-pass") is not None
    assert cli.main(["user", "set-password", "mei", "--password", "another-pass"]) == 0
    assert cli.main(["user", "disable", "mei"]) == 0
    with db.factory() as session:
        assert users_service.authenticate(session, username="mei", password="another-pass") is None
    assert cli.main(["user", "disable", "mei", "--enable"]) == 0
    with db.factory() as session:
        user = users_service.authenticate(session, username="mei", password="another-pass")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
    assert cli.main(["user", "disable", "nobody"]) == 1
