"""``chimera play pause`` / ``resume`` and the holds of paused and reverted plays (manual §4.7, §6.2).

One demo client (the project's own generator), one live cycle of 2026-10-18 with three suggestions:
pricing_test approved and half run (its price step applied, its copy step still queued),
bundle_offer approved and not planned yet, free_shipping_threshold awaiting a decision. A pause
holds the queued steps (not run when the cycle goes on or by the worker) and keeps what ran; a
resume runs them; paused and reverted plays are held back when they trigger again, saying who,
when and why. The tests run in file order on that one client, as tests/test_play_revert.py does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import AppliedChange, CycleRun, Job, PlayRun
from chimera.plays.models import SuggestState
from chimera.plays.rank import held_back, previous_decisions, suggest_plays
from tests.test_decisions_cli import chimera
from tests.test_play_revert import _in_home, _refused, _run
from tests.test_rank import WARN, kpis, make_configs

DAY = date(2026, 10, 18)


@dataclass
class Cycle:
    home: Path
    runs: dict[str, str]
    """play id -> play run id of the cycle's suggestions."""
    cycle_run: str


def _approve_without_running(play_run_id: str, steps_to_run: int) -> None:
    """Approve as the cycle would, then run only the planning and the first ``steps_to_run`` steps:
    the state a pause finds when a play is under way (approved, or executing with steps queued)."""
    from agents.context import CycleContext
    from agents.decisions import apply_decision
    from agents.jobs import handler_for
    from chimera.clients import get_client

    with session_scope() as s:
        run = s.get(PlayRun, play_run_id)
        assert run is not None and run.run_id
        ctx = CycleContext(client=get_client("demo"), as_of=DAY, run_id=run.run_id)
        apply_decision(s, ctx, run, "approve", "alice", "")
    if steps_to_run < 0:
        return
    for _ in range(steps_to_run + 1):  # the planning job, then the steps in order
        with session_scope() as s:
            job = s.exec(select(Job).where(Job.play_run_id == play_run_id, Job.status == "queued")
                         .order_by(Job.id)).first()
            assert job is not None
            job.result, job.status = handler_for(job.type)(s, ctx, job), "succeeded"
            s.add(job)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cycle]:
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("pause-home")
        _in_home(home, mp)
        ensure_demo_client()
        outcome = run_cycle("demo", as_of=DAY)
        runs = {p.play_id: p.play_run_id for p in outcome.pending}
        assert {"pricing_test", "bundle_offer", "free_shipping_threshold"} <= set(runs)
        _approve_without_running(runs["pricing_test"], steps_to_run=1)
        _approve_without_running(runs["bundle_offer"], steps_to_run=-1)
        yield Cycle(home, runs, outcome.run_id)
        dispose_all()


@pytest.fixture
def home(cycle: Cycle, monkeypatch: pytest.MonkeyPatch) -> Cycle:
    _in_home(cycle.home, monkeypatch)
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    return cycle


def _jobs(play_run_id: str) -> list[Job]:
    with session_scope() as s:
        rows = s.exec(select(Job).where(Job.play_run_id == play_run_id).order_by(Job.id)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def _applied(play_run_id: str) -> int:
    ids = [j.id for j in _jobs(play_run_id)]
    with session_scope() as s:
        return len([r for r in s.exec(select(AppliedChange)).all() if r.job_id in ids])


def _state(day: date, hold_days: int = 28) -> SuggestState:
    from chimera.plays.review import suggest_state

    with session_scope() as s:
        cid = s.exec(select(CycleRun.company_id)).first()  # the one client of this home
        assert cid is not None
        return suggest_state(s, cid, day, hold_days=hold_days)


# --- refusals first: one line, exit 1, nothing recorded ----------------------------------------------


def test_refusals_are_one_line_and_record_nothing(home: Cycle) -> None:
    suggested, approved = home.runs["free_shipping_threshold"], home.runs["bundle_offer"]
    cases = {
        "--reason is required: say why the play is paused": ("play", "pause", approved),
        "--reason is required: say why the play is resumed": ("play", "resume", approved, "--reason", " "),
        "unknown play run 'nope'": ("play", "pause", "nope", "--reason", "r"),
        f"is suggested, not approved, executing or executed; only a play a person approved can be paused: it "
        f"awaits a decision, reject it instead (chimera reject {suggested} --reason R)":
            ("play", "pause", suggested, "--reason", "r"),
        f"play run {approved} (bundle_offer) is approved and not paused or reverted: nothing to resume":
            ("play", "resume", approved, "--reason", "r"),
    }
    for expected, args in cases.items():
        line = _refused(chimera(*args))
        assert expected in line, (args, line)
    assert _run(approved).status == "approved" and "pause" not in _run(approved).rationale
    assert [j.status for j in _jobs(approved)] == ["queued"]  # its planning job, untouched


# --- the pause ----------------------------------------------------------------------------------------


def test_pause_holds_the_queued_steps_and_keeps_what_ran(home: Cycle) -> None:
    run_id = home.runs["pricing_test"]
    before = _jobs(run_id)
    assert [j.status for j in before] == ["succeeded", "succeeded", "queued"] and _applied(run_id) == 1
    result = chimera("play", "pause", run_id, "--reason", "margin too thin", "--who", "bob", "--json")
    assert result.code == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    held = before[2]
    assert (doc["status"], doc["was"], doc["who"], doc["why"], doc["already_paused"], doc["kept"]) == \
        ("paused", "executing", "bob", "margin too thin", False, 1)
    assert [(j["id"], j["action"]) for j in doc["held"]] == [(held.id, held.action)] and doc["running"] == []

    jobs = _jobs(run_id)
    assert [j.status for j in jobs] == ["succeeded", "succeeded", "cancelled"]
    assert jobs[2].error.startswith("held: play run paused by bob on ") and f"chimera play resume {run_id}" in \
        jobs[2].error
    run = _run(run_id)
    assert run.status == "paused" and run.rationale["pause"]["held_jobs"] == [held.id]
    assert _applied(run_id) == 1  # kept, not undone

    # a second pause is a no-op that says so; the first record stays
    again = chimera("play", "pause", run_id, "--reason", "again", "--who", "carol")
    said = " ".join(again.stdout.split())
    assert again.code == 0 and f"play run {run_id} (pricing_test) was already paused on " in said
    assert "by bob (margin too thin): nothing changed" in said and _run(run_id).rationale == run.rationale


def test_an_approved_play_is_paused_before_it_is_planned(home: Cycle) -> None:
    run_id = home.runs["bundle_offer"]
    result = chimera("play", "pause", run_id, "--reason", "stock is low")
    assert result.code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert f"paused bundle_offer (play run {run_id}) on " in said and "by os-user: stock is low" in said
    assert "held: PLAN_JOB_QUEUE_FOR_PLAY (job " in said and "kept: 0 change(s)" in said
    assert [j.status for j in _jobs(run_id)] == ["cancelled"]


def test_held_steps_are_not_run_when_the_cycle_goes_on_nor_by_the_worker(home: Cycle) -> None:
    from graphs.service import run_due_jobs

    # deciding the last suggestion drives the cycle: its router runs every queued job of the run
    assert chimera("reject", home.runs["free_shipping_threshold"], "--reason", "not now").code == 0
    run_due_jobs("demo")
    assert [j.status for j in _jobs(home.runs["pricing_test"])][-1] == "cancelled"
    assert [j.status for j in _jobs(home.runs["bundle_offer"])] == ["cancelled"]  # never planned
    assert _applied(home.runs["pricing_test"]) == 1
    with session_scope() as s:
        cycle = s.get(CycleRun, home.cycle_run)
        assert cycle is not None and cycle.status == "completed"


def test_a_paused_play_is_held_back_until_resumed_saying_who_when_why(home: Cycle) -> None:
    state = _state(date(2026, 11, 22))  # a live cycle weeks later
    why = state.paused["pricing_test"]
    assert why.startswith("paused by bob on ") and f"(play run {home.runs['pricing_test']}): margin too thin" in why
    assert f"held back until a person resumes it (chimera play resume {home.runs['pricing_test']}" in why
    assert "bundle_offer" in state.paused and "pricing_test" not in state.active_plays  # no slot taken
    # the ranking holds it back with that reason, as a rejected play is held back
    cs = make_configs([{"id": "pricing_test", "trigger": WARN, "impact": 3, "effort": 1}])
    result = suggest_plays(cs, kpis(), None, state)
    assert list(result) == []
    held = held_back([p.model_dump() for p in result.suppressed])
    assert [(h["play"], h["kind"], h["why_held"]) for h in held] == [("pricing_test", "paused", why)]
    # a replay of a day before the pause does not see it
    assert "pricing_test" not in _state(date(2026, 10, 11)).paused


def test_resume_runs_the_held_steps_once(home: Cycle) -> None:
    run_id = home.runs["pricing_test"]
    result = chimera("play", "resume", run_id, "--reason", "margin is fine", "--who", "carol")
    assert result.code == 0, result.stderr[-2000:]
    said = " ".join(result.stdout.split())
    assert f"resumed pricing_test (play run {run_id}) on " in said and "by carol: margin is fine" in said
    assert "step 2 copy_bot.draft_product_descriptions (job " in said and "): ran" in said
    assert "(status now executed)" in said
    run = _run(run_id)
    assert run.status == "executed" and run.executed_on == DAY and _applied(run_id) == 2
    assert run.rationale["resume"]["who"] == "carol" and run.rationale["pause"]["who"] == "bob"
    again = json.loads(chimera("play", "resume", run_id, "--reason", "x", "--json").stdout)
    assert again["already_resumed"] is True and again["who"] == "carol" and _applied(run_id) == 2

    approved = home.runs["bundle_offer"]
    doc = json.loads(chimera("play", "resume", approved, "--reason", "stock is back", "--json").stdout)
    assert doc["status"] == "executed" and [j["status"] for j in doc["requeued"]] == ["succeeded"]
    assert all(j.status == "succeeded" for j in _jobs(approved) if j.type != "LOG_EVIDENCE")
    state = _state(date(2026, 11, 22))
    assert state.paused == {}


# --- reverted plays ----------------------------------------------------------------------------------


def test_a_reverted_play_is_held_back_for_the_configured_days(home: Cycle, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from chimera.config.models import PlayPolicy

    run_id = home.runs["pricing_test"]
    assert chimera("play", "revert", run_id, "--reason", "conversion fell", "--who", "dana", "--on",
                   "2026-11-01").code == 0
    why = _state(date(2026, 11, 8)).reverted["pricing_test"]
    assert why.startswith("reverted by dana on 2026-11-01") and "conversion fell" in why
    assert "suggested again from a cycle of 2026-11-29 on (28 days after the revert" in why
    assert "pricing_test" not in _state(date(2026, 11, 29)).reverted
    assert "pricing_test" not in _state(date(2026, 11, 8), hold_days=3).reverted
    assert "pricing_test" in _state(date(2026, 11, 3), hold_days=3).reverted
    with pytest.raises(ValidationError, match="revert_hold_days"):  # plays.yml's policy
        PlayPolicy(revert_hold_days=-1)
    # once the hold is over, a suggestion says it was reverted, by whom, when and why
    with session_scope() as s:
        company = _run(run_id).company_id
        history = previous_decisions(s, company, date(2026, 11, 29))
    assert history["pricing_test"].startswith("reverted by dana on 2026-11-01")


def test_resume_lifts_a_reverts_hold_and_leaves_its_changes_undone(home: Cycle) -> None:
    run_id = home.runs["pricing_test"]
    applied = _applied(run_id)
    doc = json.loads(chimera("play", "resume", run_id, "--reason", "try again", "--json").stdout)
    assert (doc["of"], doc["status"], doc["requeued"], doc["already_resumed"]) == ("revert", "reverted", [], False)
    assert "pricing_test" not in _state(date(2026, 11, 8)).reverted and _applied(run_id) == applied
    refused = _refused(chimera("play", "pause", run_id, "--reason", "r"))
    assert "is reverted, not approved, executing or executed" in refused


# --- the report lists them ---------------------------------------------------------------------------


def test_the_report_lists_pauses_reverts_and_the_weekly_review(home: Cycle, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = chimera("report", "--client", "demo", "--out", str(out), "--json")
    assert result.code == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    stops = {(s["play"], s["kind"]): s for s in doc["stopped"]}
    assert stops[("pricing_test", "reverted")]["who"] == "dana"
    assert stops[("pricing_test", "reverted")]["resumed"]["why"] == "try again"
    assert stops[("bundle_offer", "paused")]["resumed"]["why"] == "stock is back"
    reviewed = {r["play_run_id"]: r for r in doc["review"]}
    assert set(reviewed) <= set(home.runs.values())
    for r in reviewed.values():
        assert r["recommendation"] in ("continue", "stop", "keep_watching") and r["figures"]
        assert all(f["verdict"] != "pending" for f in r["figures"]) or r["recommendation"] == "keep_watching"
    html = out.read_text(encoding="utf-8")
    assert 'id="review"' in html and "Paused and reverted plays" in html and "conversion fell" in html
    text = chimera("report", "--client", "demo", "--out", str(out))
    said = " ".join(text.stdout.split())
    assert "paused and reverted plays:" in said
    assert f"pricing_test (play run {home.runs['pricing_test']}): reverted on 2026-11-01 by dana: conversion fell" \
        in said
