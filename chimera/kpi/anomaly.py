"""A KPI against its own recent past: weekly-seasonal baseline, scored, in the bad direction only.

Baseline: median of the previous 4 weekly windows of the same length (ends 7, 14, 21, ... days
before), skipping windows with missing data and windows already flagged (DATA.md: otherwise the
alert fades back to OK after a few weeks while the problem persists). The clean windows are searched
``CANDIDATE_WEEKS`` weeks back; when fewer than 3 are left there (a shift that lasts), the baseline of
the latest flagged window is carried forward, so a persisting drop keeps its pre-drop baseline.
Whether a past window was flagged is replayed along its weekday lineage (end - 7, end - 14, ...)
over ``CHAIN_WEEKS`` weeks, so the answer depends only on the series and the date; a shift that
outlasts that quarter becomes the new level. A flagged window stays flagged while it still passes
the recovery rules (``HOLD_RULES``), so a window scored a little under the raise rules does not slip
back into the baseline. Windows unusual in the GOOD direction (passing the raise rules the other
way: a promotion week) are left out too while 3 ordinary ones remain, since a week-long event
touches two weekly windows and would otherwise set a median of 4 (the normal weeks after a promotion
read as a CRITICAL drop); they are never carried, so a rise that lasts becomes the new level.

Rates of counts are scored by the binomial standard error of the difference,
sqrt(p(1-p)(1/n + (pi/2)/n_baseline)) (the baseline is a median, not a mean) with p pooled and never
below the rule of three, 3/n_baseline (a baseline of 0 events out of n hides a rate up to ~3/n), so a
rate that jumps from a zero baseline is scored too; sums and money ratios by the spread of the
unflagged weekly windows (never below the Poisson sd for counts, nor 1 % of the baseline; for money
ratios never below the day-to-day noise of the ratio, see ``_daily_ratio_sd``), widened the same way
for the median. From a zero baseline any other value is an unbounded change: it passes the change
rule (``change_pct`` is then None).

CRITICAL at >= 4 sd and >= 20 % change, WARNING at >= 3 sd and >= 10 %, raised on two consecutive
days (consecutive among the days that have a value: a data gap does not restart the confirmation).
A raised level is kept while the recovery rules still hold (CRITICAL while >= 3 sd and >= 15 %,
WARNING while >= 2 sd and >= 5 %), like the thresholds' ``*_recovery``: the sd score moves with the
spread of the baseline windows, and a status must not flap while the value and baseline stay put.
The daily state is replayed over ``STATE_LOOKBACK_DAYS`` days, never read from stored statuses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from chimera.kpi.formula import evaluate_tree, window_days
from chimera.kpi.window import KPIWindows, WindowValue

BASELINE_WEEKS = 4
MIN_BASELINE_WEEKS = 3
CANDIDATE_WEEKS = 6
CHAIN_WEEKS = 13  # flags replayed along the weekday lineage over a quarter
STATE_LOOKBACK_DAYS = 28  # days the raise / hold state machine is replayed over (and a gap may span)
MEDIAN_VAR = math.pi / 2  # variance of a median over that of a mean (normal data)
RULE_OF_THREE = 3.0  # events: 0 of n is consistent with a rate up to ~3/n (95 %)
RULES = ((2, 4.0, 20.0), (1, 3.0, 10.0))  # raise: (level, min |sd|, min |change %|)
HOLD_RULES = ((2, 3.0, 15.0), (1, 2.0, 5.0))  # recovery: a raised level is kept while these pass


def history_days(window_days: int) -> int:
    """Days of data before ``as_of`` the anomaly check can read (the loader's start bound)."""
    return window_days + 7 * (CHAIN_WEEKS + CANDIDATE_WEEKS) + STATE_LOOKBACK_DAYS + 1


@dataclass(frozen=True)
class Score:
    level: int
    """Level by the raise rules on this window alone (0 OK, 1 WARNING, 2 CRITICAL)."""
    baseline: Decimal
    weeks: int
    sd_score: float
    change_pct: float | None
    """None when the baseline is zero (any other value is an unbounded change)."""
    hold: int = 0
    """Level the recovery rules let an already raised status keep on this window."""
    carried: bool = False
    """The baseline was carried from an earlier flagged window (fewer than 3 clean ones left)."""
    good: int = 0
    """Level the raise rules give the move in the GOOD direction (a promotion week): never a status,
    but such a window is kept out of later baselines while enough ordinary windows are left."""


@dataclass(frozen=True)
class _Basis:
    """The window ends a score is taken against: the median's and the spread's."""

    chosen: tuple[date, ...]
    pool: tuple[date, ...]


@dataclass(frozen=True)
class _Flag:
    flagged: bool
    basis: _Basis | None
    outlier: bool = False
    """Unusually good (``Score.good``): left out of baselines, but never carried."""


_UNFLAGGED = _Flag(False, None)


def _scale_of(windows: KPIWindows) -> float:
    """The constant factor on the formula's rate (100 for ``x / y * 100``; 1 for a plain ratio)."""
    return float(windows.ratio.scale) if windows.ratio is not None else 1.0


def _binomial(windows: KPIWindows, current: WindowValue, base: float) -> bool:
    """Rates of whole counts (orders / sessions) are binomial, also written in percent points
    (``refunded_orders / orders * 100``); money ratios are not."""
    factor = _scale_of(windows)
    percent = windows.spec.unit == "percent" or factor != 1.0
    rate = windows.ratio.rate(base) if windows.ratio is not None else base
    return (percent and windows.is_ratio and current.integral and 0 <= rate <= 1 and bool(current.denominator))


def _scale(windows: KPIWindows, current: WindowValue, chosen: list[WindowValue], pool_windows: list[WindowValue],
           base: float) -> float:
    """The sd of (current - baseline): both sides' noise, the median's being ~pi/2 times the mean's."""
    if _binomial(windows, current, base):
        factor = abs(_scale_of(windows))  # the sd of the rate, in the formula's units
        n_cur = float(current.denominator or 0)
        n_base = sum(float(w.denominator or 0) for w in chosen)
        rate = windows.ratio.rate if windows.ratio is not None else float
        p = (rate(float(current.value or 0)) * n_cur + rate(base) * n_base) / (n_cur + n_base)
        floor = min(0.5, RULE_OF_THREE / n_base) if n_base > 0 else 0.5
        p = min(max(p, floor), 1 - floor)
        return factor * math.sqrt(p * (1 - p) * (1 / n_cur + MEDIAN_VAR / max(n_base, 1.0)))
    spread = _stdev([float(w.value or 0) for w in pool_windows])
    floor = abs(base) * 0.01
    if windows.spec.unit == "count" and not windows.is_ratio:
        floor = max(floor, math.sqrt(max(abs(base), 1.0)))  # Poisson (a zero baseline still has noise)
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
    formula, ratio = windows.formula, windows.ratio
    denominator = float(current.denominator or 0)
    if formula is None or ratio is None or denominator <= 0:
        return 0.0
    factor = abs(float(ratio.scale))  # x / y * 100: the rate's noise times 100
    base = ratio.rate(base)
    days = sorted({d for w in [*pool, current] for d in window_days(w.end, windows.days)})
    residuals = []
    for day in days:
        values = {m: windows.series[m][day] for m in formula.metrics}
        try:
            num = float(evaluate_tree(ratio.left, values))
            den = float(evaluate_tree(ratio.right, values))
        except ArithmeticError:  # a nested division by zero on one day: that day tells nothing
            continue
        residuals.append((num - base * den) ** 2)
    if not residuals:
        return 0.0
    return factor * math.sqrt(windows.days * sum(residuals) / len(residuals)) / denominator


def _median(values: list[Decimal]) -> Decimal:
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _stdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _level(rules: tuple[tuple[int, float, float], ...], bad: bool, sd: float, change: float | None,
           moved: bool) -> int:
    """The highest level of ``rules`` passed; ``change`` None (zero baseline) passes when ``moved``."""
    if not bad:
        return 0
    passed = [lvl for lvl, min_sd, min_chg in rules
              if abs(sd) >= min_sd and (moved if change is None else abs(change) >= min_chg)]
    return max(passed, default=0)


def _compute(windows: KPIWindows, end: date, basis: _Basis, carried: bool) -> Score:
    """The window ending ``end`` scored against the windows of ``basis`` (memoized)."""
    key = ("score", end, basis, carried)
    hit = windows.memo.get(key)
    if isinstance(hit, Score):
        return hit
    current = windows.at(end)
    assert current.value is not None
    chosen = [windows.at(d) for d in basis.chosen]
    pool = [windows.at(d) for d in basis.pool]
    baseline = _median([w.value for w in chosen if w.value is not None])
    base, value = float(baseline), float(current.value)
    sd = (value - base) / _scale(windows, current, chosen, pool, base)
    change = (value - base) / abs(base) * 100 if base else None
    bad = sd < 0 if windows.spec.direction == "higher_is_better" else sd > 0
    moved = value != base
    result = Score(_level(RULES, bad, sd, change, moved), baseline, len(chosen), sd, change,
                   _level(HOLD_RULES, bad, sd, change, moved), carried,
                   _level(RULES, not bad and moved, sd, change, moved))
    windows.memo[key] = result
    return result


def _score(windows: KPIWindows, end: date, flags: dict[date, _Flag]) -> tuple[Score | None, _Basis | None]:
    """The window ending ``end`` against the median of its previous unflagged weekly windows."""
    current = windows.at(end)
    if not current.ok or current.value is None:
        return None, None
    usable = [w for k in range(1, CANDIDATE_WEEKS + 1) if (w := windows.at(end - timedelta(days=7 * k))).ok]
    if len(usable) < MIN_BASELINE_WEEKS:
        return None, None
    unflagged = [w for w in usable if not flags.get(w.end, _UNFLAGGED).flagged]
    # a promotion week straddles two weekly windows: in a median of 4 they would set the baseline,
    # and the ordinary weeks after it would read as a drop; a rise that lasts is the new level
    ordinary = [w for w in unflagged if not flags.get(w.end, _UNFLAGGED).outlier]
    clean = ordinary if len(ordinary) >= MIN_BASELINE_WEEKS else unflagged
    if len(clean) >= MIN_BASELINE_WEEKS:
        basis = _Basis(tuple(w.end for w in clean[:BASELINE_WEEKS]), tuple(w.end for w in clean))
        return _compute(windows, end, basis, False), basis
    # a shift that lasts: keep the baseline of the latest flagged window, never the shifted windows
    carried = next((f.basis for w in usable if (f := flags.get(w.end, _UNFLAGGED)).flagged and f.basis), None)
    if carried is None:
        return None, None
    return _compute(windows, end, carried, True), carried


def chained_score(windows: KPIWindows, end: date) -> Score | None:
    """``score`` of the window ending ``end`` with flagged baseline windows excluded.

    The flags of the earlier windows of the same weekday are replayed over ``CHAIN_WEEKS`` weeks
    (windows before that count as unflagged); a flagged window stays flagged while the next one in
    its lineage still passes the recovery rules. None without a value or 3 weeks of history.
    """
    key = ("chained_score", end)
    if key in windows.memo:
        return windows.memo[key]  # type: ignore[return-value]
    flags: dict[date, _Flag] = {}
    for k in range(CHAIN_WEEKS, 0, -1):
        past = end - timedelta(days=7 * k)
        s, basis = _score(windows, past, flags)
        before = flags.get(past - timedelta(days=7), _UNFLAGGED).flagged
        flagged = s is not None and (s.level > 0 or (before and s.hold > 0))
        flags[past] = _Flag(flagged, basis, outlier=s is not None and not flagged and s.good > 0)
    result, _ = _score(windows, end, flags)
    windows.memo[key] = result
    return result


def confirmed(windows: KPIWindows, end: date) -> tuple[Score | None, int]:
    """Today's score and the anomaly level of the status: the replayed state machine's.

    Over the days of the last ``STATE_LOOKBACK_DAYS`` that have a score: a level is raised when the
    raise rules passed on that day and the day before (the latest earlier day with a score, so the
    first day after a gap is not OK); a raised level is kept while the recovery rules
    (``HOLD_RULES``) pass on that day or the day before, and steps down only when they have failed
    on two days running: clearing is confirmed like raising. (Stepping down on one day let a lasting
    drop flap weekly: the one weekday whose window read as the new normal cleared it, and the next
    day raised it again.)
    """
    today = chained_score(windows, end)
    if today is None:
        return None, 0
    key = ("confirmed", end)
    hit = windows.memo.get(key)
    if isinstance(hit, int):
        return today, hit
    state, prev_raw, prev_hold = 0, None, 0
    for i in range(STATE_LOOKBACK_DAYS - 1, -1, -1):
        day = end - timedelta(days=i)
        s = chained_score(windows, day) if windows.at(day).ok else None
        if s is None:
            continue
        raised = min(s.level, prev_raw) if prev_raw is not None else 0
        state = max(raised, min(state, max(s.hold, prev_hold)))
        prev_raw, prev_hold = s.level, s.hold
    windows.memo[key] = state
    return today, state
