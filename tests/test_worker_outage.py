"""The looping worker outlives a database outage: Postgres restarted or the network cut, each failed
pass is one clear line on stderr (no traceback, no password), the worker backs off and carries on
once the database answers again. ``--once`` exits 1 with one line when the database is away.

The outage is real: the worker talks to Postgres through a small TCP proxy that the test takes down
(new connections refused, live ones cut) and brings back."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from chimera.clients import add_client
from tests.test_many_clients import cli

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "pr0xy-secret-pw"  # trust auth ignores it; it must still never be printed
FAILED = "worker pass failed: the database cannot be reached"
WAIT = 60.0
"""Seconds to wait for a line the worker must print: a hung worker fails the test, nothing is timed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """Forwards 127.0.0.1:<port> to Postgres while up; down refuses new connections and cuts live ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, _free_port()
        self._listener: socket.socket | None = None
        self._live: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener:  # shutdown, not just close: a thread blocked in accept() would keep accepting
            _close(self._listener)
            self._listener = None
        with self._lock:
            live, self._live = self._live, []
        for sock in live:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by down()
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._live += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _close(dst)


def _through(url: str, port: int) -> str:
    """``url`` sent to the proxy's port, with a password in it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{PASSWORD}@127.0.0.1:{port}"))


@pytest.fixture
def proxy(pg_url: str) -> Iterator[Proxy]:
    parts = urlsplit(pg_url)
    p = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield p
    p.down()


class Worker:
    """``chimera worker`` in its own process, its stdout and stderr read line by line as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "chimera.cli", "worker", "--interval", "0.05"],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr)):
            threading.Thread(target=self._read, args=(name, stream), daemon=True).start()

    def _read(self, name: str, stream) -> None:
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))
        self.lines.put((name, None))  # the stream ended: the worker exited

    def wait_for(self, stream: str, text: str) -> str:
        """The next line on ``stream`` that contains ``text`` (fails if the worker exits or hangs)."""
        give_up = time.monotonic() + WAIT
        while True:
            try:
                name, line = self.lines.get(timeout=max(give_up - time.monotonic(), 0))
            except queue.Empty:
                pytest.fail(f"worker printed no {text!r} on std{stream}; it printed: {self.seen}")
            if line is None:
                pytest.fail(f"the worker exited ({self.proc.wait(timeout=WAIT)}) before {text!r}: {self.seen}")
            self.seen.append((name, line))
            if name == stream and text in line:
                return line

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=WAIT)


def test_the_looping_worker_survives_an_outage_and_carries_on(pg_url: str, proxy: Proxy) -> None:
    add_client("aa")
    env = {**os.environ, "CHIMERA_DATABASE_URL": _through(pg_url, proxy.port), "CHIMERA_WORKER_BACKOFF": "0.01",
           "CHIMERA_WORKER_BACKOFF_MAX": "0.05", "COLUMNS": "200"}
    worker = Worker(env)  # the database is away from the start (a worker started before Postgres)
    try:
        for _ in range(2):  # it keeps trying, one line per failed pass
            worker.wait_for("err", FAILED)
        proxy.up()
        worker.wait_for("out", "aa: 0 stuck re-queued")
        proxy.down()  # Postgres restarts under a running worker: its pooled connections die
        worker.wait_for("err", FAILED)
        proxy.up()
        worker.wait_for("out", "aa: 0 stuck re-queued")
    finally:
        worker.stop()
    printed = "\n".join(line for _, line in worker.seen)
    assert "Traceback" not in printed and PASSWORD not in printed
    failures = [line for name, line in worker.seen if name == "err" and FAILED in line]
    assert all("next try in" in line for line in failures), failures


def test_once_exits_1_with_one_line_when_the_database_is_away(chimera_home: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"postgresql://agency:{PASSWORD}@127.0.0.1:{_free_port()}/prod")
    code, stdout, stderr = cli(monkeypatch, capsys, "worker", "--once", "--json")
    assert code == 1 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "the database cannot be reached" in stderr and "Connection refused" in stderr
    assert PASSWORD not in stderr and "Traceback" not in stderr


def test_a_database_lost_mid_pass_ends_the_pass_in_one_line(chimera_home: Path, monkeypatch, capsys) -> None:
    """The clients after the one that lost the database are not each reported as failed."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    import graphs.service

    def lost(client: str, *args, **kwargs):
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError(
            "consuming input failed: server closed the connection unexpectedly\n\tThis probably means..."))

    monkeypatch.setattr(graphs.service, "run_due_jobs", lost)
    for name in ("aa", "bb"):
        add_client(name)
    code, stdout, stderr = cli(monkeypatch, capsys, "worker", "--once")
    assert code == 1 and stdout == ""
    assert stderr.strip().splitlines() == ["error: the database cannot be reached: consuming input failed: "
                                           "server closed the connection unexpectedly"], stderr
