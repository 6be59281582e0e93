"""Regressions of the KPI probe: calibration on a history without variation, flagged windows kept
out of the anomaly baseline (a persisting drop stays flagged), no flapping while the value and the
baseline stay put, and a rate that jumps from a zero baseline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from chimera.config.models import KPI
from chimera.kpi.calibrate import propose_for_series
from chimera.kpi.evaluate import daily_states, evaluate_series
from chimera.kpi.formula import Series

START = date(2024, 10, 1)
RANK = {"OK": 0, "WARNING": 1, "CRITICAL": 2}


def day(i: int) -> date:
    return START + timedelta(days=i)


def spec(**kw) -> KPI:
    base = {"id": "k", "label": "K", "unit": "count", "direction": "higher_is_better", "formula": "orders",
            "window": "7d", "target": Decimal(0), "warning": Decimal(0), "critical": Decimal(0), "owner": "x",
            "anomaly": True}
    return KPI(**(base | kw))


def segments(metric: str, plan: list[tuple[int, int]]) -> Series:
    """``metric`` at ``value`` a day for ``days`` days, segment after segment."""
    out: dict[date, Decimal] = {}
    for days, value in plan:
        for _ in range(days):
            out[day(len(out))] = Decimal(value)
    return {metric: out}


REFUND = {"id": "refund_rate_orders", "unit": "percent", "direction": "lower_is_better",
          "formula": "refunded_orders / orders", "target": Decimal("0.03"), "warning": Decimal("0.06"),
          "critical": Decimal("0.10"), "warning_recovery": Decimal("0.05"), "critical_recovery": Decimal("0.08"),
          "min_denominator": Decimal(30)}
FAILED = {"id": "failed_payment_rate", "unit": "percent", "direction": "lower_is_better",
          "formula": "stripe_failed_payments / stripe_payments", "target": Decimal("0.5"),
          "warning": Decimal("0.6"), "critical": Decimal("0.7"), "min_denominator": Decimal(30)}


# --------------------------------------------------------------------------- 1: calibration


def test_calibration_keeps_configured_thresholds_when_history_is_all_zero():
    k = spec(**REFUND, anomaly=False)
    series = segments("orders", [(91, 43)]) | segments("refunded_orders", [(91, 0)])
    p = propose_for_series(k, series, day(90))
    assert p.enough_history and p.proposed == {}
    assert p.reason == "history has no variation (all 0.00%): keeping configured 3.00%/6.00%/10.00%"
    # the thresholds a user keeps: 2 refunds of 301 orders is above target, not CRITICAL
    later = {m: dict(v) for m, v in series.items()}
    for i in (91, 92):
        later["orders"][day(i)], later["refunded_orders"][day(i)] = Decimal(43), Decimal(1)
    r = evaluate_series(k, later, day(92))
    assert r.status == "OK" and r.value == Decimal("0.006645")


@pytest.mark.parametrize("direction", ["higher_is_better", "lower_is_better"])
@pytest.mark.parametrize("values", [
    [0, 0, 0, 0, 0, 0, 0, 1],            # almost all zero: percent rounding and clamping collapse it
    [5] * 13 + [6],                      # a count with almost no spread
    [120, 80, 95, 130, 60, 110, 90, 105],
    [40, 41, 40, 40, 41, 40, 40, 40],
])
def test_calibration_never_proposes_equal_or_crossed_thresholds(direction, values):
    for unit, formula, metrics in (("count", "orders", None), ("percent", "refunded_orders / orders", 100000)):
        kw = {"unit": unit, "formula": formula, "direction": direction, "warning_recovery": Decimal(0),
              "critical_recovery": Decimal(0)}
        if direction == "lower_is_better":
            kw |= {"target": Decimal(0), "warning": Decimal(0), "critical": Decimal(0)}
        k = spec(**kw, anomaly=False)
        daily = [v for v in values for _ in range(7)]
        if metrics:
            series = segments("orders", [(len(daily), metrics)])
            series |= {"refunded_orders": {day(i): Decimal(v) for i, v in enumerate(daily)}}
        else:
            series = {"orders": {day(i): Decimal(v) for i, v in enumerate(daily)}}
        p = propose_for_series(k, series, day(len(daily) - 1))
        assert p.enough_history, p.reason
        if not p.proposed:
            assert "keeping configured" in p.reason
            continue
        order = [p.proposed[key] for key in ("target", "warning_recovery", "warning", "critical_recovery",
                                             "critical")]
        if direction == "higher_is_better":
            order = order[::-1]
        assert order == sorted(order) and len(set(order)) == len(order), (unit, p.proposed)
        KPI(**(k.model_dump() | p.proposed))  # the config rule accepts it


# --------------------------------------------------------------------------- 2 and 3: persisting drop

# the probe's store K: 50 orders a day, then 30 a day (-40 %) for 12 weeks; thresholds never cross
DROP = 35
PERSISTING = segments("orders", [(DROP, 50), (84, 30)])


def test_a_persisting_drop_stays_flagged_against_its_pre_drop_baseline():
    k = spec()
    states = daily_states(k, PERSISTING, day(DROP + 7), day(DROP + 83))
    assert {s.status for s in states.values()} == {"CRITICAL"}, {
        d: s.status for d, s in states.items() if s.status != "CRITICAL"}
    assert all(s.threshold_status == "OK" for s in states.values())
    for i in (DROP + 28, DROP + 42, DROP + 63, DROP + 83):  # the old look-back gave up after ~4 weeks
        r = evaluate_series(k, PERSISTING, day(i))
        assert r.anomaly is not None and r.anomaly.baseline == 350 and r.anomaly.change_pct == -40
        assert "sd below its" in r.note and "baseline 350 (-40.0%)" in r.note
        past = {"orders": {d: v for d, v in PERSISTING["orders"].items() if d <= day(i)}}
        assert evaluate_series(k, past, day(i)) == r  # an --as-of replay: later data changes nothing


def test_a_moving_sd_score_does_not_flap_the_status():
    """Every window reads 210 against 350 while the sd score moves with the weekday's spread: the
    raw level steps down to WARNING on some days, the status stays CRITICAL and says why."""
    k = spec()
    states = daily_states(k, PERSISTING, day(DROP + 6), day(DROP + 83))
    raised = [d for d, s in states.items() if s.status == "CRITICAL"]
    after = [s for d, s in states.items() if d >= raised[0]]
    assert {s.status for s in after} == {"CRITICAL"}
    held = [d for d, s in states.items() if d >= raised[0] and s.anomaly_raw_level != "CRITICAL"]
    assert held, "the series should have days whose raw level is below CRITICAL"
    r = evaluate_series(k, PERSISTING, held[0])
    assert r.status == "CRITICAL" and r.anomaly and r.anomaly.raw_level == "WARNING"
    assert "held CRITICAL until under 3 sd or 15%" in r.note and "(-40.0%)" in r.note
    assert evaluate_series(k, PERSISTING, held[0]) == r  # replayed: the same


def test_a_raised_anomaly_clears_once_the_drop_is_over_and_steps_down_only_past_recovery():
    k = spec()
    series = segments("orders", [(DROP, 50), (28, 30), (35, 50)])
    end = DROP + 28 + 34
    states = daily_states(k, series, day(DROP), day(end))
    assert states[day(end)].status == "OK"
    levels = [RANK[s.status] for s in states.values()]
    assert max(levels) == 2
    for (d0, a), (_, b) in zip(list(states.items()), list(states.items())[1:], strict=False):
        if RANK[b.status] < RANK[a.status]:  # a step down: the recovery rules no longer hold there
            r = evaluate_series(k, series, d0 + timedelta(days=1))
            assert r.anomaly is not None
            held = {2: (3, 15), 1: (2, 5)}[RANK[a.status]]
            assert abs(r.anomaly.sd_score) < held[0] or abs(r.anomaly.change_pct or 0) < held[1], r.note


# --------------------------------------------------------------------------- 4: zero baseline


def _payments(plan: list[tuple[int, int, int]]) -> Series:
    """``(days, paid, failed)`` segments; payments = paid + failed."""
    paid = segments("p", [(d, p + f) for d, p, f in plan])["p"]
    failed = segments("f", [(d, f) for d, _, f in plan])["f"]
    return {"stripe_payments": paid, "stripe_failed_payments": failed}


def test_a_rate_jumping_from_a_zero_baseline_is_an_anomaly():
    """0 failed of ~560 for weeks, then 1 failed a day (7 of 147): ~5 binomial sd, unbounded change."""
    k = spec(**FAILED)
    series = _payments([(40, 20, 0), (10, 20, 1)])
    r = evaluate_series(k, series, day(49))
    assert r.status == "CRITICAL" and r.threshold_status == "OK"
    assert r.anomaly is not None and r.anomaly.flagged and r.anomaly.baseline == 0
    assert r.anomaly.change_pct is None and r.anomaly.sd_score >= 4
    assert "sd above its 4-week baseline 0.00% (up from 0)" in r.note
    statuses = [s.status for s in daily_states(k, series, day(35), day(49)).values()]
    assert statuses[:5] == ["OK"] * 5 and statuses[-1] == "CRITICAL"


def test_a_zero_baseline_needs_enough_events_and_keeps_the_unknown_rules():
    k = spec(**FAILED)
    few = _payments([(40, 20, 0), (3, 20, 1), (7, 20, 0)])  # 3 failures of ~143: not enough
    assert {s.status for s in daily_states(k, few, day(35), day(49)).values()} == {"OK"}
    quiet = _payments([(50, 20, 0)])  # zero against zero: no change, no sd
    r = evaluate_series(k, quiet, day(49))
    assert r.status == "OK" and r.anomaly is not None and r.anomaly.sd_score == 0
    thin = _payments([(40, 3, 0), (10, 3, 1)])  # 28 payments a week: below the minimum 30
    r = evaluate_series(k, thin, day(49))
    assert r.status == "UNKNOWN" and r.unknown_reason == "denominator"


def test_calibration_leaves_an_incident_week_out_of_the_spread():
    """A refund spike in one of the 8 weeks widened the spread (plain sd) so much that the proposed
    warning sat far above any usual week and a repeat of the spike would not warn."""
    k = spec(**REFUND, anomaly=False)
    weekly_refunds = [2, 3, 2, 3, 2, 14, 3, 2]  # refunded orders per week of 70 orders; week 6 a spike
    orders, refunds = {}, {}
    for w, n in enumerate(weekly_refunds):
        for d in range(7):
            orders[day(7 * w + d)] = Decimal(10)
            refunds[day(7 * w + d)] = Decimal(n // 7 + (1 if d < n % 7 else 0))
    assert [sum(refunds[day(7 * w + d)] for d in range(7)) for w in range(8)] == weekly_refunds
    p = propose_for_series(k, {"orders": orders, "refunded_orders": refunds}, day(55))
    spike = Decimal(14) / Decimal(70)
    assert p.proposed and p.proposed["critical"] < spike  # the spike, if it came again, is CRITICAL
    assert "incident week(s)" in p.reason and "20.00%" in p.reason
    usual = [Decimal(n) / 70 for n in weekly_refunds if n != 14]
    assert p.proposed["warning"] < max(usual) * 2
