"""TRAIN_AGENT: re-index the SOP libraries and rebuild each play's record from its evidence.

The record is recomputed from EvidenceRecords every time (never incremented), so running the job
twice changes nothing; the ranking reads it (a play that keeps failing ranks lower) and a play
whose failures since its last review reach the policy's limit goes under review (manual §8.3).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from agents.context import CycleContext
from chimera.db.models import EvidenceRecord, Play, utcnow
from chimera.rhythms import run_outcomes
from chimera.sop.index import refresh


def play_outcomes(session: Session, ctx: CycleContext) -> dict[str, list[tuple[str, str]]]:
    """play_id -> [(correlation_id, "moved" | "failed")] over runs whose evidence is all judged,
    oldest first, by the rule a play's review and the monthly review count (``run_outcomes``)."""
    rows = session.exec(select(EvidenceRecord).where(EvidenceRecord.company_id == ctx.client.company_id)
                        .order_by(EvidenceRecord.executed_on, EvidenceRecord.id)).all()  # type: ignore[arg-type]
    return run_outcomes(list(rows), ctx.client)


def train(session: Session, ctx: CycleContext) -> dict[str, Any]:
    files = refresh()
    limit = ctx.client.configs.plays.policy.review_after_failures
    records: dict[str, dict[str, Any]] = {}
    for play_id, outcomes in play_outcomes(session, ctx).items():
        row = session.exec(select(Play).where(Play.company_id == ctx.client.company_id,
                                              Play.play_id == play_id)).first()
        if row is None:
            row = Play(company_id=ctx.client.company_id, play_id=play_id, record={})
        old = dict(row.record or {})
        failed = sum(1 for _c, o in outcomes if o == "failed")
        reviews = len(old.get("reviews", []))
        baseline = int(old.get("failed_at_last_clear", 0))
        if reviews > int(old.get("reviews_seen", 0)):  # a person cleared it since: count afresh from the clear,
            # keeping the failures the evidence log counted after it (record_verdict, from 0 at the clear)
            baseline = max(0, int(old.get("failed", 0)) - int(old.get("failures_since_review", 0)))
        record = {**old, "runs": len(outcomes), "moved": len(outcomes) - failed, "failed": failed,
                  "failed_at_last_clear": baseline, "reviews_seen": reviews,
                  "failures_since_review": failed - baseline}
        if not row.under_review and failed - baseline >= limit:
            row.under_review = True
            row.review_reason = (f"failed to move its KPIs {failed - baseline} times since its last review; "
                                 "review its evidence, then clear, adjust or retire it")
        row.record, row.updated_at = record, utcnow()
        session.add(row)
        records[play_id] = {k: record[k] for k in ("runs", "moved", "failed")}
    session.flush()
    return {"sop_files": files, "play_records": records}
