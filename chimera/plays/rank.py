"""Suggest plays: fire triggers, suppress what must not run, rank deterministically, cap.

Ranking follows the manual's priority filter (§8.2): financial impact first, minimal effort wins,
then urgency of the statuses involved and the play's own record. The same inputs always give the
same order (ties fall back to the order of plays.yml).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chimera.config.loader import ConfigSet
from chimera.config.models import Play, trigger_kpis
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
from chimera.plays.trigger import evaluate_trigger

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


def _triggered(configs: ConfigSet, play: Play, fired: TriggerResult, state: SuggestState) -> TriggeredPlay:
    score, why = score_play(play, fired, state.records.get(play.id))
    reversible = is_reversible(configs, play)
    return TriggeredPlay(
        play_id=play.id, label=play.label, rank=0, score=score, owner=play.owner,
        reason="; ".join(fired.clauses), trigger=fired.clauses, kpi_values=fired.kpi_values,
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
    active (it counts against the cap instead), or rejected by a person too recently (``review``)."""
    if play.id in state.under_review:
        why = state.under_review[play.id] or "failed to move its KPIs repeatedly"
        return _suppressed(play, "under_review", f"under review: {why}", fired)
    if play.id in state.active_plays:
        why = state.under_way.get(play.id) or "already active (not finished)"
        return _suppressed(play, "already_active", why, fired)
    if play.id in state.rejected:
        return _suppressed(play, "rejected", state.rejected[play.id], fired)
    return None


def suggest_plays(configs: ConfigSet, kpis: Mapping[str, Any], change_pct: ChangeFn | None,
                  state: SuggestState | Mapping[str, Any] | None = None) -> Suggestions:
    """Triggered plays, ranked and capped at ``policy.max_active_plays`` minus the active ones.

    The result is a list of the selected plays (rank 1 first); ``.over_cap`` holds the triggered
    plays beyond the cap and ``.suppressed`` the plays held back (UNKNOWN KPI, under review, active,
    rejected), each with its reason.
    """
    state = SuggestState.model_validate(state or {})
    views = kpi_views(kpis)
    policy = configs.plays.policy
    candidates: list[tuple[float, int, int, TriggeredPlay]] = []
    suppressed: list[SuppressedPlay] = []
    for index, play in enumerate(configs.plays.plays):
        unknown = _unknown_kpis(play, views)
        if unknown:
            suppressed.append(_suppressed(play, "unknown_kpi", _unknown_reason(unknown, views)))
            continue
        fired = evaluate_trigger(play.trigger, views, change_pct)
        held = _held_back(play, fired, state)
        if held is not None:
            suppressed.append(held)
        elif fired.fired:
            tp = _triggered(configs, play, fired, state)
            candidates.append((-tp.score, play.effort, index, tp))
    ranked = [tp for *_, tp in sorted(candidates, key=lambda c: c[:3])]
    active = max(state.active, len(state.active_plays))
    slots = max(0, policy.max_active_plays - active)
    note = f"over the cap of {policy.max_active_plays} active plays" + (
        f" ({active} already active)" if active else "")
    selected, over = [], []
    for rank, tp in enumerate(ranked, start=1):
        if rank <= slots:
            selected.append(tp.model_copy(update={"rank": rank}))
        else:
            over.append(tp.model_copy(update={"rank": rank, "selected": False, "note": note}))
    return Suggestions(selected, over, suppressed, slots=slots, cap=policy.max_active_plays)


__all__ = ["SuggestState", "is_reversible", "score_play", "suggest_plays"]
