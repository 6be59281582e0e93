"""Pause a play: stop the rest of it, keep what it already changed; resume re-queues what was held.

Why: the weekly review (manual §4.7 "continue / scale / pause specific plays", §6.2 "plays to
continue/stop") needs a stop that is not an undo. ``revert`` applies the inverse of every change;
``pause`` keeps them and only holds the steps not run yet.

How, with no schema change: the run's queued planning and EXECUTE_* jobs go to ``cancelled`` with
an ``error`` saying who held them and how to resume. The cycle's router only takes ``queued`` or
``running`` jobs and a commander node skips a cancelled one, so neither the worker nor the next
cycle runs them; a step already running finishes (its change is kept). Evidence jobs are not held:
what was applied is still measured. Who, why and the day are kept on the run as revert.py keeps
its own (``PlayRun.rationale["pause"]``, then ``["resume"]``; a revert's hold lifted early:
``["revert_resume"]``), the status is ``paused``, and the
play is held back when it triggers again until a person resumes it (``holds``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from chimera.as_of import not_happened, store_zone
from chimera.clients import ClientContext
from chimera.db.engine import session_scope
from chimera.db.models import Job, PlayRun, utcnow
from chimera.errors import DecisionError
from chimera.jobs.queue import SKIPPED_FOR, date_applied
from chimera.plays.holds import (
    PAUSE,
    PAUSE_HISTORY,
    PAUSED,
    RESUME,
    REVERT,
    REVERT_RESUME,
    pause_in_force,
    record,
    revert_resumed,
)
from chimera.plays.revert import applied_changes, on_locked_run

PAUSABLE = ("approved", "executing", "executed", "failed")
"""Runs a person approved: a step may be left to hold (a failed one to re-run on resume), and the play
may be held back from now on."""
HISTORY = PAUSE_HISTORY


class HeldJob(BaseModel):
    """A step of the play: held by the pause, re-queued by the resume, or running when paused."""

    id: int
    type: str
    step: int
    """1-based, as people count (the planner's ``Job.step`` is 0-based)."""
    bot: str
    action: str
    status: str
    error: str = ""
    """Why a failed step failed (a pause holds it; a resume re-runs it), or why a skipped one was not
    applied."""
    skipped_for: int | None = None
    """For a step skipped because an earlier one failed for good: that step's job. A resume re-runs
    the failed step and, once it succeeds, this one (``chimera.jobs.queue.requeue_skipped``)."""


class PauseOutcome(BaseModel):
    """What a pause did, or, for ``already_paused``, what the pause in force recorded."""

    client: str
    play_run_id: str
    play: str
    status: str
    was: str
    """The run's status when it was paused (approved, executing or executed)."""
    on: date
    who: str
    why: str
    at: datetime
    already_paused: bool
    held: list[HeldJob]
    running: list[HeldJob]
    """Steps running when paused: they finish and their changes are kept."""
    kept: int
    """Changes the play had already applied, all kept."""
    cycle_run_id: str | None


class ResumeOutcome(BaseModel):
    """What a resume did: the held steps re-queued (a reverted run only has its hold lifted)."""

    client: str
    play_run_id: str
    play: str
    status: str
    of: str
    """``pause`` or ``revert``: what the resume lifted."""
    on: date
    who: str
    why: str
    at: datetime
    already_resumed: bool
    requeued: list[HeldJob]
    cycle_run_id: str | None


def _today(client: ClientContext) -> date:
    return datetime.now(store_zone(client.config.timezone)).date()


def _held_line(run: PlayRun, rec: dict[str, Any]) -> str:
    return (f"held: play run paused by {rec['who']} on {rec['on']}: {rec['why']} "
            f"(chimera play resume {run.id} --reason R)")


def _steps(session: Session, run: PlayRun, ids: list[int] | None = None) -> list[Job]:
    """The run's planning and execution jobs (evidence jobs are never held), in order."""
    query = select(Job).where(Job.play_run_id == run.id)
    if ids is not None:
        query = query.where(col(Job.id).in_(ids or [-1]))
    jobs = session.exec(query.order_by(col(Job.id))).all()
    return [j for j in jobs if j.type == "PLAN_JOB_QUEUE_FOR_PLAY" or j.type.startswith("EXECUTE_PLAY_")]


def _held_job(job: Job) -> HeldJob:
    assert job.id is not None
    waits = skipped_for(job)
    return HeldJob(id=job.id, type=job.type, step=job.step + 1, bot=job.bot, action=job.action, status=job.status,
                   error=job.error if job.status == "failed" or waits is not None else "", skipped_for=waits)


def skipped_for(job: Job) -> int | None:
    """The failed step's job id a cancelled step was skipped for (None: not skipped, or run since)."""
    found = (job.result or {}).get(SKIPPED_FOR) if job.status == "cancelled" else None
    return int(found) if isinstance(found, int) else None


ERROR_SHOWN = 160
"""Characters of a failed step's error quoted in a sentence (``chimera jobs`` shows it whole)."""


def failed_part(session: Session, run: PlayRun) -> str:
    """Which step of the run failed for good and how many later ones were skipped for it, for the
    weekly review of a run that failed part way ("" when no step is failed)."""
    steps = _steps(session, run)
    failed = sorted((j for j in steps if j.status == "failed" and j.type.startswith("EXECUTE_PLAY_")),
                    key=lambda j: (j.step, j.id or 0))
    if not failed:
        return ""
    first = failed[0]
    error = " ".join((first.error or "").split())
    error = error if len(error) <= ERROR_SHOWN else error[:ERROR_SHOWN - 1] + "…"
    skipped = sum(1 for j in steps if skipped_for(j) == first.id)
    return (f"step {first.step + 1} {first.bot}.{first.action} (job {first.id}) failed for good"
            + (f" ({error})" if error else "")
            + (f" and {skipped} later step(s) skipped for it were not applied" if skipped else ""))


def pause(play_run_id: str, who: str, why: str | None, on: date | None = None) -> PauseOutcome:
    """Pause play run ``play_run_id`` under the client's play-run lock (see the module docstring)."""
    return on_locked_run(play_run_id, why, "paused",
                         lambda session, client, run, reason: pause_play_run(session, client, run, who, reason, on))


def _checked_on(session: Session, client: ClientContext, run: PlayRun, on: date | None, since: date | None,
                what: str) -> date:
    """The day of a pause or resume: ``on`` or today on the store's clock; as ``play revert --on``,
    refused before ``since`` (the run's day, the pause's) or when it has not happened yet."""
    if on is None:
        return _today(client)
    if since is not None and on < since:
        raise DecisionError(f"--on {on} is before {what} of play run {run.id} ({run.play_id}) on {since}: "
                            "pass --on with the day it happened")
    why = not_happened(session, client.company_id, client.name, on, "--on")
    if why:
        raise DecisionError(why)
    return on


def pause_play_run(session: Session, client: ClientContext, run: PlayRun, who: str, why: str,
                   on: date | None = None) -> PauseOutcome:
    """Hold the run's queued steps, record who, why and the day, mark it ``paused``. A run already
    paused changes nothing and returns what its pause recorded."""
    current = pause_in_force(run) if run.status != "reverted" else None  # a revert ended any pause
    if current is None:
        _check_pausable(run)
        day = _checked_on(session, client, run, on, _last_stop_day(run), "the suggestion or last resume")
        current = _record_pause(session, client, run, who, why, day)
        already = False
    else:
        already = True
    held = _steps(session, run, [int(i) for i in current.get("held_jobs") or []])
    running = [j for j in _steps(session, run) if j.status == "running"]
    return PauseOutcome(
        client=client.name, play_run_id=run.id, play=run.play_id, status=run.status, was=str(current["was"]),
        on=date.fromisoformat(current["on"]), who=current["who"], why=current["why"],
        at=datetime.fromisoformat(current["at"]), already_paused=already, held=[_held_job(j) for j in held],
        running=[_held_job(j) for j in running], kept=len(applied_changes(session, run)), cycle_run_id=run.run_id)


def _check_pausable(run: PlayRun) -> None:
    """Only a run a person approved can be paused; what to do instead for the others."""
    if run.status in PAUSABLE:
        return
    instead = {
        "suggested": f": it awaits a decision, reject it instead (chimera reject {run.id} --reason R)",
        "reverted": ": its changes were undone and nothing of it is left to run (chimera play resume "
                    f"{run.id} --reason R lets it be suggested again before its hold ends)",
    }.get(run.status, ": nothing of it is under way")
    raise DecisionError(f"play run {run.id} ({run.play_id}) is {run.status}, not approved, executing or executed; "
                        f"only a play a person approved can be paused{instead}")


def _last_stop_day(run: PlayRun) -> date:
    """A pause is no earlier than the run's day nor than the resume before it."""
    resume = record(run, RESUME)
    return max(run.as_of, date.fromisoformat(str(resume["on"]))) if resume and resume.get("on") else run.as_of


def _record_pause(session: Session, client: ClientContext, run: PlayRun, who: str, why: str,
                  on: date) -> dict[str, Any]:
    """Hold the queued steps (cancelled, saying why) and the failed ones (left failed, their error
    kept: a resume re-runs them), and list the steps skipped for a failed one (left as they are: a
    resume runs them once it succeeds); record who, why, the day and the status it had. A run paused
    after its first steps applied changes is dated as a failed one is (``date_applied``): left
    without an execution day, what they changed stood unmeasured for as long as it was paused."""
    rec: dict[str, Any] = {"on": on.isoformat(), "who": who, "why": why, "at": utcnow().isoformat(),
                           "was": run.status}
    steps = _steps(session, run)
    queued = [j for j in steps if j.status == "queued"]
    for job in queued:
        job.status, job.error, job.updated_at = "cancelled", _held_line(run, rec), utcnow()
        session.add(job)
    rec["held_jobs"] = [j.id for j in steps if j in queued or j.status == "failed" or skipped_for(j) is not None]
    rationale = dict(run.rationale or {})
    if PAUSE in rationale:  # paused and resumed before: keep that pair, newest last
        earlier = {k: rationale.pop(k) for k in (PAUSE, RESUME) if k in rationale}
        rationale[HISTORY] = [*rationale.get(HISTORY, []), earlier]
    run.rationale = {**rationale, PAUSE: rec}
    run.status = PAUSED
    date_applied(session, run, steps)  # what its first steps applied is measured while it is held
    session.add(run)
    session.flush()
    return rec


def resume(play_run_id: str, who: str, why: str | None, on: date | None = None) -> ResumeOutcome:
    """Resume play run ``play_run_id``: re-queue what its pause held, or lift a revert's hold early.
    The caller drives the run's cycle to run what was re-queued (the CLI does, as approve does)."""
    return on_locked_run(play_run_id, why, "resumed",
                         lambda session, client, run, reason: resume_play_run(session, client, run, who, reason, on))


def resume_play_run(session: Session, client: ClientContext, run: PlayRun, who: str, why: str,
                    on: date | None = None) -> ResumeOutcome:
    """Lift the pause (or the revert's hold) once; a second resume changes nothing and returns the
    first resume's record with the held steps still queued (so a crashed run can be driven again)."""
    rec = revert_resumed(run) if run.status == "reverted" else record(run, RESUME)
    already = rec is not None
    if not already:
        rec = _record_resume(session, client, run, who, why, on)
    assert rec is not None
    pause_rec = record(run, PAUSE) if rec["of"] == PAUSE else None
    ids = rec.get("requeued_jobs", (pause_rec or {}).get("held_jobs"))
    held = _steps(session, run, [int(i) for i in ids or []])
    return ResumeOutcome(
        client=client.name, play_run_id=run.id, play=run.play_id, status=run.status, of=rec["of"],
        on=date.fromisoformat(rec["on"]), who=rec["who"], why=rec["why"], at=datetime.fromisoformat(rec["at"]),
        already_resumed=already,
        requeued=[_held_job(j) for j in held if j.status in ("queued", "running") or skipped_for(j) is not None],
        cycle_run_id=run.run_id)


def _record_resume(session: Session, client: ClientContext, run: PlayRun, who: str, why: str,
                   on: date | None) -> dict[str, Any]:
    """Who, why and the day of the resume; the held and failed steps back in the queue (attempts
    reset: a failed step gets its full retries again), the status as before (a failed run's:
    executing, as its steps run again). A step skipped for a failed one stays cancelled until that
    one succeeds (``requeue_skipped``): queued now it could run first, before what it builds on; the
    record lists it with the re-queued ones, as what the resume runs."""
    if run.status == "reverted" and revert_resumed(run) is None:
        of, since = REVERT, record(run, REVERT)
    elif pause_in_force(run) is not None:
        of, since = PAUSE, record(run, PAUSE)
    else:
        raise DecisionError(f"play run {run.id} ({run.play_id}) is {run.status} and not paused or reverted: "
                            "nothing to resume (chimera play pause ID --reason R stops a play; a failed play's "
                            "steps run again when it is paused, then resumed)")
    since_day = date.fromisoformat(str(since["on"])) if since and since.get("on") else None
    day = _checked_on(session, client, run, on, since_day, f"the {of}")
    rec: dict[str, Any] = {"on": day.isoformat(), "who": who, "why": why, "at": utcnow().isoformat(), "of": of}
    if of == PAUSE:
        pause_rec = record(run, PAUSE) or {}
        held = {int(i) for i in pause_rec.get("held_jobs") or []}
        steps = _steps(session, run)
        waiting = [j for j in steps if skipped_for(j) is not None]
        again = [j for j in steps if j.status == "failed" or (j.id in held and j.status == "cancelled"
                                                               and j not in waiting)]
        for job in again:
            job.status, job.error, job.attempts, job.updated_at = "queued", "", 0, utcnow()
            session.add(job)
        rec["requeued_jobs"] = [j.id for j in steps if j in again or j in waiting]
        if run.status in (PAUSED, "failed"):
            was = str(pause_rec.get("was") or "executing")
            planning = any(j.type == "PLAN_JOB_QUEUE_FOR_PLAY" for j in again)
            run.status = "approved" if planning else "executing" if was == "failed" else was
    run.rationale = {**(run.rationale or {}), RESUME if of == PAUSE else REVERT_RESUME: rec}
    session.add(run)
    session.flush()
    return rec


def refreshed(outcome: ResumeOutcome) -> ResumeOutcome:
    """The outcome with the run's and the re-queued steps' states as they are now (after the CLI
    drove the cycle that runs them): status, error and ``skipped_for`` alike, so a step skipped
    again because the step it builds on failed again says so."""
    with session_scope() as session:
        run = session.get(PlayRun, outcome.play_run_id)
        jobs = {j.id: _held_job(j) for j in session.exec(select(Job).where(
            col(Job.id).in_([j.id for j in outcome.requeued] or [-1])))}
        status = run.status if run is not None else outcome.status
    return outcome.model_copy(update={"status": status, "requeued": [jobs.get(j.id, j) for j in outcome.requeued]})
