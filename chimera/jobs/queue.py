"""The durable job queue on the ``Job`` table (DESIGN.md §5): enqueue, claim with a lease, finish.

A claim is atomic across processes: on Postgres ``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite a
guarded ``UPDATE ... WHERE status = 'queued'`` whose row count says who won. State transitions
(claim, complete, fail, requeue) commit at once: other workers must see them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, func, select
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from chimera.db.models import AppliedChange, CycleRun, Job, PlayRun, new_id, utcnow
from chimera.errors import ChimeraError, DecisionError, StorageError

STATUSES = ("queued", "running", "awaiting_approval", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")
DEFAULT_LEASE_SECONDS = 300


def _aware(now: datetime | None) -> datetime:
    """Now, or the given time read as UTC when naive (the columns hold aware UTC datetimes)."""
    if now is None:
        return utcnow()
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def enqueue(session: Session, company_id: int, type: str, owner: str, *, params: dict | None = None,
            idempotency_key: str | None = None, correlation_id: str = "", play_run_id: str | None = None,
            bot: str = "", action: str = "", step: int = 0, max_attempts: int = 3,
            run_after: Any = None, status: str = "queued") -> Job:
    """Add a job; with an idempotency key already used, return that job instead of a second one."""
    key = idempotency_key or f"{type}:{new_id()}"
    existing = session.exec(select(Job).where(Job.idempotency_key == key)).first()
    if existing is not None:
        return existing
    job = Job(company_id=company_id, type=type, owner=owner, params=dict(params or {}),
              idempotency_key=key, correlation_id=correlation_id, play_run_id=play_run_id, bot=bot,
              action=action, step=step, max_attempts=max_attempts, run_after=run_after, status=status)
    session.add(job)
    session.commit()
    return job


def _candidates(session: Session, company_id: int, types: Iterable[str] | None, now: datetime,
                lock: bool, limit: int = 20) -> list[int]:
    stmt = select(Job.id).where(
        Job.company_id == company_id, Job.status == "queued",
        or_(Job.run_after.is_(None), Job.run_after <= now.date()),
    )
    if types is not None:
        stmt = stmt.where(Job.type.in_(list(types)))
    stmt = stmt.order_by(Job.id).limit(1 if lock else limit)
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return [int(i) for i in session.exec(stmt).all()]


def _take(session: Session, job_id: int, lease_until: datetime, now: datetime) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", lease_until=lease_until, attempts=Job.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim_next(session: Session, company_id: int, types: Iterable[str] | None = None,
               lease_seconds: int = DEFAULT_LEASE_SECONDS, now: datetime | None = None) -> Job | None:
    """Move the oldest queued job (of ``types``) to running with a lease, attempts + 1; commit.

    Two workers never get the same job. ``None`` when nothing is queued.
    """
    now = _aware(now)
    lease_until = now + timedelta(seconds=lease_seconds)
    postgres = session.get_bind().dialect.name == "postgresql"
    for job_id in _candidates(session, company_id, types, now, lock=postgres):
        if _take(session, job_id, lease_until, now):
            session.commit()
            return session.get(Job, job_id, populate_existing=True)
    session.commit()  # nothing claimed; end the transaction like a claim would (releases nothing held)
    return None


def _session(job: Job, session: Session | None) -> Session:
    found = session or object_session(job)
    if found is None:
        raise StorageError(f"job {job.id} is not attached to a database session")
    return found


def _save(session: Session, job: Job, **values: Any) -> Job:
    for name, value in values.items():
        setattr(job, name, value)
    job.updated_at = utcnow()
    session.add(job)
    session.commit()
    return job


def complete(job: Job, result: dict | None = None, session: Session | None = None) -> Job:
    """Mark a job succeeded with its result (a cancelled job stays cancelled)."""
    session = _session(job, session)
    if job.status == "cancelled":
        return job
    return _save(session, job, status="succeeded", result=dict(result or {}), lease_until=None, error="")


def fail(job: Job, error: str | BaseException, session: Session | None = None, *,
         permanent: bool = False) -> Job:
    """Record an error: back to queued while attempts remain, else (or when permanent) failed."""
    session = _session(job, session)
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    exhausted = permanent or job.attempts >= job.max_attempts
    _save(session, job, status="failed" if exhausted else "queued", error=text, lease_until=None)
    if exhausted and job.play_run_id:
        settle_failed_run(session, job.play_run_id)
        session.commit()
    return job


def is_play_step(job: Job) -> bool:
    """A play's planning or execution job (its evidence jobs are not steps of the play)."""
    return job.type == "PLAN_JOB_QUEUE_FOR_PLAY" or is_execution_step(job)


def is_execution_step(job: Job) -> bool:
    """A step of a play's job plan (``EXECUTE_PLAY_*``): what applies its changes."""
    return job.type.startswith("EXECUTE_PLAY_")


SKIPPED_FOR = "skipped_for"
"""``Job.result`` key of a step cancelled because an earlier step of its play failed for good: that
step's job id. ``requeue_skipped`` puts it back in the queue once that step has run again and succeeded."""


SKIPPED = "skipped:"
"""How the error of a step cancelled because an earlier step failed for good starts (told apart
from a step a person's pause held)."""


def skip_reason(failed: Job) -> str:
    """Why a later step was not applied, naming the step that failed (1-based, as people count)."""
    return (f"{SKIPPED} step {failed.step + 1} {failed.bot}.{failed.action} (job {failed.id}) failed for good "
            "and the play's later steps build on it, so this one was not applied (a pause and a resume of "
            "the play run the failed step again, then this one)")


def skip_after_failure(session: Session, steps: list[Job]) -> list[Job]:
    """Cancel the queued execution steps after the first one that failed for good, each saying why.

    Why they depend on it: the manual makes a triggered play one job queue from its ``job_plan``
    (§4.4), executed and judged by its evidence as one play (§4.5-4.6); plays.yml gives that plan as
    an ordered list whose later steps build on the earlier ones (copy for "the repriced product
    pages", the announcement of the new threshold) and has no way to declare a step independent.
    Applying a later step without the earlier one ships half a play nobody approved, and its evidence
    would judge that as the play. What earlier steps applied is kept: evidence measures it
    (``date_applied``) and a revert undoes it."""
    failed = sorted((j for j in steps if is_execution_step(j) and j.status == "failed"), key=lambda j: (j.step, j.id))
    if not failed:
        return []
    first = failed[0]
    skipped = [j for j in steps if is_execution_step(j) and j.status == "queued" and j.step > first.step]
    for job in skipped:
        job.status, job.error, job.lease_until, job.updated_at = "cancelled", skip_reason(first), None, utcnow()
        job.result = {SKIPPED_FOR: first.id}
        session.add(job)
    return skipped


def requeue_skipped(session: Session, done: Job) -> list[Job]:
    """The steps skipped because ``done`` failed, back in the queue now that it has succeeded (a
    pause and resume re-ran it): the play goes on where it stopped."""
    query = select(Job).where(Job.play_run_id == done.play_run_id, Job.status == "cancelled")
    again = [j for j in session.exec(query.execution_options(populate_existing=True))
             if (j.result or {}).get(SKIPPED_FOR) == done.id]
    for job in again:
        job.status, job.error, job.attempts, job.result, job.updated_at = "queued", "", 0, {}, utcnow()
        session.add(job)
    return again


def settle_failed_run(session: Session, play_run_id: str) -> None:
    """An approved or executing run with a step failed for good: its later steps are skipped
    (``skip_after_failure``) and, once every step has ended, the run is ``failed``: left
    ``executing`` it held a slot under the cap for ever, read as under way, and could be neither
    paused nor reverted (QA). A resume re-queues its failed steps. What its earlier steps applied is
    dated (``date_applied``) so that it is measured like any executed change."""
    run = session.get(PlayRun, play_run_id)
    if run is None or run.status not in ("approved", "executing"):
        return
    query = select(Job).where(Job.play_run_id == play_run_id).execution_options(populate_existing=True)
    steps = [j for j in session.exec(query) if is_play_step(j)]
    skip_after_failure(session, steps)
    if any(j.status == "failed" for j in steps) and all(j.status in FINISHED for j in steps):
        run.status = "failed"
        date_applied(session, run, steps)
        session.add(run)


def date_applied(session: Session, run: PlayRun, steps: list[Job]) -> None:
    """A failed run whose earlier steps applied changes was executed in part: ``executed_on`` is the
    day they took effect (``applied_on``), as for a run whose every step succeeded, so each evidence
    refresh judges what it changed (manual §4.6: evidence of the actions performed; §7: the real
    impact, even of a play that went wrong). A run that applied nothing keeps none: nothing to judge."""
    if run.executed_on is not None:
        return
    ids = [j.id for j in steps if is_execution_step(j)]
    applied = session.exec(select(AppliedChange.job_id).where(col(AppliedChange.job_id).in_(ids or [-1]))
                           .order_by(col(AppliedChange.id))).first()
    if applied is None:
        return
    job = next(j for j in steps if j.id == applied)
    cycle = session.get(CycleRun, job.run_id) if job.run_id else None
    run.executed_on = applied_on(session, run, cycle.as_of if cycle is not None else run.as_of)


def applied_on(session: Session, run: PlayRun, cycle_day: date) -> date:
    """The day the run's first applied change took effect: its cycle's day, or, when a resume ran
    the step that applied it, that resume's day if later (the newest resume recorded before it).
    Dated its cycle's day, a step that failed for good and applied three weeks on at a resume put
    the evidence's after-window three weeks before anything changed, and due that much early."""
    from chimera.plays.holds import pauses

    ids = [j.id for j in session.exec(select(Job).where(Job.play_run_id == run.id)) if is_execution_step(j)]
    first = session.exec(select(func.min(AppliedChange.applied_at)).where(
        col(AppliedChange.job_id).in_(ids or [-1]))).one()
    if first is None:
        return cycle_day
    before = [r for _, r in pauses(run) if r and r.get("on") and r.get("at")
              and datetime.fromisoformat(str(r["at"])) <= _aware(first)]
    latest = max(before, key=lambda r: datetime.fromisoformat(str(r["at"])), default=None)
    return max(cycle_day, date.fromisoformat(str(latest["on"]))) if latest else cycle_day


def cancel(job: Job, why: str = "", session: Session | None = None) -> Job:
    return _save(_session(job, session), job, status="cancelled", error=why, lease_until=None)


def await_approval(job: Job, session: Session | None = None) -> Job:
    """Park a job until a person approves its ChangeSet."""
    return _save(_session(job, session), job, status="awaiting_approval", lease_until=None)


def release(job: Job, session: Session | None = None) -> Job:
    """Put an awaiting or running job back in the queue (e.g. after approval)."""
    return _save(_session(job, session), job, status="queued", lease_until=None)


def requeue_stuck(session: Session, now: datetime | None = None, company_id: int | None = None) -> list[Job]:
    """Running jobs whose lease ran out (a crashed worker) go back to queued; their attempt counts.

    A stuck job with no attempts left is failed instead. Returns every job it touched.
    """
    now = _aware(now)
    stmt = select(Job).where(Job.status == "running", Job.lease_until.is_not(None), Job.lease_until < now)
    if company_id is not None:
        stmt = stmt.where(Job.company_id == company_id)
    touched = []
    for job in session.exec(stmt.order_by(Job.id)).all():
        exhausted = job.attempts >= job.max_attempts
        new_status = "failed" if exhausted else "queued"
        note = f"lease expired at {job.lease_until:%Y-%m-%d %H:%M:%S} after attempt {job.attempts}"
        result = session.execute(
            update(Job).where(Job.id == job.id, Job.status == "running", Job.lease_until < now)
            .values(status=new_status, lease_until=None, error=note, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            touched.append(job.id)
            if exhausted and job.play_run_id:
                settle_failed_run(session, job.play_run_id)
    session.commit()
    return [session.get(Job, i, populate_existing=True) for i in touched]


def list_jobs(session: Session, company_id: int, status: str | None = None) -> list[Job]:
    """A client's jobs, oldest first, as the database has them now."""
    stmt = select(Job).where(Job.company_id == company_id)
    if status:
        stmt = stmt.where(Job.status == status)
    # populate_existing: other workers change jobs; never answer from this session's stale copies
    return list(session.exec(stmt.order_by(Job.id).execution_options(populate_existing=True)).all())


def _transient(exc: BaseException) -> bool:
    return not isinstance(exc, ChimeraError)


def run_job(job_id: int, fn: Callable[[Job], dict | None], session: Session | None = None, *,
            lease_seconds: int = DEFAULT_LEASE_SECONDS, wait_seconds: float = 0.5) -> Job:
    """Run ``fn(job)`` for one job with tenacity retries on transient errors; record every attempt.

    A ChimeraError is a person's problem, not a transient one: the job fails at once. A finished job
    is returned untouched (running it twice does nothing). ``fn`` returns the job's result dict.
    """
    if session is None:
        from chimera.db.engine import session_scope

        with session_scope() as own:
            return run_job(job_id, fn, own, lease_seconds=lease_seconds, wait_seconds=wait_seconds)
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise StorageError(f"no job {job_id}")
    if job.status in FINISHED:
        return job
    if job.status == "awaiting_approval":
        raise DecisionError(f"job {job_id} ({job.type}) is awaiting approval: approve its play run first")
    if job.status == "queued":  # not claimed yet: claim this one job, guarded like claim_next
        now = utcnow()
        won = _take(session, job.id, now + timedelta(seconds=lease_seconds), now)
        session.commit()
        job = session.get(Job, job_id, populate_existing=True)
        if not won:  # another worker got it first
            return job
    tries = [0]

    def attempt() -> dict | None:
        tries[0] += 1
        if tries[0] > 1:  # the claim counted the first attempt; every retry counts one more
            _save(session, job, status="running", attempts=job.attempts + 1,
                  lease_until=utcnow() + timedelta(seconds=lease_seconds))
        return fn(job)

    remaining = max(1, job.max_attempts - job.attempts + 1)
    retrying = Retrying(stop=stop_after_attempt(remaining), retry=retry_if_exception(_transient),
                        wait=wait_exponential(multiplier=wait_seconds, max=30), reraise=True)
    try:
        result = retrying(attempt)
    except Exception as exc:  # a ChimeraError at once, a transient one once retries are spent
        return fail(job, exc, session, permanent=True)
    return complete(job, result or {}, session)
