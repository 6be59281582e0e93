"""Named locks across processes: a Postgres advisory lock (works across hosts) or, on SQLite, a
file lock in CHIMERA_HOME.

On Postgres the lock is polled with ``pg_try_advisory_lock`` on an autocommit connection, never
waited for inside a statement: a session blocked in ``pg_advisory_lock`` holds a snapshot, and a
``CREATE INDEX CONCURRENTLY`` (the checkpointer's setup) waits for every such snapshot — if the
holder of the lock is the one creating the index, neither ever moves (a deadlock Postgres cannot
see). A wait longer than ``CHIMERA_LOCK_TIMEOUT`` seconds (default 600) ends in one clear line.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from chimera import settings
from chimera.errors import StorageError

DEFAULT_TIMEOUT = 600.0


class LockTimeout(StorageError):
    """Another command held the lock for longer than this one was willing to wait."""


def lock_timeout() -> float:
    """Seconds to wait for a lock another command holds (``CHIMERA_LOCK_TIMEOUT``, default 600)."""
    try:
        return float(os.environ.get("CHIMERA_LOCK_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def named_lock(name: str, what: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock ``name`` for the block; ``what`` names the thing for the timeout message
    ("the cycle of acme"). Not re-entrant across calls on SQLite; on Postgres a second hold from
    the same process would wait for the first (take each lock once per block)."""
    limit = lock_timeout() if timeout is None else timeout
    if settings.is_postgres():
        with _pg_lock(name, what, limit):
            yield
        return
    folder = settings.home() / ".chimera" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name.replace(':', '_').replace('/', '_')}.lock", "w") as fh:
        wait_until(lambda: _try_flock(fh.fileno()), what, limit)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _pg_lock(name: str, what: str, limit: float) -> Iterator[None]:
    from chimera.db.engine import get_engine

    key = lock_key(name)
    # autocommit: no transaction stays open while waiting or holding (nothing for CREATE INDEX
    # CONCURRENTLY to wait for); the lock is the session's, released below or when it closes
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        wait_until(lambda: bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()), what,
                   limit)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def wait_until(try_once, what: str, limit: float) -> None:
    """Call ``try_once`` (backing off) until it takes the lock; past ``limit`` seconds, one clear line."""
    deadline = time.monotonic() + limit
    pause = 0.02
    while not try_once():
        if time.monotonic() >= deadline:
            raise LockTimeout(f"{what} is busy: another command has been working on it for over {limit:g} s; "
                              "try again when it is done (or raise CHIMERA_LOCK_TIMEOUT)")
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
