"""QA of the agency use on the real Postgres: many clients in one database.

``tests/test_many_clients.py`` covers the metrics, KPIs and links of 10 clients; here: 15 clients whose
exports share every customer email and play id (each client's pseudonyms are its own), the
connections one ``cycle --all`` holds while it walks them, ``cycle --all`` over a broken, an empty
and an unreadable client run twice, and two ``worker --once`` processes at the same time. Skipped
with a reason when no Postgres server answers (the ``pg_url`` fixture)."""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import tests.test_concurrency_pg as concurrency
from benchmarks.clients import AS_OF, PRICE_TEST_DAY, SOURCES, START, seeded_client
from chimera.clients import add_client, get_client
from chimera.db.engine import dispose_all, get_engine, session_scope
from chimera.evidence.record import log_manual_play
from chimera.ingest.pseudonymize import Pseudonymizer, client_salt
from chimera.ingest.service import ingest_file
from tests.cycle_fixtures import AS_OF as CYCLE_DAY
from tests.cycle_fixtures import make_client
from tests.test_concurrency_pg import _assert_clean, _together
from tests.test_many_clients import _broken_clients, cli

PRICE_TEST = START + timedelta(days=PRICE_TEST_DAY)


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_together``'s hang limit for a walk over dozens of clients on a busy 2-core machine."""
    monkeypatch.setattr(concurrency, "TIMEOUT", 600)


def _table_counts(*tables: str) -> dict[str, dict[int, int]]:
    with get_engine().connect() as conn:
        return {t: dict(conn.execute(text(f"SELECT company_id, count(*) FROM {t} GROUP BY company_id")).all())
                for t in tables}


# --------------------------------------------------------------------------- 15 clients, one database

N = 15  # a pool per client would hold 15+ connections; the walk must keep to 8 (benchmarks/clients.py walks 100)


class Sampler:
    """The most connections Postgres saw with one application name, polled until stopped."""

    def __init__(self, base_url: str, app: str) -> None:
        self.base, self.app, self.most, self.samples = base_url, app, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                   (self.app,)).fetchone()
                self.most, self.samples = max(self.most, row[0] if row else 0), self.samples + 1
                self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_fifteen_clients_sharing_emails_and_plays_stay_apart_on_few_connections(pg_url: str, tmp_path: Path, patient,
                                                                               monkeypatch, capsys) -> None:
    """Every generated store names its customers customer00001@example.com on, and every client has the
    same plays: a client's stored customers must be exactly its own store's, under its own pseudonyms;
    and the walk over 15 clients must hold a handful of connections, not one pool per client."""
    names = [f"agency-{i:02d}" for i in range(N)]
    stores = {name: seeded_client(name, tmp_path / "exports", seed=500 + i, orders_per_day=6 + (i % 5))
              for i, name in enumerate(names)}
    for name in names:
        assert cli(monkeypatch, capsys, "play", "log", "pricing_test", "--client", name,
                   "--executed-on", PRICE_TEST.isoformat())[0] == 0
    dispose_all()

    app = f"qa5-agency-{uuid.uuid4().hex[:8]}"
    base = pg_url.split("?")[0]
    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"{pg_url}&application_name={app}")  # the walk's process only
    with Sampler(base, app) as sampler:
        results = _together(("cycle", "--all", "--as-of", AS_OF.isoformat(), "--json"))
    monkeypatch.setenv("CHIMERA_DATABASE_URL", pg_url)
    dispose_all()
    _assert_clean(results)
    stdout = results[0][1]
    assert sampler.samples > 10 and sampler.most > 0, "the sampler never saw the walk's connections"
    assert sampler.most <= 8, f"{sampler.most} connections at once for a walk over {N} clients"

    doc = json.loads(stdout)
    assert [c["client"] for c in doc["cycles"]] == names and not doc["failures"]
    assert all(c["status"] == "awaiting_decisions" for c in doc["cycles"])

    # the same emails in every store, each client's own pseudonyms: no customer is shared
    emails = [set().union(*(set(day) for day in stores[n].truth.customers.values())) for n in names]
    assert len(set.intersection(*emails)) > 0, "the stores share no email: the check would be vacuous"
    seen: dict[str, str] = {}
    with get_engine().connect() as conn:
        rows = conn.execute(text("SELECT c.name, d.day, d.orders_by_customer FROM customerday d "
                                 "JOIN company c ON c.id = d.company_id WHERE d.source = 'shopify'")).all()
    stored: dict[str, dict] = {n: {} for n in names}
    for name, day, blob in rows:
        stored[name][day] = json.loads(blob)
    for name in names:
        pseudo = Pseudonymizer(client_salt(name))
        truth = {day: {pseudo(e): n for e, n in by_email.items()}
                 for day, by_email in stores[name].truth.customers.items() if by_email}
        assert {d: c for d, c in stored[name].items() if c} == truth, name
        for day in stored[name].values():
            for p in day:
                assert seen.setdefault(p, name) == name, f"pseudonym {p} of {seen.get(p)} also under {name}"

    # the same play id everywhere: each client's evidence and suggestions are its own runs'
    with get_engine().connect() as conn:
        crossed = conn.execute(text(
            "SELECT count(*) FROM evidencerecord e JOIN playrun p ON p.id = e.play_run_id "
            "WHERE e.company_id <> p.company_id")).scalar()
        per_client = dict(conn.execute(text(
            "SELECT c.name, count(DISTINCT p.id) FROM playrun p JOIN company c ON c.id = p.company_id "
            "WHERE p.play_id = 'pricing_test' AND p.source = 'manual' GROUP BY c.name")).all())
    assert crossed == 0
    assert per_client == dict.fromkeys(names, 1)


# --------------------------------------------------------------------------- cycle --all over bad clients


def _bad_clients(root: Path) -> None:
    """A broken config (two, from test_many_clients), a client with no data, one whose export is
    not a CSV at all (binary bytes)."""
    _broken_clients()
    add_client("dd-empty")
    bad = add_client("ee-unreadable")
    export = bad.folder / "exports" / "orders_export.csv"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_bytes(bytes(range(256)) * 64)
    (bad.folder / "client.yml").write_text(
        "name: ee-unreadable\nsources:\n  - {kind: shopify_orders, path: exports/orders_export.csv}\n",
        encoding="utf-8")


TABLES = ("cyclerun", "job", "playrun", "decision", "kpistatus", "evidencerecord")


def test_cycle_all_over_broken_empty_and_unreadable_clients_names_them_and_reruns_idempotently(
        pg_url: str, tmp_path_factory, monkeypatch, capsys) -> None:
    home = Path(os.environ["CHIMERA_HOME"])
    for name in ("aa", "ff"):
        make_client(home, tmp_path_factory.getbasetemp(), name)
    _bad_clients(home)
    every = ["aa", "bb-broken", "cc-cut", "dd-empty", "ee-unreadable", "ff"]

    def cycle_all() -> tuple[int, dict, str]:
        code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--json")
        return code, json.loads(stdout), stderr

    code, first, stderr = cycle_all()
    assert code == 1, stderr
    listed = {c["client"] for c in first["cycles"]} | {f["client"] for f in first["failures"]}
    assert listed == set(every), "every client is in the --json document"
    assert first["clients"] == len(every)
    failed = {f["client"]: f["error"] for f in first["failures"]}
    assert {"bb-broken", "cc-cut", "ee-unreadable"} <= set(failed)
    assert "orders_export.csv" in failed["ee-unreadable"]
    assert "aa" not in failed and "ff" not in failed
    for name in failed:
        assert name in stderr
    by_client = {c["client"]: c for c in first["cycles"]}
    assert by_client["aa"]["status"] == by_client["ff"]["status"] == "awaiting_decisions"
    assert by_client["aa"]["kpis"] and by_client["aa"]["run_id"] != by_client["ff"]["run_id"]
    before = _table_counts(*TABLES)

    code, again, _ = cycle_all()
    assert code == 1
    assert {f["client"] for f in again["failures"]} == set(failed)
    assert [(c["client"], c["run_id"]) for c in again["cycles"]] == [(c["client"], c["run_id"])
                                                                      for c in first["cycles"]]
    assert _table_counts(*TABLES) == before, "a second cycle --all added rows"


def test_cycle_all_names_a_client_without_data_in_its_exit_code(chimera_home: Path, tmp_path_factory, monkeypatch,
                                                                 capsys) -> None:
    """An agency's new client whose exports never came (client.yml lists no source) is one row of
    hundreds reading 0/0/0/17: ``chimera daily`` exits 1 for it ("no data ingested yet"), the weekly
    walk must name it too."""
    make_client(chimera_home, tmp_path_factory.getbasetemp(), "aa")
    add_client("dd-empty")
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--json")
    failures = {f["client"]: f["error"] for f in json.loads(stdout)["failures"]}
    assert code == 1 and list(failures) == ["dd-empty"], stderr
    assert "no data" in failures["dd-empty"]


# --------------------------------------------------------------------------- two workers at once

WORKER_CLIENTS = 6


def _stuck_and_due_jobs(names: list[str]) -> tuple[set[int], set[int]]:
    """Per client, one evidence job per executed play (as ``_finish_play_if_done`` enqueues it): one
    due, one whose worker died (running, its lease over). Returns (stuck ids, every evidence job id)."""
    from chimera.jobs.queue import enqueue

    stuck, evidence = set(), set()
    with session_scope() as s:
        for name in names:
            company = get_client(name).company_id
            first, second = s.execute(text("SELECT id FROM playrun WHERE company_id = :c ORDER BY executed_on"),
                                      {"c": company}).scalars().all()
            due = enqueue(s, company, "LOG_EVIDENCE", "", play_run_id=first, run_after=AS_OF,
                          idempotency_key=f"qa5:{name}:due")
            dead = enqueue(s, company, "LOG_EVIDENCE", "", play_run_id=second, run_after=AS_OF,
                           idempotency_key=f"qa5:{name}:dead")
            s.execute(text("UPDATE job SET status = 'running', attempts = 1, "
                           "lease_until = now() - interval '1 hour' WHERE id = :i"), {"i": dead.id})
            stuck.add(dead.id)
            evidence |= {due.id, dead.id}
    return stuck, evidence


def test_two_workers_at_once_run_each_job_once(pg_url: str, tmp_path: Path, patient, monkeypatch, capsys) -> None:
    names = [f"w-{i}" for i in range(WORKER_CLIENTS)]
    for i, name in enumerate(names):
        store = seeded_client(name, tmp_path / "exports", seed=70 + i, orders_per_day=6)
        client = get_client(name)
        for kind in SOURCES:
            ingest_file(client, store.sources()[kind], kind)
        for day in (PRICE_TEST - timedelta(days=14), PRICE_TEST):  # two runs of the same play
            assert cli(monkeypatch, capsys, "play", "log", "pricing_test", "--client", name,
                       "--executed-on", day.isoformat())[0] == 0
    stuck, evidence = _stuck_and_due_jobs(names)
    dispose_all()

    results = _together(*[("worker", "--once", "--as-of", AS_OF.isoformat(), "--json")] * 2)
    _assert_clean(results)
    passes = [p for _c, stdout, _e in results for p in json.loads(stdout)["passes"]]
    assert sorted(p["client"] for p in passes) == sorted(names * 2)
    requeued = Counter(j for p in passes for j in p["stuck_requeued"])
    ran = Counter(j for p in passes for j in p["evidence_jobs_run"])
    assert set(requeued) == stuck and max(requeued.values()) == 1, f"stuck jobs re-queued: {requeued}"
    assert set(ran) == evidence and max(ran.values()) == 1, f"an evidence job ran twice: {ran}"
    dispose_all()
    with get_engine().connect() as conn:
        statuses = {row[0] for row in conn.execute(text("SELECT status FROM job WHERE type = 'LOG_EVIDENCE'"))}
        dupes = conn.execute(text("SELECT count(*) FROM (SELECT company_id, correlation_id, kpi FROM evidencerecord "
                                  "GROUP BY 1, 2, 3 HAVING count(*) > 1) d")).scalar()
    assert statuses == {"succeeded"} and dupes == 0


def test_two_workers_at_once_resume_each_crashed_cycle_once(pg_url: str, tmp_path_factory, patient) -> None:
    """Cycles killed mid-ingest, then two workers at once: each cycle ends as a cycle run without a
    crash ends (same jobs, plays and statuses as a client whose cycle was never killed), none twice."""
    from tests.test_concurrency_pg import _start

    home, root = Path(os.environ["CHIMERA_HOME"]), tmp_path_factory.getbasetemp()
    crashed = ["k-0", "k-1", "k-2"]
    for name in [*crashed, "ref"]:
        make_client(home, root, name)  # the same exports: the same cycle
    dispose_all()
    _assert_clean(_together(("cycle", "--client", "ref", "--as-of", CYCLE_DAY.isoformat(), "--json")))
    for name in crashed:
        killed = _start("cycle", "--client", name, "--as-of", CYCLE_DAY.isoformat(),
                        fault="before_commit:INGEST_METRICS")
        killed.communicate(timeout=concurrency.TIMEOUT)
        assert killed.returncode == -signal.SIGKILL

    results = _together(*[("worker", "--once", "--as-of", CYCLE_DAY.isoformat(), "--json")] * 2)
    _assert_clean(results)
    passes = [p for _c, stdout, _e in results for p in json.loads(stdout)["passes"]]
    resumed = Counter(r for p in passes for r in p["cycles_resumed"])
    dispose_all()
    with get_engine().connect() as conn:
        runs = dict(conn.execute(text("SELECT c.name, r.id FROM cyclerun r "
                                      "JOIN company c ON c.id = r.company_id")).all())
        shape = {name: conn.execute(text(
            "SELECT (SELECT status FROM cyclerun WHERE id = :r), "
            "(SELECT count(*) FROM job WHERE run_id = :r), "
            "(SELECT count(*) FROM job WHERE run_id = :r AND status <> 'succeeded'), "
            "(SELECT count(*) FROM playrun WHERE run_id = :r), "
            "(SELECT count(*) FROM kpistatus WHERE run_id = :r)"), {"r": run}).one()
            for name, run in runs.items()}
    assert set(resumed) == {runs[n] for n in crashed}, resumed
    assert shape["ref"][2] == 0 and shape["ref"][3] > 0, shape["ref"]  # stopped at the decisions
    for name in crashed:
        assert shape[name] == shape["ref"], f"{name}: {shape[name]} vs never killed {shape['ref']}"


def test_two_cycle_all_at_once_give_one_run_per_client(pg_url: str, tmp_path_factory, patient) -> None:
    """Two schedulers overlapping (cron's `cycle --all` still running when the next starts): the
    walks meet on every client; each client has one run, both documents name it, nothing doubles."""
    home, root = Path(os.environ["CHIMERA_HOME"]), tmp_path_factory.getbasetemp()
    names = ["m-0", "m-1", "m-2", "m-3"]
    for name in names:
        make_client(home, root, name)
    dispose_all()
    walk = ("cycle", "--all", "--as-of", CYCLE_DAY.isoformat(), "--json")
    results = _together(walk, walk)
    _assert_clean(results)
    docs = [json.loads(stdout) for _c, stdout, _e in results]
    runs = [{c["client"]: c["run_id"] for c in doc["cycles"]} for doc in docs]
    assert set(runs[0]) == set(names) and runs[0] == runs[1]
    assert all(c["status"] == "awaiting_decisions" and c["pending"] for doc in docs for c in doc["cycles"])
    dispose_all()
    before = _table_counts(*TABLES, "ingestrun")
    assert before["cyclerun"] == dict.fromkeys(before["cyclerun"], 1) and len(before["cyclerun"]) == len(names)
    assert before["ingestrun"] == dict.fromkeys(before["ingestrun"], len(SOURCES)), "each export ingested once"
    _assert_clean(_together(walk))
    dispose_all()
    assert _table_counts(*TABLES, "ingestrun") == before


def test_a_cycle_never_runs_the_evidence_job_the_worker_is_running(pg_url: str, tmp_path: Path, monkeypatch) -> None:
    """The looping worker and cron's `cycle --all` on one client at once: the cycle also picks up
    due evidence jobs of earlier runs. The one the worker is judging must not be judged again."""
    import agents.jobs
    import graphs.cycle
    from chimera.jobs.queue import enqueue
    from graphs.checkpoint import checkpointer
    from graphs.service import run_cycle, run_due_jobs

    make_client(Path(os.environ["CHIMERA_HOME"]), tmp_path)
    with checkpointer():  # set up already (its index build would wait for the worker's transaction)
        pass
    client = get_client("shop")
    with session_scope() as s:
        run = log_manual_play(s, client, "pricing_test", CYCLE_DAY - timedelta(days=40))
        owner = client.configs.owners_of("LOG_EVIDENCE")[0]  # as _finish_play_if_done enqueues it
        job_id = enqueue(s, client.company_id, "LOG_EVIDENCE", owner, play_run_id=run.id, run_after=CYCLE_DAY,
                         idempotency_key="qa5:evidence").id
    real, calls = agents.jobs.HANDLERS["LOG_EVIDENCE"], Counter()
    inside, release = threading.Event(), threading.Event()

    def judged(session, ctx, job):
        calls[job.id] += 1
        if job.id == job_id and calls[job.id] == 1:  # the worker: still judging when the cycle comes
            inside.set()
            release.wait(300)
        return real(session, ctx, job)

    monkeypatch.setitem(agents.jobs.HANDLERS, "LOG_EVIDENCE", judged)
    real_next, seen = graphs.cycle.next_job, threading.Event()

    def next_job(session, ctx):
        job = real_next(session, ctx)
        if job is not None and job.id == job_id:
            seen.set()
        return job

    monkeypatch.setattr(graphs.cycle, "next_job", next_job)
    errors: list[BaseException] = []

    def safely(fn) -> None:
        try:
            fn()
        except BaseException as exc:  # reported below
            errors.append(exc)

    worker = threading.Thread(target=safely, args=(lambda: run_due_jobs("shop", CYCLE_DAY),))
    worker.start()
    assert inside.wait(60)
    cycle = threading.Thread(target=safely, args=(lambda: run_cycle("shop", as_of=CYCLE_DAY),))
    cycle.start()
    seen.wait(120)  # the cycle reaches the job while the worker holds it
    cycle.join(2)
    release.set()
    worker.join(120)
    cycle.join(300)
    assert not errors, errors
    assert calls[job_id] == 1, f"the evidence job {job_id} was judged {calls[job_id]} times"
