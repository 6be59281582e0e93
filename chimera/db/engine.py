"""Engines and sessions for the chosen backend (SQLite file by default, Postgres by URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from chimera import settings
from chimera.errors import StorageError


def _normalize(url: str) -> str:
    """Use psycopg 3 for Postgres URLs written the usual way."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    url = _normalize(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":  # a new CHIMERA_HOME folder: create it, as git init does
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """The engine for ``url`` (default: the configured database), migrated to the latest schema."""
    from chimera.db.migrations import migrate as run_migrations

    engine = _engine_for(url or settings.database_url())
    if migrate:
        try:
            run_migrations(engine)
        except OperationalError as exc:
            raise StorageError(f"cannot open the database {engine.url!r}: {exc.orig}") from None
    return engine


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose_all() -> None:
    """Drop cached engines (tests switch databases)."""
    from chimera.db import migrations

    _engine_for.cache_clear()
    migrations._migrated.clear()
