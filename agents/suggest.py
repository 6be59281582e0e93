"""SUGGEST_PLAYS for one cycle: triggered, ranked, explained plays become PlayRun rows.

Idempotent per (cycle run, play): a re-run after a crash finds the rows it already wrote.
Auto-approval follows the client's policy (only fully reversible plays) and is recorded as a
Decision by "policy", so the audit trail says who decided, even when nobody clicked.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from agents.context import CycleContext
from chimera.db.models import Decision, PlayRun


def kpi_results(session: Session, ctx: CycleContext) -> list[Any]:
    """The cycle's KPI results (recomputed deterministically when not cached: same inputs, same output)."""
    if "kpis" not in ctx.cache:
        from chimera.kpi.evaluate import evaluate_kpis

        ctx.cache["kpis"] = evaluate_kpis(ctx.client, as_of=ctx.as_of, session=session, store=False).kpis
    return ctx.cache["kpis"]


def suggest_for_cycle(session: Session, ctx: CycleContext) -> dict[str, Any]:
    from agents.cycle_suggest import triggered_plays

    existing = {r.play_id: r for r in session.exec(select(PlayRun).where(PlayRun.run_id == ctx.run_id))}
    selected, others = triggered_plays(session, ctx, kpi_results(session, ctx), 0)
    dry = ctx.silent or _replayed(session, ctx)
    runs: list[PlayRun] = []
    for tp in selected:
        run = existing.get(tp.play_id)
        if run is None:
            explanation = tp.model_dump(mode="json")
            run = PlayRun(
                company_id=ctx.client.company_id, run_id=ctx.run_id, play_id=tp.play_id, as_of=ctx.as_of,
                rank=tp.rank, score=tp.score, owner=tp.owner,
                status="silent" if dry else "suggested", explanation=explanation,
                rationale=_rationale(ctx, explanation).model_dump(mode="json"),
            )
            session.add(run)
            session.flush()
        runs.append(run)
        if tp.auto_approvable and not dry:
            _auto_approve(session, ctx, run)
    return {
        "plays": [r.explanation | {"play_run_id": r.id, "status": r.status} for r in runs],
        "not_selected": others,
    }


def _replayed(session: Session, ctx: CycleContext) -> bool:
    """A live cycle that judges a day before the newest live cycle's is a replay (a cycle without
    --as-of learns its day only at ingest): its suggestions are shown, never decidable, so none
    can execute weeks back past the cap of the plays under way now. Its note says so."""
    from chimera.db.models import CycleRun
    from chimera.plays.review import is_replay, newest_cycle_day, replay_note

    newest = newest_cycle_day(session, ctx.client.company_id)
    if newest is None or not is_replay(ctx.as_of, newest):
        return False
    cycle = session.get(CycleRun, ctx.run_id)
    if cycle is not None and "replay_of" not in (cycle.summary or {}):
        note = replay_note(ctx.as_of, newest)
        cycle.summary = {**(cycle.summary or {}), "replay_of": str(newest), "as_of_note": note}
        session.add(cycle)
    return True


def _rationale(ctx: CycleContext, explanation: dict[str, Any]):
    """The play owner's rationale: model-written (guarded) when a model is configured, else templated."""
    from agents.commander import build_commanders
    from agents.llm_commander import play_rationale
    from agents.tools import Toolbox

    commanders = {c.id: c for c in build_commanders(ctx.client.configs)}
    cmd = commanders.get(explanation.get("owner", ""))
    libraries = list(cmd.spec.libraries) if cmd else None
    hits = Toolbox(ctx.client, ctx.as_of, libraries).sop_search(str(explanation.get("label", "")))
    return play_rationale(cmd, ctx, explanation, hits)


def _auto_approve(session: Session, ctx: CycleContext, run: PlayRun) -> None:
    from agents.decisions import apply_decision

    if session.exec(select(Decision).where(Decision.play_run_id == run.id)).first() is None:
        apply_decision(session, ctx, run, "auto_approve", "policy",
                       "auto-approved by the client's policy (play is fully reversible)")
