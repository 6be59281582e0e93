"""Evidence statistics on synthetic daily series with a known injected effect, and with none."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from chimera.evidence import stats
from chimera.evidence.models import Confounder

START = date(2025, 1, 6)


def _shop(seed: int, days: int = 180, effect: float = 0.0, on: int = 140, price: float = 40.0) -> dict:
    """Orders ~ Poisson with a weekly pattern; net sales = orders x noisy price, x (1 + effect) from ``on``."""
    rng = np.random.default_rng(seed)
    weekly = [0.94, 0.91, 0.93, 0.97, 1.04, 1.14, 1.07]
    series: dict = {"orders": {}, "net_sales": {}, "sessions": {}}
    for i in range(days):
        d = START + timedelta(days=i)
        orders = int(rng.poisson(60 * weekly[i % 7]))
        per_order = rng.normal(price, 12.0, size=orders).clip(5).sum() if orders else 0.0
        lift = 1.0 + (effect if i >= on else 0.0)
        series["orders"][d] = Decimal(orders)
        series["net_sales"][d] = Decimal(f"{per_order * lift:.2f}")
        series["sessions"][d] = Decimal(int(rng.poisson(2500 * weekly[i % 7])))
    return series


def _judge(series: dict, formula: str, executed_on: date, as_of: date, window: int = 28):
    est = stats.estimate(formula, series, executed_on, as_of, window_days=window)
    plac = stats.placebo(formula, series, executed_on, window_days=window, real_effect_pct=est.effect_pct)
    return est, plac, stats.judge(est, plac, as_of=as_of)


def test_injected_rise_is_claimed_with_interval_around_it() -> None:
    series = _shop(seed=1, effect=0.15)
    executed = START + timedelta(days=140)
    est, plac, j = _judge(series, "net_sales / orders", executed, executed + timedelta(days=35))
    assert j.verdict == "moved_up", j.reason
    assert est.ci_low_pct is not None and est.ci_high_pct is not None
    assert 0 < est.ci_low_pct < 15 < est.ci_high_pct
    assert abs(est.effect_pct - 15) < 5
    assert plac.enough and plac.share_beaten is not None and plac.share_beaten >= stats.BEAT_SHARE


def test_injected_drop_is_claimed_as_moved_down() -> None:
    series = _shop(seed=2, effect=-0.2)
    executed = START + timedelta(days=140)
    _est, _plac, j = _judge(series, "net_sales / orders", executed, executed + timedelta(days=40))
    assert j.verdict == "moved_down", j.reason


def test_false_positive_rate_without_effect_is_low() -> None:
    """No effect anywhere: across 60 seeded shops the procedure claims a move rarely (< 10 %)."""
    executed = START + timedelta(days=140)
    verdicts = [_judge(_shop(seed=100 + s), "net_sales / orders", executed, executed + timedelta(days=30))[2].verdict
                for s in range(60)]
    claims = sum(v in ("moved_up", "moved_down") for v in verdicts)
    assert claims <= 6, verdicts
    assert set(verdicts) <= {"moved_up", "moved_down", "no_detectable_change", "inconclusive"}


def test_same_inputs_give_the_same_interval() -> None:
    series = _shop(seed=3, effect=0.05)
    executed = START + timedelta(days=140)
    a = stats.estimate("net_sales / orders", series, executed, executed + timedelta(days=28))
    b = stats.estimate("net_sales / orders", series, executed, executed + timedelta(days=28))
    assert (a.ci_low_pct, a.ci_high_pct) == (b.ci_low_pct, b.ci_high_pct)
    c = stats.estimate("net_sales / orders", series, executed, executed + timedelta(days=28), seed=7)
    assert (c.ci_low_pct, c.ci_high_pct) != (a.ci_low_pct, a.ci_high_pct)


def test_ratio_kpi_is_a_ratio_of_sums_and_level_kpi_a_mean_per_day() -> None:
    series = _shop(seed=4)
    executed = START + timedelta(days=100)
    before_days, after_days = stats.windows(executed, 28)
    est = stats.estimate("net_sales / orders", series, executed, executed + timedelta(days=60))
    sums = {m: sum(series[m][d] for d in before_days) for m in ("net_sales", "orders")}
    assert est.before == pytest.approx(float(sums["net_sales"] / sums["orders"]))
    level = stats.estimate("orders", series, executed, executed + timedelta(days=60))
    assert level.after == pytest.approx(float(sum(series["orders"][d] for d in after_days)) / 28)
    assert before_days[-1] == executed - timedelta(days=1) and after_days[0] == executed


def test_placebo_dates_end_before_the_real_date_and_are_bounded() -> None:
    series = _shop(seed=5, days=300)
    executed = START + timedelta(days=280)
    plac = stats.placebo("net_sales / orders", series, executed, window_days=28)
    assert stats.MIN_PLACEBOS <= len(plac.dates) <= stats.MAX_PLACEBOS
    assert all(d + timedelta(days=28) <= executed for d in plac.dates)
    assert all(d - timedelta(days=28) >= START for d in plac.dates)


def test_rise_without_placebo_history_is_inconclusive() -> None:
    series = _shop(seed=6, days=80, effect=0.25, on=40)
    executed = START + timedelta(days=40)
    est, plac, j = _judge(series, "net_sales / orders", executed, executed + timedelta(days=30))
    assert est.interval_excludes_zero and not plac.enough
    assert j.verdict == "inconclusive", j.reason


def test_pending_before_the_delay_and_gaps_make_it_inconclusive() -> None:
    series = _shop(seed=7)
    executed = START + timedelta(days=120)
    _e, _p, j = _judge(series, "net_sales / orders", executed, executed + timedelta(days=27))
    assert j.verdict == "pending"
    gap = executed - timedelta(days=3)
    del series["orders"][gap]
    est, _p, j = _judge(series, "net_sales / orders", executed, executed + timedelta(days=40))
    assert est.missing_before == [gap]
    assert j.verdict == "inconclusive"


def test_a_confounder_overrides_a_clear_move() -> None:
    series = _shop(seed=8, effect=0.2)
    executed = START + timedelta(days=140)
    est = stats.estimate("net_sales / orders", series, executed, executed + timedelta(days=30))
    plac = stats.placebo("net_sales / orders", series, executed, real_effect_pct=est.effect_pct)
    other = Confounder(kind="overlapping_play", what="bundle_offer", first_day=executed,
                       last_day=executed, days=1, note="x")
    assert stats.judge(est, plac, as_of=executed + timedelta(days=30)).verdict == "moved_up"
    assert stats.judge(est, plac, [other], as_of=executed + timedelta(days=30)).verdict == "confounded"


def test_window_length_follows_the_delay() -> None:
    series = _shop(seed=9, effect=0.2)
    executed = START + timedelta(days=140)
    est = stats.estimate("net_sales / orders", series, executed, executed + timedelta(days=14), window_days=14)
    assert est.after_end == executed + timedelta(days=13) and est.before_start == executed - timedelta(days=14)
    assert est.after_complete


@pytest.mark.parametrize(("scaled", "plain"), [
    ("orders / sessions * 100", "orders / sessions"),  # a percent written as one: the same share
    ("100 * orders / sessions", "orders / sessions"),
    ("net_sales / 7", "net_sales"),  # a daily mean scaled: no share of 7
])
def test_a_scaled_kpi_is_judged_as_the_rate_or_mean_it_scales(scaled: str, plain: str) -> None:
    """Was: `x / y * 100` was read as a mean per day (its counting noise per day, no denominator) and
    `net_sales / 7` as a share of 7 (QA4)."""
    series = _shop(7, effect=0.12)
    executed = START + timedelta(days=140)
    as_of = executed + timedelta(days=40)
    a = stats.estimate(scaled, series, executed, as_of)
    b = stats.estimate(plain, series, executed, as_of)
    assert a.effect_pct == pytest.approx(b.effect_pct) and a.effect_pct is not None
    assert (a.ci_low_pct, a.ci_high_pct) == pytest.approx((b.ci_low_pct, b.ci_high_pct))
    assert a.before_denominator == b.before_denominator
