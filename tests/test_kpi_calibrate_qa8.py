"""KPI calibration, QA pass 8, on histories the project has never seen: a small shop whose weeks are
whole but under ``min_denominator``, a store whose data stopped before the review's day, a shop with a
hole in its analytics, and a USD store whose weekly AOV has a third decimal.

Expected reasons and values follow from manual §6.3 / §8.1 and DATA.md's definitions (weekly values
are sum / sum over each 7-day window), computed from the series in the test."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from chimera.kpi.calibrate import propose_for_series
from chimera.kpi.formula import Series
from tests.test_kpi_unseen_qa7 import day, specs


def shop(days: int, orders: int, seed: int = 3) -> Series:
    """``orders`` a day (+-1), ~2.5 % conversion, AOV 38-46 with cents."""
    rnd = random.Random(seed)
    out: Series = {}
    for i in range(days):
        placed = orders + rnd.choice((-1, 0, 1))
        sales = sum((Decimal(rnd.randint(3800, 4600)) / 100 for _ in range(placed)), Decimal(0))
        refunds = sum(rnd.random() < 0.04 for _ in range(placed))
        for metric, value in (("orders", placed), ("sessions", placed * 40), ("net_sales", sales),
                              ("refunded_orders", refunds)):
            out.setdefault(metric, {})[day(i)] = Decimal(value)
    return out


def weekly(series: Series, num: str, den: str, end: date) -> Decimal | None:
    n = sum(series[num][end - timedelta(days=k)] for k in range(7))
    d = sum(series[den][end - timedelta(days=k)] for k in range(7))
    return n / d if d >= 30 else None


def test_whole_weeks_under_the_minimum_denominator_are_named_not_called_incomplete():
    """~4 orders a day: no day is missing, but most weeks hold fewer than 30 orders. The reason said
    'only 2 of the last 8 weekly 7d values are complete', sending the owner to look for missing data."""
    s = shop(70, orders=4)
    last = day(69)
    readable = [v for k in range(8) if (v := weekly(s, "net_sales", "orders", last - timedelta(days=7 * k)))]
    thin = 8 - len(readable)
    assert 0 < len(readable) < 6 < thin + len(readable)  # the premise: few readable, every day present
    for kpi_id in ("aov", "refund_rate_orders"):
        p = propose_for_series(specs()[kpi_id], s, last, currency="USD")
        assert not p.enough_history and p.proposed == {}
        assert p.reason == (f"only {len(readable)} of the last 8 weekly 7d values to {last} can be read (need 6): "
                            f"{thin} have orders below the minimum 30; thresholds left as they are"), p.reason
        assert "complete" not in p.reason


def test_weekly_values_read_in_the_currency_s_cents():
    """A USD weekly AOV that happens to have 3 decimals (1,207.86 / 30 = 40.262) was listed as 40.262,
    as if it were a dinar sum; the KPI's own value reads 40.26."""
    s = shop(70, orders=4)
    last = day(69)
    p = propose_for_series(specs()["aov"], s, last, currency="USD")
    exact = [v for k in range(8) if (v := weekly(s, "net_sales", "orders", last - timedelta(days=7 * k)))]
    assert p.weekly_values == [v.quantize(Decimal("0.01")) for v in exact]
    assert any(v != v.quantize(Decimal("0.01")) for v in exact)  # the premise: some have more places


def test_a_kpi_whose_data_stopped_is_not_calibrated_on_weeks_that_ended_long_ago():
    """Data to day 69, review on day 79: the proposal read 'median of 6 weekly values to <day 79>' from
    weeks that ended before day 66, for a KPI the evaluation calls UNKNOWN (stale)."""
    s = shop(70, orders=30)
    as_of = day(79)
    for kpi_id, staleness in (("orders", 2), ("conversion_rate", 3)):
        p = propose_for_series(specs()[kpi_id], s, as_of, currency="USD")
        assert not p.enough_history and p.proposed == {} and p.weekly_values == []
        assert p.reason == (f"orders data ends {day(69)}, 10 days before {as_of} (max {staleness}): no recent "
                            "weeks to calibrate on (need 6 of the last 8 weekly 7d values); thresholds left as "
                            "they are")
    # within its staleness the KPI is calibrated to its newest day, and says so
    p = propose_for_series(specs()["orders"], s, day(71), currency="USD")
    assert p.enough_history and p.reason.startswith(f"median of 8 weekly values to {day(69)} ")


def test_a_gap_and_a_young_store_are_told_apart():
    """Sessions missing on days 50-63 of a 70-day store: the two weeks that hold the gap name its days;
    the windows reaching before the store's first day say the data starts then."""
    s = shop(70, orders=30)
    for i in range(50, 64):
        del s["sessions"][day(i)]
    last = day(69)
    p = propose_for_series(specs()["conversion_rate"], s, last, currency="USD")
    assert not p.enough_history
    assert p.reason == (f"only 5 of the last 8 weekly 7d values to {last} can be read (need 6): 3 miss days "
                        f"(sessions missing on {day(50)}..{day(63)}); thresholds left as they are"), p.reason
    young = propose_for_series(specs()["conversion_rate"], shop(20, orders=30), day(19), currency="USD")
    assert young.reason == (f"only 2 of the last 8 weekly 7d values to {day(19)} can be read (need 6): 6 reach "
                            f"back before the data starts (orders from {day(0)}, sessions from {day(0)}); "
                            "thresholds left as they are"), young.reason


def test_a_kpi_without_any_data_says_so():
    s = shop(70, orders=30)
    p = propose_for_series(specs()["stripe_fee_share"], s, day(69), currency="USD")
    assert not p.enough_history and "need 6" in p.reason
    assert "no stripe_fees, stripe_gross data" in p.reason, p.reason
