"""The per-client indexes a cycle's queries need exist on SQLite and Postgres alike, in a new database
and in one created before they were added (the migration adds them, and running it again is a no-op)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from chimera.db import migrations
from chimera.db.engine import dispose_all, get_engine

NEEDED = {
    "metricpoint": {"ix_metricpoint_company_day": ["company_id", "day"],
                    "ix_metricpoint_company_source_day": ["company_id", "source", "day"]},
    "job": {"ix_job_company_status": ["company_id", "status"]},
}


def _indexes(table: str) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in inspect(get_engine(migrate=False)).get_indexes(table)}


def _assert_indexed() -> None:
    for table, needed in NEEDED.items():
        have = _indexes(table)
        assert {name: have.get(name) for name in needed} == needed, table


def _as_before_the_indexes() -> None:
    """The database as the previous version left it: no new indexes, schema version 3."""
    with get_engine().begin() as conn:
        for names in NEEDED.values():
            for name in names:
                conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("DELETE FROM schemaversion WHERE version > 3"))
    dispose_all()


def _check_new_and_existing_database() -> None:
    get_engine()  # a new database: created at the latest schema
    _assert_indexed()
    _as_before_the_indexes()
    assert not NEEDED["metricpoint"].keys() & _indexes("metricpoint").keys()
    for _ in range(2):  # the upgrade, then a second start: nothing to do, no error
        dispose_all()
        assert migrations.migrate(get_engine(migrate=False)) == migrations.LATEST
        _assert_indexed()


def test_indexes_on_sqlite_new_and_upgraded(chimera_home: Path) -> None:
    _check_new_and_existing_database()


def test_indexes_on_postgres_new_and_upgraded(pg_url: str) -> None:
    _check_new_and_existing_database()
