"""An order or payment export without a stated range (--since/--until) says nothing of how much of
its first and last day it lists: a page of the newest orders (Shopify's "current page", a search)
holds only the end of its oldest day. Such an edge day listing fewer orders (payments) than are
stored is left out, named in ``left_out``, its metrics and customer-days kept; inner days are
replaced as before, a stated side replaces its edge, a first ingest writes everything, and
analytics exports are judged by their own rules."""

from __future__ import annotations

import csv
import itertools
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import select

from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay
from chimera.ingest import ingest_file, parse_file
from chimera.ingest.detect import read_header
from chimera.ingest.store import write_aggregate
from chimera.metrics import load_series

SHOPIFY = ["Name", "Email", "Financial Status", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
           "Discount Amount", "Created at", "Lineitem quantity", "Lineitem price", "Lineitem name"]
STRIPE = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"]
FIVERR = "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n  order_id: Order ID\n"
DAY = date(2026, 3, 2)
PER_DAY = {DAY: 5, DAY + timedelta(days=1): 4, DAY + timedelta(days=2): 6}  # orders a day in the full export
_names = itertools.count()


def _client(extra: str = ""):
    client = add_client(f"edge{next(_names)}")
    if extra:
        yml = client.folder / "client.yml"
        yml.write_text(yml.read_text("utf-8") + extra, "utf-8")
    return get_client(client.name)


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def _shopify(orders: list[tuple[date, int]]) -> list[list[str]]:
    """One-line orders of 10.00 (each by its own customer): (day, number) pairs, newest first."""
    rows = [SHOPIFY]
    for day, n in sorted(orders, reverse=True):
        rows.append([f"#{day:%m%d}{n:02d}", f"c{day:%m%d}{n}@example.com", "paid", "USD", "10.00", "0.00", "0.00",
                     "10.00", "0.00", f"{day} {10 + n}:00:00 +0000", "1", "10.00", "mug"])
    return rows


def _stripe(charges: list[tuple[date, int]]) -> list[list[str]]:
    return [STRIPE] + [[f"ch_{day:%m%d}{n:02d}", f"{day} {10 + n}:00:00", "10.00", "0.00", "usd", "true", "0.59",
                        "Paid"] for day, n in sorted(charges, reverse=True)]


def _fiverr(orders: list[tuple[date, int]]) -> list[list[str]]:
    return [["Order ID", "Order Date", "Earnings", "Status"]] + [
        [f"FO{day:%m%d}{n:02d}", day.isoformat(), "$10.00", "Completed"] for day, n in sorted(orders)]


def _full() -> list[tuple[date, int]]:
    return [(day, n) for day, count in PER_DAY.items() for n in range(count)]


def _page(last_of_first_day: int) -> list[tuple[date, int]]:
    """The newest orders: the last two days whole, and the newest ``last_of_first_day`` of the day before."""
    days = sorted(PER_DAY)
    return [(d, n) for d, n in _full() if d != days[0] or n >= PER_DAY[d] - last_of_first_day]


def _series(client, metric: str) -> dict[date, int]:
    with session_scope() as s:
        return {d: int(v) for d, v in load_series(s, client.company_id)[metric].items()}


def _customer_days(client) -> dict[date, str]:
    with session_scope() as s:
        return {c.day: c.orders_by_customer for c in s.exec(select(CustomerDay).where(
            CustomerDay.company_id == client.company_id))}


def test_a_page_of_the_newest_shopify_orders_keeps_its_oldest_day_and_its_customers(
        chimera_home: Path, tmp_path: Path) -> None:
    client = _client()
    ingest_file(client, _write(tmp_path / "full.csv", _shopify(_full())))
    customers = _customer_days(client)
    page = ingest_file(client, _write(tmp_path / "page.csv", _shopify(_page(2))))
    assert [(d.day, d.reason[:31]) for d in page.left_out] == [(DAY, "lists 2 of the 5 orders stored ")]
    assert "pass --since/--until to replace it" in page.left_out[0].reason
    assert (page.first_day, page.last_day) == (DAY + timedelta(days=1), DAY + timedelta(days=2))
    assert _series(client, "orders_placed") == PER_DAY
    assert _customer_days(client) == customers and len(customers[DAY]) > len(customers[DAY + timedelta(days=1)])


def test_a_page_of_the_newest_stripe_payments_keeps_its_oldest_day(chimera_home: Path, tmp_path: Path) -> None:
    client = _client()
    ingest_file(client, _write(tmp_path / "full.csv", _stripe(_full())))
    page = ingest_file(client, _write(tmp_path / "page.csv", _stripe(_page(1))))
    assert [d.day for d in page.left_out] == [DAY]
    assert page.left_out[0].reason.startswith("lists 1 of the 5 payments stored for this day")
    assert _series(client, "stripe_payments") == PER_DAY


def test_a_fiverr_sheet_of_its_newest_orders_keeps_its_oldest_day(chimera_home: Path, tmp_path: Path) -> None:
    client = _client(FIVERR)
    ingest_file(client, _write(tmp_path / "full.csv", _fiverr(_full())))
    page = ingest_file(client, _write(tmp_path / "page.csv", _fiverr(_page(3))))
    assert [d.day for d in page.left_out] == [DAY]
    assert page.left_out[0].reason.startswith("lists 3 of the 5 orders stored for this day")
    assert _series(client, "fiverr_orders") == PER_DAY


def test_a_first_ingest_or_a_day_grown_since_is_written(chimera_home: Path, tmp_path: Path) -> None:
    """Nothing stored: the page is all there is. An edge day listing more orders than are stored
    (the export taken later) replaces what is stored, as an inner day always does."""
    client = _client()
    first = ingest_file(client, _write(tmp_path / "page.csv", _shopify(_page(2))))
    assert first.left_out == [] and _series(client, "orders_placed")[DAY] == 2
    grown = ingest_file(client, _write(tmp_path / "full.csv", _shopify(_full())))
    assert grown.left_out == [] and _series(client, "orders_placed") == PER_DAY


def test_a_stated_side_replaces_its_edge_day_and_the_other_is_still_judged(
        chimera_home: Path, tmp_path: Path) -> None:
    """An order deleted since the full export, re-exported from its first day (``stated``'s first
    side): that day is replaced with one order fewer; the last day, cut short, is left out."""
    client = _client()
    ingest_file(client, _write(tmp_path / "full.csv", _shopify(_full())))
    last = max(PER_DAY)
    again = [(d, n) for d, n in _full() if (d, n) != (DAY, 0) and (d != last or n < 2)]
    path = _write(tmp_path / "again.csv", _shopify(again))
    agg = parse_file(client, path, "shopify_orders", read_header(path))
    with session_scope() as s:
        write_aggregate(s, client.company_id, agg, file_name=path.name, fingerprint="again", stated=(DAY, None))
    assert agg.left_out.keys() == {last} and agg.left_out[last].startswith("lists 2 of the 6 orders")
    assert _series(client, "orders_placed") == {**PER_DAY, DAY: PER_DAY[DAY] - 1}


def test_an_analytics_export_is_not_judged_by_its_edge_days(chimera_home: Path, tmp_path: Path) -> None:
    """An analytics export lists days, not records: fewer sessions on its first day is the day's figure."""
    client = _client()
    full = tmp_path / "ga.csv"
    full.write_text("Date,Sessions,Users\n20260302,100,80\n20260303,90,70\n", "utf-8")
    ingest_file(client, full)
    again = tmp_path / "ga2.csv"
    again.write_text("Date,Sessions,Users\n20260302,40,30\n20260303,91,71\n", "utf-8")
    summary = ingest_file(client, again)
    assert summary.left_out == [] and _series(client, "sessions") == {DAY: 40, DAY + timedelta(days=1): 91}
