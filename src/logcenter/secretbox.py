"""Secrets at rest (forge tokens, webhook secrets): encrypted so that a copy of the database alone does not
give them away.

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from the `cryptography` package). The keys come from
`LOGCENTER_SECRET_KEY` (comma-separated, newest first) or from the key file `secret.key` in the data directory
(one key a line, newest first), which is created with mode 0600 the first time a secret is stored or the
server starts. `MultiFernet` encrypts with the first key and decrypts with any, so a key is rotated by putting
a new one first and re-encrypting (`logcenter secrets rotate`, docs/forges-setup.md).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from logcenter.config import Settings
from logcenter.errors import LogCenterError

log = structlog.get_logger(__name__)

KEY_FILE = "secret.key"


class SecretKeyError(LogCenterError):
    """The configured keys cannot decrypt a stored secret (the key file was lost or the key changed)."""

    status_code = 503


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def new_key() -> str:
    return Fernet.generate_key().decode()


def _parse_keys(text: str, *, where: str) -> list[bytes]:
    keys = [k.strip() for k in text.replace(",", "\n").splitlines() if k.strip()]
    if not keys:
        raise SecretKeyError(f"No secret key in {where}")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            # Never echo the key itself: say where it is and what a key looks like.
            raise SecretKeyError(
                f"{where} holds a value that is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with `logcenter secrets new-key`"
            ) from None
    return [k.encode() for k in keys]


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(keys) + "\n")
    os.replace(tmp, path)


def ensure_key_file(settings: Settings) -> Path | None:
    """Create the key file with a new key unless it exists or the keys come from the environment. Safe when
    several processes start at once: only one creates it (O_EXCL), the others read it."""
    if settings.secret_key is not None:
        return None
    path = key_file(settings)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as out:
        out.write(new_key() + "\n")
    log.info("secrets.key_file_created", path=str(path))
    return path


def load_keys(settings: Settings) -> list[bytes]:
    if settings.secret_key is not None:
        return _parse_keys(settings.secret_key.get_secret_value(), where="LOGCENTER_SECRET_KEY")
    path = ensure_key_file(settings)
    assert path is not None
    return _parse_keys(path.read_text(), where=str(path))


def rotate_key_file(settings: Settings) -> Path:
    """Put a new key first in the key file; the old ones still decrypt."""
    if settings.secret_key is not None:
        raise SecretKeyError(
            "The keys come from LOGCENTER_SECRET_KEY: put a new key (logcenter secrets new-key) first in it, "
            "keep the old one after a comma, restart, then run `logcenter secrets reencrypt`"
        )
    path = key_file(settings)
    old = [k.decode() for k in load_keys(settings)]
    write_key_file(path, [new_key(), *old])
    return path


class SecretBox:
    """Encrypts and decrypts stored secrets with the server's keys; re-reads the key file when it changed (a
    rotation by another process) or when a value does not decrypt."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._fernet: MultiFernet | None = None
        self._stamp: float | None = None

    def _file_stamp(self) -> float | None:
        if self._settings.secret_key is not None:
            return None
        try:
            return key_file(self._settings).stat().st_mtime
        except OSError:
            return None

    def _keys(self, *, reload: bool = False) -> MultiFernet:
        with self._lock:
            stamp = self._file_stamp()
            if self._fernet is None or reload or stamp != self._stamp:
                self._fernet = MultiFernet([Fernet(k) for k in load_keys(self._settings)])
                self._stamp = self._file_stamp()
            return self._fernet

    def encrypt(self, value: str) -> str:
        return self._keys().encrypt(value.encode()).decode()

    def decrypt(self, token: str, *, what: str = "a stored secret") -> str:
        try:
            return self._keys().decrypt(token.encode()).decode()
        except InvalidToken:
            pass
        try:
            return self._keys(reload=True).decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"Cannot decrypt {what} with the configured secret key(s): was the key file "
                f"{key_file(self._settings)} or LOGCENTER_SECRET_KEY replaced without keeping the old key? "
                "Put the old key back (after the new one), or store the secret again"
            ) from None

    def rotate(self, token: str) -> str:
        """The same secret encrypted with the newest key."""
        try:
            return self._keys().rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError("A stored secret does not decrypt with any configured key") from None


_boxes: dict[int, SecretBox] = {}
_boxes_lock = threading.Lock()


def box_for(settings: Settings) -> SecretBox:
    """One SecretBox per Settings object (an app's, a CLI run's)."""
    with _boxes_lock:
        box = _boxes.get(id(settings))
        if box is None or box._settings is not settings:
            box = _boxes[id(settings)] = SecretBox(settings)
        return box
