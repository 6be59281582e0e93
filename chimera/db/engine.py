"""Engines and sessions for the chosen backend (SQLite file by default, Postgres by URL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlmodel import Session, create_engine

from chimera import settings
from chimera.errors import StorageError


class DatabaseUnreachable(StorageError):
    """The database did not answer (server down or restarting, network cut): worth another try later."""


class DatabaseUrlError(StorageError):
    """The database URL cannot be used: no URL, a database Chimera does not run on, a driver not
    installed, or a search_path schema that does not exist. Raised here, not by the CLI alone, so
    the chat app and the worker say it in one line too; the message never holds the password."""


SUPPORTED = ("postgresql", "postgres", "sqlite")
"""URL schemes (before any ``+driver``) of the databases Chimera runs on."""
USAGE = "write postgresql://USER@HOST:5432/DATABASE or sqlite:///PATH"


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database did not answer, rather than a bug or a refused query.

    SQLAlchemy flags a connection lost mid-query as invalidated; one that could not be opened is a
    driver OperationalError without SQLSTATE, or a connection/operator-intervention class (08, 57P:
    "the database system is starting up", "terminating connection due to administrator command")."""
    if isinstance(exc, DatabaseUnreachable) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    import psycopg  # here, not at the top: a SQLite user never pays for the import

    if not isinstance(orig, psycopg.OperationalError):
        return False
    return not orig.sqlstate or orig.sqlstate.startswith(("08", "57P"))


def reason(exc: BaseException) -> str:
    """The driver's own first line (a DBAPI error's text adds the SQL and a link on further lines)."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(orig).strip().splitlines()
    return " ".join(lines[0].split()) if lines else type(orig).__name__


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


def _open(url: str, named: str) -> Engine:
    """``_engine_for(url)``; DatabaseUrlError naming the scheme, never the URL (a value without
    ``scheme://`` may be a pasted password; one with it holds the password after ``user:``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    base, _, driver = scheme.partition("+")
    if base not in SUPPORTED:
        what = f"a {base} URL" if base else "no URL (no scheme://)"
        raise DatabaseUrlError(f"{named} is {what}, not a database Chimera runs on: {USAGE}")
    try:
        return _engine_for(url)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError):  # a driver not installed, a URL not parsed
        what = f"names the driver {driver!r}, which Chimera does not run with" if driver else "cannot be parsed"
        raise DatabaseUrlError(f"{named} {what}: {USAGE}") from None


def _schemas(engine: Engine) -> str:
    """The schemas the URL's ``options=-csearch_path=...`` names, as written (empty when none)."""
    options = engine.url.query.get("options", "")
    text = " ".join(options) if isinstance(options, tuple) else options
    match = re.search(r"search_path\s*=\s*(\S+)", text)
    return match.group(1) if match else ""


def get_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """The engine for ``url`` (default: the configured database), migrated to the latest schema."""
    from chimera.db.migrations import migrate as run_migrations

    named = "the database URL" if url else "CHIMERA_DATABASE_URL"
    engine = _open(url or settings.database_url(), named)
    if migrate:
        try:
            run_migrations(engine)
        except OperationalError as exc:
            if unreachable(exc):
                raise DatabaseUnreachable(f"the database cannot be reached ({engine.url!r}): {reason(exc)}") from None
            raise StorageError(f"cannot open the database {engine.url!r}: {reason(exc)}") from None
        except DBAPIError as exc:
            if not (getattr(exc.orig, "sqlstate", None) or "").startswith("3F"):  # invalid schema name
                raise
            schemas = _schemas(engine)
            raise DatabaseUrlError(
                f"the database failed: {reason(exc)}: the schema the search_path of {named} "
                f"({engine.url!r}) names{f' ({schemas})' if schemas else ''} does not exist; create it "
                "(CREATE SCHEMA) or fix the URL") from None
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


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """``session.begin_nested()`` that stays inside the session's transaction on SQLite too:
    pysqlite opens no transaction before a SAVEPOINT (only before INSERT/UPDATE/DELETE), so a
    savepoint as a transaction's first write started one of its own, and its RELEASE committed
    at once: the rows survived the outer rollback. The transaction is begun first."""
    conn = session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")
    with session.begin_nested():
        yield


def dispose_all() -> None:
    """Drop cached engines (tests switch databases)."""
    from chimera.db import migrations

    _engine_for.cache_clear()
    migrations._migrated.clear()
