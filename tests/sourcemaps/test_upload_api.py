"""The upload endpoints sentry-cli calls: who may call them, the chunk protocol, what is refused, and
retention."""

from __future__ import annotations

import gzip
from datetime import timedelta

from sqlalchemy import select, update

from logcenter.auth import projects as token_projects
from logcenter.auth import service as auth_service
from logcenter.auth.models import Scope
from logcenter.db import utcnow
from logcenter.jobs import enqueue, run_pending
from logcenter.sourcemaps.jobs import PRUNE
from logcenter.sourcemaps.models import ArtifactBundle, ArtifactFile
from tests.conftest import make_token
from tests.sourcemaps.upload import artifact_bundle, sha1, upload

DEBUG_ID = "c6d5a3b1-6f3e-4c1a-9d2e-2f1b0e7a8c90"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def a_bundle(tag: str = "1") -> bytes:
    return artifact_bundle(
        {
            "~/static/app.js": ("minified_source", b"x()//# sourceMappingURL=app.js.map\n" + tag.encode(),
                                {"debug-id": DEBUG_ID, "sourcemap": "app.js.map"}),
            "~/static/app.js.map": ("source_map", b'{"version":3,"sources":[],"names":[],"mappings":""}',
                                    {"debug-id": DEBUG_ID}),
        },
        org="acme",
    )  # fmt: skip


def test_only_sourcemaps_and_admin_tokens_may_upload(client, db, admin_headers, upload_token):
    url = "/api/0/organizations/acme/chunk-upload/"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer("lc_not_a_token")).status_code == 401
    for scope in (Scope.INGEST, Scope.AGENT):
        refused = client.get(url, headers=bearer(make_token(db, scope, f"t-{scope}")))
        assert refused.status_code == 403 and "sourcemaps" in refused.json()["detail"]
    for headers in (bearer(upload_token), admin_headers):
        options = client.get(url, headers=headers).json()
        assert options["url"] == f"http://testserver{url}"
        assert (options["hashAlgorithm"], options["compression"]) == ("sha1", ["gzip"])
        assert "artifact_bundles" in options["accept"]
    # An upload token from CI reads no bug and changes no project.
    assert client.get("/api/v1/bugs", headers=bearer(upload_token)).status_code == 403
    assert (
        client.post("/api/v1/projects", json={"project_id": "x"}, headers=bearer(upload_token)).status_code
        == 403
    )


def test_chunks_are_assembled_into_an_indexed_bundle(client, db, admin_headers, upload_token, settings):
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    bundle = a_bundle()
    answer = upload(client, bearer(upload_token), bundle, ["shop_web"], version="shop@1.0", chunk_size=100)
    assert answer == {"state": "ok", "missingChunks": [], "detail": None}
    # Again: nothing to upload, the same bundle is not stored twice.
    again = upload(client, bearer(upload_token), bundle, ["shop_web"], version="shop@1.0")
    assert again["state"] == "ok"
    with db.factory() as session:
        [row] = session.scalars(select(ArtifactBundle)).all()
        files = {f.url: f for f in session.scalars(select(ArtifactFile))}
    assert (row.checksum, row.release, row.file_count, row.size) == (sha1(bundle), "shop@1.0", 2, len(bundle))
    assert (settings.sourcemaps_path / row.path).read_bytes() == bundle
    assert (
        files["~/static/app.js"].debug_id == DEBUG_ID
        and files["~/static/app.js"].file_type == "minified_source"
    )
    assert files["~/static/app.js.map"].release == "shop@1.0"
    listed = client.get("/api/v1/sourcemaps/shop_web", headers=bearer(upload_token)).json()
    assert [b["checksum"] for b in listed["bundles"]] == [sha1(bundle)]
    assert (listed["keep_bundles"], listed["keep_days"]) == (100, 90)
    # The chunks are not kept once assembled.
    assert not list((settings.sourcemaps_path / "chunks").glob("*/*"))


def test_older_sentry_cli_release_bundles_are_indexed_by_release_and_url(client, db, admin_headers):
    """sentry-cli before artifact bundles assembled the same zip under /releases/<version>/assemble/."""
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    url = "/api/0/organizations/acme/releases/shop%401.2/assemble/"
    answer = upload(client, admin_headers, a_bundle("old"), ["shop_web"], url=url)
    assert answer["state"] == "ok"
    with db.factory() as session:
        releases = {(f.url, f.release) for f in session.scalars(select(ArtifactFile))}
    assert releases == {("~/static/app.js", "shop@1.2"), ("~/static/app.js.map", "shop@1.2")}
    no_project = client.post(url, json={"checksum": sha1(b"x"), "chunks": []}, headers=admin_headers)
    assert no_project.status_code == 400 and "--project" in no_project.json()["detail"]


def test_gzipped_chunks_are_accepted(client, admin_headers):
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    bundle = a_bundle("gz")
    request = {"checksum": sha1(bundle), "chunks": [sha1(bundle)], "projects": ["shop_web"]}
    url = "/api/0/organizations/acme/artifactbundle/assemble/"
    assert client.post(url, json=request, headers=admin_headers).json()["state"] == "not_found"
    files = [("file_gzip", (sha1(bundle), gzip.compress(bundle), "application/octet-stream"))]
    sent = client.post("/api/0/organizations/acme/chunk-upload/", files=files, headers=admin_headers)
    assert sent.status_code == 200, sent.text
    assert client.post(url, json=request, headers=admin_headers).json()["state"] == "ok"


def test_what_cannot_be_used_is_refused_with_the_reason(client, admin_headers):
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    chunk_url = "/api/0/organizations/acme/chunk-upload/"
    lying = [("file", (sha1(b"one"), b"two", "application/octet-stream"))]
    refused = client.post(chunk_url, files=lying, headers=admin_headers)
    assert refused.status_code == 400 and "SHA-1" in refused.json()["detail"]
    unnamed = [("file", ("chunk.bin", b"two", "application/octet-stream"))]
    assert client.post(chunk_url, files=unnamed, headers=admin_headers).status_code == 400

    url = "/api/0/organizations/acme/artifactbundle/assemble/"
    unknown = client.post(
        url, json={"checksum": sha1(b"x"), "chunks": [], "projects": ["nope"]}, headers=admin_headers
    )
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    bad = client.post(
        url, json={"checksum": "xyz", "chunks": [], "projects": ["shop_web"]}, headers=admin_headers
    )
    assert bad.status_code == 422
    not_a_zip = b"this is not a zip file"
    answer = upload(client, admin_headers, not_a_zip, ["shop_web"])
    assert answer["state"] == "error" and "zip" in answer["detail"]


def test_retention_keeps_the_newest_bundles_and_drops_old_ones(client, db, admin_headers, settings):
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    bundles = [a_bundle(str(n)) for n in range(4)]
    for bundle in bundles:
        assert upload(client, admin_headers, bundle, ["shop_web"])["state"] == "ok"
    put = client.put("/api/v1/sourcemaps/shop_web/retention", json={"keep_bundles": 2}, headers=admin_headers)
    assert put.status_code == 200, put.text
    with db.factory() as session, session.begin():  # the newest is past the age limit (a restored clock)
        newest = session.scalar(select(ArtifactBundle.id).where(ArtifactBundle.checksum == sha1(bundles[3])))
        old = utcnow() - timedelta(days=settings.sourcemap_keep_days + 1)
        session.execute(update(ArtifactBundle).where(ArtifactBundle.id == newest).values(created_at=old))
        paths = {b.checksum: b.path for b in session.scalars(select(ArtifactBundle))}

    with db.factory() as session, session.begin():
        enqueue(session, PRUNE)
    assert run_pending(db.factory, settings, kinds=[PRUNE]) == 1

    listed = client.get("/api/v1/sourcemaps/shop_web", headers=admin_headers).json()
    # The last two by upload time, less the one too old: bundles 2 and 1.
    assert [b["checksum"] for b in listed["bundles"]] == [sha1(bundles[2]), sha1(bundles[1])]
    assert listed["keep_bundles"] == 2
    for n, bundle in enumerate(bundles):
        assert (settings.sourcemaps_path / paths[sha1(bundle)]).exists() == (n in (1, 2))
    with db.factory() as session:
        assert {f.bundle_id for f in session.scalars(select(ArtifactFile))} == {
            b["id"] for b in listed["bundles"]
        }


def test_a_bundle_over_the_size_limit_is_refused_before_anything_is_written(client, admin_headers, settings):
    # One stored chunk listed many times would otherwise be written out in full before its size is checked.
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    chunk = b"x" * 4096
    files = [("file", (sha1(chunk), chunk, "application/octet-stream"))]
    sent = client.post("/api/0/organizations/acme/chunk-upload/", files=files, headers=admin_headers)
    assert sent.is_success
    settings.sourcemap_max_bundle_bytes = 64 * 1024
    times = settings.sourcemap_max_bundle_bytes // len(chunk) + 1
    request = {"checksum": sha1(chunk * times), "chunks": [sha1(chunk)] * times, "projects": ["shop_web"]}
    url = "/api/0/organizations/acme/artifactbundle/assemble/"
    refused = client.post(url, json=request, headers=admin_headers)
    assert refused.status_code == 413 and "limit" in refused.json()["detail"]
    assert not any(p.is_file() for p in (settings.sourcemaps_path / "bundles").rglob("*"))


def test_a_token_restricted_to_a_project_uploads_and_reads_only_its_bundles(client, db, admin_headers):
    # Two teams' CIs on one server: shop's token cannot upload for blog, nor read or change blog's bundles.
    for slug in ("shop_web", "blog_web"):
        client.post("/api/v1/projects", json={"project_id": slug}, headers=admin_headers).raise_for_status()
    with db.factory() as s:
        ids = token_projects.resolve(s, ["shop_web"])
        _, token = auth_service.create_token(s, name="shop-ci", scope=Scope.SOURCEMAPS, project_ids=ids)
        s.commit()
    bundle = a_bundle()
    refused = client.post(
        "/api/0/organizations/acme/artifactbundle/assemble/",
        json={"checksum": sha1(bundle), "chunks": [sha1(bundle)], "projects": ["blog_web"], "version": "b@1"},
        headers=bearer(token),
    )
    assert refused.status_code == 403 and "blog_web" in refused.json()["detail"]
    assert client.get("/api/v1/sourcemaps/blog_web", headers=bearer(token)).status_code == 404
    retention = client.put(
        "/api/v1/sourcemaps/blog_web/retention", json={"keep_bundles": 1}, headers=bearer(token)
    )
    assert retention.status_code == 404
    assert upload(client, bearer(token), bundle, ["shop_web"], version="shop@1.0")["state"] == "ok"
    assert len(client.get("/api/v1/sourcemaps/shop_web", headers=bearer(token)).json()["bundles"]) == 1
    with db.factory() as s:
        assert [b.checksum for b in s.scalars(select(ArtifactBundle))] == [sha1(bundle)]
