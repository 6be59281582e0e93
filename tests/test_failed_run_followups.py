"""Follow-ups of a play step that fails for good (its later steps skipped, the run ``failed``, what
it applied measured): the pause and resume list the skipped steps, a report of an older day reads
``failed``, the weekly review says which step failed and what to do, a revert reports the undo as
recorded, the worker stops on a SQLite outage; and the undo of a price table written before the
OWASP escaping comes back escaped."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from chimera.changesets import Asset, Change, ChangeSet, inverse
from chimera.db.engine import session_scope
from chimera.db.models import PlayRun
from chimera.plays.holds import status_on
from chimera.plays.weekly_review import review_plays
from chimera.sheet import FORMULA_STARTS, NUMBER, read_cell
from tests.test_job_step_failures import (
    COPY,
    PRICE_DAY,
    PRICES,
    Demo,
    _applied,
    _raising,
    _reject_the_others,
    _run,
    _steps,
)

OLD_TABLE = ("sku,name,price_before,price_after,units_sold\n"
             "-5,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\",10.00,11.00,3\n"
             "A-1,@SUM(1+1),-2.00,-1.00,-4\n")
"""A price table as the bot wrote it before it escaped formula starts (a hostile name, a SKU ``-5``)."""


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_undo_of_a_table_written_before_the_escaping_is_escaped_and_keeps_its_numbers() -> None:
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary="s",
                   changes=[Change(target="product:A-1", field="price", before="-2.00", after="-1.00")],
                   asset=Asset(filename="p-price-table.csv", content=OLD_TABLE))
    undo = inverse(cs, "job:1")
    header, *rows = _rows(undo.asset.content)
    assert header == ["sku", "name", "price_before", "price_after", "units_sold"]
    assert rows == [["-5", "'=HYPERLINK(\"http://evil.example\",\"Click\")", "11.00", "10.00", "3"],
                    ["A-1", "'@SUM(1+1)", "-1.00", "-2.00", "-4"]]  # numbers (negative too) stay numbers
    assert all(NUMBER.fullmatch(c) or not c.startswith(FORMULA_STARTS) for r in rows for c in r)
    again = inverse(undo, "revert:job:1")
    assert _rows(again.asset.content)[1:] == [[r[0], r[1], r[3], r[2], r[4]] for r in rows]
    assert inverse(again, "revert:revert:job:1").asset == undo.asset  # once escaped, byte for byte


def test_read_cell_keeps_what_csv_text_wrote_and_escapes_the_rest() -> None:
    from agents.bots.sheet import csv_text  # the bots' name for it still works

    written = csv_text(["n", "x"], [["-5", -5], ["=1", None], ["007", 7]])
    assert written == "n,x\n'-5,-5\n'=1,\n007,7\n"
    cells = [c for row in _rows(written) for c in row]
    assert [read_cell(c) for c in cells] == cells
    assert [read_cell(c) for c in ("-5.00", "1E+2", "-Infinity", "+5", "\r=x", "a\rb")] == \
        ["-5.00", "1E+2", "'-Infinity", "'+5", "'\n=x", "a\nb"]


# --------------------------------------------------------------------------- the worker: a SQLite outage


def _locked(client: str, *args: object, **kwargs: object) -> object:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    raise OperationalError("UPDATE job", {}, sqlite3.OperationalError("database is locked"))


def test_a_locked_sqlite_ends_the_worker_pass_in_one_line(chimera_home, monkeypatch, capsys) -> None:
    """Was: each client failed in turn on the same locked file, slowly, and the pass said they failed."""
    import graphs.service
    from chimera.clients import add_client
    from tests.test_many_clients import cli

    called: list[str] = []
    monkeypatch.setattr(graphs.service, "run_due_jobs", lambda name, *a, **k: called.append(name) or _locked(name))
    for name in ("aa", "bb", "cc"):
        add_client(name)
    code, stdout, stderr = cli(monkeypatch, capsys, "worker", "--once")
    assert code == 1 and stdout == "" and called == ["aa"]
    assert stderr.strip().splitlines() == ["error: the database failed (OperationalError): database is locked"]


def test_the_looping_worker_waits_out_a_locked_sqlite(monkeypatch, capsys) -> None:
    """The retry predicate takes a SQLite failure as an outage: the pass runs again once it is over."""
    from chimera.cli import cmd_worker
    from chimera.cli.each_client import Walk

    monkeypatch.setenv("CHIMERA_WORKER_BACKOFF", "0.001")
    tries: list[int] = []

    def run_pass() -> Walk:
        tries.append(1)
        if len(tries) < 3:
            _locked("aa")
        return Walk(clients=1)

    walk = cmd_worker._until_the_database_answers(run_pass, once=False)
    assert walk.clients == 1 and len(tries) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("worker pass failed: the database failed (OperationalError): "
                                                   "database is locked; next try in") for line in lines)


# --------------------------------------------------------------------------- the demo's pricing_test, failing


@pytest.fixture
def demo_sqlite(chimera_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """The demo client after its cycle of PRICE_DAY, awaiting decisions (SQLite; the step-failure
    tests run the same story on Postgres too)."""
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    monkeypatch.setenv("CHIMERA_LLM", "offline")
    ensure_demo_client()
    outcome = run_cycle("demo", as_of=PRICE_DAY)
    yield Demo({p.play_id: p.play_run_id for p in outcome.pending}, outcome.run_id)


def _failed_at(demo: Demo, monkeypatch: pytest.MonkeyPatch, step: tuple[str, str], error: str) -> Any:
    """Approve pricing_test with ``step``'s bot raising ``error``: that step fails for good."""
    from graphs.service import decide

    put_back = _raising(monkeypatch, step, RuntimeError(error))
    decide(demo.pending["pricing_test"], "approve", who="alice")
    _reject_the_others(demo)
    return put_back


def test_pause_and_resume_list_the_steps_skipped_for_the_failed_one(demo_sqlite: Demo,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: both listed only the failed price step as held, as if the copy step would never run."""
    from chimera.plays.holds import stopped_runs
    from chimera.plays.pause import pause, refreshed, resume
    from graphs.service import resume_cycle

    put_back = _failed_at(demo_sqlite, monkeypatch, PRICES, "price API down")
    run_id = demo_sqlite.pending["pricing_test"]
    prices, copy = _steps(run_id)
    paused = pause(run_id, "alice", "price API down", on=PRICE_DAY)
    assert [(j.id, j.step, j.status, j.skipped_for) for j in paused.held] == \
        [(prices.id, 1, "failed", None), (copy.id, 2, "cancelled", prices.id)]
    assert paused.held[1].error == copy.error and copy.error.startswith("skipped: step 1 shopify_bot.update_prices")
    with session_scope() as s:
        [stop] = stopped_runs(s, _run(run_id).company_id, PRICE_DAY)
    assert stop.held_jobs == [prices.id, copy.id]

    resumed = resume(run_id, "alice", "try again", on=PRICE_DAY)  # the API is still down
    assert [(j.id, j.status, j.skipped_for) for j in resumed.requeued] == \
        [(prices.id, "queued", None), (copy.id, "cancelled", prices.id)]  # the copy waits for the price step
    resume_cycle(resumed.cycle_run_id)
    assert [(j.id, j.status) for j in refreshed(resumed).requeued] == [(prices.id, "failed"), (copy.id, "cancelled")]
    assert _steps(run_id)[1].error.startswith("skipped: step 1") and _applied(run_id) == []  # never run before it

    put_back()
    again = pause(run_id, "alice", "still down", on=PRICE_DAY)
    assert [j.id for j in again.held] == [prices.id, copy.id] and not again.already_paused
    resumed = resume(run_id, "alice", "API back", on=PRICE_DAY)
    resume_cycle(resumed.cycle_run_id)
    assert [(j.id, j.status) for j in refreshed(resumed).requeued] == [(prices.id, "succeeded"),
                                                                        (copy.id, "succeeded")]
    assert _applied(run_id) == [PRICES, COPY] and _run(run_id).status == "executed"


def test_a_failed_run_reads_failed_before_its_pause_and_revert_and_is_reviewed_as_failed(
        demo_sqlite: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a report of a day before the pause said ``executed``, and the review told it "continue"
    with no next step, as if the play had run whole."""
    from chimera.clients import get_client
    from chimera.evidence.record import evidence_report
    from chimera.plays.pause import failed_part, pause
    from chimera.plays.revert import revert

    _failed_at(demo_sqlite, monkeypatch, COPY, "copy service exploded")
    run_id = demo_sqlite.pending["pricing_test"]
    copy = _steps(run_id)[1]
    with session_scope() as s:
        failure = failed_part(s, s.get(PlayRun, run_id))
    assert failure == f"step 2 copy_bot.draft_product_descriptions (job {copy.id}) failed for good " \
                      "(RuntimeError: copy service exploded)"

    client = get_client("demo")
    day = PRICE_DAY + timedelta(days=client.configs.play("pricing_test").evidence.delay_days + 2)
    evidence = [e for e in evidence_report(client, as_of=day, persist=False)["evidence"] if e["play_run_id"] == run_id]
    directions = {k.id: k.direction for k in client.configs.kpis.kpis}
    [review] = review_plays(evidence, directions, {run_id: status_on(_run(run_id), day)}, failures={run_id: failure})
    assert review.status == "failed" and f"the run failed part way: {failure}" in review.advice
    assert review.option == ""  # a run that never ran whole is not offered the scale
    expected = {action: f"chimera play {action} {run_id} --reason R" for action in ("revert", "pause")}
    if review.recommendation == "continue":
        assert review.next_step.endswith(f"chimera play resume {run_id} --reason R")
    else:
        assert review.next_step == expected.get(review.action, "")

    pause(run_id, "alice", "copy service down", on=PRICE_DAY + timedelta(days=3))
    revert(run_id, "alice", "undo the prices", on=PRICE_DAY + timedelta(days=5))
    run = _run(run_id)
    assert [status_on(run, PRICE_DAY + timedelta(days=n)) for n in (0, 2, 3, 4, 5)] == \
        ["failed", "failed", "paused", "paused", "reverted"]
    assert run.rationale["revert"]["was"] == "paused"


def _run_row(status: str, rationale: dict[str, Any], executed_on: date = date(2026, 10, 18)) -> PlayRun:
    return PlayRun(id="r", company_id=1, play_id="p", status=status, as_of=executed_on, executed_on=executed_on,
                   rationale=rationale)


def _rec(on: str, was: str | None = None) -> dict[str, Any]:
    return {"on": on, "who": "bob", "why": "w", "at": f"{on}T09:00:00+00:00", **({"was": was} if was else {})}


def test_status_before_a_stop_is_what_its_record_says_the_run_was() -> None:
    reverted = _run_row("reverted", {"revert": _rec("2026-10-25", "failed")})
    assert [status_on(reverted, date(2026, 10, d)) for d in (18, 24, 25)] == ["failed", "failed", "reverted"]
    older = _run_row("reverted", {"revert": _rec("2026-10-25")})  # recorded before ``was``: executed, as it read
    assert status_on(older, date(2026, 10, 20)) == "executed"
    # failed, paused, resumed, ran whole (executed on the 22nd), paused again
    twice = _run_row("paused", {"pause_history": [{"pause": _rec("2026-10-20", "failed"),
                                                   "resume": _rec("2026-10-22")}],
                                "pause": _rec("2026-10-24", "executed")})
    assert [status_on(twice, date(2026, 10, d)) for d in (19, 20, 22, 23, 24)] == \
        ["failed", "paused", "executed", "executed", "paused"]


def _entry(verdict: str) -> dict[str, Any]:
    return {"play_run_id": "r", "play": "pricing_test", "executed_on": "2026-10-18", "kpi": "aov", "verdict": verdict,
            "effect_pct": None, "ci_low_pct": None, "ci_high_pct": None, "before": "1", "after": "2"}


STEP = "step 2 copy_bot.draft_product_descriptions (job 7) failed for good"


@pytest.mark.parametrize(("verdict", "starts", "next_step"), [
    ("moved_down", "revert (the run failed part way: ", "chimera play revert r --reason R"),
    ("no_detectable_change", "pause it, keeping what it applied", "chimera play pause r --reason R"),
    ("moved_up", "resume it once the cause of the failure is fixed",
     "chimera play pause r --reason R, then once the cause is fixed chimera play resume r --reason R"),
    ("inconclusive", "resume it once the cause of the failure is fixed", ""),
])
def test_the_review_of_a_failed_run_names_the_step_and_says_resume_or_revert(verdict: str, starts: str,
                                                                           next_step: str) -> None:
    [review] = review_plays([_entry(verdict)], {"aov": "higher_is_better"}, {"r": "failed"}, failures={"r": STEP})
    assert review.advice.startswith(starts) and f"the run failed part way: {STEP}" in review.advice
    assert "or revert" in review.advice or review.action == "revert"
    assert (review.next_step, review.option) == (next_step, "")
    [unnamed] = review_plays([_entry(verdict)], {"aov": "higher_is_better"}, {"r": "failed"})
    assert "a step failed for good and the steps after it were skipped (chimera jobs names it)" in unnamed.advice


def test_a_failed_run_paused_since_is_told_to_resume_once_fixed() -> None:
    [review] = review_plays([_entry("moved_up")], {"aov": "higher_is_better"}, {"r": "paused"},
                            {"r": "paused on 2026-10-20 by bob"}, failures={"r": STEP})
    assert review.advice == (f"resume once the cause of the failure is fixed (paused on 2026-10-20 by bob; the run "
                             f"failed part way: {STEP}; the evidence says continue)")
    assert review.next_step == "chimera play resume r --reason R"


# --------------------------------------------------------------------------- a second revert: the undo recorded


def test_a_second_revert_reports_the_undo_as_recorded(chimera_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: it reported the undo built anew, which differs from the one applied when the inverse of
    the record is built differently now (an old price table's cells escaped since)."""
    from chimera.changesets import DryRunAdapter
    from chimera.clients import add_client, get_client
    from chimera.db.models import AppliedChange
    from chimera.plays import revert as revert_module

    company = add_client("shop").company_id
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary="raise prices",
                   changes=[Change(target="product:A-1", field="price", before="-2.00", after="-1.00")],
                   asset=Asset(filename="p-price-table.csv", content=OLD_TABLE))
    then = inverse(cs, "job:1").model_copy(update={"summary": "undo as built then"})
    with session_scope() as s:
        DryRunAdapter().apply(s, company, "shop", "job:1", cs, None)
    for built in (lambda c, k: then, inverse):
        monkeypatch.setattr(revert_module, "inverse", built)
        with session_scope() as s:
            row = s.exec(select(AppliedChange).where(AppliedChange.idempotency_key == "job:1")).one()
            reverted = revert_module._undo(s, get_client("shop"), row)
    assert (reverted.applied, reverted.summary) == (False, "undo as built then")
    assert reverted.key == "revert:job:1" and reverted.changes == then.changes
