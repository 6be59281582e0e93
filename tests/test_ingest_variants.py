"""Real-world export variants checked against a plain reference implementation.

The reference below reads a file with the stdlib ``csv`` module and ``decimal.Decimal`` and follows
DATA.md's metric definitions literally (one rule per line, no speed tricks). ``ingest_file`` must give
the same numbers on variants of the sample exports and on small hand-written and generated exports.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.metrics import load_series

# --------------------------------------------------------------------------- reference implementation

Series = dict[str, dict[date, Decimal]]
SHOPIFY_MONEY = ["Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount", "Lineitem price"]
SHOPIFY_COUNTS = ["orders_placed", "orders", "cancelled_orders", "units", "refunded_orders"]
SHOPIFY_SUMS = {"Discount Amount": "discounts", "Subtotal": "net_sales", "Shipping": "shipping", "Taxes": "taxes",
                "Total": "total_sales", "Refunded Amount": "refunded_amount"}
TS = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2}) ?([+-]\d{2}:?\d{2}|Z)$")
_clients = itertools.count()


def _records(path: Path) -> list[dict[str, str]]:
    """Rows as dicts keyed by the header's names, trimmed and lower-cased (matched by NAME)."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = text.splitlines(keepends=True)
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)  # GA4 comment lines before the header
    reader = csv.reader(io.StringIO("".join(lines)))
    header = [h.strip().lower() for h in next(reader)]
    rows = []
    for row in reader:
        values = [v.strip() for v in row]
        if any(values):
            rows.append(dict(zip(header, values, strict=False)))
    return rows


def _money(text: str) -> Decimal | None:
    """A plain dot-decimal amount; None when it is not one."""
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover
        return None


def _local_day(text: str) -> date | None:
    m = TS.match(text)
    if not m:
        return None
    try:
        return date.fromisoformat(m.group(1))
    except ValueError:
        return None


def _bad_shopify_row(row: dict[str, str], head: bool) -> bool:
    """DATA.md: an unparseable date, non-numeric money, a negative quantity (or a missing required value)."""
    required = ["name", "created at", "lineitem quantity", "lineitem price"] + (["subtotal", "total"] if head else [])
    if any(not row.get(c) for c in required):
        return True
    if _local_day(row["created at"]) is None or not re.fullmatch(r"\+?\d+", row["lineitem quantity"]):
        return True
    return any(row.get(c.lower()) and _money(row[c.lower()]) is None for c in SHOPIFY_MONEY)


def _adder(day: dict[str, Decimal]):
    """``add(metric, value)`` summing into one day's metrics."""
    def add(metric: str, value: Decimal) -> None:
        day[metric] = day.get(metric, Decimal(0)) + value
    return add


def _filled(days: dict[date, dict[str, Decimal]], metrics: list[str], unknown: set[date] = frozenset()) -> Series:
    """Per-metric series; a day inside the export's range without rows is zero (orders, payments),
    unless all its records were rejected (``unknown``: missing, not zero)."""
    out: Series = {m: {} for m in metrics}
    if not days:
        return {}
    day, last = min(days), max(days)
    while day <= last:
        for m in metrics:
            if day in days or day not in unknown:
                out[m][day] = days.get(day, {}).get(m, Decimal(0))
        day += timedelta(days=1)
    return out


def reference_shopify(path: Path) -> tuple[Series, set[str]]:
    """DATA.md's Shopify base metrics, literally; and the names of the rejected orders."""
    orders: dict[str, list[dict[str, str]]] = {}
    for row in _records(path):
        orders.setdefault(row.get("name", ""), []).append(row)
    days: dict[date, dict[str, Decimal]] = {}
    rejected: set[str] = set()
    rejected_days: set[date] = set()
    for name, rows in orders.items():
        head = next((r for r in rows if r.get("subtotal")), rows[0])  # order-level fields: the order's first row
        if any(_bad_shopify_row(r, r is head) for r in rows):
            rejected.add(name)
            if (day := _local_day(head.get("created at", ""))) is not None:  # a bad date has no day
                rejected_days.add(day)
            continue
        d = days.setdefault(_local_day(head["created at"]), {})
        add = _adder(d)
        add("orders_placed", Decimal(1))
        if head.get("cancelled at"):
            add("cancelled_orders", Decimal(1))
            continue
        add("orders", Decimal(1))
        for r in rows:
            add("units", Decimal(int(r["lineitem quantity"])))
            add("gross_sales", Decimal(int(r["lineitem quantity"])) * _money(r["lineitem price"]))
        for col, metric in SHOPIFY_SUMS.items():
            add(metric, _money(head.get(col.lower()) or "0"))
        refunded = _money(head.get("refunded amount") or "0")
        add("refunded_orders", Decimal(int(refunded > 0)))
    for d in days.values():
        d["net_revenue"] = d.get("total_sales", Decimal(0)) - d.get("refunded_amount", Decimal(0))
    metrics = [*SHOPIFY_COUNTS, "gross_sales", *SHOPIFY_SUMS.values(), "net_revenue"]
    return _filled(days, metrics, rejected_days), rejected


def reference_stripe(path: Path) -> Series:
    """Stripe per UTC day: attempts, successes, failures, captured gross, fees, refunds (one currency)."""
    rows = _records(path)
    created = "created date (utc)" if rows and "created date (utc)" in rows[0] else "created (utc)"
    currencies = {r.get("currency", "").lower() for r in rows} - {""}
    settled = {r.get("converted currency", "").lower() for r in rows} - {""}
    converted = len(currencies) > 1 or bool(settled and settled != currencies)  # sums in the account's currency
    days: dict[date, dict[str, Decimal]] = {}
    for r in rows:
        day = datetime.fromisoformat(r[created]).date()
        d = days.setdefault(day, {})
        add = _adder(d)
        status = r["status"].lower()
        ok = status in ("paid", "refunded", "partially refunded", "succeeded", "disputed")
        captured = r.get("captured", "").lower() in ("true", "yes", "1") if r.get("captured") else ok
        amount = r["converted amount"] if converted else r["amount"]
        refunded = r.get("converted amount refunded" if converted else "amount refunded") or "0"
        add("stripe_payments", Decimal(1))
        add("stripe_succeeded_payments", Decimal(int(ok and captured)))  # a released hold moved no money
        add("stripe_failed_payments", Decimal(int(status in ("failed", "blocked"))))
        add("stripe_gross", Decimal(amount) if ok and captured else Decimal(0))
        add("stripe_fees", Decimal(r.get("fee") or "0"))
        add("stripe_refunded", Decimal(refunded) if captured else Decimal(0))
    metrics = ["stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments", "stripe_gross",
               "stripe_fees", "stripe_refunded"]
    return _filled(days, metrics)


def reference_analytics(path: Path) -> Series:
    """Analytics per date: the first table only (GA4 appends other sections after # lines); no invented days."""
    out: Series = {}
    rows: dict[date, int] = {}
    names = {"sessions": "sessions", "users": "users", "totalusers": "users", "transactions": "ga_transactions",
             "revenue": "ga_revenue", "purchaserevenue": "ga_revenue"}
    for r in _records(path):
        raw = r.get("date", "")
        if raw.startswith("#"):
            break
        m = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", raw)
        if not m:
            continue
        day = date(*(int(g) for g in m.groups()))
        for col, value in r.items():
            if value and (metric := names.get(col.replace(" ", ""))):
                out.setdefault(metric, {})
                out[metric][day] = out[metric].get(day, Decimal(0)) + Decimal(value.replace(",", ""))
        rows[day] = rows.get(day, 0) + 1
    for day in (d for d, n in rows.items() if n > 1):  # users do not add up across a split day's rows
        out.get("users", {}).pop(day, None)
    return out


# --------------------------------------------------------------------------- helpers


def _series(client) -> Series:
    with session_scope() as s:
        return load_series(s, client.company_id)


def _ingest(path: Path, kind: str | None = None):
    client = add_client(f"v{next(_clients)}")
    summary = ingest_file(client, path, kind)
    return summary, _series(client)


def _write(path: Path, rows: list[list[str]], newline: str = "\n", encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


SHOPIFY_HEADER = ["Name", "Email", "Financial Status", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
                  "Discount Amount", "Created at", "Lineitem quantity", "Lineitem price", "Lineitem name", "Notes",
                  "Cancelled at", "Refunded Amount"]


def _order(name: str, created: str, items: list[tuple[int, str]], *, subtotal: str = "", shipping: str = "5.00",
           taxes: str = "1.00", total: str = "", discount: str = "0.00", refunded: str = "0.00", cancelled: str = "",
           notes: str = "", email: str = "a@example.com", currency: str = "USD") -> list[list[str]]:
    """One Shopify order as export rows: order-level fields on the first row only."""
    gross = sum(Decimal(p) * q for q, p in items)
    subtotal = subtotal or str(gross - Decimal(discount))
    total = total or str(Decimal(subtotal) + Decimal(shipping) + Decimal(taxes))
    rows = []
    for i, (qty, price) in enumerate(items):
        first = i == 0
        rows.append([name, email if first else "", "paid" if first else "", currency if first else "",
                     subtotal if first else "", shipping if first else "", taxes if first else "",
                     total if first else "", discount if first else "", created, str(qty), price, f"item {i}",
                     notes if first else "", cancelled if first else "", refunded if first else ""])
    return rows


# --------------------------------------------------------------------------- the sample store, read by the reference


def test_reference_agrees_on_the_sample_exports(chimera_home: Path, store_files: Path) -> None:
    """The reference is trusted only because it agrees with ingest_file on the realistic exports."""
    summary, got = _ingest(store_files / "orders_export.csv")
    expected, rejected = reference_shopify(store_files / "orders_export.csv")
    assert {m: got[m] for m in expected} == expected
    assert {r.order for r in summary.rejected} == rejected
    _summary, got = _ingest(store_files / "stripe_payments.csv")
    expected = reference_stripe(store_files / "stripe_payments.csv")
    assert {m: got[m] for m in expected} == expected
    _summary, got = _ingest(store_files / "analytics_daily.csv")
    assert got == reference_analytics(store_files / "analytics_daily.csv")


# --------------------------------------------------------------------------- header spellings


def _reheader(src: Path, dst: Path, spell) -> Path:
    rows = _read(src)
    return _write(dst, [[spell(c) for c in rows[0]], *rows[1:]])


@pytest.mark.parametrize("export", ["orders_export.csv", "stripe_payments.csv", "analytics_daily.csv"])
def test_header_names_with_surrounding_spaces(chimera_home: Path, store_files: Path, tmp_path: Path,
                                              export: str) -> None:
    """A spreadsheet that padded its header cells (` Created at `): the same columns, by name."""
    expected, want = _ingest(store_files / export)
    got, series = _ingest(_reheader(store_files / export, tmp_path / export, lambda c: f" {c}  "))
    assert series == want
    assert [(r.line, r.value, r.order) for r in got.rejected] == [(r.line, r.value, r.order) for r in expected.rejected]


@pytest.mark.parametrize("spell", [str.lower, str.upper], ids=["lower", "upper"])
@pytest.mark.parametrize("export", ["orders_export.csv", "stripe_payments.csv", "analytics_daily.csv"])
def test_header_names_in_another_case(chimera_home: Path, store_files: Path, tmp_path: Path, export: str,
                                      spell) -> None:
    """`created at` or `CREATED AT` (a re-saved or hand-made export) is the same column, detected and read."""
    expected, want = _ingest(store_files / export)
    got, series = _ingest(_reheader(store_files / export, tmp_path / export, spell))
    assert got.source == expected.source and series == want
    assert [(r.line, r.value, r.order) for r in got.rejected] == [(r.line, r.value, r.order) for r in expected.rejected]


# --------------------------------------------------------------------------- Shopify: rows in another order


@pytest.mark.parametrize("sort_by", [("Lineitem name",), ("Name", "Lineitem name")], ids=["item", "name-item"])
def test_spreadsheet_sorted_so_a_line_item_precedes_its_order_row(
    chimera_home: Path, store_files: Path, tmp_path: Path, sort_by: tuple[str, ...]
) -> None:
    """Sorted by product (items scattered) or by order then product (an order's continuation row may
    come before the row holding Subtotal/Total): the order is still whole, not 'missing Subtotal'."""
    src = store_files / "orders_export.csv"
    rows = _read(src)
    idx = [rows[0].index(c) for c in sort_by]
    path = _write(tmp_path / "sorted.csv", [rows[0], *sorted(rows[1:], key=lambda r: [r[i] for i in idx])])
    expected, want = _ingest(src)
    got, series = _ingest(path)
    reference, _rejected = reference_shopify(path)
    assert series == want and {m: series[m] for m in reference} == reference
    assert sorted((r.column, r.value, r.order) for r in got.rejected) == sorted(
        (r.column, r.value, r.order) for r in expected.rejected)


# --------------------------------------------------------------------------- Stripe


STRIPE_HEADER = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Converted Amount",
                 "Converted Amount Refunded", "Converted Currency", "Fee", "Status"]


def test_stripe_file_with_a_currency_per_row_sums_the_converted_amounts(chimera_home: Path, tmp_path: Path) -> None:
    """Charges in eur and usd on a usd account: gross and refunds in usd (Converted Amount), like the fees;
    adding 30 eur to 25 usd would be meaningless."""
    path = _write(tmp_path / "stripe.csv", [
        STRIPE_HEADER,
        ["ch_1", "2026-05-01 03:48:05", "25.00", "0.00", "usd", "true", "25.00", "0.00", "usd", "1.03", "Paid"],
        ["ch_2", "2026-05-01 04:00:00", "30.00", "10.00", "eur", "true", "33.12", "11.04", "usd", "1.26", "Paid"],
        ["ch_3", "2026-05-02 04:00:00", "100.00", "0.00", "gbp", "false", "", "", "", "0.00", "Failed"],
    ])
    _summary, series = _ingest(path)
    assert series["stripe_gross"][date(2026, 5, 1)] == Decimal("58.12")
    assert series["stripe_refunded"][date(2026, 5, 1)] == Decimal("11.04")
    assert {m: series[m] for m in reference_stripe(path)} == reference_stripe(path)


def test_stripe_currencies_without_a_conversion_are_refused(chimera_home: Path, tmp_path: Path) -> None:
    """Without Converted columns, two currencies cannot be summed: a clear error, nothing written."""
    path = _write(tmp_path / "stripe.csv", [
        ["id", "Created (UTC)", "Amount", "Currency", "Status"],
        ["ch_1", "2026-05-01 03:48", "25.00", "usd", "Paid"],
        ["ch_2", "2026-05-01 04:00", "30.00", "eur", "Paid"],
    ])
    client = add_client("mixed")
    with pytest.raises(IngestError, match=r"currencies \(eur, usd\)") as err:
        ingest_file(client, path)
    assert str(err.value).startswith(f"{path}: ")  # the error names the file
    assert _series(client) == {}


BALANCE_HEADER = ["balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee", "net",
                  "reporting_category", "source_id", "description"]


def _txn(n: int, created: str, gross: str, fee: str, category: str, currency: str = "usd") -> list[str]:
    net = str(Decimal(gross) - Decimal(fee)) if _money(gross) is not None and _money(fee) is not None else ""
    return [f"txn_{n}", created, created, currency, gross, fee, net, category, f"src_{n}", f"{category} {n}"]


def reference_balance(path: Path) -> Series:
    """Charges, their fees and refunds per UTC day of a balance report, literally (DATA.md, docs/contracts.md)."""
    days: dict[date, dict[str, Decimal]] = {}
    for r in _records(path):
        d = days.setdefault(datetime.fromisoformat(r["created_utc"]).date(), {})
        add = _adder(d)
        category = r["reporting_category"].lower()
        add("stripe_succeeded_payments", Decimal(int(category == "charge")))
        add("stripe_gross", Decimal(r["gross"]) if category == "charge" else Decimal(0))
        add("stripe_fees", Decimal(r["fee"] or "0") if category == "charge" else Decimal(0))
        add("stripe_refunded", -Decimal(r["gross"]) if category in ("refund", "refund_failure") else Decimal(0))
    return _filled(days, ["stripe_succeeded_payments", "stripe_gross", "stripe_fees", "stripe_refunded"])


def test_stripe_balance_report(chimera_home: Path, tmp_path: Path) -> None:
    """DATA.md's other Stripe layout: charges, their fees and refunds per UTC day; payouts, transfers and
    Stripe's own fees are not sales; a bad amount rejects its row at its line; failed attempts are not in a
    balance report, so their counts stay missing (never a made-up zero)."""
    path = _write(tmp_path / "balance.csv", [
        BALANCE_HEADER,
        _txn(1, "2026-05-01 03:48:05", "25.11", "1.03", "charge"),
        _txn(2, "2026-05-01 23:59:59", "49.06", "1.72", "charge"),
        _txn(3, "2026-05-02 10:00:00", "-10.00", "0.00", "refund"),
        _txn(4, "2026-05-02 11:00:00", "-64.17", "0.00", "payout"),
        _txn(5, "2026-05-03 11:00:00", "-2.00", "0.00", "fee"),
        _txn(6, "2026-05-03 12:00:00", "4.00", "0.00", "refund_failure"),
        _txn(7, "2026-05-03 12:30:00", "N/A", "0.50", "charge"),
        _txn(8, "2026-05-04 08:00:00", "100.00", "3.20", "charge"),
    ])
    summary, series = _ingest(path)
    assert summary.source == "stripe_payments" and summary.orders_ingested == 3
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(8, "gross", "N/A", "txn_7")]
    assert series["stripe_gross"] == {date(2026, 5, 1): Decimal("74.17"), date(2026, 5, 2): 0,
                                      date(2026, 5, 3): 0, date(2026, 5, 4): Decimal("100.00")}
    assert series["stripe_refunded"][date(2026, 5, 2)] == Decimal("10.00")
    assert series["stripe_refunded"][date(2026, 5, 3)] == Decimal("-4.00")
    assert series["stripe_fees"][date(2026, 5, 1)] == Decimal("2.75")
    assert "stripe_payments" not in series and "stripe_failed_payments" not in series
    good = _write(tmp_path / "good.csv", [r for r in _read(path) if r[0] != "txn_7"])
    assert {m: series[m] for m in reference_balance(good)} == reference_balance(good)


def test_a_balance_report_replaces_the_payments_export_on_its_days(chimera_home: Path, tmp_path: Path) -> None:
    """Both are Stripe: the later file's days replace the earlier one's figures (never added twice); the
    attempt counts a balance report cannot know stay as the payments export gave them (the failed
    payment rate still reads), never erased by a file that says nothing of them."""
    client = add_client("both")
    payments = _write(tmp_path / "payments.csv", [
        STRIPE_HEADER,
        ["ch_1", "2026-05-01 03:48:05", "25.11", "0.00", "usd", "true", "25.11", "0.00", "usd", "1.03", "Paid"],
        ["ch_2", "2026-05-01 04:00:00", "30.00", "0.00", "usd", "false", "", "", "", "0.00", "Failed"],
        ["ch_3", "2026-05-02 04:00:00", "40.00", "0.00", "usd", "true", "40.00", "0.00", "usd", "1.46", "Paid"],
    ])
    ingest_file(client, payments)
    ingest_file(client, _write(tmp_path / "balance.csv", [
        BALANCE_HEADER, _txn(1, "2026-05-02 04:00:00", "40.00", "1.46", "charge")]))
    series = _series(client)
    assert series["stripe_gross"] == {date(2026, 5, 1): Decimal("25.11"), date(2026, 5, 2): Decimal("40.00")}
    assert series["stripe_failed_payments"] == {date(2026, 5, 1): 1, date(2026, 5, 2): 0}
    assert series["stripe_payments"] == {date(2026, 5, 1): 2, date(2026, 5, 2): 1}


def test_a_balance_report_in_several_currencies_is_refused(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("multi")
    path = _write(tmp_path / "balance.csv", [
        BALANCE_HEADER, _txn(1, "2026-05-01 03:48:05", "25.11", "1.03", "charge"),
        _txn(2, "2026-05-01 04:00:00", "30.00", "1.20", "charge", currency="eur")])
    with pytest.raises(IngestError, match=r"balance\.csv: the balance report mixes currencies \(eur, usd\)"):
        ingest_file(client, path)
    assert _series(client) == {}


CATEGORIES = ["charge", "charge", "charge", "refund", "refund_failure", "payout", "fee", "dispute", "adjustment"]


@st.composite
def balance_reports(draw) -> list[list[str]]:
    rows = []
    for n in range(draw(st.integers(1, 12))):
        moment = datetime(2026, 3, 28) + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))
        category = draw(st.sampled_from(CATEGORIES))
        amount = draw(prices)
        gross = amount if category in ("charge", "refund_failure") else f"-{amount}"
        fee = draw(st.sampled_from(["0.00", "0.59", "1.23"])) if category == "charge" else "0.00"
        rows.append(_txn(n, moment.strftime("%Y-%m-%d %H:%M:%S"), gross, fee, category))
    columns = draw(st.permutations(range(len(BALANCE_HEADER))))  # matched by name, in any order
    return [[row[i] for i in columns] for row in [BALANCE_HEADER, *rows]]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=balance_reports())
def test_generated_balance_reports_match_the_reference(chimera_home: Path, tmp_path: Path, rows) -> None:
    path = _write(tmp_path / "balance.csv", rows)
    summary, series = _ingest(path)
    expected = reference_balance(path)
    assert summary.rejected == [] and series == expected


# --------------------------------------------------------------------------- generated Shopify exports


OFFSETS = ["-0400", "-0500", "+0530", "+0000", "-0930", "+1345", "+01:00"]
BAD_CELLS = [("Created at", "2026-02-30 10:00:00 -0500"), ("Created at", "31/08/2026 14:22"),
             ("Lineitem quantity", "-1"), ("Lineitem quantity", "one"), ("Total", "N/A"), ("Lineitem price", "#VALUE!"),
             ("Subtotal", "")]
prices = st.decimals(min_value=0, max_value=500, places=2).map(str)
notes = st.sampled_from(["", "Leave at the side door, thanks", 'Ring "twice"', "line one\nline two", "a\r\n\r\nb", ","])


@st.composite
def shopify_orders(draw) -> list[list[str]]:
    """A small export: orders over a few days with any offset, multi-line notes, cancellations,
    refunds, several line items, and now and then one malformed cell."""
    rows: list[list[str]] = []
    for n in range(draw(st.integers(1, 8))):
        day = date(2026, 3, 6) + timedelta(days=draw(st.integers(0, 4)))  # across the US DST change
        clock = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:07"
        items = draw(st.lists(st.tuples(st.integers(0, 5), prices), min_size=1, max_size=3))
        order = _order(
            f"#{1000 + n}", f"{day} {clock} {draw(st.sampled_from(OFFSETS))}", items,
            discount=draw(st.sampled_from(["0.00", "1.50", "0"])), shipping=draw(st.sampled_from(["5.95", "0.00"])),
            refunded=draw(st.sampled_from(["0.00", "", "12.30"])), notes=draw(notes),
            cancelled=draw(st.sampled_from(["", "", "2026-03-12 09:00:00 -0400"])),
            email=draw(st.sampled_from(["a@example.com", "B@Example.com ", ""])),
        )
        if draw(st.integers(0, 6)) == 0:  # a hand-edited order: padded cells (the careful, trimming pass)
            order = [[f" {v} " if v and i not in (0, 13) else v for i, v in enumerate(r)] for r in order]
        if draw(st.integers(0, 5)) == 0:
            column, value = draw(st.sampled_from(BAD_CELLS))
            row = draw(st.integers(0, len(order) - 1)) if column not in ("Subtotal", "Total") else 0
            order[row][SHOPIFY_HEADER.index(column)] = value
        if draw(st.integers(0, 7)) == 0:  # a blank spreadsheet row, even between an order's line items
            blank = draw(st.sampled_from(["", " "]))
            order.insert(draw(st.integers(0, len(order))), [blank] * len(SHOPIFY_HEADER))
        rows += order
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=shopify_orders(), crlf=st.booleans())
def test_generated_shopify_exports_match_the_reference(chimera_home: Path, tmp_path: Path, rows, crlf) -> None:
    path = _write(tmp_path / "orders.csv", [SHOPIFY_HEADER, *rows], newline="\r\n" if crlf else "\n")
    summary, series = _ingest(path)
    expected, rejected = reference_shopify(path)
    assert {m: series[m] for m in expected} == expected
    assert {r.order for r in summary.rejected} == rejected
    physical = path.read_bytes().split(b"\n")
    for r in summary.rejected:  # the reported line is the row that holds the reported value
        assert r.value.encode() in physical[r.line - 1] and r.order.encode() in physical[r.line - 1]


def test_one_currency_in_another_spelling_is_one_currency(chimera_home: Path, tmp_path: Path) -> None:
    """`USD`, `usd` and `USD ` name one currency: the export is summed, not refused as mixing currencies."""
    rows = [SHOPIFY_HEADER]
    for n, currency in enumerate(["USD", "usd", "USD "]):
        rows += _order(f"#{n}", "2026-04-05 10:00:00 -0400", [(1, "10.00")], currency=currency)
    path = _write(tmp_path / "orders.csv", rows)
    summary, series = _ingest(path)
    assert summary.rejected == [] and series["orders"] == {date(2026, 4, 5): 3}
    assert {m: series[m] for m in reference_shopify(path)[0]} == reference_shopify(path)[0]



def test_an_order_name_with_a_stray_space_is_the_same_order(chimera_home: Path, tmp_path: Path) -> None:
    """`#1 ` on a continuation row (a hand-edited spreadsheet) is order `#1`, not an order missing its Subtotal."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00"), (2, "5.00")])]
    rows[2][0] = "#1 "
    path = _write(tmp_path / "orders.csv", rows)
    summary, series = _ingest(path)
    assert summary.rejected == [] and series["units"] == {date(2026, 4, 5): 3}
    assert series["gross_sales"] == {date(2026, 4, 5): Decimal("20.00")}


# --------------------------------------------------------------------------- analytics


GA4_SNAPSHOT = """\
# ----------------------------------------
# Reports snapshot
# Account: Alder & Moss, Inc
# Start date: 20260401
# End date: 20260404
# ----------------------------------------

Date,Sessions,Total users,Transactions,Purchase revenue
20260401,100,80,3,120.50
20260402,90,70,2,80.00
20260404,95,75,2,81.25

# ----------------------------------------
# New users by first user default channel group
# ----------------------------------------

Date,New users
20260401,40
20260402,35
"""


def test_ga4_export_with_several_sections_reads_only_its_table(chimera_home: Path, tmp_path: Path) -> None:
    """A GA4 export appends other tables after `#` comment lines: they are not more rows of the first
    table (their values would land in its columns) and not bad rows to report."""
    path = tmp_path / "ga4.csv"
    path.write_text(GA4_SNAPSHOT)
    summary, series = _ingest(path)
    assert summary.rejected == [] and summary.rows_read == 3
    assert series == reference_analytics(path)
    assert series["sessions"] == {date(2026, 4, 1): 100, date(2026, 4, 2): 90, date(2026, 4, 4): 95}
    assert date(2026, 4, 3) not in series["users"]  # missing, never zero


@pytest.mark.parametrize(("encoding", "separator"), [("utf-8-sig", ","), ("utf-16", "\t"), ("cp1252", ",")])
def test_ga4_comment_lines_in_any_encoding(chimera_home: Path, tmp_path: Path, encoding: str, separator: str) -> None:
    """The `#` lines before a GA4 table are skipped whatever the file's encoding (a UTF-8 byte-order
    mark, Excel's UTF-16 "Unicode Text"), and a bad row is reported at its physical line."""
    text = GA4_SNAPSHOT.replace("20260402,90,", "20260402,ninety,").replace(",", separator)
    path = tmp_path / "ga4.csv"
    path.write_bytes(text.encode(encoding))
    summary, series = _ingest(path)
    assert series["sessions"] == {date(2026, 4, 1): 100, date(2026, 4, 4): 95}
    assert [(r.line, r.column, r.value) for r in summary.rejected] == [(10, "Sessions", "ninety")]


def test_stripe_statuses_the_dashboard_shows(chimera_home: Path, tmp_path: Path) -> None:
    """Disputed charges were paid (captured money, until a dispute is lost); Radar-blocked charges are
    failed attempts; uncaptured and canceled ones are neither."""
    rows = [STRIPE_HEADER]
    for n, (status, captured) in enumerate([("Paid", "true"), ("Partially Refunded", "true"), ("Disputed", "true"),
                                            ("Blocked", "false"), ("Failed", "false"), ("Uncaptured", "false"),
                                            ("Canceled", "false")]):
        rows.append([f"ch_{n}", "2026-05-01 10:00:00", "10.00", "0.00", "usd", captured, "10.00", "0.00", "usd",
                     "0.59" if captured == "true" else "0.00", status])
    _summary, series = _ingest(_write(tmp_path / "stripe.csv", rows))
    day = date(2026, 5, 1)
    assert series["stripe_payments"][day] == 7
    assert series["stripe_succeeded_payments"][day] == 3 and series["stripe_gross"][day] == Decimal("30.00")
    assert series["stripe_failed_payments"][day] == 2


# --------------------------------------------------------------------------- encodings


def test_a_windows_1252_export_reads_like_its_utf8_original(chimera_home: Path, tmp_path: Path) -> None:
    """Excel on Windows saves CSV as Windows-1252: `é` and `€` are one byte each, invalid UTF-8. The
    header's accented names must still match (a Fiverr mapping), and values keep their characters."""
    text = "Date de commande,Montant (€),État\n04/03/2026,€40.00,Terminée\n04/03/2026,15.50 €,Annulée\n"
    mapping = ("fiverr:\n  date: Date de commande\n  amount: Montant (€)\n  status: État\n  date_format: '%d/%m/%Y'\n"
               "  completed_values: [terminée]\n  cancelled_values: [annulée]\n")
    results = []
    for encoding in ("utf-8", "cp1252"):
        client = add_client(f"fiverr-{encoding}")
        yml = client.folder / "client.yml"
        yml.write_text(yml.read_text() + mapping)
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        summary = ingest_file(get_client(client.name), path)
        results.append((summary.rejected, _series(client)))
    assert results[1] == results[0]
    rejected, series = results[0]
    assert rejected == [] and series["fiverr_earnings"] == {date(2026, 3, 4): Decimal("40.00")}
    assert series["fiverr_cancelled"] == {date(2026, 3, 4): 1}


def test_windows_1252_shopify_export(chimera_home: Path, tmp_path: Path) -> None:
    """An `é` in a customer's email: the same numbers, and the same customer as in the UTF-8 export."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(2, "10.00")], email="rené@example.com"),
            *_order("#2", "2026-04-05 11:00:00 -0400", [(1, "10.00")], email="renè@example.com", notes="Café")]
    utf8 = _write(tmp_path / "utf8.csv", rows)
    client = add_client("cp1252")
    summary = ingest_file(client, _write(tmp_path / "cp1252.csv", rows, encoding="cp1252"))
    assert summary.rejected == [] and _series(client) == _ingest(utf8)[1] == reference_shopify(utf8)[0]
    with session_scope() as s:
        (day,) = s.exec(select(CustomerDay).where(CustomerDay.company_id == client.company_id)).all()
        assert sorted(day.counts().values()) == [1, 1]  # two customers, not one `ren?@example.com`


# --------------------------------------------------------------------------- separators


@pytest.mark.parametrize("separator", [";", "\t"], ids=["semicolon", "tab"])
@pytest.mark.parametrize("export", ["orders_export.csv", "stripe_payments.csv", "analytics_daily.csv"])
def test_semicolon_or_tab_separated_exports(chimera_home: Path, store_files: Path, tmp_path: Path, export: str,
                                            separator: str) -> None:
    """A European Excel saves `;`-separated CSV, a "TSV" download uses tabs: the same records, the same
    numbers and the same rejections on the same lines."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=separator, lineterminator="\n").writerows(_read(store_files / export))
    (tmp_path / export).write_text(buf.getvalue())
    expected, want = _ingest(store_files / export)
    got, series = _ingest(tmp_path / export)
    assert got.source == expected.source and series == want
    assert [(r.line, r.column, r.value, r.order) for r in got.rejected] == [
        (r.line, r.column, r.value, r.order) for r in expected.rejected]


@pytest.mark.parametrize("export", ["orders_export.csv", "stripe_payments.csv"])
def test_excel_unicode_text_utf16_export(chimera_home: Path, store_files: Path, tmp_path: Path, export: str) -> None:
    """Excel's "Unicode Text" save: UTF-16 with a byte-order mark, tab-separated, CRLF."""
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t", lineterminator="\r\n").writerows(_read(store_files / export))
    (tmp_path / export).write_bytes(buf.getvalue().encode("utf-16"))
    expected, want = _ingest(store_files / export)
    got, series = _ingest(tmp_path / export)
    assert got.source == expected.source and series == want
    assert [(r.line, r.column, r.value, r.order) for r in got.rejected] == [
        (r.line, r.column, r.value, r.order) for r in expected.rejected]


# --------------------------------------------------------------------------- wrong or empty files


@pytest.mark.parametrize(("export", "given", "looks_like"), [
    ("orders_export.csv", "stripe_payments", "shopify_orders"),
    ("stripe_payments.csv", "analytics_daily", "stripe_payments"),
    ("analytics_daily.csv", "shopify_orders", "analytics_daily"),
])
def test_wrong_source_says_what_the_file_looks_like(chimera_home: Path, store_files: Path, export: str, given: str,
                                                     looks_like: str) -> None:
    """`--source` naming another kind: the error names the file, the header line, the missing columns,
    and the kind the header does match."""
    with pytest.raises(IngestError) as err:
        _ingest(store_files / export, given)
    message = str(err.value)
    assert export in message and "line 1" in message and f"looks like a {looks_like} export" in message


def test_empty_and_header_only_files(chimera_home: Path, tmp_path: Path) -> None:
    """An empty file is an error naming the file; a header-only export is read (nothing in it)."""
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.csv: the file is empty"):
        _ingest(tmp_path / "empty.csv")
    for header in (SHOPIFY_HEADER, STRIPE_HEADER, ["date", "sessions"]):
        summary, series = _ingest(_write(tmp_path / "header.csv", [header]))
        assert (summary.rows_read, summary.rejected, summary.first_day, series) == (0, [], None, {})


# --------------------------------------------------------------------------- money precision


@pytest.mark.parametrize("price", ["0.3333333", "1.23456789", ".1234567", "3.333333333"])
def test_money_with_more_decimals_than_kept_is_never_rounded_silently(chimera_home: Path, tmp_path: Path,
                                                                       price: str) -> None:
    """A spreadsheet-computed price (10/3 written as 3.333333333) does not fit 6 decimal places: its order
    is rejected with the reason, never summed rounded; the rest of the file is ingested."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(3, "10.00")]),
            *_order("#2", "2026-04-05 11:00:00 -0400", [(3, price)], subtotal="1.00", total="7.00")]
    summary, series = _ingest(_write(tmp_path / "orders.csv", rows))
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(3, "Lineitem price", price, "#2")]
    assert "decimal places" in summary.rejected[0].reason
    assert series["gross_sales"] == {date(2026, 4, 5): Decimal("30.00")}


@pytest.mark.parametrize("price", ["1e3", "1E1", "2.5e-1"])
def test_money_with_an_exponent_is_not_a_number(chimera_home: Path, tmp_path: Path, price: str) -> None:
    """`1e3` is not money as an export writes it (DATA.md: decimal point, no thousands separators): its
    order is rejected in any file, not read as 1000 in one file and refused in another."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(3, "10.00")]),
            *_order("#2", "2026-04-05 11:00:00 -0400", [(1, price)], subtotal="1000.00", total="1006.00")]
    summary, series = _ingest(_write(tmp_path / "orders.csv", rows))
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(3, "Lineitem price", price, "#2")]
    assert summary.rejected[0].reason.startswith("not a number")
    assert series["gross_sales"] == {date(2026, 4, 5): Decimal("30.00")}


def test_a_day_whose_only_orders_are_rejected_is_not_a_day_without_orders(chimera_home: Path, tmp_path: Path) -> None:
    """The file shows an order on 04-02 but counts none there (its Total is `#VALUE!`): the day is
    missing, never 0 orders (a collapse that would trigger plays), and what an earlier export stored
    for it stays. Days with a good order beside a rejected one are counted as DATA.md says."""
    def orders(bad_total: str) -> list[list[str]]:
        return [SHOPIFY_HEADER, *_order("#1", "2026-04-01 10:00:00 -0400", [(1, "10.00")]),
                *_order("#2", "2026-04-02 10:00:00 -0400", [(1, "10.00")], total=bad_total),
                *_order("#3", "2026-04-03 10:00:00 -0400", [(1, "10.00")]),
                *_order("#4", "2026-04-03 11:00:00 -0400", [(1, "10.00")], total=bad_total)]

    summary, series = _ingest(_write(tmp_path / "bad.csv", orders("#VALUE!")))
    assert [r.order for r in summary.rejected] == ["#2", "#4"]
    assert series["orders_placed"] == {date(2026, 4, 1): 1, date(2026, 4, 3): 1}, "04-02 missing, not 0"
    client = add_client("earlier")
    ingest_file(client, _write(tmp_path / "good.csv", orders("16.00")))
    ingest_file(client, tmp_path / "bad.csv")
    assert _series(client)["orders_placed"] == {date(2026, 4, 1): 1, date(2026, 4, 2): 1, date(2026, 4, 3): 1}


def test_an_export_without_cancelled_at_leaves_cancellations_missing(chimera_home: Path, tmp_path: Path) -> None:
    """Without `Cancelled at` the file cannot tell a cancelled order: cancelled_orders is missing (the
    cancellation rate UNKNOWN, not 0 %), while every order placed still counts."""
    keep = [i for i, h in enumerate(SHOPIFY_HEADER) if h != "Cancelled at"]
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")]),
            *_order("#2", "2026-04-06 11:00:00 -0400", [(2, "5.00")])]
    summary, series = _ingest(_write(tmp_path / "orders.csv", [[r[i] for i in keep] for r in rows]))
    assert summary.rejected == [] and "cancelled_orders" not in series
    assert series["orders"] == series["orders_placed"] == {date(2026, 4, 5): 1, date(2026, 4, 6): 1}


def test_an_older_export_without_refunds_leaves_refund_metrics_missing(chimera_home: Path, tmp_path: Path) -> None:
    """DATA.md: older exports have fewer columns, and missing is never zero. Without `Refunded Amount` the
    file says nothing of refunds: refunded_amount, refunded_orders and net_revenue are not written (a
    refund-rate KPI is then UNKNOWN, not a perfect 0 %). Ingested over a fuller export, it leaves the
    refunds and customers that export gave (it cannot know better), and replaces what it does know."""
    drop = {"Refunded Amount", "Email"}
    keep = [i for i, h in enumerate(SHOPIFY_HEADER) if h not in drop]
    full = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")], refunded="4.00")]
    older = _write(tmp_path / "old.csv", [[r[i] for i in keep] for r in full])
    summary, alone = _ingest(older)
    assert summary.rejected == [] and alone["total_sales"] == {date(2026, 4, 5): Decimal("16.00")}
    assert not {"refunded_amount", "refunded_orders", "net_revenue"} & set(alone)
    client = add_client("older")
    ingest_file(client, _write(tmp_path / "new.csv", full))
    ingest_file(client, older)
    series = _series(client)
    assert series["total_sales"] == {date(2026, 4, 5): Decimal("16.00")}
    assert series["refunded_amount"] == {date(2026, 4, 5): Decimal("4.00")}, "the fuller export's refunds stay"
    with session_scope() as s:
        assert len(s.exec(select(CustomerDay).where(CustomerDay.company_id == client.company_id)).all()) == 1


@pytest.mark.parametrize("at", [0, len(SHOPIFY_HEADER)])
def test_a_needed_column_named_twice_is_refused(chimera_home: Path, tmp_path: Path, at: int) -> None:
    """Columns are matched by name, never by position: two `Total` columns (one pasted in) make the value
    unknown, whichever comes first; the error names the file, the header line and both columns."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")])]
    rows = [[*r[:at], "Total" if i == 0 else "999.00", *r[at:]] for i, r in enumerate(rows)]
    client = add_client(f"dup{at}")
    with pytest.raises(IngestError, match=r"orders\.csv: line 1: the header names 'Total' 2 times"):
        ingest_file(client, _write(tmp_path / "orders.csv", rows))
    assert _series(client) == {}


def test_rows_without_a_name_are_each_reported_and_reject_their_order(chimera_home: Path, tmp_path: Path) -> None:
    """A Name deleted by hand: every such row is reported at its line (not only the first), a nameless
    line item amid an order's rows rejects that whole order (never ingested a line short), and a
    nameless order row is an order of its own."""
    three = _order("#3", "2026-04-05 12:00:00 -0400", [(1, "8.00"), (2, "1.00"), (1, "3.00")])
    three[1][0] = ""
    nameless = _order("", "2026-04-05 11:00:00 -0400", [(1, "7.00")])
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")]), *nameless, *three,
            *_order("", "2026-04-05 13:00:00 -0400", [(1, "9.00")])]
    summary, series = _ingest(_write(tmp_path / "orders.csv", rows))
    assert [(r.line, r.column, r.order) for r in summary.rejected] == [(3, "Name", ""), (5, "Name", "#3"),
                                                                      (7, "Name", "")]
    assert summary.orders_ingested == 1 and series["units"] == {date(2026, 4, 5): 1}
    resorted = [SHOPIFY_HEADER, *sorted(rows[1:], key=lambda r: r[SHOPIFY_HEADER.index("Lineitem price")])]
    summary, series = _ingest(_write(tmp_path / "sorted.csv", resorted))  # a spreadsheet sort: grouped by Name
    assert sum(r.column == "Name" for r in summary.rejected) == 3  # (the lone line item also lacks Subtotal)
    assert series["orders"] == {date(2026, 4, 5): 2}  # #1 and #3 (whose nameless line is its own, rejected)


def test_classic_mac_line_endings_are_a_clear_error(chimera_home: Path, tmp_path: Path) -> None:
    """CR-only line ends (old Excel for Mac "CSV (Macintosh)"): one giant line to a CSV reader. An
    IngestError naming the file and the fix, not a reader crash nor a one-row file."""
    path = tmp_path / "mac.csv"
    path.write_text("date,sessions,users\r2026-04-01,100,80\r2026-04-02,90,70\r", newline="")
    with pytest.raises(IngestError, match=r"mac\.csv: line 1: .*carriage returns"):
        _ingest(path)


@pytest.mark.parametrize(("notes", "line", "problem"), [
    ('a 12" record', 3, 'Notes: a quote inside a field that does not start with one (a 12" record)'),
    ('"never closed', 3, "Notes: a quoted field opened here is never closed"),
])
def test_a_stray_quote_is_reported_at_its_line(chimera_home: Path, tmp_path: Path, notes: str, line: int,
                                                problem: str) -> None:
    """A hand-edited export with an unescaped quote cannot be read as CSV: the error names the file,
    the line, the column and the value, instead of the reader's 'expected 0 rows, actual 3 rows'."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")], notes='ok, "quoted"'),
            *_order("#2", "2026-04-05 11:00:00 -0400", [(1, "10.00")], notes="NOTES"),
            *_order("#3", "2026-04-05 12:00:00 -0400", [(1, "10.00")])]
    path = _write(tmp_path / "orders.csv", rows)
    path.write_text(path.read_text().replace("NOTES", notes))
    with pytest.raises(IngestError) as err:
        _ingest(path)
    assert str(err.value) == f"{path}: line {line}: {problem}; quote the whole field and double its quotes"


# --------------------------------------------------------------------------- generated Stripe and analytics exports


STATUSES = ["Paid", "Refunded", "Failed", "Partially refunded", "paid", "Uncaptured", "Disputed", "Blocked"]


@st.composite
def stripe_payments(draw) -> tuple[list[str], list[list[str]]]:
    """Payments over a few UTC days, in either header spelling and time layout."""
    old = draw(st.booleans())
    header = ["id", "Created (UTC)" if old else "Created date (UTC)", "Amount", "Amount Refunded", "Currency",
              "Captured", "Fee", "Status"]
    rows = []
    for n in range(draw(st.integers(1, 12))):
        moment = datetime(2026, 3, 28) + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))
        when = moment.strftime(draw(st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%SZ"])))
        amount = draw(prices)
        refunded = draw(st.sampled_from(["0.00", amount, "", str(min(Decimal("1.00"), Decimal(amount)))]))  # never more
        rows.append([f"ch_{n}", when, amount, refunded, "usd", draw(st.sampled_from(["true", "false", "", "TRUE"])),
                     draw(st.sampled_from(["0.00", "0.59", "1.23", ""])), draw(st.sampled_from(STATUSES))])
    if draw(st.integers(0, 3)) == 0:  # a spreadsheet's blank row: empty or only spaces
        rows.insert(draw(st.integers(0, len(rows))), [draw(st.sampled_from(["", " "]))] * len(header))
    return header, rows


def _iso(text: str) -> str:
    return text.replace("T", " ").rstrip("Z")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(export=stripe_payments())
def test_generated_stripe_exports_match_the_reference(chimera_home: Path, tmp_path: Path, export) -> None:
    header, rows = export
    path = _write(tmp_path / "stripe.csv", [header, *rows])
    summary, series = _ingest(path)
    plain = _write(tmp_path / "plain.csv", [header, *([r[0], _iso(r[1]), *r[2:]] for r in rows if r[0].strip())])
    expected = reference_stripe(plain)
    assert summary.rejected == [] and {m: series[m] for m in expected} == expected


@st.composite
def analytics_days(draw) -> str:
    """A GA4 report: comment lines, API or report names, a gap, empty cells, YYYYMMDD or ISO dates."""
    api = draw(st.booleans())
    names = ["date", "sessions", "totalUsers", "transactions", "purchaseRevenue"] if api else [
        "Date", "Sessions", "Total users", "Transactions", "Purchase revenue"]
    lines = ["# ----------------------------------------", "# Start date: 20260301", ""] if draw(st.booleans()) else []
    lines.append(",".join(names))
    for offset in sorted(draw(st.sets(st.integers(0, 9), min_size=1, max_size=8))):
        day = date(2026, 3, 1) + timedelta(days=offset)
        text = day.strftime("%Y%m%d" if draw(st.booleans()) else "%Y-%m-%d")
        cells = [str(draw(st.integers(0, 5000))), draw(st.sampled_from(["", "17", "1200"])),
                 str(draw(st.integers(0, 60))),
                 draw(st.sampled_from(["", "0", "120.5", "2081.9200000001", "2081.9199999999"]))]
        lines.append(",".join([text, *cells]))
        if draw(st.integers(0, 5)) == 0:  # a spreadsheet's blank row: empty or only spaces
            lines.append(draw(st.sampled_from([",,,,", " , , , , "])))
    return "\n".join(lines) + "\n"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=analytics_days())
def test_generated_analytics_exports_match_the_reference(chimera_home: Path, tmp_path: Path, text: str) -> None:
    path = tmp_path / "ga.csv"
    path.write_text(text)
    summary, series = _ingest(path)
    assert summary.rejected == []
    expected = reference_analytics(path)
    if "ga_revenue" in expected:  # GA writes float noise: kept to 6 places
        expected["ga_revenue"] = {d: v.quantize(Decimal("0.000001")).normalize() if v.as_tuple().exponent < -6 else v
                                  for d, v in expected["ga_revenue"].items()}
    assert series == expected


def test_mixed_currency_shopify_export_names_the_file_and_an_order_of_each(chimera_home: Path,
                                                                            tmp_path: Path) -> None:
    """Two stores' exports pasted together: refused (sums would be meaningless), saying where each currency is."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")]),
            *_order("#2", "2026-04-05 11:00:00 -0400", [(1, "10.00")]),
            *_order("EU-7", "2026-04-05 12:00:00 +0200", [(1, "10.00")], currency="EUR")]
    path = _write(tmp_path / "orders.csv", rows)
    with pytest.raises(IngestError) as err:
        _ingest(path)
    assert str(err.value).startswith(f"{path}: the export mixes currencies (column Currency; "
                                     "EUR: order EU-7 at line 4, USD: order #1 at line 2)")


def test_a_blank_looking_cell_is_empty(chimera_home: Path, tmp_path: Path) -> None:
    """A space left in `Cancelled at` or `Email` by a spreadsheet edit is an empty cell: the order is not
    cancelled, and blank emails are no customer."""
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")], cancelled=" ", email=" "),
            *_order("#2", "2026-04-05 11:00:00 -0400", [(1, "10.00")], email="  ")]
    path = _write(tmp_path / "orders.csv", rows)
    client = add_client("blank")
    ingest_file(client, path)
    series = _series(client)
    assert series["orders"] == {date(2026, 4, 5): 2} and series["cancelled_orders"] == {date(2026, 4, 5): 0}
    assert {m: series[m] for m in reference_shopify(path)[0]} == reference_shopify(path)[0]
    with session_scope() as s:
        assert s.exec(select(CustomerDay).where(CustomerDay.company_id == client.company_id)).all() == []


def test_blank_rows_are_no_records(chimera_home: Path, tmp_path: Path) -> None:
    """Rows left empty by a spreadsheet (`,,,`, or only spaces), between orders, inside an order or at
    the end, are not rows with missing values: nothing is rejected and every order counts whole."""
    blank, spaces = [""] * len(SHOPIFY_HEADER), [" "] * len(SHOPIFY_HEADER)
    two = _order("#2", "2026-04-05 11:00:00 -0400", [(1, "10.00"), (2, "5.00")])
    rows = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")]), blank,
            two[0], spaces, two[1], blank, blank]
    summary, series = _ingest(_write(tmp_path / "orders.csv", rows))
    assert summary.rejected == [] and summary.orders_ingested == 2
    assert series["orders"] == {date(2026, 4, 5): 2} and series["units"] == {date(2026, 4, 5): 4}
    assert series["gross_sales"] == {date(2026, 4, 5): Decimal("30.00")}


def test_stripe_columns_not_summed_are_not_checked(chimera_home: Path, tmp_path: Path) -> None:
    """A one-currency export sums Amount: an odd value in Converted Amount (not used) rejects nothing."""
    path = _write(tmp_path / "stripe.csv", [
        STRIPE_HEADER,
        ["ch_1", "2026-05-01 03:48:05", "25.00", "0.00", "usd", "true", "n/a", "", "usd", "1.03", "Paid"],
    ])
    summary, series = _ingest(path)
    assert summary.rejected == [] and series["stripe_gross"] == {date(2026, 5, 1): Decimal("25.00")}


# --------------------------------------------------------------------------- Fiverr


def test_fiverr_amounts_as_written_and_rejections_show_the_file_value(chimera_home: Path, tmp_path: Path) -> None:
    """`US$15.50` and `$1,040.00` are amounts; a rejected cell shows the value as the file has it."""
    client = add_client("fiverr")
    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text() + "fiverr:\n  date: Date\n  amount: Amount\n  status: Status\n  order_id: Order\n"
                   "  date_format: '%b %d, %Y'\n")
    path = _write(tmp_path / "fiverr.csv", [
        ["Order", "Date", "Amount", "Status"],
        ["FO1", "Mar 04, 2026", "$40.00", "Completed"],
        ["FO2", "Mar 04, 2026", "US$15.50", "Completed"],
        ["FO5", "Mar 06, 2026", "12.00 USD", "Completed"],
        ["FO3", "Mar 05, 2026", "$1,040.00", "Completed"],
        ["FO4", "Mar 05, 2026", "$4O.00", "Completed"],
    ])
    summary = ingest_file(get_client("fiverr"), path)
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(6, "Amount", "$4O.00", "FO4")]
    assert _series(client)["fiverr_earnings"] == {
        date(2026, 3, 4): Decimal("55.50"), date(2026, 3, 5): Decimal("1040.00"), date(2026, 3, 6): Decimal("12.00")}


def test_analytics_counts_written_as_floats(chimera_home: Path, tmp_path: Path) -> None:
    """pandas writes a count column holding a gap as floats (`1675.0`): whole numbers all the same, and a
    row is not rejected for it; `1675.5` still is."""
    path = tmp_path / "ga.csv"
    path.write_text("date,sessions,users,transactions,revenue\n2026-04-01,2076.0,1675.0,43.0,2081.92\n"
                    "2026-04-02,2760.0,,75.0,3411.89\n2026-04-03,100.5,80.0,1.0,10.00\n")
    summary, series = _ingest(path)
    assert [(r.line, r.column, r.value) for r in summary.rejected] == [(4, "sessions", "100.5")]
    assert series["sessions"] == {date(2026, 4, 1): 2076, date(2026, 4, 2): 2760}
    assert series["users"] == {date(2026, 4, 1): 1675}


def test_a_stripe_day_whose_only_charges_are_rejected_is_missing(chimera_home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "stripe.csv", [
        STRIPE_HEADER,
        ["ch_1", "2026-05-01 03:48:05", "25.00", "0.00", "usd", "true", "25.00", "0.00", "usd", "1.03", "Paid"],
        ["ch_2", "2026-05-02 04:00:00", "N/A", "0.00", "usd", "true", "N/A", "0.00", "usd", "1.26", "Paid"],
        ["ch_3", "2026-05-03 04:00:00", "40.00", "0.00", "usd", "true", "40.00", "0.00", "usd", "1.46", "Paid"],
    ])
    summary, series = _ingest(path)
    assert [r.order for r in summary.rejected] == ["ch_2"]
    assert series["stripe_payments"] == {date(2026, 5, 1): 1, date(2026, 5, 3): 1}, "05-02 missing, not 0"


def test_two_exports_joined_with_cat_read_as_one(chimera_home: Path, tmp_path: Path) -> None:
    """`cat a.csv b.csv`: the second header (with its byte-order mark) is no order called `Name`
    rejected for its date; the rows on either side count as one export's."""
    first = [SHOPIFY_HEADER, *_order("#1", "2026-04-05 10:00:00 -0400", [(1, "10.00")])]
    second = [SHOPIFY_HEADER, *_order("#2", "2026-04-06 10:00:00 -0400", [(2, "5.00")])]
    a, b = _write(tmp_path / "a.csv", first, encoding="utf-8-sig"), _write(tmp_path / "b.csv", second,
                                                                          encoding="utf-8-sig")
    joined = tmp_path / "joined.csv"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    summary, series = _ingest(joined)
    assert summary.rejected == [] and summary.rows_read == 2
    assert series["orders_placed"] == {date(2026, 4, 5): 1, date(2026, 4, 6): 1}
