"""A play step that fails for good: the later steps are skipped, never applied, and say why; the run
settles failed; what the earlier steps applied is measured and can be reverted; a step applied before
reports the ChangeSet recorded then (agents/jobs.py, chimera/jobs/queue.py, chimera/changesets.py).

The cycle tests run the demo client's pricing_test (step 1 shopify_bot.update_prices, step 2
copy_bot.draft_product_descriptions, copy for the repriced pages) on SQLite and on the real
Postgres; the others are hand-made rows of one client, fast."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, CycleRun, Decision, Job, PlayRun
from tests.test_decisions_cli import chimera
from tests.test_play_revert import _run

PRICE_DAY = date(2026, 10, 18)
PRICES = ("shopify_bot", "update_prices")
COPY = ("copy_bot", "draft_product_descriptions")


@dataclass
class Demo:
    pending: dict[str, str]
    """play id -> play run id of the cycle's suggestions."""
    cycle_run: str


@pytest.fixture(params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """The demo client after its cycle of PRICE_DAY, awaiting decisions, on each backend."""
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    request.getfixturevalue("pg_url" if request.param == "postgres" else "chimera_home")
    monkeypatch.setenv("CHIMERA_LLM", "offline")
    ensure_demo_client()
    outcome = run_cycle("demo", as_of=PRICE_DAY)
    yield Demo({p.play_id: p.play_run_id for p in outcome.pending}, outcome.run_id)


def _raising(monkeypatch: pytest.MonkeyPatch, step: tuple[str, str], error: Exception) -> Callable[[], None]:
    """Make the bot action of ``step`` raise ``error``; returns what puts the real action back."""
    from agents.bots import registry

    registry._load()
    real = registry.ACTIONS[step]

    def boom(ctx: Any) -> Any:
        raise error

    monkeypatch.setitem(registry.ACTIONS, step, boom)
    return lambda: monkeypatch.setitem(registry.ACTIONS, step, real)


def _reject_the_others(demo: Demo) -> None:
    """Decide the cycle's other suggestions: it then ends instead of waiting for a person."""
    from graphs.service import decide

    for play, other in demo.pending.items():
        if play != "pricing_test":
            decide(other, "reject", who="alice", why="not now")


def _steps(play_run_id: str) -> list[Job]:
    with session_scope() as s:
        jobs = s.exec(select(Job).where(Job.play_run_id == play_run_id, col(Job.type).startswith("EXECUTE_PLAY_"))
                      .order_by(col(Job.step))).all()
        for j in jobs:
            s.expunge(j)
        return list(jobs)


def _applied(play_run_id: str) -> list[tuple[str, str]]:
    with session_scope() as s:
        ids = [j.id for j in s.exec(select(Job).where(Job.play_run_id == play_run_id))]
        rows = s.exec(select(AppliedChange).where(col(AppliedChange.job_id).in_(ids)).order_by(col(AppliedChange.id)))
        return [(r.bot, r.action) for r in rows]


def test_a_failed_price_step_skips_the_copy_for_the_repriced_pages(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the copy step ran and drafted copy for a price change that never happened."""
    from chimera.plays.pause import pause
    from graphs.service import decide

    put_back = _raising(monkeypatch, PRICES, RuntimeError("price API down"))
    run_id = demo.pending["pricing_test"]
    after = decide(run_id, "approve", who="alice")
    _reject_the_others(demo)
    prices, copy = _steps(run_id)
    assert (prices.status, prices.error) == ("failed", "RuntimeError: price API down")
    assert copy.status == "cancelled"
    assert copy.error.startswith(f"skipped: step 1 shopify_bot.update_prices (job {prices.id}) failed for good")
    assert _applied(run_id) == [] and _run(run_id).status == "failed" and _run(run_id).executed_on is None
    shown = {j["id"]: j for j in after.jobs}
    assert (shown[copy.id]["status"], shown[copy.id]["error"]) == ("cancelled", copy.error)

    listed = json.loads(chimera("jobs", "--client", "demo", "--json").stdout)["jobs"]
    assert [(j["status"], j["error"]) for j in listed if j["id"] == copy.id] == [("cancelled", copy.error)]
    table = chimera("jobs", "--client", "demo")
    assert table.code == 0 and f"job {copy.id} cancelled: skipped: step 1 shopify_bot.update_prices" in \
        " ".join(table.stdout.split())

    put_back()  # the price API is back: a pause and a resume run the failed step, then the skipped one
    pause(run_id, "alice", "price API down", on=PRICE_DAY)
    resumed = chimera("play", "resume", run_id, "--reason", "API back", "--who", "alice",
                      "--on", PRICE_DAY.isoformat())
    assert resumed.code == 0, resumed.stderr
    assert [j.status for j in _steps(run_id)] == ["succeeded", "succeeded"]
    assert _applied(run_id) == [PRICES, COPY] and _run(run_id).status == "executed"


def test_a_failed_copy_step_keeps_the_price_change_measured_and_revertible(
        demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the applied price change of a failed run had no executed_on, no evidence job, no record."""
    from chimera.clients import get_client
    from chimera.evidence.record import evidence_report
    from graphs.service import decide

    _raising(monkeypatch, COPY, RuntimeError("copy service exploded"))
    run_id = demo.pending["pricing_test"]
    decide(run_id, "approve", who="alice")
    _reject_the_others(demo)
    assert _applied(run_id) == [PRICES]
    run = _run(run_id)
    assert (run.status, run.executed_on) == ("failed", PRICE_DAY)
    delay = get_client("demo").configs.play("pricing_test").evidence.delay_days
    with session_scope() as s:
        assert s.get(CycleRun, demo.cycle_run).status == "failed"
        evidence_jobs = s.exec(select(Job).where(Job.play_run_id == run_id, Job.type == "LOG_EVIDENCE")).all()
        assert [(j.status, j.run_after) for j in evidence_jobs] == [("queued", PRICE_DAY + timedelta(days=delay))]
    report = evidence_report(get_client("demo"), as_of=PRICE_DAY + timedelta(days=delay + 2))
    records = [e for e in report["evidence"] if e["play_run_id"] == run_id]
    assert records and {e["executed_on"] for e in records} == {PRICE_DAY.isoformat()}
    assert all(e["verdict"] != "pending" for e in records)

    undone = chimera("play", "revert", run_id, "--reason", "copy failed", "--on", "2026-10-20", "--json")
    assert undone.code == 0, undone.stderr
    assert [r["action"] for r in json.loads(undone.stdout)["reverted"]] == ["update_prices"]


def test_a_step_applied_before_reports_the_recorded_changeset(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a re-run asked the bot again and reported that new ChangeSet as what was applied."""
    from agents.context import CycleContext
    from agents.jobs import handler_for
    from chimera.clients import get_client
    from graphs.service import decide

    run_id = demo.pending["pricing_test"]
    decide(run_id, "approve", who="alice")
    first = _steps(run_id)[0]
    with session_scope() as s:
        row = s.exec(select(AppliedChange).where(AppliedChange.job_id == first.id)).one()
        recorded_id, recorded_cs, asset = row.id, row.changeset, Path(row.asset_path).read_text(encoding="utf-8")
    assert first.result["changeset"] == recorded_cs and first.result["applied"] is True

    _raising(monkeypatch, PRICES, AssertionError("the bot was asked again"))
    ctx = CycleContext(client=get_client("demo"), as_of=PRICE_DAY + timedelta(days=7), run_id=demo.cycle_run)
    with session_scope() as s:
        job = s.get(Job, first.id)
        again = handler_for(job.type)(s, ctx, job)
    assert (again["applied"], again["applied_change_id"], again["changeset"]) == (False, recorded_id, recorded_cs)
    assert _applied(run_id).count(PRICES) == 1
    assert Path(again["asset"]).read_text(encoding="utf-8") == asset


def test_the_adapter_reports_the_first_changeset_under_a_key(chimera_home: Path) -> None:
    from chimera.changesets import Asset, ChangeSet, DryRunAdapter
    from chimera.clients import add_client

    company = add_client("shop").company_id
    first = ChangeSet(bot="b", action="a", summary="first", asset=Asset(filename="t.md", content="first\n"))
    other = first.model_copy(update={"summary": "built anew", "asset": Asset(filename="t.md", content="new\n")})
    with session_scope() as s:
        applied = DryRunAdapter().apply(s, company, "shop", "k:1", first, None)
    with session_scope() as s:
        second = DryRunAdapter().apply(s, company, "shop", "k:1", other, None)
    recorded = first.model_dump(mode="json")
    assert (applied.applied, applied.changeset, second.applied, second.changeset) == (True, recorded, False, recorded)
    assert second.change_id == applied.change_id is not None
    assert Path(second.asset_path).read_text(encoding="utf-8") == "first\n"


# --- hand-made rows --------------------------------------------------------------------------------------

DAY = date(2026, 10, 18)


@pytest.fixture
def shop(chimera_home: Path) -> int:
    from chimera.clients import add_client

    return add_client("shop").company_id


def _hand_made(company_id: int, statuses: tuple[str, ...], approved: bool = True) -> str:
    """An executing pricing_test run of ``DAY`` in a cycle of ``DAY``, one EXECUTE step per status."""
    with session_scope() as s:
        cycle = CycleRun(company_id=company_id, as_of=DAY, status="running")
        s.add(cycle)
        s.flush()
        run = PlayRun(company_id=company_id, play_id="pricing_test", as_of=DAY, status="executing", run_id=cycle.id)
        s.add(run)
        s.flush()
        if approved:
            s.add(Decision(company_id=company_id, play_run_id=run.id, kind="approve", who="al"))
        for i, status in enumerate(statuses):
            s.add(Job(company_id=company_id, play_run_id=run.id, run_id=cycle.id, type="EXECUTE_PLAY_COMMERCE",
                      owner="commerce_commander_ai", bot="bot", action=f"a{i}", step=i, status=status,
                      idempotency_key=f"{run.id}:{i}"))
        return run.id


def test_a_step_failing_through_the_queue_skips_only_the_queued_steps_after_it(shop: int) -> None:
    from chimera.jobs.queue import SKIPPED_FOR, fail

    run_id = _hand_made(shop, ("succeeded", "running", "queued", "queued"))
    with session_scope() as s:
        s.add(AppliedChange(company_id=shop, idempotency_key="k0", job_id=_steps(run_id)[0].id, bot="bot", action="a0"))
    with session_scope() as s:
        failing = s.get(Job, _steps(run_id)[1].id)
        fail(failing, "adapter down", s, permanent=True)
    steps = _steps(run_id)
    assert [j.status for j in steps] == ["succeeded", "failed", "cancelled", "cancelled"]
    assert all(j.result == {SKIPPED_FOR: steps[1].id} for j in steps[2:])
    assert all(f"step 2 bot.a1 (job {steps[1].id}) failed for good" in j.error for j in steps[2:])
    run = _run(run_id)
    assert (run.status, run.executed_on) == ("failed", DAY)  # step 1 applied: measured from its day


def test_a_failed_run_that_applied_nothing_has_no_execution_day(shop: int) -> None:
    from chimera.jobs.queue import fail

    run_id = _hand_made(shop, ("running", "queued"))
    with session_scope() as s:
        fail(s.get(Job, _steps(run_id)[0].id), "adapter down", s, permanent=True)
    assert [j.status for j in _steps(run_id)] == ["failed", "cancelled"]
    assert (_run(run_id).status, _run(run_id).executed_on) == ("failed", None)


def test_a_step_is_not_applied_while_an_earlier_one_has_not_succeeded(shop: int) -> None:
    from agents.context import CycleContext
    from agents.jobs import handler_for
    from chimera.clients import get_client
    from chimera.errors import DecisionError

    run_id = _hand_made(shop, ("failed", "queued"))
    later = _steps(run_id)[1]
    ctx = CycleContext(client=get_client("shop"), as_of=DAY, run_id=_run(run_id).run_id or "")
    with session_scope() as s, pytest.raises(DecisionError) as refused:
        handler_for(later.type)(s, ctx, s.get(Job, later.id))
    assert f"step 1 bot.a0 (job {_steps(run_id)[0].id}) is failed" in str(refused.value)
    assert _applied(run_id) == []


def test_a_skipped_step_is_queued_again_once_the_failed_one_succeeds(shop: int) -> None:
    from chimera.jobs.queue import requeue_skipped, settle_failed_run

    run_id = _hand_made(shop, ("failed", "queued", "cancelled"))
    with session_scope() as s:
        settle_failed_run(s, run_id)
    held_by_pause = _steps(run_id)[2]  # cancelled by a person, not because of the failure: stays so
    with session_scope() as s:
        failed = s.get(Job, _steps(run_id)[0].id)
        failed.status = "succeeded"
        again = requeue_skipped(s, failed)
        assert [j.step for j in again] == [1]
    steps = _steps(run_id)
    assert [(j.status, j.error, j.result) for j in steps[1:2]] == [("queued", "", {})]
    assert (steps[2].status, steps[2].error) == ("cancelled", held_by_pause.error)


def test_the_jobs_table_says_why_a_job_failed_or_was_skipped() -> None:
    from chimera.cli.cmd_jobs import why_lines

    rows = [{"id": 1, "status": "succeeded", "error": ""}, {"id": 2, "status": "failed", "error": "E: boom"},
            {"id": 3, "status": "cancelled", "error": "skipped: step 1 x.y (job 2) failed for good"},
            {"id": 4, "status": "queued"}]
    assert why_lines(rows) == ["job 2 failed: E: boom", "job 3 cancelled: skipped: step 1 x.y (job 2) failed for good"]
