"""The source map folder: chunks as sentry-cli uploads them (named by their SHA-1) and assembled bundles.

Files are written to a temporary name and renamed into place, so a reader never sees half a file and two
uploads of the same chunk or bundle cannot corrupt each other.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

SHA1 = re.compile(r"[0-9a-f]{40}")


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.chunks = root / "chunks"
        self.bundles = root / "bundles"

    def chunk_path(self, checksum: str) -> Path:
        return self.chunks / checksum[:2] / checksum

    def has_chunk(self, checksum: str) -> bool:
        return self.chunk_path(checksum).is_file()

    def save_chunk(self, checksum: str, data: bytes) -> None:
        """Keep a chunk; ValueError if its content does not have the SHA-1 it was sent under."""
        if hashlib.sha1(data).hexdigest() != checksum:  # noqa: S324 - sentry-cli's content address
            raise ValueError(f"Chunk {checksum} does not match its SHA-1")
        _write_atomic(self.chunk_path(checksum), [data])

    def bundle_path(self, relative: str) -> Path:
        return self.root / relative

    def assemble(self, checksum: str, chunks: list[str], *, max_bytes: int) -> tuple[str, int]:
        """Join the chunks into the bundle named by `checksum`: (its path relative to the root, its size).
        ValueError if the result does not have that SHA-1; BundleTooLarge, before anything is written, if
        it would be over `max_bytes` (a chunk may be listed many times: the sizes are added up first)."""
        relative = f"bundles/{checksum[:2]}/{checksum}.zip"
        target = self.root / relative
        if target.is_file():
            return relative, target.stat().st_size
        sizes = {chunk: self.chunk_path(chunk).stat().st_size for chunk in set(chunks)}
        total = sum(sizes[chunk] for chunk in chunks)
        if total > max_bytes:
            raise BundleTooLarge(total, max_bytes)
        digest = hashlib.sha1()  # noqa: S324
        size = 0

        def parts() -> Iterable[bytes]:
            nonlocal size
            for chunk in chunks:
                data = self.chunk_path(chunk).read_bytes()
                digest.update(data)
                size += len(data)
                yield data

        _write_atomic(target, parts(), check=lambda: digest.hexdigest() == checksum)
        return relative, size

    def remove_chunks(self, chunks: Iterable[str]) -> None:
        for chunk in chunks:
            self.chunk_path(chunk).unlink(missing_ok=True)

    def remove(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)

    def prune_chunks(self, older_than: float) -> int:
        """Delete chunks of uploads never assembled (a sentry-cli that was stopped), by modification time."""
        removed = 0
        if not self.chunks.is_dir():
            return 0
        for path in self.chunks.glob("*/*"):
            try:
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


class BundleTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"The bundle would be {size} bytes; the limit is {limit}")
        self.size, self.limit = size, limit


def _write_atomic(target: Path, parts: Iterable[bytes], check: object = None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            for data in parts:
                out.write(data)
        if callable(check) and not check():
            raise ValueError(f"{target.name}: the assembled file does not match its checksum")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
