"""Two commands at once on the real Postgres: serialized, never hung, never a traceback.

The cycle commands are subprocesses of the real CLI (separate connections, as two terminals); the
ingest race is also forced with two threads so that it happens on every run. Skipped with a reason
when no Postgres server answers (the ``pg_url`` fixture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlmodel import func, select

from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import CycleRun, IngestRun, Job, MetricPoint
from tests.cycle_fixtures import AS_OF, make_client

TIMEOUT = 120


def _start(*args: str, fault: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ}
    env.pop("CHIMERA_FAULT", None)
    if fault:
        env["CHIMERA_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "chimera.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _together(*commands: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """Start every command at once and wait for all; a hang fails the test (the processes are killed)."""
    procs = [_start(*c) for c in commands]
    results = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=TIMEOUT)
            results.append((p.returncode, stdout, stderr))
    except subprocess.TimeoutExpired:
        pytest.fail(f"two commands at once hung for over {TIMEOUT} s: {commands}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def _assert_clean(results: list[tuple[int, str, str]]) -> None:
    for code, _stdout, stderr in results:
        assert "Traceback" not in stderr, stderr[-3000:]
        assert code == 0, stderr[-3000:]


def _count(model) -> int:
    dispose_all()
    with session_scope() as s:
        return s.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize("attempt", [1, 2])
def test_two_cycles_on_a_new_database_are_serialized(pg_url: str, sample_store: Path, attempt: int) -> None:
    """The checkpointer's first setup (tables, CREATE INDEX CONCURRENTLY) raced or deadlocked with the
    other process's wait for the cycle lock: now one setup at a time, before any cycle lock."""
    from chimera.clients import add_client
    from chimera.ingest.service import ingest_file

    ingest_file(add_client("acme"), sample_store / "analytics_daily.csv")
    dispose_all()
    results = _together(*[("cycle", "--client", "acme", "--json")] * 2)
    _assert_clean(results)
    assert all(json.loads(stdout)["client"] == "acme" for _c, stdout, _e in results)


def test_two_cycles_at_once_share_one_run_and_its_decisions(pg_url: str, tmp_path: Path) -> None:
    from graphs.checkpoint import checkpointer

    make_client(Path(os.environ["CHIMERA_HOME"]), tmp_path)
    with checkpointer():  # set up already: only the cycle's own race is left
        pass
    dispose_all()
    results = _together(*[("cycle", "--client", "shop", "--as-of", AS_OF.isoformat(), "--json")] * 2)
    _assert_clean(results)
    first, second = (json.loads(stdout) for _c, stdout, _e in results)
    assert first["run_id"] == second["run_id"]
    assert first["status"] == second["status"] == "awaiting_decisions"
    assert first["pending"] and first["pending"] == second["pending"]
    assert _count(CycleRun) == 1
    assert _count(IngestRun) == 3, "each source is ingested once"


def test_two_openings_of_a_days_cycle_at_once_give_one_run(pg_url: str, tmp_path: Path, monkeypatch) -> None:
    """Forced overlap: both threads look for the day's open cycle at the same moment (a barrier in
    the look-up). Without the client's lock both found none and each opened its own."""
    import graphs.service as service
    from chimera.clients import get_client

    make_client(Path(os.environ["CHIMERA_HOME"]), tmp_path)
    client = get_client("shop")
    barrier, real = threading.Barrier(2), service.judged_day

    def judged_day_together(*args, **kwargs):
        try:
            barrier.wait(timeout=1.0)  # with the lock the other thread never arrives: a second's wait
        except threading.BrokenBarrierError:
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "judged_day", judged_day_together)
    runs: list[str] = []
    threads = [threading.Thread(target=lambda: runs.append(service._open_run(client, None, False).id))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(runs) == 2 and runs[0] == runs[1]
    assert _count(CycleRun) == 1


def test_two_ingests_at_once_are_serialized(pg_url: str, sample_store: Path) -> None:
    from chimera.clients import add_client

    add_client("a")
    dispose_all()
    stripe = str(sample_store / "stripe_payments.csv")
    results = _together(*[("ingest", stripe, "--client", "a", "--json")] * 2)
    _assert_clean(results)
    assert _count(IngestRun) == 2
    one = json.loads(results[0][1])
    assert _count(MetricPoint) == one["metrics_written"]


def test_an_ingest_waits_for_the_clients_open_write(pg_url: str, sample_store: Path) -> None:
    """Forced overlap: the second write starts while the first's transaction is open. Without the
    client's lock both would insert the same days and the second would fail on the unique key."""
    from chimera.clients import add_client
    from chimera.ingest.detect import read_header
    from chimera.ingest.service import parse_file, store_aggregate
    from chimera.ingest.store import metric_rows, write_aggregate

    client = add_client("a")
    path = sample_store / "stripe_payments.csv"
    agg = parse_file(client, path, "stripe_payments", read_header(path))
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_scope() as s:
                write_aggregate(s, client.company_id, agg, file_name=path.name, fingerprint="one")
                written.set()
                release.wait(10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            written.set()

    holder = threading.Thread(target=first)
    holder.start()
    assert written.wait(30)
    second_done = threading.Event()

    def second() -> None:
        try:
            store_aggregate(client, parse_file(client, path, "stripe_payments", read_header(path)), path.name, "two")
        except BaseException as exc:
            errors.append(exc)
        finally:
            second_done.set()

    waiter = threading.Thread(target=second)
    waiter.start()
    assert not second_done.wait(1.0), "the second write did not wait for the first one's transaction"
    release.set()
    holder.join(30)
    waiter.join(30)
    assert not errors, errors
    assert _count(IngestRun) == 2
    assert _count(MetricPoint) == len(metric_rows(agg, client.company_id, 0)), "the days are replaced, not added"


def test_worker_reports_a_resumed_cycle_that_fails(pg_url: str, tmp_path: Path) -> None:
    from chimera.clients import get_client

    make_client(Path(os.environ["CHIMERA_HOME"]), tmp_path)
    dispose_all()
    killed = _start("cycle", "--client", "shop", "--as-of", AS_OF.isoformat(), "--json",
                    fault="before_commit:INGEST_METRICS")
    killed.communicate(timeout=TIMEOUT)
    assert killed.returncode == -signal.SIGKILL
    for export in (get_client("shop").folder / "exports").glob("*.csv"):  # none readable: the ingest fails
        export.unlink()
    code, stdout, stderr = _together(("worker", "--once", "--client", "shop", "--as-of", AS_OF.isoformat(),
                                      "--json"))[0]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert code == 1, stderr[-3000:]
    failures = json.loads(stdout)["failures"]
    assert [f["client"] for f in failures] == ["shop"]
    assert "no such file" in failures[0]["error"] and "\n" not in failures[0]["error"]
    assert "INGEST_METRICS" in failures[0]["error"]
    assert "shop" in stderr and "failed" in stderr
    dispose_all()
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.type == "INGEST_METRICS")).one()
        assert job.status == "failed"


def test_a_lock_held_too_long_ends_in_one_clear_line(pg_url: str) -> None:
    from chimera.db.locks import LockTimeout, named_lock

    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with named_lock("cycle:shop:x", "cycle thread cycle:shop:x"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    try:
        with pytest.raises(LockTimeout) as caught, named_lock("cycle:shop:x", "cycle thread cycle:shop:x", timeout=0.3):
            pass
    finally:
        release.set()
        thread.join(10)
    assert "cycle thread cycle:shop:x is busy" in str(caught.value) and "\n" not in str(caught.value)
    with named_lock("cycle:shop:x", "cycle thread cycle:shop:x", timeout=5):  # released: free again
        pass
