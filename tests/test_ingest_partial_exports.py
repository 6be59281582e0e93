"""An export that leaves days out says nothing of them: a file of two selected orders, a
re-export missing a day, or one whose every order (or analytics row) of a day was rejected keeps
what the database holds for those days, metrics and customers alike, and says how many it kept.
A day with nothing stored is still a day without sales (zero) inside a Shopify or Stripe export."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sqlmodel import select

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay
from chimera.ingest import ingest_file
from chimera.metrics import load_series
from tests.test_ingest_store import _records, _write_rows


def _valid(store_files: Path) -> tuple[list[str], list]:
    """The header, and the orders the ingest accepts (the sample's malformed rows sit at its
    edges), oldest first."""
    header, orders = _records(store_files / "orders_export.csv")
    created, qty = header.index("Created at"), header.index("Lineitem quantity")

    def valid(order: list[list[str]]) -> bool:
        try:
            date.fromisoformat(order[0][created][:10])
        except ValueError:
            return False
        return all(r[qty].isdigit() for r in order)

    return header, sorted((o for o in orders if valid(o)), key=lambda o: o[0][created][:10])


def _ends(store_files: Path) -> tuple[list[str], list]:
    """The header, and one order from the export's first day and one from its last."""
    header, ok = _valid(store_files)
    return header, [ok[0], ok[-1]]


def _series(client) -> dict:
    with session_scope() as s:
        return load_series(s, client.company_id)


def _customer_days(client) -> dict[date, str]:
    with session_scope() as s:
        return {c.day: c.orders_by_customer for c in s.exec(select(CustomerDay).where(
            CustomerDay.company_id == client.company_id))}


def test_a_file_of_selected_orders_keeps_the_days_it_leaves_out(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    """An order of the first day and one of the last: each edge day lists fewer orders than are
    stored (left out and named, not cut short), and the days between have no rows (kept)."""
    header, ends = _ends(store_files)
    client = add_client("t")
    full = ingest_file(client, store_files / "orders_export.csv")
    before, customers = _series(client), _customer_days(client)
    picked = _write_rows(tmp_path / "two.csv", header, ends)  # an order of the first day and one of the last
    two = ingest_file(client, picked)
    assert [d.day for d in two.left_out] == [full.first_day, full.last_day] and not two.rejected
    assert all(d.reason.startswith("lists 1 of the ") for d in two.left_out)
    assert (two.first_day, two.last_day, two.metrics_written) == (None, None, 0)
    assert _series(client) == before and _customer_days(client) == customers


def test_a_file_whole_on_its_edge_days_replaces_them_and_keeps_the_days_between(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    """Every order of the first day (one with a unit more since) and of the last: the edge days,
    listed whole, are replaced; the days between have no rows and are kept, and counted so."""
    header, ok = _valid(store_files)
    created, qty = header.index("Created at"), header.index("Lineitem quantity")
    client = add_client("t")
    full = ingest_file(client, store_files / "orders_export.csv")
    before, customers = _series(client), _customer_days(client)
    edges = {full.first_day.isoformat(), full.last_day.isoformat()}
    picked = [[list(r) for r in o] for o in ok if o[0][created][:10] in edges]
    picked[0][0][qty] = str(int(picked[0][0][qty]) + 1)
    summary = ingest_file(client, _write_rows(tmp_path / "edges.csv", header, picked))
    assert (summary.first_day, summary.last_day, summary.left_out) == (full.first_day, full.last_day, [])
    after = _series(client)
    assert after["units"][full.first_day] == before["units"][full.first_day] + 1
    assert after["orders"][full.last_day] == before["orders"][full.last_day]
    days = set(before["orders"]) - {full.first_day, full.last_day}
    assert summary.kept_days >= len([d for d in days if before["orders"][d]]) > 100
    assert {d: after["orders"][d] for d in days} == {d: before["orders"][d] for d in days}
    kept = _customer_days(client)
    assert {d: kept[d] for d in days if d in customers} == {d: customers[d] for d in days if d in customers}


def test_a_day_with_nothing_stored_is_still_zero_inside_the_range(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    header, ends = _ends(store_files)
    client = add_client("t")
    two = ingest_file(client, _write_rows(tmp_path / "two.csv", header, ends))
    series = _series(client)
    assert two.kept_days == 0
    assert len(series["orders"]) == (two.last_day - two.first_day).days + 1
    assert sum(series["orders"].values()) <= 2 and 0 in series["orders"].values()


def test_a_day_whose_orders_were_all_rejected_keeps_its_customers(
    chimera_home: Path, store_files: Path, tmp_path: Path
) -> None:
    """Repeat-purchase rate reads the stored customers: a re-export rejecting a day must not
    delete them while it keeps the day's metrics."""
    header, orders = _records(store_files / "orders_export.csv")
    client = add_client("t")
    ingest_file(client, store_files / "orders_export.csv")
    customers, before = _customer_days(client), _series(client)
    created, qty = header.index("Created at"), header.index("Lineitem quantity")
    day = max(customers)
    for order in orders:
        if order[0][created][:10] == day.isoformat():
            order[0][qty] = "-1"  # every order of that day rejected
    summary = ingest_file(client, _write_rows(tmp_path / "bad_day.csv", header, orders))
    assert {r.order for r in summary.rejected} >= {o[0][0] for o in orders if o[0][created][:10] == day.isoformat()}
    assert _customer_days(client)[day] == customers[day]
    assert _series(client)["orders"][day] == before["orders"][day]


def test_an_analytics_re_export_with_a_bad_row_or_a_missing_date_keeps_the_stored_day(
    chimera_home: Path, tmp_path: Path
) -> None:
    client = add_client("t")
    first = tmp_path / "ga.csv"
    first.write_text("Date,Sessions,Users\n20261101,100,80\n20261102,90,70\n20261103,95,75\n20261104,99,77\n")
    ingest_file(client, first)
    again = tmp_path / "ga2.csv"
    with again.open("w", newline="") as fh:
        csv.writer(fh).writerows([["Date", "Sessions", "Users"], ["20261101", "101", "81"], ["20261102", "n/a", "70"],
                                  ["20261104", "98", "76"]])  # a bad row on the 2nd, no row for the 3rd
    summary = ingest_file(client, again)
    assert [(r.line, r.column) for r in summary.rejected] == [(3, "Sessions")] and summary.kept_days == 2
    sessions = _series(client)["sessions"]
    assert sessions == {date(2026, 11, 1): 101, date(2026, 11, 2): 90, date(2026, 11, 3): 95, date(2026, 11, 4): 98}
