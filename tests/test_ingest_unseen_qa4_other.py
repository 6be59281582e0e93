"""QA4 on Stripe, analytics and Fiverr exports the project had not seen, through the CLI contract
(``chimera ingest ... --json``, then ``chimera metrics --client C --json``) against figures worked
out here from the records the files were written from, per DATA.md's definitions:

- Stripe payments exported in a chosen time zone (`Created date (America/New_York)`), or with
  offsets in the values (`2026-11-03T20:00:00-05:00`): a charge belongs to its moment's UTC day;
- a converted-currency export missing the column that says what the sums are in: one file error;
- year-first slash dates (`2026/11/03`, Excel in Japan) and yen marks (`¥12,345`);
- GA4's `(other)` row, which belongs to no day;
- a European Fiverr sheet whose response hours have decimal commas like its amounts.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.ingest.parsing import ParseError, ga_day, parse_ga_date, parse_stripe_datetime, stripe_day

_register()
runner = CliRunner()
_names = itertools.count()
HEADER = ["id", "Description", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured",
          "Converted Amount", "Converted Amount Refunded", "Converted Currency", "Fee", "Status",
          "Customer Email", "order_id (metadata)"]
NY = ZoneInfo("America/New_York")


def _client(mapping: str = "") -> str:
    name = f"q4o{next(_names)}"
    client = add_client(name)
    if mapping:
        yml = client.folder / "client.yml"
        yml.write_text(yml.read_text() + mapping)
    return name


def _invoke(args: list[str], code: int = 0) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    if code:  # the CLI's entry point prints the error of an IngestError; the runner keeps it as the exception
        return {"output": f"{result.output}{result.stderr}{result.exception or ''}"}
    return json.loads(result.stdout)


def _ingest(path: Path, client: str, *extra: str) -> dict:
    return _invoke(["ingest", str(path), "--client", client, "--json", *extra])


def _metrics(client: str) -> dict[str, dict[str, str]]:
    series = _invoke(["metrics", "--client", client, "--json"])["metrics"]
    return {m: {d: str(Decimal(str(v))) for d, v in days.items()} for m, days in series.items()}


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(rows)
    return path


# --------------------------------------------------------------------------- Stripe: time zones


def _charges() -> list[dict]:
    """A week of card payments across the US's daylight-saving end (1 Nov 2026), several of them in the
    evening in New York, which is the next day in UTC: paid, partly and wholly refunded, disputed,
    failed and uncaptured ones, with their fees."""
    out = []
    start = datetime(2026, 10, 29, 21, tzinfo=UTC)  # 17:00 in New York, 06:00 next day in Tokyo
    kinds = ["Paid", "Paid", "Refunded", "Failed", "Paid", "Disputed", "Uncaptured"]
    for n in range(35):
        moment = start + timedelta(hours=4 * n + 1, minutes=7 * n % 60, seconds=n)
        status = kinds[n % len(kinds)]
        amount = Decimal(1999 + 731 * n) / 100
        captured = status not in ("Failed", "Uncaptured")
        refunded = amount if status == "Refunded" else (Decimal("5.00") if n % 5 == 1 else Decimal("0.00"))
        fee = (amount * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01")) if captured else Decimal("0.00")
        out.append({"id": f"ch_{n:03d}", "moment": moment, "amount": amount, "refunded": refunded,
                    "captured": captured, "fee": fee, "status": status})
    return out


def _reference(charges: list[dict]) -> dict[str, dict[str, str]]:
    """DATA.md / contracts.md: per UTC day of creation; successes, gross and refunds over captured
    paid/refunded/disputed charges (a charge never captured moved no money, so nothing of it came
    back); fees over all; failed attempts counted."""
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for c in charges:
        day = days[c["moment"].astimezone(UTC).date().isoformat()]
        ok = c["status"] in ("Paid", "Refunded", "Disputed")
        day["stripe_payments"] += 1
        day["stripe_succeeded_payments"] += ok and c["captured"]
        day["stripe_failed_payments"] += c["status"] == "Failed"
        day["stripe_gross"] += c["amount"] if ok and c["captured"] else 0
        day["stripe_fees"] += c["fee"]
        day["stripe_refunded"] += c["refunded"] if c["captured"] else 0
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for day, values in days.items():
        for metric, value in values.items():
            out[metric][day] = str(Decimal(value))
    return dict(out)


def _whole_days(ref: dict[str, dict[str, str]], charges: list[dict], zone) -> dict[str, dict[str, str]]:
    """The reference on the UTC days an export of whole ``zone`` days covers whole: from the UTC moment
    of its first local midnight to that of the midnight after its last local day."""
    local = [c["moment"].astimezone(zone).date() for c in charges]
    start = datetime.combine(min(local), datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(max(local) + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    first = (start + timedelta(days=1)).date() if start.time() != datetime.min.time() else start.date()
    last = (end - timedelta(days=1)).date()
    return {m: {d: v for d, v in days.items() if first.isoformat() <= d <= last.isoformat()} for m, days in ref.items()}


def _rows(charges: list[dict], created: str, when) -> list[list[str]]:
    header = [created if h == "Created date (UTC)" else h for h in HEADER]
    return [header] + [
        [c["id"], "Order, web", when(c["moment"]), f"{c['amount']:.2f}", f"{c['refunded']:.2f}", "usd",
         str(c["captured"]).lower(), f"{c['amount']:.2f}", f"{c['refunded']:.2f}", "usd", f"{c['fee']:.2f}",
         c["status"], "a@example.com", f"#{1000 + i}"]
        for i, c in enumerate(charges)
    ]


def _in(zone) -> object:
    return lambda m, fmt="%Y-%m-%d %H:%M:%S": m.astimezone(zone).strftime(fmt)


KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize(("created", "zone", "fmt"), [
    ("Created date (America/New_York)", NY, "%Y-%m-%d %H:%M:%S"),
    ("Created (America/New_York)", NY, "%Y-%m-%d %H:%M"),
    ("Created date (Asia/Tokyo)", ZoneInfo("Asia/Tokyo"), "%Y-%m-%d %H:%M:%S"),
    ("Created date (UTC+05:30)", KOLKATA, "%d/%m/%Y %H:%M"),
])
def test_a_stripe_export_in_a_chosen_time_zone_counts_each_charge_on_its_utc_day(
        chimera_home: Path, tmp_path: Path, created: str, zone, fmt: str) -> None:
    """Stripe's export dialog offers a time zone; its header then names it. DATA.md's Stripe day is the
    UTC day: a 20:30 charge in New York is the next day's. The export spans whole local days, so its
    first and last UTC days hold only some hours: left out, not read as a collapse. Detected from the
    header alone (it was refused as no known export)."""
    client = _client()
    charges = _charges()
    path = _write(tmp_path / "payments.csv", _rows(charges, created, lambda m: m.astimezone(zone).strftime(fmt)))
    doc = _ingest(path, client)
    assert doc["source"] == "stripe_payments"
    assert doc["rejected"] == []
    ref = _whole_days(_reference(charges), charges, zone)
    assert (doc["first_day"], doc["last_day"]) == (min(ref["stripe_payments"]), max(ref["stripe_payments"]))
    assert len(ref["stripe_payments"]) < len(_reference(charges)["stripe_payments"])  # an edge is left out
    assert {m: _metrics(client)[m] for m in ref} == ref


def test_the_zoned_and_the_utc_export_of_the_same_charges_agree_and_never_add_up(chimera_home: Path,
                                                                                   tmp_path: Path) -> None:
    """The same week exported twice, in UTC and in New York time, then each again: each UTC day holds
    its charges once, as the reference says (the New York export's partial edge days keep the UTC
    export's whole ones)."""
    client = _client()
    charges = _charges()
    utc = _write(tmp_path / "utc.csv", _rows(charges, "Created date (UTC)", _in(UTC)))
    zoned = _write(tmp_path / "ny.csv", _rows(charges, "Created date (America/New_York)", _in(NY)))
    for path in (utc, zoned, utc, zoned):
        _ingest(path, client, "--source", "stripe_payments")
    ref = _reference(charges)
    assert {m: _metrics(client)[m] for m in ref} == ref


@pytest.mark.parametrize("fmt", ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M%z",
                                 "%Y-%m-%dT%H:%M:%S.000Z"])
def test_values_with_their_offset_are_on_their_moments_utc_day(chimera_home: Path, tmp_path: Path, fmt: str) -> None:
    """A UTC-headed export whose values carry an offset (an API dump, a sheet formula) was refused
    row by row; the offset says the moment exactly: the charge is on that moment's UTC day."""
    client = _client()
    charges = _charges()
    zone = UTC if fmt.endswith("Z") else NY
    path = _write(tmp_path / "payments.csv", _rows(charges, "Created date (UTC)", lambda m: m.astimezone(zone)
                                                   .strftime(fmt)))
    doc = _ingest(path, client)
    assert doc["source"] == "stripe_payments" and doc["rejected"] == []
    ref = _reference(charges)
    assert {m: _metrics(client)[m] for m in ref} == ref


def test_a_bare_date_in_a_zoned_export_is_rejected_saying_why(chimera_home: Path, tmp_path: Path) -> None:
    """A date without its time, in New York time, may be either of two UTC days: that charge is
    rejected with its line, column and reason; the rest are ingested."""
    client = _client()
    rows = _rows(_charges()[:3], "Created date (America/New_York)", _in(NY))
    rows[2][2] = rows[2][2][:10]
    doc = _ingest(_write(tmp_path / "payments.csv", rows), client, "--source", "stripe_payments")
    assert doc["orders_ingested"] == 2
    (bad,) = doc["rejected"]
    assert (bad["line"], bad["column"], bad["value"], bad["order"]) == (
        3, "Created date (America/New_York)", rows[2][2], "ch_001")
    assert "time of day" in bad["reason"] and "UTC day" in bad["reason"]


def test_a_time_zone_no_one_knows_is_refused_naming_file_line_and_column(chimera_home: Path, tmp_path: Path) -> None:
    client = _client()
    path = _write(tmp_path / "payments.csv", _rows(_charges()[:2], "Created date (Pacific Time)", _in(NY)))
    out = _invoke(["ingest", str(path), "--client", client, "--source", "stripe_payments"], code=1)["output"]
    assert "payments.csv: line 1" in out and "'Created date (Pacific Time)'" in out
    assert "America/New_York" in out  # what a known zone looks like
    assert "stripe_payments" not in _invoke(["metrics", "--client", client, "--json"])["metrics"]


@settings(max_examples=60, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
       zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "UTC+2",
                             "UTC"]),
       style=st.sampled_from(["naive", "offset", "z"]))
def test_stripe_timestamps_scalar_and_vectorized_agree(moment: datetime, zone: str, style: str) -> None:
    """parsing.py's rule: both forms give the same UTC day, the one zoneinfo gives."""
    moment = moment.replace(microsecond=0)
    tz = ZoneInfo("Etc/GMT-2") if zone == "UTC+2" else ZoneInfo(zone)
    local = moment.replace(tzinfo=UTC).astimezone(tz)
    text = {"naive": local.strftime("%Y-%m-%d %H:%M:%S"), "offset": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "z": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}[style]
    if style == "naive" and local.fold:  # the repeated hour of a DST end: read as its first pass
        return
    expected = moment.date()
    assert parse_stripe_datetime(text, zone=zone).date() == expected
    got = pl.DataFrame({"v": [text]}).select(stripe_day(pl.col("v"), False, zone).alias("d"))["d"][0]
    assert got == expected


def test_an_unknown_zone_name_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a time zone we know"):
        parse_stripe_datetime("2026-11-03 10:00:00", zone="Pacific Time")


# --------------------------------------------------------------------------- Stripe: converted currency


@pytest.mark.parametrize(("header", "row", "says"), [
    (["id", "Created date (UTC)", "Amount", "Currency", "Converted Currency", "Fee", "Status"],
     ["ch_1", "2026-11-03 01:00:00", "40.00", "eur", "usd", "1.27", "Paid"],
     "no Converted Amount column"),
    (["id", "Created date (UTC)", "Amount", "Currency", "Converted Amount", "Fee", "Status"],
     ["ch_1", "2026-11-03 01:00:00", "5000", "jpy", "33.50", "1.27", "Paid"],
     "no Converted Currency column"),
])
def test_a_converted_currency_export_missing_a_column_is_one_clear_error(chimera_home: Path, tmp_path: Path,
                                                                         header, row, says) -> None:
    """Charges settled in another currency only add up as Converted Amount in the Converted Currency:
    without one of the two columns the file is refused once, naming what to add (it used to reject
    every charge for an empty cell of a column the file does not have)."""
    client = _client()
    rows = [header, row, ["ch_2", "2026-11-03 02:00:00", "20.00", "usd", *row[4:]]]
    out = _invoke(["ingest", str(_write(tmp_path / "p.csv", rows)), "--client", client], code=1)["output"]
    assert "p.csv" in out and says in out and "missing required value" not in out


# --------------------------------------------------------------------------- year-first slash dates, yen


def test_a_yen_export_saved_by_excel_in_japan(chimera_home: Path, tmp_path: Path) -> None:
    """Excel in Japan writes `2026/11/03 9:05` and groups yen (`12,000`): a zero-decimal currency's
    amounts are whole, so `12,000` is twelve thousand."""
    client = _client()
    rows = [["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Fee", "Status"],
            ["ch_1", "2026/11/03 9:05", "5,000", "0", "jpy", "205", "Paid"],
            ["ch_2", "2026/11/03 23:59:59", "12,000", "12,000", "jpy", "468", "Refunded"],
            ["ch_3", "2026/11/04 0:00", "800", "300", "jpy", "61", "Paid"],
            ["ch_4", "2026/11/04 5:10", "1,500", "0", "jpy", "0", "Failed"]]
    doc = _ingest(_write(tmp_path / "jp.csv", rows), client)
    assert doc["rejected"] == [] and (doc["first_day"], doc["last_day"]) == ("2026-11-03", "2026-11-04")
    got = _metrics(client)
    assert got["stripe_gross"] == {"2026-11-03": "17000.00", "2026-11-04": "800.00"}
    assert got["stripe_refunded"] == {"2026-11-03": "12000.00", "2026-11-04": "300.00"}
    assert got["stripe_fees"] == {"2026-11-03": "673.00", "2026-11-04": "61.00"}
    assert got["stripe_failed_payments"] == {"2026-11-03": "0", "2026-11-04": "1"}


def test_analytics_with_year_first_slash_dates_and_yen_revenue(chimera_home: Path, tmp_path: Path) -> None:
    client = _client()
    path = tmp_path / "ga.csv"
    path.write_text("Date,Sessions,Users,Transactions,Revenue\n2026/11/01,1200,980,12,\"¥123,400\"\n"
                    "2026/11/2,900,800,9,￥98000\n2026/11/04,1000,870,10,\"¥ 100,000\"\n", encoding="utf-8")
    doc = _ingest(path, client)
    assert doc["rejected"] == []
    got = _metrics(client)
    assert got["ga_revenue"] == {"2026-11-01": "123400.00", "2026-11-02": "98000.00", "2026-11-04": "100000.00"}
    assert got["sessions"] == {"2026-11-01": "1200", "2026-11-02": "900", "2026-11-04": "1000"}  # 3 Nov: missing


@pytest.mark.parametrize("text", ["2026/11/03", "2026/11/3", "2026.11.03", "2026-11-03", "20261103",
                                  "2026-11-03 00:00:00", "2026-11-03T00:00:00", "2026/11/03 0:00"])
def test_year_first_dates_scalar_and_vectorized_agree(text: str) -> None:
    """Year first with any separator, and a date-time cell at midnight (a sheet's or script's save of
    the day), are the day; a time other than midnight is no daily row."""
    got = pl.DataFrame({"v": [text]}).select(ga_day(pl.col("v")).alias("d"))["d"][0]
    assert got == parse_ga_date(text) == datetime(2026, 11, 3).date()
    late = text.replace("00:00", "13:00").replace("0:00", "13:00")
    if late != text:
        assert pl.DataFrame({"v": [late]}).select(ga_day(pl.col("v")).alias("d"))["d"][0] is None
        with pytest.raises(ParseError):
            parse_ga_date(late)


def test_a_metadata_column_named_created_is_no_time_zone(chimera_home: Path, tmp_path: Path) -> None:
    """`created (metadata)` is a charge's metadata key, not a created column in a zone called
    `metadata`: the export reads as UTC beside it."""
    client = _client()
    rows = [["id", "Created date (UTC)", "Amount", "Status", "created (metadata)"],
            ["ch_1", "2026-11-03 23:30", "10.00", "Paid", "2026-11-01"]]
    doc = _ingest(_write(tmp_path / "p.csv", rows), client)
    assert doc["rejected"] == [] and doc["first_day"] == "2026-11-03"


# --------------------------------------------------------------------------- GA4: (other)


def test_a_ga4_other_row_is_rejected_saying_it_belongs_to_no_day(chimera_home: Path, tmp_path: Path) -> None:
    """A GA4 report past its row limit lumps the rest into a row whose every dimension, the date too,
    is `(other)`. Its figures belong to no day: rejected with a reason that says so and what to export
    instead, while the days are summed over their channels."""
    client = _client()
    path = tmp_path / "ga.csv"
    path.write_text(
        "# ----------------------------------------\n# Traffic acquisition\n# Start date: 20261101\n"
        "# End date: 20261102\n# ----------------------------------------\n"
        "Date,Session default channel group,Sessions,Total users,Transactions,Purchase revenue\n"
        "20261101,Organic Search,120,100,3,150.5\n20261101,(other),60,55,1,40\n20261102,Direct,130,110,4,200.25\n"
        "(other),(other),33,30,1,12.00\n,,343,295,9,402.75\n", encoding="utf-8")
    doc = _ingest(path, client)
    (bad,) = doc["rejected"]
    assert (bad["line"], bad["column"], bad["value"]) == (10, "Date", "(other)")
    assert "(other)" in bad["reason"] and "no one day" in bad["reason"]
    got = _metrics(client)
    assert got["sessions"] == {"2026-11-01": "180", "2026-11-02": "130"}
    assert got["ga_revenue"] == {"2026-11-01": "190.50", "2026-11-02": "200.25"}
    assert got["users"] == {"2026-11-02": "110"}  # a day split over channels: users do not add up


# --------------------------------------------------------------------------- Fiverr: a European sheet


EURO_MAPPING = ("fiverr:\n  date: Bestelldatum\n  amount: Betrag\n  status: Status\n  order_id: Bestellnummer\n"
                "  date_format: '%d.%m.%Y'\n  response_hours: Antwortzeit (h)\n  delivered_on_time: Pünktlich\n"
                "  completed_values: [Abgeschlossen]\n  cancelled_values: [Storniert]\n")


def test_a_european_fiverr_sheet_reads_hours_with_decimal_commas(chimera_home: Path, tmp_path: Path) -> None:
    """Excel in Germany writes `1.050,00 €` and `23,9` hours: the response hours were refused as not a
    number although the amounts of the same file were read with decimal commas."""
    client = _client(EURO_MAPPING)
    path = tmp_path / "fiverr.csv"
    path.write_text(
        "Bestellnummer;Bestelldatum;Betrag;Status;Antwortzeit (h);Pünktlich\n"
        "FO1;03.11.2026;1.050,00 €;Abgeschlossen;2,5;ja\n"
        "FO2;03.11.2026;45,00 €;Storniert;30;\n"
        "FO3;04.11.2026;120,50 €;Abgeschlossen;23,9;nein\n"
        "FO4;04.11.2026;80,00 €;In Bearbeitung;;\n"
        "FO3;04.11.2026;120,50 €;Abgeschlossen;23,9;nein\n", encoding="utf-8")
    doc = _ingest(path, client)
    assert doc["source"] == "fiverr_orders" and doc["rejected"] == []
    got = _metrics(client)
    assert got["fiverr_orders"] == {"2026-11-03": "2", "2026-11-04": "2"}  # FO3's copy counts once
    assert got["fiverr_earnings"] == {"2026-11-03": "1050.00", "2026-11-04": "120.50"}
    assert got["fiverr_inquiries"] == {"2026-11-03": "2", "2026-11-04": "1"}
    assert got["fiverr_responded_24h"] == {"2026-11-03": "1", "2026-11-04": "1"}  # 23.9 h is under 24 h
    assert got["fiverr_delivered"] == {"2026-11-03": "1", "2026-11-04": "1"}  # `ja` / `nein`, not skipped
    assert got["fiverr_delivered_on_time"] == {"2026-11-03": "1", "2026-11-04": "0"}
    _ingest(path, client)
    assert _metrics(client) == got


def test_fiverr_hours_or_on_time_values_that_cannot_be_read_name_line_and_example(chimera_home: Path,
                                                                                  tmp_path: Path) -> None:
    """An on-time value that is no yes or no used to drop out of the delivered count without a word,
    so the on-time rate was taken over fewer orders than were delivered."""
    client = _client(EURO_MAPPING)
    path = tmp_path / "fiverr.csv"
    path.write_text("Bestellnummer;Bestelldatum;Betrag;Status;Antwortzeit (h);Pünktlich\n"
                    "FO1;03.11.2026;40,00 €;Abgeschlossen;2,5;ja\nFO2;03.11.2026;45,00 €;Abgeschlossen;2 Std.;ja\n"
                    "FO3;03.11.2026;45,00 €;Abgeschlossen;1;2 Tage zu spät\n", encoding="utf-8")
    hours, on_time = _ingest(path, client)["rejected"]
    assert (hours["line"], hours["column"], hours["value"], hours["order"]) == (3, "Antwortzeit (h)", "2 Std.", "FO2")
    assert "12,34" in hours["reason"]
    assert (on_time["line"], on_time["column"], on_time["order"]) == (4, "Pünktlich", "FO3")
    assert "yes or no" in on_time["reason"]
    assert _metrics(client)["fiverr_delivered"] == {"2026-11-03": "1"}


def test_an_analytics_cell_with_no_figure_leaves_that_metric_missing(chimera_home: Path, tmp_path: Path) -> None:
    """Looker Studio and scripts write `null`, `(not set)`, `NaN` where there is no figure: that metric is
    missing for the day, its sessions stay. A dash may be Excel's accounting zero or no figure: the
    day is rejected saying which to write, never guessed."""
    client = _client()
    path = tmp_path / "ga.csv"
    path.write_text("Date,Sessions,Users,Transactions,Revenue\n2026-11-01,100,80,2,40.00\n2026-11-02,90,null,1,null\n"
                    "2026-11-03,95,75,0,(not set)\n2026-11-04,97,NaN,0,$ -\n2026-11-05,99,77,0,\u2014\n",
                    encoding="utf-8")
    doc = _ingest(path, client)
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [(5, "Revenue", "$ -"),
                                                                               (6, "Revenue", "\u2014")]
    assert all("accounting" in r["reason"] and "write 0" in r["reason"] for r in doc["rejected"])
    got = _metrics(client)
    assert got["sessions"] == {"2026-11-01": "100", "2026-11-02": "90", "2026-11-03": "95"}
    assert got["ga_revenue"] == {"2026-11-01": "40.00"}
    assert got["users"] == {"2026-11-01": "80", "2026-11-03": "75"}


def test_a_balance_report_in_the_accounts_time_zone_is_refused_saying_what_to_export(chimera_home: Path,
                                                                                      tmp_path: Path) -> None:
    """Stripe's reports now default to the account's time zone: `created` instead of `created_utc`, and
    the file does not say which zone. No charge can be put on its UTC day: one error naming the file,
    line and column and the column to export, detected from the header alone."""
    client = _client()
    rows = [["balance_transaction_id", "created", "available_on", "currency", "gross", "fee", "net",
             "reporting_category", "source_id", "description"],
            ["txn_1", "2026-11-03 20:00:00", "2026-11-05 00:00:00", "usd", "50.00", "1.75", "48.25", "charge", "ch_1",
             "Order 1"]]
    path = _write(tmp_path / "balance.csv", rows)
    out = _invoke(["ingest", str(path), "--client", client], code=1)["output"]
    assert "balance.csv: line 1" in out and "'created'" in out and "created_utc" in out
    assert "Created date (UTC)" not in out  # not told it is a malformed payments export


@pytest.mark.parametrize("label", ["Gesamt", "Summe", "Total général", "Totale", "Totaal", "Totales", "Grand total:"])
def test_a_localized_totals_row_is_no_day(chimera_home: Path, tmp_path: Path, label: str) -> None:
    """A sheet in German, French, Italian, Dutch or Spanish labels its totals row in its language: it
    was rejected as a date that does not parse (a rejection the user could do nothing about)."""
    client = _client()
    path = tmp_path / "ga.csv"
    path.write_text("Datum;Sitzungen;Nutzer;Transactions;Umsatz aus Käufen\n01.11.2026;1.204;987;12;1.234,56\n"
                    f"02.11.2026;980;850;9;900,10\n{label};2.184;1.837;21;2.134,66\n", encoding="utf-8")
    doc = _ingest(path, client)
    assert doc["rejected"] == [] and (doc["first_day"], doc["last_day"]) == ("2026-11-01", "2026-11-02")
    got = _metrics(client)
    assert got["sessions"] == {"2026-11-01": "1204", "2026-11-02": "980"}
    assert got["ga_revenue"] == {"2026-11-01": "1234.56", "2026-11-02": "900.10"}


def test_an_open_or_cancelled_fiverr_order_without_earnings_still_counts(chimera_home: Path, tmp_path: Path) -> None:
    """A sheet leaves the earnings of a cancelled or open order empty, or writes a dash: those orders
    were rejected, so orders and cancellations were undercounted and the completion rate read high.
    Earnings are summed over completed orders only: only a completed order needs its amount."""
    client = _client("fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n  order_id: Order ID\n")
    path = tmp_path / "fiverr.csv"
    path.write_text("Order ID,Order Date,Earnings,Status\nFO1,2026-11-03,$36.00,Completed\nFO2,2026-11-03,,Cancelled\n"
                    "FO3,2026-11-03,$ -,Cancelled\nFO4,2026-11-04,\u2014,In progress\nFO5,2026-11-04,,Completed\n"
                    "FO6,2026-11-04,-,Completed\n", encoding="utf-8")
    doc = _ingest(path, client)
    assert [(r["line"], r["column"], r["value"], r["order"]) for r in doc["rejected"]] == [
        (6, "Earnings", "", "FO5"), (7, "Earnings", "-", "FO6")]  # a completed order needs its earnings
    assert "completed order" in doc["rejected"][0]["reason"]
    got = _metrics(client)
    assert got["fiverr_orders"] == {"2026-11-03": "3", "2026-11-04": "1"}
    assert got["fiverr_cancelled"] == {"2026-11-03": "2", "2026-11-04": "0"}
    assert got["fiverr_completed"] == {"2026-11-03": "1", "2026-11-04": "0"}
    assert got["fiverr_earnings"] == {"2026-11-03": "36.00", "2026-11-04": "0.00"}


def test_a_time_the_clocks_skipped_is_rejected_saying_so(chimera_home: Path, tmp_path: Path) -> None:
    """02:30 on 8 March 2026 never happened in New York (clocks went from 02:00 to 03:00): a typed or
    rewritten value, rejected with its line, column and that reason; the other charges go in."""
    client = _client()
    rows = [["id", "Created date (America/New_York)", "Amount", "Status"],
            ["ch_1", "2026-03-07 12:00:00", "10.00", "Paid"], ["ch_2", "2026-03-08 02:30:00", "20.00", "Paid"],
            ["ch_3", "2026-03-09 12:00:00", "30.00", "Paid"], ["ch_4", "2026-03-10 12:00:00", "40.00", "Paid"]]
    doc = _ingest(_write(tmp_path / "p.csv", rows), client, "--source", "stripe_payments")
    (bad,) = doc["rejected"]
    assert (bad["line"], bad["column"], bad["value"], bad["order"]) == (
        3, "Created date (America/New_York)", "2026-03-08 02:30:00", "ch_2")
    assert "does not exist in America/New_York" in bad["reason"]
    assert _metrics(client)["stripe_gross"] == {"2026-03-09": "30.00", "2026-03-10": "40.00"}  # 7 March: partial


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", " "])
def test_a_french_excel_stripe_export_with_no_break_space_groups(chimera_home: Path, tmp_path: Path,
                                                                 space: str) -> None:
    """French Excel groups thousands with a no-break (or narrow no-break) space: `1 234,50`. Was: every
    such amount rejected as not a number (Shopify's reader already took them)."""
    client = _client()
    rows = [["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Fee", "Status"],
            ["ch_1", "2026-11-03 09:05:00", f"1{space}234,50", f"1{space}000,00", "eur", "36,09", "Paid"],
            ["ch_2", "2026-11-03 10:00:00", "12,00", "0,00", "eur", "0,65", "Paid"]]
    doc = _ingest(_write(tmp_path / "fr.csv", rows), client)
    assert doc["rejected"] == []
    got = _metrics(client)
    assert got["stripe_gross"] == {"2026-11-03": "1246.50"} and got["stripe_refunded"] == {"2026-11-03": "1000.00"}
