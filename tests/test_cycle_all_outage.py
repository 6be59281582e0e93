"""``chimera cycle --all`` through a database outage: it stops at the first database failure, says
which clients ran, which failed and which were not attempted, and exits 1; a client's own failure
(its config, its data) still lets the walk go on.

Was: the walk went on client by client through the outage, every client failing the same way,
each slowly (hundreds of lines of the same error); the worker already stopped its pass.

The outages are real: on Postgres the server's port stops answering mid-walk (a TCP relay in front
of the local server is shut: connections cut, the port refuses); on SQLite another process holds the
database's write lock (a stuck writer), so every write is refused as locked."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from chimera.cli.each_client import database_failed
from chimera.clients import add_client
from chimera.db.engine import DatabaseUnreachable
from chimera.db.locks import LockTimeout
from chimera.errors import ClientError, StorageError
from tests.cycle_fixtures import make_client
from tests.test_many_clients import _broken_clients, cli
from tests.test_worker_outage import PASSWORD, Proxy, _through

NOT_ATTEMPTED = ["dd", "ee"]


def _clients(home: Path, tmp_root: Path) -> None:
    """aa has data (its cycle completes), bb-broken and cc-cut cannot load (their own failure), then
    dd and ee. The outage starts when dd's cycle starts."""
    make_client(home, tmp_root, "aa")
    _broken_clients()
    for name in NOT_ATTEMPTED:
        add_client(name)


def _outage_at(monkeypatch: pytest.MonkeyPatch, client: str, start: Callable[[], None]) -> list[str]:
    """Start the outage as ``client``'s cycle starts; returns the clients whose cycle was called."""
    import graphs.service

    real = graphs.service.run_cycle
    called: list[str] = []

    def run_cycle(name: str, *args: Any, **kwargs: Any) -> Any:
        called.append(name)
        if name == client:
            start()
        return real(name, *args, **kwargs)

    monkeypatch.setattr(graphs.service, "run_cycle", run_cycle)
    return called


def _check_stopped(code: int, stdout: str, stderr: str, called: list[str]) -> dict[str, Any]:
    assert code == 1, stderr
    doc = json.loads(stdout)
    assert called == ["aa", "bb-broken", "cc-cut", "dd"]  # ee: never called
    assert [c["client"] for c in doc["cycles"]] == ["aa"] and doc["cycles"][0]["status"] != "failed"
    assert [f["client"] for f in doc["failures"]] == ["bb-broken", "cc-cut", "dd"]
    assert (doc["clients"], doc["completed"], doc["not_attempted"]) == (5, 1, ["ee"])
    assert doc["stopped"] == doc["failures"][-1]["error"]
    assert "1 of 5 client(s) completed; 3 failed: bb-broken, cc-cut, dd; stopped: " in stderr
    assert "(at dd); 1 client(s) not attempted: ee; run the command again once the database answers" in stderr
    assert "Traceback" not in stderr
    return doc


# --------------------------------------------------------------------------- SQLite: a stuck writer


@pytest.fixture
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite waits 30 s for a lock before it says "locked"; the test waits 1 s (same error)."""
    import chimera.db.engine as engine

    real = engine.create_engine

    def create_engine(url: Any, **kwargs: Any) -> Any:
        if str(url).startswith("sqlite"):
            kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "timeout": 1}
        return real(url, **kwargs)

    monkeypatch.setattr(engine, "create_engine", create_engine)
    engine.dispose_all()


@pytest.fixture
def writer_lock(chimera_home: Path) -> Iterator[Callable[[], None]]:
    """Starts another process holding the database's write lock until the test ends."""
    held: list[subprocess.Popen[str]] = []
    code = ("import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(120)\n")

    def start() -> None:
        proc = subprocess.Popen([sys.executable, "-c", code, str(chimera_home / "chimera.db")],
                                stdout=subprocess.PIPE, text=True)
        held.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"

    yield start
    for proc in held:
        proc.kill()
        proc.wait(timeout=10)


def test_sqlite_locked_by_another_writer_stops_the_walk(chimera_home: Path, short_busy_wait: None,
                                                        writer_lock: Callable[[], None], monkeypatch, capsys,
                                                        tmp_path_factory) -> None:
    _clients(chimera_home, tmp_path_factory.getbasetemp())
    called = _outage_at(monkeypatch, "dd", writer_lock)
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--json")
    doc = _check_stopped(code, stdout, stderr, called)
    assert "database is locked" in doc["stopped"]


def test_sqlite_outage_in_the_table_names_the_clients_not_attempted(chimera_home: Path, short_busy_wait: None,
                                                                    writer_lock: Callable[[], None], monkeypatch,
                                                                    capsys, tmp_path_factory) -> None:
    _clients(chimera_home, tmp_path_factory.getbasetemp())
    called = _outage_at(monkeypatch, "dd", writer_lock)
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all")
    assert code == 1 and called == ["aa", "bb-broken", "cc-cut", "dd"]
    assert "│ ee " in stdout and "not attempted" in stdout and "dd failed: the database failed" in stdout
    assert "stopped: the database failed (OperationalError): database is locked (at dd)" \
        in stderr


# --------------------------------------------------------------------------- Postgres: the server goes away


@pytest.fixture
def relayed_pg(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """The test's Postgres schema, reached through the worker tests' proxy (with a password in its
    URL, which must never be printed); ``proxy.down()`` is the server going away."""
    from chimera.db.engine import dispose_all

    parts = urlsplit(pg_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.up()
    monkeypatch.setenv("CHIMERA_DATABASE_URL", _through(pg_url, proxy.port))
    dispose_all()
    yield proxy
    proxy.down()
    dispose_all()


def test_postgres_going_away_mid_walk_stops_it(relayed_pg: Proxy, monkeypatch, capsys, tmp_path_factory) -> None:
    from chimera import settings

    _clients(settings.home(), tmp_path_factory.getbasetemp())
    called = _outage_at(monkeypatch, "dd", relayed_pg.down)
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--json")
    doc = _check_stopped(code, stdout, stderr, called)
    assert "Connection refused" in doc["stopped"] and PASSWORD not in stdout + stderr
    assert doc["cycles"][0]["client"] == "aa" and doc["cycles"][0]["kpis"]  # read before the outage


def test_a_closed_postgres_port_fails_the_command_at_once(chimera_home: Path, monkeypatch, capsys) -> None:
    """Down before the walk: the client list itself is in the database, so one line and exit 1."""
    from chimera.db.engine import dispose_all

    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connections are refused
    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/test")
    dispose_all()
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--json")
    assert code == 1 and stdout == "" and "Traceback" not in stderr
    assert "the database cannot be reached" in stderr and "Connection refused" in stderr


# --------------------------------------------------------------------------- what counts as the database's failure


def _pg_error(cls: type[Exception], sqlstate: str | None) -> Exception:
    exc = cls("boom")
    monkey = type(cls.__name__, (cls,), {"sqlstate": sqlstate})
    exc.__class__ = monkey
    return exc


def _raised_from(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception:
            raise outer from None
    except Exception as exc:
        return exc


@pytest.mark.parametrize(("exc", "down"), [
    (OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")), True),
    (OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file")), True),
    (sqlite3.DatabaseError("file is not a database"), True),
    (DatabaseUnreachable("the database cannot be reached"), True),
    (_pg_error(psycopg.OperationalError, None), True),  # connection refused: no SQLSTATE
    (_pg_error(psycopg.OperationalError, "53100"), True),  # disk full
    (_raised_from(StorageError("cannot open the database"), sqlite3.OperationalError("disk I/O error")), True),
    (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")), False),
    (_pg_error(psycopg.errors.UniqueViolation, "23505"), False),
    (_pg_error(psycopg.OperationalError, "57014"), False),  # one statement cancelled (a timeout)
    (ClientError("client.yml: sources: not a list"), False),
    (LockTimeout("the cycle of aa is held by another command"), False),
    (ValueError("bad cell"), False),
])
def test_only_the_database_s_own_failure_stops_a_walk(exc: Exception, down: bool) -> None:
    assert database_failed(exc) is down
