"""Deterministic job handlers, one per job type (manual §4). Commanders call these; models don't.

Each handler is idempotent: run twice for the same job (a re-run after a crash) it writes the same
rows and applies no side effect twice. Each returns a JSON-able result and enqueues the follow-up
jobs of the weekly pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from agents.bots import BotContext, run_action
from agents.context import CycleContext
from chimera.changesets import ApplyResult, get_adapter, in_force, recorded
from chimera.db.models import CycleRun, Decision, Job, PlayRun
from chimera.errors import DecisionError
from chimera.jobs.queue import FINISHED, applied_on, date_applied, is_execution_step, requeue_skipped
from chimera.jobs.resolved import FAILED_JOBS, note_resolved

Handler = Callable[[Session, CycleContext, Job], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return deco


def handler_for(job_type: str) -> Handler:
    if job_type in HANDLERS:
        return HANDLERS[job_type]
    if job_type.startswith("EXECUTE_PLAY_"):
        return HANDLERS["EXECUTE_PLAY_*"]
    raise KeyError(f"no handler for job type {job_type}")


def cycle_job(session: Session, ctx: CycleContext, job_type: str, **extra: Any) -> Job:
    """Enqueue a pipeline job of this run (idempotent on run and type), owned via ``handles``; a play's
    job no commander handles (PLAN_JOB_QUEUE_FOR_PLAY) goes to the play's owner, as ``enqueue_plan_job``
    does (an owner of "" stopped the cycle with a traceback at the router)."""
    owners = ctx.client.configs.owners_of(job_type)
    play_owner = extra.pop("play_owner", None)
    owner = play_owner if play_owner and (play_owner in owners or not owners) else (owners[0] if owners else "")
    key = f"{ctx.run_id}:{job_type}:{extra.get('play_run_id') or ''}"
    existing = session.exec(select(Job).where(Job.idempotency_key == key)).first()
    if existing is not None:
        return existing
    job = Job(company_id=ctx.client.company_id, type=job_type, owner=owner, idempotency_key=key,
              run_id=ctx.run_id, **extra)
    session.add(job)
    session.flush()
    return job


@handles("INGEST_METRICS")
def ingest_metrics(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    """Every configured export, each in its own transaction. One that is missing or unreadable is
    reported (``failed``) and the others are still ingested: the cycle goes on, and the KPIs that
    source feeds read stale, hence UNKNOWN, with the plays that need them held back (manual §8.1,
    data gaps). Only when no export could be read does the step fail."""
    from chimera.errors import IngestError
    from chimera.ingest import ingest_file

    summaries, failed = [], []
    for src in ctx.client.config.sources:
        path = Path(src.path) if Path(src.path).is_absolute() else ctx.client.folder / src.path
        try:
            summary = ingest_file(ctx.client, path, kind=src.kind)
        except IngestError as exc:
            failed.append({"file": path.name, "kind": src.kind, "error": str(exc)})
            continue
        summaries.append(summary.model_dump(mode="json", exclude={"rejected"})
                         | {"rejected": len(summary.rejected), "file": path.name})
    if failed and not summaries:
        raise IngestError("; ".join(f["error"] for f in failed))
    _follow_newest_data(session, ctx)
    cycle_job(session, ctx, "EVALUATE_KPIS")
    return {"sources": summaries, "as_of": ctx.as_of.isoformat()} | ({"failed": failed} if failed else {})


def _follow_newest_data(session: Session, ctx: CycleContext) -> None:
    """A cycle started without --as-of judges the newest day the exports reach with complete data
    (like `chimera kpis`; a day still in progress at ingest is left out and the summary says so)."""
    from chimera.as_of import default_day

    cycle = session.get(CycleRun, ctx.run_id)
    if cycle is None or not (cycle.summary or {}).get("as_of_auto"):
        return
    newest = default_day(session, ctx.client.company_id, ctx.client.config.timezone)
    if newest.note:
        cycle.summary = {**(cycle.summary or {}), "as_of_note": newest.note}
        session.add(cycle)
    if newest.day and newest.day != ctx.as_of:
        ctx.as_of = cycle.as_of = newest.day
        session.add(cycle)


@handles("EVALUATE_KPIS")
def evaluate(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    from chimera.kpi.evaluate import evaluate_kpis

    report = evaluate_kpis(ctx.client, as_of=ctx.as_of, run_id=ctx.run_id, session=session)
    cycle_job(session, ctx, "LOG_EVIDENCE")
    note = _as_of_note(session, ctx)
    return {"kpis": [k.model_dump(mode="json") for k in report.kpis]} | ({"as_of_note": note} if note else {})


def _as_of_note(session: Session, ctx: CycleContext) -> str:
    """The cycle's as-of note (set by ``_follow_newest_data``): the step's narrative then says why
    its KPIs are of the day before the newest data, as ``chimera kpis`` does."""
    cycle = session.get(CycleRun, ctx.run_id)
    return str((cycle.summary or {}).get("as_of_note", "")) if cycle else ""


@handles("LOG_EVIDENCE")
def log_evidence(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    from chimera.evidence.record import log_evidence as log_one

    runs = session.exec(
        select(PlayRun).where(PlayRun.company_id == ctx.client.company_id, PlayRun.executed_on.is_not(None))  # type: ignore[union-attr]
    ).all()
    if job.play_run_id:
        runs = [r for r in runs if r.id == job.play_run_id]
    records = []
    for run in runs:
        if run.executed_on and run.executed_on <= ctx.as_of:
            records += [r.model_dump(mode="json") for r in log_one(session, ctx.client, run, ctx.as_of)]
    if not job.play_run_id:
        cycle_job(session, ctx, "TRAIN_AGENT")
    return {"evidence": records}


@handles("TRAIN_AGENT")
def train_agent(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    from agents.training import train

    result = train(session, ctx)
    cycle_job(session, ctx, "SUGGEST_PLAYS")
    return result


@handles("SUGGEST_PLAYS")
def suggest(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    from agents.suggest import suggest_for_cycle

    return suggest_for_cycle(session, ctx)


@handles("PLAN_JOB_QUEUE_FOR_PLAY")
def plan(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    from chimera.planner import plan_play_run

    run = session.get(PlayRun, job.play_run_id)
    assert run is not None
    jobs = plan_play_run(session, ctx.client.configs, run, _overrides_per_step(session, ctx, run))
    for j in jobs:
        j.run_id = ctx.run_id
        session.add(j)
    run.status = "executing"
    session.add(run)
    return {"play_run": run.id, "jobs": [{"id": j.id, "type": j.type, "owner": j.owner, "bot": j.bot,
                                          "action": j.action} for j in jobs]}


def _overrides_per_step(session: Session, ctx: CycleContext, run: PlayRun) -> dict[int, dict[str, Any]]:
    """An override's params by step, each key only in the steps that accept it (``params_per_step``)."""
    from agents.decisions import params_per_step

    decision = session.exec(select(Decision).where(Decision.play_run_id == run.id)).first()
    params = (decision and decision.kind == "override" and run.rationale.get("override_params")) or {}
    return params_per_step(ctx.client.configs, run.play_id, params) if params else {}


@handles("EXECUTE_PLAY_*")
def execute(session: Session, ctx: CycleContext, job: Job) -> dict[str, Any]:
    """One step of an approved play: its bot's ChangeSet applied through the adapter, once.

    A play's steps build on each other in job-plan order (``chimera.jobs.queue.skip_after_failure``
    says why), so a step is applied only after every earlier step succeeded. A step applied before
    (a re-run after a crash) reports the ChangeSet recorded then, without asking its bot again: the
    data may have moved, and a ChangeSet built anew would report a change that was never applied."""
    run = session.get(PlayRun, job.play_run_id)
    assert run is not None
    decision = session.exec(select(Decision).where(Decision.play_run_id == run.id)).first()
    if decision is None or decision.kind not in ("approve", "override", "auto_approve"):
        raise PermissionError(f"play run {run.id} has no approval: nothing is executed without a decision")
    result = recorded(session, job.idempotency_key)
    if result is None:
        _check_earlier_steps(session, run, job)
        result = _apply(session, ctx, run, job)
    requeue_skipped(session, job)
    _finish_play_if_done(session, ctx, run, job)
    return {"changeset": result.changeset, "applied": result.applied,
            "adapter": result.adapter, "asset": result.asset_path, "applied_change_id": result.change_id}


def _apply(session: Session, ctx: CycleContext, run: PlayRun, job: Job) -> ApplyResult:
    """The step's ChangeSet from its bot, applied under the step's idempotency key."""
    play = ctx.client.configs.play(run.play_id)
    bctx = BotContext(
        client=ctx.client, bot=job.bot, action=job.action, play_id=play.id, play_label=play.label,
        params=dict(job.params), as_of=ctx.as_of, explanation=run.explanation, sops=list(play.sops),
        prices=in_force(session, ctx.client.company_id, "price"),
    )
    cs = run_action(bctx)
    return get_adapter().apply(session, ctx.client.company_id, ctx.client.name, job.idempotency_key, cs, job.id)


def _check_earlier_steps(session: Session, run: PlayRun, job: Job) -> None:
    """Refuse to apply a step while an earlier step of its play has not succeeded (one failed, was
    skipped or held, or is still to run), naming that step."""
    steps = session.exec(select(Job).where(Job.play_run_id == run.id, Job.step < job.step)
                         .order_by(col(Job.step), col(Job.id))).all()
    waiting = [j for j in steps if is_execution_step(j) and j.status != "succeeded"]
    if waiting:
        first = waiting[0]
        raise DecisionError(
            f"step {job.step + 1} {job.bot}.{job.action} of play run {run.id} ({run.play_id}) was not applied: "
            f"step {first.step + 1} {first.bot}.{first.action} (job {first.id}) is {first.status}, and a play's "
            "steps are applied in order, each after the ones before it succeeded")


def _finish_play_if_done(session: Session, ctx: CycleContext, run: PlayRun, current: Job) -> None:
    steps = session.exec(select(Job).where(Job.play_run_id == run.id, Job.type.startswith("EXECUTE_PLAY_"))).all()  # type: ignore[attr-defined]
    others = [j for j in steps if j.id != current.id]
    if any(j.status == "failed" for j in others) and all(j.status in FINISHED for j in others):
        run.status = "failed"  # another step failed for good: nothing is left to run (settle_failed_run)
        date_applied(session, run, list(steps))
        session.add(run)
        _queue_evidence(session, ctx, run)
    elif all(j.status == "succeeded" for j in others):
        run.status = "executed"
        run.executed_on = run.executed_on or applied_on(session, run, ctx.as_of)
        session.add(run)
        _queue_evidence(session, ctx, run)


def _queue_evidence(session: Session, ctx: CycleContext, run: PlayRun) -> None:
    """The run's LOG_EVIDENCE job, due once the play's delay after ``executed_on`` is over (a run
    that applied nothing has no ``executed_on`` and nothing to judge)."""
    if run.executed_on is None:
        return
    play = ctx.client.configs.play(run.play_id)
    cycle_job(session, ctx, "LOG_EVIDENCE", play_run_id=run.id, correlation_id=run.correlation_id,
              run_after=run.executed_on + timedelta(days=play.evidence.delay_days), play_owner=None)


def _measure_failed_runs(session: Session, ctx: CycleContext) -> None:
    """A failed run of this cycle whose earlier steps applied changes is measured like an executed
    one (``chimera.jobs.queue.date_applied``): its evidence job is queued as the cycle closes (the
    run was settled failed where its step failed, outside any handler)."""
    runs = session.exec(select(PlayRun).where(PlayRun.run_id == ctx.run_id, PlayRun.status == "failed",
                                              col(PlayRun.executed_on).is_not(None))).all()
    for run in runs:
        _queue_evidence(session, ctx, run)


def finish_cycle(session: Session, ctx: CycleContext) -> None:
    """Close the run: ``completed``, or ``failed`` naming the jobs that failed (nothing is hidden).
    A failed run driven again (a resume re-ran its failed play step) stays ``failed`` and records
    which of those jobs succeeded since, when, by whose resume (``chimera.jobs.resolved``)."""
    _measure_failed_runs(session, ctx)
    cycle = session.get(CycleRun, ctx.run_id)
    if cycle is None or cycle.status == "completed":
        return
    if cycle.status == "failed":
        note_resolved(session, cycle)
        return
    failed = session.exec(select(Job).where(Job.run_id == ctx.run_id, Job.status == "failed")).all()
    cycle.status = "failed" if failed else "completed"
    if failed:
        cycle.summary = {**cycle.summary, FAILED_JOBS: [{"id": j.id, "type": j.type, "error": j.error}
                                                        for j in failed]}
    session.add(cycle)
