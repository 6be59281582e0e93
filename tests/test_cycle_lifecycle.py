"""Plays across cycles: a play under way or just rejected is not suggested again, a silent cycle or
a replay of an older day leaves the live suggestions decidable, and a cycle defaults to the day
`chimera kpis` judges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from chimera.clients import add_client, get_client
from chimera.db.engine import get_engine, session_scope
from chimera.db.models import Company, CycleRun, EvidenceRecord, Job, PlayRun
from chimera.errors import DecisionError
from chimera.kpi.evaluate import evaluate_kpis
from chimera.plays.review import REJECTION_HOLD, active_runs, held_rejections, suggest_state
from graphs.service import decide, run_cycle
from tests.cycle_fixtures import AS_OF

DAY = date(2026, 3, 2)
OLDER = AS_OF - timedelta(days=7)
"""A day before the generated conversion drop on which other plays trigger."""


def _held(run_id: str) -> dict[str, dict[str, Any]]:
    """The plays the cycle's SUGGEST_PLAYS held back (kind and reason), by play id."""
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.run_id == run_id, Job.type == "SUGGEST_PLAYS")).one()
        return {p["play_id"]: p for p in job.result["not_selected"]
                if p.get("kind") in ("already_active", "rejected")}


def _statuses(play_run_ids: list[str]) -> set[str]:
    with session_scope() as s:
        return {s.get(PlayRun, i).status for i in play_run_ids}


# --------------------------------------------------------------------------- the same day again


def test_plays_run_or_rejected_are_not_suggested_again_the_same_day(shop: str) -> None:
    first = run_cycle(shop, as_of=AS_OF)
    approved, *rejected = first.pending
    assert rejected, "the generated store should trigger at least two plays"
    decide(approved.play_run_id, "approve", who="alice")
    for play in rejected:
        decide(play.play_run_id, "reject", who="bob", why="not this week")

    again = run_cycle(shop, as_of=AS_OF)
    assert again.run_id != first.run_id
    assert {p.play_id for p in first.pending}.isdisjoint(p["play"] for p in again.plays)
    assert all(p["reason"] and p["trigger"] for p in again.plays), "every suggestion is explained"
    held = _held(again.run_id)
    under_way = held[approved.play_id]
    assert under_way["kind"] == "already_active"
    assert f"executed on {AS_OF}" in under_way["reason"] and "not judged yet" in under_way["reason"]
    for play in rejected:
        assert held[play.play_id]["kind"] == "rejected"
        assert "by bob" in held[play.play_id]["reason"] and "not this week" in held[play.play_id]["reason"]


def test_an_executed_play_counts_against_the_cap(shop: str) -> None:
    plays_yml = get_client(shop).folder / "plays.yml"
    plays_yml.write_text(plays_yml.read_text("utf-8").replace("max_active_plays: 3", "max_active_plays: 1"), "utf-8")
    first = run_cycle(shop, as_of=AS_OF)
    (only,) = first.pending
    decide(only.play_run_id, "approve", who="alice")
    assert _statuses([only.play_run_id]) == {"executed"}

    again = run_cycle(shop, as_of=AS_OF)
    assert again.plays == [], "one executed play whose evidence is pending fills a cap of one"


# --------------------------------------------------------------------------- superseding, silent cycles


def test_a_cycle_of_the_same_or_a_later_day_supersedes_undecided_suggestions(shop: str) -> None:
    older = run_cycle(shop, as_of=OLDER)
    assert older.pending
    run_cycle(shop, as_of=AS_OF)
    assert _statuses([p.play_run_id for p in older.pending]) == {"superseded"}
    with pytest.raises(DecisionError, match=f"superseded by a newer cycle, the cycle of {AS_OF}"):
        decide(older.pending[0].play_run_id, "approve", who="alice")


def test_a_replay_of_an_older_day_leaves_the_newer_suggestions_decidable(shop: str) -> None:
    """A replay shows what the cycle of its day says, creates nothing to decide (a back-dated
    approval would run bots 'in the past' beside the live plays) and leaves the live cycle alone."""
    live = run_cycle(shop, as_of=AS_OF)
    replay = run_cycle(shop, as_of=OLDER)
    assert replay.run_id != live.run_id and replay.plays and replay.pending == []
    assert replay.as_of_note.startswith(f"replay of {OLDER}")
    said = next(n["text"] for n in replay.narratives if n["type"] == "SUGGEST_PLAYS")
    assert "would be suggested (silent run or replay: nothing to decide)" in said, said
    assert not _held(replay.run_id), "the replay judges its own day: the newer suggestions are not under way then"
    pending = [p.play_run_id for p in live.pending]
    assert _statuses(pending) == {"suggested"}
    decide(pending[0], "approve", who="alice")
    assert _statuses(pending[:1]) == {"executed"}


def test_a_silent_cycle_leaves_live_suggestions_alone(shop: str) -> None:
    live = run_cycle(shop, as_of=AS_OF)
    silent = run_cycle(shop, as_of=AS_OF, silent=True)
    assert silent.run_id != live.run_id
    pending = [p.play_run_id for p in live.pending]
    assert _statuses(pending) == {"suggested"}
    decide(pending[0], "approve", who="alice")


def test_silent_suggestions_do_not_count_as_active_plays(shop: str) -> None:
    silent = run_cycle(shop, as_of=AS_OF, silent=True)
    live = run_cycle(shop, as_of=AS_OF)
    assert [p["play"] for p in live.plays] == [p["play"] for p in silent.plays]
    assert not _held(live.run_id)


# --------------------------------------------------------------------------- default day


def test_a_cycle_for_a_client_without_data_judges_the_day_kpis_judges(chimera_home) -> None:
    add_client("empty")
    outcome = run_cycle("empty")
    assert outcome.as_of == evaluate_kpis(get_client("empty")).as_of


# --------------------------------------------------------------------------- the rules, on rows


@pytest.fixture
def session(chimera_home) -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as s:
        s.add(Company(name="acme"))
        s.commit()
        yield s


def _company(session: Session) -> int:
    return session.exec(select(Company.id)).one()


def _run(session: Session, status: str, play_id: str = "promo", **extra: Any) -> PlayRun:
    run = PlayRun(company_id=_company(session), play_id=play_id, as_of=DAY, status=status, **extra)
    session.add(run)
    session.commit()
    return run


def _evidence(session: Session, run: PlayRun, kpi: str, verdict: str) -> EvidenceRecord:
    row = EvidenceRecord(company_id=run.company_id, play_run_id=run.id, play_id=run.play_id,
                         correlation_id=run.correlation_id, kpi=kpi, executed_on=DAY, verdict=verdict)
    session.add(row)
    session.commit()
    return row


def test_an_executed_run_is_active_until_its_evidence_is_judged(session: Session) -> None:
    run = _run(session, "executed", executed_on=DAY, explanation={"delay_days": 14})
    _run(session, "silent", play_id="dry")
    active = active_runs(session, run.company_id)
    assert [r.id for r in active] == [run.id], "no evidence logged yet: still under way"
    first = _evidence(session, run, "aov", "moved_up")
    second = _evidence(session, run, "net_revenue", "pending")
    assert [r.id for r in active_runs(session, run.company_id)] == [run.id]
    second.verdict = "no_detectable_change"
    session.add(second)
    session.commit()
    assert active_runs(session, run.company_id) == [] and first.verdict == "moved_up"


def test_a_replay_of_an_older_day_does_not_see_later_runs(session: Session) -> None:
    run = _run(session, "approved")
    assert active_runs(session, run.company_id, DAY) == [run]
    assert active_runs(session, run.company_id, DAY - timedelta(days=1)) == []


def test_a_rejection_holds_until_the_next_weekly_cycle(session: Session) -> None:
    run = _run(session, "rejected")
    week = DAY + REJECTION_HOLD
    for day in (DAY, week - timedelta(days=1)):
        assert "promo" in held_rejections(session, run.company_id, day)
    for day in (DAY - timedelta(days=1), week):
        assert held_rejections(session, run.company_id, day) == {}


def test_without_a_day_the_state_is_seen_on_the_newest_live_cycle_day(session: Session) -> None:
    run = _run(session, "rejected")
    for days, silent in ((1, False), (9, True)):  # a silent cycle of a later week changes nothing
        session.add(CycleRun(company_id=run.company_id, as_of=DAY + timedelta(days=days), silent=silent))
        session.commit()
        assert "promo" in suggest_state(session, run.company_id).rejected
    session.add(CycleRun(company_id=run.company_id, as_of=DAY + REJECTION_HOLD))
    session.commit()
    assert suggest_state(session, run.company_id).rejected == {}


def test_the_cycle_hands_earlier_rejections_to_the_ranking(shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the hold is over, a rejected play may be suggested again: the cycle gives the ranking
    who said no, when and why (``previous_decisions``; the ranking puts it in the play's reason,
    see tests/test_held_back_and_anomaly_reasons.py), so the operator does not re-reject it blind."""
    import agents.cycle_suggest as cycle_suggest

    first = run_cycle(shop, as_of=OLDER)
    rejected = first.pending[0]
    decide(rejected.play_run_id, "reject", who="carol", why="prices raised a month ago")
    seen: list[dict[str, str]] = []
    real = cycle_suggest.suggest_plays

    def spy(*args: Any, **kwargs: Any):
        seen.append(kwargs.get("history") or {})
        return real(*args, **kwargs)

    monkeypatch.setattr(cycle_suggest, "suggest_plays", spy)
    run_cycle(shop, as_of=AS_OF)
    assert seen and "rejected by carol" in seen[-1][rejected.play_id]
    assert "prices raised a month ago" in seen[-1][rejected.play_id]


def test_a_silent_run_leaves_other_runs_evidence_jobs_to_live_work(shop: str) -> None:
    """A dry run (or a replay) does only its own jobs: a live play's evidence job, due by its day,
    stays queued for a live cycle or the worker, which store the judgement."""
    live = run_cycle(shop, as_of=OLDER)
    approved = live.pending[0].play_run_id
    decide(approved, "approve", who="alice")
    with session_scope() as s:
        [evidence] = s.exec(select(Job).where(Job.type == "LOG_EVIDENCE", Job.play_run_id == approved,
                                              Job.status == "queued")).all()
        due = evidence.run_after
    assert due is not None
    run_cycle(shop, as_of=due + timedelta(days=1), silent=True)
    with session_scope() as s:
        assert s.get(Job, evidence.id).status == "queued"
