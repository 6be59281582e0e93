"""QA of the play lifecycle (pause / resume / revert, weekly review, cycle reuse): each test
reproduces one finding on hand-made rows of one client, no cycle run, so each is fast."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chimera.db.engine import session_scope
from chimera.db.models import Job, PlayRun
from chimera.plays.holds import PERSON_MARKS, pauses, status_on, stopped_runs
from tests.test_play_pause import _jobs
from tests.test_play_revert import _run as _get

DAY = date(2026, 10, 18)


@pytest.fixture
def shop(chimera_home: Path) -> int:
    from chimera.clients import add_client

    return add_client("shop").company_id


def _run(company_id: int, status: str = "executing", steps: tuple[str, ...] = (), **kw) -> str:
    """A play run of ``DAY`` with its planning job done and one EXECUTE step per status in ``steps``."""
    with session_scope() as s:
        run = PlayRun(company_id=company_id, play_id="pricing_test", as_of=DAY, status=status, **kw)
        s.add(run)
        s.flush()
        s.add(Job(company_id=company_id, play_run_id=run.id, type="PLAN_JOB_QUEUE_FOR_PLAY", owner="o",
                  status="succeeded", idempotency_key=f"{run.id}:plan"))
        for i, st in enumerate(steps):
            s.add(Job(company_id=company_id, play_run_id=run.id, type="EXECUTE_PLAY_COMMERCE", owner="o", bot="price",
                      action=f"a{i}", step=i, status=st, attempts=3 if st == "failed" else 0,
                      error="boom: adapter down" if st == "failed" else "", idempotency_key=f"{run.id}:{i}"))
        return run.id


# 1. a lifted revert hold (and every other person mark) changes what a re-run cycle compares --------------


def test_every_person_mark_changes_people_state(shop: int) -> None:
    from chimera.jobs.cycle_inputs import people_state
    from chimera.plays import holds

    assert set(PERSON_MARKS) == {holds.REVERT, holds.PAUSE, holds.RESUME, holds.REVERT_RESUME, holds.PAUSE_HISTORY}
    run_id = _run(shop, "reverted", rationale={"revert": {"on": "2026-10-20", "who": "w", "why": "r"}})
    seen = set()
    with session_scope() as s:
        seen.add(people_state(s, shop))
        for key in ("revert_resume", "pause", "resume", "pause_history"):
            run = s.get(PlayRun, run_id)
            run.rationale = {**run.rationale, key: {"on": "2026-10-21", "who": "x", "why": key}}
            s.add(run)
            s.flush()
            seen.add(people_state(s, shop))
    assert len(seen) == 5  # each action changed the fingerprint: the next cycle runs anew


# 2. the weekly review fits the run's state, as it was on the report's day -------------------------------


def _entry(run: str, verdict: str) -> dict:
    return {"play_run_id": run, "play": "p", "kpi": "aov", "verdict": verdict, "executed_on": "2026-10-18"}


@pytest.mark.parametrize(("verdict", "status", "advice", "step"), [
    ("moved_up", "reverted", "reverted on 2026-10-25 by bob; the evidence says continue; resume it if it should run "
                             "again", "resume"),
    ("no_detectable_change", "reverted", "reverted on 2026-10-25 by bob; the evidence says stop (pause)", ""),
    ("inconclusive", "reverted", "reverted on 2026-10-25 by bob; the evidence says keep watching", ""),
    ("moved_up", "paused", "resume (paused on 2026-10-25 by bob; the evidence says continue)", "resume"),
    ("moved_down", "paused", "revert (paused on 2026-10-25 by bob; the evidence says stop (revert))", "revert"),
    ("no_detectable_change", "paused", "keep paused (paused on 2026-10-25 by bob; the evidence says stop (pause))",
     ""),
    ("moved_up", "executed", "continue", ""),
])
def test_the_advice_fits_the_runs_state(verdict: str, status: str, advice: str, step: str) -> None:
    from chimera.plays.weekly_review import review_line, review_plays

    [r] = review_plays([_entry("r", verdict)], {"aov": "higher_is_better"}, {"r": status},
                       {"r": f"{status} on 2026-10-25 by bob"} if status != "executed" else {})
    assert r.advice == advice
    assert r.next_step == (f"chimera play {step} r --reason R" if step else "")
    assert f"executed 2026-10-18, {status}): {advice}: rule" in review_line(r)


def test_status_is_the_one_of_the_reports_day(shop: int) -> None:
    rec = {"revert": {"on": "2026-10-25", "who": "bob", "why": "hurt"},
           "pause": {"on": "2026-10-22", "who": "al", "why": "p", "was": "executed"},
           "resume": {"on": "2026-10-23", "who": "al", "why": "go"}}
    run = _get(_run(shop, "reverted", executed_on=DAY, rationale=rec))
    assert [status_on(run, date(2026, 10, d)) for d in (20, 22, 23, 25)] == \
        ["executed", "paused", "executed", "reverted"]


# 3. a replay of an earlier day still sees runs paused or reverted later ----------------------------------


def test_a_replay_counts_runs_stopped_after_its_day(shop: int) -> None:
    from chimera.plays.review import runs_under_way_on

    later = _run(shop, "reverted", executed_on=DAY, rationale={"revert": {"on": "2026-10-25", "who": "b", "why": "r"}})
    paused = _run(shop, "paused", rationale={"pause": {"on": "2026-10-26", "who": "b", "why": "p", "was": "executing"}})
    before = _run(shop, "paused", rationale={"pause": {"on": "2026-10-19", "who": "b", "why": "p", "was": "executing"}})
    with session_scope() as s:
        ids = {r.id for r in runs_under_way_on(s, shop, date(2026, 10, 20))}
    assert ids == {later, paused}  # the one paused on 10-19 was paused on 10-20: its hold says so instead
    assert before not in ids


# 4. a play whose step failed for good ---------------------------------------------------------------------


def test_a_run_whose_last_step_fails_is_failed_and_frees_its_slot(shop: int) -> None:
    from chimera.jobs.queue import fail
    from chimera.plays.review import active_runs

    run_id = _run(shop, "executing", ("succeeded", "running"))
    with session_scope() as s:
        job = s.get(Job, _jobs(run_id)[-1].id)
        fail(job, "adapter down", s, permanent=True)
    assert _get(run_id).status == "failed"
    with session_scope() as s:
        assert run_id not in {r.id for r in active_runs(s, shop)}


def test_a_failed_step_is_held_by_pause_and_run_again_by_resume(shop: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from chimera.cli.cmd_plays import pause_lines
    from chimera.plays.pause import pause, resume
    from chimera.rhythms import failed_play_jobs

    run_id = _run(shop, "failed", ("succeeded", "failed", "queued"))
    with session_scope() as s:
        [listed] = failed_play_jobs(s, shop)
    assert (listed["step"], listed["error"], listed["play_run_id"]) == (2, "boom: adapter down", run_id)
    out = pause(run_id, "al", "look at it", on=DAY)
    assert [(j.step, j.status) for j in out.held] == [(2, "failed"), (3, "cancelled")]
    lines = pause_lines(out)
    assert (f"  held: step 2 price.a1 (job {out.held[0].id}): failed (boom: adapter down); run again when the "
            "play is resumed") in lines
    assert not any("nothing left to run" in line for line in lines)
    back = resume(run_id, "al", "fixed", on=DAY)
    assert [j.status for j in _jobs(run_id)] == ["succeeded", "succeeded", "queued", "queued"]
    assert [j.attempts for j in _jobs(run_id)][2:] == [0, 0]
    assert {j.step for j in back.requeued} == {2, 3} and _get(run_id).status == "executing"


def test_the_chat_s_daily_check_says_which_play_step_failed(shop: int) -> None:
    """"Today's checks" in the chat said "attention" with no line saying why when a play step failed."""
    from chimera.clients import get_client
    from graphs.chat import _daily

    run_id = _run(shop, "failed", ("succeeded", "failed"))
    text, outputs = _daily(get_client("shop"))
    assert "attention" in text and outputs[0]["failed_play_jobs"][0]["play_run_id"] == run_id
    assert f"(step 2 of pricing_test, play run {run_id}): boom: adapter down; chimera play pause {run_id}" in text


def test_a_failed_run_can_be_reverted(shop: int) -> None:
    from chimera.plays.revert import revert

    run_id = _run(shop, "failed", ("succeeded", "failed"))
    assert revert(run_id, "bob", "give up", on=DAY).status == "reverted"


# 5. every pause is listed; --on is checked like revert's ------------------------------------------------


def test_every_pause_is_listed_and_on_is_checked(shop: int) -> None:
    from chimera.errors import DecisionError
    from chimera.plays.pause import pause, resume

    run_id = _run(shop, "executing", ("succeeded", "queued"))
    with pytest.raises(DecisionError, match="before"):
        pause(run_id, "al", "r", on=date(2026, 10, 1))
    with pytest.raises(DecisionError, match="has not happened yet"):
        pause(run_id, "al", "r", on=date(2999, 1, 1))
    pause(run_id, "al", "one", on=date(2026, 10, 19))
    with pytest.raises(DecisionError, match="before"):
        resume(run_id, "al", "r", on=DAY)
    resume(run_id, "al", "go", on=date(2026, 10, 20))
    pause(run_id, "al", "two", on=date(2026, 10, 21))
    assert len(pauses(_get(run_id))) == 2
    with session_scope() as s:
        stops = stopped_runs(s, shop, date(2026, 10, 22))
    assert [(x.why, x.in_force) for x in stops] == [("two", True), ("one", False)]


def test_the_report_shows_a_stopped_runs_advice_not_the_evidences_word() -> None:
    """The HTML report's advice cell of a reverted run says it was reverted (the evidence's
    "continue" alone would tell a person to continue a play they undid); an executed run's is the word."""
    from chimera.plays.weekly_review import review_plays
    from chimera.report.html import _state_advice

    [reverted] = review_plays([_entry("r", "moved_up")], {"aov": "higher_is_better"}, {"r": "reverted"},
                              {"r": "reverted on 2026-10-25 by bob"})
    assert "reverted on 2026-10-25 by bob; the evidence says continue" in _state_advice(reverted)
    [executed] = review_plays([_entry("e", "moved_up")], {"aov": "higher_is_better"}, {"e": "executed"}, {})
    assert _state_advice(executed) == ""
