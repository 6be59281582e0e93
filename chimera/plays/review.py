"""Plays under review (manual §8.3): a play that keeps failing to move its KPIs stops being suggested
until a person looks at its evidence and clears it. State lives on the ``Play`` table per client.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session, func, select

from chimera.db.models import Play, PlayRun, utcnow
from chimera.errors import DecisionError
from chimera.plays.models import SuggestState

ACTIVE_RUN_STATUSES = ("suggested", "approved", "executing")
"""PlayRun statuses that count against the cap of active plays."""
FAILED = {"no_detectable_change", "moved_bad", "failed"}
MOVED = {"moved", "moved_good"}
Outcome = Literal["moved", "failed", "neutral"]


def classify_verdict(verdict: str, direction: str | None = None) -> Outcome:
    """A verdict as moved / failed / neutral; ``moved_up`` / ``moved_down`` need the KPI direction.

    Inconclusive and confounded verdicts are neutral: they say nothing about the play.
    """
    if verdict in FAILED:
        return "failed"
    if verdict in MOVED:
        return "moved"
    if verdict in ("moved_up", "moved_down"):
        if direction is None:
            return "moved"
        good = "moved_up" if direction == "higher_is_better" else "moved_down"
        return "moved" if verdict == good else "failed"
    return "neutral"


def _row(session: Session, company_id: int, play_id: str) -> Play:
    row = session.exec(select(Play).where(Play.company_id == company_id, Play.play_id == play_id)).first()
    if row is None:
        row = Play(company_id=company_id, play_id=play_id, record={})
        session.add(row)
    return row


def record_verdict(session: Session, company_id: int, play_id: str, verdict: str, review_after: int,
                   direction: str | None = None) -> Play:
    """Count one verdict on the play; after ``review_after`` failures since the last clear it goes
    under review with a reason naming the count."""
    row = _row(session, company_id, play_id)
    record: dict[str, Any] = dict(row.record or {})
    outcome = classify_verdict(verdict, direction)
    record["runs"] = int(record.get("runs", 0)) + 1
    record[outcome] = int(record.get(outcome, 0)) + 1
    record.setdefault("moved", 0)
    record.setdefault("failed", 0)
    if outcome == "failed":
        record["failures_since_review"] = int(record.get("failures_since_review", 0)) + 1
    record["verdicts"] = [*record.get("verdicts", []), verdict][-20:]
    if not row.under_review and record.get("failures_since_review", 0) >= review_after:
        row.under_review = True
        row.review_reason = (f"failed to move its KPIs {record['failures_since_review']} times "
                             f"(last verdict: {verdict}); review its evidence, then clear, adjust or retire")
    row.record = record  # a new dict, so the JSON column is seen as changed
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def clear_review(session: Session, company_id: int, play_id: str, who: str, why: str) -> Play:
    """Take a play out of review; who and why are kept in its record."""
    if not why.strip():
        raise DecisionError(f"clearing the review of play {play_id!r} needs a reason (--reason)")
    row = session.exec(select(Play).where(Play.company_id == company_id, Play.play_id == play_id)).first()
    if row is None or not row.under_review:
        raise DecisionError(f"play {play_id!r} is not under review for this client")
    record = dict(row.record or {})
    record["failures_since_review"] = 0
    history = [*record.get("reviews", []),
               {"cleared_by": who, "why": why, "at": utcnow().isoformat(), "reason": row.review_reason}]
    record["reviews"] = history
    row.record = record
    row.under_review = False
    row.review_reason = ""
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def play_states(session: Session, company_id: int) -> dict[str, dict[str, Any]]:
    """play_id -> {under_review, review_reason, runs, moved, failed} for this client."""
    rows = session.exec(select(Play).where(Play.company_id == company_id)).all()
    return {
        r.play_id: {
            "under_review": r.under_review,
            "review_reason": r.review_reason,
            "runs": int((r.record or {}).get("runs", 0)),
            "moved": int((r.record or {}).get("moved", 0)),
            "failed": int((r.record or {}).get("failed", 0)),
        }
        for r in rows
    }


def suggest_state(session: Session, company_id: int) -> SuggestState:
    """Everything ``suggest_plays`` needs from the database for this client."""
    states = play_states(session, company_id)
    active = session.exec(
        select(PlayRun.play_id, func.count()).where(
            PlayRun.company_id == company_id, PlayRun.status.in_(ACTIVE_RUN_STATUSES)
        ).group_by(PlayRun.play_id)
    ).all()
    return SuggestState(
        under_review={pid: s["review_reason"] for pid, s in states.items() if s["under_review"]},
        active=sum(int(n) for _pid, n in active),
        active_plays=sorted(pid for pid, _n in active),
        records={pid: {k: s[k] for k in ("runs", "moved", "failed")} for pid, s in states.items()},
    )
