"""Customer emails become keyed hashes at ingest; the key (salt) never enters the database.

HMAC-SHA256 with a per-client 32-byte secret at ``settings.secrets_dir()/<client>.salt`` (mode
0600, created on first use). Without the salt a hash cannot be reversed by hashing guessed
emails, and two clients' hashes of one email differ, so data cannot be joined across clients.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from chimera import settings


def salt_path(client: str) -> Path:
    return settings.secrets_dir() / f"{client}.salt"


def client_salt(client: str) -> bytes:
    """The client's secret salt, created (0600, in a 0700 folder) on first use."""
    path = salt_path(client)
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    salt = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, salt)
    finally:
        os.close(fd)
    return salt


def normalize_email(email: str) -> str:
    return email.strip().lower()


def pseudonymizer(client: str) -> Callable[[str], str]:
    """A function email -> 64-hex HMAC for this client (emails normalized: trimmed, lower-case)."""
    salt = client_salt(client)

    def _hash(email: str) -> str:
        return hmac.new(salt, normalize_email(email).encode("utf-8"), hashlib.sha256).hexdigest()

    return _hash
