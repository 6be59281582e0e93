"""Honest money layouts a QA pass found refused or misread: zero-decimal Stripe amounts in
thousands groups (JPY `2,511`), Shopify exports saved by a European Excel (`150,00`, `;`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.ingest import ingest_file
from chimera.ingest.detect import read_header
from chimera.ingest.models import Aggregate
from chimera.ingest.shopify import read_shopify
from chimera.ingest.stripe import AMBIGUOUS, aggregate_stripe, read_stripe
from chimera.metrics import load_series

STRIPE_HEADER = "id,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status"


def _stripe(tmp_path: Path, rows: list[str], currency: str = "jpy", sep: str = ",") -> Aggregate:
    path = tmp_path / "stripe.csv"
    body = [r.replace("{cur}", currency) for r in rows]
    path.write_text("\n".join([STRIPE_HEADER.replace(",", sep), *body]) + "\n", encoding="utf-8")
    df, cols = read_stripe(path, read_header(path))
    return aggregate_stripe(df, lambda rows: {}, cols)


def test_zero_decimal_comma_groups_are_whole_amounts(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ['ch_1,2026-05-01 10:00:00,"2,511",0,{cur},103,Paid',
                             'ch_2,2026-05-01 11:00:00,"12,000",0,{cur},"1,200",Paid',
                             "ch_3,2026-05-01 12:00:00,800,0,{cur},30,Paid"])
    assert not agg.rejected
    day = agg.days[next(iter(agg.days))]
    assert day["stripe_gross"] == Decimal("15311")
    assert day["stripe_fees"] == Decimal("1333")


def test_zero_decimal_dot_groups_are_whole_amounts(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ["ch_1;2026-05-01 10:00:00;2.511;0;{cur};103;Paid",
                             "ch_2;2026-05-01 11:00:00;12.000;0;{cur};1.200;Paid"], currency="krw", sep=";")
    assert not agg.rejected
    day = agg.days[next(iter(agg.days))]
    assert (day["stripe_gross"], day["stripe_fees"]) == (Decimal("14511"), Decimal("1303"))


def test_zero_decimal_with_both_group_styles_stays_refused(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ['ch_1,2026-05-01 10:00:00,"2,511",0,{cur},103,Paid',
                             "ch_2,2026-05-01 11:00:00,2.511,0,{cur},103,Paid"])
    assert {r.value for r in agg.rejected if r.reason == AMBIGUOUS} == {"2,511", "2.511"}


def test_two_decimal_currency_groups_without_cents_stay_refused(tmp_path: Path) -> None:
    agg = _stripe(tmp_path, ['ch_1,2026-05-01 10:00:00,"2,511",0,{cur},103,Paid'], currency="usd")
    assert [r.reason for r in agg.rejected] == [AMBIGUOUS]


SHOPIFY = [
    ["Name", "Email", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Created at",
     "Lineitem quantity", "Lineitem price", "Refunded Amount", "Cancelled at"],
    ["#1001", "a@example.com", "EUR", "1234.56", "5.95", "0.00", "1240.51", "0.00", "2026-05-01 10:00:00 +0200",
     "1", "1234.56", "0.00", ""],
    ["#1002", "b@example.com", "EUR", "150.00", "5.95", "12.50", "168.45", "10.00", "2026-05-01 11:00:00 +0200",
     "2", "80.00", "20.25", ""],
    ["#1002", "", "", "", "", "", "", "", "2026-05-01 11:00:00 +0200", "1", "0.00", "", ""],
]
MONEY = {"Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Lineitem price", "Refunded Amount"}


def _shopify(tmp_path: Path, rows: list[list[str]], name: str, sep: str = ",", bom: bool = False,
             nl: str = "\n") -> Aggregate:
    path = tmp_path / name
    text = nl.join(sep.join(r) for r in rows) + nl
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return read_shopify(path, read_header(path), lambda email: email, lambda rows: {})


def _european(rows: list[list[str]]) -> list[list[str]]:
    """The rows as a German Excel writes them: `1.234,56`."""
    money = [i for i, h in enumerate(rows[0]) if h in MONEY]

    def de(v: str) -> str:
        whole, _, frac = v.partition(".")
        return f"{int(whole):,}".replace(",", ".") + f",{frac}" if v else v

    return [rows[0]] + [[de(v) if i in money else v for i, v in enumerate(r)] for r in rows[1:]]


def test_shopify_european_excel_save_reads_as_the_dot_export(tmp_path: Path) -> None:
    dot = _shopify(tmp_path, SHOPIFY, "dot.csv")
    eu = _shopify(tmp_path, _european(SHOPIFY), "eu.csv", sep=";", bom=True, nl="\r\n")
    assert not dot.rejected and not eu.rejected
    assert eu.days == dot.days
    day = eu.days[next(iter(eu.days))]
    assert (day["net_sales"], day["total_sales"], day["gross_sales"]) == (
        Decimal("1384.56"), Decimal("1408.96"), Decimal("1394.56"))


def test_shopify_european_bad_value_says_comma(tmp_path: Path) -> None:
    rows = _european(SHOPIFY)
    rows[2][6] = "N/A"  # Total of #1002
    agg = _shopify(tmp_path, rows, "eu.csv", sep=";")
    assert [(r.order, r.value, r.reason) for r in agg.rejected] == [
        ("#1002", "N/A", "not a number (expected e.g. 12,34)")]
    assert agg.days[next(iter(agg.days))]["total_sales"] == Decimal("1240.51")


def test_shopify_dot_file_with_one_comma_value_stays_dot(tmp_path: Path) -> None:
    """One stray `12,50` in a dot-decimal export is that order's bad cell, not the file's locale."""
    rows = [list(r) for r in SHOPIFY]
    rows[2][4] = "5,95"
    agg = _shopify(tmp_path, rows, "dot.csv", sep=";")
    assert [(r.order, r.value) for r in agg.rejected] == [("#1002", "5,95")]
    assert agg.days[next(iter(agg.days))]["total_sales"] == Decimal("1240.51")


def test_three_decimal_sums_keep_every_fils_when_stored(tmp_path: Path, chimera_home: Path) -> None:
    """KWD amounts sum to 1012.335 and are stored so: the ingest never rounds below the file's scale,
    and `chimera metrics` shows every fils (a 2-decimal sum still shows its cents)."""
    path = tmp_path / "kwd.csv"
    path.write_text("\n".join([STRIPE_HEADER, "ch_1,2026-05-01 10:00:00,1000.110,0.000,kwd,0.316,Paid",
                               "ch_2,2026-05-01 11:00:00,12.225,0.000,kwd,0.829,Paid"]) + "\n", encoding="utf-8")
    client = add_client("kwd")
    ingest_file(client, path, "stripe_payments")
    with session_scope() as s:
        series = load_series(s, get_client("kwd").company_id, ["stripe_gross", "stripe_fees"])
    assert series["stripe_gross"][date(2026, 5, 1)] == Decimal("1012.335")
    assert str(series["stripe_fees"][date(2026, 5, 1)]) == "1.145"
    from chimera.cli.cmd_metrics import render_value

    assert render_value("stripe_gross", series["stripe_gross"][date(2026, 5, 1)]) == "1012.335"
    assert render_value("stripe_gross", Decimal("1234.500000")) == "1234.50"


def _us_grouped(rows: list[list[str]]) -> list[list[str]]:
    """The rows as a US-locale spreadsheet's number format saves them: `"1,234.56"` (quoted)."""
    money = [i for i, h in enumerate(rows[0]) if h in MONEY]

    def us(v: str) -> str:
        whole, _, frac = v.partition(".")
        return f'"{int(whole):,}.{frac}"' if v else v

    return [rows[0]] + [[us(v) if i in money else v for i, v in enumerate(r)] for r in rows[1:]]


def test_shopify_us_thousands_groups_read_as_the_plain_export(tmp_path: Path) -> None:
    """`"1,234.56"` (dot decimals, comma thousands) is 1234.56, as Stripe's reader takes it."""
    plain = _shopify(tmp_path, SHOPIFY, "plain.csv")
    rows = _us_grouped(SHOPIFY)
    assert '"1,234.56"' in rows[1]
    us = _shopify(tmp_path, rows, "us.csv")
    assert not us.rejected
    assert us.days == plain.days


def test_shopify_us_groups_still_reject_a_misplaced_comma(tmp_path: Path) -> None:
    """In a file read with thousands groups, `1,23.00` is no grouping: that order is rejected."""
    rows = _us_grouped(SHOPIFY)
    rows[2][3] = '"1,50.00"'  # Subtotal of #1002
    agg = _shopify(tmp_path, rows, "us.csv")
    assert [(r.order, r.value) for r in agg.rejected] == [("#1002", "1,50.00")]
    assert agg.days[next(iter(agg.days))]["net_sales"] == Decimal("1234.56")
