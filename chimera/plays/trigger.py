"""Evaluate the data-only trigger language (all / any / not over KPI conditions). Never ``eval``.

Logic is three-valued (Kleene): a condition on an UNKNOWN KPI, a missing value or a missing change
is *unknown*, never true or false, so ``not`` of it is unknown too and nothing fires on missing data
(manual §8.1). ``all`` is false if any clause is false, ``any`` is true if any clause is true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chimera.config.models import (
    AboveCondition,
    AllOf,
    AnomalyCondition,
    AnyOf,
    BelowCondition,
    ChangeAboveCondition,
    ChangeBelowCondition,
    NotOf,
    StatusCondition,
)
from chimera.plays.models import ChangeFn, KPIValue, KPIView, TriggerResult, kpi_views

URGENCY = {"CRITICAL": 3.0, "WARNING": 2.0, "anomaly": 1.0, "plain": 0.5}


@dataclass
class _Eval:
    """One node's outcome (True / False / None = unknown) and the facts that support it."""

    value: bool | None
    facts: list[str] = field(default_factory=list)
    kpis: list[str] = field(default_factory=list)


def fmt_value(value: Decimal | None, unit: str = "") -> str:
    """Numbers as people read them: percent KPIs are stored as fractions."""
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{value * 100:.2f}%"
    if unit == "count":
        return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{value:,.2f}"


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}%"


def window_days(window: str) -> int:
    """``"7d"`` -> 7."""
    return int(window.rstrip("d"))


def _status_fact(view: KPIView, cond: StatusCondition, fired: bool) -> str:
    threshold = {"WARNING": ("warning", view.warning), "CRITICAL": ("critical", view.critical)}.get(
        view.status, ("target", view.target))
    vs = f"{fmt_value(view.value, view.unit)} vs {threshold[0]} {fmt_value(threshold[1], view.unit)}"
    if fired:
        return f"{view.id} is {view.status} ({vs})"
    return f"{view.id} is {view.status}, not {'/'.join(cond.status)} ({vs})"


def _threshold(view: KPIView, op: str, bound: Decimal, fired: bool) -> str:
    word = op if fired else f"not {op}"
    return f"{view.id} is {fmt_value(view.value, view.unit)}, {word} {fmt_value(bound, view.unit)}"


def _leaf(cond: Any, kpis: Mapping[str, KPIView], change_pct: ChangeFn | None) -> _Eval:
    view = kpis.get(cond.kpi)
    if view is None or not view.known:
        return _Eval(None, kpis=[cond.kpi])
    if isinstance(cond, StatusCondition):
        ok = view.status in cond.status
        return _Eval(ok, [_status_fact(view, cond, ok)], [cond.kpi])
    if isinstance(cond, BelowCondition):
        ok = view.value < cond.below
        return _Eval(ok, [_threshold(view, "below", cond.below, ok)], [cond.kpi])
    if isinstance(cond, AboveCondition):
        ok = view.value > cond.above
        return _Eval(ok, [_threshold(view, "above", cond.above, ok)], [cond.kpi])
    if isinstance(cond, AnomalyCondition):
        note = f" ({view.anomaly_note})" if view.anomaly_note else ""
        text = f"{view.id} is anomalous vs its own baseline{note}" if view.anomaly else (
            f"{view.id} is not anomalous")
        return _Eval(view.anomaly, [text], [cond.kpi])
    return _change(cond, view, change_pct)


def _change(cond: ChangeBelowCondition | ChangeAboveCondition, view: KPIView,
            change_pct: ChangeFn | None) -> _Eval:
    days = window_days(cond.over)
    change = change_pct(cond.kpi, days) if change_pct is not None else None
    if change is None:
        return _Eval(None, kpis=[cond.kpi])
    change = Decimal(str(change))
    if isinstance(cond, ChangeBelowCondition):
        ok, op, bound = change < cond.change_pct_below, "<", cond.change_pct_below
    else:
        ok, op, bound = change > cond.change_pct_above, ">", cond.change_pct_above
    rule = f"{op} {_pct(bound)}" if ok else f"not {op} {_pct(bound)}"
    return _Eval(ok, [f"{view.id} changed {change:+.1f}% over {days}d ({rule})"], [cond.kpi])


def _combine(values: list[_Eval], is_all: bool) -> _Eval:
    decisive = not is_all  # the value that settles the result: False for all, True for any
    hits = [v for v in values if v.value is decisive]
    if hits:
        return _Eval(decisive, [f for v in hits for f in v.facts], [k for v in hits for k in v.kpis])
    if any(v.value is None for v in values):
        return _Eval(None, kpis=[k for v in values for k in v.kpis])
    return _Eval(not decisive, [f for v in values for f in v.facts], [k for v in values for k in v.kpis])


def _eval(trigger: Any, kpis: Mapping[str, KPIView], change_pct: ChangeFn | None) -> _Eval:
    if isinstance(trigger, AllOf):
        return _combine([_eval(t, kpis, change_pct) for t in trigger.all], is_all=True)
    if isinstance(trigger, AnyOf):
        return _combine([_eval(t, kpis, change_pct) for t in trigger.any], is_all=False)
    if isinstance(trigger, NotOf):
        inner = _eval(trigger.not_, kpis, change_pct)
        if inner.value is None:
            return _Eval(None, kpis=inner.kpis)
        # a false clause's facts already say what is true instead ("aov is 52.00, not below 40.00")
        return _Eval(not inner.value, inner.facts, inner.kpis)
    return _leaf(trigger, kpis, change_pct)


def _urgency(views: list[KPIView]) -> tuple[float, str]:
    best, label = 0.0, ""
    for view in views:
        kind = view.status if view.status in ("CRITICAL", "WARNING") else (
            "anomaly" if view.anomaly else "plain")
        if URGENCY[kind] > best:
            best, label = URGENCY[kind], f"{kind} {view.id}" if kind != "plain" else f"threshold {view.id}"
    return best, label


def evaluate_trigger(trigger: Any, kpis: Mapping[str, Any], change_pct: ChangeFn | None = None
                     ) -> TriggerResult:
    """Evaluate ``trigger`` over this cycle's KPIs (id -> KPIView or any KPI-result-like object)."""
    views = {k: v if isinstance(v, KPIView) else None for k, v in kpis.items()}
    if any(v is None for v in views.values()):
        views = kpi_views(kpis)
    result = _eval(trigger, views, change_pct)
    fired_ids = list(dict.fromkeys(result.kpis)) if result.value else []
    urgency, label = _urgency([views[k] for k in fired_ids if k in views])
    values = {
        k: KPIValue(status=v.status, value=v.value, target=v.target, warning=v.warning,
                    critical=v.critical, window=v.window, unit=v.unit)
        for k in dict.fromkeys(result.kpis) if (v := views.get(k)) is not None
    }
    return TriggerResult(
        fired=result.value is True,
        outcome={True: "true", False: "false", None: "unknown"}[result.value],
        clauses=list(dict.fromkeys(result.facts)) if result.value else [],
        kpi_values=values,
        urgency=urgency,
        urgency_label=label,
    )
