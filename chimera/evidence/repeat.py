"""Before/after of repeat_purchase_rate, which counts customers, not a daily metric.

DATA.md defines it as customers with >= 2 orders over the window / customers with >= 1. It has no
daily values to resample, so each evidence window is read as its own window of that definition
(customers who ordered twice within the 28 days before vs within the 28 days after), with a
binomial interval, and placebo dates from the store's own customer history like any other KPI.
The KPI table's 90-day value cannot be compared: a 90-day window ending after the play is still
mostly made of days before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from chimera.evidence.models import EffectEstimate, PlaceboResult
from chimera.evidence.stats import count_var, log_ratio_interval, placebo_of, windows
from chimera.kpi.window import Customers

HOW = "customers with 2+ orders within each {n}-day window / customers with 1+, not the KPI's 90-day window"


def share(customers: Customers, days: list[date]) -> tuple[int, int]:
    """(customers with >= 2 orders over ``days``, customers with >= 1)."""
    orders: Counter[str] = Counter()
    for day in days:
        orders.update(customers.get(day, {}))
    return sum(1 for n in orders.values() if n >= 2), sum(1 for n in orders.values() if n >= 1)


def _measured(customers: Customers, before: list[date], after: list[date]) -> tuple[float | None, float | None]:
    """(effect %, se of its log) of one pair of complete windows."""
    (rb, nb), (ra, na) = share(customers, before), share(customers, after)
    if not nb or not na or not rb:
        return None, None
    effect = ((ra / na) / (rb / nb) - 1.0) * 100.0
    se = float(np.sqrt(count_var(rb + 0.5, nb, True) + count_var(ra + 0.5, na, True)))
    return effect, se


def estimate(
    customers: Customers, presence: Mapping[date, Any], executed_on: date, as_of: date, window_days: int = 28,
) -> EffectEstimate:
    """The repeat share over the window before ``executed_on`` vs the one from it, seen on ``as_of``;
    a day is there when the store's ``orders`` are (``presence``), missing otherwise.

    While the after-window is partial, the before-window is cut to its last days, as many as seen
    after: a share over 8 days against one over 45 would read as a drop that is only the shorter
    window (``EffectEstimate.before_compared_start``)."""
    before_days, after_days = windows(executed_on, window_days)
    seen_before = [d for d in before_days if d <= as_of]
    seen_after = [d for d in after_days if d <= as_of]
    cut = 0 < len(seen_after) < window_days  # partial: compare as many days before as seen after
    compared = seen_before[-len(seen_after):] if cut else seen_before
    miss_b = [d for d in before_days if d not in presence]
    miss_a = [d for d in seen_after if d not in presence]
    seen = seen_before + seen_after
    holes = sum(d not in presence for d in seen)
    (rb, nb), (ra, na) = share(customers, compared), share(customers, seen_after)
    est = EffectEstimate(
        executed_on=executed_on, window_days=window_days,
        before_start=before_days[0], before_end=before_days[-1], after_start=after_days[0], after_end=after_days[-1],
        before=rb / nb if nb else None, after=ra / na if na else None,
        before_compared_start=compared[0] if cut else None,
        missing_before=miss_b, missing_after=miss_a, after_days_available=len(seen_after),
        gap_metrics=["orders"] if holes else [], absent_metrics=["orders"] if seen and holes == len(seen) else [],
        first_data_day=min(presence) if presence else None,
        before_denominator=float(nb), after_denominator=float(na), counted=True, draws=0,
    )
    if est.before and est.after is not None:
        est.effect_pct = round((est.after / est.before - 1.0) * 100.0, 2)
        est.se_log = _measured(customers, compared, seen_after)[1]
        lo, hi = log_ratio_interval([rb + 0.5, ra + 0.5], [nb, na], share=True)
        est.ci_low_pct, est.ci_high_pct = round(lo, 2), round(hi, 2)
    return est


def placebo(
    customers: Customers, presence: Mapping[date, Any], executed_on: date, window_days: int = 28,
    real_effect_pct: float | None = None,
) -> PlaceboResult:
    """The same share at the weekly placebo dates before the real one (complete windows only)."""
    def measure(fake: date) -> tuple[float, float | None] | None:
        before, after = windows(fake, window_days)
        if any(d not in presence for d in (*before, *after)):
            return None
        effect, se = _measured(customers, before, after)
        return None if effect is None else (effect, se)

    first = min(presence) if presence else executed_on
    return placebo_of(measure, executed_on, window_days, first, real_effect_pct)
