"""A KPI against its own recent past: weekly-seasonal baseline, scored, in the bad direction only.

Baseline: median of the previous 4 weekly windows of the same length (ends 7, 14, 21, ... days
before), skipping windows with missing data and windows already flagged, looking back at most
``CANDIDATE_WEEKS`` weeks (after that a persistent shift has become the new level). Whether a past
window was flagged is replayed from the series over ``CHAIN_WEEKS`` weeks, so the answer depends only
on the series and the date. Rates of counts are scored by the binomial standard error of the
difference, sqrt(p(1-p)(1/n + (pi/2)/n_baseline)) (the baseline is a median, not a mean); sums and
money ratios by the spread of the unflagged weekly windows (never below the Poisson sd for counts,
nor 1 % of the baseline; for money ratios never below the day-to-day noise of the ratio, see
``_daily_ratio_sd``), widened the same way for the median.
CRITICAL at >= 4 sd and >= 20 % change, WARNING at >= 3 sd and >= 10 %, on two consecutive days
(consecutive among the days that have a value: a data gap does not restart the confirmation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from chimera.kpi.formula import evaluate_tree, window_days
from chimera.kpi.window import KPIWindows, WindowValue

BASELINE_WEEKS = 4
MIN_BASELINE_WEEKS = 3
CANDIDATE_WEEKS = 6
CHAIN_WEEKS = 6
CONFIRM_LOOKBACK_DAYS = 28  # how far back the confirming day may lie behind a data gap
MEDIAN_VAR = math.pi / 2  # variance of a median over that of a mean (normal data)
RULES = ((2, 4.0, 20.0), (1, 3.0, 10.0))  # (level, min |sd|, min |change %|)


def history_days(window_days: int) -> int:
    """Days of data before ``as_of`` the anomaly check can read (the loader's start bound)."""
    return window_days + 7 * (CHAIN_WEEKS + CANDIDATE_WEEKS) + CONFIRM_LOOKBACK_DAYS + 1


@dataclass(frozen=True)
class Score:
    level: int
    baseline: Decimal
    weeks: int
    sd_score: float
    change_pct: float | None


def _baseline(windows: KPIWindows, end: date, flagged: Callable[[date], bool]
              ) -> tuple[list[WindowValue], list[WindowValue]] | None:
    """(windows the median is taken over, windows the spread is measured on), or None (no history)."""
    usable = [w for k in range(1, CANDIDATE_WEEKS + 1) if (w := windows.at(end - timedelta(days=7 * k))).ok]
    if len(usable) < MIN_BASELINE_WEEKS:
        return None
    clean = [w for w in usable if not flagged(w.end)]
    if len(clean) < MIN_BASELINE_WEEKS:
        clean = usable  # a shift that outlasted the look-back is the new level
    return clean[:BASELINE_WEEKS], clean


def _binomial(windows: KPIWindows, current: WindowValue, base: float) -> bool:
    """Rates of whole counts (orders / sessions) are binomial; money ratios are not."""
    return (windows.spec.unit == "percent" and windows.is_ratio and current.integral
            and 0 < base < 1 and bool(current.denominator))


def _scale(windows: KPIWindows, current: WindowValue, chosen: list[WindowValue], pool_windows: list[WindowValue],
           base: float) -> float:
    """The sd of (current - baseline): both sides' noise, the median's being ~pi/2 times the mean's."""
    if _binomial(windows, current, base):
        n_cur = float(current.denominator or 0)
        n_base = sum(float(w.denominator or 0) for w in chosen)
        p = (float(current.value or 0) * n_cur + base * n_base) / (n_cur + n_base)
        return math.sqrt(max(p * (1 - p), 1e-12) * (1 / n_cur + MEDIAN_VAR / n_base))
    spread = _stdev([float(w.value or 0) for w in pool_windows])
    floor = abs(base) * 0.01
    if windows.spec.unit == "count" and not windows.is_ratio:
        floor = max(floor, math.sqrt(abs(base)))  # Poisson
    if windows.is_ratio and not windows.repeat:
        floor = max(floor, _daily_ratio_sd(windows, current, pool_windows, base))
    return max(spread, floor, 1e-12) * math.sqrt(1 + MEDIAN_VAR / len(chosen))


def _daily_ratio_sd(windows: KPIWindows, current: WindowValue, pool: list[WindowValue], base: float) -> float:
    """The sd of a money ratio's window value from its day-to-day noise (delta method).

    Why: a money ratio (refunds or discounts over sales) moves in lumps (one refund, one big
    discount), and the spread of 3-6 weekly values badly underestimates that: a quiet shop whose
    few refunds fell in one week read as a 5-sd anomaly. The residuals e_d = numerator_d - base *
    denominator_d over every day of the baseline windows and the current one (pooled under "nothing
    changed", as the binomial score pools p; ~35 values, not ~5) give
    Var(window numerator - base * window denominator) ~ days * mean(e_d^2).
    """
    formula = windows.formula
    denominator = float(current.denominator or 0)
    if formula is None or denominator <= 0:
        return 0.0
    days = sorted({d for w in [*pool, current] for d in window_days(w.end, windows.days)})
    residuals = []
    for day in days:
        values = {m: windows.series[m][day] for m in formula.metrics}
        try:
            num = float(evaluate_tree(formula.root.left, values))  # type: ignore[arg-type]
            den = float(evaluate_tree(formula.root.right, values))  # type: ignore[arg-type]
        except ArithmeticError:  # a nested division by zero on one day: that day tells nothing
            continue
        residuals.append((num - base * den) ** 2)
    if not residuals:
        return 0.0
    return math.sqrt(windows.days * sum(residuals) / len(residuals)) / denominator


def _median(values: list[Decimal]) -> Decimal:
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _stdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def score(windows: KPIWindows, end: date, flagged: Callable[[date], bool]) -> Score | None:
    """The window ending ``end`` against its baseline; None without a value or 3 weeks of history."""
    current = windows.at(end)
    if not current.ok or current.value is None:
        return None
    picked = _baseline(windows, end, flagged)
    if picked is None:
        return None
    chosen, pool = picked
    baseline = _median([w.value for w in chosen if w.value is not None])
    base, value = float(baseline), float(current.value)
    sd = (value - base) / _scale(windows, current, chosen, pool, base)
    change = (value - base) / abs(base) * 100 if base else None
    bad = sd < 0 if windows.spec.direction == "higher_is_better" else sd > 0
    level = 0
    if bad and change is not None:
        passed = [lvl for lvl, min_sd, min_chg in RULES if abs(sd) >= min_sd and abs(change) >= min_chg]
        level = max(passed, default=0)
    return Score(level, baseline, len(chosen), sd, change)


def chained_score(windows: KPIWindows, end: date, history_flags: set[date] | None = None) -> Score | None:
    """``score`` with flagged baseline windows excluded; flags replayed over ``CHAIN_WEEKS`` weeks.

    ``history_flags`` (window ends known to be flagged) replaces the replay when given.
    """
    if history_flags is not None:
        return score(windows, end, history_flags.__contains__)
    key = ("chained_score", end)
    if key in windows.memo:
        return windows.memo[key]  # type: ignore[return-value]
    flags: dict[date, bool] = {}
    for k in range(CHAIN_WEEKS, 0, -1):
        past = end - timedelta(days=7 * k)
        s = score(windows, past, lambda d: flags.get(d, False))
        flags[past] = bool(s and s.level > 0)
    result = score(windows, end, lambda d: flags.get(d, False))
    windows.memo[key] = result
    return result


def confirmed(windows: KPIWindows, end: date, history_flags: set[date] | None = None
              ) -> tuple[Score | None, int]:
    """Today's score and the confirmed level: the lower of today's raw level and that of the day
    before (the latest earlier window end with a value, so the first day after a gap is not OK)."""
    today = chained_score(windows, end, history_flags)
    if today is None or today.level == 0:
        return today, 0
    before = _previous_with_value(windows, end)
    yesterday = chained_score(windows, before, history_flags) if before else None
    return today, min(today.level, yesterday.level if yesterday else 0)


def _previous_with_value(windows: KPIWindows, end: date) -> date | None:
    """The latest window end before ``end`` (at most ``CONFIRM_LOOKBACK_DAYS`` back) with a value."""
    for k in range(1, CONFIRM_LOOKBACK_DAYS + 1):
        day = end - timedelta(days=k)
        if windows.at(day).ok:
            return day
    return None
