"""Artifact bundles as sentry-cli writes them (symbolic's source bundle format): a zip whose `manifest.json`
lists each file with its type, URL (`~/static/app.js`) and headers (`debug-id`, `Sourcemap`)."""

from __future__ import annotations

import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_FILES = 20_000  # files indexed per bundle: a build's assets, not a mirror of node_modules
_URL_MAX = 2000


class BundleError(ValueError):
    """The upload is not a readable artifact bundle."""


@dataclass(frozen=True, slots=True)
class BundleEntry:
    zip_path: str
    file_type: str
    url: str | None
    debug_id: str | None
    sourcemap: str | None


@dataclass(frozen=True, slots=True)
class Manifest:
    entries: list[BundleEntry]
    release: str | None
    dist: str | None


def read_manifest(path: Path) -> Manifest:
    """The bundle's files; BundleError if it is not a zip with a manifest."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(MANIFEST)
            if info.file_size > MAX_MANIFEST_BYTES:
                raise BundleError("The bundle's manifest.json is too large")
            manifest = orjson.loads(archive.read(info))
            names = set(archive.namelist())
    except KeyError:
        raise BundleError("The bundle has no manifest.json: not a sentry-cli artifact bundle") from None
    except (zipfile.BadZipFile, orjson.JSONDecodeError, OSError) as exc:
        raise BundleError(f"The bundle is not a readable zip with a JSON manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError("The bundle's manifest.json has no `files` object")
    if len(manifest["files"]) > MAX_FILES:
        raise BundleError(f"The bundle lists {len(manifest['files'])} files; the limit is {MAX_FILES}")
    entries = []
    for zip_path, meta in manifest["files"].items():
        if not isinstance(meta, dict) or zip_path not in names:
            continue
        headers = {str(k).lower(): v for k, v in _dict(meta.get("headers")).items() if isinstance(v, str)}
        url = meta.get("url")
        entries.append(
            BundleEntry(
                zip_path=zip_path,
                file_type=str(meta.get("type") or "source")[:30],
                url=url[:_URL_MAX] if isinstance(url, str) and url else None,
                debug_id=normalize_debug_id(headers.get("debug-id")),
                sourcemap=(headers.get("sourcemap") or headers.get("x-sourcemap") or "")[:_URL_MAX] or None,
            )
        )
    return Manifest(entries=entries, release=_text(manifest.get("release")), dist=_text(manifest.get("dist")))


def normalize_debug_id(value: object) -> str | None:
    """A debug id as a lowercase UUID with dashes; None if it is not one (the JS SDKs send exactly that)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return str(uuid.UUID(value[:36]))
    except ValueError:
        return None


def read_entry(path: Path, zip_path: str, limit: int) -> bytes:
    """One file of a bundle, up to `limit` bytes uncompressed (ValueError past it)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(zip_path)
        if info.file_size > limit:
            raise ValueError(f"{zip_path} is {info.file_size} bytes, over the limit of {limit}")
        return archive.read(info)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
