"""A date typed into the far future (2062 for 2026) is a bad cell, in every kind of export: its
order is rejected with line, column and value, and the export does not cover decades of made-up
days without sales. An export whose dates simply run ahead of this machine's clock is kept."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.ingest import future, ingest_file
from chimera.ingest.future import GAP, typo_days
from chimera.metrics import load_series

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LIMIT = date(2026, 12, 7)  # 09:00 UTC + 14 h is still Dec 7 in Kiribati


def _series(client) -> dict:
    with session_scope() as s:
        return load_series(s, client.company_id)


def _typo(summary) -> list:
    return [r for r in summary.rejected if "typo" in r.reason]


def test_a_far_future_day_is_a_typo_and_days_begun_somewhere_never_are() -> None:
    past = [date(2026, 11, 1) + timedelta(days=i) for i in range(36)]  # to Dec 6
    assert typo_days([*past, date(2062, 11, 5), None], now=NOW) == [date(2062, 11, 5)]
    assert typo_days([*past, LIMIT], now=NOW) == []  # begun at UTC+14
    assert typo_days([*past, date(2026, 12, 8), date(2026, 12, 9)], now=NOW) == []  # runs on from the export
    assert typo_days([date(2026, 11, 30), date(2026, 12, 17), date(2026, 12, 18)], now=NOW) == [
        date(2026, 12, 17), date(2026, 12, 18)]  # a week past the last day kept: both refused


@given(start=st.dates(date(2000, 1, 1), date(2100, 1, 1)), steps=st.lists(st.integers(0, GAP.days), max_size=40))
def test_an_export_whose_days_run_on_is_never_refused_whatever_the_clock(start: date, steps: list[int]) -> None:
    """A generated store, or a machine whose clock is behind: days a week apart at most are kept."""
    days = [start]
    for step in steps:
        days.append(days[-1] + timedelta(days=step))
    assert typo_days(days, now=NOW) == []


@given(days=st.lists(st.dates(date(2000, 1, 1), LIMIT), max_size=30), typo=st.dates(date(2027, 1, 1), date(2099, 1, 1)))
def test_a_typo_far_past_every_other_day_is_always_found(days: list[date], typo: date) -> None:
    if days and typo - max(days) <= GAP:
        return
    assert typo_days([*days, typo], now=NOW) == ([typo] if days else [])


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(future, "_now", lambda: NOW)


def _rewrite(src: Path, out: Path, column: str, pick, to) -> list[str]:
    """``src`` with ``column`` of the rows ``pick`` chooses set to ``to(value)``; returns their values."""
    with src.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    i = rows[0].index(column)
    changed = []
    for row in rows[1:]:
        if pick(row):
            row[i] = to(row[i])
            changed.append(row[i])
    with out.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return changed


def test_a_shopify_order_typed_decades_ahead_is_rejected_not_zero_filled(
    chimera_home: Path, store_files: Path, tmp_path: Path, clock: None
) -> None:
    src = store_files / "orders_export.csv"
    with src.open(newline="") as fh:
        last = list(csv.reader(fh))[-1][0]
    out = tmp_path / "orders.csv"
    _rewrite(src, out, "Created at", lambda r: r[0] == last, lambda v: "2062" + v[4:])
    a, b = add_client("a"), add_client("b")
    clean = ingest_file(a, src)
    typo = ingest_file(b, out)
    assert typo.last_day <= clean.last_day and typo.last_day.year < 2062
    assert typo.orders_ingested == clean.orders_ingested - 1
    [bad] = _typo(typo)
    assert (bad.column, bad.order, bad.value[:4]) == ("Created at", last, "2062") and bad.line > 1
    assert "2026-12-07" in bad.reason
    x, y = _series(a), _series(b)
    assert max(y["orders"]) == max(x["orders"]) and len(y["orders"]) == len(x["orders"])


def test_stripe_analytics_and_fiverr_typo_dates_are_rejected(
    chimera_home: Path, store_files: Path, tmp_path: Path, clock: None
) -> None:
    client = add_client("t")
    stripe = tmp_path / "stripe.csv"
    first = []
    _rewrite(store_files / "stripe_payments.csv", stripe, "Created date (UTC)",
             lambda r: not first and not first.append(r[0]), lambda v: "2206" + v[4:])
    summary = ingest_file(client, stripe)
    assert [(r.column, r.order, r.value[:4]) for r in _typo(summary)] == [("Created date (UTC)", first[0], "2206")]
    assert summary.last_day.year == 2026

    ga = tmp_path / "ga.csv"
    ga.write_text("Date,Sessions,Users\n20261101,100,80\n20261102,90,70\n20621103,95,75\n")
    summary = ingest_file(client, ga)
    assert [(r.line, r.column, r.value) for r in _typo(summary)] == [(4, "Date", "20621103")]
    assert summary.last_day == date(2026, 11, 2)

    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text() + "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n"
                   "  order_id: Order ID\n")
    sheet = tmp_path / "fiverr.csv"
    sheet.write_text("Order ID,Order Date,Earnings,Status\nFO1,2026-11-01,40.00,Completed\n"
                     "FO2,2027-11-02,15.00,Completed\nFO3,2026-11-02,20.00,Completed\n")
    summary = ingest_file(get_client("t"), sheet)
    assert [(r.line, r.order, r.value) for r in _typo(summary)] == [(3, "FO2", "2027-11-02")]
    assert _series(client)["fiverr_orders"] == {date(2026, 11, 1): 1, date(2026, 11, 2): 1}


def test_an_export_ahead_of_a_clock_that_is_behind_is_kept(
    chimera_home: Path, store_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine's clock a year behind the export: its days run on from each other, all kept."""
    monkeypatch.setattr(future, "_now", lambda: datetime(2025, 1, 1, tzinfo=UTC))
    summary = ingest_file(add_client("t"), store_files / "orders_export.csv")
    assert _typo(summary) == [] and summary.orders_ingested > 1000
