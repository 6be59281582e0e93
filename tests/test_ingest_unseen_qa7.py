"""Exports the project never saw, from a generator of its own (not chimera.demo), against a reference
read with the csv module and Decimal per DATA.md (``test_ingest_variants``' Shopify reference; a
Stripe, analytics and Fiverr one here): Shopify stores in +0530, +0545 and Chatham (+1245/+1345
across its DST change) with JPY and KWD amounts, multi-line orders, partial refunds, cancellations,
newest-first rows, reordered and absent optional columns; Stripe payments with old and new date
headers, decimal commas, refunds, failures, disputes; GA4 daily exports with API names and comment
lines; a Fiverr sheet mapped in client.yml. Every day and metric ingest stores is compared."""

from __future__ import annotations

import csv
import io
import itertools
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chimera.clients import add_client, get_client
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.ingest.shopify import NEEDS
from tests.test_ingest_variants import Series, _filled, _series, _write, reference_shopify

_names = itertools.count()

# --------------------------------------------------------------------------- Shopify generator

SHOPIFY_FULL = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price", "Lineitem sku",
    "Lineitem requires shipping", "Billing Name", "Billing Zip", "Notes", "Cancelled at", "Payment Method",
    "Refunded Amount", "Vendor", "Outstanding Balance", "Id", "Tags", "Phone", "Payment References",
]
PLACES = {"USD": 2, "JPY": 0, "KWD": 3, "INR": 2, "NPR": 2, "NZD": 2}
HEADER = ("Name,Email,Created at,Currency,Subtotal,Shipping,Taxes,Total,Discount Amount,Refunded Amount,"
          "Lineitem quantity,Lineitem price,Cancelled at")
# absent column -> the canonical column whose metrics an export without it cannot know (shopify.NEEDS)
OPTIONAL = {"Discount Amount": "discount", "Refunded Amount": "refunded", "Cancelled at": "cancelled_at",
            "Shipping": "shipping", "Taxes": "taxes"}


def _offset(zone: str, moment: datetime) -> timedelta:
    """The store's UTC offset at ``moment``: fixed for India and Nepal; Chatham is +1345 until its
    DST ends (first Sunday of April, 03:45 local -> 02:45; 2026-04-04 14:00 UTC), +1245 after."""
    if zone == "chatham":
        return timedelta(hours=13, minutes=45) if moment < datetime(2026, 4, 4, 14, tzinfo=UTC) else timedelta(
            hours=12, minutes=45)
    return {"india": timedelta(hours=5, minutes=30), "nepal": timedelta(hours=5, minutes=45)}[zone]


def _stamp(moment: datetime, offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    local = (moment + offset).replace(tzinfo=None)
    return f"{local:%Y-%m-%d %H:%M:%S} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _amount(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places)))


@dataclass
class ShopifyStore:
    """A seeded store: its zone, currency, and which optional columns its export leaves out."""

    seed: int
    zone: str
    currency: str
    newest_first: bool = False
    absent: tuple[str, ...] = ()
    orders: int = 60
    start: datetime = field(default_factory=lambda: datetime(2026, 3, 30, tzinfo=UTC))

    def rows(self) -> list[list[str]]:
        """The export: header (columns shuffled) and one row per line item, order cells on the first."""
        rng = random.Random(self.seed)
        header = [c for c in SHOPIFY_FULL if c not in self.absent]
        rng.shuffle(header)
        places, unit = PLACES[self.currency], Decimal(1).scaleb(-PLACES[self.currency])
        moment, orders = self.start, []
        for n in range(self.orders):
            moment += timedelta(minutes=rng.randint(10, 360))
            orders.append(self._order(rng, n, _stamp(moment, _offset(self.zone, moment)), places, unit))
        if self.newest_first:
            orders.reverse()
        return [header, *([rec.get(c, "") for c in header] for order in orders for rec in order)]

    def _order(self, rng: random.Random, n: int, created: str, places: int, unit: Decimal) -> list[dict[str, str]]:
        items = [(rng.randint(1, 3), Decimal(rng.randint(50, 40000)) * (unit if places else 1))
                 for _ in range(rng.choice([1, 1, 2, 3, 4]))]
        gross = sum(q * p for q, p in items)
        discount = (gross * rng.choice([0, 0, 10, 25]) / 100).quantize(unit)
        subtotal = gross - discount
        shipping = Decimal(rng.choice([0, 4, 9])) * (100 if places == 0 else 1)
        taxes = (subtotal * Decimal("0.07")).quantize(unit)
        total = subtotal + shipping + taxes
        roll = rng.random()
        refunded = total if roll < 0.08 else (total / 3).quantize(unit) if roll < 0.2 else Decimal(0)
        head = {"Email": rng.choice(["", f"c{rng.randint(1, 25)}@example.com", f" C{rng.randint(1, 25)}@Example.com"]),
                "Financial Status": "partially_refunded" if refunded else "paid", "Currency": self.currency,
                "Subtotal": _amount(subtotal, places), "Shipping": _amount(shipping, places),
                "Taxes": _amount(taxes, places), "Total": _amount(total, places),
                "Discount Amount": _amount(discount, places), "Refunded Amount": _amount(refunded, places),
                "Cancelled at": created if rng.random() < 0.1 else "", "Billing Zip": "'75008",
                "Notes": "ring twice,\nthen \"leave it\"" if rng.random() < 0.15 else "", "Phone": "+977 1 555"}
        return [{"Name": f"#{1001 + n}", "Created at": created, "Lineitem quantity": str(q),
                 "Lineitem price": _amount(p, places), "Lineitem name": f"Tea, {i}", "Vendor": "V",
                 **(head if i == 0 else {})} for i, (q, p) in enumerate(items)]


def _ingest(path: Path, yml: str = ""):
    name = f"q{next(_names)}"
    ctx = add_client(name)
    if yml:
        (ctx.folder / "client.yml").write_text((ctx.folder / "client.yml").read_text() + yml)
        ctx = get_client(name)
    return ctx, ingest_file(ctx, path)


def _diff(expected: Series, got: Series) -> dict[str, list]:
    """Per metric, the days where ingest and the reference differ (empty when they agree)."""
    out = {}
    for metric, days in expected.items():
        stored = got.get(metric, {})
        if stored != days:
            out[metric] = [(d, days.get(d), stored.get(d)) for d in sorted(set(days) | set(stored))
                           if days.get(d) != stored.get(d)][:4]
    return out


STORES = [
    ShopifyStore(1, "nepal", "JPY"),
    ShopifyStore(2, "chatham", "KWD", newest_first=True),
    ShopifyStore(3, "india", "INR", absent=("Refunded Amount", "Shipping")),
    ShopifyStore(4, "chatham", "NZD", absent=("Cancelled at", "Discount Amount", "Email")),
    ShopifyStore(5, "nepal", "NPR", newest_first=True, absent=("Taxes", "Currency")),
]


@pytest.mark.parametrize("store", STORES, ids=lambda s: f"{s.zone}-{s.currency}-{'-'.join(s.absent) or 'full'}")
def test_generated_shopify_exports_match_the_reference(chimera_home: Path, tmp_path: Path, store: ShopifyStore) -> None:
    """Every stored day and metric equals the reference; a metric whose column the export left out
    is missing (never a made-up 0), and the Chatham store's days follow its +1345/+1245 offsets."""
    path = _write(tmp_path / "orders_export.csv", store.rows())
    ctx, summary = _ingest(path)
    expected, rejected = reference_shopify(path)
    unknown = {m for col in store.absent if col in OPTIONAL for m in NEEDS.get(OPTIONAL[col], ())}
    got = _series(ctx)
    assert not rejected and summary.rejected == [] and summary.orders_ingested == store.orders
    assert _diff({m: v for m, v in expected.items() if m not in unknown}, got) == {}
    assert not unknown & set(got)


def test_chatham_orders_across_its_dst_change_are_on_their_own_offsets_dates(chimera_home: Path,
                                                                             tmp_path: Path) -> None:
    """Chatham leaves DST at 03:45 +1345 (14:00 UTC, 2026-04-04): an order just before is dated by
    +1345, the next ones by +1245 (DATA.md: the store-local date of Created at, offsets as written).
    One zone applied to all (or the UTC date) puts them on other days."""
    moments = [datetime(2026, 4, 4, 10, 5, tzinfo=UTC), datetime(2026, 4, 4, 14, 30, tzinfo=UTC),
               datetime(2026, 4, 5, 11, 30, tzinfo=UTC)]
    stamps = [_stamp(m, _offset("chatham", m)) for m in moments]
    assert stamps == ["2026-04-04 23:50:00 +1345", "2026-04-05 03:15:00 +1245", "2026-04-06 00:15:00 +1245"]
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join([HEADER, *(f"#{i},a{i}@x.com,{s},NZD,10.00,0.00,0.00,10.00,0.00,0.00,1,10.00,"
                                         for i, s in enumerate(stamps))]) + "\n")
    ctx, _summary = _ingest(path)
    assert _series(ctx)["orders"] == {date(2026, 4, 4): 1, date(2026, 4, 5): 1, date(2026, 4, 6): 1}
    assert _diff(reference_shopify(path)[0], _series(ctx)) == {}


# --------------------------------------------------------------------------- Shopify: zero-decimal amounts grouped


@pytest.mark.parametrize("group", [",", "."], ids=["comma-groups", "dot-groups"])
def test_yen_amounts_in_thousands_groups_are_whole_yen(chimera_home: Path, tmp_path: Path, group: str) -> None:
    """A JPY export re-saved by a spreadsheet's number format writes `1,500` (US) or `1.500` (Germany):
    yen have no decimals, so both are 1500. `1.500` was read as 1.5 yen (silently: 2 150 yen became 2.15)
    and `1,500` rejected the order as not a number."""
    def g(n: int) -> str:
        return f"{n:,}".replace(",", group)
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join([
        HEADER,
        f'#1,a@x.com,2026-03-01 10:00:00 +0900,JPY,"{g(1500)}",500,150,"{g(2150)}",0,0,1,"{g(1500)}",',
        '#2,b@x.com,2026-03-01 11:00:00 +0900,JPY,800,0,80,880,0,0,2,400,',
        f'#3,c@x.com,2026-03-02 09:00:00 +0900,JPY,"{g(12000)}",0,"{g(1200)}","{g(13200)}",0,"{g(3000)}",4,'
        f'"{g(3000)}",',
    ]) + "\n")
    ctx, summary = _ingest(path)
    got = _series(ctx)
    assert summary.rejected == []
    assert got["total_sales"] == {date(2026, 3, 1): Decimal(3030), date(2026, 3, 2): Decimal(13200)}
    assert got["gross_sales"] == {date(2026, 3, 1): Decimal(2300), date(2026, 3, 2): Decimal(12000)}
    assert got["refunded_amount"][date(2026, 3, 2)] == Decimal(3000)


def test_yen_groups_written_both_ways_are_refused_never_read_as_fractions(chimera_home: Path, tmp_path: Path) -> None:
    """`1,500` and `1.800` in one JPY file: which is a group cannot be told, so neither order is read
    (`1.800` as 1.8 yen would be silently wrong); each rejection names its line, column and value."""
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join([
        HEADER,
        '#1,a@x.com,2026-03-01 10:00:00 +0900,JPY,"1,500",500,150,"2,150",0,0,1,"1,500",',
        '#2,b@x.com,2026-03-01 11:00:00 +0900,JPY,"1.800",0,80,"1.880",0,0,2,900,',
        '#3,c@x.com,2026-03-01 12:00:00 +0900,JPY,700,0,70,770,0,0,1,700,',
    ]) + "\n")
    ctx, summary = _ingest(path)
    assert {(r.line, r.column, r.value, r.order) for r in summary.rejected} >= {
        (2, "Subtotal", "1,500", "#1"), (3, "Subtotal", "1.800", "#2"), (3, "Total", "1.880", "#2")}
    assert _series(ctx)["total_sales"] == {date(2026, 3, 1): Decimal(770)}


def test_dinar_amounts_saved_with_decimal_commas_are_read_not_refused(chimera_home: Path, tmp_path: Path) -> None:
    """A KWD export re-saved in a European locale: every amount has 3 decimals (`12,345`, `1,500`),
    which read like thousands groups, so no value voted and every order was refused as not a number.
    A 3-decimal currency's `12,345` is 12.345 dinars (as Stripe's KWD exports are read)."""
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join([
        HEADER,
        '#1,a@x.com,2026-03-01 10:00:00 +0300,KWD,"12,345","1,500","1,250","15,095","1,000","2,000",1,"13,345",',
        '#2,b@x.com,2026-03-02 10:00:00 +0300,KWD,"150,250","2,000","1,000","153,250","0,000","0,000",1,"150,250",',
    ]) + "\n")
    ctx, summary = _ingest(path)
    got = _series(ctx)
    assert summary.rejected == []
    assert got["total_sales"] == {date(2026, 3, 1): Decimal("15.095"), date(2026, 3, 2): Decimal("153.250")}
    assert got["net_revenue"][date(2026, 3, 1)] == Decimal("13.095")
    assert got["gross_sales"][date(2026, 3, 1)] == Decimal("13.345")


def test_rupee_amounts_in_lakh_groups_are_read(chimera_home: Path, tmp_path: Path) -> None:
    """An Indian store's export saved by Excel in an Indian locale groups lakhs and crores
    (`1,23,456.50`): every order of a lakh or more was refused as not a number, in Shopify and
    Stripe files alike; a malformed group (`1,23,45.00`) still is."""
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join([
        HEADER,
        '#1,a@x.com,2026-03-01 10:00:00 +0530,INR,"1,23,456.50",100.00,"22,222.17","1,45,778.67",0.00,0.00,1,'
        '"1,23,456.50",',
        '#2,b@x.com,2026-03-01 11:00:00 +0530,INR,999.00,0.00,179.82,"1,178.82",0.00,0.00,1,999.00,',
        '#3,c@x.com,2026-03-02 11:00:00 +0530,INR,"1,23,45.00",0.00,0.00,"1,23,45.00",0.00,0.00,1,"1,23,45.00",',
    ]) + "\n")
    ctx, summary = _ingest(path)
    assert _series(ctx)["total_sales"][date(2026, 3, 1)] == Decimal("146957.49")
    assert {(r.line, r.column, r.value) for r in summary.rejected} == {
        (4, "Subtotal", "1,23,45.00"), (4, "Total", "1,23,45.00"), (4, "Lineitem price", "1,23,45.00")}
    stripe = tmp_path / "payments.csv"
    stripe.write_text("id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"
                      'ch_1,2026-03-01 04:00:00,"12,34,567.00","1,000.00",inr,true,"24,691.34",Paid\n'
                      "ch_2,2026-03-01 05:00:00,500.00,0.00,inr,true,10.00,Paid\n")
    ctx, summary = _ingest(stripe)
    assert summary.rejected == []
    assert _series(ctx)["stripe_gross"] == {date(2026, 3, 1): Decimal("1235067.00")}
    assert _series(ctx)["stripe_fees"] == {date(2026, 3, 1): Decimal("24701.34")}


# --------------------------------------------------------------------------- Shopify: rejections and re-ingest


BAD_CELLS = [("Created at", "2026-02-30 10:00:00 +0545"), ("Lineitem price", "N/A"), ("Lineitem quantity", "-2"),
             ("Lineitem quantity", "1.5"), ("Created at", "30/03/2026 10:00")]


def test_bad_cells_reject_their_whole_order_at_the_physical_line(chimera_home: Path, tmp_path: Path) -> None:
    """Notes with line breaks shift physical lines from records: each rejection names the file's line,
    the column, the value as written and its order; the other orders are stored as the reference says."""
    rows = ShopifyStore(11, "nepal", "NPR", orders=40).rows()
    header, rng = rows[0], random.Random(11)
    picks = sorted(rng.sample(range(1, len(rows)), len(BAD_CELLS)))
    for row, (column, value) in zip(picks, BAD_CELLS, strict=True):
        rows[row][header.index(column)] = value
    path = _write(tmp_path / "orders_export.csv", rows, newline="\r\n")
    lines, line = {}, 1
    for i, row in enumerate(rows):  # the physical line each record starts on
        lines[i] = line
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        line += buf.getvalue().count("\n")
    ctx, summary = _ingest(path)
    name = header.index("Name")
    want = {(lines[r], col, value, rows[r][name]) for r, (col, value) in zip(picks, BAD_CELLS, strict=True)}
    assert {(r.line, r.column, r.value, r.order) for r in summary.rejected} == want
    assert all(r.reason for r in summary.rejected)
    expected, rejected = reference_shopify(path)
    assert rejected == {o for *_rest, o in want}
    assert _diff(expected, _series(ctx)) == {}


def _days_between(rows: list[list[str]], column: str, first: str, last: str) -> list[list[str]]:
    at = rows[0].index(column)
    return [rows[0], *(r for r in rows[1:] if first <= r[at][:10] <= last)]


def test_overlapping_exports_in_any_order_store_each_day_once(chimera_home: Path, tmp_path: Path) -> None:
    """Shopify and Stripe exports of overlapping whole-day ranges, ingested in any order and again:
    every day ends as the full export's reference (a later file's days replace, never add)."""
    shop = ShopifyStore(21, "india", "INR", newest_first=True, orders=120).rows()
    full = _write(tmp_path / "orders_full.csv", shop)
    expected, _ = reference_shopify(full)
    days = sorted(str(d) for d in expected["orders_placed"])
    a = _write(tmp_path / "orders_a.csv", _days_between(shop, "Created at", days[0], days[len(days) * 2 // 3]))
    b = _write(tmp_path / "orders_b.csv", _days_between(shop, "Created at", days[len(days) // 3], days[-1]))
    pay = StripeExport(22, n=120).rows()
    stripe_full = _write(tmp_path / "stripe_full.csv", pay)
    stripe_days = sorted({r[1][:10] for r in pay[1:]})
    sa = _write(tmp_path / "stripe_a.csv", _days_between(pay, "Created date (UTC)", stripe_days[0], stripe_days[-3]))
    sb = _write(tmp_path / "stripe_b.csv", _days_between(pay, "Created date (UTC)", stripe_days[2], stripe_days[-1]))
    ctx = add_client("overlap")
    for path in (b, a, b, full, a, sb, sa, stripe_full, sb):
        ingest_file(ctx, path)
    got = _series(ctx)
    assert _diff(expected, got) == {}
    assert _diff(reference_stripe(stripe_full), got) == {}


def _shop_order(n: int, stamp: str, price: str = "10.00") -> str:
    return f"#{n},c{n}@x.com,{stamp} +0545,NPR,10.00,0,0,10.00,0,0,1,{price},"


def test_a_bad_row_elsewhere_no_longer_lets_a_partial_edge_day_replace_a_whole_one(chimera_home: Path,
                                                                                 tmp_path: Path) -> None:
    """A newer export starting mid-day (the last N orders, a search) holds only part of its oldest
    day: that day is left out, what is stored kept. With one rejected order on another day, every
    edge day was written as if whole (2 orders stored became 1), in Shopify and Stripe files alike;
    only an edge day holding a rejected record is now written as listed."""
    full = [_shop_order(n, f"2026-03-0{d} {h:02d}:00:00") for n, (d, h) in
            enumerate([(1, 9), (1, 15), (2, 9), (2, 15), (3, 9), (3, 15)])]
    newer = [_shop_order(3, "2026-03-02 15:00:00"), _shop_order(4, "2026-03-03 09:00:00"),
             _shop_order(5, "2026-03-03 15:00:00", price="N/A"), _shop_order(6, "2026-03-04 09:00:00")]
    ctx = add_client("edges")
    for name, rows in (("full.csv", full), ("newer.csv", newer)):
        (tmp_path / name).write_text("\n".join([HEADER, *rows]) + "\n")
        summary = ingest_file(ctx, tmp_path / name)
    assert [(r.line, r.order) for r in summary.rejected] == [(4, "#5")]
    assert [d.day for d in summary.left_out] == [date(2026, 3, 2)]
    assert _series(ctx)["orders_placed"] == {date(2026, 3, 1): 2, date(2026, 3, 2): 2, date(2026, 3, 3): 1,
                                             date(2026, 3, 4): 1}
    head = "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status"
    charges = [f"ch_{n},2026-05-0{d} {h:02d}:00:00,10.00,0.00,usd,true,0.59,Paid" for n, (d, h) in
               enumerate([(1, 9), (1, 15), (2, 9), (2, 15), (3, 9)])]
    (tmp_path / "pay_full.csv").write_text("\n".join([head, *charges]) + "\n")
    (tmp_path / "pay_newer.csv").write_text("\n".join([head, charges[3], charges[4].replace("10.00", "ten", 1),
                                                       "ch_9,2026-05-03 10:00:00,5.00,0.00,usd,true,0.45,Paid"]) + "\n")
    ingest_file(ctx, tmp_path / "pay_full.csv")
    summary = ingest_file(ctx, tmp_path / "pay_newer.csv")
    assert [d.day for d in summary.left_out] == [date(2026, 5, 2)] and len(summary.rejected) == 1
    assert _series(ctx)["stripe_payments"] == {date(2026, 5, 1): 2, date(2026, 5, 2): 2, date(2026, 5, 3): 1}


# --------------------------------------------------------------------------- Stripe


STRIPE_NEW = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Converted Amount",
              "Converted Amount Refunded", "Converted Currency", "Decline Reason", "Description", "Fee",
              "Refunded date (UTC)", "Status", "Seller Message", "Taxes On Fee", "Customer Email",
              "order_id (metadata)", "created (metadata)"]


@dataclass
class StripeExport:
    """A seeded payments export: old (`Created (UTC)`, minutes) or new header, dot or European locale."""

    seed: int
    n: int = 60
    old: bool = False
    european: bool = False
    separator: str = ","
    currency: str = "usd"
    newest_first: bool = False

    def rows(self) -> list[list[str]]:
        rng = random.Random(self.seed)
        header = list(STRIPE_NEW)
        if self.old:
            header[1] = "Created (UTC)"
        places = PLACES[self.currency.upper()] if self.currency.upper() in PLACES else 2
        unit, moment, rows = Decimal(1).scaleb(-places), datetime(2026, 3, 28, 21, 0), []
        for i in range(self.n):
            moment += timedelta(minutes=rng.randint(5, 240))
            rows.append(self._row(rng, i, moment, places, unit))
        if self.newest_first:
            rows.reverse()
        return [header, *rows]

    def _text(self, value: Decimal, places: int) -> str:
        text = _amount(value, places)
        return text.replace(".", ",") if self.european else text

    def _row(self, rng: random.Random, i: int, moment: datetime, places: int, unit: Decimal) -> list[str]:
        amount = Decimal(rng.randint(100, 90000)) * (unit if places else 1)
        roll, status, captured, refunded = rng.random(), "Paid", "true", Decimal(0)
        if roll < 0.12:
            status, captured = "Failed", "false"
        elif roll < 0.2:
            status, refunded = "Refunded", amount
        elif roll < 0.3:
            refunded = (amount / 4).quantize(unit)  # a partial refund stays Paid
        elif roll < 0.35:
            status = "Disputed"
        elif roll < 0.38:
            status, captured, refunded = "Refunded", "false", amount  # an authorization released
        fee = Decimal(0) if captured == "false" else (amount * Decimal("0.029")).quantize(unit)
        stamp = (f"{moment:%d/%m/%Y %H:%M}" if self.european else f"{moment:%Y-%m-%d %H:%M}" if self.old
                 else f"{moment:%Y-%m-%d %H:%M:%S}")
        text = {"amount": self._text(amount, places), "refunded": self._text(refunded, places)}
        return [f"ch_3P{rng.getrandbits(40):010x}", stamp, text["amount"], text["refunded"], self.currency, captured,
                text["amount"], text["refunded"], self.currency, "card_declined" if status == "Failed" else "",
                "Order #12, gift", self._text(fee, places), stamp if refunded else "", status, "", "0",
                "buyer@example.com", str(i), "2026-01-01"]


def _stripe_day(text: str) -> date:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _plain(text: str) -> Decimal:
    """An amount as written, dot or comma decimals (the generator writes no groups)."""
    return Decimal((text or "0").replace(",", "."))


def reference_stripe(path: Path, separator: str = ",") -> Series:
    """Stripe per UTC day (DATA.md): attempts, captured successes, failures, gross captured,
    fees, refunds of captured charges (a released hold returned no money)."""
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=separator))
    created = next(c for c in rows[0] if re.match(r"(?i)created( date)? \(utc\)", c))
    days: dict[date, dict[str, Decimal]] = {}
    for r in rows:
        day = days.setdefault(_stripe_day(r[created]), {})
        status = r["Status"].lower()
        ok, captured = status in ("paid", "refunded", "disputed"), r["Captured"] == "true"
        for metric, value in (("stripe_payments", 1), ("stripe_succeeded_payments", int(ok and captured)),
                              ("stripe_failed_payments", int(status == "failed")),
                              ("stripe_gross", _plain(r["Amount"]) if ok and captured else 0),
                              ("stripe_fees", _plain(r["Fee"])),
                              ("stripe_refunded", _plain(r["Amount Refunded"]) if captured else 0)):
            day[metric] = day.get(metric, Decimal(0)) + value
    return _filled(days, ["stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments", "stripe_gross",
                          "stripe_fees", "stripe_refunded"])


@pytest.mark.parametrize("export", [
    StripeExport(31), StripeExport(32, old=True, newest_first=True), StripeExport(33, european=True),
    StripeExport(34, european=True, separator=";", currency="eur"), StripeExport(35, currency="jpy"),
    StripeExport(36, currency="kwd", newest_first=True),
], ids=["new", "old-newest-first", "eu-comma", "eu-semicolon", "jpy", "kwd"])
def test_generated_stripe_exports_match_the_reference(chimera_home: Path, tmp_path: Path,
                                                      export: StripeExport) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=export.separator, lineterminator="\r\n").writerows(export.rows())
    path = tmp_path / "payments.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    ctx, summary = _ingest(path)
    assert summary.source == "stripe_payments" and summary.rejected == [] and summary.left_out == []
    assert _diff(reference_stripe(path, export.separator), _series(ctx)) == {}


# --------------------------------------------------------------------------- analytics


GA_NAMES = {"sessions": "sessions", "totalusers": "users", "total users": "users", "total_users": "users",
            "transactions": "ga_transactions", "ecommerce_purchases": "ga_transactions",
            "purchaserevenue": "ga_revenue", "purchase revenue": "ga_revenue", "purchase_revenue": "ga_revenue"}
GA_STYLES = {"report": ["Date", "Sessions", "Total users", "Transactions", "Purchase revenue"],
             "api": ["date", "sessions", "totalUsers", "transactions", "purchaseRevenue"],
             "bigquery": ["event_date", "sessions", "total_users", "ecommerce_purchases", "purchase_revenue"]}


def _ga_rows(seed: int, style: str, channels: bool) -> tuple[list[list[str]], set[date]]:
    """A GA4 daily table (YYYYMMDD dates, shuffled, two days left out), and the days left out."""
    rng = random.Random(seed)
    days = [date(2026, 2, 20) + timedelta(days=i) for i in range(30)]
    gaps = set(rng.sample(days[1:-1], 2))
    header = GA_STYLES[style][:1] + (["Session default channel group"] if channels else []) + GA_STYLES[style][1:]
    rows = []
    for day in (d for d in days if d not in gaps):
        for channel in (["Organic Search", "Direct"] if channels else [None]):
            sessions = rng.randint(0, 2500)
            revenue = Decimal(rng.randint(0, 10**7)).scaleb(-rng.choice([2, 4, 6]))
            rows.append([f"{day:%Y%m%d}", *([channel] if channel else []), str(sessions),
                         str(rng.randint(0, sessions)), str(rng.randint(0, sessions // 30)), str(revenue)])
    rng.shuffle(rows)
    return [header, *rows], gaps


def reference_ga(rows: list[list[str]]) -> Series:
    """Per date: sums over the rows; users only where one row holds the day (not additive)."""
    header = [h.lower() for h in rows[0]]
    out: Series = {}
    count: dict[date, int] = {}
    for row in rows[1:]:
        day = datetime.strptime(row[0], "%Y%m%d").date()
        count[day] = count.get(day, 0) + 1
        for col, value in zip(header, row, strict=True):
            if metric := GA_NAMES.get(col):
                out.setdefault(metric, {})[day] = out.get(metric, {}).get(day, Decimal(0)) + Decimal(value)
    for day in (d for d, n in count.items() if n > 1):
        out["users"].pop(day)
    return out


@pytest.mark.parametrize("style, channels", [("report", False), ("api", True), ("bigquery", False)])
def test_generated_ga4_exports_match_the_reference(chimera_home: Path, tmp_path: Path, style: str,
                                                   channels: bool) -> None:
    """GA4's comment block before the table, YYYYMMDD dates in any order, report/API/BigQuery names;
    a day absent from the file stays missing (never zero)."""
    rows, gaps = _ga_rows(41, style, channels)
    buf = io.StringIO()
    buf.write("# ----------------------------------------\n# Traffic acquisition\n# Start date: 20260220\n"
              "# End date: 20260321\n# ----------------------------------------\n\n")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / "ga4.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    ctx, summary = _ingest(path)
    got = _series(ctx)
    assert summary.source == "analytics_daily" and summary.rejected == []
    assert _diff(reference_ga(rows), got) == {} and not gaps & set(got["sessions"])


def test_ga4_figures_in_lakh_groups_are_read(chimera_home: Path, tmp_path: Path) -> None:
    """A GA4 export saved from Excel in an Indian locale: sessions `1,23,456` were refused as not a
    whole number (revenue `12,34,567.89` as not a number) while `123,456` was read."""
    path = tmp_path / "ga4.csv"
    path.write_text('Date,Sessions,Total users,Transactions,Purchase revenue\n'
                    '20260301,"1,23,456","98,765","1,234","12,34,567.89"\n'
                    '20260302,"123,456",900,12,"1,234.50"\n', encoding="utf-8")
    ctx, summary = _ingest(path)
    got = _series(ctx)
    assert summary.rejected == []
    assert got["sessions"] == {date(2026, 3, 1): 123456, date(2026, 3, 2): 123456}
    assert got["users"][date(2026, 3, 1)] == 98765
    assert got["ga_revenue"] == {date(2026, 3, 1): Decimal("1234567.89"), date(2026, 3, 2): Decimal("1234.50")}


# --------------------------------------------------------------------------- Fiverr


FIVERR_YML = ("fiverr:\n  date: Fecha\n  amount: Net Earnings\n  status: Order Status\n  order_id: 'Order #'\n"
              "  date_format: '%d.%m.%Y %H:%M'\n  delivered_on_time: On Time\n  response_hours: First Reply (h)\n"
              "  completed_values: [Completed, Abgeschlossen]\n")


def test_fiverr_sheet_mapped_in_client_yml_matches_the_reference(chimera_home: Path, tmp_path: Path) -> None:
    """Columns in another order, a German date-time format, decimal-comma amounts with a euro mark,
    an extra completed status: counts, earnings of completed orders, on-time and < 24 h replies."""
    rng = random.Random(51)
    header = ["Buyer", "Order Status", "Order #", "First Reply (h)", "Fecha", "On Time", "Net Earnings"]
    rows, ref = [header], {}
    for i in range(50):
        moment = datetime(2026, 1, 5, 8) + timedelta(hours=rng.randint(0, 24 * 20))
        status = rng.choice(["Completed", "Abgeschlossen", "Cancelled", "In Progress"])
        amount, hours = Decimal(rng.randint(500, 90000)).scaleb(-2), Decimal(rng.randint(1, 600)).scaleb(-1)
        on_time = rng.choice(["yes", "no", ""])
        rows.append(["Ann, B.", status, f"FO{i:04d}", str(hours).replace(".", ","), f"{moment:%d.%m.%Y %H:%M}",
                     on_time, f"{str(amount).replace('.', ',')} €"])
        done = status in ("Completed", "Abgeschlossen")
        day = ref.setdefault(moment.date(), {})
        for metric, value in (("fiverr_orders", 1), ("fiverr_completed", int(done)),
                              ("fiverr_cancelled", int(status == "Cancelled")),
                              ("fiverr_earnings", amount if done else 0), ("fiverr_delivered", int(on_time != "")),
                              ("fiverr_delivered_on_time", int(on_time == "yes")), ("fiverr_inquiries", 1),
                              ("fiverr_responded_24h", int(hours < 24))):
            day[metric] = day.get(metric, Decimal(0)) + value
    ctx, summary = _ingest(_write(tmp_path / "fiverr.csv", rows), FIVERR_YML)
    assert summary.source == "fiverr_orders" and summary.rejected == []
    assert _diff(_filled(ref, sorted({m for d in ref.values() for m in d})), _series(ctx)) == {}


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("text, said", [
    ("Order,Customer,Amount\n1001,Ann,12.00\n", "not a known export (header starts Order, Customer, Amount)"),
    ("# GA4 report\n# nothing else\n", "no header line: every line is a comment"),
    ("#1001,a@x.com,2026-03-01 10:00:00 +0545,12.00\n", "line 1: no header line: the file starts with a row"),
    ("", "the file is empty"),
])
def test_unknown_files_are_refused_naming_the_file_and_what_is_expected(chimera_home: Path, tmp_path: Path,
                                                                        text: str, said: str) -> None:
    path = tmp_path / "mystery export.csv"
    path.write_text(text, encoding="utf-8")
    ctx = add_client("refused")
    with pytest.raises(IngestError, match=re.escape(said)) as err:
        ingest_file(ctx, path)
    assert str(err.value).startswith(str(path))
    assert _series(ctx) == {}


def test_a_workbook_saved_as_csv_name_is_refused_as_what_it_is(chimera_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(IngestError, match="zip archive or an Excel workbook"):
        ingest_file(add_client("xlsx"), path)
