"""Forge tokens and webhook secrets at rest: encrypted with a key kept outside the database, rotatable."""

from __future__ import annotations

import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy import select

from logcenter.auth.models import Scope
from logcenter.bugs.models import BugStatus
from logcenter.config import Settings
from logcenter.main import create_app
from logcenter.projects.models import Project
from logcenter.secretbox import new_key
from tests.conftest import make_token
from tests.webhooks.conftest import forge_project, post, reload, review_bug
from tests.webhooks.payloads import gitea_delivery, gitea_pr

OWN = "project-secret-7f3a"


def stored(session) -> str:
    session.rollback()
    session.expire_all()
    value = session.scalar(select(Project.webhook_secret_encrypted).where(Project.slug == "shop"))
    assert value is not None
    return value


def closed_hook(secret: str):
    return gitea_delivery(gitea_pr("closed", repo="acme/shop", number=7), secret=secret)


def logcenter(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LOGCENTER_DATABASE_URL": settings.database_url,
        "LOGCENTER_DATA_DIR": str(settings.data_dir),
    }
    if settings.secret_key is not None:
        env["LOGCENTER_SECRET_KEY"] = settings.secret_key.get_secret_value()
    return subprocess.run(
        [sys.executable, "-m", "logcenter", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_rotation_reencrypts_and_a_running_server_keeps_working(client, session, settings, admin_headers):
    forge_project(session, "shop", "acme/shop")
    bug = review_bug(session, session.scalar(select(Project).where(Project.slug == "shop")))
    assert (
        client.put("/api/v1/projects/shop", json={"webhook_secret": OWN}, headers=admin_headers).status_code
        == 200
    )
    before = stored(session)
    assert OWN not in before
    key_file = settings.data_dir / "secret.key"
    assert len(key_file.read_text().split()) == 1

    rotated = logcenter(settings, "secrets", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-encrypted 1 stored secret" in rotated.stderr
    assert len(key_file.read_text().split()) == 2
    assert stored(session) != before

    dropped = logcenter(settings, "secrets", "rotate", "--drop-old")
    assert dropped.returncode == 0, dropped.stderr
    assert len(key_file.read_text().split()) == 1
    # The server started before both rotations reads the new key file and still checks the project's secret.
    assert post(client, "/api/webhooks/gitea", closed_hook(OWN)).status_code == 200
    assert reload(session, bug).status == BugStatus.FAILED


def test_a_lost_key_is_a_clear_error_that_shows_no_secret(client, session, settings, admin_headers):
    forge_project(session, "shop", "acme/shop")
    review_bug(session, session.scalar(select(Project).where(Project.slug == "shop")))
    client.put("/api/v1/projects/shop", json={"webhook_secret": OWN}, headers=admin_headers)
    (settings.data_dir / "secret.key").write_text(new_key() + "\n")  # the key file replaced, old key lost
    response = post(client, "/api/webhooks/gitea", closed_hook(OWN))
    assert response.status_code == 503
    assert "secret.key" in response.json()["detail"]
    assert OWN not in response.text


def test_keys_from_the_environment_need_no_key_file(db, session, tmp_path):
    settings = Settings(
        database_url=db.url,
        data_dir=tmp_path / "data",
        secret_key=f"{new_key()},{new_key()}",
        job_worker=False,
    )
    forge_project(session, "shop", "acme/shop")
    bug = review_bug(session, session.scalar(select(Project).where(Project.slug == "shop")))
    headers = {"Authorization": f"Bearer {make_token(db, Scope.ADMIN, 'admin')}"}
    with TestClient(create_app(settings)) as client:
        assert (
            client.put("/api/v1/projects/shop", json={"webhook_secret": OWN}, headers=headers).status_code
            == 200
        )
        assert post(client, "/api/webhooks/gitea", closed_hook(OWN)).status_code == 200
    assert not (tmp_path / "data" / "secret.key").exists()
    assert reload(session, bug).status == BugStatus.FAILED
    refused = logcenter(settings, "secrets", "rotate")
    assert refused.returncode == 1
    assert "put a new key (logcenter secrets new-key) first in it" in refused.stderr
    reencrypted = logcenter(settings, "secrets", "reencrypt")
    assert reencrypted.returncode == 0, reencrypted.stderr
    assert not (tmp_path / "data" / "secret.key").exists()
