"""The cycle as a service for the CLI and the chat: start or resume, decide, list pending.

One LangGraph thread per client cycle (``cycle:<client>:<run_id>``). Re-running the same command
after a crash resumes that thread from its checkpoint; the durable job rows and idempotency keys
make sure no side effect happens twice. A lock per thread serializes two tabs deciding at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from langgraph.types import Command
from sqlmodel import Session, col, select

from agents.bots.base import IrreversibleStep, irreversible_steps
from agents.context import CycleContext
from agents.decisions import apply_decision, same_decision
from agents.jobs import cycle_job
from chimera.as_of import refuse_unreached
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.db.locks import named_lock
from chimera.db.models import Company, CycleRun, Decision, Job, KPIStatus, PlayRun
from chimera.errors import ClientError, DecisionError
from chimera.jobs.cycle_inputs import INPUTS, opening_inputs, reusable_run
from chimera.kpi.evaluate import judged_day
from graphs.checkpoint import checkpointer
from graphs.cycle import DATA_CHECK, build_cycle_graph, data_span
from graphs.models import CycleOutcome, PendingDecision

EventFn = Callable[[dict[str, Any]], None]


@contextmanager
def thread_lock(thread_id: str) -> Iterator[None]:
    """One writer per cycle thread (``named_lock``: a Postgres advisory lock, or a file lock on
    SQLite). Two tabs deciding at once are serialized, never interleaved."""
    with named_lock(thread_id, f"cycle thread {thread_id}"):
        yield


def _replaced(session: Session, run: CycleRun) -> bool:
    """A later cycle of the same or a later day superseded this run's undecided plays: it is not its
    day's open cycle any more, so replaying that day starts afresh (resuming it would only close it,
    every suggestion superseded)."""
    statuses = set(session.exec(select(PlayRun.status).where(PlayRun.run_id == run.id)))
    return "superseded" in statuses and "suggested" not in statuses


def _open_run(client: ClientContext, as_of: date | None, silent: bool) -> CycleRun:
    """The unfinished cycle for this day (resume it), the completed one when nothing it read has
    changed (reuse it: the only completed run it returns), or a new one with its first job queued.

    Without ``as_of`` the cycle judges the day ``chimera kpis`` judges (``judged_day``: the newest day
    with complete data, today without data); INGEST_METRICS moves that day forward when the new
    exports reach further (``summary.as_of_auto``).

    Under the client's cycle lock: a second command at the same time waits, then finds and resumes
    the cycle the first one opened instead of opening another for the same day."""
    with named_lock(f"cycle-open:{client.name}", f"the cycle of {client.name}"):
        return _find_or_open_run(client, as_of, silent)


def _find_or_open_run(client: ClientContext, as_of: date | None, silent: bool) -> CycleRun:
    """A cycle of a day before the newest live cycle's is a replay: it runs as a silent cycle (no
    suggestion to decide, nothing superseded, no evidence stored over a newer judgement) and its
    note says so. Without ``as_of`` the day is only known after ingest: ``suggest_for_cycle``
    holds such a cycle's suggestions back if it ends up judging an older day. A day the stored data
    misses (``outside_data``) opens silent: its ingest decides whether it turns live or is shown,
    not live (``graphs.cycle.settle_data_check``).

    A completed cycle of the day whose inputs are unchanged (``chimera.jobs.cycle_inputs``) is
    returned as it is: a re-run would only write the same result again."""
    auto = as_of is None
    with session_scope() as s:
        if as_of is None:
            as_of = judged_day(s, client)
        newer = None if auto else newer_live_cycle(s, client.company_id, as_of)
        check = not auto and outside_data(s, client.company_id, as_of)
        live_if_data = not silent and newer is None  # live once its ingest reaches the day
        silent = silent or newer is not None or check
        for run in s.exec(select(CycleRun).where(
                CycleRun.company_id == client.company_id, CycleRun.kind == "cycle",
                CycleRun.status.not_in(["completed", "failed"]))):  # type: ignore[attr-defined]
            checking = (run.summary or {}).get(DATA_CHECK) == "live"  # silent until its ingest reaches the day
            kind = live_if_data if checking else run.silent == silent
            if kind and (run.as_of == as_of or (auto and (run.summary or {}).get("as_of_auto"))) \
                    and not _replaced(s, run):
                return run
        later = newer if not auto else newer_live_cycle(s, client.company_id, as_of)
        inputs = opening_inputs(s, client, later.id if later else None)
        same = reusable_run(s, client.company_id, as_of, silent, auto, inputs)
        if same is not None:
            return same
        run = CycleRun(company_id=client.company_id, kind="cycle", as_of=as_of, silent=silent,
                       summary={"as_of_auto": auto, INPUTS: inputs} | (replay_summary(as_of, newer) if newer else {})
                       | ({DATA_CHECK: "live" if live_if_data else "note"} if check else {}))
        run.thread_id = f"cycle:{client.name}:{run.id}"
        s.add(run)
        s.flush()
        if not silent:
            supersede(s, client, run)
        ctx = CycleContext(client=client, as_of=as_of, run_id=run.id, silent=silent)
        cycle_job(s, ctx, "INGEST_METRICS")
        return run


def newer_live_cycle(session: Session, company_id: int, day: date) -> CycleRun | None:
    """The newest live cycle when it judges a day after ``day`` (a cycle of ``day`` is then a
    replay, and its suggestions are history); None when ``day`` is the newest live day or later.
    Silent cycles are dry runs and never count (``chimera.plays.review.newest_cycle_day``)."""
    return session.exec(select(CycleRun).where(
        CycleRun.company_id == company_id, CycleRun.kind == "cycle", col(CycleRun.silent).is_(False),
        CycleRun.as_of > day).order_by(col(CycleRun.as_of).desc(), col(CycleRun.created_at).desc())).first()


def outside_data(session: Session, company_id: int, day: date) -> bool:
    """Whether the stored data misses ``day``: none at all, or it ends before or starts after it.
    Such a cycle opens silent and its ingest settles it (``graphs.cycle.settle_data_check``): a
    cycle of a day after the newest data judges nothing new and must not become the newest live
    cycle, which would turn every later cycle into a replay until the data passes that day."""
    first, last = data_span(session, company_id)
    return last is None or day > last or day < first


def replay_summary(day: date, newer: CycleRun) -> dict[str, Any]:
    """What a replay's report says about itself (``as_of_note`` is shown by every face)."""
    from chimera.plays.review import replay_note

    return {"replay_of": str(newer.as_of), "as_of_note": replay_note(day, newer.as_of, newer.id)}


def supersede(session: Session, client: ClientContext, cycle: CycleRun) -> None:
    """A new live cycle replaces the undecided suggestions of its day and earlier ones (last week's).
    Not a later day's: replaying an older day judges that day and leaves the newer cycle's suggestions
    decidable. Not from a silent cycle: it is a dry run (manual §10.5). Each superseded run keeps
    which cycle replaced it, so a late decision on it can say so.

    A scale still undecided (``chimera play scale``: a person's request, which no trigger suggests
    again) moves into the new cycle instead, still awaiting its decision, with the cycles it passed
    through: superseded, it vanished at the next cycle without a word."""
    from chimera.plays.scale import scaled_from

    for old in session.exec(select(PlayRun).where(
            PlayRun.company_id == client.company_id, PlayRun.status == "suggested", PlayRun.as_of <= cycle.as_of)):
        if old.run_id == cycle.id:
            continue
        if scaled_from(old):
            carried = [*(old.rationale or {}).get("carried_from", []), old.run_id]
            old.rationale = {**(old.rationale or {}), "carried_from": carried}
            old.run_id, old.as_of = cycle.id, cycle.as_of
        else:
            old.status = "superseded"
            old.rationale = {**(old.rationale or {}), "superseded_by": cycle.id}
        session.add(old)


def _after_decision(kind: str, play_run_id: str) -> str:
    """What a person can still do to a decided play: an approved one is paused or reverted, not re-decided."""
    if kind not in ("approve", "override"):
        return ""
    return (f" (to stop it: chimera play pause {play_run_id} --reason R; to undo what it changed: "
            f"chimera play revert {play_run_id} --reason R)")


def _superseded_by(session: Session, run: PlayRun) -> str:
    """Which cycle superseded the run, by its day (the way a person names a cycle). Newer is true of
    it: started later, for the same or a later day (``supersede``)."""
    cycle_id = (run.rationale or {}).get("superseded_by")
    cycle = session.get(CycleRun, cycle_id) if cycle_id else None
    if cycle is None:  # superseded before the superseding cycle was recorded on the run
        return "a newer cycle"
    return f"a newer cycle, the cycle of {cycle.as_of} (cycle run {cycle.id})"


def _drive(ctx: CycleContext, thread_id: str, payload: Any, on_event: EventFn | None) -> None:
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 500}
    # the checkpointer (its one-time setup has its own lock) before the thread's lock: a setup's
    # CREATE INDEX CONCURRENTLY must never wait for a process that waits for this thread's lock
    with checkpointer() as saver, thread_lock(thread_id):
        graph = build_cycle_graph(ctx, saver)
        snapshot = graph.get_state(config)
        if payload is not None and snapshot.interrupts:
            stream_input: Any = Command(resume=payload)
        elif snapshot.next:
            stream_input = None
        else:
            stream_input = {"client": ctx.client.name, "run_id": ctx.run_id, "events": []}
        for update in graph.stream(stream_input, config, stream_mode="updates"):
            for node, value in update.items():
                if on_event and isinstance(value, dict):
                    for event in value.get("events", []) or []:
                        on_event(event)
                if on_event and node == "__interrupt__":
                    on_event({"node": "human_decision", "status": "waiting"})


def run_cycle(client: str, as_of: date | None = None, silent: bool = False, who: str = "cli",
              on_event: EventFn | None = None, allowed: list[str] | None = None) -> CycleOutcome:
    """Run (or resume) the weekly cycle up to the decisions; returns what a person needs to decide.

    An ``as_of`` no timezone has reached (and no data reaches) is refused here, for every face
    (CLI, chat, worker); a day before the newest live cycle's is replayed (``_find_or_open_run``).
    A completed cycle whose inputs are unchanged is returned as it is (``reused``), nothing run."""
    ctx_client = get_client(client, allowed)
    with session_scope() as s:
        refuse_unreached(s, ctx_client.company_id, ctx_client.name, as_of)
    run = _open_run(ctx_client, as_of, silent)
    if run.status == "completed":  # the same inputs as this completed run: nothing to run again
        return outcome(run.id).model_copy(update={"reused": True})
    ctx = CycleContext(client=ctx_client, as_of=run.as_of, run_id=run.id, silent=run.silent, who=who)
    _drive(ctx, run.thread_id, None, on_event)
    return outcome(run.id)


def resume_cycle(run_id: str, on_event: EventFn | None = None) -> CycleOutcome:
    """Continue a cycle that stopped (a crash or a closed tab) from its checkpoint."""
    run, ctx = _context_for_run(run_id)
    _drive(ctx, run.thread_id, None, on_event)
    return outcome(run_id)


def _context_for_run(run_id: str, allowed: list[str] | None = None) -> tuple[CycleRun, CycleContext]:
    with session_scope() as s:
        run = s.get(CycleRun, run_id)
        if run is None:
            raise DecisionError(f"unknown cycle run {run_id!r}")
        company = s.get(Company, run.company_id)
        assert company is not None
    client = get_client(company.name, allowed)
    return run, CycleContext(client=client, as_of=run.as_of, run_id=run.id, silent=run.silent)


def decide(play_run_id: str, kind: str, who: str, why: str = "", params: dict[str, Any] | None = None,
           allowed: list[str] | None = None, on_event: EventFn | None = None) -> CycleOutcome:
    """Record a person's decision on a play run (once) and continue the cycle from its checkpoint."""
    with session_scope() as s:
        play_run = s.get(PlayRun, play_run_id)
        if play_run is None or play_run.run_id is None:
            raise DecisionError(f"unknown play run {play_run_id!r} (see `chimera cycle` output for ids)")
        run_id = play_run.run_id
    run, ctx = _context_for_run(run_id, allowed)
    if run.silent:
        replay = (run.summary or {}).get("replay_of")
        what = f"a replay of {run.as_of} (the newest live cycle is of {replay})" if replay else "a silent cycle"
        raise DecisionError(f"this was {what}: nothing is decided or executed; run a live cycle")
    with thread_lock(run.thread_id), session_scope() as s:
        play_run = s.get(PlayRun, play_run_id)
        assert play_run is not None
        if play_run.status == "superseded":
            raise DecisionError(f"play run {play_run_id} ({play_run.play_id}) was superseded by "
                                f"{_superseded_by(s, play_run)}: it can no longer be decided")
        existing = s.exec(select(Decision).where(Decision.play_run_id == play_run_id)).first()
        if existing is None:
            _refuse_outdated(s, play_run, run)
            apply_decision(s, ctx, play_run, kind, who, why, params)
        elif not same_decision(existing, play_run, kind, who, why, params):
            raise DecisionError(f"play run {play_run_id} ({play_run.play_id}) was already decided: "
                                f"{existing.kind} by {existing.who} ({existing.why or 'no reason given'}); "
                                "a decision is recorded once and not replaced"
                                + _after_decision(existing.kind, play_run_id))
        # the same decision again (a double click, or a re-run after a crash) only resumes the cycle
    answer = {"play_run_id": play_run_id, "kind": kind, "who": who, "why": why, "params": params}
    _drive(ctx, run.thread_id, answer, on_event)
    return outcome(run_id)


def _refuse_outdated(session: Session, play_run: PlayRun, run: CycleRun) -> None:
    """A suggestion of a cycle older than the newest live cycle is history: deciding it would run
    a play dated weeks back (``executed_on`` is its cycle's day) past the cap of the plays under
    way now. A repeat of a decision already recorded still only resumes its cycle."""
    newer = newer_live_cycle(session, run.company_id, run.as_of)
    if newer is not None:
        raise DecisionError(
            f"play run {play_run.id} ({play_run.play_id}) is from the cycle of {run.as_of} (cycle run {run.id}), "
            f"older than the newest live cycle, the cycle of {newer.as_of} (cycle run {newer.id}): "
            "it can no longer be decided; decide that cycle's suggestions")


def pending_decisions(client: str, allowed: list[str] | None = None) -> list[PendingDecision]:
    """Suggested plays still awaiting a person, across this client's unfinished live cycles; not
    those of a cycle older than the newest live one (``decide`` refuses them)."""
    from chimera.plays.review import newest_cycle_day

    ctx = get_client(client, allowed)
    with session_scope() as s:
        newest = newest_cycle_day(s, ctx.company_id)
        runs = s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id,
                                            PlayRun.status == "suggested").order_by(PlayRun.rank)).all()
        decided = {d.play_run_id for d in s.exec(select(Decision).where(Decision.company_id == ctx.company_id))}
        return [PendingDecision.from_run(r, client, ctx.configs) for r in runs
                if r.id not in decided and (newest is None or r.as_of >= newest)]


def irreversible_by_run(result: CycleOutcome) -> dict[str, list[IrreversibleStep]]:
    """Per play run of the cycle (by id), the steps that cannot be undone and why, from the client's
    agents.yml and plays.yml: "not fully reversible" names them before anyone approves."""
    configs = get_client(result.client).configs
    return {p["id"]: irreversible_steps(configs, p["play"]) for p in result.plays}


def outcome(run_id: str) -> CycleOutcome:
    """The cycle's report (DESIGN.md §7 `cycle` JSON plus the pending decisions and narratives)."""
    with session_scope() as s:
        run = s.get(CycleRun, run_id)
        if run is None:
            raise ClientError(f"unknown cycle run {run_id!r}")
        company = s.get(Company, run.company_id)
        kpis = s.exec(select(KPIStatus).where(KPIStatus.run_id == run_id).order_by(KPIStatus.id)).all()
        plays = s.exec(select(PlayRun).where(PlayRun.run_id == run_id).order_by(PlayRun.rank)).all()
        decisions = {d.play_run_id: d for d in s.exec(select(Decision).where(
            Decision.play_run_id.in_([p.id for p in plays])))}  # type: ignore[attr-defined]
        jobs = s.exec(select(Job).where(Job.run_id == run_id).order_by(Job.id)).all()
        return CycleOutcome.build(run, company.name if company else "", kpis, plays, decisions, jobs)


def run_due_jobs(client: str, as_of: date | None = None, on_event: EventFn | None = None) -> dict[str, Any]:
    """The worker's pass for one client: re-queue stuck jobs, resume unfinished cycles that are not
    waiting for a person, and run evidence jobs whose delay is over (``chimera worker``)."""
    from agents.jobs import handler_for
    from chimera.jobs.queue import requeue_stuck

    ctx_client = get_client(client)
    with session_scope() as s:
        refuse_unreached(s, ctx_client.company_id, ctx_client.name, as_of)
        day = as_of or judged_day(s, ctx_client)
        stuck = [j.id for j in requeue_stuck(s, company_id=ctx_client.company_id)]
        open_runs = [r.id for r in s.exec(select(CycleRun).where(
            CycleRun.company_id == ctx_client.company_id, CycleRun.kind == "cycle",
            CycleRun.status.not_in(["completed", "failed"])))]  # type: ignore[attr-defined]
    resumed, failed = [], []
    for run_id in open_runs:
        if not outcome(run_id).pending:
            after = resume_cycle(run_id, on_event)
            resumed.append(run_id)
            if after.status == "failed":
                failed.append({"run_id": run_id, "error": failed_jobs_line(after)})
    done = []
    with session_scope() as s:
        due = s.exec(select(Job).where(Job.company_id == ctx_client.company_id, Job.type == "LOG_EVIDENCE",
                                       Job.status == "queued", Job.run_after <= day)  # type: ignore[operator]
                     .with_for_update(skip_locked=True)).all()  # another worker's due jobs are its own to run
        for job in due:
            ctx = CycleContext(client=ctx_client, as_of=day, run_id=job.run_id or "worker")
            job.result = handler_for(job.type)(s, ctx, job)
            job.status, job.attempts = "succeeded", job.attempts + 1
            s.add(job)
            done.append(job.id)
    return {"client": client, "as_of": day.isoformat(), "stuck_requeued": stuck, "cycles_resumed": resumed,
            "cycles_failed": failed, "evidence_jobs_run": done}


def failed_jobs_line(result: CycleOutcome) -> str:
    """One line for a failed cycle: each failed job with its error (an error's first line only);
    for one whose failed jobs succeeded since, what became of them (``CycleOutcome.resolved``)."""
    if result.resolved and result.resolved.get("text"):
        return str(result.resolved["text"])

    def first_line(error: str) -> str:
        lines = (error or "").strip().splitlines()
        return " ".join(lines[0].split()) if lines else "failed"

    return "; ".join(f"job {j['id']} {j['type']}: {first_line(j.get('error') or '')}" for j in result.jobs
                     if j["status"] == "failed") or "the cycle failed"
