"""The weekly cycle as a LangGraph job router (manual §4, DESIGN.md §5).

``router`` picks the run's next job from the durable queue and sends it to the commander node
whose ``handles`` list holds its type (one node per commander in agents.yml: adding a commander
there adds a node). When no job is ready and a suggested play awaits a person, ``human_decision``
pauses the graph with ``interrupt()``; the CLI or the UI resumes it with ``Command(resume=...)``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from sqlalchemy import or_
from sqlmodel import Session, func, select
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from agents.bots.base import irreversible_steps
from agents.commander import Commander, build_commanders
from agents.context import CycleContext
from agents.decisions import apply_decision
from agents.jobs import finish_cycle, handler_for
from agents.llm_commander import save_usage
from chimera.db.engine import session_scope
from chimera.db.models import CycleRun, Decision, Job, MetricPoint, PlayRun
from chimera.errors import ChimeraError
from chimera.jobs.cycle_inputs import mark_finished
from chimera.jobs.queue import settle_failed_run
from graphs.state import CycleState

HUMAN = "human_decision"
LEASE = timedelta(minutes=10)


def fault_point(name: str) -> None:
    """Crash-test hook: ``CHIMERA_FAULT=<point>`` SIGKILLs this process there (tests prove re-runs
    finish the cycle with no side effect twice). Unset in normal use: does nothing."""
    if os.environ.get("CHIMERA_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def node_name(commander_id: str) -> str:
    return commander_id


def next_job(session: Session, ctx: CycleContext) -> Job | None:
    """Oldest unfinished job of this run that is due, or a due evidence job from an earlier run. A
    silent run (a dry run, or a replay of an older day) takes only its own jobs: another run's
    evidence job is live work, for a live cycle or the worker to do."""
    due = or_(Job.run_after.is_(None), Job.run_after <= ctx.as_of)  # type: ignore[union-attr,operator]
    mine = Job.run_id == ctx.run_id if ctx.silent else or_(Job.run_id == ctx.run_id, Job.type == "LOG_EVIDENCE")
    return session.exec(
        select(Job).where(Job.company_id == ctx.client.company_id, Job.status.in_(["queued", "running"]),  # type: ignore[attr-defined]
                          due, mine).order_by(Job.id)
    ).first()


def undecided(session: Session, ctx: CycleContext) -> list[PlayRun]:
    runs = session.exec(select(PlayRun).where(PlayRun.run_id == ctx.run_id, PlayRun.status == "suggested")
                        .order_by(PlayRun.rank)).all()
    decided = {d.play_run_id for d in session.exec(select(Decision).where(
        Decision.play_run_id.in_([r.id for r in runs])))}  # type: ignore[attr-defined]
    return [r for r in runs if r.id not in decided]


DATA_CHECK = "data_check"
"""``CycleRun.summary`` key of a cycle whose explicit day the stored data missed when it opened
(``graphs.service.outside_data``): ``"live"`` when it turns live if its ingest reaches the day,
``"note"`` when it stays silent anyway (``--silent``, a replay) and only says why."""


def settle_data_check(session: Session, ctx: CycleContext) -> None:
    """Once the cycle's ingest ended, decide a pending data check: a day the data now covers turns
    the cycle live (and it supersedes older suggestions then, not before); a day after the newest
    data stays shown, not live, and one before the first data day is judged with a note saying so."""
    from graphs.service import supersede

    run = session.get(CycleRun, ctx.run_id)
    check = (run.summary or {}).get(DATA_CHECK) if run is not None else None
    if run is None or check is None:
        return
    if session.exec(select(Job).where(Job.run_id == ctx.run_id, Job.type == "INGEST_METRICS",
                                      Job.status.in_(["queued", "running"]))).first():  # type: ignore[attr-defined]
        return
    first, last = data_span(session, ctx.client.company_id)
    summary = {k: v for k, v in (run.summary or {}).items() if k != DATA_CHECK}
    note = data_note(ctx.as_of, first, last)
    if note and "replay_of" not in summary:
        summary["as_of_note"] = note
    if last is not None and ctx.as_of <= last:
        if check == "live":
            run.silent = ctx.silent = False
            supersede(session, ctx.client, run)
    else:
        summary["no_new_data"] = str(last) if last else None
    run.summary = summary
    session.add(run)
    session.flush()


def data_span(session: Session, company_id: int) -> tuple[date | None, date | None]:
    """The first and the newest day with any stored metric of the client (None, None: no data)."""
    first, last = session.exec(select(func.min(MetricPoint.day), func.max(MetricPoint.day)).where(
        MetricPoint.company_id == company_id)).one()
    return first, last


def data_note(day: date, first: date | None, last: date | None) -> str:
    """Why a cycle of ``day`` judges no data, or "" when the data covers it."""
    if last is None:
        return f"no data: a cycle of {day} judges no data; it is shown, not live"
    if day > last:
        return f"data ends {last}: a cycle of {day} judges no new data; it is shown, not live"
    if first is not None and day < first:
        return f"data starts {first}: a cycle of {day} judges days before any data, so its KPIs are UNKNOWN"
    return ""


def routed_owner(session: Session, ctx: CycleContext, job: Job) -> str:
    """The job's owner when agents.yml still has that commander; else, the commander that handles its
    type now (the play's owner first, who also plans a play no commander's handles name), stored on the
    job. A job queued with no owner, or for a commander since removed, stopped the cycle with a
    traceback at every re-run; a type no commander handles is one clear line naming agents.yml."""
    from chimera.planner import resolve_owner

    configs = ctx.client.configs
    if job.owner in {c.id for c in configs.agents.commanders}:
        return job.owner
    run = session.get(PlayRun, job.play_run_id) if job.play_run_id else None
    play_owner = configs.play(run.play_id).owner if run and run.play_id in {p.id for p in configs.plays.plays} \
        else None
    if play_owner and not configs.owners_of(job.type) and job.type == "PLAN_JOB_QUEUE_FOR_PLAY":
        job.owner = play_owner
    else:
        job.owner = resolve_owner(configs, job.type, play_owner)
    session.add(job)
    return job.owner


def make_router(ctx_of: Callable[[CycleState], CycleContext]) -> Callable[[CycleState], dict[str, Any]]:
    def router(state: CycleState) -> dict[str, Any]:
        ctx = ctx_of(state)
        with session_scope() as s:
            settle_data_check(s, ctx)
            job = next_job(s, ctx)
            if job is not None:
                return {"job_id": job.id, "next": routed_owner(s, ctx, job)}
            if not ctx.silent and undecided(s, ctx):
                return {"job_id": None, "next": HUMAN}
            mark_finished(s, ctx.run_id)  # what a re-run compares to reuse this run (cycle_inputs)
            finish_cycle(s, ctx)
        return {"job_id": None, "next": END}

    return router


def make_commander_node(cmd: Commander, ctx_of: Callable[[CycleState], CycleContext]):
    def node(state: CycleState) -> dict[str, Any]:
        ctx = ctx_of(state)
        job_id = state["job_id"]
        with session_scope() as s:  # locked: a worker running this job now is waited for, then seen done
            job = s.get(Job, job_id, with_for_update=True)
            if job is None or job.status in ("succeeded", "failed", "cancelled"):
                return {}
            job.status, job.attempts = "running", job.attempts + 1
            job.lease_until = datetime.now(UTC) + LEASE
            s.add(job)
        try:
            event = _run_with_retries(cmd, ctx, job_id)
        except Exception as exc:  # recorded on the job; the cycle goes on
            with session_scope() as s:
                job = s.get(Job, job_id)
                job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
                s.add(job)
                if job.play_run_id:  # its play's last step: the run is failed, so it can be paused or reverted
                    s.flush()
                    settle_failed_run(s, job.play_run_id)
            event = {"node": cmd.id, "job": job_id, "type": job.type, "status": "failed", "error": job.error}
        return {"events": [event]}

    node.__name__ = cmd.id
    return node


def _run_with_retries(cmd: Commander, ctx: CycleContext, job_id: int) -> dict[str, Any]:
    """Run the job's handler and record its result in one transaction; transient errors retry."""
    retrying = Retrying(
        stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.05, max=1), reraise=True,
        retry=retry_if_not_exception_type((ChimeraError, PermissionError, AssertionError, KeyError)),
    )
    return retrying(_run_once, cmd, ctx, job_id)


def _run_once(cmd: Commander, ctx: CycleContext, job_id: int) -> dict[str, Any]:
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        result = handler_for(job.type)(s, ctx, job)
        narrative = cmd.narrate(ctx, job, result)
        save_usage(s, ctx)
        job.result = {**result, "narrative": narrative.model_dump(mode="json")}
        job.status, job.lease_until, job.error = "succeeded", None, ""
        job.updated_at = datetime.now(UTC)
        s.add(job)
        s.flush()
        fault_point(f"before_commit:{job.type}")
        event = {"node": cmd.id, "job": job.id, "type": job.type, "status": "succeeded",
                 "play_run_id": job.play_run_id, "narrative": narrative.model_dump(mode="json")}
    fault_point(f"after_commit:{event['type']}")
    return event


def make_human_node(ctx_of: Callable[[CycleState], CycleContext]):
    def human_decision(state: CycleState) -> dict[str, Any]:
        ctx = ctx_of(state)
        with session_scope() as s:  # read only before the interrupt: this node re-runs on resume
            pending = undecided(s, ctx)
            if not pending:
                return {}
            first = pending[0]
            steps = irreversible_steps(ctx.client.configs, first.play_id)  # what approving cannot take back
            payload = {"play_run_id": first.id, "play": first.play_id, "rank": first.rank,
                       "pending": [r.id for r in pending], "explanation": first.explanation,
                       "irreversible_steps": [s.model_dump() for s in steps]}
        answer = interrupt(payload) or {}
        with session_scope() as s:
            run = s.get(PlayRun, answer.get("play_run_id") or first.id)
            if run is not None and run.run_id == ctx.run_id and s.exec(
                select(Decision).where(Decision.play_run_id == run.id)
            ).first() is None:
                apply_decision(s, ctx, run, answer.get("kind", "reject"), answer.get("who", "unknown"),
                               answer.get("why", ""), answer.get("params"))
        return {"events": [{"node": HUMAN, "play_run_id": answer.get("play_run_id"),
                            "decision": answer.get("kind"), "who": answer.get("who")}]}

    return human_decision


def build_cycle_graph(ctx: CycleContext, checkpointer: BaseCheckpointSaver | None = None):
    """Compile the cycle graph for this client's agents.yml (nodes generated from the commanders)."""
    commanders = build_commanders(ctx.client.configs)

    def ctx_of(_state: CycleState) -> CycleContext:
        return ctx

    graph = StateGraph(CycleState)
    graph.add_node("router", make_router(ctx_of))
    for cmd in commanders:
        graph.add_node(node_name(cmd.id), make_commander_node(cmd, ctx_of))
        graph.add_edge(node_name(cmd.id), "router")
    graph.add_node(HUMAN, make_human_node(ctx_of))
    graph.add_edge(HUMAN, "router")
    graph.add_edge(START, "router")
    targets = {c.id: node_name(c.id) for c in commanders} | {HUMAN: HUMAN, END: END}
    graph.add_conditional_edges("router", lambda s: s.get("next", END), targets)
    return graph.compile(checkpointer=checkpointer)
