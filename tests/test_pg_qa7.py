"""An agency's first commands on a new database (QA pass 7): the worker and a cycle started together
on a fresh Postgres schema (or SQLite file) both found no table, both created it, and one died with
a traceback ("duplicate key value violates unique constraint pg_type_typname_nsp_index", "table
schemaversion already exists"). Migrations now run one process at a time; a database already at
the latest version is only read."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from chimera.db import migrations
from chimera.db.engine import _normalize

STARTS = 4


def _together(url: str) -> tuple[list[BaseException], Engine]:
    """``STARTS`` engines (as separate processes have) migrate a new database at the same moment."""
    engines = [create_engine(_normalize(url)) for _ in range(STARTS)]
    barrier, errors = threading.Barrier(STARTS), []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            migrations.migrate(engine)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for e in engines[1:]:
        e.dispose()
    return errors, engines[0]


def _versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [v for (v,) in conn.execute(text("SELECT version FROM schemaversion ORDER BY version"))]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """No migration remembered from another test of this process: each engine checks the database."""
    monkeypatch.setattr(migrations, "_migrated", set())


@pytest.mark.parametrize("attempt", [1, 2])
def test_first_commands_at_once_on_a_new_postgres_schema_all_start(pg_url: str, fresh: None, attempt: int) -> None:
    errors, engine = _together(pg_url)
    assert errors == []
    assert _versions(engine) == [n for n, _name, _step in migrations.MIGRATIONS]  # each applied once
    engine.dispose()


def test_first_commands_at_once_on_a_new_sqlite_file_all_start(tmp_path: Path, fresh: None) -> None:
    errors, engine = _together(f"sqlite:///{tmp_path / 'chimera.db'}")
    assert errors == []
    assert _versions(engine) == [n for n, _name, _step in migrations.MIGRATIONS]
    engine.dispose()


def test_a_migrated_database_is_only_read_on_start(tmp_path: Path, fresh: None, monkeypatch) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'chimera.db'}")
    migrations.migrate(engine)
    monkeypatch.setattr(migrations, "_migrated", set())
    taken: list[str] = []
    monkeypatch.setattr(migrations, "_one_at_a_time", lambda conn: taken.append(conn.dialect.name))
    assert migrations.migrate(engine) == migrations.LATEST
    assert taken == []  # no write lock for a command starting beside a long ingest
    assert _versions(engine) == [n for n, _name, _step in migrations.MIGRATIONS]
    engine.dispose()
