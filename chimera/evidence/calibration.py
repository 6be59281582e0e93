"""How surprising a before/after change is: against day-to-day noise, against the KPI's own
history (the placebo dates), and after counting how many KPIs a play was judged on.

Why: the interval alone is calibrated only for independent days, and "beats 90 % of 8-14 placebo
dates" let a CI-significant null change through 4 times in 5 (14 overlapping placebos are ~5
independent ones). Here the placebo dates give a scale (how many times its noise the KPI moves
anyway) with honest degrees of freedom, a claim needs both tests, and a play's KPIs are
corrected together (Holm), so a play judged on two KPIs is not twice as likely to "move" one.
Pure math (no scipy): Student t through the regularized incomplete beta function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

from chimera.evidence.models import EffectEstimate, KPITest, PlaceboResult

ALPHA = 0.05


def normal_p(z: float) -> float:
    """Two-sided p of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def student_p(t: float, dof: float) -> float:
    """Two-sided p of a Student t statistic with ``dof`` (> 0, not necessarily whole) degrees of freedom."""
    return _betainc(dof / 2.0, 0.5, dof / (dof + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by its continued fraction (Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _fraction(a, b, x) / a
    return 1.0 - front * _fraction(b, a, 1.0 - x) / b


def _fraction(a: float, b: float, x: float) -> float:
    def guard(v: float) -> float:
        return v if abs(v) > 1e-300 else 1e-300

    c, d = 1.0, 1.0 / guard(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, 400):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 / guard(1.0 + num * d)
            c = guard(1.0 + num / c)
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def _overlap(lag: int, window: int) -> float:
    """Correlation of two before/after effects ``lag`` days apart on independent days: they share
    days of their windows (+) or one's after-window is the other's before-window (-)."""
    if lag <= window:
        return 1.0 - 1.5 * lag / window
    if lag <= 2 * window:
        return -(2 * window - lag) / (2.0 * window)
    return 0.0


def placebo_dof(dates: Sequence[date], window: int) -> float:
    """Effective number of independent placebo effects: n^2 / sum of squared correlations."""
    if not dates:
        return 0.0
    total = sum(_overlap(abs((a - b).days), window) ** 2 for a in dates for b in dates)
    return len(dates) ** 2 / total


def test(est: EffectEstimate, plac: PlaceboResult) -> KPITest:
    """Both p-values of one KPI's change, and the one a claim is held to (the larger)."""
    if est.effect_pct is None or not est.se_log or est.effect_pct <= -100:
        return KPITest()
    z = math.log1p(est.effect_pct / 100.0) / est.se_log
    out = KPITest(p_noise=normal_p(z))
    if plac.enough and plac.spread and plac.dof:
        out.p_placebo = student_p(z / plac.spread, plac.dof)
    out.p_value = max(out.p_noise, out.p_placebo) if out.p_placebo is not None else None
    return out


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values: the family-wise error stays at the level the adjusted p is held to,
    whichever KPIs are truly unmoved (no assumption on how the KPIs depend on each other)."""
    order = sorted(p_values, key=lambda k: (p_values[k], k))
    out: dict[str, float] = {}
    running, m = 0.0, len(order)
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * p_values[key]))
        out[key] = running
    return out
