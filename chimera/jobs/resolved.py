"""A failed cycle whose failed jobs later succeeded says so, and keeps saying it failed.

Why: a cycle closes ``failed`` naming its failed jobs (``CycleRun.summary["failed_jobs"]``). A
failed play step is run again by a pause and a resume (``chimera.plays.pause``), which drives the
same cycle; once the step succeeds and the play completes, the cycle still read ``failed`` with no
word that anything was resolved. The history stays as it was (``status`` ``failed``, the failed
jobs and their errors kept); ``summary["resolved"]`` adds which of them succeeded since, when, and
who resumed them and why (the play run's ``resume`` record), and whether every one did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from chimera.db.models import CycleRun, Job, PlayRun

FAILED_JOBS = "failed_jobs"
"""``CycleRun.summary`` key of the jobs that had failed when the cycle closed (kept as history)."""
RESOLVED = "resolved"
"""``CycleRun.summary`` key of the ``Resolution`` of those jobs, once one of them succeeded."""


class ResolvedJob(BaseModel):
    """A job that failed when the cycle closed and succeeded later."""

    id: int
    type: str
    error: str
    """Why it had failed (as the cycle recorded it)."""
    succeeded_at: datetime
    play_run_id: str | None = None
    play: str = ""
    by: str = ""
    """Who resumed the play run that ran it again ("" when no resume is recorded)."""
    why: str = ""
    resumed_at: datetime | None = None


class Resolution(BaseModel):
    """What became of a failed cycle's failed jobs."""

    jobs: list[ResolvedJob]
    still_failed: list[int]
    """Ids of the failed jobs that have not succeeded since."""
    all: bool
    """Every failed job succeeded since: nothing of the cycle is left failed."""
    at: datetime
    """When the last of ``jobs`` succeeded."""
    by: list[str]
    text: str


def note_resolved(session: Session, cycle: CycleRun) -> Resolution | None:
    """Record on a failed cycle which of its failed jobs succeeded since (None: none did)."""
    listed = {int(f["id"]): f for f in (cycle.summary or {}).get(FAILED_JOBS) or []
              if isinstance(f, dict) and isinstance(f.get("id"), int)}
    jobs = session.exec(select(Job).where(col(Job.id).in_(list(listed) or [-1]))
                        .execution_options(populate_existing=True)).all()
    done = sorted((_resolved_job(session, listed[j.id], j) for j in jobs
                   if j.id is not None and j.status == "succeeded"), key=lambda d: d.id)
    ids = list(listed)
    if not done:
        return None
    still = [i for i in ids if i not in {d.id for d in done}]
    by = sorted({d.by for d in done if d.by})
    resolution = Resolution(jobs=done, still_failed=still, all=not still, at=max(d.succeeded_at for d in done),
                            by=by, text=resolution_text(done, still))
    cycle.summary = {**(cycle.summary or {}), RESOLVED: resolution.model_dump(mode="json")}
    session.add(cycle)
    return resolution


def _resolved_job(session: Session, failed: dict[str, Any], job: Job) -> ResolvedJob:
    run = session.get(PlayRun, job.play_run_id) if job.play_run_id else None
    resume = (run.rationale or {}).get("resume") if run is not None else None
    resume = resume if isinstance(resume, dict) else {}
    assert job.id is not None
    return ResolvedJob(id=job.id, type=job.type, error=str(failed.get("error") or ""), succeeded_at=job.updated_at,
                       play_run_id=job.play_run_id, play=run.play_id if run is not None else "",
                       by=str(resume.get("who") or ""), why=str(resume.get("why") or ""),
                       resumed_at=resume.get("at") or None)


def resolution_text(done: list[ResolvedJob], still: list[int]) -> str:
    """``failed, then resolved: job 7 EXECUTE_PLAY_COMMERCE (RuntimeError: x) succeeded 2026-10-18
    19:27 UTC after bob resumed play run R (pricing_test): API back``; and what is still failed."""
    parts = []
    for d in done:
        who = (f" after {d.by} resumed play run {d.play_run_id} ({d.play})" + (f": {d.why}" if d.why else "")
               if d.by else " when run again")
        parts.append(f"job {d.id} {d.type} ({d.error or 'failed'}) succeeded {_utc(d.succeeded_at)}{who}")
    head = "failed, then resolved: " if not still else "failed, partly resolved: "
    tail = f"; still failed: job(s) {', '.join(str(i) for i in still)}" if still else ""
    return head + "; ".join(parts) + tail


def _utc(at: datetime) -> str:
    return f"{(at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC):%Y-%m-%d %H:%M} UTC"
