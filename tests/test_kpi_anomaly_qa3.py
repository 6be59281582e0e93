"""A lasting drop on a store with lumpy order values must not fade back to OK (QA3, Buenos Aires).

DATA.md: the baseline excludes flagged windows "or the alert fades back to OK after a few weeks
while the problem persists". QA3 saw it fade within days: orders -45 % for the last 12 days,
``net_sales`` CRITICAL on one day and OK the next at about -43 %. The weekly window of another weekday
that holds only the first 3 days of the drop (about -15 %, under the raise rules, so never flagged)
stays in the baseline of the next window of its weekday: it lowers the median and widens the spread
that money totals are scored against, so that one weekday's window read as the new normal. Stepping
down on that one day let the status flap weekly; clearing is now confirmed like raising (the
recovery rules must fail on two days running, ``anomaly.confirmed``), which keeps a lasting drop
raised. (Leaving such windows out of the baseline raised more false alarms on quiet stores,
benchmarks/anomaly_false_alarms.py.)
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import pytest

from chimera.config.loader import load_config_set
from chimera.config.models import KPI
from chimera.kpi.evaluate import daily_states
from chimera.kpi.formula import Series

START = date(2026, 1, 1)
DAYS, DROP = 90, 78  # the drop covers the last 12 days, as in QA3
LINES = (1, 1, 1, 2, 3, 5, 12)  # lines per order: a few big baskets make weekly sales lumpy
PRICES = tuple(Decimal(p) for p in ("34.90", "0", "289.95", "45.00", "0", "124.08"))


@cache
def specs() -> dict[str, KPI]:
    return {k.id: k for k in load_config_set().kpis.kpis}


def lumpy_shop(seed: int) -> Series:
    """~50 orders a day with no weekly pattern, orders x0.55 from day ``DROP`` on."""
    rnd = random.Random(seed)
    out: Series = {m: {} for m in ("orders", "net_sales", "total_sales", "refunded_amount")}
    for i in range(DAYS):
        d = START + timedelta(days=i)
        n = max(0, round(rnd.gauss(50, 50 ** 0.5)))
        if i >= DROP:
            n = round(n * 0.55)
        lines = sum(rnd.choice(LINES) for _ in range(n))
        sales = sum((rnd.choice(PRICES) * rnd.choice((1, 1, 2, 3)) for _ in range(lines)), Decimal(0))
        out["orders"][d], out["net_sales"][d] = Decimal(n), sales
        out["total_sales"][d], out["refunded_amount"][d] = sales * Decimal("1.18"), Decimal(0)
    return out


@pytest.mark.parametrize("seed", [25, 35])
@pytest.mark.parametrize("kpi_id", ["net_sales", "net_revenue"])
def test_a_lasting_drop_stays_raised_once_raised(seed, kpi_id):
    states = daily_states(specs()[kpi_id], lumpy_shop(seed), START + timedelta(days=DROP),
                          START + timedelta(days=DAYS - 1))
    levels = [s.anomaly_level for s in states.values()]
    first = next(i for i, level in enumerate(levels) if level in ("WARNING", "CRITICAL"))
    assert "OK" not in levels[first:], levels


def test_orders_hold_the_same_drop_throughout():
    """The count KPI (binomial score) is raised and stays raised: the drop is real and detectable."""
    states = daily_states(specs()["orders"], lumpy_shop(25), START + timedelta(days=DROP),
                          START + timedelta(days=DAYS - 1))
    levels = [s.anomaly_level for s in states.values()]
    first = next(i for i, level in enumerate(levels) if level == "CRITICAL")
    assert first <= 7 and set(levels[first:]) == {"CRITICAL"}, levels
