"""A value far beyond any payment or day's count (a pasted card number or id: 20+ digits) is a bad
cell, rejected naming its line and column. In Stripe, balance and Fiverr files it passed the parser
and overflowed exact decimal arithmetic (28 digits): the ingest ended in a traceback naming no file
or line; an analytics count beyond 64 bits silently left the day's sessions out."""

from __future__ import annotations

from pathlib import Path

from chimera.config.client import FiverrMapping
from chimera.ingest.analytics import aggregate_analytics, read_analytics
from chimera.ingest.detect import read_header
from chimera.ingest.fiverr import aggregate_fiverr, read_fiverr
from chimera.ingest.lines import physical_lines
from chimera.ingest.stripe import aggregate_stripe, read_stripe
from chimera.ingest.stripe_balance import aggregate_balance, read_balance

HUGE = "9999999999999999999999999999999999.99"


def _lines(path: Path):
    return lambda rows: physical_lines(path, rows, 0)


def _rejected(agg) -> list[tuple[int, str, str]]:
    agg.settle()
    return [(r.line, r.column, r.value) for r in agg.rejected]


def test_a_stripe_amount_beyond_any_payment_is_rejected_by_line(tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text("id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"
                    f"ch_1,2026-03-01 10:00:00,{HUGE},0.00,usd,true,0.50,Paid\n"
                    "ch_2,2026-03-01 11:00:00,10.00,0.00,usd,true,0.59,Paid\n", encoding="utf-8")
    df, headers = read_stripe(path, read_header(path))
    agg = aggregate_stripe(df, _lines(path), headers)
    assert _rejected(agg) == [(2, "Amount", HUGE)]
    assert str(agg.days[min(agg.days)]["stripe_gross"]) == "10.00"


def test_a_balance_gross_beyond_any_payment_is_rejected_by_line(tmp_path: Path) -> None:
    path = tmp_path / "balance.csv"
    path.write_text("balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
                    f"txn_1,2026-03-01 10:00:00,usd,{HUGE},0.50,1.00,charge\n"
                    "txn_2,2026-03-01 11:00:00,usd,10.00,0.59,9.41,charge\n", encoding="utf-8")
    df, headers = read_balance(path, read_header(path))
    agg = aggregate_balance(df, _lines(path), headers)
    assert _rejected(agg) == [(2, "gross", HUGE)]


def test_a_fiverr_amount_beyond_any_order_is_rejected_by_line(tmp_path: Path) -> None:
    path = tmp_path / "fiverr.csv"
    path.write_text(f"Order Date,Earnings,Status\n2026-03-01,{HUGE},Completed\n2026-03-01,40.00,Completed\n",
                    encoding="utf-8")
    mapping = FiverrMapping(date="Order Date", amount="Earnings", status="Status")
    agg = aggregate_fiverr(read_fiverr(path, read_header(path), mapping), mapping, _lines(path))
    assert _rejected(agg) == [(2, "Earnings", HUGE)]


def test_an_analytics_count_beyond_64_bits_is_rejected_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "analytics.csv"
    path.write_text("date,sessions,revenue\n20260301,99999999999999999999999,1.00\n20260302,100,12.50\n",
                    encoding="utf-8")
    df, cols = read_analytics(path, read_header(path))
    agg = aggregate_analytics(df, _lines(path), cols)
    assert _rejected(agg) == [(2, "sessions", "99999999999999999999999")]


def test_a_shopify_amount_beyond_any_order_is_rejected_by_line(tmp_path: Path) -> None:
    """In a Shopify export the value took the careful pass (longer than 12 bytes) and its day's sum
    overflowed the exact decimal context: a traceback naming no file or line."""
    from chimera.ingest.shopify import read_shopify

    path = tmp_path / "orders_export.csv"
    head = "Name,Email,Financial Status,Currency,Subtotal,Shipping,Taxes,Total,Discount Amount,Created at," \
           "Lineitem quantity,Lineitem price,Refunded Amount,Cancelled at\n"
    path.write_text(head
                    + f"#1001,a@example.com,paid,USD,{HUGE},0.00,0.00,{HUGE},0.00,2026-03-01 10:00:00 -0500,1,"
                    f"{HUGE},0.00,\n"
                    "#1002,b@example.com,paid,USD,10.00,0.00,0.00,10.00,0.00,2026-03-01 11:00:00 -0500,1,10.00,0.00,\n",
                    encoding="utf-8")
    agg = read_shopify(path, read_header(path), lambda email: email, _lines(path))
    assert {(line, column, value) for line, column, value in _rejected(agg)} == {
        (2, "Subtotal", HUGE), (2, "Total", HUGE), (2, "Lineitem price", HUGE)}
    assert str(agg.days[min(agg.days)]["total_sales"]) == "10.00"
