"""KPI evaluation, QA pass 4, on stores the project has never seen: values exactly on a threshold
("down is good" refund and cancellation rates, a count), a value that only rounds onto one, custom
formulas (a rate in percent points, a daily mean, a completion rate), money denominators, a status
held by its recovery threshold for weeks, a baseline missing because of a hole (not youth), a
3x-weekend store and a two-day holiday spike from the project's generator, and the CLI on a hand-made
UTC+13 store whose analytics lag Shopify by 2 days and whose data then stops.

The expected statuses follow from DATA.md "Judging a KPI" and kpis.yml's comments (a threshold is
raised strictly past it; 2 days to raise; a raised status clears past its recovery threshold;
UNKNOWN says why), not from a recorded output."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chimera.config.loader import load_config_set
from chimera.config.models import KPI
from chimera.demo.generator import ConversionDrop, DemoEvents, WeeklySeasonality, generate_store
from chimera.kpi.evaluate import daily_states, evaluate_series
from chimera.kpi.formula import Series, parse_formula

START = date(2026, 8, 3)  # a Monday
SHOP_KPIS = ("net_revenue", "net_sales", "orders", "aov", "units_per_order", "discount_rate", "sessions",
             "conversion_rate", "failed_payment_rate", "refund_rate_orders", "refund_rate_amount",
             "cancellation_rate", "stripe_fee_share")


@cache
def specs() -> dict[str, KPI]:
    return {k.id: k for k in load_config_set().kpis.kpis}


def day(i: int) -> date:
    return START + timedelta(days=i)


def constant(days: int, **metrics: str | int) -> Series:
    """Every metric the same value every day for ``days`` days."""
    return {m: {day(i): Decimal(str(v)) for i in range(days)} for m, v in metrics.items()}


def custom(**kw) -> KPI:
    base = {"id": "custom", "label": "Custom", "owner": "evidence_commander_ai", "window": "7d"}
    return KPI(**(base | kw))


def noisy_shop(days: int, seed: int, orders: float, lift=lambda i: 1.0, refunds=lambda i: 1.0) -> Series:
    """A store of ~``orders`` a day at 2.5 % conversion, 3 % refunded, 1 % cancelled; ``lift(i)``
    multiplies day i's conversion, ``refunds(i)`` its refund share. The noise draws do not depend on
    the lifts, so the same seed with and without an event differs only by the event."""
    rnd = random.Random(seed)
    out: Series = {}
    for i in range(days):
        sessions = round(orders / 0.025 * rnd.gauss(1, 0.05))
        placed = max(0, round(orders * lift(i) * rnd.gauss(1, 0.12)))
        cancelled = min(placed, round(placed * 0.01 * rnd.uniform(0, 2)))
        refunded = round(placed * 0.03 * refunds(i) * max(rnd.gauss(1, 0.3), 0))
        aov = Decimal(rnd.randint(3800, 4600)) / 100
        kept = placed - cancelled
        for metric, value in (("sessions", sessions), ("orders_placed", placed), ("cancelled_orders", cancelled),
                              ("orders", kept), ("refunded_orders", refunded), ("net_sales", kept * aov)):
            out.setdefault(metric, {})[day(i)] = Decimal(value)
    return out


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize(("kpi_id", "metrics", "status", "phrase"), [
    # refunded / orders = 21 / 350 = 6.00 % exactly: warning is raised only past 6 %
    ("refund_rate_orders", {"orders": 50, "refunded_orders": 3}, "OK",
     "above target 3.00%, at warning 6.00% (WARNING only past it)"),
    ("refund_rate_orders", {"orders": 50, "refunded_orders": 5}, "WARNING",
     "above warning 6.00%, at critical 10.00% (CRITICAL only past it)"),
    ("refund_rate_orders", {"orders": 100, "refunded_orders": 3}, "OK", "at or below target 3.00%"),
    ("cancellation_rate", {"orders_placed": 100, "cancelled_orders": 3}, "OK",
     "above target 1.00%, at warning 3.00% (WARNING only past it)"),
    ("cancellation_rate", {"orders_placed": 100, "cancelled_orders": 5}, "WARNING",
     "above warning 3.00%, at critical 5.00% (CRITICAL only past it)"),
])
def test_a_down_is_good_rate_exactly_on_a_threshold_is_not_past_it_and_says_so(kpi_id, metrics, status, phrase):
    """The note said 'above target 3.00%, below warning 6.00%' for a rate of exactly 6.00 %."""
    r = evaluate_series(specs()[kpi_id].model_copy(update={"anomaly": False}), constant(60, **metrics), day(59))
    assert r.status == status and r.note.endswith(phrase), r.note


def test_a_count_exactly_on_warning_reads_at_warning_not_above_it():
    orders = specs()["orders"].model_copy(update={"anomaly": False})
    series = {"orders": {day(i): Decimal(14 if i % 7 == 0 else 11) for i in range(60)}}  # 80 a week
    r = evaluate_series(orders, series, day(59))
    assert r.status == "OK" and r.value == 80
    assert r.note == f"orders 80 over 7d to {day(59)}, below target 100, at warning 80 (WARNING only past it)"


@pytest.mark.parametrize(("daily_sales", "status", "shown"), [
    ("1899.99", "WARNING", "37.9998"),  # 37.9998: past warning 38, yet '38.00' to the cent
    ("1900.01", "OK", "38.0002"),
    ("1900.00", "OK", "38.00"),  # exactly on it: no extra digits needed
])
def test_a_value_that_rounds_onto_its_threshold_shows_the_digits_that_decide(daily_sales, status, shown):
    """AOV 37.9998 read 'aov 38.00 over 7d ..., below warning 38.00': WARNING beside two equal numbers."""
    aov = specs()["aov"].model_copy(update={"anomaly": False})
    r = evaluate_series(aov, constant(60, orders=50, net_sales=daily_sales), day(59))
    assert r.status == status
    assert r.note.startswith(f"aov {shown} over 7d to {day(59)}, "), r.note


# --------------------------------------------------------------------------- custom formulas


def test_a_rate_written_in_percent_points_keeps_its_minimum_denominator():
    """``refunded_orders / orders * 100`` (a top-level '*') skipped min_denominator: a shop of 24
    orders a week read OK 0.00 where the same rate in percent reads UNKNOWN (too few orders)."""
    points = custom(unit="ratio", direction="lower_is_better", formula="refunded_orders / orders * 100",
                    target=Decimal(3), warning=Decimal(6), critical=Decimal(10), min_denominator=Decimal(30))
    series = constant(60, orders=3, refunded_orders=0) | {"orders": {day(i): Decimal(4 if i % 7 < 3 else 3)
                                                                   for i in range(60)}}  # 24 a week
    r = evaluate_series(points, series, day(59))
    assert r.status == "UNKNOWN" and r.unknown_reason == "denominator"
    assert r.note == f"custom UNKNOWN: orders 24 over 7d to {day(59)}, below the minimum 30"


@pytest.mark.parametrize("formula", ["refunded_orders / orders * 100", "100 * refunded_orders / orders"])
def test_a_rate_in_percent_points_scores_anomalies_like_the_same_rate_in_percent(formula):
    """The same refunds judged as a fraction (unit percent) and in points: the same sd score and
    level, the baseline x100 (it was scored by the spread of 4 weekly values and raised WARNING at
    2.6 sd on an ordinary week where the binomial score says nothing happened)."""
    pct = specs()["refund_rate_orders"]
    points = pct.model_copy(update={"formula": formula, "unit": "ratio", **{
        k: getattr(pct, k) * 100 for k in ("target", "warning", "critical", "warning_recovery", "critical_recovery")}})
    for seed, refunds in ((3, 1.0), (4, 1.0), (3, 3.0)):
        series = noisy_shop(140, seed, 40.0, refunds=lambda i, r=refunds: r if i >= 100 else 1.0)
        a, b = evaluate_series(pct, series, day(106)), evaluate_series(points, series, day(106))
        assert a.status == b.status and a.anomaly is not None and b.anomaly is not None, (a.note, b.note)
        assert a.anomaly.sd_score == b.anomaly.sd_score and a.anomaly.level == b.anomaly.level, (a.note, b.note)
        assert b.anomaly.baseline == (a.anomaly.baseline * 100).quantize(Decimal("0.0001"))


def test_a_daily_mean_formula_flags_the_same_drop_as_the_weekly_sum():
    """``net_sales / 7`` (a daily mean) was taken for a ratio with denominator 7: its anomaly floor
    came from per-day residuals against 7 and a -47 % sales drop read OK; ``net_sales * 0.142857``
    was flagged. Dividing by a constant only scales."""
    series = noisy_shop(140, 3, 40.0, lift=lambda i: 0.5 if i >= 100 else 1.0)
    mean = custom(unit="currency", direction="higher_is_better", formula="net_sales / 7",
                  target=Decimal(600), warning=Decimal(500), critical=Decimal(300))
    weekly = evaluate_series(specs()["net_sales"].model_copy(update={"target": Decimal(0), "warning": Decimal(0),
                                                                     "critical": Decimal(0)}), series, day(106))
    daily = evaluate_series(mean, series, day(106))
    assert weekly.anomaly is not None and weekly.anomaly.level == "CRITICAL", weekly.note
    assert daily.status == "CRITICAL" and daily.anomaly is not None, daily.note
    assert daily.anomaly.sd_score == weekly.anomaly.sd_score and daily.anomaly.level == "CRITICAL"
    assert " sd below its 4-week baseline " in daily.note


def test_a_completion_rate_one_minus_a_rate_keeps_its_denominator():
    completion = custom(unit="percent", direction="higher_is_better", formula="1 - cancelled_orders / orders_placed",
                        target=Decimal("0.99"), warning=Decimal("0.97"), critical=Decimal("0.95"),
                        min_denominator=Decimal(30), anomaly=False)
    thin = evaluate_series(completion, constant(30, orders_placed=3, cancelled_orders=0), day(29))
    assert thin.unknown_reason == "denominator" and "orders_placed 21 over 7d" in thin.note, thin.note
    bad = evaluate_series(completion, constant(30, orders_placed=20, cancelled_orders=2), day(29))
    assert bad.status == "CRITICAL"
    assert bad.note.startswith(f"custom 90.00% over 7d to {day(29)}, below critical 95.00%"), bad.note
    assert parse_formula("net_sales / 7").ratio is None and parse_formula("orders / sessions").ratio is not None


def test_a_money_denominator_below_its_minimum_reads_as_money():
    """'gross_sales 480.5 over 7d ..., below the minimum 500': cents were cut to a tenth."""
    series = constant(30, discounts="3.14", gross_sales="68.65")  # 480.55 a week
    r = evaluate_series(specs()["discount_rate"], series, day(29))
    assert r.note == f"discount_rate UNKNOWN: gross_sales 480.55 over 7d to {day(29)}, below the minimum 500.00"
    counts = evaluate_series(specs()["conversion_rate"], constant(30, orders=1, sessions=70), day(29))
    assert counts.note.endswith(f"sessions 490 over 7d to {day(29)}, below the minimum 500"), counts.note


def test_money_of_a_two_decimal_store_never_reads_in_thousandths():
    """A USD AOV of 826.50 / 20 orders is 41.325, and a median of two weekly sums ends in half a
    cent: both were shown as 3-decimal-currency amounts ('aov 41.325', 'baseline 1,086.635')."""
    series = constant(30, orders=20, net_sales="826.50")  # 140 orders, 5785.50: 41.325 each
    aov = evaluate_series(specs()["aov"].model_copy(update={"anomaly": False}), series, day(29))
    assert str(aov.value) == "41.33" and aov.note.startswith(f"aov 41.33 over 7d to {day(29)}, "), aov.note
    weeks = [Decimal("1000.01"), Decimal("1000.02"), Decimal("1000.05"), Decimal("1000.06"), Decimal("300.00")]
    sales = {"net_sales": {day(7 * w + i): weeks[w] / 7 if i else weeks[w] - weeks[w] / 7 * 6
                           for w in range(5) for i in range(7)}}
    sales = {"net_sales": {d: v.quantize(Decimal("0.01")) for d, v in sales["net_sales"].items()}}
    for w in range(5):  # each week sums to exactly its total, in cents
        first = day(7 * w)
        sales["net_sales"][first] += weeks[w] - sum(sales["net_sales"][day(7 * w + i)] for i in range(7))
    r = evaluate_series(specs()["net_sales"], sales, day(34))
    assert r.anomaly is not None and r.anomaly.baseline == Decimal("1000.04")  # (1000.02 + 1000.05) / 2, in cents
    assert "its 4-week baseline 1,000.04 (-70.0%)" in r.note, r.note


# --------------------------------------------------------------------------- recovery and confirmation


def conversion(plan: list[tuple[int, int]]) -> Series:
    """10,000 sessions a day and ``orders`` a day for ``days`` days per segment."""
    rates = [orders for days, orders in plan for _ in range(days)]
    return {"sessions": {day(i): Decimal(10000) for i in range(len(rates))},
            "orders": {day(i): Decimal(o) for i, o in enumerate(rates)}}


def test_a_status_held_by_its_recovery_threshold_does_not_lapse_after_four_weeks():
    """1.40 % (critical) for 2 weeks, then 1.55 % for 7 weeks: above critical 1.50 % but short of
    its recovery 1.60 %, so CRITICAL holds. It went WARNING on the 28th day with no change in the
    data, because the state was replayed over 28 days only."""
    spec = specs()["conversion_rate"].model_copy(update={"anomaly": False})
    states = daily_states(spec, conversion([(42, 240), (14, 140), (49, 155)]), day(56), day(104))
    assert {s.status for s in states.values()} == {"CRITICAL"}, {d: s.status for d, s in states.items()}
    last = evaluate_series(spec, conversion([(42, 240), (14, 140), (49, 155)]), day(104))
    assert last.note.endswith("not yet back past critical recovery 1.60%"), last.note


@pytest.mark.parametrize(("back_to", "status"), [(209, "WARNING"), (210, "OK")])
def test_a_warning_clears_on_reaching_its_recovery_threshold_exactly(back_to, status):
    """kpis.yml: '*_recovery: the value a KPI must get back to before WARNING clears'. 1.95 %
    (WARNING) for 2 weeks, then 2.09 % (short of recovery 2.10 %: held) or exactly 2.10 % (clears)."""
    spec = specs()["conversion_rate"].model_copy(update={"anomaly": False})
    r = evaluate_series(spec, conversion([(42, 240), (14, 195), (14, back_to)]), day(69))
    assert r.status == status, r.note
    if status == "WARNING":
        assert r.note == f"conversion_rate 2.09% over 7d to {day(69)}, not yet back past warning recovery 2.10%"
    else:
        assert r.note == f"conversion_rate 2.10% over 7d to {day(69)}, below target 2.50%, above warning 2.00%"


def test_a_one_day_breach_never_raises_and_a_one_day_recovery_is_a_recovery():
    """Raising takes 2 consecutive days past the threshold; clearing takes 1 day past recovery
    (DATA.md: two days before raising, recovery thresholds against flapping)."""
    spec = specs()["refund_rate_orders"].model_copy(update={"anomaly": False, "window": "1d"})
    # refunds of 100 orders a day: 4 % (OK), one day 7 % (warning raw), back to 4 %, 2 days 7 %
    series = {"orders": {day(i): Decimal(100) for i in range(12)},
              "refunded_orders": {day(i): Decimal(r) for i, r in enumerate([4, 4, 7, 4, 7, 4, 7, 7, 7, 4, 7, 7])}}
    states = daily_states(spec, series, day(0), day(11))
    assert [s.status for s in states.values()] == ["OK", "OK", "OK", "OK", "OK", "OK", "OK", "WARNING", "WARNING",
                                                   "OK", "OK", "WARNING"]
    one = evaluate_series(spec, series, day(6))
    assert one.note.endswith("above warning 6.00% for 1 day (needs 2 to confirm)"), one.note


# --------------------------------------------------------------------------- UNKNOWN says which reason


def test_a_baseline_lost_to_a_hole_names_the_hole_not_youth():
    """20 weeks of data with a 4-week analytics hole: 'fewer than 3 weekly windows of history' sent
    the owner looking for history the store has; the note names the missing days."""
    series = noisy_shop(140, 3, 40.0)
    for i in range(100, 128):
        del series["sessions"][day(i)]
    r = evaluate_series(specs()["conversion_rate"], series, day(134))
    assert r.status == "UNKNOWN" and r.unknown_reason == "history" and r.value is not None
    assert r.note.endswith(f"UNKNOWN: only 2 of the 6 weekly windows before {day(134)} can be a baseline "
                           f"(3 needed): sessions missing on {day(100)}..{day(127)}"), r.note
    young = evaluate_series(specs()["conversion_rate"], {m: {d: v for d, v in days.items() if d >= day(120)}
                                                         for m, days in noisy_shop(140, 3, 40.0).items()}, day(134))
    assert young.note.endswith(f"fewer than 3 weekly windows of history before {day(134)} for a baseline"), young.note


def test_a_baseline_lost_to_thin_weeks_says_they_were_too_thin():
    series = noisy_shop(70, 5, 40.0)
    for i in range(14, 56):  # a quiet spell: 3 orders a day, 21 a week under the minimum 30
        series["orders"][day(i)], series["refunded_orders"][day(i)] = Decimal(3), Decimal(0)
    r = evaluate_series(specs()["refund_rate_orders"], series, day(69))
    assert r.unknown_reason == "history", r.note
    assert "weekly windows before" in r.note and "have orders below the minimum 30" in r.note, r.note


# --------------------------------------------------------------------------- generated stores


def generated(days: int, seed: int, orders: float, events: DemoEvents) -> tuple[Series, date, date]:
    with TemporaryDirectory() as tmp:
        store = generate_store(Path(tmp), start=START, days=days, seed=seed, events=events, orders_per_day=orders,
                               malformed=0)
    series: Series = {}
    for part in (store.truth.shopify, store.truth.stripe, store.truth.analytics):
        for d, metrics in part.items():
            for metric, value in metrics.items():
                series.setdefault(metric, {})[d] = value
    return series, store.start, store.end


WEEKENDS_3X = WeeklySeasonality(multipliers=[1, 1, 1, 1, 1, 3, 3])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_store_with_weekends_three_times_weekdays_raises_no_critical_anomaly(seed):
    """7-day windows cancel the weekly pattern: the strong weekends raise no CRITICAL anomaly
    anywhere (a daily view would read every Monday as a -67 % collapse), and at most one short
    WARNING per KPI in 14 weeks (raising and clearing each take two days, so an episode is a few
    days long)."""
    series, start, end = generated(140, seed, 30.0, DemoEvents(weekly=WEEKENDS_3X))
    for kpi_id in SHOP_KPIS:
        states = daily_states(specs()[kpi_id], series, start + timedelta(days=42), end)
        assert not [d for d, s in states.items() if s.anomaly_level == "CRITICAL"], kpi_id
        warned = [s.anomaly_level == "WARNING" for s in states.values()]
        episodes = sum(w and not before for w, before in zip(warned, [False, *warned], strict=False))
        assert episodes <= 1 and sum(warned) <= 4, (kpi_id, episodes, sum(warned))


def test_a_conversion_drop_in_a_weekend_heavy_store_is_raised_within_a_week():
    drop_40 = ConversionDrop(day=112, relative_change=-0.4)
    series, start, _ = generated(140, 4, 30.0, DemoEvents(weekly=WEEKENDS_3X, conversion_drop=drop_40))
    drop = start + timedelta(days=112)
    states = daily_states(specs()["conversion_rate"], series, drop - timedelta(days=14), drop + timedelta(days=7))
    assert all(s.status == "OK" for d, s in states.items() if d < drop), states
    assert any(s.status in ("WARNING", "CRITICAL") for d, s in states.items() if d >= drop), states


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_two_day_holiday_spike_adds_no_anomaly_in_the_weeks_after(seed):
    """A two-day holiday at x4 conversion: the windows holding it are unusually good and stay out
    of the baseline while 3 ordinary weeks remain, so the ordinary weeks after it read as they
    would without the holiday."""
    holiday = noisy_shop(160, seed, 40.0, lift=lambda i: 4.0 if i in (100, 101) else 1.0)
    plain = noisy_shop(160, seed, 40.0)
    for kpi_id in ("orders", "net_sales", "conversion_rate", "aov", "refund_rate_orders", "cancellation_rate"):
        spec = specs()[kpi_id]

        def raised(series: Series, spec: KPI = spec) -> set[date]:
            return {d for d, s in daily_states(spec, series, day(108), day(159)).items()
                    if s.anomaly_level in ("WARNING", "CRITICAL")}

        assert not raised(holiday) - raised(plain), kpi_id


# --------------------------------------------------------------------------- the CLI: UTC+13, lag, stale

HEADER = ["Name", "Email", "Financial Status", "Paid at", "Created at", "Cancelled at", "Subtotal", "Shipping",
          "Taxes", "Total", "Discount Amount", "Refunded Amount", "Lineitem quantity", "Lineitem price", "Currency"]
TONGA = timezone(timedelta(hours=13))  # Pacific/Tongatapu: UTC+13 all year since 2017


@pytest.fixture
def tonga(chimera_home: Path) -> dict:
    """A hand-made Shopify export (orders stamped +1300, one every night at 00:30 local, the previous
    UTC day) for 70 days and an analytics export ending 2 days before the orders, ingested."""
    from chimera.cli import _register, app
    from chimera.clients import add_client

    _register()
    ctx = add_client("tonga")
    client_yml = ctx.folder / "client.yml"
    client_yml.write_text(client_yml.read_text().replace("currency: USD", "currency: TOP\ntimezone: Pacific/Tongatapu"))
    rnd = random.Random(13)
    last = date(2026, 11, 29)
    days = [last - timedelta(days=69 - i) for i in range(70)]
    rows, n = [], 0
    for d in days:
        for k in range(15):
            n += 1
            at = datetime(d.year, d.month, d.day, 0, 30, tzinfo=TONGA) + timedelta(minutes=90 * k)
            price = rnd.choice([30, 40, 50])
            refunded = f"{price + 5}.00" if n % 25 == 0 else "0.00"
            stamp = at.strftime("%Y-%m-%d %H:%M:%S %z")
            rows.append([f"#{1000 + n}", f"c{rnd.randint(1, 500)}@example.com", "paid", stamp, stamp, "",
                         f"{price}.00", "5.00", "0.00", f"{price + 5}.00", "0.00", refunded, "2", f"{price / 2:.2f}",
                         "TOP"])
    orders, analytics = chimera_home / "orders_export.csv", chimera_home / "analytics.csv"
    with orders.open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    with analytics.open("w", newline="") as f:
        csv.writer(f).writerows([["date", "sessions", "users", "transactions", "revenue"],
                                 *[[d.isoformat(), 600, 500, 15, 600] for d in days[:-2]]])
    for path in (orders, analytics):
        result = CliRunner().invoke(app, ["ingest", str(path), "--client", "tonga", "--json"])
        assert result.exit_code == 0, result.output
    return {"last": last, "app": app}


def kpis(app, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["kpis", "--client", "tonga", *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_utc_plus_13_store_with_lagging_analytics_then_stale_data(tonga):
    app, last = tonga["app"], tonga["last"]
    doc = kpis(app)
    assert doc["as_of"] == last.isoformat()  # the orders' newest local day, not the UTC day before
    by = {k["id"]: k for k in doc["kpis"]}
    # 15 orders every local day, the first at 00:30 (+13:00, the previous UTC day): 105 a week
    assert by["orders"]["value"] == "105" and by["orders"]["data_through"] == last.isoformat()
    assert by["orders"]["note"] == f"orders 105 over 7d to {last}, at or above target 100"
    # analytics 2 days behind (max_staleness_days 3): judged on the window both sources cover
    two_back = (last - timedelta(days=2)).isoformat()
    assert by["conversion_rate"]["data_through"] == two_back and by["conversion_rate"]["value"] == "0.025000"
    assert by["conversion_rate"]["note"].startswith(f"conversion_rate 2.50% over 7d to {two_back}, at or above target")
    assert by["refund_rate_orders"]["status"] != "UNKNOWN"
    # the data stopped 5 days ago: every KPI is UNKNOWN and says it is stale, and how stale
    later = last + timedelta(days=5)
    stale = {k["id"]: k for k in kpis(app, "--as-of", later.isoformat())["kpis"]}
    assert stale["orders"]["status"] == "UNKNOWN" and stale["orders"]["value"] is None
    assert stale["orders"]["note"] == f"orders UNKNOWN: orders data ends {last}, 5 days before {later} (max 2)"
    assert stale["conversion_rate"]["note"].endswith(f"sessions data ends {two_back}, 7 days before {later} (max 3)")
    assert all(k["status"] == "UNKNOWN" and "UNKNOWN: " in k["note"] for k in stale.values())
    # replay: the same as-of gives the same document, as the default did
    assert kpis(app, "--as-of", last.isoformat()) == doc
    assert kpis(app, "--as-of", later.isoformat())["kpis"] == list(stale.values())


def test_a_client_without_data_is_judged_on_its_own_today(chimera_home):
    """No data at all: as-of is the store's today (in UTC+14 the UTC date is often yesterday)."""
    from chimera.clients import add_client, get_client
    from chimera.kpi.evaluate import evaluate_kpis

    ctx = add_client("kiritimati")
    client_yml = ctx.folder / "client.yml"
    client_yml.write_text(client_yml.read_text() + "timezone: Pacific/Kiritimati\n")

    zone = ZoneInfo("Pacific/Kiritimati")
    before = datetime.now(zone).date()
    report = evaluate_kpis(get_client("kiritimati"))
    assert report.as_of in (before, datetime.now(zone).date())
    assert all(k.unknown_reason == "no_data" and f"days to {report.as_of} " in k.note for k in report.kpis)
