"""KPI evaluation, QA pass 7, on stores the project has never seen (hand-made daily series and
exports): a shop whose analytics arrive a day late (change triggers, the default as-of), a store
whose sessions stopped, an analytics-only store with a one-day outage asked for days it has no data
on, an orders export without customer e-mails (repeat purchase rate), and a calibration run twice.

Expected values follow from the manual (§4.2, §6.3, §8.1), DATA.md "Judging a KPI" and
docs/contracts.md, computed from the series in the test, never from a recorded output."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.config.loader import load_config_set
from chimera.config.models import KPI
from chimera.kpi.calibrate import propose_for_series
from chimera.kpi.evaluate import change_pct, evaluate_series
from chimera.kpi.fmt import fmt
from chimera.kpi.formula import Series

START = date(2026, 3, 2)  # a Monday


@cache
def specs() -> dict[str, KPI]:
    return {k.id: k for k in load_config_set().kpis.kpis}


def day(i: int) -> date:
    return START + timedelta(days=i)


def shop(days: int, seed: int = 2, orders: int = 30, weekend: float = 1.0) -> Series:
    """~``orders`` a day at 2.5 % conversion, ``weekend`` times as many on Saturdays and Sundays."""
    rnd = random.Random(seed)
    out: Series = {}
    for i in range(days):
        w = weekend if day(i).weekday() >= 5 else 1.0
        placed = max(0, round(orders * w * rnd.gauss(1, 0.1)))
        sales = placed * Decimal(rnd.randint(3800, 4600)) / 100
        for metric, value in (("orders", placed), ("sessions", round(orders / 0.025 * w * rnd.gauss(1, 0.05))),
                              ("net_sales", sales)):
            out.setdefault(metric, {})[day(i)] = Decimal(value)
    return out


def window_sum(series: Series, metric: str, end: date, days: int = 7) -> Decimal:
    return sum((series[metric][end - timedelta(days=k)] for k in range(days)), Decimal(0))


# --------------------------------------------------------------------------- change_pct triggers


def test_a_change_trigger_reads_the_kpi_on_its_data_through_day_when_analytics_lag():
    """Analytics a day behind as-of (within max_staleness_days 3) is judged to its newest day; a
    ``{kpi: sessions, change_pct_below: -15, over: 7d}`` trigger read None (never fired) on every
    such day, while the KPI itself read a 30 % drop."""
    s = shop(60)
    last = day(59)
    del s["sessions"][last]  # the analytics export ends the day before
    for i in range(52, 59):
        s["sessions"][day(i)] = (s["sessions"][day(i)] * Decimal("0.7")).to_integral_value()
    sessions = specs()["sessions"]
    result = evaluate_series(sessions, s, last)
    assert result.data_through == day(58) and result.status != "UNKNOWN"
    now, before = window_sum(s, "sessions", day(58)), window_sum(s, "sessions", day(51))
    assert change_pct(sessions, s, last, 7) == (now - before) / before * 100 < -15
    conversion = specs()["conversion_rate"]
    rate = window_sum(s, "orders", day(58)) / now
    earlier = window_sum(s, "orders", day(51)) / before
    assert change_pct(conversion, s, last, 7) == (rate - earlier) / earlier * 100
    # orders are not behind: their change still ends on as-of
    orders_now, orders_before = window_sum(s, "orders", last), window_sum(s, "orders", day(52))
    assert change_pct(specs()["orders"], s, last, 7) == (orders_now - orders_before) / orders_before * 100


def test_a_change_trigger_on_a_stale_kpi_reads_nothing():
    """Past max_staleness_days the KPI is UNKNOWN (stale) and its change is None, not last week's."""
    s = shop(60)
    for i in range(55, 60):
        del s["sessions"][day(i)]
    sessions = specs()["sessions"]
    assert evaluate_series(sessions, s, day(59)).unknown_reason == "stale"
    assert change_pct(sessions, s, day(59), 7) is None
    assert change_pct(sessions, s, day(57), 7) is not None  # 3 days behind is still judged


# --------------------------------------------------------------------------- chimera metrics, nothing in range


@pytest.fixture
def analytics_only(chimera_home: Path) -> dict:
    """A store whose only source is an analytics export of 20 days with a one-day outage."""
    from chimera.cli import _register, app
    from chimera.clients import add_client

    _register()
    add_client("quietshop")
    days = [day(i) for i in range(20) if i != 12]
    path = chimera_home / "analytics.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["date", "sessions", "users", "transactions", "revenue"],
                                 *[[d.isoformat(), 300 + i, 250, 6, 240] for i, d in enumerate(days)]])
    result = CliRunner().invoke(app, ["ingest", str(path), "--client", "quietshop", "--json"])
    assert result.exit_code == 0, result.output
    return {"app": app, "home": chimera_home}


def metrics_text(app, *extra: str) -> str:
    result = CliRunner().invoke(app, ["metrics", "--client", "quietshop", *extra], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())


def test_metrics_with_nothing_in_the_range_asked_says_where_the_data_is_not_to_ingest(analytics_only):
    """A --from past the newest day, a metric no source has, or a day of an outage told a client
    with data 'no metrics for quietshop yet: chimera ingest PATH'."""
    app, first, last = analytics_only["app"], day(0), day(19)
    later = metrics_text(app, "--from", day(30).isoformat())
    assert later == f"no data for quietshop from {day(30)}: it runs from {first} to {last}"
    assert metrics_text(app, "--to", day(-5).isoformat()) == (
        f"no data for quietshop up to {day(-5)}: it runs from {first} to {last}")
    assert metrics_text(app, "--metric", "orders") == (
        f"no orders data for quietshop on any day (no ingested source has it); quietshop has data from {first} "
        f"to {last}")
    assert metrics_text(app, "--metric", "sessions", "--from", day(12).isoformat(), "--to", day(12).isoformat()) == (
        f"no sessions data for quietshop on {day(12)}: a gap in its data, which runs from {first} to {last}")
    assert "sessions" in metrics_text(app, "--metric", "sessions")  # data in range: the table
    json_doc = CliRunner().invoke(app, ["metrics", "--client", "quietshop", "--from", day(30).isoformat(), "--json"])
    assert json.loads(json_doc.stdout) == {"client": "quietshop", "metrics": {}}


# --------------------------------------------------------------------------- no customer e-mails

ORDER_HEADER = ["Name", "Financial Status", "Paid at", "Created at", "Cancelled at", "Subtotal", "Shipping", "Taxes",
                "Total", "Discount Amount", "Refunded Amount", "Lineitem quantity", "Lineitem price", "Currency"]
KPI_KEYS = {"id", "status", "value", "target", "warning", "critical", "window", "data_through", "note"}


def test_an_orders_export_without_customer_emails_makes_repeat_rate_unknown_for_no_data(chimera_home: Path):
    """Without an Email column no customer is stored: repeat_purchase_rate said 'customers 0 over 90d
    ..., below the minimum 30' under a store with 1,800 orders."""
    from chimera.cli import _register, app
    from chimera.clients import add_client

    _register()
    add_client("guestshop")
    last = day(119)
    rows = []
    for i in range(120):
        for k in range(15):
            stamp = f"{day(i)} {9 + k // 2:02d}:{30 * (k % 2):02d}:00 +0000"
            rows.append([f"#{1000 + 15 * i + k}", "paid", stamp, stamp, "", "40.00", "5.00", "0.00", "45.00", "0.00",
                         "0.00", "1", "40.00", "USD"])
    path = chimera_home / "orders_export.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([ORDER_HEADER, *rows])
    result = CliRunner().invoke(app, ["ingest", str(path), "--client", "guestshop", "--json"])
    assert result.exit_code == 0, result.output
    done = CliRunner().invoke(app, ["kpis", "--client", "guestshop", "--as-of", last.isoformat(), "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert set(doc) == {"client", "as_of", "kpis"} and doc["as_of"] == last.isoformat()
    assert all(set(k) == KPI_KEYS for k in doc["kpis"])
    by = {k["id"]: k for k in doc["kpis"]}
    assert by["orders"]["value"] == "105" and by["orders"]["status"] == "OK"
    repeat = by["repeat_purchase_rate"]
    assert repeat["status"] == "UNKNOWN" and repeat["value"] is None and repeat["data_through"] is None
    assert repeat["note"].startswith("repeat_purchase_rate UNKNOWN: no customer (CustomerDay) data in the ")
    assert "customers 0" not in repeat["note"]


# --------------------------------------------------------------------------- calibration run twice


def test_calibrating_again_on_the_same_weeks_proposes_nothing_to_write():
    """A second `kpis --calibrate --yes` on the same weeks rewrote kpis.yml with its own numbers and
    logged a changelog entry 'thresholds of ... follow the last 8 weeks' for no change."""
    s = shop(70, weekend=2.0)
    for kpi_id in ("orders", "net_sales", "conversion_rate", "aov"):
        first = propose_for_series(specs()[kpi_id], s, day(69))
        assert first.enough_history and first.proposed, first.reason
        calibrated = specs()[kpi_id].model_copy(update=first.proposed)
        again = propose_for_series(calibrated, s, day(69))
        assert again.enough_history and again.proposed == {}, again
        shown = "/".join(fmt(first.proposed[k], calibrated.unit, "USD") for k in ("target", "warning", "critical"))
        assert again.reason.endswith(f"these are the configured thresholds already (keeping configured {shown})")
        assert again.weekly_values == first.weekly_values


# --------------------------------------------------------------------------- default as-of, analytics a day late


def test_analytics_a_day_behind_shopify_does_not_hold_the_default_day_back(analytics_only):
    """GA4 is often a day behind: with Shopify's orders to day 20 and analytics to day 19 the default
    as-of was day 19 every day, its note claiming day 20 'is at most part of a day'. Shopify's day is
    whole (ingested after it ended); conversion is judged to analytics' newest day, as it allows."""
    app = analytics_only["app"]
    last = day(20)
    rows = [[f"#{100 + 6 * i + k}", "paid", stamp, stamp, "", "40.00", "0.00", "0.00", "40.00", "0.00", "0.00", "1",
             "40.00", "USD"] for i in range(21) for k in range(6) if (stamp := f"{day(i)} {10 + k}:00:00 +0000")]
    path = analytics_only["home"] / "orders_export.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([ORDER_HEADER, *rows])
    assert CliRunner().invoke(app, ["ingest", str(path), "--client", "quietshop"]).exit_code == 0
    result = CliRunner().invoke(app, ["kpis", "--client", "quietshop", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["as_of"] == last.isoformat() and "as_of_note" not in doc
    by = {k["id"]: k for k in doc["kpis"]}
    assert by["orders"]["data_through"] == last.isoformat() and by["orders"]["value"] == "42"
    assert by["conversion_rate"]["data_through"] == day(19).isoformat()


@pytest.mark.parametrize(("ahead", "judged"), [
    (("shopify", "stripe"), 20),  # analytics lags: Shopify's day 20 is whole
    (("analytics", "stripe"), 19),  # the store's orders end day 19: day 20 is another clock's part day
    (("stripe",), 19),
])
def test_only_a_day_the_store_orders_reach_is_judged_whole(chimera_home: Path, ahead: tuple[str, ...],
                                                           judged: int):
    from sqlalchemy import insert

    from chimera.as_of import default_day
    from chimera.clients import add_client
    from chimera.db.engine import session_scope
    from chimera.db.models import MetricPoint

    ctx = add_client("clockshop")
    with session_scope() as s:
        s.execute(insert(MetricPoint), [
            {"company_id": ctx.company_id, "metric": f"{source}_x", "day": day(i), "source": source, "value": "1"}
            for source in ("shopify", "stripe", "analytics") for i in range(21 if source in ahead else 20)])
    with session_scope() as s:
        got = default_day(s, ctx.company_id)
    assert got.day == day(judged) and bool(got.note) == (judged == 19), got
