"""The evaluator on stores it has never seen: seeded generator stores of several seeds, start dates
(history across a DST change, events across a year end) and sizes (a tiny shop of ~5 orders a day,
a large one), with known injected events. Series come from the generator's own truth (what the
exports contain per day), so these tests judge the evaluator, not the readers."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from chimera.config.loader import load_config_set
from chimera.config.models import KPI
from chimera.demo.generator import (
    AnalyticsGap,
    ConversionDrop,
    DemoEvents,
    RefundSpike,
    WeeklySeasonality,
    generate_store,
)
from chimera.kpi.evaluate import daily_states, evaluate_series
from chimera.kpi.fmt import fmt
from chimera.kpi.formula import Series
from chimera.kpi.models import KPIResult
from chimera.kpi.status import recovery

DAYS = 112
EVENT_DAY = 84  # 12 weeks of history before any event
SIZES = {"tiny": 5.0, "small": 40.0, "large": 250.0}
# (seed, start): the first's history crosses a year end and its events start the day after the
# March DST change; the second's history crosses the November DST change and its events cross
# 2026-12-31; the third is plain spring/summer.
# The first run of each size is in the default test command; the others are the `sweep` (run with
# CHIMERA_SWEEP=1 bash scripts/test.sh): each of these stories costs seconds per size and seed.
RUNS = [pytest.param(3, date(2025, 12, 15), id="3-2025-12-15"),
        pytest.param(17, date(2026, 10, 5), id="17-2026-10-05", marks=pytest.mark.sweep),
        pytest.param(29, date(2026, 4, 20), id="29-2026-04-20", marks=pytest.mark.sweep)]
CASES = [pytest.param(size, *run.values, id=f"{size}-{run.id}", marks=run.marks) for size in SIZES for run in RUNS]
SHOP_KPIS = ("net_revenue", "net_sales", "orders", "aov", "units_per_order", "discount_rate", "sessions",
             "conversion_rate", "failed_payment_rate", "refund_rate_orders", "refund_rate_amount",
             "cancellation_rate", "stripe_fee_share")
SCALED = ("net_revenue", "net_sales", "orders", "sessions")  # thresholds that depend on the shop's size
EVENTS = {
    "quiet": DemoEvents(weekly=WeeklySeasonality()),
    "drop": DemoEvents(weekly=WeeklySeasonality(), conversion_drop=ConversionDrop(day=EVENT_DAY, relative_change=-0.4)),
    "incidents": DemoEvents(weekly=WeeklySeasonality(), refund_spike=RefundSpike(day=EVENT_DAY - 14, probability=0.2),
                            analytics_gap=AnalyticsGap(day=EVENT_DAY, days=5)),
}


@cache
def _store(kind: str, size: str, seed: int, start: date) -> tuple[Series, dict[date, dict[str, int]]]:
    """The generated store's daily base metrics (a day absent from an export stays absent)."""
    with TemporaryDirectory() as tmp:
        store = generate_store(Path(tmp), start=start, days=DAYS, seed=seed, events=EVENTS[kind],
                               orders_per_day=SIZES[size], malformed=0)
    series: Series = {}
    for part in (store.truth.shopify, store.truth.stripe, store.truth.analytics, store.truth.fiverr):
        for day, metrics in part.items():
            for metric, value in metrics.items():
                series.setdefault(metric, {})[day] = value
    return series, store.truth.customers


@lru_cache(maxsize=1)
def _base_specs() -> dict[str, KPI]:
    return {k.id: k for k in load_config_set().kpis.kpis}


def _specs(size: str) -> dict[str, KPI]:
    """The default KPIs, with size-dependent thresholds scaled to the shop (as onboarding would)."""
    factor = Decimal(str(SIZES[size] * 7 / 100))  # the defaults are set for ~100 orders a week
    out = dict(_base_specs())
    for kpi_id in SCALED:
        k = out[kpi_id]
        out[kpi_id] = k.model_copy(update={key: (v * factor).quantize(Decimal(1)) for key in (
            "target", "warning", "critical", "warning_recovery", "critical_recovery")
            if (v := getattr(k, key)) is not None})
    return out


def _day(start: date, offset: int) -> date:
    return start + timedelta(days=offset)


def _truncated(series: Series, as_of: date) -> Series:
    return {m: {d: v for d, v in days.items() if d <= as_of} for m, days in series.items()}


# --------------------------------------------------------------------------- injected events


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_conversion_drop_goes_warning_or_critical_within_a_week(size, seed, start):
    series, _ = _store("drop", size, seed, start)
    spec = _specs(size)["conversion_rate"]
    drop = _day(start, EVENT_DAY)
    states = daily_states(spec, series, drop - timedelta(days=28), drop + timedelta(days=7))
    before = {d: (s.status, s.anomaly_level) for d, s in states.items() if d < drop}
    assert all(level != "CRITICAL" for _, level in before.values()), before
    if size != "tiny":
        assert all(status != "CRITICAL" for status, _ in before.values()), before
    # ~35 orders a week: a week's Poisson noise (+-17 %) can hide a 40 % drop for some days
    deadline = drop + timedelta(days=7 if size != "tiny" else 14)
    states |= daily_states(spec, series, drop + timedelta(days=8), deadline)
    raised = [d for d, s in states.items() if drop <= d <= deadline and s.status in ("WARNING", "CRITICAL")]
    assert raised, {d: (s.status, s.value) for d, s in states.items() if d >= drop}
    if size != "tiny":  # ~20 orders a week can read 2.1 % by chance
        assert evaluate_series(spec, series, _day(start, DAYS - 1)).status in ("WARNING", "CRITICAL")


def _assert_recovers_only_past_recovery(spec: KPI, states: dict) -> None:
    """A raised threshold status only steps down on a day whose value is back past its recovery."""
    days = sorted(states)
    rank = {"OK": 0, "WARNING": 1, "CRITICAL": 2}
    for prev, day in pairwise(days):
        a, b = states[prev], states[day]
        if a.threshold_status is None or b.threshold_status is None or b.value is None:
            continue
        level = rank[a.threshold_status]
        if rank[b.threshold_status] < level:
            bound = recovery(spec, level)
            better = b.value >= bound if spec.direction == "higher_is_better" else b.value <= bound
            assert better, (day, a.threshold_status, b.threshold_status, b.value, bound)


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_raised_statuses_clear_only_past_their_recovery_threshold(size, seed, start):
    for kind in ("drop", "incidents", "quiet"):
        series, _ = _store(kind, size, seed, start)
        for kpi_id in ("conversion_rate", "refund_rate_orders", "refund_rate_amount", "aov", "orders"):
            spec = _specs(size)[kpi_id]
            _assert_recovers_only_past_recovery(spec, daily_states(spec, series, _day(start, 35),
                                                                   _day(start, DAYS - 1)))


def _written(start: date, rates: list[tuple[int, int]]) -> Series:
    """Constant 10,000 sessions a day and ``orders`` a day for ``days`` days per segment."""
    series: Series = {"sessions": {}, "orders": {}}
    i = 0
    for days, orders in rates:
        for _ in range(days):
            series["sessions"][_day(start, i)] = Decimal(10000)
            series["orders"][_day(start, i)] = Decimal(orders)
            i += 1
    return series


def test_recovery_needs_the_recovery_threshold_not_just_the_raise_threshold():
    """2.4 % for 6 weeks, 1.4 % (critical), 1.55 % (above critical 1.5 %, below its recovery 1.6 %),
    1.95 % (warning), 2.05 % (above warning 2.0 %, below its recovery 2.1 %), then 2.4 % again."""
    spec = _base_specs()["conversion_rate"].model_copy(update={"anomaly": False})
    start = date(2026, 10, 19)
    plan = [(42, 240), (14, 140), (14, 155), (14, 195), (14, 205), (14, 240)]
    series = _written(start, plan)
    ends = {}
    offset = 0
    for days, orders in plan:
        offset += days
        ends[orders] = _day(start, offset - 1)  # the window is all one segment here
    status = {orders: evaluate_series(spec, series, day) for orders, day in ends.items()}
    assert status[140].status == "CRITICAL"
    assert status[155].status == "CRITICAL" and "not yet back past critical recovery 1.60%" in status[155].note
    assert status[195].status == "WARNING"
    assert status[205].status == "WARNING" and "not yet back past warning recovery 2.10%" in status[205].note
    assert status[240].status == "OK"
    _assert_recovers_only_past_recovery(spec, daily_states(spec, series, _day(start, 42), ends[240]))


@pytest.mark.parametrize(("healthy", "dropped", "expected"), [(240, 140, "CRITICAL"), (400, 260, "CRITICAL")])
def test_a_gap_during_a_drop_reads_unknown_then_the_same_status_never_ok(healthy, dropped, expected):
    """A drop past critical (240 -> 140 orders a day: 1.40 %), or one only the anomaly check sees
    (4.00 % -> 2.60 %, above target), then 5 days without analytics while it lasts: the days whose
    window holds the gap are UNKNOWN (missing) and the first day after it is raised again, not OK."""
    start = date(2026, 12, 7)  # the gap sits across the year end
    series = _written(start, [(42, healthy), (30, dropped)])
    gap = [_day(start, 55 + i) for i in range(5)]
    for day in gap:
        del series["sessions"][day]
    spec = _base_specs()["conversion_rate"]
    states = daily_states(spec, series, _day(start, 50), _day(start, 71))
    assert states[gap[0] - timedelta(days=1)].status == expected
    seen = [s.status for s in states.values() if s.status != "UNKNOWN"]
    assert set(seen) == {expected}, {d: s.status for d, s in states.items()}
    assert all(states[gap[-1] + timedelta(days=i)].unknown_reason == "missing" for i in range(1, 7))
    first = evaluate_series(spec, series, gap[-1] + timedelta(days=7))
    assert first.status == expected and "for 1 day" not in first.note, first.note


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_analytics_gap_makes_conversion_unknown_with_the_reason_not_critical(size, seed, start):
    series, _ = _store("incidents", size, seed, start)
    specs = _specs(size)
    gap_start, gap_end = _day(start, EVENT_DAY), _day(start, EVENT_DAY + 4)
    states = daily_states(specs["conversion_rate"], series, gap_start, gap_end + timedelta(days=6))
    for day, s in states.items():
        r = evaluate_series(specs["conversion_rate"], series, day)
        assert r.status == s.status
        if r.data_through is not None and r.data_through < gap_start and r.status != "UNKNOWN":
            continue  # analytics lags at most max_staleness_days: judged on the week before the gap
        assert r.status == "UNKNOWN", (day, r.note)
        if r.unknown_reason == "missing":
            m = re.search(r"sessions missing on (\d{4}-\d\d-\d\d)(?:\.\.(\d{4}-\d\d-\d\d))?$", r.note)
            assert m, r.note
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2) or m.group(1))
            assert gap_start <= first <= last == gap_end and first == max(gap_start, day - timedelta(days=6))
        else:
            assert r.unknown_reason == "stale" and f"sessions data ends {gap_start - timedelta(days=1)}" in r.note
    covering = [gap_end + timedelta(days=i) for i in range(1, 7)]
    assert all(states[d].unknown_reason == "missing" for d in covering)
    for kpi_id in ("orders", "net_revenue", "aov"):  # shop KPIs do not read analytics
        shop = daily_states(specs[kpi_id], series, gap_start, gap_end + timedelta(days=6))
        assert all(s.unknown_reason in (None, "denominator") for s in shop.values()), kpi_id


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_refund_spike_raises_refund_rate_status(size, seed, start):
    series, _ = _store("incidents", size, seed, start)
    spec = _specs(size)["refund_rate_orders"]
    spike = _day(start, EVENT_DAY - 14)
    states = daily_states(spec, series, spike, spike + timedelta(days=9))
    raised = [d for d, s in states.items() if s.status in ("WARNING", "CRITICAL")]
    assert raised and raised[0] <= spike + timedelta(days=5), {d: (s.status, s.value) for d, s in states.items()}
    quiet, _ = _store("quiet", size, seed, start)
    same_days = daily_states(spec, quiet, spike, spike + timedelta(days=9))
    assert sum(s.status == "OK" for s in same_days.values()) > sum(s.status == "OK" for s in states.values())


# --------------------------------------------------------------------------- quiet and tiny shops


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_quiet_stores_raise_no_critical(size, seed, start):
    series, _ = _store("quiet", size, seed, start)
    specs = _specs(size)
    for kpi_id in SHOP_KPIS:
        states = daily_states(specs[kpi_id], series, _day(start, 35), _day(start, DAYS - 1))
        assert not [d for d, s in states.items() if s.anomaly_level == "CRITICAL"], kpi_id
        if size != "tiny":
            assert not [d for d, s in states.items() if s.status == "CRITICAL"], kpi_id
        else:  # a tiny shop's rates may pass a threshold on a few events, never by the anomaly check alone
            for d, s in states.items():
                assert s.status != "CRITICAL" or s.threshold_status == "CRITICAL", (kpi_id, d)


@pytest.mark.parametrize(("seed", "start"), RUNS)
def test_tiny_shop_small_denominators_are_unknown_with_the_reason(seed, start):
    series, _ = _store("quiet", "tiny", seed, start)
    specs = _specs("tiny")
    seen = 0
    for kpi_id in ("aov", "units_per_order", "failed_payment_rate", "refund_rate_orders", "cancellation_rate"):
        spec = specs[kpi_id]
        for day in (_day(start, i) for i in range(35, DAYS)):
            r = evaluate_series(spec, series, day)
            denominator = _denominator(spec, series, r.data_through) if r.data_through else None
            if denominator is not None and denominator < spec.min_denominator:
                seen += 1
                assert r.status == "UNKNOWN" and r.unknown_reason == "denominator", r.note
                assert f"{denominator:,} over 7d to {r.data_through}, below the minimum " \
                       f"{int(spec.min_denominator)}" in r.note, r.note
            elif r.status == "UNKNOWN":
                assert r.unknown_reason in ("history", "zero"), r.note
    assert seen > 0  # the tiny shop does have weeks too thin to judge


def _denominator(spec: KPI, series: Series, end: date) -> int:
    metric = spec.formula.split("/")[1].strip()
    return int(sum(series[metric].get(end - timedelta(days=i), Decimal(0)) for i in range(7)))


# --------------------------------------------------------------------------- replay and notes


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_replaying_as_of_gives_identical_output(size, seed, start):
    """The same day judged twice, and judged with later data present, gives the same result."""
    for kind in ("drop", "incidents"):
        series, customers = _store(kind, size, seed, start)
        for offset in (EVENT_DAY - 1, EVENT_DAY + 3, EVENT_DAY + 9):
            as_of = _day(start, offset)
            past = _truncated(series, as_of)
            past_customers = {d: c for d, c in customers.items() if d <= as_of}
            for spec in _specs(size).values():
                full = evaluate_series(spec, series, as_of, customers)
                assert evaluate_series(spec, series, as_of, customers) == full
                assert evaluate_series(spec, past, as_of, past_customers) == full, (spec.id, as_of)


def _check_note(spec: KPI, r: KPIResult) -> None:
    """The note states the numbers the result holds."""
    assert r.note.startswith(f"{spec.id} ") and "\n" not in r.note
    if r.status == "UNKNOWN" and r.note.startswith(f"{spec.id} UNKNOWN: "):
        assert r.unknown_reason in ("no_data", "stale", "missing", "denominator", "zero"), r
        if r.unknown_reason == "denominator":
            assert f"to {r.data_through}, below the minimum {fmt(spec.min_denominator, 'count')}" in r.note
        return
    if r.value is not None and r.data_through is not None:
        head = re.match(rf"{spec.id} (-?[\d,]+(?:\.\d+)?)%? over {spec.window} to {r.data_through}\b", r.note)
        assert head, r.note
        _close(head.group(1), r.value, spec.unit)
    if r.status == "UNKNOWN":
        assert "UNKNOWN: " in r.note and r.unknown_reason
        return
    phrase = {"CRITICAL": f"critical {fmt(spec.critical, spec.unit)}",
              "WARNING": f"warning {fmt(spec.warning, spec.unit)}"}
    if r.threshold_status in phrase:
        assert phrase[r.threshold_status] in r.note or "recovery" in r.note, r.note
    if r.threshold_status != "OK" and "recovery" in r.note:
        level = 2 if r.threshold_status == "CRITICAL" else 1
        assert fmt(recovery(spec, level), spec.unit) in r.note
    a = r.anomaly
    if a is not None and a.raw_level != "OK":
        m = re.search(rf"; (\d+\.\d+) sd (below|above) its {a.weeks}-week baseline (-?[\d,]+(?:\.\d+)?)%?", r.note)
        assert m, r.note
        assert abs(Decimal(m.group(1)) - abs(a.sd_score)) <= Decimal("0.055"), (r.note, a.sd_score)
        assert m.group(2) == ("below" if a.sd_score < 0 else "above")
        _close(m.group(3), a.baseline, spec.unit)
    if r.status != "OK":
        assert r.status == r.threshold_status or (a is not None and a.level == r.status), r


def _close(shown: str, value: Decimal, unit: str) -> None:
    """``shown`` (as a note prints it) is ``value`` to the note's precision (half a last digit; the
    reported value is itself rounded, so a tie may print either way)."""
    number = Decimal(shown.replace(",", ""))
    exact = value * 100 if unit == "percent" else value
    step = Decimal(1).scaleb(number.as_tuple().exponent)
    assert abs(number - exact) <= step / 2 + Decimal("0.000001") * (100 if unit == "percent" else 1), (shown, value)


@pytest.mark.parametrize(("size", "seed", "start"), CASES)
def test_notes_contain_the_numbers_they_claim(size, seed, start):
    statuses = set()
    for kind in EVENTS:
        series, customers = _store(kind, size, seed, start)
        for offset in range(EVENT_DAY - 3, DAYS, 4):
            for spec in _specs(size).values():
                r = evaluate_series(spec, series, _day(start, offset), customers)
                _check_note(spec, r)
                statuses.add(r.status)
    assert {"OK", "UNKNOWN"} <= statuses and statuses & {"WARNING", "CRITICAL"}


def test_the_issue_example_note_reads_value_threshold_window_end_and_baseline():
    series, _ = _store("drop", "large", 17, date(2026, 10, 5))
    end = _day(date(2026, 10, 5), EVENT_DAY + 7)
    r = evaluate_series(_specs("large")["conversion_rate"], series, end)
    pattern = (rf"^conversion_rate (\d+\.\d\d)% over 7d to {end}, below (warning 2\.00|critical 1\.50)%; "
               r"(\d+\.\d+) sd below its 4-week baseline (\d+\.\d\d)% \(-\d+\.\d%\)$")
    m = re.match(pattern, r.note)
    assert m, r.note
    assert Decimal(m.group(1)) == (r.value * 100).quantize(Decimal("0.01"))
    assert r.anomaly is not None and Decimal(m.group(4)) == (r.anomaly.baseline * 100).quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- the CLI contract


def test_cli_json_matches_design_section_7_and_replays(chimera_home):
    from chimera.cli import _register, app
    from chimera.clients import add_client
    from chimera.db.engine import session_scope
    from chimera.db.models import CustomerDay, MetricPoint, encode_customers

    start = date(2026, 10, 5)
    series, customers = _store("drop", "large", 17, start)
    ctx = add_client("unseen")
    as_of = _day(start, EVENT_DAY + 7)

    def insert_days(keep) -> None:
        points = [{"company_id": ctx.company_id, "metric": m, "day": d, "source": "test", "value": str(v)}
                  for m, days in series.items() for d, v in days.items() if keep(d)]
        buyers = [{"company_id": ctx.company_id, "source": "test", "day": d,
                   "orders_by_customer": encode_customers(c)} for d, c in customers.items() if keep(d)]
        with session_scope() as s:
            s.execute(insert(MetricPoint), points)
            s.execute(insert(CustomerDay), buyers)

    insert_days(lambda d: d <= as_of)
    _register()
    argv = ["kpis", "--client", "unseen", "--as-of", as_of.isoformat(), "--json"]
    first = CliRunner().invoke(app, argv)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert set(doc) == {"client", "as_of", "kpis"}
    assert doc["client"] == "unseen" and doc["as_of"] == as_of.isoformat()
    specs = _base_specs()
    assert [k["id"] for k in doc["kpis"]] == list(specs)
    keys = {"id", "status", "value", "target", "warning", "critical", "window", "data_through", "note"}
    for k in doc["kpis"]:
        spec = specs[k["id"]]
        assert set(k) == keys and k["status"] in {"OK", "WARNING", "CRITICAL", "UNKNOWN"}
        assert k["value"] is None or (isinstance(k["value"], str) and Decimal(k["value"]) >= 0)
        assert (Decimal(k["target"]), Decimal(k["warning"]), Decimal(k["critical"])) == (
            spec.target, spec.warning, spec.critical)
        assert k["window"] == spec.window
        assert k["data_through"] is None or date.fromisoformat(k["data_through"]) <= as_of
        assert k["note"].startswith(k["id"] + " ")
    by_id = {k["id"]: k for k in doc["kpis"]}
    assert by_id["conversion_rate"]["status"] in ("WARNING", "CRITICAL")
    for k in doc["kpis"]:
        assert (k["status"] == "UNKNOWN") == ("UNKNOWN: " in k["note"]), k
        assert k["status"] == "UNKNOWN" or (k["value"] is not None and k["data_through"] is not None), k
        if k["value"] is not None and k["status"] != "UNKNOWN":
            assert k["note"].startswith(f"{k['id']} ") and f" to {k['data_through']}" in k["note"], k

    again = CliRunner().invoke(app, argv)
    assert again.stdout == first.stdout
    insert_days(lambda d: d > as_of)  # later data arrives: the replay of as-of is unchanged
    later = CliRunner().invoke(app, argv)
    assert later.exit_code == 0 and later.stdout == first.stdout
