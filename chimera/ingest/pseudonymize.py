"""Customer emails become keyed hashes at ingest; the key (salt) never enters the database.

HMAC-SHA256, truncated to its first 64 bits (16 hex digits), with a per-client 256-bit secret at
``settings.secrets_dir()/<client>.salt`` (mode 0600, created on first use as 64 hex characters, so
the key is also text, which polars-hash's HMAC takes; 32 raw bytes, as earlier versions wrote, keep
working through hashlib). Without the salt a hash cannot be reversed by hashing guessed emails, and
two clients' hashes of one email differ, so data cannot be joined across clients. 64 bits: a store
with a million customers has about one chance in 37 million of two sharing a pseudonym, and the
per-day customer lists that repeat-purchase rate needs are a third of the full digest's size (the
largest part of a big ingest's write).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import polars as pl
import polars_hash  # noqa: F401  (registers the ``chash`` expression namespace)

from chimera import settings

_BLOCK = 64  # SHA-256's block size in bytes
PSEUDONYM_HEX = 16  # the digest's first 64 bits: a truncated HMAC is still a keyed one-way function


def salt_path(client: str) -> Path:
    return settings.secrets_dir() / f"{client}.salt"


def client_salt(client: str) -> bytes:
    """The client's secret salt, created (0600, in a 0700 folder) on first use."""
    path = salt_path(client)
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    salt = secrets.token_hex(32).encode("ascii")  # the key is these 64 bytes, as hmac.new takes it
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, salt)
    finally:
        os.close(fd)
    return salt


def normalize_email(email: str) -> str:
    return email.strip().lower()


class Pseudonymizer:
    """email -> the first 16 hex digits of HMAC-SHA256 under the client's salt (emails normalized:
    trimmed, lower-case).

    ``expr`` hashes a whole column inside a polars query (Rust, every core, no GIL): a big export
    has ~500,000 distinct emails and Python spent ~0.5 s on them. Calling the object hashes one
    email in Python (copying the key's pad states, RFC 2104: what ``hmac.new`` computes); both give
    the same digests, so pseudonyms match whichever path wrote them."""

    def __init__(self, salt: bytes) -> None:
        key = (hashlib.sha256(salt).digest() if len(salt) > _BLOCK else salt).ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(hmac.trans_36))
        self._outer = hashlib.sha256(key.translate(hmac.trans_5C))
        try:
            self._text_key: str | None = salt.decode("utf-8")  # polars-hash takes the key as text
        except UnicodeDecodeError:
            self._text_key = None

    def __call__(self, email: str) -> str:
        i = self._inner.copy()
        i.update(normalize_email(email).encode("utf-8"))
        o = self._outer.copy()
        o.update(i.digest())
        return o.hexdigest()[:PSEUDONYM_HEX]

    def expr(self, emails: pl.Expr) -> pl.Expr | None:
        """The pseudonyms of a column of normalized emails, or None when the salt is not text."""
        if self._text_key is None:
            return None
        return emails.chash.hmac_sha256(key=self._text_key).str.slice(0, PSEUDONYM_HEX)

    def __repr__(self) -> str:  # never the key
        return "Pseudonymizer(<secret salt>)"


def pseudonymizer(client: str) -> Pseudonymizer:
    """The client's pseudonymizer (its salt created on first use)."""
    return Pseudonymizer(client_salt(client))
