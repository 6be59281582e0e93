"""Suggest plays: fire triggers, suppress what must not run, rank deterministically, cap.

Ranking follows the manual's priority filter (§8.2): financial impact first, minimal effort wins,
then urgency of the statuses involved and the play's own record. The same inputs always give the
same order (ties fall back to the order of plays.yml).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from chimera.config.loader import ConfigSet
from chimera.config.models import Play, trigger_kpis
from chimera.db.models import Decision, EvidenceRecord, PlayRun
from chimera.plays.holds import REVERT, record, stop_text
from chimera.plays.models import (
    ChangeFn,
    KPIView,
    Suggestions,
    SuggestState,
    SuppressedPlay,
    TriggeredPlay,
    TriggerResult,
    kpi_views,
)
from chimera.plays.trigger import StatusCause, evaluate_trigger, status_causes

FINANCIAL_WEIGHT = 30.0  # > the widest spread of the other terms: financial plays always first
IMPACT_WEIGHT = 3.0
EFFORT_WEIGHT = 2.0
RECORD_WEIGHT = 3.0


def is_reversible(configs: ConfigSet, play: Play) -> bool:
    """Every job-plan action is reversible per its bot in agents.yml (unknown actions are not)."""
    bots = {b.id: {a.name: a for a in b.actions} for b in configs.agents.bots}
    for step in play.job_plan:
        action = bots.get(step.bot, {}).get(step.action)
        if action is None or not action.reversible:
            return False
    return True


def _unknown_kpis(play: Play, views: Mapping[str, KPIView]) -> list[str]:
    needed = dict.fromkeys([*trigger_kpis(play.trigger), *play.kpis])
    return [k for k in needed if (v := views.get(k)) is None or not v.known]


def _unknown_reason(unknown: list[str], views: Mapping[str, KPIView]) -> str:
    parts = []
    for kpi in unknown:
        view = views.get(kpi)
        detail = "not evaluated this cycle" if view is None else (view.note or "no value")
        parts.append(f"{kpi} ({detail})")
    return "depends on UNKNOWN KPI " + ", ".join(parts)


def record_score(record: Mapping[str, int] | None) -> tuple[float, str]:
    """From -RECORD_WEIGHT (always failed) to +RECORD_WEIGHT (always moved); 0 without history."""
    runs = int((record or {}).get("runs", 0))
    if runs <= 0:
        return 0.0, ""
    moved, failed = int(record.get("moved", 0)), int(record.get("failed", 0))
    return RECORD_WEIGHT * (moved - failed) / runs, f"record {moved}/{runs} moved, {failed} failed"


def score_play(play: Play, fired: TriggerResult, record: Mapping[str, int] | None) -> tuple[float, str]:
    """The deterministic score and the text that explains it."""
    rec, rec_text = record_score(record)
    score = (FINANCIAL_WEIGHT * play.financial + IMPACT_WEIGHT * play.impact - EFFORT_WEIGHT * play.effort
             + fired.urgency + rec)
    parts = [f"impact {play.impact}", f"effort {play.effort}"]
    if fired.urgency_label:
        parts.append(fired.urgency_label)
    parts.append("financial" if play.financial else "not financial")
    if rec_text:
        parts.append(rec_text)
    return round(score, 4), ", ".join(parts)


def _reason(fired: TriggerResult, previously: str | None) -> str:
    """Why it fired, then what people decided the last time it was suggested: a play rejected a
    week ago comes back with that decision in view, not as if nobody had said no."""
    reason = "; ".join(fired.clauses)
    return f"{reason}. Previously: {previously}" if previously else reason


def _triggered(configs: ConfigSet, play: Play, fired: TriggerResult, state: SuggestState,
               previously: str | None = None) -> TriggeredPlay:
    score, why = score_play(play, fired, state.records.get(play.id))
    reversible = is_reversible(configs, play)
    return TriggeredPlay(
        play_id=play.id, label=play.label, rank=0, score=score, owner=play.owner,
        reason=_reason(fired, previously), trigger=fired.clauses, kpi_values=fired.kpi_values,
        evidence_kpis=list(play.evidence.kpis), delay_days=play.evidence.delay_days, why_rank=why,
        sops=list(play.sops), reversible=reversible,
        auto_approvable=reversible and play.id in configs.plays.policy.auto_approve,
        financial=play.financial, impact=play.impact, effort=play.effort,
    )


def _suppressed(play: Play, kind: str, reason: str, fired: TriggerResult | None = None) -> SuppressedPlay:
    return SuppressedPlay(play_id=play.id, label=play.label, kind=kind, reason=reason,
                          would_fire=None if fired is None else fired.fired)


def _held_back(play: Play, fired: TriggerResult, state: SuggestState) -> SuppressedPlay | None:
    """Why the play is not suggested whatever its trigger says: under review, a run of it already
    active (it counts against the cap instead), rejected by a person too recently (``review``), or
    paused or reverted by a person (``holds``)."""
    if play.id in state.under_review:
        why = state.under_review[play.id] or "failed to move its KPIs repeatedly"
        return _suppressed(play, "under_review", f"under review: {why}", fired)
    if play.id in state.active_plays:
        why = state.under_way.get(play.id) or "already active (not finished)"
        return _suppressed(play, "already_active", why, fired)
    if play.id in state.rejected:
        return _suppressed(play, "rejected", state.rejected[play.id], fired)
    for kind, held in (("paused", state.paused), ("reverted", state.reverted)):
        if play.id in held:
            return _suppressed(play, kind, held[play.id], fired)
    return None


def _cap_note(cap: int, active: int, active_plays: list[str]) -> str:
    """``over the cap of 3 active plays (3 already active: a, b, c)``: which plays fill the cap."""
    if not active:
        return f"over the cap of {cap} active plays"
    names = f": {', '.join(active_plays)}" if active_plays else ""
    return f"over the cap of {cap} active plays ({active} already active{names})"


def suggest_plays(configs: ConfigSet, kpis: Mapping[str, Any], change_pct: ChangeFn | None,
                  state: SuggestState | Mapping[str, Any] | None = None,
                  history: Mapping[str, str] | None = None, currency: str | None = None) -> Suggestions:
    """Triggered plays, ranked and capped at ``policy.max_active_plays`` minus the active ones.

    The result is a list of the selected plays (rank 1 first); ``.over_cap`` holds the triggered
    plays beyond the cap and ``.suppressed`` the plays held back (UNKNOWN KPI, under review, active,
    rejected), each with its reason. ``history`` (play id -> ``previous_decisions``' text) is added
    to the reason of a play that triggers again after a person said no. ``currency`` (the client's)
    says how money reads in the trigger clauses (whole yen), as ``chimera kpis`` shows it.
    """
    state = SuggestState.model_validate(state or {})
    views = kpi_views(kpis)
    causes: dict[str, StatusCause] = status_causes(kpis)
    history = history or {}
    policy = configs.plays.policy
    candidates: list[tuple[float, int, int, TriggeredPlay]] = []
    suppressed: list[SuppressedPlay] = []
    for index, play in enumerate(configs.plays.plays):
        unknown = _unknown_kpis(play, views)
        if unknown:
            suppressed.append(_suppressed(play, "unknown_kpi", _unknown_reason(unknown, views)))
            continue
        fired = evaluate_trigger(play.trigger, views, change_pct, causes, currency)
        held = _held_back(play, fired, state)
        if held is not None:
            suppressed.append(held)
        elif fired.fired:
            tp = _triggered(configs, play, fired, state, history.get(play.id))
            candidates.append((-tp.score, play.effort, index, tp))
    ranked = [tp for *_, tp in sorted(candidates, key=lambda c: c[:3])]
    active = max(state.active, len(state.active_plays))
    slots = max(0, policy.max_active_plays - active)
    note = _cap_note(policy.max_active_plays, active, state.active_plays)
    selected, over = [], []
    for rank, tp in enumerate(ranked, start=1):
        overlaps = overlap_notes(tp, selected, active_kpis(configs, state))
        update = {"overlaps": overlaps, "why_rank": "; ".join([tp.why_rank, *overlaps])} if overlaps else {}
        if rank <= slots:
            selected.append(tp.model_copy(update={**update, "rank": rank}))
        else:
            over.append(tp.model_copy(update={**update, "rank": rank, "selected": False, "note": note}))
    return Suggestions(selected, over, suppressed, slots=slots, cap=policy.max_active_plays)


def active_kpis(configs: ConfigSet, state: SuggestState) -> dict[str, list[str]]:
    """play_id -> the KPIs each run under way is judged on: as logged with the run, else plays.yml's."""
    out: dict[str, list[str]] = {}
    for play_id in state.active_plays:
        logged = state.active_kpis.get(play_id)
        if logged:
            out[play_id] = list(logged)
        elif (play := next((p for p in configs.plays.plays if p.id == play_id), None)) is not None:
            out[play_id] = list(play.evidence.kpis)
    return out


def overlap_notes(tp: TriggeredPlay, above: list[TriggeredPlay], active: Mapping[str, list[str]]) -> list[str]:
    """Why running ``tp`` now blurs evidence: a play ranked above it this cycle, or a run still under
    way (its evidence not judged yet), judged on one of its KPIs. A before/after without a control
    group cannot split two changes made in the same weeks: both records come back ``confounded``
    (DATA.md, reading-evidence SOP: "schedule them apart"). Said, not held back: a person may still
    run both (a CRITICAL KPI may not wait a month), knowing what the evidence will then say."""
    mine = set(tp.evidence_kpis)
    notes = []
    for play_id, kpis in active.items():
        shared = [k for k in kpis if k in mine]
        if shared and play_id != tp.play_id:
            notes.append(f"judged on {', '.join(shared)} like {play_id}, still under way: run now, neither one's "
                         "evidence can be told apart (both confounded); better after its evidence is judged")
    for other in above:
        shared = [k for k in other.evidence_kpis if k in mine]
        if shared:
            notes.append(f"judged on {', '.join(shared)} like {other.play_id} (rank {other.rank}): approve one of "
                         "them, run together neither one's evidence can be told apart (both confounded)")
    return notes


# --------------------------------------------------------------------------- a rejected play's history


def previous_decisions(session: Session, company_id: int, day: date) -> dict[str, str]:
    """play_id -> the rejection a person made the last time the play was decided (who, when, why)
    or the revert of that run,
    with the verdict of its last executed run, for cycles of ``day``: once the rejection hold is
    over the play may come back, and the operator must see that they said no before (and what the
    play did the last time it ran) rather than re-reject it blind. Only runs of days before ``day``
    count, so a replay of an older day sees what was known then."""
    rows = session.exec(select(PlayRun, Decision).join(Decision, col(Decision.play_run_id) == PlayRun.id).where(
        PlayRun.company_id == company_id, PlayRun.as_of < day,
    ).order_by(col(PlayRun.as_of).desc(), col(PlayRun.created_at).desc())).all()
    newest: dict[str, tuple[PlayRun, Decision]] = {}
    for run, decision in rows:
        newest.setdefault(run.play_id, (run, decision))
    out = {}
    for play_id, (run, decision) in newest.items():
        said = _rejection_text(run, decision) if decision.kind == "reject" else _revert_text(run, day)
        if said:
            verdict = _last_verdict(session, company_id, play_id, day)
            out[play_id] = said + (f"; {verdict}" if verdict else "")
    return out


def _revert_text(run: PlayRun, day: date) -> str:
    """``reverted by bob on 2026-11-01 (...): why`` for a run undone by ``day``, else empty: once its
    hold is over the play may come back, and the person must see it was undone before."""
    rec = record(run, REVERT)
    if run.status != "reverted" or rec is None or str(rec.get("on") or "9999") > day.isoformat():
        return ""
    return stop_text(run, rec, "reverted")


def _rejection_text(run: PlayRun, decision: Decision) -> str:
    why = f": {decision.why}" if decision.why else " (no reason given)"
    return (f"rejected by {decision.who} for the cycle of {run.as_of} "
            f"(decided {decision.at:%Y-%m-%d %H:%M} UTC, play run {run.id}){why}")


def _last_verdict(session: Session, company_id: int, play_id: str, day: date) -> str:
    """``its last run, executed 2026-10-04, was judged confounded on conversion_rate``, or empty."""
    run = session.exec(select(PlayRun).where(
        PlayRun.company_id == company_id, PlayRun.play_id == play_id, PlayRun.as_of < day,
        col(PlayRun.executed_on).is_not(None),
    ).order_by(col(PlayRun.executed_on).desc(), col(PlayRun.created_at).desc())).first()
    if run is None:
        return ""
    records = session.exec(select(EvidenceRecord).where(
        EvidenceRecord.company_id == company_id, EvidenceRecord.play_run_id == run.id,
    ).order_by(col(EvidenceRecord.kpi))).all()
    judged = ", ".join(f"{r.verdict} on {r.kpi}" for r in records) or "not judged yet"
    return f"its last run, executed {run.executed_on}, was judged {judged}"


# --------------------------------------------------------------------------- held back, for people

HELD_KINDS = ("over_cap", "already_active", "rejected", "under_review", "paused", "reverted")
"""Why a play whose trigger fired was not suggested (an UNKNOWN KPI means it did not fire)."""


def held_back(not_selected: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The plays of a SUGGEST_PLAYS result (``not_selected``) that triggered but were held back.

    Entries: ``play``, ``label``, ``kind`` (one of ``HELD_KINDS``), ``why_held`` and ``trigger``
    (the fired clauses, known for plays over the cap). Saying "no play triggered" while three did
    hides why nothing is offered (manual §7.1); plays on an UNKNOWN KPI did not trigger and are left out.
    """
    out = []
    for p in not_selected:
        kind = p.get("kind")
        if kind is None and p.get("selected") is False:  # a TriggeredPlay beyond the cap
            out.append(_held(p, "over_cap", str(p.get("note") or "over the cap of active plays"), p.get("trigger")))
        elif kind in HELD_KINDS and p.get("would_fire"):
            out.append(_held(p, str(kind), str(p.get("reason") or kind), None))
    return out


def _held(p: Mapping[str, Any], kind: str, why: str, trigger: Any) -> dict[str, Any]:
    play = str(p.get("play_id") or p.get("play") or "")
    return {"play": play, "label": str(p.get("label") or play), "kind": kind, "why_held": why,
            "trigger": [str(t) for t in trigger or []]}


def held_back_text(held: list[Mapping[str, Any]]) -> str:
    """``a (over the cap of 3 active plays (3 already active: x, y, z)); b (already under way: ...)``."""
    return "; ".join(f"{h['play']} ({h['why_held']})" for h in held)


__all__ = ["HELD_KINDS", "SuggestState", "held_back", "held_back_text", "is_reversible",
           "previous_decisions", "score_play", "suggest_plays"]
