"""Before/after effect of a play on a KPI, with a bootstrap interval and a placebo check.

There is no control group, so the estimate alone would credit a play with any drift. Two guards:
the bootstrap interval (resample days within each window) says whether the change is larger than
day-to-day noise, and the placebo check (the same estimate at fake dates before the real one, same
weekday, from the KPI's own history) says whether it is larger than the changes that happen anyway.
Only both together justify a claim (DATA.md, "Judging a KPI and a play"), held to a p-value
corrected over the play's KPIs (``chimera.evidence.calibration``). Pure numpy with a seeded
generator: reruns give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from chimera.evidence import calibration
from chimera.evidence.models import Confounder, EffectEstimate, Judgement, KPITest, PlaceboResult
from chimera.kpi.formula import Formula, Node, Series, evaluate_tree, parse_formula

DRAWS = 2000
SEED = 20260330
MIN_PLACEBOS = 8
MAX_PLACEBOS = 52  # a year of weekly fake dates: the more history, the surer the placebo scale
PLACEBO_STEP_DAYS = 7
BEAT_SHARE = 0.9  # the former rule, kept for callers; claims are now held to calibration.ALPHA
MEANINGFUL_PCT = 20.0  # DATA.md's CRITICAL change: an interval reaching past it cannot say "no change"
Z95 = 1.959964


def windows(executed_on: date, length: int) -> tuple[list[date], list[date]]:
    """The ``length`` days before ``executed_on`` and the ``length`` days starting on it."""
    before = [executed_on - timedelta(days=length - i) for i in range(length)]
    after = [executed_on + timedelta(days=i) for i in range(length)]
    return before, after


def _np_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1, b))


def _eval_np(node: Node, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate a formula tree on arrays (one element per bootstrap draw); x / 0 gives nan."""
    return evaluate_tree(node, cols, number=lambda v: np.asarray(float(v)), divide=_np_divide)


def _matrix(series: Series, metrics: list[str], days: Sequence[date]) -> tuple[np.ndarray, list[date]]:
    """Rows = days on which every metric is present, columns = metrics; plus the missing days."""
    mat, missing, _present = _rows(series, metrics, days)
    return mat, missing


def _rows(series: Series, metrics: list[str], days: Sequence[date]) -> tuple[np.ndarray, list[date], list[date]]:
    present = [d for d in days if all(d in series.get(m, {}) for m in metrics)]
    missing = [d for d in days if d not in set(present)]
    mat = np.array([[float(series[m][d]) for m in metrics] for d in present], dtype=float)
    return mat.reshape(len(present), len(metrics)), missing, present


def weekday_weights(days: Sequence[date]) -> np.ndarray | None:
    """Weights giving each weekday present the same total (None when they already have: a whole
    number of weeks, where the plain mean is the balanced one)."""
    counts = np.bincount([d.weekday() for d in days], minlength=7)
    if not len(days) or len(set(counts[counts > 0])) == 1:
        return None
    per_day = np.array([1.0 / counts[d.weekday()] for d in days])
    return per_day / per_day.sum()


def _means(mat: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return mat.mean(axis=0) if weights is None else weights @ mat


def window_value(formula: Formula, mat: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """The formula on per-day means: a ratio of sums for ratio KPIs, a mean per day for levels
    (each weekday weighted alike when ``weights`` are given)."""
    if mat.shape[0] == 0:
        return None
    means = _means(mat, weights)
    value = float(_eval_np(formula.root, {m: means[i] for i, m in enumerate(formula.metrics)}))
    return None if np.isnan(value) else value


def log_se(formula: Formula, mat: np.ndarray, weights: np.ndarray | None = None,
           days: Sequence[date] = ()) -> float | None:
    """Standard error of log(KPI) over one window from its days' spread (delta method on the
    per-day values, days independent); None when the KPI is not positive or there is one day.

    With ``days``, the spread is measured within each weekday: a whole week (or weekday-balanced
    weights) cancels the weekly pattern out of the window's value, so it is no noise of it."""
    n = mat.shape[0]
    value = window_value(formula, mat, weights)
    if n < 2 or value is None or value <= 0:
        return None
    means = _means(mat, weights)
    grad = np.zeros(len(formula.metrics))
    for j in range(len(formula.metrics)):
        step = max(abs(means[j]), 1.0) * 1e-6
        moved = means.copy()
        moved[j] += step
        up = float(_eval_np(formula.root, {m: moved[i] for i, m in enumerate(formula.metrics)}))
        grad[j] = (np.log(up) - np.log(value)) / step if up > 0 else 0.0
    u = (mat - means) @ grad
    groups = np.array([d.weekday() for d in days]) if len(days) == n else np.zeros(n, dtype=int)
    sums, counts = np.bincount(groups, u, minlength=7), np.bincount(groups, minlength=7)
    spread = float(np.sum(u ** 2) - np.sum(sums[counts > 0] ** 2 / counts[counts > 0]))
    dof = n - int(np.count_nonzero(counts))
    if dof < 2:  # too few days per weekday to see the noise apart from the weekly pattern
        spread, dof = float(np.sum((u - u.mean()) ** 2)), n - 1
    w = np.full(n, 1.0 / n) if weights is None else weights
    return float(np.sqrt(np.sum(w ** 2) * max(spread, 0.0) / dof))  # rounding may dip below 0


def _effect(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return (after / before - 1.0) * 100.0


def _boot_values(formula: Formula, mat: np.ndarray, rng: np.random.Generator, draws: int,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """The formula on the means of ``draws`` resamples (days with replacement) of one window
    (each resampled day keeping its weekday weight when ``weights`` are given)."""
    n = mat.shape[0]
    idx = rng.integers(0, n, size=(draws, n))
    if weights is None:
        means = mat[idx].mean(axis=1)  # (draws, metrics)
    else:
        w = weights[idx]
        means = np.einsum("dn,dnm->dm", w, mat[idx]) / w.sum(axis=1, keepdims=True)
    return _eval_np(formula.root, {m: means[:, i] for i, m in enumerate(formula.metrics)})


def _sum(node: Node, mat: np.ndarray, metrics: list[str]) -> float:
    """A formula part (numerator or denominator) on the window's sums."""
    sums = mat.sum(axis=0)
    return float(_eval_np(node, {m: sums[i] for i, m in enumerate(metrics)}))


def _counted(mat_b: np.ndarray, mat_a: np.ndarray) -> bool:
    """Every value a whole number: the KPI counts events (orders, sessions, refunds)."""
    both = np.concatenate([mat_b.ravel(), mat_a.ravel()])
    return bool(both.size) and bool(np.all(both == np.round(both))) and bool(np.all(both >= 0))


def _parts(f: Formula) -> tuple[Node, Node | None]:
    """(events, exposure) of a KPI's counting noise: a rate's numerator and denominator, also under
    constant scaling (``refunded_orders / orders * 100`` is the share ``refunded_orders / orders``);
    else the whole formula, per day (``net_sales / 7`` is a daily mean, no share of 7). A rate with an
    offset (``1 - cancelled / placed``) is no multiple of its share: read per day too."""
    r = f.ratio
    if r is None or r.offset:
        return f.root, None
    return r.left, r.right


def _count_interval(f: Formula, mat_b: np.ndarray, mat_a: np.ndarray) -> tuple[float, float]:
    """95 % interval of the effect from counting noise alone, on the log ratio (Poisson events, or
    binomial for a share), with half an event added so zero events still have noise.

    Resampling 28 days of 2-3 orders underestimates that noise (the bootstrap said +0.5..+60 % for
    75 -> 96 orders, a difference Poisson noise makes 1 time in 8).
    """
    num, den = _parts(f)
    events = [max(_sum(num, m, f.metrics), 0.0) + 0.5 for m in (mat_b, mat_a)]
    exposure = [max(_sum(den, m, f.metrics), 1e-9) if den is not None else float(m.shape[0]) for m in (mat_b, mat_a)]
    return log_ratio_interval(events, exposure, share=den is not None)


def count_var(events: float, exposure: float, share: bool) -> float:
    """Variance of log(events / exposure) from counting noise: Poisson, or binomial for a share."""
    rate = events / exposure
    return (1.0 - rate if share and rate < 1 else 1.0) / events


def log_ratio_interval(events: Sequence[float], exposure: Sequence[float], share: bool) -> tuple[float, float]:
    """95 % interval of after/before - 1 in percent from counting noise, (before, after) counts."""
    centre = float(np.log((events[1] / exposure[1]) / (events[0] / exposure[0])))
    half = Z95 * float(np.sqrt(sum(count_var(e, x, share) for e, x in zip(events, exposure, strict=True))))
    return (float(np.expm1(centre - half)) * 100.0, float(np.expm1(centre + half)) * 100.0)


def _count_se(f: Formula, mat: np.ndarray) -> float:
    """Counting-noise standard error of log(KPI) over one window (the floor of a counted KPI)."""
    num, den = _parts(f)
    events = max(_sum(num, mat, f.metrics), 0.0) + 0.5
    exposure = max(_sum(den, mat, f.metrics), 1e-9) if den is not None else float(mat.shape[0])
    return float(np.sqrt(count_var(events, exposure, den is not None)))


def effect_se(f: Formula, mat_b: np.ndarray, mat_a: np.ndarray, counted: bool,
              weights: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
              days: tuple[Sequence[date], Sequence[date]] = ((), ())) -> float | None:
    """Standard error of log(after / before): the days' spread, at least the counting noise."""
    parts = []
    for mat, w, on in zip((mat_b, mat_a), weights, days, strict=True):
        se = log_se(f, mat, w, on)
        if se is None:
            return None
        parts.append(max(se, _count_se(f, mat)) if counted else se)
    return float(np.hypot(*parts))


def estimate(
    formula: str | Formula,
    series: Series,
    executed_on: date,
    as_of: date,
    window_days: int = 28,
    draws: int = DRAWS,
    seed: int = SEED,
    weekday_balanced: bool = True,
) -> EffectEstimate:
    """Effect of a play executed on ``executed_on`` on the KPI ``formula``, seen on ``as_of``.

    Days after ``as_of`` are ignored (a replay sees only what was known then). The interval is a
    percentile bootstrap: days are resampled with replacement within each window and the KPI
    recomputed from the resampled sums. A window that is no whole number of weeks weighs each
    weekday alike (``weekday_balanced``), so the weekly pattern does not read as an effect.
    """
    f = parse_formula(formula) if isinstance(formula, str) else formula
    before_days, after_days = windows(executed_on, window_days)
    seen_after = [d for d in after_days if d <= as_of]
    mat_b, miss_b, days_b = _rows(series, f.metrics, [d for d in before_days if d <= as_of])
    mat_a, miss_a, days_a = _rows(series, f.metrics, seen_after)
    w_b, w_a = (weekday_weights(days_b), weekday_weights(days_a)) if weekday_balanced else (None, None)
    miss_b = sorted(set(miss_b) | {d for d in before_days if d > as_of})
    seen = [d for d in before_days if d <= as_of] + seen_after
    holes = {m: sum(d not in series.get(m, {}) for d in seen) for m in f.metrics}
    starts = [min(series[m]) for m in f.metrics if series.get(m)]
    before, after = window_value(f, mat_b, w_b), window_value(f, mat_a, w_a)
    est = EffectEstimate(
        executed_on=executed_on, window_days=window_days,
        before_start=before_days[0], before_end=before_days[-1],
        after_start=after_days[0], after_end=after_days[-1],
        before=before, after=after, effect_pct=_shown(_effect(before, after)),
        missing_before=miss_b, missing_after=miss_a, after_days_available=len(seen_after),
        counted=_counted(mat_b, mat_a), draws=draws, seed=seed,
        weekday_balanced=w_b is not None or w_a is not None,
        gap_metrics=[m for m, n in holes.items() if n], absent_metrics=[m for m, n in holes.items() if n == len(seen)],
        first_data_day=max(starts) if len(starts) == len(f.metrics) else None,
    )
    _num, den = _parts(f)
    if den is not None:
        est.before_denominator = _sum(den, mat_b, f.metrics)
        est.after_denominator = _sum(den, mat_a, f.metrics)
    if est.effect_pct is None or mat_b.shape[0] < 2 or mat_a.shape[0] < 2 or draws <= 0:
        return est
    est.se_log = effect_se(f, mat_b, mat_a, est.counted, (w_b, w_a), (days_b, days_a))
    rng = np.random.default_rng(seed)
    vb = _boot_values(f, mat_b, rng, draws, w_b)
    va = _boot_values(f, mat_a, rng, draws, w_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(vb > 0, (va / np.where(vb > 0, vb, 1) - 1.0) * 100.0, np.nan)
    eff = eff[~np.isnan(eff)]
    if eff.size >= draws // 2:
        lo, hi = (float(v) for v in np.percentile(eff, [2.5, 97.5]))
        if est.counted:
            count_lo, count_hi = _count_interval(f, mat_b, mat_a)
            lo, hi = min(lo, count_lo), max(hi, count_hi)
        est.ci_low_pct, est.ci_high_pct = _shown(lo), _shown(hi)
    return est


def _shown(pct: float | None) -> float | None:
    """A percent at the 2 decimals it is stored and shown with: the reason's words and the record's
    numbers then round alike (4.2549 stored as 4.25 read "+4.2" in a table, "+4.3" in its reason)."""
    return None if pct is None else round(pct, 2)


def placebo(
    formula: str | Formula,
    series: Series,
    executed_on: date,
    window_days: int = 28,
    real_effect_pct: float | None = None,
    step_days: int = PLACEBO_STEP_DAYS,
    max_dates: int = MAX_PLACEBOS,
    min_dates: int = MIN_PLACEBOS,
    weekday_balanced: bool = True,
) -> PlaceboResult:
    """The same estimate at fake dates ``executed_on - window - k * step`` (k = 0, 1, ...): a step
    of whole weeks keeps the windows' weekday mix the real one's.

    A fake date counts only if both its windows end before the real date and have no missing day,
    so the placebo never sees the play itself nor a data gap.
    """
    f = parse_formula(formula) if isinstance(formula, str) else formula

    def measure(fake: date) -> tuple[float, float | None] | None:
        before_days, after_days = windows(fake, window_days)
        mat_b, miss_b, days_b = _rows(series, f.metrics, before_days)
        mat_a, miss_a, days_a = _rows(series, f.metrics, after_days)
        w_b, w_a = (weekday_weights(days_b), weekday_weights(days_a)) if weekday_balanced else (None, None)
        eff = _effect(window_value(f, mat_b, w_b), window_value(f, mat_a, w_a))
        if miss_b or miss_a or eff is None:
            return None
        return eff, effect_se(f, mat_b, mat_a, _counted(mat_b, mat_a), (w_b, w_a), (days_b, days_a))

    known = [d for m in f.metrics for d in series.get(m, {})]
    return placebo_of(measure, executed_on, window_days, min(known) if known else executed_on,
                      real_effect_pct, step_days, max_dates, min_dates)


def placebo_of(
    measure: Callable[[date], tuple[float, float | None] | None],
    executed_on: date,
    window_days: int,
    first: date,
    real_effect_pct: float | None = None,
    step_days: int = PLACEBO_STEP_DAYS,
    max_dates: int = MAX_PLACEBOS,
    min_dates: int = MIN_PLACEBOS,
) -> PlaceboResult:
    """Placebo dates for any KPI: ``measure(fake)`` gives (effect %, se of its log) or None when
    a window misses a day. The spread of the placebos' z-scores is the scale the real change is
    tested against (``calibration.test``), with the placebos' effective degrees of freedom."""
    dates: list[date] = []
    effects: list[float] = []
    zs: list[float] = []
    k = 0
    while len(dates) < max_dates:
        fake = executed_on - timedelta(days=window_days + k * step_days)
        k += 1
        if fake - timedelta(days=window_days) < first:
            break
        got = measure(fake)
        if got is None:
            continue
        dates.append(fake)
        effects.append(got[0])
        if got[1] and got[0] > -100:
            zs.append(float(np.log1p(got[0] / 100.0)) / got[1])
    result = PlaceboResult(dates=dates, effects_pct=effects, enough=len(dates) >= min_dates,
                           z_scores=[round(z, 3) for z in zs])
    if zs:
        result.spread = float(np.sqrt(np.mean(np.square(zs))))
        result.dof = calibration.placebo_dof(dates, window_days)
    if real_effect_pct is not None and effects:
        beaten = sum(1 for e in effects if abs(e) < abs(real_effect_pct))
        result.share_beaten = beaten / len(effects)
    return result


def _days(days: Sequence[date]) -> str:
    return f"{len(days)} day(s) {min(days)}..{max(days)}"


def missing_reason(est: EffectEstimate) -> str:
    """Which data is missing where: no data at all, data that starts too late, or gaps."""
    if est.absent_metrics:
        return f"no data for {', '.join(est.absent_metrics)} in the windows: nothing to compare"
    parts = []
    first = est.first_data_day
    if est.missing_before and first is not None and all(d < first for d in est.missing_before):
        have = est.window_days - len(est.missing_before)
        parts.append(f"data starts {first}: only {have} of the {est.window_days} before-window days exist")
    elif est.missing_before:
        parts.append(f"before-window missing {_days(est.missing_before)}")
    if est.missing_after:
        parts.append(f"after-window missing {_days(est.missing_after)}")
    return (f"{'; '.join(parts)} ({', '.join(est.gap_metrics)}): a window with holes is not compared, so no "
            "effect or interval is given (the values shown are over the days with data)")


def not_compared(est: EffectEstimate) -> bool:
    """A window with missing days is not compared (``judge``): its record shows no effect or
    interval either, or it would show a change its reason says was not measured."""
    return bool(est.missing_before or est.missing_after)


def thin_data(est: EffectEstimate, min_denominator: float, per_days: int, label: str) -> str | None:
    """Why a ratio KPI has too little data to judge (its ``min_denominator`` per ``per_days``-day
    window, scaled to the evidence windows, as KPI evaluation reads it), or None."""
    if min_denominator <= 0:
        return None
    before_days = est.window_days if est.before_compared_start is None else \
        (est.before_end - est.before_compared_start).days + 1
    seen = {"before": (est.before_denominator, before_days - len(est.missing_before)),
            "after": (est.after_denominator, est.after_days_available - len(est.missing_after))}
    for name, (total, days) in seen.items():
        if total is None or days <= 0:
            continue
        rate = total * per_days / days
        if rate < min_denominator:
            return (f"too little data: {total:g} {label} in the {name}-window ({rate:.1f} per {per_days} days, "
                    f"the KPI needs {min_denominator:g})")
    return None


def judge(
    est: EffectEstimate,
    plac: PlaceboResult,
    confounders: Sequence[Confounder] = (),
    as_of: date | None = None,
    thin: str | None = None,
    p_adjusted: float | None = None,
    family: int = 1,
    alpha: float = calibration.ALPHA,
) -> Judgement:
    """The verdict, in order: pending, inconclusive (gaps, ``thin`` data), confounded, then the
    statistics: a move is claimed only if the interval excludes 0 AND the change is significant
    against both day-to-day noise and the placebo dates' spread (``calibration.test``), at
    ``alpha`` after the correction over the play's ``family`` KPIs (``p_adjusted``, Holm; a lone
    KPI is its own family); "no detectable change" only if the interval includes 0 and also rules
    out a change of ``MEANINGFUL_PCT`` (else a tiny store would be told nothing changed). An
    interval that excludes 0 without those tests is inconclusive: a change is there, so "no
    change" would contradict its figures, but nothing says it is the play's (``move_rule``)."""
    delay_over = as_of is None or as_of >= est.executed_on + timedelta(days=est.window_days)
    if not delay_over or not est.after_complete:
        return Judgement(verdict="pending", reason=(
            f"after-window {est.after_start}..{est.after_end} not over yet "
            f"({est.after_days_available}/{est.window_days} days seen)"))
    if not_compared(est):
        return Judgement(verdict="inconclusive", reason=missing_reason(est))
    if est.effect_pct is None or est.ci_low_pct is None:
        return Judgement(verdict="inconclusive", reason=_uncomputed(est))
    if thin:
        return Judgement(verdict="inconclusive", reason=thin)
    if confounders:
        kinds = ", ".join(sorted({f"{c.kind} {c.what}" for c in confounders}))
        return Judgement(verdict="confounded", reason=f"effect {est.effect_pct:+.1f} % overlaps {kinds}")
    test = calibration.test(est, plac)
    p = test.p_value
    adjusted = p if p_adjusted is None or p is None else max(p, p_adjusted)
    stats_of = {"p_value": p, "p_adjusted": adjusted, "family": family}
    ci = f"95 % interval {est.ci_low_pct:+.1f}..{est.ci_high_pct:+.1f} %"
    if not est.interval_excludes_zero:
        if est.ci_low_pct < -MEANINGFUL_PCT or est.ci_high_pct > MEANINGFUL_PCT:  # type: ignore[operator]
            return Judgement(verdict="inconclusive", **stats_of, reason=(
                f"effect {est.effect_pct:+.1f} %, {ci} is too wide to rule out a change of "
                f"{MEANINGFUL_PCT:.0f} %: too little data to tell"))
        return Judgement(verdict="no_detectable_change", **stats_of, reason=(
            f"effect {est.effect_pct:+.1f} %, {ci} includes 0 and rules out a change of "
            f"{MEANINGFUL_PCT:.0f} %"))
    if not plac.enough or p is None or adjusted is None:
        return Judgement(verdict="inconclusive", **stats_of, reason=(
            f"effect {est.effect_pct:+.1f} %, {ci}, but only {len(plac.dates)} placebo date(s) "
            f"of history (need {MIN_PLACEBOS})"))
    holm = f" after Holm over the play's {family} KPIs" if family > 1 else ""
    tested = (f"p {_p(adjusted)}{holm} "
              f"against noise and {len(plac.dates)} placebo dates (same weekdays), whose changes are "
              f"{plac.spread:.1f}x the noise")
    if adjusted >= alpha:  # the change is there (the interval excludes 0), but not held to be the play's
        return Judgement(verdict="inconclusive", **stats_of, reason=(
            f"effect {est.effect_pct:+.1f} %, {ci} excludes 0, but {_unproven(test, plac, adjusted, family, alpha)} "
            f"(a move needs p < {alpha:g}): neither a move nor no change"))
    verdict = "moved_up" if est.effect_pct > 0 else "moved_down"
    return Judgement(verdict=verdict, **stats_of, reason=f"effect {est.effect_pct:+.1f} %, {ci}, {tested}")


def _uncomputed(est: EffectEstimate) -> str:
    """Why no change is given: a before-window at 0 (no failed payment in two weeks of a small store)
    has no relative change from it, which is not the same as a KPI that cannot be computed."""
    if est.before == 0 and est.after is not None:
        return ("the before-window's value is 0: a change from 0 has no percentage, and so few events "
                "say nothing about the play")
    return "the KPI cannot be computed on one window"


def judge_together(judges: Mapping[str, Callable[..., Judgement]]) -> dict[str, Judgement]:
    """The verdicts of one play run's KPIs, ``judges[kpi](p_adjusted=, family=)`` giving each:
    moves are held to p-values corrected (Holm) over the KPIs that reach the statistics (not
    pending, gappy, thin or confounded); judged on two KPIs, a play would otherwise be twice as
    likely to "move" one by chance."""
    first = {kpi: judge_one() for kpi, judge_one in judges.items()}
    family = {kpi: j.p_value for kpi, j in first.items() if j.p_value is not None and j.verdict != "pending"}
    if len(family) < 2:
        return first
    adjusted = calibration.holm(family)  # type: ignore[arg-type]
    return {kpi: judges[kpi](p_adjusted=adjusted[kpi], family=len(family)) if kpi in family else j
            for kpi, j in first.items()}


def _unproven(test: KPITest, plac: PlaceboResult, adjusted: float, family: int, alpha: float) -> str:
    """Which test a change that clears the interval failed, in words: day-to-day noise (the test's
    within-weekday spread is stricter than the resampled interval), the KPI's ordinary weeks (the
    placebo dates), or the correction over the play's KPIs."""
    failed = []
    if test.p_noise is not None and test.p_noise >= alpha:
        failed.append(f"p {_p(test.p_noise)} against day-to-day noise (measured within weekdays)")
    if test.p_placebo is not None and test.p_placebo >= alpha:
        failed.append(f"the KPI moves this much on ordinary weeks too: p {_p(test.p_placebo)} against "
                      f"{len(plac.dates)} placebo dates (same weekdays), whose changes are {plac.spread:.1f}x "
                      "the noise")
    if failed:
        return " and ".join(failed)
    return (f"p {_p(test.p_value or 0.0)} on its own is {_p(adjusted)} after Holm over the play's {family} "
            f"KPIs (judged on {family} KPIs, a play is likelier to move one by chance)")


def move_rule() -> str:
    """The rule ``judge`` applies, in plain words for people, from the constants it uses (the CLI
    and the report print it: a copy of the numbers would drift from the judge)."""
    return (f"A move is claimed only when the change is significant (p < {calibration.ALPHA:g}) both against "
            f"day-to-day noise and against how much the KPI moves anyway at up to {MAX_PLACEBOS} earlier "
            f"dates on the same weekday (placebo dates; at least {MIN_PLACEBOS} needed), after a Holm "
            "correction over the play's KPIs. A change whose 95 % interval excludes 0 but fails that test is "
            "inconclusive; no detectable change means the interval includes 0 and rules out a change of "
            f"{MEANINGFUL_PCT:.0f} %.")


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def as_decimal(value: float | None, places: int) -> str | None:
    """A float KPI value as a decimal string for display and storage."""
    if value is None:
        return None
    return str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places)))
