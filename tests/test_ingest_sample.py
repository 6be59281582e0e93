"""Fidelity on the shared sample store: every day and metric to the cent, the 6 malformed rows,
the repeat-purchase rate, Stripe/analytics days, and the analytics gap left absent."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay, IngestRun
from chimera.ingest import ingest_file
from chimera.metrics import load_series

SHOPIFY = ["orders_placed", "orders", "cancelled_orders", "units", "gross_sales", "discounts", "net_sales",
           "shipping", "taxes", "total_sales", "refunded_orders", "refunded_amount", "net_revenue"]


@pytest.fixture
def ingested(chimera_home: Path, sample_store: Path):
    client = add_client("t")
    summary = ingest_file(client, sample_store / "orders_export.csv")
    return client, summary, sample_store


def _truth(sample_store: Path) -> dict:
    return json.loads((sample_store / "ground_truth.json").read_text())


def test_every_day_and_metric_to_the_cent(ingested) -> None:
    client, summary, store = ingested
    expected = list(csv.DictReader((store / "expected_daily.csv").open()))
    with session_scope() as s:
        series = load_series(s, client.company_id)
    assert summary.source == "shopify_orders" and summary.first_day == date.fromisoformat(expected[0]["date"])
    assert summary.last_day == date.fromisoformat(expected[-1]["date"])
    for row in expected:
        day = date.fromisoformat(row["date"])
        for metric in SHOPIFY:
            assert series[metric][day] == Decimal(row[metric]), (day, metric)
        aov = (series["net_sales"][day] / series["orders"][day]).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert str(aov) == row["aov"], day
    assert set(series["orders"]) == {date.fromisoformat(r["date"]) for r in expected}


def test_exactly_the_malformed_rows(ingested) -> None:
    _client, summary, store = ingested
    truth = list(csv.DictReader((store / "malformed_rows.csv").open()))
    got = [(r.line, r.column, r.value, r.order) for r in summary.rejected]
    assert got == [(int(t["line_number"]), t["column"], t["bad_value"], t["order_name"]) for t in truth]
    assert all(r.reason for r in summary.rejected)
    files = _truth(store)["files"]["orders_export.csv"]
    assert summary.rows_read == files["data_rows"]
    assert summary.orders_ingested == files["orders"] - len({t["order_name"] for t in truth})


def test_repeat_purchase_rate_over_the_window(ingested) -> None:
    client, _summary, store = ingested
    truth = _truth(store)
    start, end = (date.fromisoformat(truth["window"][k]) for k in ("start", "end"))
    with session_scope() as s:
        rows = s.exec(select(CustomerDay).where(CustomerDay.company_id == client.company_id,
                                                CustomerDay.day >= start, CustomerDay.day <= end)).all()
    per_customer: dict[str, int] = {}
    for r in rows:
        for customer, orders in r.counts().items():
            per_customer[customer] = per_customer.get(customer, 0) + orders
    rate = sum(1 for n in per_customer.values() if n >= 2) / len(per_customer)
    assert round(rate, 6) == truth["expected_repeat_purchase_rate_window"]
    assert sum(per_customer.values()) == truth["expected_totals"]["orders"]


def test_stripe_and_analytics(ingested) -> None:
    client, _summary, store = ingested
    stripe = ingest_file(client, store / "stripe_payments.csv")
    analytics = ingest_file(client, store / "analytics_daily.csv")
    assert stripe.source == "stripe_payments" and not stripe.rejected
    assert analytics.source == "analytics_daily" and not analytics.rejected
    rows = list(csv.DictReader((store / "stripe_payments.csv").open()))
    with session_scope() as s:
        series = load_series(s, client.company_id)
        runs = s.exec(select(IngestRun).where(IngestRun.company_id == client.company_id)).all()
    assert sum(series["stripe_payments"].values()) == len(rows)
    assert sum(series["stripe_failed_payments"].values()) == sum(r["Status"] == "Failed" for r in rows)
    assert sum(series["stripe_fees"].values()) == sum(Decimal(r["Fee"]) for r in rows)
    captured = [r for r in rows if r["Captured"] == "true" and r["Status"] in ("Paid", "Refunded")]
    assert sum(series["stripe_gross"].values()) == sum(Decimal(r["Amount"]) for r in captured)
    gap = next(t for t in _truth(store)["truths"] if t["id"] == "analytics_data_gap")
    for day in gap["dates"]:
        assert date.fromisoformat(day) not in series["sessions"]  # missing, not zero
    ga = list(csv.DictReader((store / "analytics_daily.csv").open()))
    assert len(series["sessions"]) == len(ga)
    assert series["ga_revenue"][date.fromisoformat(ga[0]["date"])] == Decimal(ga[0]["revenue"])
    assert {r.source for r in runs} == {"shopify", "stripe", "analytics"}
    assert all(len(r.fingerprint) == 32 for r in runs)  # XXH3-128
