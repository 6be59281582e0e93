"""QA of ``chimera play scale`` over several weekly cycles (manual §4.7 continue / scale / pause, §6.2).

One client from the project's own generator with a 30 % price rise on 2026-04-20 (day 105):
pricing_test approved and executed in that day's cycle; the cycle of 2026-05-18 (its 28-day evidence
due) judges it worked; the operator scales it that day and approves the larger run, which executes
on 2026-05-18; the cycle of 2026-06-15 judges the scaled run on its own evidence. Every other
suggestion is rejected, as an operator approving 1-3 plays a week would. The tests run in file order
on that one client (as tests/test_play_scale.py does); the Postgres test tells the same story on its
own schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import CycleRun, EvidenceRecord, Job, PlayRun
from tests.test_decisions_cli import _in_home, chimera
from tests.test_play_revert import _refused, _run
from tests.test_play_scale import _runs_of, home  # noqa: F401 - fixture: this module's story, in its home

START = date(2026, 1, 5)
PRICE_DAY = START + timedelta(days=105)  # 2026-04-20
DUE_DAY = PRICE_DAY + timedelta(days=28)  # 2026-05-18: pricing_test's evidence delay
NEXT_DUE = DUE_DAY + timedelta(days=28)  # 2026-06-15: the scaled run's


@dataclass
class Story:
    home: Path
    worked: str
    """pricing_test's first run: executed on PRICE_DAY, its evidence says continue on DUE_DAY."""


def _cycle(day: date, approve: str = "") -> dict[str, str]:
    """A weekly cycle of ``day``: ``approve`` approved, every other suggestion rejected."""
    from graphs.service import decide, run_cycle

    pending = {p.play_id: p.play_run_id for p in run_cycle("shop", as_of=day).pending}
    for play, run_id in pending.items():
        decide(run_id, "approve" if play == approve else "reject", who="alice", why="weekly cycle")
    return pending


def _tell_story(root: Path) -> Story:
    """The client, its exports and the cycles up to DUE_DAY (CHIMERA_HOME and the database: the caller's)."""
    from tests.test_play_scale import price_test_client

    price_test_client(root / "scale-qa-exports", days=175)  # 175 days: the scaled run's evidence falls due too
    worked = _cycle(PRICE_DAY, approve="pricing_test")["pricing_test"]
    _cycle(DUE_DAY)
    return Story(Path(), worked)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("scale-qa-home")
        _in_home(home, mp)
        told = _tell_story(tmp_path_factory.getbasetemp())
        told.home = home
        yield told
        dispose_all()


def _scales() -> list[PlayRun]:
    return [r for r in _runs_of("pricing_test") if "scale" in (r.rationale or {})]


def _review(as_of: date) -> dict[str, object]:
    """The weekly review of ``as_of``'s stored evidence, as ``report --json`` and the chat show it
    (chimera.report.data.weekly_review, with the scale links)."""
    from chimera.clients import get_client
    from chimera.evidence.record import record_json
    from chimera.report.data import weekly_review

    client = get_client("shop")
    with session_scope() as s:
        rows = s.exec(select(EvidenceRecord).where(EvidenceRecord.company_id == client.company_id)).all()
        entries = [record_json(r) for r in rows]
    reviews, _stopped = weekly_review(client, as_of, entries)
    return {r.play_run_id: r for r in reviews}


# --- refusals before anything is recorded: one line, exit 1 -------------------------------------------------


def test_a_scale_never_shrinks_reverses_or_repeats_a_param_nor_predates_its_evidence(home: Story) -> None:  # noqa: F811
    w = home.worked
    where = "pricing_test step 1 shopify_bot.update_prices"
    cases = {
        "1.count=0": f"--set 1.count=0: {where} ran count 5: 0 would shrink it; a scale keeps a param's direction",
        "1.count=4": f"--set 1.count=4: {where} ran count 5: 4 would shrink it",
        "1.count=-3": f"--set 1.count=-3: {where} ran count 5: -3 would turn it the other way",
        "1.change_pct=-10": f"--set 1.change_pct=-10: {where} ran change_pct 10: -10 would turn it the other way",
    }
    for given, expected in cases.items():
        line = _refused(chimera("play", "scale", w, "--reason", "r", "--set", given))
        assert line.startswith(f"error: {expected}") and line.endswith("; nothing was recorded"), line
    line = _refused(chimera("play", "scale", w, "--reason", "r", "--set", "1.count=6",
                            "--set", "update_prices.count=7"))
    assert f"--set update_prices.count=7: {where} count is set twice; give it once" in line
    line = _refused(chimera("play", "scale", w, "--reason", "r", "--set", "1.count=5", "--set", "1.change_pct=10"))
    assert "nothing to scale" in line and "the --set values equal what ran: set a larger one" in line
    for early in (PRICE_DAY + timedelta(days=5), DUE_DAY - timedelta(days=1)):
        line = _refused(chimera("play", "scale", w, "--reason", "r", "--on", str(early)))
        assert (f"--on {early} is before play run {w} (pricing_test) could be scaled: its evidence fell due on "
                f"{DUE_DAY} (executed {PRICE_DAY}, +28 days) and the scaled run joins the cycle of {DUE_DAY}; pass "
                f"--on with the day it is scaled, {DUE_DAY} or later") in line
    assert _scales() == [] and _run(w).status == "executed"


# --- the scale, its run and the next weeks ---------------------------------------------------------------------


def test_the_scale_on_its_evidence_day_runs_larger_and_is_idempotent(home: Story) -> None:  # noqa: F811
    first = chimera("play", "scale", home.worked, "--reason", "aov +29 %", "--who", "bob", "--on", str(DUE_DAY),
                    "--json")
    assert first.code == 0, first.stderr[-2000:]
    doc = json.loads(first.stdout)
    again = json.loads(chimera("play", "scale", home.worked, "--reason", "aov +29 %", "--who", "bob", "--on",
                               str(DUE_DAY), "--json").stdout)
    assert again == {**doc, "already_scaled": True}  # the same record, nothing written twice
    said = " ".join(chimera("play", "scale", home.worked, "--reason", "x").stdout.split())
    assert "undecided, it waits in each next cycle until a person decides it" in said
    assert len(_scales()) == 1
    assert [(c["param"], c["before"], c["after"]) for c in doc["changes"]] == [("count", 5, 8), ("change_pct", 10, 10)]
    assert doc["explanation"].startswith(f"scaled from play run {home.worked} (executed {PRICE_DAY}) on {DUE_DAY} by "
                                         "bob because aov +29 %")
    assert chimera("approve", doc["play_run_id"], "--who", "carol", "--reason", "go bigger").code == 0
    scaled = _run(doc["play_run_id"])
    assert (scaled.status, scaled.executed_on, scaled.as_of) == ("executed", DUE_DAY, DUE_DAY)
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.play_run_id == scaled.id, Job.step == 0,
                                       Job.type == "EXECUTE_PLAY_COMMERCE")).one()
        assert (job.params["count"], job.params["change_pct"]) == (8, 10)
        assert job.result["changeset"]["summary"].startswith("change the price of 8 products by 10%")


def test_the_scaled_runs_evidence_is_its_own_and_the_review_links_both_runs(home: Story) -> None:  # noqa: F811
    [scaled] = _scales()
    _cycle(NEXT_DUE)
    with session_scope() as s:
        records = s.exec(select(EvidenceRecord).where(EvidenceRecord.play_id == "pricing_test")).all()
        by_run = {(r.play_run_id, r.kpi): r for r in records}
        s.expunge_all()
    assert {run for run, _ in by_run} == {home.worked, scaled.id}
    original, own = by_run[home.worked, "aov"], by_run[scaled.id, "aov"]
    # judged from its own execution day: its before window is the original's after window
    assert own.executed_on == DUE_DAY and own.correlation_id == scaled.correlation_id != original.correlation_id
    assert own.verdict != "pending" and own.before == original.after
    assert original.verdict == "moved_up"  # the original's verdict is kept, not re-judged over the scale

    reviews = _review(NEXT_DUE)
    first, second = reviews[home.worked], reviews[scaled.id]
    assert first.recommendation == "continue" and first.option == ""  # its scale ran: not offered again
    assert first.scaled_by == f"play run {scaled.id} (executed, executed {DUE_DAY})"
    assert second.scaled_from == f"play run {home.worked} (executed {PRICE_DAY})"
    from chimera.plays.weekly_review import review_line
    assert f"executed {DUE_DAY}, executed, a scale of play run {home.worked}" in review_line(second)
    assert review_line(first).endswith(f"; scaled by play run {scaled.id} (executed, executed {DUE_DAY})")


def test_the_original_is_not_scaled_twice_once_its_scale_ran(home: Story) -> None:  # noqa: F811
    [scaled] = _scales()
    line = _refused(chimera("play", "scale", home.worked, "--reason", "again", "--on", str(NEXT_DUE)))
    assert (f"play run {home.worked} (pricing_test) was already scaled by bob on {DUE_DAY} and that run ran: play "
            f"run {scaled.id} (executed {DUE_DAY}, now executed) with step 1 shopify_bot.update_prices count 5 -> 8 "
            f"(x1.5)") in line
    assert f"would run the same larger params twice: judge that run and scale it once its evidence says it worked " \
        f"(chimera play scale {scaled.id} --reason R); nothing was recorded" in line
    assert chimera("play", "pause", scaled.id, "--reason", "stock", "--who", "dana", "--on", str(NEXT_DUE)).code == 0
    line = _refused(chimera("play", "scale", home.worked, "--reason", "again", "--on", str(NEXT_DUE)))
    assert f"play run {scaled.id} (executed {DUE_DAY}, now paused)" in line
    assert f"resume it first (chimera play resume {scaled.id} --reason R)" in line
    assert chimera("play", "resume", scaled.id, "--reason", "back", "--on", str(NEXT_DUE)).code == 0
    assert len(_scales()) == 1


# --- holds ---------------------------------------------------------------------------------------------------


def test_a_play_held_back_by_another_runs_pause_is_not_scaled(chimera_home: Path) -> None:
    """Hand-made runs of a client of its own: one that worked, and another run of the play paused."""
    from chimera.clients import add_client

    company = add_client("shop").company_id
    day = date(2026, 5, 18)
    with session_scope() as s:
        s.add(CycleRun(company_id=company, as_of=day, status="completed"))
        worked = PlayRun(company_id=company, play_id="bundle_offer", as_of=day - timedelta(days=35),
                         status="executed", executed_on=day - timedelta(days=35))
        other = PlayRun(company_id=company, play_id="bundle_offer", as_of=day - timedelta(days=7), status="executed",
                        executed_on=day - timedelta(days=7))
        s.add(worked)
        s.add(other)
        s.flush()
        for kpi in ("aov", "units_per_order"):
            s.add(EvidenceRecord(company_id=company, play_run_id=worked.id, play_id="bundle_offer", kpi=kpi,
                                 correlation_id=worked.correlation_id, executed_on=worked.executed_on,
                                 verdict="moved_up"))
        ids = worked.id, other.id
    paused = chimera("play", "pause", ids[1], "--reason", "supplier delay", "--who", "dana", "--on", str(day))
    assert paused.code == 0, paused.stderr
    line = _refused(chimera("play", "scale", ids[0], "--reason", "r", "--on", str(day)))
    assert f"bundle_offer is held back (paused): paused by dana on {day}" in line
    assert f"(play run {ids[1]}): supplier delay; held back until a person resumes it" in line
    assert "a scale of play run" in line and line.endswith("nothing was recorded")
    assert chimera("play", "resume", ids[1], "--reason", "back", "--on", str(day)).code == 0
    with session_scope() as s:
        assert len(s.exec(select(PlayRun)).all()) == 2


# --- Postgres ----------------------------------------------------------------------------------------------


def test_the_story_on_postgres(pg_url: str, tmp_path_factory: pytest.TempPathFactory,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    told = _tell_story(tmp_path_factory.getbasetemp())
    line = _refused(chimera("play", "scale", told.worked, "--reason", "r", "--set", "1.count=3"))
    assert "ran count 5: 3 would shrink it" in line
    doc = json.loads(chimera("play", "scale", told.worked, "--reason", "it worked", "--on", str(DUE_DAY),
                             "--json").stdout)
    assert json.loads(chimera("play", "scale", told.worked, "--reason", "it worked", "--on", str(DUE_DAY),
                              "--json").stdout)["play_run_id"] == doc["play_run_id"]
    assert chimera("approve", doc["play_run_id"]).code == 0
    _cycle(NEXT_DUE)
    reviews = _review(NEXT_DUE)
    assert reviews[told.worked].option == "" and reviews[doc["play_run_id"]].scaled_from.startswith(
        f"play run {told.worked} ")
    line = _refused(chimera("play", "scale", told.worked, "--reason", "again"))
    assert f"and that run ran: play run {doc['play_run_id']}" in line
