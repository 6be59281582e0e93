"""Glue between the cycle and the play layer: KPI results + DB state -> ranked, capped plays."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from agents.context import CycleContext
from chimera.kpi.formula import parse_window
from chimera.metrics import load_series
from chimera.plays.rank import previous_decisions, suggest_plays
from chimera.plays.review import suggest_state


def _change_fn(session: Session, ctx: CycleContext):
    from chimera.kpi.evaluate import change_pct

    specs = {k.id: k for k in ctx.client.configs.kpis.kpis}
    longest = max(parse_window(k.window) for k in specs.values())
    series = load_series(session, ctx.client.company_id, start=ctx.as_of - timedelta(days=2 * longest + 70),
                         end=ctx.as_of)

    def change(kpi_id: str, days: int) -> Decimal | None:
        spec = specs.get(kpi_id)
        return None if spec is None else change_pct(spec, series, ctx.as_of, days)

    return change


def triggered_plays(session: Session, ctx: CycleContext, kpis: list[Any], _active: int):
    """(selected plays, the rest with reasons): over the cap, suppressed by UNKNOWN or review.

    A live cycle counts every run under way now against the cap; a replay of an older day judges
    what was under way then, not the suggestions of a newer cycle (same inputs, same output;
    ``suggest_state``)."""
    state = suggest_state(session, ctx.client.company_id, ctx.as_of,
                          hold_days=ctx.client.configs.plays.policy.revert_hold_days)
    history = previous_decisions(session, ctx.client.company_id, ctx.as_of)  # a rejection is told, not forgotten
    result = suggest_plays(ctx.client.configs, {k.id: k for k in kpis}, _change_fn(session, ctx), state,
                           history=history, currency=ctx.client.config.currency)
    others = [p.model_dump(mode="json") for p in result.over_cap] + [
        p.model_dump(mode="json") for p in result.suppressed]
    return list(result), others
