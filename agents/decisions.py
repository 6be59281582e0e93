"""Recording a decision on a play run: exactly once, with who and why, then the follow-up job."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from agents.context import CycleContext
from chimera.db.models import Decision, PlayRun
from chimera.errors import DecisionError

KINDS = {"approve": "approved", "override": "approved", "auto_approve": "approved", "reject": "rejected"}


def apply_decision(session: Session, ctx: CycleContext, run: PlayRun, kind: str, who: str, why: str,
                   params: dict[str, Any] | None = None) -> Decision:
    """Record the decision (once: a second one is refused) and enqueue planning when approved."""
    from agents.jobs import cycle_job

    if kind not in KINDS:
        raise DecisionError(f"decision {kind!r}: expected one of approve, override, reject")
    if kind in ("override", "reject") and not why.strip():
        raise DecisionError(f"{kind} needs a reason (--reason)")
    if params is not None and not isinstance(params, dict):
        raise DecisionError(f"override params must be a JSON object, got {type(params).__name__}")
    existing = session.exec(select(Decision).where(Decision.play_run_id == run.id)).first()
    if existing is not None:
        raise DecisionError(
            f"play run {run.id} ({run.play_id}) was already decided: {existing.kind} by {existing.who}"
        )
    decision = Decision(company_id=run.company_id, play_run_id=run.id, kind=kind, who=who, why=why,
                        correlation_id=run.correlation_id)
    session.add(decision)
    run.status = KINDS[kind]
    if params:
        run.rationale = {**run.rationale, "override_params": params}
    session.add(run)
    session.flush()
    if run.status == "approved" and not ctx.silent:
        play = ctx.client.configs.play(run.play_id)
        cycle_job(session, ctx, "PLAN_JOB_QUEUE_FOR_PLAY", play_run_id=run.id,
                  correlation_id=run.correlation_id, play_owner=play.owner)
    return decision


def same_decision(existing: Decision, run: PlayRun, kind: str, who: str, why: str,
                  params: dict[str, Any] | None) -> bool:
    """True when a repeated request is the recorded decision itself (a double click, a re-run after a
    crash), so it may only resume the cycle; anything else would be silently dropped."""
    recorded = (run.rationale or {}).get("override_params")
    return (existing.kind, existing.who, existing.why.strip()) == (kind, who, why.strip()) and \
        (recorded or None) == (params or None)
