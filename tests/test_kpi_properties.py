"""Properties of the KPI evaluator that must hold for any series (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.config.models import KPI
from chimera.kpi.evaluate import evaluate_series

START = date(2026, 3, 2)
DAYS = 40
AS_OF = START + timedelta(days=DAYS - 1)

money = st.decimals(min_value=Decimal(0), max_value=Decimal(5000), places=2, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=400)


def kpi(**kw) -> KPI:
    base = {"id": "k", "label": "K", "unit": "currency", "direction": "higher_is_better", "formula": "net_sales",
                "target": Decimal(10000), "warning": Decimal(8000), "critical": Decimal(5000), "owner": "x"}
    return KPI(**(base | kw))


def series_of(metric: str, values: list) -> dict:
    return {metric: {START + timedelta(days=i): Decimal(v) for i, v in enumerate(values)}}


@settings(max_examples=25, deadline=None)
@given(st.lists(money, min_size=DAYS, max_size=DAYS), st.booleans(), st.booleans())
def test_status_is_always_one_of_four_with_a_note(values, lower, anomaly):
    k = kpi(anomaly=anomaly, **({"direction": "lower_is_better", "target": Decimal(5000), "warning": Decimal(8000),
                                 "critical": Decimal(10000)} if lower else {}))
    r = evaluate_series(k, series_of("net_sales", values), AS_OF)
    assert r.status in {"OK", "WARNING", "CRITICAL", "UNKNOWN"}
    assert r.note.startswith("k ") and "\n" not in r.note
    assert (r.unknown_reason is None) == (r.status != "UNKNOWN")


@settings(max_examples=25, deadline=None)
@given(st.lists(money, min_size=DAYS, max_size=DAYS), st.sampled_from([Decimal(2), Decimal(10), Decimal("0.5")]))
def test_scaling_money_and_thresholds_together_keeps_the_status(values, factor):
    k = kpi()
    scaled = kpi(target=k.target * factor, warning=k.warning * factor, critical=k.critical * factor)
    a = evaluate_series(k, series_of("net_sales", values), AS_OF)
    b = evaluate_series(scaled, series_of("net_sales", [v * factor for v in values]), AS_OF)
    assert a.status == b.status
    assert a.value is not None and b.value is not None
    assert abs(b.value - a.value * factor) <= Decimal("0.01")
    if a.anomaly and b.anomaly:
        assert a.anomaly.level == b.anomaly.level


@settings(max_examples=25, deadline=None)
@given(st.lists(counts, min_size=DAYS, max_size=DAYS), st.lists(counts, min_size=DAYS, max_size=DAYS),
       st.integers(min_value=0, max_value=6))
def test_a_missing_day_in_the_window_gives_unknown_never_a_value(orders, sessions, hole):
    """A hole inside the window: UNKNOWN. A hole on as-of itself: the window ends the day before."""
    k = kpi(unit="percent", formula="orders / sessions", target=Decimal("0.03"), warning=Decimal("0.02"),
            critical=Decimal("0.01"))
    s = series_of("orders", orders) | series_of("sessions", sessions)
    del s["sessions"][AS_OF - timedelta(days=hole)]
    r = evaluate_series(k, s, AS_OF)
    if hole == 0:
        assert r.data_through == AS_OF - timedelta(days=1) and r.unknown_reason != "missing"
    else:
        assert r.status == "UNKNOWN" and r.value is None and r.unknown_reason == "missing"
        assert str(AS_OF - timedelta(days=hole)) in r.note


@settings(max_examples=25, deadline=None)
@given(st.lists(counts, min_size=DAYS, max_size=DAYS))
def test_rate_values_stay_between_zero_and_one(values):
    s = series_of("refunded_orders", [v // 3 for v in values]) | series_of("orders", values)
    k = kpi(unit="percent", direction="lower_is_better", formula="refunded_orders / orders",
            target=Decimal("0.03"), warning=Decimal("0.06"), critical=Decimal("0.1"))
    r = evaluate_series(k, s, AS_OF)
    assert r.value is None or Decimal(0) <= r.value <= Decimal(1)
