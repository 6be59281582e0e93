"""Analytics and Fiverr exports as people really produce them (GA4 UI downloads, API pulls, Universal
Analytics reports, European Excel saves; Fiverr sheets read through the client's mapping), checked
against metrics recomputed here from the records the files were written from (DATA.md, contracts.md).
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.ingest.parsing import ga_day, parse_ga_date, slash_day_first
from chimera.metrics import load_series

_names = itertools.count()
START = date(2026, 3, 1)
Series = dict[str, dict[date, Decimal]]


def _client(mapping: str = ""):
    client = add_client(f"u{next(_names)}")
    if mapping:
        yml = client.folder / "client.yml"
        yml.write_text(yml.read_text() + mapping)
    return get_client(client.name)


def _series(client) -> Series:
    with session_scope() as s:
        return load_series(s, client.company_id)


def _ingest(client, path: Path, kind: str | None = None):
    summary = ingest_file(client, path, kind)
    return summary, _series(client)


def _rejected(summary) -> list[tuple[int, str, str]]:
    return [(r.line, r.column, r.value) for r in summary.rejected]


# --------------------------------------------------------------------------- analytics: generated reports

Day = dict  # {"day": date, "sessions": int, "users": int, "transactions": int, "revenue": Decimal | None}


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def _ga4_ui(days: list[Day]) -> tuple[str, str]:
    """GA4 Reports > Download file > CSV: a comment block, YYYYMMDD dates, raw numbers, another table after."""
    lines = ["# ----------------------------------------", "# Reports snapshot", "# Account: Alder & Moss",
             f"# Start date: {days[0]['day']:%Y%m%d}", f"# End date: {days[-1]['day']:%Y%m%d}",
             "# ----------------------------------------", "",
             "Date,Sessions,Total users,Ecommerce purchases,Purchase revenue"]
    lines += [f"{d['day']:%Y%m%d},{d['sessions']},{d['users']},{d['transactions']},{_plain(d['revenue'])}"
              for d in days]
    lines += ["", "# ----------------------------------------", "# New users", "Date,New users", "20260301,4"]
    return "\n".join(lines) + "\n", "utf-8"


def _api(days: list[Day]) -> tuple[str, str]:
    """A Data API / BigQuery pull written by a script: camelCase or snake_case names, no comments."""
    lines = ["date,sessions,totalUsers,transactions,purchaseRevenue"]
    lines += [f"{d['day']:%Y%m%d},{d['sessions']},{d['users']},{d['transactions']},{_plain(d['revenue'])}"
              for d in days]
    return "\n".join(lines) + "\n", "utf-8"


def _bigquery(days: list[Day]) -> tuple[str, str]:
    lines = ["event_date,sessions,total_users,ecommerce_purchases,purchase_revenue"]
    lines += [f"{d['day']:%Y-%m-%d},{d['sessions']},{d['users']},{d['transactions']},{_plain(d['revenue'])}"
              for d in days]
    return "\n".join(lines) + "\n", "utf-8"


def _universal(days: list[Day]) -> tuple[str, str]:
    """A Universal Analytics export: `Day Index` as M/D/YY, quoted thousands, `$` revenue, a totals row."""
    lines = ["# ----------------------------------------", "# All Web Site Data", "# Ecommerce Overview",
             f"# {days[0]['day']:%Y%m%d}-{days[-1]['day']:%Y%m%d}", "# ----------------------------------------",
             "", "Day Index,Sessions,Users,Transactions,Revenue,Ecommerce Conversion Rate"]
    for d in days:
        money = "" if d["revenue"] is None else f'"${d["revenue"]:,.2f}"'
        lines.append(f'{d["day"].month}/{d["day"].day}/{d["day"]:%y},"{_grouped(d["sessions"], ",")}",'
                     f'"{_grouped(d["users"], ",")}",{d["transactions"]},{money},1.25%')
    total = sum((d["revenue"] or Decimal(0)) for d in days)
    lines.append(f',"{sum(d["sessions"] for d in days):,}","{sum(d["users"] for d in days):,}",'
                 f'{sum(d["transactions"] for d in days)},"${total:,.2f}",1.25%')
    return "\n".join(lines) + "\n", "utf-8"


def _excel_eu(days: list[Day]) -> tuple[str, str]:
    """The GA4 table opened and saved by Excel in a European locale: `;`, CRLF, dd/mm/yyyy dates,
    `.` thousands, decimal comma, Windows-1252 (or UTF-8 with a BOM)."""
    lines = ["Date;Sessions;Total users;Transactions;Purchase revenue"]
    for d in days:
        money = "" if d["revenue"] is None else f"{d['revenue']:,.2f}".replace(",", " ").replace(".", ",").replace(
            " ", ".")
        lines.append(f"{d['day']:%d/%m/%Y};{_grouped(d['sessions'], '.')};{_grouped(d['users'], '.')};"
                     f"{d['transactions']};{money}")
    return "\r\n".join(lines) + "\r\n", "cp1252"


STYLES = {"ga4_ui": _ga4_ui, "api": _api, "bigquery": _bigquery, "universal": _universal, "excel_eu": _excel_eu}


def _plain(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _expected_analytics(days: list[Day]) -> Series:
    """DATA.md: one value per date that has one; a day absent (or an empty cell) is missing, never 0."""
    out: Series = {"sessions": {}, "users": {}, "ga_transactions": {}, "ga_revenue": {}}
    for d in days:
        out["sessions"][d["day"]] = Decimal(d["sessions"])
        out["users"][d["day"]] = Decimal(d["users"])
        out["ga_transactions"][d["day"]] = Decimal(d["transactions"])
        if d["revenue"] is not None:
            out["ga_revenue"][d["day"]] = d["revenue"]
    return {m: v for m, v in out.items() if v}


@st.composite
def analytics_reports(draw) -> tuple[str, list[Day]]:
    offsets = sorted(draw(st.sets(st.integers(0, 20), min_size=1, max_size=8)))  # gaps are missing days
    days = []
    for offset in offsets:
        sessions = draw(st.integers(0, 60_000))
        revenue = draw(st.one_of(st.none(), st.integers(0, 9_999_999).map(lambda c: Decimal(c).scaleb(-2))))
        days.append({"day": START + timedelta(days=offset), "sessions": sessions,
                     "users": draw(st.integers(0, sessions)), "transactions": draw(st.integers(0, 90)),
                     "revenue": revenue})
    return draw(st.sampled_from(sorted(STYLES))), days


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(report=analytics_reports(), trailing=st.sampled_from(["", "\n", "\n\n", " \n"]))
def test_generated_analytics_reports_give_the_exact_daily_metrics(chimera_home: Path, tmp_path: Path,
                                                                   report, trailing: str) -> None:
    style, days = report
    text, encoding = STYLES[style](days)
    path = tmp_path / "analytics.csv"
    path.write_bytes((text + trailing).encode(encoding))
    summary, series = _ingest(_client(), path)
    assert summary.source == "analytics_daily" and summary.rejected == []
    assert (summary.first_day, summary.last_day) == (days[0]["day"], days[-1]["day"])
    assert series == _expected_analytics(days)


def _days(n: int) -> list[Day]:
    return [{"day": START + timedelta(days=i), "sessions": 1000 + 37 * i, "users": 800 + 11 * i,
             "transactions": 10 + i, "revenue": Decimal("1234.56") + i} for i in range(n)]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_reingesting_an_analytics_report_never_double_counts(chimera_home: Path, tmp_path: Path, style: str) -> None:
    """The same file twice, then a later export overlapping it: each day holds the newest file's figures."""
    text, encoding = STYLES[style](_days(5))
    first = tmp_path / "a.csv"
    first.write_bytes(text.encode(encoding))
    client = _client()
    _ingest(client, first)
    _summary, series = _ingest(client, first)
    assert series == _expected_analytics(_days(5))
    later = [{**d, "sessions": d["sessions"] + 1} for d in _days(7)[3:]]
    text, encoding = STYLES[style](later)
    second = tmp_path / "b.csv"
    second.write_bytes(text.encode(encoding))
    _summary, series = _ingest(client, second)
    assert series == _expected_analytics(_days(3) + later)


# --------------------------------------------------------------------------- analytics: hand-written cases


@given(day=st.dates(min_value=date(2001, 1, 1), max_value=date(2090, 12, 31)))
def test_analytics_date_layouts_scalar_and_vectorized_agree(day: date) -> None:
    """GA4 (`20260301`, ISO), Universal Analytics (`3/1/26`), Looker Studio (`Mar 1, 2026`), a European
    Excel save (`01/03/2026`, `01.03.2026`): the same day, by either parser."""
    month_first = [day.strftime("%Y%m%d"), day.isoformat(), f"{day.month}/{day.day}/{day:%y}",
                   f"{day:%b} {day.day}, {day.year}", f"{day:%B %d, %Y}"]
    day_first = [f"{day:%d/%m/%Y}", f"{day:%d.%m.%Y}"]
    for texts, first in ((month_first, False), (day_first, True)):
        assert [parse_ga_date(t, first) for t in texts] == [day] * len(texts)
        got = pl.DataFrame({"d": texts}).select(ga_day(pl.col("d"), first).alias("d"))["d"].to_list()
        assert got == [day] * len(texts)


@given(start=st.dates(min_value=date(2001, 1, 1), max_value=date(2090, 12, 1)), n=st.integers(2, 10),
       day_first=st.booleans())
def test_a_run_of_slash_dates_is_read_the_way_that_keeps_it_together(start: date, n: int, day_first: bool) -> None:
    fmt = "%d/%m/%Y" if day_first else "%m/%d/%Y"
    texts = pl.Series([(start + timedelta(days=i)).strftime(fmt) for i in range(n)])
    assert slash_day_first(texts, default=not day_first) == day_first


def test_totals_rows_are_no_day(chimera_home: Path, tmp_path: Path) -> None:
    """A `Total` / `Grand total` row, or a totals row with an empty date first or last (UA, Looker
    Studio), is not a day and not a bad row; an empty date between days still is."""
    path = tmp_path / "ga.csv"
    path.write_text("Date,Sessions,Total users\n,300,240\n20260301,100,80\n20260302,200,160\nGrand total,300,240\n"
                    "Totals,300,240\n")
    summary, series = _ingest(_client(), path)
    assert summary.rejected == [] and summary.rows_read == 2
    assert series["sessions"] == {date(2026, 3, 1): 100, date(2026, 3, 2): 200}
    path.write_text("Date,Sessions\n20260301,100\n,999\n20260302,200\n")
    summary, series = _ingest(_client(), path)
    assert [(r.line, r.column, r.reason) for r in summary.rejected] == [(3, "Date", "missing required value")]


def test_a_pasted_copy_with_revised_figures_is_rejected_not_summed(chimera_home: Path, tmp_path: Path) -> None:
    """GA revises recent days: the same date pasted twice with other figures, in a report that also has
    metric columns the ingest does not read (engaged sessions, a rate, a duration). Those columns are
    figures, not dimensions like a channel: the date is rejected, not summed (205 sessions)."""
    path = tmp_path / "ga.csv"
    path.write_text("Date,Sessions,Engaged sessions,Engagement rate,Average engagement time,Total users\n"
                    "20260301,100,60,60.0%,00:01:12,80\n20260302,90,50,0.5556,00:00:58,70\n"
                    "20260301,105,63,60.0%,00:01:13,84\n")
    summary, series = _ingest(_client(), path)
    assert _rejected(summary) == [(2, "Date", "20260301")]
    assert series["sessions"] == {date(2026, 3, 2): 90}


def test_numeric_dimensions_still_split_a_date(chimera_home: Path, tmp_path: Path) -> None:
    """A report by date and hour (or day of week) sums its rows per date: the hour is a dimension."""
    path = tmp_path / "ga.csv"
    path.write_text("Date,Hour,Sessions\n20260301,00,10\n20260301,01,12\n20260302,00,7\n")
    summary, series = _ingest(_client(), path)
    assert summary.rejected == [] and series["sessions"] == {date(2026, 3, 1): 22, date(2026, 3, 2): 7}


def test_bad_analytics_values_are_rejected_with_line_column_and_reason(chimera_home: Path, tmp_path: Path) -> None:
    """A negative or non-numeric count rejects its date (named by line, column, value, reason); the other
    days go in whole. Revenue may be negative: GA4's purchase revenue nets out refunds."""
    path = tmp_path / "ga.csv"
    path.write_text("date,sessions,totalUsers,transactions,purchaseRevenue\n"
                    "20260301,100,80,2,20.00\n20260302,-5,3,0,0\n20260303,n/a,3,0,0\n20260304,90,70,1,abc\n"
                    "20260305,90,70,0,-15.50\n20260399,90,70,0,1\n")
    summary, series = _ingest(_client(), path)
    assert [(r.line, r.column, r.value, r.reason) for r in summary.rejected] == [
        (3, "sessions", "-5", "a count is never negative"),
        (4, "sessions", "n/a", "not a whole number"),
        (5, "purchaseRevenue", "abc", "not a number (expected e.g. 12.34)"),
        (7, "date", "20260399", "not a date like 20260405 or 2026-04-05"),
    ]
    assert series["sessions"] == {date(2026, 3, 1): 100, date(2026, 3, 5): 90}
    assert series["ga_revenue"] == {date(2026, 3, 1): Decimal("20.00"), date(2026, 3, 5): Decimal("-15.50")}


def test_an_empty_revenue_cell_is_missing_and_zero_is_zero(chimera_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "ga.csv"
    path.write_text("Date,Sessions,Transactions,Purchase revenue\n20260301,100,0,\n20260302,100,0,0\n")
    summary, series = _ingest(_client(), path)
    assert summary.rejected == [] and series["ga_revenue"] == {date(2026, 3, 2): Decimal("0")}
    assert series["ga_transactions"] == {date(2026, 3, 1): 0, date(2026, 3, 2): 0}


def test_a_header_only_export_writes_nothing_and_keeps_what_was_there(chimera_home: Path, tmp_path: Path) -> None:
    client = _client()
    full = tmp_path / "full.csv"
    full.write_text("Date,Sessions\n20260301,100\n")
    _ingest(client, full)
    empty = tmp_path / "empty.csv"
    empty.write_text("# ----\n# Start date: 20260301\n\nDate,Sessions\r\n\r\n")
    summary, series = _ingest(client, empty)
    assert (summary.rows_read, summary.metrics_written, summary.first_day) == (0, 0, None)
    assert series == {"sessions": {date(2026, 3, 1): 100}}


def test_a_repeated_header_line_is_no_record(chimera_home: Path, tmp_path: Path) -> None:
    """Two exports pasted with the second one's header: that line is not a bad day."""
    path = tmp_path / "ga.csv"
    path.write_text("Date,Sessions\n20260301,100\nDate,Sessions\n20260302,50\n")
    summary, series = _ingest(_client(), path)
    assert summary.rejected == [] and series["sessions"] == {date(2026, 3, 1): 100, date(2026, 3, 2): 50}


# --------------------------------------------------------------------------- Fiverr

MAPPING = "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n  order_id: Order ID\n"
FIVERR_COUNTS = ["fiverr_orders", "fiverr_completed", "fiverr_cancelled"]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DATE_STYLES = {  # how the sheet writes a day -> the date_format line client.yml needs (none: the default)
    "iso": (lambda d: d.isoformat(), ""),
    "iso_time": (lambda d: f"{d.isoformat()} 14:22:05", ""),
    "month_name": (lambda d: f'"{d:%b} {d.day}, {d.year}"', ""),
    "dmy": (lambda d: f"{d:%d/%m/%Y}", "  date_format: '%d/%m/%Y'\n"),
    "mdy": (lambda d: f"{d:%m/%d/%Y}", "  date_format: '%m/%d/%Y'\n"),
    "month_name_fmt": (lambda d: f'"{d:%b %d, %Y}"', "  date_format: '%b %d, %Y'\n"),
}
AMOUNT_STYLES = [lambda a: f'"${a:,.2f}"', lambda a: f"{a:.2f}", lambda a: f'"US${a:,.2f}"',
                 lambda a: f'"{a:,.2f} USD"', lambda a: f"${a:.2f}"]
STATUSES = {"Completed": "completed", " completed ": "completed", "COMPLETED": "completed", "Cancelled": "cancelled",
            "canceled": "cancelled", " Canceled": "cancelled", "In progress": "open", "Late": "open",
            "Delivered": "open"}


@st.composite
def fiverr_orders(draw) -> list[dict]:
    orders = []
    for n in range(draw(st.integers(1, 10))):
        orders.append({"id": f"FO{n:04d}", "day": START + timedelta(days=draw(st.integers(0, 12))),
                       "amount": Decimal(draw(st.integers(500, 250_000))).scaleb(-2),
                       "status": draw(st.sampled_from(sorted(STATUSES)))})
    return orders


def _expected_fiverr(orders: list[dict]) -> Series:
    """Per order day: orders, completed, cancelled, earnings of completed orders; a day between the first
    and the last without orders is 0 (nothing happened), never a gap."""
    days = [o["day"] for o in orders]
    out: Series = {m: {} for m in [*FIVERR_COUNTS, "fiverr_earnings"]}
    day = min(days)
    while day <= max(days):
        for m in out:
            out[m][day] = Decimal(0)
        day += timedelta(days=1)
    for o in orders:
        kind = STATUSES[o["status"]]
        out["fiverr_orders"][o["day"]] += 1
        out["fiverr_completed"][o["day"]] += kind == "completed"
        out["fiverr_cancelled"][o["day"]] += kind == "cancelled"
        out["fiverr_earnings"][o["day"]] += o["amount"] if kind == "completed" else 0
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=fiverr_orders(), date_style=st.sampled_from(sorted(DATE_STYLES)),
       amount_style=st.sampled_from(range(len(AMOUNT_STYLES))), copies=st.booleans())
def test_generated_fiverr_sheets_give_the_exact_daily_metrics(chimera_home: Path, tmp_path: Path, orders,
                                                             date_style: str, amount_style: int,
                                                             copies: bool) -> None:
    write_day, fmt = DATE_STYLES[date_style]
    rows = [f"{o['id']},{write_day(o['day'])},{AMOUNT_STYLES[amount_style](o['amount'])},{o['status']}"
            for o in orders]
    if copies:  # the same sheet pasted twice: each order counts once
        rows += rows
    path = _write(tmp_path / "fiverr.csv", ["Order ID,Order Date,Earnings,Status", *rows])
    summary, series = _ingest(_client(MAPPING + fmt), path)
    assert summary.source == "fiverr_orders" and summary.rejected == []
    assert series == _expected_fiverr(orders)  # no on-time or response metric: those columns are not mapped


def test_reingesting_a_fiverr_sheet_never_double_counts(chimera_home: Path, tmp_path: Path) -> None:
    client = _client(MAPPING)
    path = _write(tmp_path / "fiverr.csv", ["Order ID,Order Date,Earnings,Status",
                                            "FO1,2026-03-01,40.00,Completed", "FO2,2026-03-02,15.00,Completed"])
    _ingest(client, path)
    _summary, series = _ingest(client, path)
    assert series["fiverr_orders"] == {date(2026, 3, 1): 1, date(2026, 3, 2): 1}
    assert series["fiverr_earnings"] == {date(2026, 3, 1): Decimal("40.00"), date(2026, 3, 2): Decimal("15.00")}


@pytest.mark.parametrize("kind", [None, "fiverr_orders"])
def test_a_mapped_column_the_file_lacks_names_client_yml_the_field_and_the_columns(
        chimera_home: Path, tmp_path: Path, kind: str | None) -> None:
    path = _write(tmp_path / "fiverr.csv", ["Order ID,Date,Earnings,Status", "FO1,2026-03-01,40.00,Completed"])
    with pytest.raises(IngestError) as err:
        _ingest(_client(MAPPING), path, kind)
    text = str(err.value)
    assert text.startswith(f"{path}: ")
    assert "client.yml" in text and "fiverr.date" in text and "'Order Date'" in text
    assert "Order ID, Date, Earnings, Status" in text


def test_an_optional_mapped_column_the_file_lacks_is_an_error(chimera_home: Path, tmp_path: Path) -> None:
    """`order_id` mapped but absent (a typo in client.yml) would silently turn off de-duplication."""
    path = _write(tmp_path / "fiverr.csv", ["Order Date,Earnings,Status", "2026-03-01,40.00,Completed"])
    with pytest.raises(IngestError, match=r"fiverr\.order_id.*'Order ID'"):
        _ingest(_client(MAPPING), path)


def test_fiverr_bad_rows_name_line_column_value_and_reason(chimera_home: Path, tmp_path: Path) -> None:
    """A negative or non-numeric amount, a slash date without a date_format (3 Nov or 11 Mar?), an empty
    status: each rejects its order only."""
    path = _write(tmp_path / "fiverr.csv", [
        "Order ID,Order Date,Earnings,Status", "FO1,2026-03-01,40.00,Completed", "FO2,2026-03-01,-40.00,Completed",
        "FO3,2026-03-01,($5.00),Completed", "FO4,03/11/2026,5.00,Completed", "FO5,2026-03-02,5.00,",
        "FO6,2026-03-02,5.00,Completed"])
    summary, series = _ingest(_client(MAPPING), path)
    got = [(r.line, r.column, r.value, r.order) for r in summary.rejected]
    assert got == [(3, "Earnings", "-40.00", "FO2"), (4, "Earnings", "($5.00)", "FO3"),
                   (5, "Order Date", "03/11/2026", "FO4"), (6, "Status", "", "FO5")]
    assert "date_format" in summary.rejected[2].reason
    assert series["fiverr_orders"] == {date(2026, 3, 1): 1, date(2026, 3, 2): 1}


def test_fiverr_copies_that_differ_are_rejected(chimera_home: Path, tmp_path: Path) -> None:
    """An order listed twice with other figures (pasted sheets, one older): which is current is unknown."""
    path = _write(tmp_path / "fiverr.csv", [
        "Order ID,Order Date,Earnings,Status", "FO1,2026-03-01,40.00,In progress", "FO2,2026-03-01,10.00,Completed",
        "FO1,2026-03-01,40.00,Completed"])
    summary, series = _ingest(_client(MAPPING), path)
    assert _rejected(summary) == [(2, "Order ID", "FO1")]
    assert series["fiverr_orders"] == {date(2026, 3, 1): 1}


def test_fiverr_amounts_in_several_currencies_are_refused(chimera_home: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "fiverr.csv", [
        "Order ID,Order Date,Earnings,Status", "FO1,2026-03-01,$40.00,Completed", "FO2,2026-03-01,€40.00,Completed"])
    client = _client(MAPPING)
    with pytest.raises(IngestError, match=r"mixes currencies.*EUR.*FO2.*USD.*FO1"):
        _ingest(client, path)
    assert _series(client) == {}


def test_fiverr_on_time_and_response_metrics_only_from_mapped_columns(chimera_home: Path, tmp_path: Path) -> None:
    """Unmapped columns leave on-time and response metrics missing, not 0 (a rate of 0/0 is no rate)."""
    mapping = MAPPING + "  delivered_on_time: On Time\n"
    path = _write(tmp_path / "fiverr.csv", ["Order ID,Order Date,Earnings,Status,On Time",
                                            "FO1,2026-03-01,40.00,Completed,Yes", "FO2,2026-03-01,40.00,Completed,Late",
                                            "FO3,2026-03-01,40.00,In progress,"])
    summary, series = _ingest(_client(mapping), path)
    assert summary.rejected == []
    assert series["fiverr_delivered"] == {date(2026, 3, 1): 2}
    assert series["fiverr_delivered_on_time"] == {date(2026, 3, 1): 1}
    assert "fiverr_inquiries" not in series and "fiverr_responded_24h" not in series


@pytest.mark.parametrize(("dates", "fmt"), [
    (["01/08/2026", "01/19/2026"], "date_format: '%m/%d/%Y'"),
    (["19.01.2026", "08.01.2026"], "date_format: '%d.%m.%Y'"),
    (["01/08/2026", "02/09/2026"], "date_format: '%d/%m/%Y'  # or '%m/%d/%Y'"),
    (["2026-01-08", "2026-01-19"], None),
])
def test_without_a_mapping_the_error_suggests_one_that_fits_the_sheet(
    chimera_home: Path, tmp_path: Path, dates: list[str], fmt: str | None
) -> None:
    """Fiverr documents no layout: the hint is built from the file's own columns and dates, so
    pasting it into client.yml works (a fixed example named columns the sheet did not have)."""
    path = _write(tmp_path / "fiverr.csv", ["Order ID,Order Date,Buyer,Gig,Amount,Status,Delivered On Time",
                                            *(f"FO{i},{d},b{i},gig,50.00,Completed,true" for i, d in enumerate(dates))])
    client = _client()
    with pytest.raises(IngestError) as err:
        ingest_file(client, path, "fiverr_orders")
    hint = str(err.value).split("(check it):\n", 1)[1]
    assert hint.splitlines()[:6] == ["fiverr:", "  order_id: Order ID", "  date: Order Date", "  amount: Amount",
                                     "  status: Status", "  delivered_on_time: Delivered On Time"]
    assert (fmt in hint) if fmt else "date_format" not in hint
    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text() + hint.split("  #")[0] + "\n")
    summary = ingest_file(get_client(client.name), path, "fiverr_orders")
    assert summary.rejected == [] and summary.orders_ingested == len(dates)
