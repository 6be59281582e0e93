"""Replays and days that have not happened (QA F3, F8, F10).

A cycle of a day before the newest live cycle's is a replay: it says what the cycle says for that
day and creates nothing a person can decide, resets nothing and stores no evidence over a newer
judgement. A suggestion of an older cycle cannot be decided. An ``--as-of`` no timezone has reached
is refused; evidence never turns days not exported yet into a verdict, and says when it is due.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlmodel import func, select

from chimera.as_of import FURTHEST_AHEAD, not_happened
from chimera.cli import _register
from chimera.cli.app import run
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import CycleRun, EvidenceRecord, MetricPoint, Play, PlayRun
from chimera.errors import ChimeraError, DecisionError
from chimera.evidence import log_evidence, log_manual_play
from chimera.plays.review import active_runs, suggest_state
from graphs.service import decide, pending_decisions, run_cycle
from tests.cycle_fixtures import AS_OF

OLDER = AS_OF - timedelta(days=7)
FUTURE = datetime.now(FURTHEST_AHEAD).date() + timedelta(days=1)
"""The first day no timezone has reached (the generated store ends months before it)."""

_register()


def _company(shop: str) -> int:
    return get_client(shop).company_id


def _statuses(ids: list[str]) -> dict[str, str]:
    with session_scope() as s:
        return {i: s.get(PlayRun, i).status for i in ids}


def _shown(plays: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a cycle says about its plays, without ids and statuses."""
    return [(p["play"], p["rank"], p["score"], p["reason"], p["trigger"]) for p in plays]


# --------------------------------------------------------------------------- F3: replays


def test_a_replay_says_what_the_cycle_said_and_creates_nothing_decidable(shop: str) -> None:
    original = run_cycle(shop, as_of=OLDER)
    approved, *rejected = original.pending
    decide(approved.play_run_id, "approve", who="alice")  # decisions taken after the cycle of OLDER
    for play in rejected:
        decide(play.play_run_id, "reject", who="bob", why="not this week")
    live = run_cycle(shop, as_of=AS_OF)
    live_ids = [p.play_run_id for p in live.pending]
    assert original.pending and live_ids

    replay = run_cycle(shop, as_of=OLDER)

    assert _shown(replay.plays) == _shown(original.plays), "what the cycle said then, not what was decided since"
    assert replay.kpis == original.kpis
    assert replay.pending == [] and replay.status == "completed"
    assert {p["status"] for p in replay.plays} == {"silent"}
    assert f"replay of {OLDER}" in replay.as_of_note and f"cycle of {AS_OF}" in replay.as_of_note
    assert replay.to_json()["as_of_note"] == replay.as_of_note
    assert set(_statuses(live_ids).values()) == {"suggested"}, "the live suggestions are not reset"
    assert [p.play_run_id for p in pending_decisions(shop)] == live_ids
    with pytest.raises(DecisionError, match=f"replay of {OLDER}"):
        decide(replay.plays[0]["id"], "approve", who="alice")


def test_a_suggestion_of_a_cycle_older_than_the_newest_live_one_is_not_decided(shop: str) -> None:
    older = run_cycle(shop, as_of=OLDER)
    with session_scope() as s:  # a newer live cycle that superseded nothing (as the F3 replays left it)
        newer = CycleRun(company_id=_company(shop), kind="cycle", as_of=AS_OF, status="completed")
        s.add(newer)
        s.flush()
        newer_id = newer.id
    play_run = older.pending[0].play_run_id
    for kind, why in (("approve", ""), ("override", "r"), ("reject", "no")):
        with pytest.raises(DecisionError) as err:
            decide(play_run, kind, who="alice", why=why)
        line = str(err.value)
        assert "\n" not in line and f"cycle of {OLDER}" in line
        assert f"the cycle of {AS_OF} (cycle run {newer_id})" in line and "can no longer be decided" in line
    assert _statuses([play_run]) == {play_run: "suggested"}, "nothing recorded, nothing executed"
    assert pending_decisions(shop) == [], "an undecidable suggestion is not listed as pending"


def test_a_replay_stores_no_evidence_over_a_newer_judgement(shop: str) -> None:
    first = run_cycle(shop, as_of=OLDER)
    decide(first.pending[0].play_run_id, "approve", who="alice")
    run_cycle(shop, as_of=AS_OF)  # judges the executed run's evidence as of AS_OF
    with session_scope() as s:
        before = [r.model_dump() for r in s.exec(select(EvidenceRecord).order_by(EvidenceRecord.id))]
        plays = [p.model_dump() for p in s.exec(select(Play).order_by(Play.id))]
    assert before and {r["as_of"] for r in before} == {AS_OF}

    replay = run_cycle(shop, as_of=OLDER + timedelta(days=3))

    with session_scope() as s:
        assert [r.model_dump() for r in s.exec(select(EvidenceRecord).order_by(EvidenceRecord.id))] == before
        assert [p.model_dump() for p in s.exec(select(Play).order_by(Play.id))] == plays
    logged = next(j for j in replay.jobs if j["type"] == "LOG_EVIDENCE" and j["play_run_id"] is None)
    assert logged["status"] == "succeeded", "the replay still computes its day's evidence"


def test_the_cap_counts_runs_under_way_now_whatever_their_day(shop: str) -> None:
    cid = _company(shop)
    with session_scope() as s:
        s.add(CycleRun(company_id=cid, kind="cycle", as_of=OLDER, status="completed"))
        later = PlayRun(company_id=cid, play_id="later_play", as_of=AS_OF, status="approved")
        s.add(later)
        s.flush()
        assert [r.id for r in active_runs(s, cid)] == [later.id]
        live = suggest_state(s, cid, OLDER)
        assert live.active == 1 and live.active_plays == ["later_play"], "a live cycle counts it"
        s.add(CycleRun(company_id=cid, kind="cycle", as_of=AS_OF, status="completed"))
        s.flush()
        replay = suggest_state(s, cid, OLDER)
        assert replay.active == 0, "a replay of an older day sees what was under way then"


# --------------------------------------------------------------------------- F8: days not reached yet


def test_a_cycle_of_a_day_no_timezone_has_reached_is_refused(shop: str) -> None:
    with pytest.raises(ChimeraError) as err:
        run_cycle(shop, as_of=FUTURE)
    line = str(err.value)
    assert f"--as-of {FUTURE} has not happened yet" in line and "UTC+14" in line and "\n" not in line
    with session_scope() as s:
        assert s.exec(select(CycleRun)).all() == [], "nothing opened"


def _cli(*args: str) -> tuple[int, str, str]:
    """The CLI in process, as the executable runs it (``run()``): exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["chimera", *args]), redirect_stdout(out), redirect_stderr(err):
        code = run()
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["cycle", "kpis", "evidence", "monthly", "report"])
def test_every_as_of_refuses_a_day_not_reached(shop: str, tmp_path: Path, command: str) -> None:
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else ["--json"]
    code, stdout, stderr = _cli(command, "--client", shop, "--as-of", FUTURE.isoformat(), *extra)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code != 0 and stdout == ""
    assert len(lines) == 1 and f"--as-of {FUTURE} has not happened yet" in lines[0], stderr
    assert not (tmp_path / "r.html").exists()
    with session_scope() as s:
        assert s.exec(select(CycleRun)).all() == [], "nothing opened"


def test_the_newest_data_day_counts_as_reached(shop: str) -> None:
    """A generated store may be dated after the clock: its own days are not refused."""
    cid = _company(shop)
    ahead = FUTURE + timedelta(days=30)
    with session_scope() as s:
        assert not_happened(s, cid, shop, FUTURE - timedelta(days=1), "--as-of") == ""
        assert "has not happened yet" in not_happened(s, cid, shop, FUTURE, "--as-of")
        s.add(MetricPoint(company_id=cid, metric="orders", day=ahead, source="shopify", value="1"))
        s.flush()
        assert not_happened(s, cid, shop, ahead, "--as-of") == ""
        assert f"{shop}'s newest data ({ahead})" in not_happened(s, cid, shop, ahead + timedelta(days=1), "--as-of")


def _executed(shop: str, days_before_end: int) -> tuple[PlayRun, int]:
    """A play logged by hand ``days_before_end`` before the data ends, and its delay."""
    run_cycle(shop, as_of=AS_OF, silent=True)  # ingests the exports
    ctx = get_client(shop)
    play = next(p for p in ctx.configs.plays.plays if p.evidence.kpis)
    with session_scope() as s:
        run = log_manual_play(s, ctx, play.id, AS_OF - timedelta(days=days_before_end))
        s.expunge(run)
    return run, play.evidence.delay_days


def _log(shop: str, run: PlayRun, as_of: date) -> list[EvidenceRecord]:
    with session_scope() as s:
        rows = log_evidence(s, get_client(shop), s.get(PlayRun, run.id), as_of)
        for r in rows:
            s.expunge(r)
        return rows


def _play_record(shop: str, play_id: str) -> dict[str, Any]:
    with session_scope() as s:
        row = s.exec(select(Play).where(Play.company_id == _company(shop), Play.play_id == play_id)).first()
        return dict(row.record or {}) if row else {}


def test_days_not_exported_yet_leave_evidence_pending(shop: str) -> None:
    run, delay = _executed(shop, 10)
    with session_scope() as s:
        exported = s.exec(select(func.max(MetricPoint.day)).where(MetricPoint.company_id == _company(shop))).one()
    late = exported + timedelta(days=delay + 30)  # the delay is long over, the exports end days before
    rows = _log(shop, run, late)
    assert rows and {r.verdict for r in rows} == {"pending"}, [r.details.get("reason") for r in rows]
    daily = [r for r in rows if "after_window" in (r.details or {})]
    assert daily
    for r in daily:
        assert f"data exported through {exported}, later days not yet" in r.details["reason"]
        assert f"due {run.executed_on + timedelta(days=delay)}" in r.details["reason"]
        assert r.effect_pct is None
    assert _play_record(shop, run.play_id).get("runs", 0) == 0, "nothing counted on the play's record"


def test_on_the_last_day_of_its_window_evidence_says_when_it_is_due(shop: str) -> None:
    run, delay = _executed(shop, 40)
    due = run.executed_on + timedelta(days=delay)
    last = due - timedelta(days=1)
    rows = [r for r in _log(shop, run, last) if "after_window" in (r.details or {})]
    assert rows
    for r in rows:
        assert r.verdict == "pending"
        assert r.details["after_window"][1] == str(last)
        assert f"complete ({delay}/{delay} days seen); judged from {due}" in r.details["reason"]
        assert "not over yet" not in r.details["reason"]
    judged = [r for r in _log(shop, run, due) if "after_window" in (r.details or {})]
    assert all(r.verdict != "pending" for r in judged), [r.details["reason"] for r in judged]
