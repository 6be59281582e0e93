"""The seeded demo generator: exact layouts, Shopify's row structure, money identities, events,
the truth it returns, and (when chimera.ingest is present) that ingest reproduces that truth."""

from __future__ import annotations

import csv
import importlib.util
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chimera.demo import (
    AnalyticsGap,
    ConversionDrop,
    DemoEvents,
    GeneratedStore,
    PriceTest,
    RefundSpike,
    WeeklySeasonality,
    generate_large_shopify,
    generate_store,
)
from chimera.demo.layouts import ANALYTICS_COLUMNS, SHOPIFY_COLUMNS, STORE_TZ, STRIPE_COLUMNS

START = date(2026, 9, 14)  # the window crosses the end of DST (2026-11-01)
DAYS = 70
EVENTS = DemoEvents(
    weekly=WeeklySeasonality(),
    analytics_gap=AnalyticsGap(day=20, days=4),
    refund_spike=RefundSpike(day=28, days=7, probability=0.2),
    price_test=PriceTest(day=40),
    conversion_drop=ConversionDrop(day=50, relative_change=-0.3),
)
ORDER_LEVEL = ("Financial Status", "Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount")


def _generate(out: Path, seed: int = 11, **kw) -> GeneratedStore:
    kw.setdefault("events", EVENTS)
    kw.setdefault("orders_per_day", 40)
    kw.setdefault("malformed", 6)
    return generate_store(out, start=kw.pop("start", START), days=kw.pop("days", DAYS), seed=seed, **kw)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeneratedStore:
    return _generate(tmp_path_factory.mktemp("store"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _orders(store: GeneratedStore) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _rows(store.shopify_orders):
        grouped[row["Name"]].append(row)
    return grouped


def _m(text: str) -> Decimal:
    return Decimal(text)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    a = _generate(tmp_path / "a", days=21)
    b = _generate(tmp_path / "b", days=21)
    c = _generate(tmp_path / "c", seed=12, days=21)
    for kind, path in a.sources().items():
        assert path.read_bytes() == b.sources()[kind].read_bytes(), kind
    assert a.shopify_orders.read_bytes() != c.shopify_orders.read_bytes()
    assert a.truth == b.truth


def test_headers_are_the_layout_constants(store: GeneratedStore) -> None:
    def header(path: Path) -> list[str]:
        with path.open(newline="", encoding="utf-8") as f:
            return next(csv.reader(f))

    assert header(store.shopify_orders) == list(SHOPIFY_COLUMNS)
    assert len(SHOPIFY_COLUMNS) == 79
    assert header(store.stripe_payments) == list(STRIPE_COLUMNS)
    assert header(store.analytics_daily) == list(ANALYTICS_COLUMNS)
    m = store.fiverr_mapping
    fiverr = header(store.fiverr_orders)
    for col in (m.date, m.amount, m.status, m.order_id, m.delivered_on_time, m.response_hours):
        assert col in fiverr


def test_headers_equal_the_shared_samples(store: GeneratedStore, sample_store: Path) -> None:
    for ours, theirs in (
        (store.shopify_orders, "orders_export.csv"),
        (store.stripe_payments, "stripe_payments.csv"),
        (store.analytics_daily, "analytics_daily.csv"),
    ):
        with ours.open(encoding="utf-8") as a, (sample_store / theirs).open(encoding="utf-8") as b:
            assert a.readline() == b.readline(), theirs


def test_line_items_carry_order_fields_on_the_first_row_only(store: GeneratedStore) -> None:
    orders = _orders(store)
    multi = [rows for rows in orders.values() if len(rows) > 1]
    assert multi, "some orders must have several line items"
    for rows in orders.values():
        first, rest = rows[0], rows[1:]
        assert first["Financial Status"] and first["Total"] and first["Currency"] == "USD"
        assert first["Billing Zip"].startswith("'") and len(first["Billing Zip"]) == 6
        for row in rest:
            assert all(row[c] == "" for c in ORDER_LEVEL), row["Name"]
            assert row["Email"] == first["Email"]
            assert row["Lineitem name"] and row["Lineitem price"]
    notes = [rows[0]["Notes"] for rows in orders.values()]
    assert any("\n" in n for n in notes), "some Notes must span lines (quoted)"
    emails = [rows[0]["Email"] for rows in orders.values()]
    assert len(set(emails)) < len(emails), "repeat customers reuse their email"
    assert all(e.endswith("@example.com") for e in emails)


def test_money_identities_hold_on_every_well_formed_order(store: GeneratedStore) -> None:
    bad = {m.order_name for m in store.truth.malformed}
    checked = 0
    for name, rows in _orders(store).items():
        if name in bad:
            continue
        first = rows[0]
        gross = sum(_m(r["Lineitem price"]) * int(r["Lineitem quantity"]) for r in rows)
        assert _m(first["Subtotal"]) == gross - _m(first["Discount Amount"])
        assert _m(first["Total"]) == _m(first["Subtotal"]) + _m(first["Shipping"]) + _m(first["Taxes"])
        assert _m(first["Taxes"]) == _m(first["Tax 1 Value"]) + _m(first["Tax 2 Value"])
        refunded = _m(first["Refunded Amount"])
        if first["Cancelled at"]:
            assert first["Financial Status"] == "refunded" and refunded == _m(first["Total"])
        elif refunded == 0:
            assert first["Financial Status"] == "paid"
        else:
            full = refunded == _m(first["Total"])
            assert first["Financial Status"] == ("refunded" if full else "partially_refunded")
        checked += 1
    assert checked > 1000


def test_truth_matches_a_plain_reaggregation_of_the_file(store: GeneratedStore) -> None:
    bad = {m.order_name for m in store.truth.malformed}
    acc: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for name, rows in _orders(store).items():
        if name in bad:
            continue
        first = rows[0]
        day = date.fromisoformat(first["Created at"][:10])
        a = acc[day]
        a["orders_placed"] += 1
        if first["Cancelled at"]:
            a["cancelled_orders"] += 1
            continue
        a["orders"] += 1
        a["units"] += sum(int(r["Lineitem quantity"]) for r in rows)
        a["gross_sales"] += sum(_m(r["Lineitem price"]) * int(r["Lineitem quantity"]) for r in rows)
        for metric, col in (
            ("discounts", "Discount Amount"),
            ("net_sales", "Subtotal"),
            ("shipping", "Shipping"),
            ("taxes", "Taxes"),
            ("total_sales", "Total"),
            ("refunded_amount", "Refunded Amount"),
        ):
            a[metric] += _m(first[col])
        a["refunded_orders"] += _m(first["Refunded Amount"]) > 0
    truth = store.truth.shopify
    assert set(acc) == {d for d, m in truth.items() if m["orders_placed"]}
    assert set(truth) == {min(acc) + timedelta(days=i) for i in range((max(acc) - min(acc)).days + 1)}
    for day, metrics in truth.items():
        assert metrics["orders"] == metrics["orders_placed"] - metrics["cancelled_orders"]
        assert metrics["net_sales"] == metrics["gross_sales"] - metrics["discounts"]
        assert metrics["total_sales"] == metrics["net_sales"] + metrics["shipping"] + metrics["taxes"]
        assert metrics["net_revenue"] == metrics["total_sales"] - metrics["refunded_amount"]
        if day not in acc:
            assert not any(metrics.values()), day
        for metric, value in acc.get(day, {}).items():
            assert metrics[metric] == value, (day, metric)
    per_customer: dict[str, int] = defaultdict(int)
    for per_day in store.truth.customers.values():
        for email, n in per_day.items():
            per_customer[email] += n
    assert sum(per_customer.values()) == sum(m["orders"] for m in truth.values())
    assert store.truth.customers_total == len(per_customer)
    assert 0 < store.truth.repeat_customers < store.truth.customers_total


def test_created_at_switches_offset_at_the_end_of_dst(store: GeneratedStore) -> None:
    offsets = set()
    for rows in _orders(store).values():
        text = rows[0]["Created at"]
        try:
            stamp = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            continue  # a malformed date, on purpose
        offsets.add(text[-5:])
        assert stamp.astimezone(STORE_TZ).utcoffset() == stamp.utcoffset(), text
    assert offsets == {"-0400", "-0500"}


def test_malformed_rows_sit_at_their_physical_lines(store: GeneratedStore) -> None:
    lines = store.shopify_orders.read_text(encoding="utf-8").split("\n")
    assert {m.problem for m in store.truth.malformed} == {"negative_quantity", "non_numeric_total", "bad_date"}
    assert len(store.truth.malformed) == 6
    for m in store.truth.malformed:
        physical = lines[m.line_number - 1]
        assert physical.startswith(m.order_name + ","), m
        assert m.bad_value in physical and m.bad_value != m.true_value
    assert len({m.order_name for m in store.truth.malformed}) == 6


def test_stripe_export_and_its_truth(store: GeneratedStore) -> None:
    rows = _rows(store.stripe_payments)
    assert {r["Status"] for r in rows} == {"Paid", "Refunded", "Failed"}
    assert {r["Currency"] for r in rows} == {"usd"}
    acc: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        a = acc[date.fromisoformat(r["Created date (UTC)"][:10])]
        a["stripe_payments"] += 1
        if r["Status"] == "Failed":
            assert r["Decline Reason"] and r["Captured"] == "false" and r["Fee"] == "0.00"
            a["stripe_failed_payments"] += 1
            continue
        assert r["Decline Reason"] == "" and r["Captured"] == "true"
        assert _m(r["Fee"]) == (_m(r["Amount"]) * Decimal("0.029")).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        ) + Decimal("0.30")
        assert (r["Status"] == "Refunded") == (r["Amount Refunded"] == r["Amount"])
        a["stripe_succeeded_payments"] += 1
        a["stripe_gross"] += _m(r["Amount"])
        a["stripe_fees"] += _m(r["Fee"])
        a["stripe_refunded"] += _m(r["Amount Refunded"])
    assert set(acc) == {d for d, m in store.truth.stripe.items() if m["stripe_payments"]}
    for day, metrics in store.truth.stripe.items():
        for metric, value in metrics.items():
            assert acc[day][metric] == value, (day, metric)


def test_events_show_in_the_data(store: GeneratedStore) -> None:
    truth = store.truth
    gap = truth.event("analytics_data_gap")
    assert gap is not None
    written = {date.fromisoformat(r["date"]) for r in _rows(store.analytics_daily)}
    gap_days = {gap.start + timedelta(days=i) for i in range((gap.end - gap.start).days + 1)}
    assert written.isdisjoint(gap_days) and len(gap_days) == 4
    assert written | gap_days == {START + timedelta(days=i) for i in range(DAYS)}

    price = truth.event("price_test")
    assert price is not None
    before: dict[str, set[Decimal]] = defaultdict(set)
    after: dict[str, set[Decimal]] = defaultdict(set)
    for row in _rows(store.shopify_orders):
        try:
            day = date.fromisoformat(row["Created at"][:10])
        except ValueError:
            continue
        (after if day >= price.start else before)[row["Lineitem sku"]].add(_m(row["Lineitem price"]))
    for sku, prices in after.items():
        assert len(prices) == 1 and len(before[sku]) == 1
        expected = (next(iter(before[sku])) * Decimal("1.10")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        assert prices == {expected}, sku

    spike = truth.event("refund_rate_spike")
    assert spike is not None

    def refund_rate(lo: date, hi: date) -> float:
        days = [m for d, m in truth.shopify.items() if lo <= d <= hi]
        return float(sum(m["refunded_orders"] for m in days) / sum(m["orders"] for m in days))

    assert refund_rate(spike.start, spike.end) > 2.5 * refund_rate(START, spike.start - timedelta(days=1))

    drop = truth.event("conversion_rate_drop")
    assert drop is not None

    def conversion(lo: date, hi: date) -> float:
        days = [d for d in truth.analytics if lo <= d <= hi and d in truth.shopify]
        return float(sum(truth.shopify[d]["orders"] for d in days) / sum(truth.analytics[d]["sessions"] for d in days))

    assert conversion(drop.start, drop.end) < 0.85 * conversion(
        drop.start - timedelta(days=14), drop.start - timedelta(days=1)
    )


def test_fiverr_rows_parse_with_their_mapping(store: GeneratedStore) -> None:
    m = store.fiverr_mapping
    rows = _rows(store.fiverr_orders)
    assert rows
    per_day: dict[date, int] = defaultdict(int)
    for r in rows:
        per_day[datetime.strptime(r[m.date], m.date_format).date()] += 1
        assert r[m.status].lower() in {"completed", "cancelled", "in progress"}
        Decimal(r[m.amount])
    truth = {d: v["fiverr_orders"] for d, v in store.truth.fiverr.items()}
    assert {d: n for d, n in truth.items() if n} == {d: Decimal(n) for d, n in per_day.items()}
    assert min(truth) == min(per_day) and max(truth) == max(per_day) and len(truth) > len(per_day)


def test_large_export_has_exact_rows_and_consistent_orders(tmp_path: Path) -> None:
    first = generate_large_shopify(tmp_path / "a.csv", rows=3001, seed=5)
    again = generate_large_shopify(tmp_path / "b.csv", rows=3001, seed=5)
    assert first.path.read_bytes() == again.path.read_bytes()
    rows = _rows(first.path)
    assert len(rows) == first.rows == 3001
    orders: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        orders[row["Name"]].append(row)
    assert len(orders) == first.orders
    for group in orders.values():
        head = group[0]
        gross = sum(_m(r["Lineitem price"]) * int(r["Lineitem quantity"]) for r in group)
        assert _m(head["Subtotal"]) == gross - _m(head["Discount Amount"])
        assert _m(head["Total"]) == _m(head["Subtotal"]) + _m(head["Shipping"]) + _m(head["Taxes"])


def test_large_export_malformed_rows_are_rejected_at_their_lines(chimera_home: Path, tmp_path: Path) -> None:
    from chimera.clients import add_client
    from chimera.ingest import ingest_file

    big = generate_large_shopify(tmp_path / "bad.csv", rows=5000, seed=11, malformed_every=1000)
    assert len(big.malformed_lines) == 5
    lines = big.path.read_text(encoding="utf-8").split("\n")
    assert all(",-1," in lines[n - 1] for n in big.malformed_lines)
    clean = generate_large_shopify(tmp_path / "clean.csv", rows=5000, seed=11)
    assert clean.malformed_lines == [] and clean.orders == big.orders

    summary = ingest_file(add_client("big"), big.path, kind="shopify_orders")
    assert sorted({r.line for r in summary.rejected}) == big.malformed_lines
    assert {r.column for r in summary.rejected} == {"Lineitem quantity"}
    assert summary.orders_ingested == big.orders - len(big.malformed_lines)


_HAS_INGEST = importlib.util.find_spec("chimera.ingest") is not None


@pytest.mark.skipif(not _HAS_INGEST, reason="chimera.ingest (ingest_file) is not in this tree yet")
def test_ingest_reproduces_the_generators_truth(chimera_home: Path, tmp_path: Path) -> None:
    import yaml
    from sqlmodel import select

    from chimera.clients import add_client, get_client
    from chimera.db.engine import session_scope
    from chimera.db.models import CustomerDay
    from chimera.ingest import ingest_file
    from chimera.metrics import load_series

    store = _generate(tmp_path / "exports", days=45, start=date(2026, 10, 10))
    ctx = add_client("gen")
    config = yaml.safe_load((ctx.folder / "client.yml").read_text(encoding="utf-8"))
    config["fiverr"] = store.fiverr_mapping.model_dump(mode="json")
    (ctx.folder / "client.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    ctx = get_client("gen")

    summaries = {kind: ingest_file(ctx, path) for kind, path in store.sources().items()}
    assert {s.source for s in summaries.values()} == set(summaries)
    rejected = summaries["shopify_orders"].rejected
    assert sorted((r.line, r.order) for r in rejected) == sorted(
        (m.line_number, m.order_name) for m in store.truth.malformed
    )
    assert all(not s.rejected for k, s in summaries.items() if k != "shopify_orders")

    truth = store.truth
    with session_scope() as s:
        series = load_series(s, ctx.company_id)
        customers = s.exec(select(CustomerDay).where(CustomerDay.company_id == ctx.company_id)).all()
    for part in (truth.shopify, truth.stripe, truth.analytics, truth.fiverr):
        metrics = {name for day in part.values() for name in day}
        for metric in metrics:
            expected = {d: v[metric] for d, v in part.items()}
            assert series.get(metric) == expected, metric
    per_day: dict[date, int] = defaultdict(int)
    for row in customers:
        per_day[row.day] += sum(row.counts().values())
    assert dict(per_day) == {d: sum(c.values()) for d, c in truth.customers.items()}
    assert len({c for row in customers for c in row.counts()}) == truth.customers_total


def test_ensure_demo_client_creates_wires_and_is_idempotent(chimera_home: Path) -> None:
    from chimera.demo import ensure_demo_client

    ctx, info = ensure_demo_client()
    assert info.created and ctx.name == "demo"
    assert {s.kind for s in ctx.config.sources} == set(info.exports)
    for source in ctx.config.sources:
        assert not Path(source.path).is_absolute()
        assert (ctx.folder / source.path).resolve() == info.exports[source.kind].resolve()
        assert info.exports[source.kind].stat().st_size > 0
    assert ctx.config.fiverr is not None and ctx.config.fiverr.date == "Order Date"
    assert info.start < info.refund_spike_days[0] < info.price_test_day < info.conversion_drop_day < info.as_of
    assert (info.as_of - info.start).days == 149
    text = info.exports["shopify_orders"].read_text(encoding="utf-8")
    assert " -0400," in text and " -0500," in text, "the demo window crosses the end of DST"
    before = {k: p.read_bytes() for k, p in info.exports.items()}
    ctx_again, again = ensure_demo_client()
    assert not again.created and ctx_again.company_id == ctx.company_id
    assert {k: p.read_bytes() for k, p in again.exports.items()} == before
