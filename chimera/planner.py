"""Plan a play run (PLAN_JOB_QUEUE_FOR_PLAY, manual §4.4): its job_plan becomes typed Job rows.

Owners come from agents.yml ``handles``, so adding a commander that handles a job type changes the
plan with no code change. Planning is idempotent: each step's idempotency key is
``{play_run.id}:{step}:{type}``, so planning twice (after a crash, a resumed graph) adds nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from chimera.config.loader import ConfigSet, suggest
from chimera.config.models import JobStep
from chimera.db.engine import savepoint
from chimera.db.models import Job, PlayRun
from chimera.errors import ConfigError

PLAN_JOB_TYPE = "PLAN_JOB_QUEUE_FOR_PLAY"


def resolve_owner(configs: ConfigSet, job_type: str, preferred: str | None = None) -> str:
    """The commander for ``job_type``: the preferred one (the play's owner) if it handles the type,
    else the first in agents.yml that does."""
    owners = configs.owners_of(job_type)
    if not owners:
        handled = sorted({t for c in configs.agents.commanders for t in c.handles})
        raise ConfigError(f"agents.yml: commanders.handles: no commander handles job type {job_type!r}"
                          f"{suggest(job_type, handled)}; add it to one commander's handles")
    return preferred if preferred in owners else owners[0]


def step_key(play_run_id: str, step: int, job_type: str) -> str:
    return f"{play_run_id}:{step}:{job_type}"


def _insert_once(session: Session, job: Job) -> Job:
    """Insert unless a job with the same idempotency key exists (also under a concurrent planner)."""
    existing = session.exec(select(Job).where(Job.idempotency_key == job.idempotency_key)).first()
    if existing is not None:
        return existing
    try:
        with savepoint(session):
            session.add(job)
    except IntegrityError:
        existing = session.exec(select(Job).where(Job.idempotency_key == job.idempotency_key)).first()
        if existing is None:
            raise
        return existing
    return job


def plan_play_run(session: Session, configs: ConfigSet, play_run: PlayRun,
                  overrides: dict[int, dict[str, Any]] | None = None) -> list[Job]:
    """One queued Job per job_plan step, in step order; existing jobs of this run are returned as is.
    A scaled run's steps take the params its scale recorded (``chimera.plays.scale.step_params``),
    and an override's (``overrides``: step index -> params) over them; the step's description says
    what changed from plays.yml."""
    from chimera.plays.scale import step_params

    play = configs.play(play_run.play_id)
    scaled = step_params(play_run)
    overrides = overrides or {}
    jobs = []
    for index, step in enumerate(play.job_plan):
        changed = {**scaled.get(index, {}), **overrides.get(index, {})}
        how = "overridden" if overrides.get(index) else "scaled"
        job = Job(
            company_id=play_run.company_id,
            play_run_id=play_run.id,
            correlation_id=play_run.correlation_id,
            type=step.type,
            owner=resolve_owner(configs, step.type, play.owner),
            bot=step.bot,
            action=step.action,
            step=index,
            params={**step.params, **changed, **_description(step, changed, how)},
            status="queued",
            idempotency_key=step_key(play_run.id, index, step.type),
        )
        jobs.append(_insert_once(session, job))
    session.flush()
    return jobs


def _description(step: JobStep, changed_params: dict[str, Any], how: str = "scaled") -> dict[str, str]:
    """The step's plays.yml description; a scaled or overridden step's says what changed ("the
    five best sellers" would be wrong for eight): `scaled: count 5 -> 8`, `overridden: count 5 -> 6`."""
    changed = [f"{k} {step.params.get(k)} -> {v}" for k, v in changed_params.items()
               if k != "description" and step.params.get(k) != v]
    if not step.description:
        return {}
    return {"description": step.description + (f" ({how}: {', '.join(changed)})" if changed else "")}


def enqueue_plan_job(session: Session, configs: ConfigSet, play_run: PlayRun) -> Job:
    """The PLAN_JOB_QUEUE_FOR_PLAY job of an approved play run, owned per ``handles`` (play owner
    first); when no commander handles that type the play's owner plans it (manual §4.4)."""
    play = configs.play(play_run.play_id)
    owners = configs.owners_of(PLAN_JOB_TYPE)
    owner = play.owner if (play.owner in owners or not owners) else owners[0]
    job = Job(
        company_id=play_run.company_id, play_run_id=play_run.id, correlation_id=play_run.correlation_id,
        type=PLAN_JOB_TYPE, owner=owner, params={"play_id": play.id}, status="queued",
        idempotency_key=f"{play_run.id}:plan:{PLAN_JOB_TYPE}",
    )
    job = _insert_once(session, job)
    session.flush()
    return job
