"""Many clients in one database: a broken client never stops the others, and on the real Postgres
no client's metrics, KPI statuses, jobs, decisions or evidence show up under another client.

The Postgres test walks ingest, a logged play, the weekly cycle for every client, a decision per
client and the worker, then runs it all again: the second run must add nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from benchmarks.clients import AS_OF, PRICE_TEST_DAY, SOURCES, START, seeded_client
from chimera.cli import _register
from chimera.cli.app import run
from chimera.clients import add_client, get_client
from chimera.db.engine import get_engine, session_scope
from chimera.db.models import Company, KPIStatus, MetricPoint
from chimera.demo.generator import GeneratedStore
from chimera.kpi.evaluate import evaluate_kpis
from tests.cycle_fixtures import make_client

PRICE_TEST = START + timedelta(days=PRICE_TEST_DAY)
CYCLE_KEYS = {"client", "as_of", "run_id", "status", "silent", "kpis", "plays", "jobs", "model", "pending",
              "data_problems", "held_back"}


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``chimera ARGS`` in this process: exit code, stdout, stderr."""
    _register()
    capsys.readouterr()
    monkeypatch.setattr("sys.argv", ["chimera", *args])
    code = run()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _broken_clients() -> None:
    """Two clients that cannot even load: a client.yml that is not YAML, a kpis.yml cut off."""
    bad = add_client("bb-broken")
    (bad.folder / "client.yml").write_text("name: bb-broken\nsources: [\n", encoding="utf-8")
    cut = add_client("cc-cut")
    (cut.folder / "kpis.yml").write_text("kpis:\n  - id: [\n", encoding="utf-8")


# --------------------------------------------------------------------------- failure isolation


def test_worker_reports_broken_clients_by_name_and_runs_the_others(chimera_home: Path, monkeypatch, capsys) -> None:
    add_client("aa")
    _broken_clients()
    add_client("dd")
    code, stdout, stderr = cli(monkeypatch, capsys, "worker", "--once", "--json")
    assert code == 1, stderr
    doc = json.loads(stdout)
    assert [p["client"] for p in doc["passes"]] == ["aa", "dd"]
    failures = {f["client"]: f["error"] for f in doc["failures"]}
    assert set(failures) == {"bb-broken", "cc-cut"}
    assert "client.yml" in failures["bb-broken"] and "kpis.yml" in failures["cc-cut"]
    assert "2 of 4 client(s) completed; 2 failed: bb-broken, cc-cut" in stderr

    code, stdout, _ = cli(monkeypatch, capsys, "worker", "--once", "--client", "aa")
    assert code == 0 and stdout.startswith("aa: 0 stuck re-queued")


def test_a_pass_that_raises_is_reported_without_its_secrets(chimera_home: Path, monkeypatch, capsys) -> None:
    """A bug in one client's pass names the client and the error type, never a key or a password."""
    import graphs.service

    secret, password = "sk_live_9f8e7d6c5b4a", "hunter2-pg-pass"
    monkeypatch.setenv("STRIPE_API_KEY", secret)
    real = graphs.service.run_due_jobs

    def flaky(client: str, *args, **kwargs):
        if client == "bb":
            raise RuntimeError(f"stripe said no to {secret} via postgresql://agency:{password}@db.internal/prod")
        return real(client, *args, **kwargs)

    monkeypatch.setattr(graphs.service, "run_due_jobs", flaky)
    for name in ("aa", "bb", "cc"):
        add_client(name)
    code, stdout, stderr = cli(monkeypatch, capsys, "worker", "--once")
    assert code == 1
    assert secret not in stdout + stderr and password not in stdout + stderr
    assert "bb: failed: RuntimeError: stripe said no to *** via postgresql://agency:***@db.internal/prod" in stdout
    assert [line.split(":")[0] for line in stdout.splitlines()] == ["aa", "cc", "bb"]


def test_cycle_all_runs_every_client_with_the_single_client_contract(chimera_home: Path, monkeypatch, capsys,
                                                                     tmp_path_factory) -> None:
    for name in ("aa", "dd"):
        make_client(chimera_home, tmp_path_factory.getbasetemp(), name)
    _broken_clients()
    missing = add_client("ee-missing")  # loads, but its export is gone: the cycle runs and fails
    (missing.folder / "client.yml").write_text(
        "name: ee-missing\nsources:\n  - {kind: shopify_orders, path: exports/gone.csv}\n", encoding="utf-8")

    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--json")
    assert code == 1, stderr
    doc = json.loads(stdout)
    assert (doc["clients"], doc["completed"]) == (5, 2)
    assert [c["client"] for c in doc["cycles"]] == ["aa", "dd", "ee-missing"]
    assert all(set(c) - {"as_of_note"} == CYCLE_KEYS for c in doc["cycles"])  # the note: when a day is left out
    failures = {f["client"]: f for f in doc["failures"]}
    assert set(failures) == {"bb-broken", "cc-cut", "ee-missing"}
    assert failures["ee-missing"]["run_id"] == doc["cycles"][2]["run_id"]
    assert "gone.csv" in failures["ee-missing"]["error"]
    assert "weekly cycle: 2 of 5 client(s) completed; 3 failed: bb-broken, cc-cut, ee-missing" in stderr

    # the same client on its own prints the very document the --all list holds (the run is resumed)
    code, single, _ = cli(monkeypatch, capsys, "cycle", "--client", "aa", "--json")
    assert code == 0 and json.loads(single) == doc["cycles"][0]

    code, stdout, _ = cli(monkeypatch, capsys, "cycle", "--all")
    assert code == 1 and "bb-broken failed: " in stdout and "ee-missing failed: " in stdout
    assert all(f"│ {name} " in stdout for name in ("aa", "dd", "bb-broken", "cc-cut", "ee-missing"))


def test_cycle_needs_exactly_one_of_client_or_all(chimera_home: Path, monkeypatch, capsys) -> None:
    for args in ((), ("--all", "--client", "aa")):
        code, _, stderr = cli(monkeypatch, capsys, "cycle", *args)
        assert code == 2 and "either --client NAME or --all" in stderr


# --------------------------------------------------------------------------- isolation on Postgres

N_CLIENTS = 10  # many enough to mix clients up; benchmarks/clients.py runs 100


def _counts() -> dict[str, dict[int, int]]:
    """Rows per client in every table that holds client data."""
    tables = ("metricpoint", "customerday", "ingestrun", "cyclerun", "kpistatus", "playrun", "decision", "job",
              "appliedchange", "evidencerecord")
    with get_engine().connect() as conn:
        return {t: dict(conn.execute(text(f"SELECT company_id, count(*) FROM {t} GROUP BY company_id")).all())
                for t in tables}


# (child, its link to a parent row, parent): a child's company must be its parent's company
LINKS = [
    ("kpistatus", "run_id", "cyclerun"), ("job", "run_id", "cyclerun"), ("playrun", "run_id", "cyclerun"),
    ("job", "play_run_id", "playrun"), ("decision", "play_run_id", "playrun"),
    ("evidencerecord", "play_run_id", "playrun"), ("appliedchange", "job_id", "job"),
    ("metricpoint", "ingest_run_id", "ingestrun"),
]


def _assert_linked_rows_share_their_client() -> None:
    with get_engine().connect() as conn:
        for child, link, parent in LINKS:
            joined, crossed = conn.execute(text(
                f"SELECT count(*), count(*) FILTER (WHERE c.company_id <> p.company_id) "
                f"FROM {child} c JOIN {parent} p ON c.{link} = p.id")).one()
            assert joined > 0, f"no {child} rows linked to a {parent}: the check would be vacuous"
            assert crossed == 0, f"{crossed} {child} rows belong to another client than their {parent}"
        assert conn.execute(text("SELECT count(*) FROM (SELECT run_id, kpi_id FROM kpistatus "
                                 "GROUP BY run_id, kpi_id HAVING count(*) > 1) d")).scalar() == 0
        threads = conn.execute(text("SELECT c.name, r.thread_id FROM cyclerun r JOIN company c "
                                    "ON c.id = r.company_id")).all()
        assert threads and all(t.startswith(f"cycle:{name}:") for name, t in threads)


def _assert_metrics_are_the_clients_own(stores: dict[str, GeneratedStore]) -> None:
    """Each client's stored metrics are exactly its own exports' truth: another client's rows would
    add days or change values."""
    checks = {"shopify": ("net_sales", "orders"), "analytics": ("sessions",)}
    with session_scope() as s:
        for name, store in stores.items():
            company_id = s.exec(select(Company.id).where(Company.name == name)).one()
            for part, metrics in checks.items():
                truth = getattr(store.truth, part)
                for metric in metrics:
                    stored = sorted((p.day, Decimal(p.value)) for p in s.exec(select(MetricPoint).where(
                        MetricPoint.company_id == company_id, MetricPoint.metric == metric)))
                    assert stored == sorted((d, Decimal(m[metric])) for d, m in truth.items()), (name, metric)


def _assert_kpis_are_the_clients_own(names: list[str], runs: dict[str, str]) -> None:
    """The statuses a client's cycle stored are what its own data gives when evaluated afresh."""
    def number(value: object) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    for name in names:
        fresh = {k.id: (k.status, number(k.value))
                 for k in evaluate_kpis(get_client(name), as_of=AS_OF, store=False).kpis}
        with session_scope() as s:
            stored = {k.kpi_id: (k.status, number(k.value)) for k in s.exec(select(KPIStatus).where(
                KPIStatus.run_id == runs[name]))}
        assert stored and stored == fresh, name


def test_many_clients_on_postgres_stay_isolated_and_rerun_idempotently(pg_url: str, tmp_path: Path, monkeypatch,
                                                                       capsys) -> None:
    from graphs.service import decide

    names = [f"client-{i:02d}" for i in range(N_CLIENTS)]
    # each client its own seed and size, so no two clients share a number by chance
    stores = {name: seeded_client(name, tmp_path, seed=9000 + i, orders_per_day=30 + 3 * i)
              for i, name in enumerate(names)}

    def ingest_all() -> None:
        for name in names:
            for kind in SOURCES:
                code, _, stderr = cli(monkeypatch, capsys, "ingest", str(stores[name].sources()[kind]),
                                      "--client", name, "--source", kind, "--json")
                assert code == 0, stderr

    def cycle_all() -> dict:
        code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--as-of", AS_OF.isoformat(), "--json")
        assert code == 0, stderr
        return json.loads(stdout)

    ingest_all()
    for name in names:
        code, _, stderr = cli(monkeypatch, capsys, "play", "log", "pricing_test", "--client", name,
                              "--executed-on", PRICE_TEST.isoformat())
        assert code == 0, stderr
    first = cycle_all()
    assert [c["client"] for c in first["cycles"]] == names and not first["failures"]
    assert len({json.dumps(c["kpis"]) for c in first["cycles"]}) == N_CLIENTS, "every client has its own numbers"
    decided = {}
    for c in first["cycles"]:
        assert c["pending"], f"{c['client']}: no play to decide"
        decided[c["client"]] = c["pending"][0]
        decide(c["pending"][0], "approve", who=f"owner-of-{c['client']}")
    code, _, stderr = cli(monkeypatch, capsys, "worker", "--once", "--as-of", AS_OF.isoformat())
    assert code == 0, stderr
    before = _counts()

    ingest_all()  # the same exports again, the same cycle day again, the same decision again
    again = cycle_all()
    for c in again["cycles"]:
        decide(decided[c["client"]], "approve", who=f"owner-of-{c['client']}")
    assert cli(monkeypatch, capsys, "worker", "--once", "--as-of", AS_OF.isoformat())[0] == 0
    after = _counts()
    # an ingest is logged each time (IngestRun is the audit trail); the data it writes replaces
    assert after.pop("ingestrun") == {c: n + len(SOURCES) for c, n in before["ingestrun"].items()}
    assert after == {t: rows for t, rows in before.items() if t != "ingestrun"}
    assert [c["run_id"] for c in again["cycles"]] == [c["run_id"] for c in first["cycles"]]

    assert all(len(by_client) == N_CLIENTS for t, by_client in before.items() if t != "appliedchange")
    _assert_linked_rows_share_their_client()
    _assert_metrics_are_the_clients_own(stores)
    _assert_kpis_are_the_clients_own(names, {c["client"]: c["run_id"] for c in first["cycles"]})
    with get_engine().connect() as conn:
        who = dict(conn.execute(text("SELECT p.id, d.who FROM decision d JOIN playrun p ON p.id = d.play_run_id "
                                    "WHERE p.source = 'cycle'")).all())
        evidence = dict(conn.execute(text(
            "SELECT c.name, count(*) FROM evidencerecord e JOIN playrun p ON p.id = e.play_run_id "
            "JOIN company c ON c.id = e.company_id WHERE p.play_id = 'pricing_test' AND p.source = 'manual' "
            "GROUP BY c.name")).all())
    assert who == {run: f"owner-of-{name}" for name, run in decided.items()}
    assert set(evidence) == set(names), "each client's logged play has its own evidence"
