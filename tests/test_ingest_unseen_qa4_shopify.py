"""QA4: Shopify orders exports the project never saw, read through the CLI contract (`chimera ingest
--json`, then `chimera metrics --json`). Each file is a variant a merchant hands over (another
writer, another locale's spreadsheet save, odd but legal orders); the expected metrics are worked
out by hand from the rows written, per DATA.md (orders = placed minus cancelled; sums over orders
that are not cancelled; gross = price x quantity; net_revenue = total_sales - refunded_amount).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.errors import IngestError
from chimera.ingest import ingest_file

_register()
runner = CliRunner()
_names = itertools.count()

# Today's 79 columns (DATA.md), in the export's order.
HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
    "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
    "Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,"
    "Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,"
    "Payment ID,Payment Terms Name,Next Payment Due At,Payment References"
).split(",")
MONEY = ["Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount", "Lineitem price"]
ALL = ["orders_placed", "orders", "cancelled_orders", "units", "gross_sales", "discounts", "net_sales", "shipping",
       "taxes", "total_sales", "refunded_orders", "refunded_amount", "net_revenue"]


def _order(name: str, created: str, items: list[tuple[int, str]], *, shipping: str = "5.00", taxes: str = "1.00",
           discount: str = "0.00", refunded: str = "0.00", cancelled: str = "") -> list[dict[str, str]]:
    """An order as Shopify writes it: order-level cells on the first row only; every row repeats
    Name, Email, Created at, its Lineitem cells and Vendor; the first row ends with Payment References."""
    gross = sum(Decimal(p) * q for q, p in items)
    subtotal = gross - Decimal(discount)
    rows = []
    for i, (qty, price) in enumerate(items):
        row = dict.fromkeys(HEADER, "")
        row.update({"Name": name, "Email": f"{name.strip('#')}@example.com", "Created at": created,
                    "Lineitem quantity": str(qty), "Lineitem price": price, "Lineitem name": f"Item {i}",
                    "Vendor": "Alder & Moss", "Lineitem discount": "0.00"})
        if i == 0:
            row.update({"Financial Status": "paid", "Currency": "EUR", "Subtotal": f"{subtotal:.2f}",
                        "Shipping": shipping, "Taxes": taxes,
                        "Total": f"{subtotal + Decimal(shipping) + Decimal(taxes):.2f}",
                        "Discount Amount": discount, "Refunded Amount": refunded, "Cancelled at": cancelled,
                        "Billing Zip": "'75008", "Payment References": f"{name}.1"})
        rows.append(row)
    return rows


def _csv(rows: list[dict[str, str]], sep: str = ",", end: str = "\n", header: list[str] = HEADER) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator=end)
    writer.writerow(header)
    writer.writerows([r[h] for h in header] for r in rows)
    return buf.getvalue()


def _ingest(path: Path) -> tuple[dict, dict[str, dict[str, str]]]:
    """`chimera ingest --json` and `chimera metrics --json` for a fresh client: (summary, metrics as text)."""
    client = f"qa4-{next(_names)}"
    add_client(client)
    result = runner.invoke(app, ["ingest", str(path), "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    result = runner.invoke(app, ["metrics", "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    series = json.loads(result.stdout)["metrics"]
    return summary, {m: {d: str(v) for d, v in days.items()} for m, days in series.items()}


def _rejected(summary: dict) -> list[tuple[int, str, str]]:
    return [(r["line"], r["column"], r["order"]) for r in summary["rejected"]]


# Three orders over two days: #1001 two lines (10.00 + 2 x 5.50), #1002 refunded 4.00 of 3 x 4.00,
# #1003 cancelled (three lines). By hand: 04-05: 1 order, 3 units, gross 21.00, total 21 + 5 + 1 = 27.00;
# 04-06: 2 placed, 1 cancelled, #1002 only: 3 units, 12.00, total 18.00, refunded 4.00, net revenue 14.00.
THREE = [*_order("#1001", "2026-04-05 21:06:21 -0400", [(1, "10.00"), (2, "5.50")]),
         *_order("#1002", "2026-04-06 08:00:00 -0400", [(3, "4.00")], refunded="4.00"),
         *_order("#1003", "2026-04-06 09:00:00 -0400", [(1, "7.00"), (1, "1.00"), (1, "2.00")],
                 cancelled="2026-04-06 10:00:00 -0400")]
THREE_TRUTH = {
    "orders_placed": {"2026-04-05": "1", "2026-04-06": "2"}, "orders": {"2026-04-05": "1", "2026-04-06": "1"},
    "cancelled_orders": {"2026-04-05": "0", "2026-04-06": "1"}, "units": {"2026-04-05": "3", "2026-04-06": "3"},
    "gross_sales": {"2026-04-05": "21.00", "2026-04-06": "12.00"},
    "discounts": {"2026-04-05": "0.00", "2026-04-06": "0.00"},
    "net_sales": {"2026-04-05": "21.00", "2026-04-06": "12.00"},
    "shipping": {"2026-04-05": "5.00", "2026-04-06": "5.00"}, "taxes": {"2026-04-05": "1.00", "2026-04-06": "1.00"},
    "total_sales": {"2026-04-05": "27.00", "2026-04-06": "18.00"},
    "refunded_orders": {"2026-04-05": "0", "2026-04-06": "1"},
    "refunded_amount": {"2026-04-05": "0.00", "2026-04-06": "4.00"},
    "net_revenue": {"2026-04-05": "27.00", "2026-04-06": "14.00"},
}


def _metrics_of(series: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {m: series[m] for m in ALL if m in series}


# --------------------------------------------------------------------------- writers leaving out trailing empty cells


ORDER_CELLS_LAST = [h for h in HEADER if h not in ("Subtotal", "Total", "Cancelled at", "Refunded Amount")] + [
    "Subtotal", "Total", "Cancelled at", "Refunded Amount"]  # a sheet with the order's cells moved to the end


@pytest.mark.parametrize(("end", "header"), [("\n", HEADER), ("\r\n", HEADER), ("\n", ORDER_CELLS_LAST)])
def test_rows_without_their_trailing_empty_cells_are_read(chimera_home: Path, tmp_path: Path, end: str,
                                                          header: list[str]) -> None:
    """A writer that stops each row at its last value (continuation rows then end at `Lineitem
    discount`, 60 fields of 79, or before the order cells moved last): every line item cell is
    written, in place, and the cells left out are empty. Two of the three orders were rejected as
    'row lost cells' and only #1002 counted."""
    text = end.join(line.rstrip(",") for line in _csv(THREE, header=header).splitlines()) + end
    path = tmp_path / "orders_export.csv"
    path.write_bytes(text.encode())
    summary, series = _ingest(path)
    assert summary["rejected"] == [] and summary["orders_ingested"] == 3
    assert _metrics_of(series) == THREE_TRUTH


def test_a_short_row_in_an_export_that_keeps_empty_cells_is_still_rejected(chimera_home: Path,
                                                                           tmp_path: Path) -> None:
    """The same short row in a file whose other rows end with empty cells (`...,,,`) lost cells
    (a hand edit): its columns may have shifted, so its order is rejected at its line."""
    lines = _csv(THREE).splitlines()
    cells = next(csv.reader([lines[2]]))  # #1001's second line item
    del cells[HEADER.index("Billing Zip")]  # one cell gone mid-row: everything after it shifts left
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    lines[2] = buf.getvalue()
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join(lines) + "\n")
    summary, series = _ingest(path)
    assert _rejected(summary) == [(3, "(whole row)", "#1001")]
    assert summary["rejected"][0]["value"] == "78 fields"
    assert series["orders"] == {"2026-04-06": "1"}


def test_a_record_split_by_a_line_break_in_a_trimmed_export_is_rejected(chimera_home: Path, tmp_path: Path) -> None:
    """In a file that leaves out trailing empty cells, an unquoted line break inside Vendor splits
    #1001's first record in two; both parts are short, and together they make one record: the
    parts are reported at their lines, never read as an order and a nameless line item."""
    lines = [line.rstrip(",") for line in _csv(THREE).splitlines()]
    lines[1] = lines[1].replace(",Alder & Moss,", ",Alder\n& Moss,", 1)
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join(lines) + "\n")
    summary, series = _ingest(path)
    assert [(line, column) for line, column, _ in _rejected(summary)] == [(2, "(whole row)"), (3, "(whole row)")]
    assert summary["rejected"][0]["order"] == "#1001"
    assert series["orders"] == {"2026-04-06": "1"} and series["total_sales"] == {"2026-04-06": "18.00"}


# --------------------------------------------------------------------------- thousands groups of other locales


def _grouped(value: str, mark: str, decimal: str) -> str:
    whole, cents = f"{Decimal(value):,.2f}".split(".")
    return whole.replace(",", mark) + decimal + cents


@pytest.mark.parametrize(("mark", "decimal", "sep", "encoding"), [
    ("\u00a0", ",", ";", "utf-8"),  # French Excel's number format: no-break space groups
    ("\u00a0", ",", ";", "cp1252"),  # ... saved as "CSV (séparateur: point-virgule)" on Windows
    ("\u202f", ",", ";", "utf-8"),  # newer French locales: the narrow no-break space
    ("'", ".", ";", "utf-8"),  # Swiss German: 1'234.50
    ("\u2019", ".", ";", "utf-8"),  # Swiss, typographic apostrophe
    (" ", ".", ",", "utf-8"),  # plain spaces in a dot-decimal file
])
def test_thousands_groups_of_spaces_and_apostrophes_are_exact(chimera_home: Path, tmp_path: Path, mark: str,
                                                             decimal: str, sep: str, encoding: str) -> None:
    """A spreadsheet's number format writes `1 234,50` or `1'234.50`: the groups are never a
    decimal separator, so the amount is exact; such orders were rejected as not a number while
    German `1.234,50` was read. By hand: 04-05 one order of 1234.50 + 2 x 5.50 = 1245.50, free
    shipping, no tax; 04-06 #1002 as in THREE."""
    rows = [*_order("#1001", "2026-04-05 21:06:21 -0400", [(1, "1234.50"), (2, "5.50")], shipping="0.00",
                    taxes="0.00"), *_order("#1002", "2026-04-06 08:00:00 -0400", [(3, "4.00")], refunded="4.00")]
    for row in rows:
        for col in MONEY:
            if row[col]:
                row[col] = _grouped(row[col], mark, decimal)
    path = tmp_path / "orders_export.csv"
    path.write_bytes(_csv(rows, sep=sep).encode(encoding))
    summary, series = _ingest(path)
    assert summary["rejected"] == []
    assert series["gross_sales"] == {"2026-04-05": "1245.50", "2026-04-06": "12.00"}
    assert series["total_sales"] == {"2026-04-05": "1245.50", "2026-04-06": "18.00"}
    assert series["net_revenue"] == {"2026-04-05": "1245.50", "2026-04-06": "14.00"}


def test_a_space_that_is_no_thousands_group_is_still_a_bad_cell(chimera_home: Path, tmp_path: Path) -> None:
    """`12 50` (a typo) is not 1250: its order is rejected at its line, showing the value."""
    rows = [dict(r) for r in THREE]
    rows[2]["Lineitem price"] = "12 50"  # #1002's line item
    path = tmp_path / "orders_export.csv"
    path.write_text(_csv(rows))
    summary, series = _ingest(path)
    assert [(r["line"], r["column"], r["value"], r["order"]) for r in summary["rejected"]] == [
        (4, "Lineitem price", "12 50", "#1002")]
    assert series["orders"] == {"2026-04-05": "1", "2026-04-06": "0"}


# --------------------------------------------------------------------------- writers ending every row with a separator

SMALL = ["Name", "Created at", "Lineitem quantity", "Lineitem price", "Subtotal", "Shipping", "Taxes", "Total",
         "Cancelled at", "Refunded Amount"]  # a sheet keeping only what the metrics read: its last column is read


@pytest.mark.parametrize(("end", "header"), [("\n", HEADER), ("\r\n", HEADER), ("\n", SMALL)])
def test_data_rows_ending_with_a_separator_are_read(chimera_home: Path, tmp_path: Path, end: str,
                                                   header: list[str]) -> None:
    """A script writing `value,` per field ends every data row (not the header) with one more,
    empty field: the cells are in place. Every order was rejected as 'a value holds an unquoted
    comma'; with the sheet's last column read, the whole file was refused."""
    lines = _csv(THREE, header=header).splitlines()
    path = tmp_path / "orders_export.csv"
    path.write_bytes((end.join([lines[0], *(line + "," for line in lines[1:])]) + end).encode())
    summary, series = _ingest(path)
    assert summary["rejected"] == [] and summary["orders_ingested"] == 3
    expected = {m: v for m, v in THREE_TRUTH.items() if header is HEADER or m != "discounts"}  # SMALL: no discounts
    assert _metrics_of(series) == expected


def test_an_unquoted_comma_when_the_last_column_is_read_rejects_only_its_order(chimera_home: Path,
                                                                              tmp_path: Path) -> None:
    """`Name,...,Refunded Amount` (the sheet's last column read) and #1002's row holding one field
    too many: that order is rejected at its line with its field count, the others counted; the
    whole file was refused ('line 4: 11 fields, header has 10')."""
    lines = _csv(THREE, header=SMALL).splitlines()
    lines[3] = lines[3].replace("#1002,", "#1002,oops,", 1)
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join(lines) + "\n")
    summary, series = _ingest(path)
    assert _rejected(summary) == [(4, "(whole row)", "#1002")] and summary["rejected"][0]["value"] == "11 fields"
    assert series["orders"] == {"2026-04-05": "1", "2026-04-06": "0"}
    assert series["total_sales"] == {"2026-04-05": "27.00", "2026-04-06": "0.00"}


@pytest.mark.parametrize("pad", ["\t", " ", "\t "])
def test_cells_padded_with_tabs_or_spaces_are_trimmed(chimera_home: Path, tmp_path: Path, pad: str) -> None:
    """Every cell quoted and padded (`"\t#1001\t"`: some exporters start cells with a tab against
    spreadsheet formula injection; a hand-tidied sheet pads with spaces): the values are the same.
    Tab-padded files had every order rejected ('not a date-time', 'not a whole number')."""
    rows = [{k: f"{pad}{v}{pad}" if v else v for k, v in row.items()} for row in THREE]
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([r[h] for h in HEADER] for r in rows)
    path = tmp_path / "orders_export.csv"
    path.write_bytes(buf.getvalue().encode("utf-8-sig"))
    summary, series = _ingest(path)
    assert summary["rejected"] == [] and summary["orders_ingested"] == 3
    assert _metrics_of(series) == THREE_TRUTH


# --------------------------------------------------------------------------- a spreadsheet's currency format

def _marked(currency: str, fmt) -> list[dict[str, str]]:
    rows = [*_order("#1001", "2026-04-05 21:06:21 -0400", [(1, "1234.50"), (2, "5.50")], shipping="0.00",
                    taxes="0.00"), *_order("#1002", "2026-04-06 08:00:00 -0400", [(3, "4.00")], refunded="4.00")]
    for row in rows:
        row["Currency"] = currency if row["Currency"] else ""
        for col in MONEY:
            if row[col]:
                row[col] = fmt(Decimal(row[col]))
    return rows


@pytest.mark.parametrize(("currency", "sep", "fmt"), [
    ("USD", ",", lambda v: f"${v:,.2f}"),  # Excel (US) currency format: $1,234.50
    ("CAD", ",", lambda v: f"${v:,.2f}"),  # `$` is any dollar
    ("EUR", ";", lambda v: f"{v:,.2f} €".replace(",", "\u00a0").replace(".", ",")),  # French: 1 234,50 €
    ("EUR", ";", lambda v: f"€ {v:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")),  # Dutch
    ("CHF", ";", lambda v: f"CHF {v:,.2f}".replace(",", "'")),  # Swiss: CHF 1'234.50
    ("GBP", ",", lambda v: f"£{v:.2f}"),
])
def test_amounts_in_a_currency_format_are_read_when_the_mark_fits_the_currency(
    chimera_home: Path, tmp_path: Path, currency: str, sep: str, fmt
) -> None:
    """A sheet formatted as currency before saving writes `$1,234.50` or `1 234,50 €`: every order
    was rejected as not a number. The mark fits the file's Currency, so the amounts are read. By
    hand: 04-05 1234.50 + 2 x 5.50 = 1245.50 (no shipping or tax); 04-06 3 x 4.00 = 12.00, total
    18.00, refunded 4.00."""
    path = tmp_path / "orders_export.csv"
    path.write_text(_csv(_marked(currency, fmt), sep=sep))
    summary, series = _ingest(path)
    assert summary["rejected"] == []
    assert series["gross_sales"] == {"2026-04-05": "1245.50", "2026-04-06": "12.00"}
    assert series["net_revenue"] == {"2026-04-05": "1245.50", "2026-04-06": "14.00"}


def test_a_currency_mark_that_does_not_fit_the_currency_is_not_read(chimera_home: Path, tmp_path: Path) -> None:
    """`€1245.50` on #1001 of a USD export: which currency it is in is unknown, so the order is
    rejected at its line (Subtotal first), never summed as dollars; #1002 (plain) counts."""
    rows = _marked("USD", lambda v: f"€{v:.2f}")
    for row in rows[2:]:
        row.update({col: row[col].lstrip("€") for col in MONEY})
    path = tmp_path / "orders_export.csv"
    path.write_text(_csv(rows))
    summary, series = _ingest(path)
    assert [(r["line"], r["column"], r["value"]) for r in summary["rejected"][:1]] == [(2, "Subtotal", "€1245.50")]
    assert {r["order"] for r in summary["rejected"]} == {"#1001"} and summary["orders_ingested"] == 1
    assert series["gross_sales"] == {"2026-04-06": "12.00"}


def test_whole_quantities_written_as_floats_are_whole(chimera_home: Path, tmp_path: Path) -> None:
    """A sheet round-tripped through pandas writes a quantity column with a gap as floats (`2.0`):
    still 2 units (analytics counts are read so); `1.5` is still no whole number, rejected at its line."""
    rows = [dict(r) for r in THREE]
    for row in rows:
        row["Lineitem quantity"] += ".0"
    rows[2]["Lineitem quantity"] = "1.5"  # #1002
    path = tmp_path / "orders_export.csv"
    path.write_text(_csv(rows))
    summary, series = _ingest(path)
    assert [(r["line"], r["column"], r["value"]) for r in summary["rejected"]] == [(4, "Lineitem quantity", "1.5")]
    assert series["units"] == {"2026-04-05": "3", "2026-04-06": "0"}
    assert series["gross_sales"] == {"2026-04-05": "21.00", "2026-04-06": "0.00"}


# --------------------------------------------------------------------------- odd but legal orders, pinned


def _day(series: dict[str, dict[str, str]], *metrics: str) -> dict[str, dict[str, str]]:
    return {m: series[m] for m in metrics}


def test_newest_first_offsets_of_india_and_nepal_and_a_dst_day(chimera_home: Path, tmp_path: Path) -> None:
    """Newest first (as the admin lists them), orders at 23:59:59 +0545 and 00:00:00 +0530 (each on
    its own local date, never moved to UTC), two on the US spring-forward day (-0500 then -0400),
    `#1001-1` names and one order's line items spread over 30 rows with the order row in the middle.
    By hand: 03-08: #1, #2, #3 -> 3 orders; 03-09: #1001-1 (30 x 1.00) and #4 -> 31 units, gross 33.00."""
    big = _order("#1001-1", "2026-03-09 00:00:00 +0530", [(1, "1.00")] * 30)
    rows = [*_order("#4", "2026-03-09 08:00:00 -0400", [(1, "3.00")]), *big[1:15], big[0], *big[15:],
            *_order("#3", "2026-03-08 23:59:59 +0545", [(1, "3.00")]),
            *_order("#2", "2026-03-08 03:00:00 -0400", [(1, "3.00")]),
            *_order("#1", "2026-03-08 01:59:59 -0500", [(1, "3.00")])]
    path = tmp_path / "orders_export.csv"
    path.write_text(_csv(rows))
    summary, series = _ingest(path)
    assert summary["rejected"] == [] and summary["orders_ingested"] == 5
    assert _day(series, "orders", "units", "gross_sales", "total_sales") == {
        "orders": {"2026-03-08": "3", "2026-03-09": "2"}, "units": {"2026-03-08": "3", "2026-03-09": "31"},
        "gross_sales": {"2026-03-08": "9.00", "2026-03-09": "33.00"},
        "total_sales": {"2026-03-08": "27.00", "2026-03-09": "45.00"}}


def test_free_gift_card_refunded_and_cancelled_orders(chimera_home: Path, tmp_path: Path) -> None:
    """A free order (0 everywhere, written `0`), a gift card line (price 25.00, no shipping or tax),
    a partial refund, a fully refunded order, and a cancelled order that was also refunded (a
    cancelled order is no order: its refund counts nowhere). By hand, one day: placed 5, orders 4,
    cancelled 1; units 1 + 1 + 2 + 1 = 5; gross 0 + 25 + 20 + 8 = 53.00; totals 0 + 25 + 26 + 14 =
    65.00; refunded 5.00 + 14.00 = 19.00 on 2 orders; net revenue 46.00."""
    rows = [*_order("#1", "2026-04-05 09:00:00 +0200", [(1, "0")], shipping="0", taxes="0"),
            *_order("#2", "2026-04-05 10:00:00 +0200", [(1, "25.00")], shipping="0.00", taxes="0.00"),
            *_order("#3", "2026-04-05 11:00:00 +0200", [(2, "10.00")], refunded="5.00"),
            *_order("#4", "2026-04-05 12:00:00 +0200", [(1, "8.00")], refunded="14.00"),
            *_order("#5", "2026-04-05 13:00:00 +0200", [(1, "9.00")], refunded="15.00",
                    cancelled="2026-04-05 14:00:00 +0200")]
    rows[0]["Subtotal"] = rows[0]["Total"] = "0"
    path = tmp_path / "orders_export.csv"
    path.write_text(_csv(rows))
    summary, series = _ingest(path)
    assert summary["rejected"] == []
    assert {m: v["2026-04-05"] for m, v in _metrics_of(series).items()} == {
        "orders_placed": "5", "orders": "4", "cancelled_orders": "1", "units": "5", "gross_sales": "53.00",
        "discounts": "0.00", "net_sales": "53.00", "shipping": "10.00", "taxes": "2.00", "total_sales": "65.00",
        "refunded_orders": "2", "refunded_amount": "19.00", "net_revenue": "46.00"}


def test_one_order_and_a_header_only_file(chimera_home: Path, tmp_path: Path) -> None:
    """The smallest exports: one order (read as one day), and a header alone (BOM, CRLF: nothing to
    read, nothing rejected, no day written)."""
    one = tmp_path / "one.csv"
    one.write_text(_csv(_order("#1", "2026-04-05 10:00:00 -0400", [(1, "9.99")])))
    summary, series = _ingest(one)
    assert (summary["first_day"], summary["last_day"], series["total_sales"]) == (
        "2026-04-05", "2026-04-05", {"2026-04-05": "15.99"})
    empty = tmp_path / "empty.csv"
    empty.write_bytes(("\ufeff" + ",".join(HEADER) + "\r\n").encode())
    summary, series = _ingest(empty)
    assert (summary["rows_read"], summary["rejected"], summary["first_day"], series) == (0, [], None, {})


def test_orders_without_their_header_line_are_named_as_such(chimera_home: Path, tmp_path: Path) -> None:
    """The header row deleted (or rows pasted into a new file): Shopify's names start with `#`, which
    GA4 uses for comment lines, so every line was skipped and the error said 'the file is empty'."""
    path = tmp_path / "orders_export.csv"
    path.write_text("\n" + "".join(_csv(THREE).splitlines(keepends=True)[1:]))
    with pytest.raises(IngestError) as err:
        ingest_file(add_client(f"qa4-{next(_names)}"), path)
    assert str(err.value).startswith(f"{path}: line 2: no header line: the file starts with a row (#1001,")
    assert "empty" not in str(err.value)


def test_an_older_export_joined_to_a_newer_one_says_so(chimera_home: Path, tmp_path: Path) -> None:
    """`cat march.csv april.csv` where April's export has four columns more (Payment ID ... Payment
    References, added by Shopify): April's rows were rejected as 'a value holds an unquoted comma?'.
    They are still rejected (their columns are another header's), saying why and what to do."""
    older = HEADER[:HEADER.index("Payment ID")]
    march = _csv(_order("#1", "2026-03-31 10:00:00 -0400", [(1, "1.00")]), header=older)
    april = _csv(_order("#2", "2026-04-01 10:00:00 -0400", [(2, "2.00"), (1, "3.00")]))
    path = tmp_path / "orders_export.csv"
    path.write_text(march + april)
    summary, series = _ingest(path)
    assert _rejected(summary) == [(4, "(whole row)", "#2")]
    assert summary["rejected"][0]["reason"] == (
        "79 fields, header has 75: a row under another export's 79-column header in the file (exports with other "
        "columns joined?): ingest each export on its own")
    assert series["orders"] == {"2026-03-31": "1"}
