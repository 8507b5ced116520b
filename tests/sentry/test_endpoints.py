"""The Sentry endpoints over HTTP, on both databases: auth, formats, limits, idempotency, quota."""

from __future__ import annotations

import gzip
import uuid
import zlib
from pathlib import Path

import brotli
import pytest
from fastapi.testclient import TestClient

from logcenter.main import create_app
from tests.factories import make_project
from tests.sentry.helpers import auth, envelope, event, stored

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_KEY = "0123456789abcdef0123456789abcdef"  # the key the samples were captured with


@pytest.fixture
def project(session):
    project = make_project(session, "shop", ingest_key=SAMPLE_KEY)
    session.commit()
    return project


def url(project, endpoint: str = "envelope", query: str = "") -> str:
    return f"/api/{project.id}/{endpoint}/{query}"


def test_envelope_from_sentry_python_is_stored_and_answered_with_its_id(client, db, project):
    sent = event(release="shop@1.0", environment="staging", tags={"region": "eu"})
    response = client.post(url(project), content=envelope(sent), headers=auth(project.ingest_key))
    assert response.status_code == 200
    assert response.json() == {"id": sent["event_id"]}
    assert response.headers["access-control-allow-origin"] == "*"
    [bug], [occurrence] = stored(db)
    assert (bug.project_id, bug.error_type, bug.message) == (
        project.id,
        "ZeroDivisionError",
        "division by zero",
    )
    assert (bug.file_path, bug.line_number, bug.source, bug.level) == ("app/views.py", 12, "runtime", "ERROR")
    assert (occurrence.event_id, occurrence.environment, occurrence.version) == (
        sent["event_id"],
        "staging",
        "shop@1.0",
    )
    assert occurrence.data["tags"] == {"region": "eu"} and occurrence.data["platform"] == "python"


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("node-exception.envelope", None),
        ("node-message.envelope", None),
        ("node-large.envelope.gz", "gzip"),
        ("python-exception.envelope", None),
    ],
)
def test_real_sdk_envelopes_with_query_string_auth(client, db, project, name, encoding):
    headers = {"Content-Encoding": encoding} if encoding else {}
    query = f"?sentry_version=7&sentry_key={SAMPLE_KEY}&sentry_client=sentry.javascript.node%2F11.12.0"
    response = client.post(url(project, query=query), content=(SAMPLES / name).read_bytes(), headers=headers)
    assert response.status_code == 200, response.text
    [bug], [occurrence] = stored(db)
    assert occurrence.event_id == response.json()["id"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br"])
def test_compressed_bodies(client, db, project, encoding):
    body = envelope(event())
    if encoding == "deflate-raw":
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, encoding = compressor.compress(body) + compressor.flush(), "deflate"
    else:
        body = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](body)
    headers = {**auth(project.ingest_key), "Content-Encoding": encoding}
    assert client.post(url(project), content=body, headers=headers).status_code == 200
    assert len(stored(db)[1]) == 1


@pytest.mark.parametrize("content_type", [None, "application/x-sentry-envelope", "text/plain;charset=UTF-8"])
def test_accepted_content_types(client, project, content_type):
    headers = {**auth(project.ingest_key), **({"Content-Type": content_type} if content_type else {})}
    assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 200


def test_a_json_event_sent_to_the_envelope_endpoint_is_415(client, db, project):
    headers = {**auth(project.ingest_key), "Content-Type": "application/json"}
    response = client.post(url(project), content=b'{"message": "hi"}', headers=headers)
    assert response.status_code == 415
    assert "/store/" in response.json()["detail"]
    assert stored(db) == ([], [])


def test_key_from_the_authorization_header(client, db, project):
    headers = {"Authorization": f"Sentry sentry_key={project.ingest_key}, sentry_version=7"}
    assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 200


def test_key_from_the_envelope_dsn_header_as_a_tunnel_sends_it(client, db, project):
    sent = event()
    dsn = f"http://{project.ingest_key}@logcenter.example:8002/{project.id}"
    body = envelope(sent, headers={"event_id": sent["event_id"], "dsn": dsn}, sized=False)
    assert client.post(url(project), content=body).status_code == 200
    assert len(stored(db)[1]) == 1


@pytest.mark.parametrize(
    ("headers", "dsn", "status", "detail"),
    [
        ({}, None, 401, "Missing sentry_key"),
        (auth("f" * 32), None, 403, "not found or sentry_key incorrect"),
        ({}, "http://\u00e9\u20ac@h/{pk}", 403, "not found or sentry_key incorrect"),  # not ASCII: was a 500
        ({"X-Sentry-Auth": "Sentry sentry_version=7"}, None, 401, "Missing sentry_key"),
        ({}, "http://{wrong}@h/{pk}", 403, "not found or sentry_key incorrect"),
        ({}, "http://{key}@h/999", 403, "another project"),
        (auth("{key}"), "http://{wrong}@h/{pk}", 403, "different keys"),
    ],
)
def test_missing_or_wrong_keys_store_nothing(client, db, project, headers, dsn, status, detail):
    fill = {"key": project.ingest_key, "wrong": "f" * 32, "pk": project.id}
    headers = {k: v.format(**fill) for k, v in headers.items()}
    sent = event()
    envelope_headers = {"event_id": sent["event_id"], **({"dsn": dsn.format(**fill)} if dsn else {})}
    response = client.post(url(project), content=envelope(sent, headers=envelope_headers), headers=headers)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert stored(db) == ([], [])


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?sentry_key=%C3%A9", {}),
        ("?sentry_key=cl%E9", {}),
        ("", {"X-Sentry-Auth": "Sentry sentry_key=cl\xe9".encode("latin-1")}),
    ],
)
def test_a_key_that_is_not_ascii_is_refused_not_a_500(client, db, project, query, headers):
    # hmac.compare_digest raises TypeError for such a str.
    response = client.post(url(project) + query, content=envelope(event()), headers=headers)
    assert response.status_code == 403
    assert "not found or sentry_key incorrect" in response.json()["detail"]
    assert stored(db) == ([], [])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/999/envelope/", 403),
        ("/api/99999999999/envelope/", 403),
        ("/api/abc/envelope/", 404),
        ("/api/" + "9" * 5000 + "/store/", 403),
        ("/api/-1/store/", 404),
        ("/api/4294967296/store/", 403),
    ],
)
def test_bad_project_ids(client, db, project, path, status):
    response = client.post(path, content=envelope(event()), headers=auth(project.ingest_key))
    assert response.status_code == status
    assert stored(db) == ([], [])


def test_a_key_rotated_elsewhere_is_rejected_once_the_cache_expires(app, client, session, project):
    headers = auth(project.ingest_key)
    assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 200
    project.ingest_key = "a" * 32  # as another server process on this database would rotate it
    session.commit()
    app.state.project_keys._entries.clear()  # what the 10 s TTL does in production
    assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 403
    assert client.post(url(project), content=envelope(event()), headers=auth("a" * 32)).status_code == 200


def test_a_key_rotated_through_the_api_is_rejected_at_once(client, db, project, admin_headers):
    old = auth(project.ingest_key)
    assert client.post(url(project), content=envelope(event()), headers=old).status_code == 200
    rotated = client.post("/api/v1/projects/shop/rotate-key", headers=admin_headers).json()
    refused = client.post(url(project), content=envelope(event()), headers=old)
    assert refused.status_code == 403 and "sentry_key incorrect" in refused.json()["detail"]
    new = auth(rotated["ingest_key"])
    assert client.post(url(project), content=envelope(event()), headers=new).status_code == 200
    [bug], occurrences = stored(db)
    assert (bug.occurrence_count, len(occurrences)) == (2, 2)


def test_envelopes_without_an_event_are_accepted_and_store_nothing(client, db, project):
    transaction = (SAMPLES / "python-transaction.envelope").read_bytes()
    response = client.post(url(project, query=f"?sentry_key={SAMPLE_KEY}"), content=transaction)
    assert response.json() == {"id": "09c1e3d1273948c0b7fc7b58fca25f02"}
    session_update = b'{}\n{"type":"session"}\n{"sid":"x","status":"exited"}\n'
    response = client.post(url(project, query=f"?sentry_key={SAMPLE_KEY}"), content=session_update)
    assert (response.status_code, response.json()) == (200, {})
    assert stored(db) == ([], [])


def test_a_repeated_event_id_is_acknowledged_and_counted_once(client, db, project):
    sent = event()
    for _ in range(3):
        response = client.post(url(project), content=envelope(sent), headers=auth(project.ingest_key))
        assert response.json() == {"id": sent["event_id"]}
    [bug], [occurrence] = stored(db)
    assert bug.occurrence_count == 1


def test_the_envelope_event_id_takes_precedence_and_one_is_made_when_none_is_sent(client, db, project):
    sent = event()
    header_id = uuid.uuid4()
    body = envelope(sent, headers={"event_id": str(header_id)})  # dashed form: accepted, stored as 32 hex
    assert client.post(url(project), content=body, headers=auth(project.ingest_key)).json() == {
        "id": header_id.hex
    }
    del sent["event_id"]
    generated = client.post(
        url(project), content=envelope(sent, headers={}), headers=auth(project.ingest_key)
    ).json()["id"]
    assert len(generated) == 32 and generated != header_id.hex
    assert [o.event_id for o in stored(db)[1]] == [header_id.hex, generated]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "Empty envelope"),
        (b'{"event_id":"nope"}\n', "Invalid event_id"),
        (b'{}\n{"type":"event","length":50}\n{"message":"short"}', "Truncated envelope"),
        (b'{}\n{"type":"event"}\n{"message": oops}', "Invalid event JSON"),
        (b'{}\n{"type":"event"}\n[]', "expected a JSON object"),
    ],
)
def test_malformed_envelopes_are_400_and_store_nothing(client, db, project, body, detail):
    response = client.post(url(project), content=body, headers=auth(project.ingest_key))
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert stored(db) == ([], [])


def test_store_endpoint(client, db, project):
    sent = event()
    response = client.post(url(project, "store"), json=sent, headers=auth(project.ingest_key))
    assert response.json() == {"id": sent["event_id"]}
    del sent["event_id"]
    compressed = gzip.compress(envelope(None, headers=sent).rstrip(b"\n"))
    headers = {**auth(project.ingest_key), "Content-Encoding": "gzip"}
    assert len(client.post(url(project, "store"), content=compressed, headers=headers).json()["id"]) == 32
    assert client.post(url(project, "store"), json=sent).status_code == 401
    assert (
        client.post(url(project, "store"), content=b"[]", headers=auth(project.ingest_key)).status_code == 400
    )
    assert len(stored(db)[1]) == 2


@pytest.mark.parametrize("endpoint", ["envelope", "store"])
def test_cors_preflight(client, project, endpoint):
    response = client.options(
        url(project, endpoint),
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-sentry-auth",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "X-Sentry-Auth" in response.headers["access-control-allow-headers"]


def limited_client(settings, **limits) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)))


def test_size_limits_are_413_and_store_nothing(settings, db, project):
    limits = {
        "sentry_max_envelope_compressed_bytes": 25_000,
        "sentry_max_envelope_bytes": 200_000,
        "sentry_max_event_bytes": 10_000,
    }
    headers = auth(project.ingest_key)
    big_event = envelope(event(extra={"blob": "x" * 15_000}))
    attachment = b'\n{"type":"attachment","length":300000}\n' + b"\0" * 300_000
    with limited_client(settings, **limits) as client:
        cases = [
            (big_event, {}, "'event' item is"),
            (envelope(event(extra={"blob": "x" * 15_000}), sized=False), {}, "'event' item exceeds"),
            (b"{}" + b" " * 30_000, {}, "Request body is 30002 bytes"),
            (
                gzip.compress(envelope(event()) + attachment),
                {"Content-Encoding": "gzip"},
                "Decompressed body exceeds",
            ),
            (
                gzip.compress(big_event.replace(b"error", b"fatal")),
                {"Content-Encoding": "gzip"},
                "'event' item is",
            ),
        ]
        for body, extra_headers, detail in cases:
            response = client.post(url(project), content=body, headers={**headers, **extra_headers})
            assert response.status_code == 413, detail
            assert detail in response.json()["detail"]
        store = client.post(
            url(project, "store"),
            content=envelope(None, headers=event(extra={"b": "x" * 15_000})),
            headers=headers,
        )
        assert store.status_code == 413
        assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 200
    assert len(stored(db)[1]) == 1


def test_retries_of_a_stored_event_are_answered_200_and_do_not_use_up_the_quota(settings, db, project):
    headers = auth(project.ingest_key)
    sent = envelope(event())
    with limited_client(settings, project_quota_per_minute=2) as client:
        # An SDK retrying one event (its answer was lost) three times: each is acknowledged, none counted.
        retries = [client.post(url(project), content=sent, headers=headers) for _ in range(3)]
        assert [r.status_code for r in retries] == [200, 200, 200]
        assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 200
        assert client.post(url(project), content=envelope(event()), headers=headers).status_code == 429
        # Once refused, the project is refused at the HTTP worker until the window ends, retries too (as by
        # Sentry's Relay, ahead of its de-duplication): the SDK waits for Retry-After and sends again.
        assert client.post(url(project), content=sent, headers=headers).status_code == 429
    assert len(stored(db)[1]) == 2


def test_quota_answers_429_with_retry_after_and_sentry_rate_limits(settings, db, project, session):
    headers = auth(project.ingest_key)
    other = make_project(session, "other")
    session.commit()
    with limited_client(settings, project_quota_per_minute=2) as client:
        statuses = [
            client.post(url(project), content=envelope(event()), headers=headers).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        limited = client.post(url(project), content=envelope(event()), headers=headers)
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert limited.headers["x-sentry-rate-limits"] == f"{retry_after}::project"
        assert "quota" in limited.json()["detail"]
        assert limited.headers["access-control-expose-headers"] == "X-Sentry-Rate-Limits, Retry-After"
        # Envelopes without an event (sessions, client reports) do not count; other projects have their own.
        assert client.post(url(project), content=b"{}\n", headers=headers).status_code == 200
        assert (
            client.post(url(other), content=envelope(event()), headers=auth(other.ingest_key)).status_code
            == 200
        )
    assert len(stored(db)[1]) == 3
