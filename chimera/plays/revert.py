"""Undo an executed play: each reversible change its bots applied gets an inverse ChangeSet, applied
through the adapter that applied the original; what cannot be undone is listed for a person.

Why: plays are labelled reversible and the manual asks for safe, reversible actions, for plays to
continue or stop each week (§4.7, §6.2), and that a person can override anything, with who and why
recorded (§7). Bots only ever produced ChangeSets with before/after (DESIGN.md §5), so the undo is
the same path run backwards: ``chimera.changesets.inverse`` under the key ``revert:<original key>``,
which makes a second revert apply nothing twice.

Where the record lives: ``Decision`` holds one row per play run (``play_run_id`` is unique) and the
approval already fills it, so a revert row would need a schema change. The revert is kept on the run
instead, as ``superseded_by`` is: ``PlayRun.rationale["revert"] = {"on", "who", "why", "at", "keys",
"by_hand", "was"}`` (``was``: the status it had, executed, failed or paused) and the status
``reverted``. ``reverted_on`` reads the day back: from it on, nothing the play's KPIs do is the
play's (the evidence judge ends the after-window the day before).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from chimera.as_of import not_happened, store_zone
from chimera.changesets import ADAPTERS, Change, ChangeSet, aware, inverse, revert_key
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.db.locks import named_lock
from chimera.db.models import AppliedChange, Company, Job, PlayRun, utcnow
from chimera.errors import DecisionError

STATUS = "reverted"
RECORD = "revert"
"""The key of the revert's record in ``PlayRun.rationale``."""


class RevertedChange(BaseModel):
    """One change undone: the inverse ChangeSet applied (or found applied before: ``applied`` False)."""

    key: str
    reverts: str
    bot: str
    action: str
    summary: str
    applied: bool
    adapter: str
    asset: str
    changes: list[Change]


class ByHand(BaseModel):
    """A change Chimera cannot undo (not reversible, or run by hand): a person must."""

    key: str
    bot: str
    action: str
    summary: str
    why: str
    changes: list[Change]
    asset: str


class RevertOutcome(BaseModel):
    """What a revert did, or, for ``already_reverted``, what the first revert recorded."""

    client: str
    play_run_id: str
    play: str
    status: str
    executed_on: date | None
    """None for a run that applied nothing (a run paused or failed part way is dated the day its
    first change took effect: ``chimera.jobs.queue.date_applied``)."""
    reverted_on: date
    who: str
    why: str
    at: datetime
    already_reverted: bool
    reverted: list[RevertedChange]
    by_hand: list[ByHand]


def reverted_on(run: PlayRun) -> date | None:
    """The day a person undid this run (None when it was not reverted): the first day whose KPIs
    are no longer the play's doing. For the evidence judge and the cap of active plays."""
    record = (run.rationale or {}).get(RECORD)
    if not isinstance(record, dict) or not record.get("on"):
        return None
    return date.fromisoformat(str(record["on"]))


def revert(play_run_id: str, who: str, why: str | None, on: date | None = None) -> RevertOutcome:
    """Revert play run ``play_run_id`` (see ``revert_play_run``), under the client's revert lock so
    two reverts at once apply each undo once and record one revert."""
    return on_locked_run(play_run_id, why, "reverted",
                         lambda session, client, run, reason: revert_play_run(session, client, run, who, reason, on))


T = TypeVar("T")


def on_locked_run(play_run_id: str, why: str | None, done: str,
                  act: Callable[[Session, ClientContext, PlayRun, str], T]) -> T:
    """``act(session, client, run, reason)`` on the run, under the client's play-run lock, in one
    transaction: a revert, pause or resume (``done``: its past tense) needs a reason and records once."""
    reason = required_reason(why, done)
    client = client_of_run(play_run_id)
    with play_runs_lock(client), session_scope() as session:
        run = session.get(PlayRun, play_run_id)
        assert run is not None  # client_of_run found it; runs are never deleted
        return act(session, client, run, reason)


def play_runs_lock(client: ClientContext) -> AbstractContextManager[None]:
    """One revert, pause or resume of a client's play runs at a time: each records once."""
    return named_lock(f"play-revert:{client.name}", f"the play runs of {client.name}")


def revert_play_run(session: Session, client: ClientContext, run: PlayRun, who: str, why: str,
                    on: date | None = None) -> RevertOutcome:
    """Undo an executed run: apply the inverse of each reversible change, list the rest as work
    for a person, record who, why and the day, and mark the run ``reverted``. A run already
    reverted applies nothing again and returns what the first revert recorded."""
    already = run.status == STATUS
    if not already:
        on = _checked_day(session, client, run, on)
    rows = applied_changes(session, run)
    if not already:
        conflicts = (_changed_later(session, run, row) for row in rows if not _blocker(row))
        conflict = next((c for c in conflicts if c), "")
        if conflict:
            raise DecisionError(f"play run {run.id} ({run.play_id}) cannot be reverted yet: {conflict}; nothing was "
                                "recorded")
    reverted, by_hand = [], []
    for row in newest_first(rows):
        blocker = _blocker(row)
        if blocker:
            by_hand.append(_by_hand(row, blocker))
        else:
            reverted.append(_undo(session, client, row))
    until = reverted_on(run) if already else on
    by_hand += _run_by_hand(run) + _logged_later(session, client, run, reverted, until)
    if not already:
        _record(session, run, who, why, on, reverted, by_hand)
    return _outcome(client, run, already, reverted, by_hand)


def required_reason(why: str | None, done: str) -> str:
    """A revert or a pause stops a play a person approved: the reason is what the next reader asks for."""
    if why is None or not why.strip():
        raise DecisionError(f"--reason is required: say why the play is {done} (recorded with who)")
    return why.strip()


def client_of_run(play_run_id: str) -> ClientContext:
    """The client a play run belongs to (ids are unique across clients), or one clear error."""
    with session_scope() as session:
        run = session.get(PlayRun, play_run_id)
        company = session.get(Company, run.company_id) if run is not None else None
        if run is None or company is None:
            raise DecisionError(f"unknown play run {play_run_id!r} (see `chimera cycle` or `chimera jobs` "
                                "output for ids)")
        name = company.name
    return get_client(name)


def _checked_day(session: Session, client: ClientContext, run: PlayRun, on: date | None) -> date:
    """The revert day: ``on``, or today on the store's clock; refused unless the run is executed (or
    paused, or failed: what its steps applied is undone, the held or failed steps stay so) and the day
    lies between its execution and today (a revert is a fact, not a plan)."""
    if not (run.status == "executed" and run.executed_on is not None) and run.status not in ("paused", "failed"):
        raise DecisionError(f"play run {run.id} ({run.play_id}) is {run.status}, not executed: only an executed "
                            f"play can be reverted{_instead(run.status)}")
    option = "--on" if on is not None else "today"
    day = on if on is not None else datetime.now(store_zone(client.config.timezone)).date()
    if run.executed_on is not None and day < run.executed_on:
        raise DecisionError(f"{option} {day} is before play run {run.id} ({run.play_id}) was executed "
                            f"({run.executed_on}): pass --on with the day it is undone")
    why = not_happened(session, client.company_id, client.name, day, "--on")
    if why:
        raise DecisionError(why)
    return day


def _instead(status: str) -> str:
    """What to do instead, for the statuses a person most often reverts by mistake."""
    return {
        "suggested": " (reject it instead: chimera reject ID --reason R)",
        "approved": " (it has not run yet)",
        "executing": " (its jobs are still running: see chimera jobs, then revert)",
    }.get(status, "")


def applied_changes(session: Session, run: PlayRun) -> list[AppliedChange]:
    """The changes the run's jobs applied, in job-plan order (undo rows excluded: they hang on no job)."""
    jobs = session.exec(select(Job).where(Job.play_run_id == run.id)).all()
    steps = {j.id: (j.step, j.id or 0) for j in jobs}
    if not steps:
        return []
    rows = session.exec(select(AppliedChange).where(col(AppliedChange.job_id).in_(list(steps)))).all()
    return sorted(rows, key=lambda r: steps[r.job_id])


def newest_first(rows: list[AppliedChange]) -> list[AppliedChange]:
    """The order an undo takes: the change applied last is undone first, so a field two steps
    changed (10 -> 11, then 11 -> 12) ends at the value before the play, not between them."""
    return sorted(rows, key=lambda r: (aware(r.applied_at), r.id or 0), reverse=True)


def _blocker(row: AppliedChange) -> str:
    """Why this applied change cannot be undone automatically ("" when it can)."""
    if not row.reversible:
        return "not reversible (agents.yml)"
    if row.adapter not in ADAPTERS:
        return f"applied by the adapter {row.adapter!r}, which is not installed here"
    if _changeset(row) is None:
        return "its recorded ChangeSet cannot be read"
    return ""


IN_FORCE = ("executing", "executed", "paused", "failed")  # runs whose applied changes still stand


def _changed_later(session: Session, run: PlayRun, row: AppliedChange) -> str:
    """Why ``row`` cannot be undone now, when another run still in force changed one of its targets
    after it ("" when none did): putting back ``row``'s before values would overwrite that run's
    change (a scaled price test re-prices the products the original raised). Reverted newest first,
    each run puts back what the one before it left."""
    mine = _changeset(row)
    touched = {(c.target, c.field) for c in (mine.changes if mine else [])}
    if not touched:
        return ""
    later = session.exec(select(AppliedChange).where(
        AppliedChange.company_id == row.company_id, col(AppliedChange.job_id).is_not(None),
        AppliedChange.applied_at >= row.applied_at, AppliedChange.id != row.id)).all()
    for other in sorted(later, key=lambda r: (r.applied_at, r.id or 0)):
        job = session.get(Job, other.job_id)
        owner = session.get(PlayRun, job.play_run_id) if job is not None and job.play_run_id else None
        theirs = _changeset(other)
        if owner is None or owner.id == run.id or owner.status not in IN_FORCE or theirs is None:
            continue
        shared = sorted(touched & {(c.target, c.field) for c in theirs.changes})
        if shared:
            what = ", ".join(f"{t} {f}" for t, f in shared[:3]) + (f" and {len(shared) - 3} more" if len(shared) > 3
                                                                 else "")
            return (f"play run {owner.id} ({owner.play_id}, {owner.status}) changed {what} again later: putting "
                    f"the before values back would overwrite its change; revert that run first "
                    f"(chimera play revert {owner.id} --reason R), then this one")
    return ""


def _changeset(row: AppliedChange) -> ChangeSet | None:
    return _readable(row.changeset)


def _readable(data: Any) -> ChangeSet | None:
    """A recorded ChangeSet's JSON read back (None when it no longer reads as one)."""
    try:
        return ChangeSet.model_validate(data)
    except ValidationError:
        return None


def _undo(session: Session, client: ClientContext, row: AppliedChange) -> RevertedChange:
    """Apply the inverse of ``row`` through its own adapter; a second call applies nothing and
    reports the undo as it was recorded then (``ApplyResult.changeset``), not one built anew: the
    inverse of an older record may be built differently now (a price table's cells escaped since).
    A brief for a person (no before/after recorded) gets a sheet asking to undo what was done with it."""
    original = _changeset(row)
    assert original is not None  # _blocker checked it
    key = revert_key(row.idempotency_key)
    built = inverse(original, row.idempotency_key)
    result = ADAPTERS[row.adapter].apply(session, client.company_id, client.name, key, built, None)
    undo = (_readable(result.changeset) if result.changeset else None) or built
    return RevertedChange(key=key, reverts=row.idempotency_key, bot=undo.bot, action=undo.action,
                          summary=undo.summary, applied=result.applied, adapter=result.adapter,
                          asset=result.asset_path, changes=undo.changes)


def _by_hand(row: AppliedChange, why: str) -> ByHand:
    """What the change was, so a person can undo it: its summary, fields and asset."""
    original = _changeset(row)
    return ByHand(key=row.idempotency_key, bot=row.bot, action=row.action,
                  summary=original.summary if original else "", why=why,
                  changes=original.changes if original else [], asset=row.asset_path)


def _run_by_hand(run: PlayRun) -> list[ByHand]:
    """A play a person ran by hand (``chimera play log``): Chimera applied nothing to undo."""
    if run.source != "manual":
        return []
    note = str((run.explanation or {}).get("note") or "")
    return [ByHand(key="", bot="", action="", summary=f"{run.play_id} run by hand on {run.executed_on}"
                   + (f": {note}" if note else ""),
                   why="run by hand and logged: Chimera applied nothing; undo by hand what was done",
                   changes=[], asset="")]


def _logged_later(session: Session, client: ClientContext, run: PlayRun, reverted: list[RevertedChange],
                  until: date | None) -> list[ByHand]:
    """Runs logged by hand (``chimera play log``) from this run's day to the revert's, still in force, of a
    play whose plan has a step like one this revert undoes (``shopify_bot.update_prices``): what a
    person did by hand is recorded nowhere as before/after, so the undo may put back a value that
    run changed since. The refusal of ``_changed_later`` needs the targets, which are unknown
    here; said to the person applying the undo instead of overwriting that change silently."""
    undone = {(r.bot, r.action) for r in reverted if r.changes}
    if not undone or run.executed_on is None:
        return []
    later = session.exec(select(PlayRun).where(
        PlayRun.company_id == run.company_id, PlayRun.id != run.id, PlayRun.source == "manual",
        col(PlayRun.status).in_(IN_FORCE), col(PlayRun.executed_on) >= run.executed_on,
        col(PlayRun.executed_on) <= (until or date.max))).all()
    plays = {p.id: p for p in client.configs.plays.plays}
    out = []
    for other in sorted(later, key=lambda r: (r.executed_on or run.executed_on, r.id)):
        play = plays.get(other.play_id)
        same = sorted({f"{s.bot}.{s.action}" for s in (play.job_plan if play else []) if (s.bot, s.action) in undone})
        if same:
            out.append(ByHand(
                key="", bot="", action="", changes=[], asset="",
                summary=f"check what {other.play_id} (play run {other.id}, run by hand on {other.executed_on}) "
                        f"changed before applying this undo",
                why=f"it ran after this run and its plan has {', '.join(same)} too; what it changed by hand is "
                    "not recorded, so set back only the values it did not change since"))
    return out


def _record(session: Session, run: PlayRun, who: str, why: str, on: date, reverted: list[RevertedChange],
            by_hand: list[ByHand]) -> None:
    """Who, why and the day on the run itself (see the module docstring), and the status."""
    record: dict[str, Any] = {"on": on.isoformat(), "who": who, "why": why, "at": utcnow().isoformat(),
                              "keys": [r.key for r in reverted], "by_hand": [b.key for b in by_hand if b.key],
                              "was": run.status}
    run.rationale = {**(run.rationale or {}), RECORD: record}
    run.status = STATUS
    session.add(run)
    session.flush()


def _outcome(client: ClientContext, run: PlayRun, already: bool, reverted: list[RevertedChange],
             by_hand: list[ByHand]) -> RevertOutcome:
    record = (run.rationale or {})[RECORD]
    return RevertOutcome(
        client=client.name, play_run_id=run.id, play=run.play_id, status=run.status, executed_on=run.executed_on,
        reverted_on=date.fromisoformat(record["on"]), who=record["who"], why=record["why"],
        at=datetime.fromisoformat(record["at"]), already_reverted=already, reverted=reverted, by_hand=by_hand,
    )
