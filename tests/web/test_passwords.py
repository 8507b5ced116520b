"""The argon2 cost of web UI passwords comes from the settings (LOGCENTER_PASSWORD_HASH_*)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from logcenter.config import Settings
from logcenter.main import create_app
from logcenter.users import service as users_service
from logcenter.users.models import Role
from tests.conftest import Database
from tests.web.conftest import PASSWORD, make_user

COST_NAMES = ("PASSWORD_HASH_TIME_COST", "PASSWORD_HASH_MEMORY_KIB", "PASSWORD_HASH_PARALLELISM")


@pytest.fixture(autouse=True)
def suite_cost() -> Iterator[None]:
    yield
    users_service.configure_passwords(Settings())  # back to the suite's cost (tests/conftest.py)


def stored_hash(db: Database, username: str) -> str:
    with db.factory() as session:
        return users_service.get_user(session, username).password_hash


def test_the_app_hashes_new_passwords_with_the_cost_of_its_settings(db: Database) -> None:
    create_app(
        Settings(
            database_url=db.url,
            job_worker=False,
            password_hash_time_cost=2,
            password_hash_memory_kib=1024,
            password_hash_parallelism=2,
        )
    )
    make_user(db, "ada", Role.ADMIN)
    assert stored_hash(db, "ada").startswith("$argon2id$v=19$m=1024,t=2,p=2$")


def test_a_hash_of_another_cost_still_logs_in_and_is_upgraded_then(db: Database) -> None:
    users_service.configure_passwords(
        Settings(password_hash_time_cost=2, password_hash_memory_kib=1024, password_hash_parallelism=2)
    )
    make_user(db, "ada", Role.ADMIN)
    users_service.configure_passwords(
        Settings(password_hash_time_cost=1, password_hash_memory_kib=64, password_hash_parallelism=1)
    )
    with db.factory() as session:
        assert users_service.authenticate(session, username="ada", password="not the password") is None
        assert users_service.authenticate(session, username="nobody", password=PASSWORD) is None
        assert users_service.authenticate(session, username="ada", password=PASSWORD) is not None
        session.commit()
    assert stored_hash(db, "ada").startswith("$argon2id$v=19$m=64,t=1,p=1$")
    with db.factory() as session:
        assert users_service.authenticate(session, username="ada", password=PASSWORD) is not None


def test_the_default_cost_is_argon2_cffis(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COST_NAMES:
        monkeypatch.delenv(f"LOGCENTER_{name}")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    cost = (
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )
    assert cost == (3, 65536, 4)  # RFC 9106's second recommendation, as PasswordHasher() has it


def test_less_than_8_kib_per_lane_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 8 per lane"):
        Settings(password_hash_memory_kib=16, password_hash_parallelism=4)
