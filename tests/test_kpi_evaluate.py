"""KPI evaluation on synthetic in-memory series: thresholds, recovery, confirmation, UNKNOWN reasons,
anomalies with weekly seasonality, and the helpers other modules call (change_pct, daily_states)."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from chimera.config.models import KPI
from chimera.kpi.evaluate import change_pct, daily_states, evaluate_series
from chimera.kpi.formula import Series

START = date(2026, 1, 5)  # a Monday
WEEKDAY = [0.94, 0.91, 0.93, 0.97, 1.04, 1.14, 1.07]


def spec(**kw) -> KPI:
    base = {"id": "k", "label": "K", "unit": "count", "direction": "higher_is_better", "formula": "orders",
            "window": "7d", "target": Decimal(100), "warning": Decimal(80), "critical": Decimal(60), "owner": "x",
            "anomaly": False}
    return KPI(**(base | kw))


def flat(metric: str, values: list[float | int], start: date = START) -> Series:
    return {metric: {start + timedelta(days=i): Decimal(str(v)) for i, v in enumerate(values)}}


def day(i: int) -> date:
    return START + timedelta(days=i)


def rate_series(days: int, rate_of_day, sessions: int = 3000, seed: int = 3) -> Series:
    """Sessions with a weekly pattern; orders binomial-ish around ``rate_of_day(i)``."""
    rng = random.Random(seed)
    out: Series = {"sessions": {}, "orders": {}}
    for i in range(days):
        s = int(sessions * WEEKDAY[i % 7] * rng.uniform(0.95, 1.05))
        p = rate_of_day(i)
        o = max(0, round(s * p + rng.gauss(0, math.sqrt(s * p * (1 - p)))))
        out["sessions"][day(i)], out["orders"][day(i)] = Decimal(s), Decimal(o)
    return out


CONVERSION = {"id": "conversion_rate", "unit": "percent", "formula": "orders / sessions",
              "target": Decimal("0.024"), "warning": Decimal("0.001"), "critical": Decimal("0.0005"),
              "anomaly": True, "min_denominator": Decimal(500)}


# --------------------------------------------------------------------------- value and thresholds


def test_value_is_ratio_of_window_sums_not_mean_of_daily_ratios():
    s = {"orders": {day(i): Decimal(o) for i, o in enumerate([1, 9])},
         "sessions": {day(i): Decimal(n) for i, n in enumerate([10, 90])}}
    r = evaluate_series(spec(unit="ratio", formula="orders / sessions", window="2d", target=Decimal(0),
                             warning=Decimal(0), critical=Decimal(0)), s, day(1))
    assert r.value == Decimal("0.1000")  # (1 + 9) / (10 + 90), not mean(0.1, 0.1) by luck: check below
    s["orders"][day(0)] = Decimal(5)
    r = evaluate_series(spec(unit="ratio", formula="orders / sessions", window="2d", target=Decimal(0),
                             warning=Decimal(0), critical=Decimal(0)), s, day(1))
    assert r.value == (Decimal(14) / Decimal(100)).quantize(Decimal("0.0001"))


@pytest.mark.parametrize("direction,values,expected", [
    ("higher_is_better", [15] * 10, "OK"),        # 105/week >= target
    ("higher_is_better", [11] * 10, "WARNING"),   # 77 < 80
    ("higher_is_better", [8] * 10, "CRITICAL"),   # 56 < 60
    ("lower_is_better", [8] * 10, "OK"),
    ("lower_is_better", [13] * 10, "WARNING"),    # 91 > 80
    ("lower_is_better", [20] * 10, "CRITICAL"),   # 140 > 120
])
def test_threshold_directions(direction, values, expected):
    kw = {} if direction == "higher_is_better" else {"target": Decimal(60), "warning": Decimal(80),
                                                          "critical": Decimal(120)}
    r = evaluate_series(spec(direction=direction, **kw), flat("orders", values), day(len(values) - 1))
    assert r.status == expected
    assert r.threshold_status == expected
    assert r.value == Decimal(sum(values[-7:]))
    assert r.note.startswith(f"k {r.value} over 7d to {day(len(values) - 1)}")


def test_two_day_confirmation_raises_only_on_the_second_day():
    values = [12] * 7 + [10] * 7  # weekly sums 84, 82, 80, 78, ...: below warning 80 from day 9
    s = flat("orders", values)
    windows = [sum(values[i - 6:i + 1]) for i in range(6, len(values))]
    first_bad = next(i for i, w in zip(range(6, len(values)), windows, strict=True) if w < 80)
    assert evaluate_series(spec(), s, day(first_bad - 1)).status == "OK"
    pending = evaluate_series(spec(), s, day(first_bad))
    assert pending.status == "OK" and "needs 2 to confirm" in pending.note
    assert evaluate_series(spec(), s, day(first_bad + 1)).status == "WARNING"


def test_recovery_threshold_keeps_warning_until_back_past_it():
    k = spec(warning_recovery=Decimal(90))
    values = [10] * 9 + [12] * 7 + [14] * 7  # weekly 70 (WARNING), 84 (< recovery 90), 98 (recovered)
    s = flat("orders", values)
    assert evaluate_series(k, s, day(8)).status == "WARNING"
    held = evaluate_series(k, s, day(15))  # window sum 84: above warning 80, below recovery 90
    assert held.value == 84 and held.status == "WARNING" and "recovery 90" in held.note
    assert evaluate_series(spec(), s, day(15)).status == "OK"  # without a recovery band it clears
    assert evaluate_series(k, s, day(22)).status == "OK"


def test_replay_is_deterministic_and_ignores_data_after_as_of():
    s = flat("orders", [10] * 30)
    a = evaluate_series(spec(), s, day(20))
    s2 = {"orders": dict(s["orders"]) | {day(i): Decimal(99) for i in range(21, 40)}}
    assert evaluate_series(spec(), s2, day(20)) == a


# --------------------------------------------------------------------------- UNKNOWN reasons


def test_missing_day_in_window_is_unknown_with_the_days():
    s = flat("orders", [15] * 20) | flat("sessions", [500] * 20)
    for i in (12, 13, 14):
        del s["sessions"][day(i)]
    k = spec(unit="percent", formula="orders / sessions", target=Decimal("0.02"), warning=Decimal("0.01"),
             critical=Decimal("0.005"))
    r = evaluate_series(k, s, day(16))
    assert r.status == "UNKNOWN" and r.unknown_reason == "missing" and r.value is None
    assert r.note == f"k UNKNOWN: sessions missing on {day(12)}..{day(14)}"


def test_stale_data_is_unknown_but_a_small_lag_reads_the_newest_complete_window():
    s = flat("orders", [15] * 20)
    ok = evaluate_series(spec(max_staleness_days=2), s, day(21))
    assert ok.status == "OK" and ok.data_through == day(19)
    stale = evaluate_series(spec(max_staleness_days=2), s, day(22))
    assert stale.status == "UNKNOWN" and stale.unknown_reason == "stale"
    assert f"orders data ends {day(19)}, 3 days before {day(22)} (max 2)" in stale.note


def test_no_data_and_small_denominator_and_zero_denominator():
    k = spec(unit="percent", formula="orders / sessions", target=Decimal("0.02"), warning=Decimal("0.01"),
             critical=Decimal("0.005"), min_denominator=Decimal(1000))
    assert evaluate_series(k, flat("orders", [1] * 10), day(9)).unknown_reason == "no_data"
    small = evaluate_series(k, flat("orders", [1] * 10) | flat("sessions", [100] * 10), day(9))
    assert small.unknown_reason == "denominator" and "below the minimum 1,000" in small.note
    zero = evaluate_series(k.model_copy(update={"min_denominator": Decimal(0)}),
                           flat("orders", [0] * 10) | flat("sessions", [0] * 10), day(9))
    assert zero.unknown_reason == "zero" and zero.status == "UNKNOWN"


def test_anomaly_kpi_needs_three_weeks_of_history():
    s = rate_series(24, lambda i: 0.024)
    r = evaluate_series(spec(**CONVERSION), s, day(23))
    assert r.status == "UNKNOWN" and r.unknown_reason == "history" and r.value is not None
    assert evaluate_series(spec(**CONVERSION), s | rate_series(35, lambda i: 0.024), day(34)).status == "OK"


# --------------------------------------------------------------------------- anomalies


def test_conversion_drop_is_flagged_within_a_week_despite_weekly_seasonality():
    s = rate_series(84, lambda i: 0.024 if i < 63 else 0.018)
    k = spec(**CONVERSION)
    quiet = [evaluate_series(k, s, day(i)).status for i in range(35, 63)]
    assert set(quiet) == {"OK"}
    after = {i: evaluate_series(k, s, day(i)) for i in range(63, 71)}
    flagged = [i for i, r in after.items() if r.status in ("WARNING", "CRITICAL")]
    assert flagged and flagged[0] - 63 <= 7
    worst = after[70]
    assert worst.status == "CRITICAL" and worst.anomaly and worst.anomaly.flagged
    assert worst.anomaly.sd_score <= -4 and worst.anomaly.change_pct <= -20
    assert "sd below its" in worst.note and "-week baseline 2.4" in worst.note


def test_persistent_shift_stays_flagged_because_flagged_windows_leave_the_baseline():
    s = rate_series(100, lambda i: 0.024 if i < 63 else 0.018)
    k = spec(**CONVERSION)
    for i in (63 + 14, 63 + 21):
        r = evaluate_series(k, s, day(i))
        assert r.status in ("WARNING", "CRITICAL") and r.anomaly and r.anomaly.flagged
        assert r.anomaly.baseline > Decimal("0.023")  # the shifted weeks never became the baseline


def test_anomaly_only_in_the_bad_direction():
    s = rate_series(84, lambda i: 0.024 if i < 63 else 0.034)
    r = evaluate_series(spec(**CONVERSION), s, day(75))
    assert r.status == "OK" and r.anomaly is not None and r.anomaly.sd_score > 4


def test_count_anomaly_uses_spread_and_needs_the_change_size():
    rng = random.Random(5)
    values = [round(60 * WEEKDAY[i % 7] + rng.gauss(0, 2)) for i in range(70)]
    drop = values[:63] + [round(v * 0.92) for v in values[63:]]  # -8 %: below the 10 % change floor
    k = spec(anomaly=True, target=Decimal(0), warning=Decimal(0), critical=Decimal(0))
    assert evaluate_series(k, flat("orders", drop), day(69)).status == "OK"
    big = values[:63] + [round(v * 0.6) for v in values[63:]]
    assert evaluate_series(k, flat("orders", big), day(69)).status == "CRITICAL"


def test_repeat_purchase_rate_from_customers():
    customers = {day(i): {f"c{i}": 1, "loyal": 1} for i in range(40)}
    series = flat("orders", [2] * 40)
    k = spec(id="repeat_purchase_rate", unit="percent", formula="repeat_purchase_rate", window="7d",
             target=Decimal("0.2"), warning=Decimal("0.1"), critical=Decimal("0.05"))
    r = evaluate_series(k, series, day(39), customers)
    assert r.value == (Decimal(1) / Decimal(8)).quantize(Decimal("0.000001"))  # loyal of 8 buyers
    assert r.status == "OK"
    assert evaluate_series(k, series, day(39)).unknown_reason == "no_data"


# --------------------------------------------------------------------------- helpers others call


def test_change_pct_compares_with_the_window_before():
    s = flat("orders", [10] * 7 + [12] * 7)
    assert change_pct(spec(), s, day(13), 7) == Decimal(20)
    assert change_pct(spec(), s, day(12), 7) is None  # the window before starts before the data
    s["orders"][day(-1)] = Decimal(5)
    assert change_pct(spec(), s, day(12), 7) == (Decimal(10 + 12 * 6) - 65) / 65 * 100


def test_daily_states_match_evaluate_series_day_by_day():
    s = rate_series(90, lambda i: 0.024 if i < 63 else 0.017)
    k = spec(**CONVERSION)
    states = daily_states(k, s, day(50), day(89))
    assert list(states) == [day(i) for i in range(50, 90)]
    for d in (day(50), day(66), day(70), day(89)):
        r = evaluate_series(k, s, d)
        assert states[d].status == r.status and states[d].value == r.value
        assert states[d].anomalous == bool(r.anomaly and r.anomaly.flagged)
    assert any(st.anomalous for st in states.values())


def test_repeat_rate_sliding_counts_match_a_fresh_count_in_any_order():
    from chimera.kpi.window import KPIWindows

    rng = random.Random(9)
    customers = {day(i): {f"c{rng.randint(0, 60)}": rng.randint(1, 2) for _ in range(rng.randint(0, 8))}
                 for i in range(80)}
    k = spec(id="repeat_purchase_rate", unit="percent", formula="repeat_purchase_rate", window="30d",
             target=Decimal("0.2"), warning=Decimal("0.1"), critical=Decimal("0.05"))
    windows = KPIWindows(k, flat("orders", [1] * 80), customers)
    ends = [day(i) for i in range(29, 80)]
    rng.shuffle(ends)
    for end in ends:
        counts: dict[str, int] = {}
        for d in (end - timedelta(days=j) for j in range(30)):
            for c, n in customers[d].items():
                counts[c] = counts.get(c, 0) + n
        expected = Decimal(sum(n >= 2 for n in counts.values())) / Decimal(len(counts)) if counts else None
        assert windows.at(end).value == expected
