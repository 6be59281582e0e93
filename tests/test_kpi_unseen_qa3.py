"""QA3: the evaluator on stores the project never saw (a yen store, whole-dollar prices), each bug
found kept as a regression test. Series are built here from seeded draws, not from chimera.demo."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from chimera.config.loader import load_config_set
from chimera.kpi.evaluate import evaluate_series
from chimera.kpi.formula import Series

START = date(2026, 1, 5)
DAYS = 70


def _yen_store(seed: int) -> Series:
    """~20 orders a day of whole-yen amounts (JPY has no minor unit), a steady ~5 % discount rate and
    ~3 % refunds, lumpy as real orders are: nothing happens in it."""
    rng = random.Random(seed)
    series: Series = {m: {} for m in ("gross_sales", "discounts", "total_sales", "refunded_amount", "orders")}
    for i in range(DAYS):
        day = START + timedelta(days=i)
        orders = rng.randint(14, 26)
        gross = discounts = refunded = 0
        for _ in range(orders):
            amount = rng.choice([1047, 3150, 8698, 1350, 0]) * rng.choice([1, 1, 2, 3])
            gross += amount
            discounts += amount * rng.choice([0, 0, 0, 5, 10, 15]) // 100
            refunded += amount if rng.random() < 0.03 else 0
        for metric, value in (("gross_sales", gross), ("discounts", discounts), ("total_sales", gross - discounts),
                              ("refunded_amount", refunded), ("orders", orders)):
            series[metric][day] = Decimal(value)
    return series


def _scaled(series: Series, factor: Decimal) -> Series:
    money = {"gross_sales", "discounts", "total_sales", "refunded_amount"}
    return {m: {d: v * factor if m in money else v for d, v in days.items()} for m, days in series.items()}


@pytest.mark.parametrize("kpi_id", ["discount_rate", "refund_rate_amount"])
@pytest.mark.parametrize("seed", [1, *(pytest.param(s, marks=pytest.mark.sweep) for s in (2, 3))])
def test_a_money_ratio_of_whole_yen_is_not_scored_as_a_rate_of_counts(kpi_id: str, seed: int) -> None:
    """Whole money sums were taken for counts, so discounts / gross sales of a yen store was scored
    as a binomial rate of ~a million 'trials': a quiet week read 30-97 sd off its baseline and went
    CRITICAL. The same store priced in hundredths of its amounts (not whole) was judged by its spread.
    A money ratio's anomaly must not depend on whether the amounts happen to be whole."""
    spec = next(k for k in load_config_set().kpis.kpis if k.id == kpi_id)
    whole = _yen_store(seed)
    cents = _scaled(whole, Decimal("0.01"))
    for offset in range(35, DAYS):
        as_of = START + timedelta(days=offset)
        a, b = evaluate_series(spec, whole, as_of), evaluate_series(spec, cents, as_of)
        assert a.value == b.value
        assert (a.anomaly is None) == (b.anomaly is None)
        if a.anomaly is not None and b.anomaly is not None:
            assert a.anomaly.sd_score == b.anomaly.sd_score, as_of
            assert abs(a.anomaly.sd_score) < 6, (as_of, a.anomaly)  # the binomial reading gave 30-97
            assert a.anomaly.level == b.anomaly.level


def test_a_rate_of_counts_is_still_scored_binomially() -> None:
    """The fix is about money: refunded orders over orders stays a binomial rate (DATA.md), so a
    tripled refund rate on a steady store is raised."""
    spec = next(k for k in load_config_set().kpis.kpis if k.id == "refund_rate_orders")
    series: Series = {"orders": {}, "refunded_orders": {}}
    for i in range(DAYS):
        day = START + timedelta(days=i)
        series["orders"][day] = Decimal(60)
        series["refunded_orders"][day] = Decimal(2 if i < DAYS - 10 else 6)
    result = evaluate_series(spec, series, START + timedelta(days=DAYS - 1))
    assert result.anomaly is not None and result.anomaly.level == "CRITICAL" and result.anomaly.sd_score > 4



def test_a_three_decimal_currency_keeps_its_fils_in_the_kpi_value_and_note() -> None:
    """A Kuwaiti store's week of net revenue is 2553.838 dinars: `chimera kpis` said 2553.84 (cents),
    while `chimera metrics` shows every fils. A 2-decimal store and a ratio (AOV) still read in
    hundredths."""
    specs = {k.id: k for k in load_config_set().kpis.kpis}
    series: Series = {m: {} for m in ("total_sales", "refunded_amount", "net_sales", "orders")}
    for i in range(28):
        day = START + timedelta(days=i)
        series["total_sales"][day] = Decimal("364.977") + (Decimal("0.001") if i == 27 else 0)
        series["refunded_amount"][day] = Decimal("1.002") if i == 22 else Decimal("0.000")
        series["net_sales"][day] = Decimal("300.125")
        series["orders"][day] = Decimal(23)
    as_of = START + timedelta(days=27)
    revenue = evaluate_series(specs["net_revenue"], series, as_of)
    assert str(revenue.value) == "2553.838"  # 6 x 364.977 + 364.978 - 1.002
    before = evaluate_series(specs["net_revenue"], series, as_of - timedelta(days=1))
    assert str(before.value) == "2553.837" and "2,553.837" in before.note
    aov = evaluate_series(specs["aov"], series, as_of)
    assert str(aov.value) == "13.05"  # 2100.875 / 161 = 13.0489...
    usd = {m: {d: v.quantize(Decimal("0.01")) for d, v in days.items()} for m, days in series.items()}
    assert str(evaluate_series(specs["net_revenue"], usd, as_of).value) == "2553.86"  # 7 x 364.98 - 1.00
