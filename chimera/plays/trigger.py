"""Evaluate the data-only trigger language (all / any / not over KPI conditions). Never ``eval``.

Logic is three-valued (Kleene): a condition on an UNKNOWN KPI, a missing value or a missing change
is *unknown*, never true or false, so ``not`` of it is unknown too and nothing fires on missing data
(manual §8.1). ``all`` is false if any clause is false, ``any`` is true if any clause is true.
"""

from __future__ import annotations

import re
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
from chimera.kpi.evaluate import shown_change, shown_sd
from chimera.kpi.fmt import fmt, money_step
from chimera.plays.models import ChangeFn, KPIValue, KPIView, TriggerResult, kpi_views

LEVEL_RANK = {"OK": 0, "WARNING": 1, "CRITICAL": 2}
URGENCY = {"CRITICAL": 3.0, "WARNING": 2.0, "anomaly": 1.0, "plain": 0.5}


@dataclass
class _Eval:
    """One node's outcome (True / False / None = unknown) and the facts that support it."""

    value: bool | None
    facts: list[str] = field(default_factory=list)
    kpis: list[str] = field(default_factory=list)


def fmt_value(value: Decimal | None, unit: str = "", currency: str | None = None) -> str:
    """Numbers as people read them: percent KPIs are stored as fractions; money in ``currency``'s
    smallest unit when given (whole yen, as ``chimera kpis`` shows it)."""
    if value is None:
        return "n/a"
    if unit == "currency" and money_step(currency) is not None:
        return fmt(value, unit, currency)
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


@dataclass(frozen=True)
class StatusCause:
    """Which check gave a KPI its status, as the KPI evaluator stored it.

    The final status is the worse of the thresholds' level and the anomaly check's; a clause that
    says "17.91% vs critical 12.00%" when CRITICAL came from the anomaly check reads as a breach
    that never happened (manual §7.1), so the clause needs both levels and the anomaly's numbers.
    """

    threshold_status: str | None = None
    anomaly_level: str | None = None
    sd_score: Decimal | None = None
    baseline: Decimal | None = None
    weeks: int | None = None
    change_pct: Decimal | None = None

    @property
    def by_anomaly(self) -> bool:
        """The anomaly check, not the thresholds, set the status (the thresholds' level is lower)."""
        if self.threshold_status is None or self.anomaly_level is None:
            return False
        return LEVEL_RANK.get(self.anomaly_level, 0) > LEVEL_RANK.get(self.threshold_status, 0)


def _field(obj: Any, name: str) -> Any:
    """``name`` of a KPIResult, a dict, or a stored KPIStatus row (whose extras live in ``details``)."""
    if isinstance(obj, Mapping):
        return obj.get(name, (obj.get("details") or {}).get(name))
    value = getattr(obj, name, None)
    if value is None:
        value = (getattr(obj, "details", None) or {}).get(name)
    return value


def _opt_dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def status_cause(obj: Any) -> StatusCause:
    """The stored threshold status and anomaly facts of one KPI result (empty when not given)."""
    anomaly = _field(obj, "anomaly")
    if anomaly is None or isinstance(anomaly, bool):
        anomaly = {}
    get = anomaly.get if isinstance(anomaly, Mapping) else (lambda name: getattr(anomaly, name, None))
    ts = _field(obj, "threshold_status")
    weeks = get("weeks")
    return StatusCause(
        threshold_status=None if ts is None else str(getattr(ts, "value", ts)),
        anomaly_level=get("level"), sd_score=_opt_dec(get("sd_score")), baseline=_opt_dec(get("baseline")),
        weeks=None if weeks is None else int(weeks), change_pct=_opt_dec(get("change_pct")),
    )


def status_causes(kpis: Mapping[str, Any] | list[Any]) -> dict[str, StatusCause]:
    """``status_cause`` of every KPI, keyed like ``kpi_views`` keys them."""
    if isinstance(kpis, Mapping):
        return {key: status_cause(v) for key, v in kpis.items()}
    return {str(_field(k, "id") or _field(k, "kpi_id") or ""): status_cause(k) for k in kpis}


_NOTE_ANOMALY = re.compile(r"^\d+(?:\.\d+)? sd (?:below|above) its ")


def note_anomaly_phrase(note: str) -> str:
    """The evaluator's own anomaly phrase in a KPI note (``8.9 sd below its 3-week baseline 24.73%
    (-27.6%)``, maybe with ``, held CRITICAL until ...``): the words the KPI table shows, so the play's
    reason and the KPI's note can never disagree by a rounding. Empty when the note has none."""
    return next((part for part in note.split("; ") if _NOTE_ANOMALY.match(part)), "")


def anomaly_phrase(cause: StatusCause, unit: str, currency: str | None = None) -> str:
    """``8.9 sd below its 3-week baseline 24.73% (-27.6%)`` from the stored anomaly numbers, for a
    KPI whose note does not carry the evaluator's phrase."""
    if cause.sd_score is None or cause.baseline is None:
        return "unusual against its own baseline"
    side = "below" if cause.sd_score < 0 else "above"
    weeks = f"{cause.weeks}-week " if cause.weeks else ""
    change = "" if cause.change_pct is None else f" ({shown_change(cause.change_pct)}%)"
    return f"{shown_sd(cause.sd_score)} sd {side} its {weeks}baseline {fmt(cause.baseline, unit, currency)}{change}"


def _threshold_of(view: KPIView, status: str) -> tuple[str, Decimal | None]:
    return {"WARNING": ("warning", view.warning), "CRITICAL": ("critical", view.critical)}.get(
        status, ("target", view.target))


def _status_numbers(view: KPIView, cause: StatusCause | None, currency: str | None = None) -> str:
    """The numbers behind the status: the threshold it stands on, or the anomaly and the threshold
    it did not cross (and the thresholds' own level when that is not OK)."""
    def shown(value: Decimal | None) -> str:
        return fmt_value(value, view.unit, currency)

    name, bound = _threshold_of(view, view.status)
    vs = f"{shown(view.value)} vs {name} {shown(bound)}"
    if cause is None or not cause.by_anomaly:
        return vs
    phrase = note_anomaly_phrase(view.note) or anomaly_phrase(cause, view.unit, currency)
    parts = [f"{shown(view.value)}: {phrase}", f"{name} {shown(bound)} not crossed"]
    if cause.threshold_status not in (None, "OK"):
        low_name, low_bound = _threshold_of(view, str(cause.threshold_status))
        parts.append(f"thresholds alone: {cause.threshold_status} ({low_name} {shown(low_bound)})")
    return "; ".join(parts)


def _status_fact(view: KPIView, cond: StatusCondition, fired: bool, cause: StatusCause | None = None,
                 currency: str | None = None) -> str:
    by = " by anomaly" if cause is not None and cause.by_anomaly else ""
    numbers = _status_numbers(view, cause, currency)
    if fired:
        return f"{view.id} is {view.status}{by} ({numbers})"
    return f"{view.id} is {view.status}{by}, not {'/'.join(cond.status)} ({numbers})"


def _threshold(view: KPIView, op: str, bound: Decimal, fired: bool, currency: str | None = None) -> str:
    word = op if fired else f"not {op}"
    return (f"{view.id} is {fmt_value(view.value, view.unit, currency)}, {word} "
            f"{fmt_value(bound, view.unit, currency)}")


def _leaf(cond: Any, kpis: Mapping[str, KPIView], change_pct: ChangeFn | None,
          causes: Mapping[str, StatusCause], currency: str | None = None) -> _Eval:
    view = kpis.get(cond.kpi)
    if view is None or not view.known:
        return _Eval(None, kpis=[cond.kpi])
    if isinstance(cond, StatusCondition):
        ok = view.status in cond.status
        return _Eval(ok, [_status_fact(view, cond, ok, causes.get(cond.kpi), currency)], [cond.kpi])
    if isinstance(cond, BelowCondition):
        ok = view.value < cond.below
        return _Eval(ok, [_threshold(view, "below", cond.below, ok, currency)], [cond.kpi])
    if isinstance(cond, AboveCondition):
        ok = view.value > cond.above
        return _Eval(ok, [_threshold(view, "above", cond.above, ok, currency)], [cond.kpi])
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


def _eval(trigger: Any, kpis: Mapping[str, KPIView], change_pct: ChangeFn | None,
          causes: Mapping[str, StatusCause], currency: str | None = None) -> _Eval:
    if isinstance(trigger, AllOf):
        return _combine([_eval(t, kpis, change_pct, causes, currency) for t in trigger.all], is_all=True)
    if isinstance(trigger, AnyOf):
        return _combine([_eval(t, kpis, change_pct, causes, currency) for t in trigger.any], is_all=False)
    if isinstance(trigger, NotOf):
        inner = _eval(trigger.not_, kpis, change_pct, causes, currency)
        if inner.value is None:
            return _Eval(None, kpis=inner.kpis)
        # a false clause's facts already say what is true instead ("aov is 52.00, not below 40.00")
        return _Eval(not inner.value, inner.facts, inner.kpis)
    return _leaf(trigger, kpis, change_pct, causes, currency)


def _urgency(views: list[KPIView]) -> tuple[float, str]:
    best, label = 0.0, ""
    for view in views:
        kind = view.status if view.status in ("CRITICAL", "WARNING") else (
            "anomaly" if view.anomaly else "plain")
        if URGENCY[kind] > best:
            best, label = URGENCY[kind], f"{kind} {view.id}" if kind != "plain" else f"threshold {view.id}"
    return best, label


def evaluate_trigger(trigger: Any, kpis: Mapping[str, Any], change_pct: ChangeFn | None = None,
                     causes: Mapping[str, StatusCause] | None = None, currency: str | None = None) -> TriggerResult:
    """Evaluate ``trigger`` over this cycle's KPIs (id -> KPIView or any KPI-result-like object).

    ``causes`` (``status_causes`` of the KPI results) says which check set each status; by default
    it is read from ``kpis`` themselves, which a bare KPIView does not carry. ``currency`` (the
    client's) says how money reads in the clauses (whole yen)."""
    views = {k: v if isinstance(v, KPIView) else None for k, v in kpis.items()}
    if any(v is None for v in views.values()):
        views = kpi_views(kpis)
    if causes is None:
        causes = status_causes({k: v for k, v in kpis.items() if not isinstance(v, KPIView)})
    result = _eval(trigger, views, change_pct, causes, currency)
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
