"""A paused or reverted play is held back when it triggers again, as a rejected one is (``review``).

Why: a person who paused a play (kept its changes, stopped the rest) or reverted it (undid them)
said "not this play now"; suggesting it again next week would ask them the same question blind.

The rule, the simplest a person expects:
- paused: held back until a person resumes it (``chimera play resume``); no clock runs out.
- reverted: held back for the client's ``policy.revert_hold_days`` (plays.yml, default 28: one
  evidence window) from the revert day, or until a person resumes it, whichever comes first.

Records live on the run (``PlayRun.rationale``, as revert.py keeps its own): ``pause`` and, once
lifted, ``resume``; a revert's hold lifted early, ``revert_resume``. A replay of an older day sees only the
pauses, reverts and resumes of its day or before; a live cycle sees them as they stand now.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from chimera.config.models import PlayPolicy
from chimera.db.models import PlayRun

PAUSED = "paused"
PAUSE = "pause"
RESUME = "resume"
REVERT = "revert"
REVERT_RESUME = "revert_resume"
"""The resume that lifted a revert's hold (a pause's resume is ``resume``: a run may have both)."""
PAUSE_HISTORY = "pause_history"
"""Earlier pause/resume pairs of the run, oldest first (a run may be paused again after a resume)."""
PERSON_MARKS = (REVERT, PAUSE, RESUME, REVERT_RESUME, PAUSE_HISTORY)
"""Every ``PlayRun.rationale`` key a person's pause, resume or revert of a run leaves: what a re-run
cycle compares (``chimera.jobs.cycle_inputs``), kept here so a new key cannot be missed there."""
DEFAULT_REVERT_HOLD_DAYS = PlayPolicy().revert_hold_days


def record(run: PlayRun, key: str) -> dict[str, Any] | None:
    """The ``pause`` / ``resume`` / ``revert`` record on the run, or None."""
    found = (run.rationale or {}).get(key)
    return found if isinstance(found, dict) else None


def _day(rec: dict[str, Any] | None) -> date | None:
    return date.fromisoformat(str(rec["on"])) if rec and rec.get("on") else None


def pauses(run: PlayRun) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Every pause of the run with the resume that lifted it (or None), oldest first."""
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for pair in (run.rationale or {}).get(PAUSE_HISTORY) or []:
        if isinstance(pair, dict) and isinstance(pair.get(PAUSE), dict):
            resume = pair.get(RESUME)
            pairs.append((pair[PAUSE], resume if isinstance(resume, dict) else None))
    pause = record(run, PAUSE)
    return [*pairs, (pause, record(run, RESUME))] if pause is not None else pairs


def stopped_on(run: PlayRun, day: date) -> bool:
    """Whether the run was reverted, or paused and not resumed yet, on ``day`` (by the records' days)."""
    reverted = _day(record(run, REVERT))
    if reverted is not None and reverted <= day:
        return True
    return any((_day(p) or date.max) <= day and (r is None or (_day(r) or day) > day) for p, r in pauses(run))


def status_on(run: PlayRun, day: date) -> str:
    """The run's status as it was on ``day``, from the pause and revert records' days: a report of a
    day before the revert says what people saw then, not ``reverted``; a run that failed part way
    (its applied changes dated, ``chimera.jobs.queue.date_applied``) reads ``failed`` before its
    pause or revert, as the record's ``was`` says."""
    reverted = _day(record(run, REVERT))
    if reverted is not None and reverted <= day:
        return "reverted"
    if any((_day(p) or date.max) <= day and (r is None or (_day(r) or day) > day) for p, r in pauses(run)):
        return PAUSED
    if run.status not in (PAUSED, "reverted"):
        return run.status
    if run.executed_on is not None and run.executed_on <= day:
        return "failed" if _was_after(run, day) == "failed" else "executed"
    first = pauses(run)
    return str(first[0][0].get("was") or "executing") if first else "executing"


def _was_after(run: PlayRun, day: date) -> str:
    """The status the run had when it was next stopped after ``day``: the ``was`` of the first pause
    or revert recorded after it ("" when none says): a run that failed part way and was paused or
    reverted later was ``failed`` until then, not ``executed``."""
    stops = [rec for rec, _ in pauses(run)] + ([rec] if (rec := record(run, REVERT)) is not None else [])
    later = sorted((on, str(rec.get("was") or "")) for rec in stops if (on := _day(rec)) is not None and on > day)
    return next((was for _, was in later if was != PAUSED), "")


def stop_record(run: PlayRun, status: str) -> dict[str, Any] | None:
    """The record behind a ``paused`` or ``reverted`` status: the revert, or the newest pause."""
    if status == "reverted":
        return record(run, REVERT)
    found = pauses(run)
    return found[-1][0] if status == PAUSED and found else None


def pause_in_force(run: PlayRun) -> dict[str, Any] | None:
    """The run's pause while no resume lifted it (a step already running when it was paused may have
    finished the run since, so the record is read, not the status)."""
    pause = record(run, PAUSE)
    return None if pause is None or record(run, RESUME) is not None else pause


def revert_resumed(run: PlayRun) -> dict[str, Any] | None:
    """The resume that lifted a reverted run's hold early, or None."""
    return record(run, REVERT_RESUME)


class Hold(BaseModel):
    """Why one play is held back: ``kind`` (paused / reverted) and the sentence people read."""

    kind: str
    why: str


def held_stops(session: Session, company_id: int, day: date | None, replay: bool = False,
               hold_days: int = DEFAULT_REVERT_HOLD_DAYS) -> dict[str, Hold]:
    """play_id -> the hold of its newest paused or reverted run that ``day``'s cycle still honours."""
    if day is None:
        return {}
    runs = session.exec(select(PlayRun).where(
        PlayRun.company_id == company_id,
        col(PlayRun.status).in_((PAUSED, "reverted", "executed", "executing", "failed")),
    ).order_by(col(PlayRun.created_at))).all()
    holds: dict[str, Hold] = {}
    for run in runs:
        hold = _paused_hold(run, day, replay) or _reverted_hold(run, day, replay, hold_days)
        if hold is not None:
            holds[run.play_id] = hold
    return holds


def _paused_hold(run: PlayRun, day: date, replay: bool) -> Hold | None:
    pause, reverted = record(run, PAUSE), _day(record(run, REVERT))
    if pause is None or (reverted is not None and (not replay or reverted <= day)):
        return None  # a revert ends the pause: its own hold applies from then on
    if replay:
        resume = record(run, RESUME)
        lifted = resume is not None and (_day(resume) or day) <= day
        if (_day(pause) or day) > day or lifted:
            return None
    elif pause_in_force(run) is None:
        return None
    return Hold(kind="paused", why=f"{stop_text(run, pause, 'paused')}; held back until a person resumes it "
                                   f"(chimera play resume {run.id} --reason R)")


def _reverted_hold(run: PlayRun, day: date, replay: bool, days: int) -> Hold | None:
    revert = record(run, REVERT)
    on = _day(revert)
    if run.status != "reverted" or revert is None or on is None:
        return None
    until = on + timedelta(days=days)
    resume = revert_resumed(run)
    if day >= until or (replay and (on > day or (resume is not None and (_day(resume) or day) <= day))):
        return None
    if not replay and resume is not None:
        return None
    return Hold(kind="reverted", why=f"{stop_text(run, revert, 'reverted')}; suggested again from a cycle of "
                                     f"{until} on ({days} days after the revert: plays.yml policy.revert_hold_days) "
                                     f"if its trigger still fires, or sooner if a person resumes it "
                                     f"(chimera play resume {run.id} --reason R)")


def stop_text(run: PlayRun, rec: dict[str, Any], verb: str) -> str:
    """``paused by bob on 2026-11-20 (play run X): margin too thin``: who, when, which run, why."""
    at = _at(rec)
    when = f"on {rec.get('on')}" + (f" (recorded {at:%Y-%m-%d %H:%M} UTC)" if at else "")
    return f"{verb} by {rec.get('who') or 'unknown'} {when} (play run {run.id}): {rec.get('why') or 'no reason given'}"


def _at(rec: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(rec["at"])) if rec.get("at") else None
    except ValueError:
        return None


class Stop(BaseModel):
    """A pause or a revert as the weekly review lists it: who, when, why, and whether it still holds."""

    play_run_id: str
    play: str
    kind: str
    """``paused`` or ``reverted``."""
    on: date
    who: str
    why: str
    held_until: date | None = None
    """A reverted play's hold ends then (None: a pause holds until resumed)."""
    in_force: bool
    resumed: dict[str, Any] | None = None
    """``{"who", "why", "on"}`` of the resume that lifted it, if any."""
    held_jobs: list[int] = []


def stopped_runs(session: Session, company_id: int, as_of: date, live: bool = True,
                 hold_days: int = DEFAULT_REVERT_HOLD_DAYS) -> list[Stop]:
    """Every pause and revert, newest first, with whether it holds the play back on ``as_of``.

    ``live`` (a report of the newest data): all of them as they stand now, though a person pauses
    "today", after the newest data day. Otherwise (a report of an older day) only those recorded on
    or before ``as_of``, as a replay sees them."""
    runs = session.exec(select(PlayRun).where(PlayRun.company_id == company_id)).all()
    upto = date.max if live else as_of
    recs = [(run, PAUSE, p, r) for run in runs for p, r in pauses(run)]
    recs += [(run, REVERT, rec, revert_resumed(run)) for run in runs if (rec := record(run, REVERT)) is not None]
    stops = [s for run, key, rec, resume in recs if (s := _stop(run, key, rec, resume, as_of, upto, hold_days))]
    return sorted(stops, key=lambda s: (s.on, s.play_run_id), reverse=True)


def _stop(run: PlayRun, key: str, rec: dict[str, Any], resume: dict[str, Any] | None, as_of: date, upto: date,
          hold_days: int) -> Stop | None:
    on = _day(rec)
    if on is None or on > upto:
        return None
    lifted = resume if resume is not None and (_day(resume) or upto) <= upto else None
    until = on + timedelta(days=hold_days) if key == REVERT else None
    reverted = _day(record(run, REVERT))
    ended = key == PAUSE and reverted is not None and reverted <= upto  # reverted since: its hold applies
    in_force = lifted is None and not ended and (until is None or as_of < until)
    return Stop(play_run_id=run.id, play=run.play_id, kind="paused" if key == PAUSE else "reverted", on=on,
                who=str(rec.get("who") or ""), why=str(rec.get("why") or ""), held_until=until, in_force=in_force,
                resumed={k: lifted.get(k) for k in ("who", "why", "on")} if lifted else None,
                held_jobs=[int(j) for j in rec.get("held_jobs") or []])


def hold_text(s: Stop) -> str:
    """Whether the pause or revert still holds the play back, and until when."""
    if s.resumed:
        return f"no: resumed on {s.resumed.get('on')} by {s.resumed.get('who')} ({s.resumed.get('why')})"
    if not s.in_force:
        return f"no: its hold ended on {s.held_until}" if s.held_until else "no: reverted since"
    return f"yes, until {s.held_until} or a resume" if s.held_until else "yes, until a person resumes it"


def stop_line(s: Stop) -> str:
    """One line per pause or revert for the CLI: who, when, why, and whether it still holds."""
    return f"{s.play} (play run {s.play_run_id}): {s.kind} on {s.on} by {s.who}: {s.why}; held back: {hold_text(s)}"
