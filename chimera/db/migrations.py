"""Numbered schema migrations, applied in order and recorded in ``schemaversion``.

A user's database survives upgrades: a new version appends a migration here; old ones never change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from chimera.db import models  # noqa: F401 - registers the tables
from chimera.db.locks import lock_key, lock_timeout, wait_until
from chimera.db.models import decode_customers, encode_customers
from chimera.errors import StorageError


def _m001_initial(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


def _m002_customer_days_per_day(conn: Connection) -> None:
    """CustomerDay: one row per (company, source, day) with a JSON map, not one per customer.

    A database created by this version already has the new layout (``_m001`` creates the current
    tables); an older one has a ``customer`` column: its rows are folded into the new layout."""
    columns = {c["name"] for c in inspect(conn).get_columns("customerday")}
    if "customer" not in columns:
        return
    rows = conn.execute(text("SELECT company_id, source, day, customer, orders FROM customerday")).all()
    folded: dict[tuple, dict[str, int]] = {}
    for company_id, source, day, customer, orders in rows:
        day = date.fromisoformat(day) if isinstance(day, str) else day  # SQLite returns text
        bucket = folded.setdefault((company_id, source, day), {})
        bucket[customer] = bucket.get(customer, 0) + int(orders)
    conn.execute(text("DROP TABLE customerday"))
    table = SQLModel.metadata.tables["customerday"]
    table.create(conn)
    if folded:
        conn.execute(table.insert(), [
            {"company_id": c, "source": s, "day": d, "orders_by_customer": encode_customers(counts)}
            for (c, s, d), counts in folded.items()
        ])


_SHORT_PSEUDONYM = 16  # fixed here: a migration never changes, whatever later code does


def _m003_short_pseudonyms(conn: Connection) -> None:
    """Pseudonyms are the first 16 hex digits of the HMAC (see ``chimera.ingest.pseudonymize``):
    stored full digests are cut to their prefix, which is exactly what the new code computes, so
    customers ingested before and after the upgrade still match (orders summed where two rare
    prefixes meet)."""
    rows = conn.execute(text("SELECT id, orders_by_customer FROM customerday")).all()
    for row_id, blob in rows:
        counts = decode_customers(blob)
        if all(len(k) <= _SHORT_PSEUDONYM for k in counts):
            continue
        short: dict[str, int] = {}
        for key, orders in counts.items():
            short[key[:_SHORT_PSEUDONYM]] = short.get(key[:_SHORT_PSEUDONYM], 0) + orders
        conn.execute(text("UPDATE customerday SET orders_by_customer = :blob WHERE id = :id"),
                     {"blob": encode_customers(short), "id": row_id})


_M004_INDEXES = {  # fixed here, like _SHORT_PSEUDONYM: the models may change, this step may not
    "ix_metricpoint_company_day": "metricpoint (company_id, day)",
    "ix_metricpoint_company_source_day": "metricpoint (company_id, source, day)",
    "ix_job_company_status": "job (company_id, status)",
}


def _m004_per_client_indexes(conn: Connection) -> None:
    """Indexes for a cycle's per-client reads (the newest day, a window of every metric, one
    source's days, a client's queued jobs). A database created by this version has them already
    (``_m001``); ``IF NOT EXISTS`` works on SQLite and Postgres alike."""
    for name, target in _M004_INDEXES.items():
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _m001_initial),
    (2, "customer-days: one row per day", _m002_customer_days_per_day),
    (3, "pseudonyms: first 64 bits of the HMAC", _m003_short_pseudonyms),
    (4, "per-client indexes: metric days by company, by source; jobs by status", _m004_per_client_indexes),
]
LATEST = MIGRATIONS[-1][0]
_LOCK = "chimera:schema-migration"
_RECORD = text("INSERT INTO schemaversion (version, name, applied_at) VALUES (:v, :n, CURRENT_TIMESTAMP)")
_migrated: set[str] = set()


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schemaversion"):
        return 0
    return int(conn.execute(text("SELECT COALESCE(MAX(version), 0) FROM schemaversion")).scalar() or 0)


def _check_not_newer(version: int) -> None:
    if version > LATEST:
        raise StorageError(
            f"the database is at schema version {version}, newer than this Chimera ({LATEST}): upgrade Chimera"
        )


def _one_at_a_time(conn: Connection) -> None:
    """Hold the database's migration lock for this transaction: two first commands on a new database
    (the worker and a cycle started together) both found no table and both created it; the second
    failed on "already exists". Postgres: a transaction-level advisory lock, polled (a session
    blocked inside a statement would hold a snapshot, see ``chimera.db.locks``); SQLite: the write
    lock, taken up front (waits up to the engine's busy timeout)."""
    if conn.dialect.name == "postgresql":
        key = lock_key(_LOCK)
        wait_until(lambda: bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()),
                   "the database's schema migration", lock_timeout())
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine) -> int:
    """Apply pending migrations, one process at a time; refuse a database newer than this code.

    A database already at the latest version is only read (no lock): commands start as before."""
    key = str(engine.url)
    if key in _migrated:
        return LATEST
    with engine.connect() as conn:
        version = current_version(conn)
    _check_not_newer(version)
    if version < LATEST:
        with engine.begin() as conn:
            _one_at_a_time(conn)
            SQLModel.metadata.tables["schemaversion"].create(conn, checkfirst=True)
            version = current_version(conn)  # another process may have migrated while this one waited
            _check_not_newer(version)
            for number, name, step in MIGRATIONS:
                if number > version:
                    step(conn)
                    conn.execute(_RECORD, {"v": number, "n": name})
    _migrated.add(key)
    return LATEST
