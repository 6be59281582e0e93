"""Re-running a finished cycle with nothing changed reuses it (QA: four runs for one day).

A re-run of a day whose cycle completed, with the same exports, configs and decisions, returns
that run, says so (its id and when it ran) and writes no row; a new or changed export, a changed
config or a decision taken since the run suggested its plays runs anew. A silent run or a replay
never does another run's evidence job.
"""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import pytest
from sqlmodel import func, select

from agents.context import CycleContext
from chimera.cli import _register
from chimera.cli.app import run
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import (
    CycleRun,
    Decision,
    EvidenceRecord,
    IngestRun,
    Job,
    KPIStatus,
    MetricPoint,
    PlayRun,
)
from chimera.ingest import ingest_file
from graphs.cycle import next_job
from graphs.service import decide, run_cycle
from tests.cycle_fixtures import AS_OF, make_client

_register()
TABLES = (CycleRun, KPIStatus, Job, IngestRun, PlayRun, Decision, EvidenceRecord, MetricPoint)


def _counts() -> dict[str, int]:
    with session_scope() as s:
        return {t.__tablename__: s.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def _cli(*args: str) -> tuple[int, str, str]:
    """The CLI in process, as the executable runs it: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["chimera", *args]), redirect_stdout(out), redirect_stderr(err):
        code = run()
    return code, out.getvalue(), err.getvalue()


def _completed_live_run(shop: str):
    """A live cycle of AS_OF with a cap of one play, its suggestion approved, then its re-run (a
    decision taken since the first run suggested its plays: it runs anew; the cap is full, so it
    completes with nothing to decide)."""
    plays_yml = get_client(shop).folder / "plays.yml"
    plays_yml.write_text(plays_yml.read_text("utf-8").replace("max_active_plays: 3", "max_active_plays: 1"), "utf-8")
    first = run_cycle(shop, as_of=AS_OF)
    (only,) = first.pending
    decide(only.play_run_id, "approve", who="alice")
    again = run_cycle(shop, as_of=AS_OF)
    assert again.run_id != first.run_id and not again.reused, "decisions taken since: a new run"
    assert again.status == "completed" and again.pending == []
    return again


# --------------------------------------------------------------------------- reuse


def test_a_rerun_with_nothing_changed_is_the_same_run_and_writes_nothing(shop: str) -> None:
    done = _completed_live_run(shop)
    before = _counts()

    same = run_cycle(shop, as_of=AS_OF)

    assert same.reused and same.run_id == done.run_id and same.ran_at is not None
    assert _counts() == before, "no cycle run, KPI status, job, ingest run or anything else written"
    assert same.model_copy(update={"reused": False}) == done
    assert same.to_json() == done.to_json(), "the same result, document for document"
    note = same.reused_note()
    assert f"cycle run {done.run_id} of {AS_OF}" in note and same.ran_at.strftime("%Y-%m-%d %H:%M") in note


def test_a_silent_run_and_a_cycle_without_as_of_are_reused_too(shop: str) -> None:
    silent = run_cycle(shop, as_of=AS_OF, silent=True)
    assert silent.status == "completed" and not silent.reused
    auto = run_cycle(shop, silent=True)
    assert auto.run_id != silent.run_id, "started without --as-of: it is another command's run"
    before = _counts()
    assert run_cycle(shop, as_of=AS_OF, silent=True).run_id == silent.run_id
    again = run_cycle(shop, silent=True)
    assert again.reused and again.run_id == auto.run_id and again.as_of == auto.as_of
    assert _counts() == before


@pytest.mark.parametrize("change", ["export", "new export", "ingest by hand", "kpis.yml", "plays.yml", "decision"])
def test_any_changed_input_runs_anew(shop: str, change: str) -> None:
    done = run_cycle(shop, as_of=AS_OF, silent=True)
    folder = get_client(shop).folder
    if change == "export":
        path = folder / "exports" / "analytics_daily.csv"
        path.write_bytes(path.read_bytes() + b"\n")  # the same rows, other bytes: another fingerprint
    elif change == "new export":
        (folder / "exports" / "analytics_daily.csv").unlink()  # gone: the cycle goes on without it
    elif change == "ingest by hand":  # an export outside client.yml's sources changes the metrics
        extra = folder / "one_payment.csv"
        extra.write_text("id,Created date (UTC),Amount,Status,Currency\nch_x,2026-02-02 11:00:00,5.00,Paid,usd\n")
        ingest_file(get_client(shop), extra)
    elif change == "decision":
        live = run_cycle(shop, as_of=AS_OF - timedelta(days=1))  # live: the silent run is no newer live cycle
        assert run_cycle(shop, as_of=AS_OF, silent=True).run_id == done.run_id, "nothing decided yet"
        decide(live.pending[0].play_run_id, "reject", who="bob", why="not now")
    else:
        path = folder / change
        path.write_text(path.read_text("utf-8") + "\n# tuned\n", "utf-8")

    again = run_cycle(shop, as_of=AS_OF, silent=True)

    assert again.run_id != done.run_id and not again.reused
    assert run_cycle(shop, as_of=AS_OF, silent=True).run_id == again.run_id, "then reused again"


def test_evidence_judged_since_runs_anew(shop: str) -> None:
    done = run_cycle(shop, as_of=AS_OF, silent=True)
    with session_scope() as s:
        run = PlayRun(company_id=get_client(shop).company_id, play_id="pricing_test", as_of=AS_OF,
                      status="executed", executed_on=AS_OF - timedelta(days=40), source="cycle")
        s.add(run)
        s.flush()
        s.add(EvidenceRecord(company_id=run.company_id, play_run_id=run.id, play_id=run.play_id, kpi="aov",
                             correlation_id=run.correlation_id, executed_on=run.executed_on, as_of=AS_OF,
                             verdict="moved_up"))
    assert run_cycle(shop, as_of=AS_OF, silent=True).run_id != done.run_id


# --------------------------------------------------------------------------- the CLI


def test_the_cli_says_it_is_the_same_run(shop: str) -> None:
    day = AS_OF.isoformat()
    code, first, _ = _cli("cycle", "--client", shop, "--as-of", day, "--silent", "--json")
    assert code == 0
    before = _counts()
    code, again, stderr = _cli("cycle", "--client", shop, "--as-of", day, "--silent", "--json")
    assert code == 0 and _counts() == before
    doc = json.loads(again)
    assert doc == json.loads(first), "the very document of the run"
    assert f"same run as before: cycle run {doc['run_id']} of {day} ran at" in " ".join(stderr.split())

    code, text, _ = _cli("cycle", "--client", shop, "--as-of", day, "--silent")
    assert code == 0 and "same run as before" in text and f"cycle {doc['run_id']}: completed" in text

    code, _, stderr = _cli("cycle", "--all", "--as-of", day, "--silent")
    assert code == 0 and "same run as before" in " ".join(stderr.split()) and _counts() == before
    code, stdout, _ = _cli("cycle", "--all", "--as-of", day, "--silent", "--json")
    assert json.loads(stdout)["cycles"] == [doc] and _counts() == before


# --------------------------------------------------------------------------- other runs' evidence jobs


def test_only_a_live_run_takes_another_runs_due_evidence_job(shop: str) -> None:
    """``next_job``: a silent run or a replay does its own jobs only; a live run also does a due
    evidence job of an earlier run (not one that is not due yet)."""
    client = get_client(shop)
    with session_scope() as s:
        runs = [CycleRun(company_id=client.company_id, as_of=AS_OF, silent=silent) for silent in (False, True)]
        s.add_all(runs)
        s.flush()
        ids = [r.id for r in runs]
        due, later = (Job(company_id=client.company_id, type="LOG_EVIDENCE", owner="evidence", run_id="earlier",
                          idempotency_key=f"earlier:{d}", run_after=d) for d in (AS_OF, AS_OF + timedelta(days=1)))
        s.add_all([due, later])
        s.flush()
        due_id = due.id

    def ctx(run_id: str, silent: bool, day: date = AS_OF) -> CycleContext:
        return CycleContext(client=client, as_of=day, run_id=run_id, silent=silent)

    with session_scope() as s:
        assert next_job(s, ctx(ids[0], False)).id == due_id
        assert next_job(s, ctx(ids[1], True)) is None, "a silent run leaves it to live work"
        assert next_job(s, ctx("replay", True, AS_OF + timedelta(days=5))) is None, "so does a replay"
        assert next_job(s, ctx(ids[0], False, AS_OF - timedelta(days=1))) is None, "not due on that day"


# --------------------------------------------------------------------------- Postgres


def test_reuse_on_postgres(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from chimera import settings

    shop = make_client(settings.home(), tmp_path_factory.getbasetemp(), name="shop")
    done = _completed_live_run(shop)
    before = _counts()
    for _ in range(3):
        same = run_cycle(shop, as_of=AS_OF)
        assert same.reused and same.run_id == done.run_id
    assert _counts() == before
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(CycleRun).where(CycleRun.as_of == AS_OF)).one() == 2
    path = Path(get_client(shop).folder / "kpis.yml")
    path.write_text(path.read_text("utf-8") + "\n# tuned\n", "utf-8")
    assert run_cycle(shop, as_of=AS_OF).run_id != done.run_id
