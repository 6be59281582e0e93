"""The durable job queue (DESIGN.md §5)."""

from chimera.jobs.queue import (
    FINISHED,
    STATUSES,
    await_approval,
    cancel,
    claim_next,
    complete,
    enqueue,
    fail,
    list_jobs,
    release,
    requeue_stuck,
    run_job,
)

__all__ = [
    "FINISHED",
    "STATUSES",
    "await_approval",
    "cancel",
    "claim_next",
    "complete",
    "enqueue",
    "fail",
    "list_jobs",
    "release",
    "requeue_stuck",
    "run_job",
]
