"""Secrets in real reports never reach the database: the rows are read back and searched for them."""

from __future__ import annotations

from typing import Any

import pytest
import sentry_sdk
from sqlalchemy import text

from logcenter import scrub
from logcenter.scrub import DEFAULT, FILTERED, Scrubber
from tests.sentry.test_event import sample_event
from tests.sentry.test_sentry_sdk import app, dsn, live_server, sentry  # noqa: F401  (fixtures)

SECRETS = (
    "bodysecret",
    "wsgisecret999",
    "cookiesecret",
    "querysecret",
    "dsnsecret",
    "hunter2-extra",
    "tagsecret123",
    "crumbsecret",
    "4111 1111 1111 1111",
)


def everything_stored(db_session) -> str:
    """Every row of every table the ingest writes, as one string."""
    rows = []
    for table in ("bugs", "occurrences", "bug_events", "projects"):
        rows += [repr(tuple(row)) for row in db_session.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(rows)


def test_secrets_sent_by_the_sentry_sdk_are_not_stored(api, sentry, session):  # noqa: F811
    sentry()
    with sentry_sdk.isolation_scope():  # what is set here must not leak into other tests
        sentry_sdk.set_user({"id": "7", "username": "bob"})
        sentry_sdk.set_extra("db_password", "hunter2-extra")
        sentry_sdk.set_tag("api_key", "tagsecret123")
        sentry_sdk.set_context("payment", {"card": "4111 1111 1111 1111", "amount": 12})
        sentry_sdk.add_breadcrumb(
            category="http", data={"url": "https://pay.example/cb?access_token=crumbsecret"}
        )

        def the_request(event: dict[str, Any], hint: Any) -> dict[str, Any]:
            # What a web framework integration sends when told to collect everything (the SDK's own
            # client-side filtering, on by default, would drop some of it: the server must not rely on that).
            event["request"] = {
                "method": "POST",
                "url": "https://shop.example/login",
                "query_string": "token=querysecret&page=2",
                "headers": {"Authorization": "Bearer wsgisecret999", "Accept": "text/html"},
                "cookies": "sessionid=cookiesecret; theme=dark",
                "data": {"username": "bob", "password": "bodysecret"},
            }
            return event

        sentry_sdk.get_isolation_scope().add_event_processor(the_request)
        try:
            raise ConnectionError("login failed for postgres://app:dsnsecret@db.internal/app")
        except ConnectionError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=10)

    stored = everything_stored(session)
    assert "login failed for postgres://app:[Filtered]@db.internal/app" in stored
    assert [s for s in SECRETS if s in stored] == []
    assert FILTERED in stored and "page=2" in stored and "bob" in stored  # what is not secret stays
    [bug] = api.get("/api/v1/bugs", params={"project_id": "shop"}).json()["bugs"]
    data = api.get(f"/api/v1/bugs/{bug['id']}").json()["occurrences"][0]["data"]
    assert data["request"]["data"] == {"username": "bob", "password": FILTERED}
    assert data["request"]["headers"] == {"Authorization": FILTERED, "Accept": "text/html"}
    assert data["request"]["cookies"] == FILTERED
    assert data["tags"]["api_key"] == FILTERED
    assert data["contexts"]["payment"] == {"card": FILTERED, "amount": 12}


def test_secrets_in_a_rest_report_are_not_stored(api, session):
    report = {
        "project_id": "shop",
        "environment": "production",
        "level": "ERROR",
        "error": {
            "type": "PaymentError",
            "message": "card 4242 4242 4242 4242 declined",
            "file_path": "shop/pay.py",
            "line_number": 9,
            "stack_trace": ["Traceback:", '  charge(api_key="sk_live_abcdefgh12345678")'],
        },
        "context": {"headers": {"X-Api-Key": "restkey123"}, "user": {"password": "restsecret"}, "order": 17},
        # What `git remote get-url origin` answers in a GitLab CI job.
        "repo_url": "https://gitlab-ci-token:glcbt-jobtoken987@gitlab.example.com/acme/shop.git",
    }
    response = api.post("/api/v1/logs/report", json=report)
    assert response.status_code == 200, response.text
    stored = everything_stored(session)
    for secret in (
        "4242 4242 4242 4242",
        "restkey123",
        "restsecret",
        "sk_live_abcdefgh12345678",
        "jobtoken987",
    ):
        assert secret not in stored
    project = api.get("/api/v1/projects/shop").json()
    assert project["repo_url"] == "https://gitlab.example.com/acme/shop.git"
    assert "card [Filtered] declined" in stored and '"order": 17' in stored.replace(
        '"order":17', '"order": 17'
    )


def test_rules_keep_what_only_looks_like_a_secret():
    # A millisecond timestamp is 13 digits but no card; a number that fails the Luhn check neither.
    assert (
        DEFAULT.text("at 1733500000000 ms, order 4111111111111112")
        == "at 1733500000000 ms, order 4111111111111112"
    )
    assert DEFAULT.scrub({"author": "ada", "token_count": 3}) == {"author": "ada", "token_count": FILTERED}
    assert DEFAULT.scrub({"ip_address": "203.0.113.9"}) == {
        "ip_address": "203.0.113.9"
    }  # IPs only when asked


def test_the_rules_are_configurable():
    scrubber = Scrubber.from_settings(["iban"], ["token_count"], ip_addresses=True)
    assert scrubber.scrub(
        {"IBAN": "DE89370400440532013000", "token_count": 3, "user": {"ip_address": "1.2.3.4"}}
    ) == {
        "IBAN": FILTERED,
        "token_count": 3,
        "user": {"ip_address": FILTERED},
    }
    assert scrubber.text("from 10.0.0.1 and fe80:0:0:0:1:2:3:4") == f"from {FILTERED} and {FILTERED}"
    assert scrubber.scrub({"peer": "1.2.3.4", "to": "10.1.2.3"}) == {"peer": FILTERED, "to": FILTERED}
    off = Scrubber.from_settings([], [], False, enabled=False)
    assert off.scrub({"password": "x"}) == {"password": "x"}


def test_pem_keys_and_basic_auth_in_any_string():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert DEFAULT.text(f"key: {pem} end") == f"key: {FILTERED} end"
    assert DEFAULT.text("Authorization: Basic dXNlcjpwYXNzd29yZA==") == f"Authorization: {FILTERED}"
    assert DEFAULT.text("curl -H 'X: Bearer abcdefgh12345'") == f"curl -H 'X: Bearer {FILTERED}'"


def test_pairs_in_text():
    cases = {
        "name: token=abc": f"name: token={FILTERED}",
        "https://pay.example/cb?access_token=abc&page=2": f"https://pay.example/cb?access_token={FILTERED}&page=2",
        "token=abc==&x=1": f"token={FILTERED}&x=1",
        '{"password": "two words", "b": 1}': f'{{"password": "{FILTERED}", "b": 1}}',
        "def check_token(self): return 1": "def check_token(self): return 1",
    }
    assert {text: DEFAULT.text(text) for text in cases} == cases


# Secrets the whole-object test must not miss: nested keys in any case or spelling, [name, value] pairs, a
# key lower-cased into ASCII (the Kelvin sign), pairs in text with escapes, URL passwords, cards with
# separators, credentials, PEM keys, non-string keys, and nesting past what orjson serialises.
HIDDEN: list[Any] = [
    {"a": {"b": {"c": {"Pass_Word": 1}}}},
    {"headers": [["Accept", "text/html"], ["Cookie", "sessionid=abc"]]},
    {"TO\u212aEN": "abc123456"},
    {"note": 'line\n"password": "x y"'},
    {"db": {"url": "postgres://app:s3cret@db.internal/shop"}},
    {"m": ["paid with 4111-1111-1111-1111 today"]},
    {"h": {"X": "Authorization: Bearer abcdefghijk"}},
    {"k": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"},
    {1: {"api-key": "x"}},
]


def _nested(levels: int, inner: Any) -> Any:
    for _ in range(levels):
        inner = {"n": inner}
    return inner


@pytest.mark.parametrize("scrubber", [DEFAULT, Scrubber.from_settings(["iban"], ["token_count"], False)])
def test_objects_with_nothing_to_filter_are_kept_whole_and_nothing_else(monkeypatch, scrubber):
    """`scrub` keeps an object whose JSON text no rule can match without walking it: the result must be
    what the walk of every node gives, for real SDK events and for secrets hidden every way we know."""
    samples = ("python-exception.envelope", "node-exception.envelope")
    values: list[Any] = [sample_event(name) for name in samples]
    values += [{"fine": {"sdk": "sentry.python", "n": [1, 2, None]}, "deep": v} for v in HIDDEN]
    values += [_nested(280, {"password": "x"}), {"IBAN": "DE89370400440532013000"}]
    fast = [scrubber.scrub(v) for v in values]
    clean = values[2]["fine"]
    assert scrubber.scrub({"fine": clean})["fine"] is clean  # kept, not copied
    monkeypatch.setattr(scrub, "_TESTED_LEVELS", 0)  # every object walked
    assert fast == [scrubber.scrub(v) for v in values]
    for value, scrubbed in zip(values[2:-1], fast[2:-1], strict=True):
        assert scrubbed != value and FILTERED in repr(scrubbed)
    assert (fast[-1]["IBAN"] == FILTERED) == ("iban" in scrubber.fields)
