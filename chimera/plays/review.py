"""What holds a play back besides its trigger: review, runs under way, a person's rejection, pause
or revert (the last two in ``holds``).

Plays under review (manual §8.3): a play that keeps failing to move its KPIs stops being suggested
until a person looks at its evidence and clears it. State lives on the ``Play`` table per client.
Runs under way and rejections are read from ``PlayRun`` rows (``suggest_state``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, func, or_, select

from chimera.db.models import CycleRun, Decision, EvidenceRecord, Play, PlayRun, utcnow
from chimera.errors import DecisionError
from chimera.plays.holds import DEFAULT_REVERT_HOLD_DAYS, held_stops, status_on, stopped_on
from chimera.plays.models import SuggestState

ACTIVE_RUN_STATUSES = ("suggested", "approved", "executing", "executed")
"""PlayRun statuses that count against the cap of active plays (manual §8.2); an executed run counts
until its evidence is judged: the play is still under way while its effect is being measured."""
REPLAYED_RUN_STATUSES = (*ACTIVE_RUN_STATUSES, "paused", "reverted", "failed")
"""Statuses a run under way on an earlier day may have now (``runs_under_way_on``)."""
REJECTION_HOLD = timedelta(days=7)
"""A rejected play waits for the next weekly cycle (manual §6.2) before it can be suggested again."""
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


def suggest_state(session: Session, company_id: int, as_of: date | None = None,
                  hold_days: int = DEFAULT_REVERT_HOLD_DAYS) -> SuggestState:
    """Everything ``suggest_plays`` needs from the database for this client, as seen on ``as_of``:
    the cycle's day. Without it, the newest live cycle's day.

    The cap (manual §8.2) counts every run under way now, whatever its day: a live cycle may
    judge a day before a run logged by hand, and that run is active all the same. Only a replay
    (a day before the newest live cycle: nothing it suggests can be decided) sees what was under
    way on its day, so it says what the cycle said then, not the runs of later days."""
    newest = newest_cycle_day(session, company_id)
    day = as_of or newest
    replay = is_replay(day, newest)
    states = play_states(session, company_id)
    active = runs_under_way_on(session, company_id, day) if replay and day else active_runs(session, company_id)
    stops = held_stops(session, company_id, day, replay=replay, hold_days=hold_days)
    return SuggestState(
        under_review={pid: s["review_reason"] for pid, s in states.items() if s["under_review"]},
        active=len(active),
        active_plays=sorted({r.play_id for r in active}),
        under_way={r.play_id: under_way_reason(r, day if replay else None) for r in active},  # newest run wins
        active_kpis=logged_kpis(active),
        rejected=held_rejections(session, company_id, day, replay=replay),
        paused={pid: h.why for pid, h in stops.items() if h.kind == "paused"},
        reverted={pid: h.why for pid, h in stops.items() if h.kind == "reverted"},
        records={pid: {k: s[k] for k in ("runs", "moved", "failed")} for pid, s in states.items()},
    )


def logged_kpis(runs: list[PlayRun]) -> dict[str, list[str]]:
    """play_id -> the KPIs its run is judged on, as logged with the run (newest run wins)."""
    return {r.play_id: list(k) for r in runs if (k := (r.explanation or {}).get("evidence_kpis"))}


def newest_cycle_day(session: Session, company_id: int) -> date | None:
    """The day the newest live cycle judges (silent cycles are dry runs: they never count)."""
    return session.exec(select(func.max(CycleRun.as_of)).where(
        CycleRun.company_id == company_id, CycleRun.kind == "cycle", col(CycleRun.silent).is_(False))).one()


def is_replay(day: date | None, newest: date | None) -> bool:
    """A cycle of a day before the newest live cycle's is a replay of history (DESIGN §7): it shows
    what the cycle says for that day and creates nothing a person can decide."""
    return day is not None and newest is not None and day < newest


def replay_note(day: date, newest: date, newest_run: str | None = None) -> str:
    """What a replay says about itself, on every face (the cycle's ``as_of_note``)."""
    run = f" (cycle run {newest_run})" if newest_run else ""
    return (f"replay of {day}: the newest live cycle is the cycle of {newest}{run}; this shows what the "
            f"cycle says for {day} and creates nothing to decide or execute")


def active_runs(session: Session, company_id: int, day: date | None = None) -> list[PlayRun]:
    """Runs that count against the cap, oldest first: awaiting a decision, approved, executing, or
    executed with evidence not judged yet (none logged, or some ``pending``). With ``day``, only
    runs of that day or before (a replay sees what was under way then; ``suggest_state``).
    A cycle logs evidence as of its day before it suggests, so the records say what was judged then.
    Silent, rejected and superseded runs never count."""
    logged = select(EvidenceRecord.play_run_id).where(
        EvidenceRecord.company_id == company_id, col(EvidenceRecord.play_run_id).is_not(None))
    pending = logged.where(EvidenceRecord.verdict == "pending")
    unjudged = or_(PlayRun.status != "executed", col(PlayRun.id).not_in(logged), col(PlayRun.id).in_(pending))
    query = select(PlayRun).where(
        PlayRun.company_id == company_id, col(PlayRun.status).in_(ACTIVE_RUN_STATUSES), unjudged)
    if day is not None:
        query = query.where(PlayRun.as_of <= day)
    return list(session.exec(query.order_by(col(PlayRun.created_at))))


def runs_under_way_on(session: Session, company_id: int, day: date) -> list[PlayRun]:
    """A replay's view of the cap: runs of the days before ``day`` that were under way on it, oldest
    first. The day's own suggestions (and what people decided on them) came after its cycle; an
    executed run was under way until its evidence fell due (a cycle judges evidence before it
    suggests), whatever has been judged since. A run paused, reverted or failed since was under way
    on ``day`` all the same: its status now is not read, the pause and revert records' days are."""
    runs = session.exec(select(PlayRun).where(
        PlayRun.company_id == company_id, col(PlayRun.status).in_(REPLAYED_RUN_STATUSES), PlayRun.as_of < day,
    ).order_by(col(PlayRun.created_at))).all()
    return [r for r in runs if not stopped_on(r, day) and (r.executed_on is None or _due(r) > day)]


def _due(run: PlayRun) -> date:
    """The day an executed run's evidence is judged: its day plus the delay recorded with it."""
    assert run.executed_on is not None
    delay = (run.explanation or {}).get("delay_days")
    return run.executed_on + timedelta(days=delay if isinstance(delay, int) and delay > 0 else 28)


def under_way_reason(run: PlayRun, day: date | None = None) -> str:
    """Why a play with this active run is not suggested again, in the run's own terms (with ``day``,
    a replay's: the run as it stood that day)."""
    ref = f"(play run {run.id})"
    status = status_on(run, day) if day is not None else run.status
    if status == "failed":
        return f"failed: a step of the run for {run.as_of} {ref} failed (see chimera jobs)"
    if status == "suggested":
        return f"already suggested for {run.as_of} {ref}, awaiting a decision"
    if status == "approved":
        return f"already under way: approved for {run.as_of} {ref}, not executed yet"
    if status == "executing" or run.executed_on is None:
        return f"already under way: executing since {run.as_of} {ref}"
    delay = (run.explanation or {}).get("delay_days")
    due = f" (due {run.executed_on + timedelta(days=delay)})" if run.executed_on and isinstance(delay, int) else ""
    return f"already under way: executed on {run.executed_on} {ref}, its evidence is not judged yet{due}"


def held_rejections(session: Session, company_id: int, day: date | None, replay: bool = False) -> dict[str, str]:
    """play_id -> why, for plays a person rejected that ``day``'s cycle still holds back.

    A rejection holds for ``REJECTION_HOLD`` from the day of the rejected suggestion: re-running
    that day's cycle (or the next day's) does not bring the play back. A cycle of the next week
    suggests it again only if its trigger still fires: the person said no to one week's reading of
    the KPIs, not to the play for ever. A replay of a day before the rejection does not see it, nor
    (``replay``) a rejection of the replayed day's own suggestions: that came after its cycle.
    """
    if day is None:
        return {}
    seen = PlayRun.as_of < day if replay else PlayRun.as_of <= day
    rows = session.exec(select(PlayRun, Decision).join(
        Decision, col(Decision.play_run_id) == PlayRun.id, isouter=True,
    ).where(PlayRun.company_id == company_id, PlayRun.status == "rejected", seen,
            PlayRun.as_of > day - REJECTION_HOLD).order_by(col(PlayRun.created_at))).all()
    return {run.play_id: _rejection_reason(run, decision) for run, decision in rows}


def _rejection_reason(run: PlayRun, decision: Decision | None) -> str:
    who = f" by {decision.who}" if decision else ""
    why = f": {decision.why}" if decision and decision.why else ""
    back = run.as_of + REJECTION_HOLD
    return (f"rejected{who} for {run.as_of} (play run {run.id}){why}; "
            f"suggested again from a cycle of {back} on if its trigger still fires")
