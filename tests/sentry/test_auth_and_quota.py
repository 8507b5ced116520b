"""Key extraction from the places the SDKs put it, and the per-project quota window."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from logcenter.errors import Forbidden
from logcenter.ingest.quota import ProjectQuota, QuotaVerdicts, over_quota
from logcenter.ingest.sentry.auth import key_from_dsn, key_from_request, parse_auth_header


@pytest.mark.parametrize(
    "header",
    [
        "Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.75.0",  # sentry-python
        "Sentry sentry_version=7,sentry_client=raven-js/3.0,sentry_key=abc,sentry_secret=s",
        "sentry sentry_key = abc",
        "sentry_key=abc",
    ],
)
def test_auth_header_forms(header):
    assert parse_auth_header(header)["sentry_key"] == "abc"


def test_auth_header_without_key():
    assert "sentry_key" not in parse_auth_header("Bearer abc")
    assert parse_auth_header("Sentry sentry_client=a=b") == {"sentry_client": "a=b"}


def request(query: bytes = b"", **headers: str) -> Request:
    raw = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "query_string": query, "headers": raw})


@pytest.mark.parametrize("padding", ["", ", x=" + "y" * 300])  # headers past 256 characters are not cached
def test_key_from_request_in_its_order_header_after_header(padding):
    header = f"Sentry sentry_key=abc, sentry_version=7{padding}"
    for _ in range(2):  # the second time from the cache
        assert key_from_request(request(x_sentry_auth=header)) == "abc"
    assert key_from_request(request(b"sentry_key=q", x_sentry_auth=header)) == "q"
    assert key_from_request(request(b"other=1", x_sentry_auth=header)) == "abc"
    assert key_from_request(request(x_sentry_auth="Sentry sentry_version=7", authorization=header)) == "abc"
    assert key_from_request(request(authorization="Bearer lc_token")) is None


@pytest.mark.parametrize(
    ("dsn", "key"),
    [
        (
            "https://e12d836b15bb49d7bbf99e64295d995b@sentry.example.com/42",
            "e12d836b15bb49d7bbf99e64295d995b",
        ),
        ("https://public:secret@host:9000/sub/path/42", "public"),  # secret and path prefix allowed
        ("http://k@host/42/", "k"),
        ("https://host/42", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_key_from_dsn(dsn, key):
    assert key_from_dsn(dsn, project_id=42) == key


@pytest.mark.parametrize(
    "dsn", ["https://k@host/43", "https://k@host/sub/420", "https://k@host", "http://[::1"]
)
def test_a_dsn_of_another_project_or_no_url_is_forbidden(dsn):
    with pytest.raises(Forbidden):
        key_from_dsn(dsn, project_id=42)


def test_quota_counts_per_project_per_minute_window():
    now = [600.0]
    quota = ProjectQuota(2, clock=lambda: now[0])
    assert quota.hit(1) is None and quota.hit(1) is None
    assert quota.hit(2) is None  # another project has its own count
    now[0] = 615.2
    assert quota.hit(1) == 45  # seconds until the window ends, rounded up
    now[0] = 659.9
    assert quota.hit(1) == 1
    now[0] = 660.0
    assert quota.hit(1) is None


def test_quota_zero_is_off():
    quota = ProjectQuota(0)
    assert all(quota.hit(1) is None for _ in range(1000))


def test_a_worker_refuses_a_project_the_writer_refused_until_the_window_ends():
    now = [1_000.0]
    verdicts = QuotaVerdicts(clock=lambda: now[0])
    assert verdicts.retry_after(1) is None
    verdicts.refused(1, over_quota("shop", 20))
    now[0] += 5.5
    assert verdicts.retry_after(1) == 15  # rounded up
    assert verdicts.retry_after(2) is None  # another project
    now[0] += 14.5
    assert verdicts.retry_after(1) is None
