"""Export variants found by QA on inputs unlike the sample store, checked through the CLI contract
(``chimera ingest/metrics --json``) against a few-line reference written from DATA.md.
Each case is an export a real operator produces (a UK Excel save, two exports pasted into one file,
a column left out, a European analytics sheet) that once went wrong.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client

_register()
runner = CliRunner()

STRIPE_HEADER = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status",
                 "Description", "order_id (metadata)"]


def _invoke(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _write(path: Path, rows: list[list[str]], newline: str = "\n") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator=newline).writerows(rows)
    return path


def _metrics(client: str) -> dict[str, dict[str, object]]:
    return _invoke(["metrics", "--client", client, "--json"])["metrics"]


def _payments(start: datetime, days: int, per_day: int = 3) -> list[dict]:
    """Paid, refunded and failed card payments, ``per_day`` a day, at UTC times that never cross midnight."""
    out = []
    for d in range(days):
        for k in range(per_day):
            status = ("Paid", "Refunded", "Failed")[(d + k) % 3] if k else "Paid"
            amount = Decimal(1000 + 137 * d + 11 * k) / 100
            out.append({
                "id": f"ch_{d:02d}{k}",
                "at": start + timedelta(days=d, hours=2 + 5 * k, minutes=7),
                "amount": amount,
                "refunded": amount if status == "Refunded" else Decimal("0.00"),
                "fee": Decimal("0.00") if status == "Failed" else (
                    amount * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01")),
                "status": status,
            })
    return sorted(out, key=lambda p: p["at"], reverse=True)  # the dashboard lists newest first


def _stripe_rows(payments: list[dict], date_format: str) -> list[list[str]]:
    return [STRIPE_HEADER] + [
        [p["id"], p["at"].strftime(date_format), f"{p['amount']:.2f}", f"{p['refunded']:.2f}", "usd",
         "false" if p["status"] == "Failed" else "true", f"{p['fee']:.2f}", p["status"], "Order, web", "#1"]
        for p in payments
    ]


def _stripe_reference(payments: list[dict]) -> dict[str, dict[str, str]]:
    """contracts.md: per UTC day of Created; gross over captured paid/refunded, fees and refunds over all."""
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for p in payments:
        day = days[p["at"].date().isoformat()]
        day["stripe_payments"] += 1
        ok = p["status"] in ("Paid", "Refunded")
        day["stripe_succeeded_payments"] += ok
        day["stripe_failed_payments"] += not ok
        day["stripe_gross"] += p["amount"] if ok else 0
        day["stripe_fees"] += p["fee"]
        day["stripe_refunded"] += p["refunded"]
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for day, values in days.items():
        for metric, value in values.items():
            out[metric][day] = str(value)
    return dict(out)


def _as_text(series: dict[str, dict[str, object]], metrics: list[str]) -> dict[str, dict[str, str]]:
    return {m: {d: str(Decimal(str(v))) for d, v in series.get(m, {}).items()} for m in metrics}


def _normalized(ref: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {m: {d: str(Decimal(v)) for d, v in s.items()} for m, s in ref.items()}


# --------------------------------------------------------------------------- Stripe: dd/mm dates, decimal point


def test_a_uk_week_of_stripe_payments_stays_on_its_days(chimera_home: Path, tmp_path: Path) -> None:
    """Excel in a UK locale saves `01/03/2026 02:07` (1 March) with decimal points. Every day of a
    weekly export is <= 12, so neither reading is ruled out by a value; the file's own order (one
    week of consecutive days, not the same day of seven months) says which is right."""
    add_client("uk")
    payments = _payments(datetime(2026, 3, 1), days=7)
    path = _write(tmp_path / "payments.csv", _stripe_rows(payments, "%d/%m/%Y %H:%M"), "\r\n")
    doc = _invoke(["ingest", str(path), "--client", "uk", "--json"])
    assert (doc["first_day"], doc["last_day"]) == ("2026-03-01", "2026-03-07")
    ref = _stripe_reference(payments)
    assert _as_text(_metrics("uk"), list(ref)) == _normalized(ref)


def test_a_uk_export_with_a_day_past_12_reads_day_first(chimera_home: Path, tmp_path: Path) -> None:
    """The same layout over two weeks: `13/03/2026` decides dd/mm for the whole file."""
    add_client("uk2")
    payments = _payments(datetime(2026, 3, 1), days=14)
    path = _write(tmp_path / "payments.csv", _stripe_rows(payments, "%d/%m/%Y %H:%M"))
    doc = _invoke(["ingest", str(path), "--client", "uk2", "--json"])
    assert (doc["first_day"], doc["last_day"]) == ("2026-03-01", "2026-03-14")
    ref = _stripe_reference(payments)
    assert _as_text(_metrics("uk2"), list(ref)) == _normalized(ref)


# --------------------------------------------------------------------------- Stripe: pasted overlapping exports


def test_pasted_overlapping_stripe_exports_count_each_charge_once(chimera_home: Path, tmp_path: Path) -> None:
    add_client("paste")
    payments = _payments(datetime(2026, 3, 10), days=6)
    rows = _stripe_rows(payments, "%Y-%m-%d %H:%M:%S")
    older = [r for r in rows[1:] if r[1] < "2026-03-14"]
    newer = [r for r in rows[1:] if r[1] >= "2026-03-12"]  # overlaps the older export on 12 and 13 March
    path = _write(tmp_path / "payments.csv", [rows[0], *newer, *older])
    doc = _invoke(["ingest", str(path), "--client", "paste", "--json"])
    assert doc["rejected"] == []
    ref = _stripe_reference(payments)
    assert _as_text(_metrics("paste"), list(ref)) == _normalized(ref)


def test_overlapping_stripe_exports_in_two_files_replace_never_add(chimera_home: Path, tmp_path: Path) -> None:
    """The supported way: each file is ingested on its own; the later one replaces the shared days."""
    add_client("two")
    payments = _payments(datetime(2026, 3, 10), days=6)
    rows = _stripe_rows(payments, "%Y-%m-%d %H:%M:%S")
    older = _write(tmp_path / "older.csv", [rows[0], *(r for r in rows[1:] if r[1] < "2026-03-14")])
    newer = _write(tmp_path / "newer.csv", [rows[0], *(r for r in rows[1:] if r[1] >= "2026-03-12")])
    for path in (newer, older):
        _invoke(["ingest", str(path), "--client", "two", "--json"])
    ref = _stripe_reference(payments)
    assert _as_text(_metrics("two"), list(ref)) == _normalized(ref)


# --------------------------------------------------------------------------- columns left out of an export


def test_a_stripe_export_without_fee_or_refund_columns_leaves_them_missing(chimera_home: Path,
                                                                           tmp_path: Path) -> None:
    add_client("few")
    path = _write(tmp_path / "payments.csv", [
        ["id", "Created date (UTC)", "Amount", "Currency", "Status"],
        ["ch_1", "2026-05-01 03:48:05", "25.00", "usd", "Paid"],
        ["ch_2", "2026-05-01 05:00:00", "40.00", "usd", "Paid"],
        ["ch_3", "2026-05-02 05:00:00", "40.00", "usd", "Failed"],
    ])
    _invoke(["ingest", str(path), "--client", "few", "--json"])
    series = _metrics("few")
    assert series["stripe_gross"] == {"2026-05-01": "65.00", "2026-05-02": "0.00"}
    assert series["stripe_payments"] == {"2026-05-01": 2, "2026-05-02": 1}
    assert "stripe_fees" not in series and "stripe_refunded" not in series  # unknown, not zero


# --------------------------------------------------------------------------- analytics saved by a European Excel


def test_semicolon_analytics_with_decimal_comma_revenue(chimera_home: Path, tmp_path: Path) -> None:
    add_client("eu")
    path = tmp_path / "analytics.csv"
    path.write_text("date;sessions;users;transactions;revenue\n2026-03-01;1100;880;22;1040,50\n"
                    "2026-03-02;1200;950;31;1261,00\n", encoding="utf-8")
    doc = _invoke(["ingest", str(path), "--client", "eu", "--json"])
    assert doc["rejected"] == []
    series = _metrics("eu")
    assert series["sessions"] == {"2026-03-01": 1100, "2026-03-02": 1200}
    assert series["ga_revenue"] == {"2026-03-01": "1040.50", "2026-03-02": "1261.00"}


def test_pasted_stripe_copies_that_differ_reject_that_charge_only(chimera_home: Path, tmp_path: Path) -> None:
    """A charge refunded between two pasted exports: which row is current is unknown, so the
    charge is rejected (named once, at its first line) and the other charges are ingested."""
    add_client("differ")
    path = _write(tmp_path / "payments.csv", [
        ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"],
        ["ch_1", "2026-05-01 03:48:05", "25.00", "0.00", "usd", "true", "1.03", "Paid"],
        ["ch_2", "2026-05-01 05:00:00", "40.00", "0.00", "usd", "true", "1.46", "Paid"],
        ["ch_1", "2026-05-01 03:48:05", "25.00", "25.00", "usd", "true", "1.03", "Refunded"],
    ])
    doc = _invoke(["ingest", str(path), "--client", "differ", "--json"])
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [(2, "id", "ch_1")]
    assert _metrics("differ")["stripe_gross"] == {"2026-05-01": "40.00"}


def test_a_us_week_of_slash_dates_stays_month_first(chimera_home: Path, tmp_path: Path) -> None:
    """The mirror of the UK case: `03/01/2026`..`03/07/2026` with decimal points is 1-7 March."""
    add_client("us")
    payments = _payments(datetime(2026, 3, 1), days=7)
    path = _write(tmp_path / "payments.csv", _stripe_rows(payments, "%m/%d/%Y %H:%M"))
    doc = _invoke(["ingest", str(path), "--client", "us", "--json"])
    assert (doc["first_day"], doc["last_day"]) == ("2026-03-01", "2026-03-07")


def test_pasted_identical_copies_of_a_bad_charge_are_all_rejected(chimera_home: Path, tmp_path: Path) -> None:
    """Two identical copies of a charge with a bad amount: the rejection names it once and neither
    copy is counted."""
    add_client("badcopy")
    row = ["ch_9", "2026-05-02 09:00:00", "12,3x", "0.00", "usd", "true", "0.50", "Paid"]
    path = _write(tmp_path / "payments.csv", [
        ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"],
        row, ["ch_1", "2026-05-02 10:00:00", "20.00", "0.00", "usd", "true", "0.88", "Paid"], row,
    ])
    doc = _invoke(["ingest", str(path), "--client", "badcopy", "--json"])
    assert [(r["line"], r["column"]) for r in doc["rejected"]] == [(2, "Amount")]
    series = _metrics("badcopy")
    assert series["stripe_gross"] == {"2026-05-02": "20.00"}
    assert series["stripe_payments"] == {"2026-05-02": 1}


def test_a_file_that_is_not_csv_text_is_named_for_what_it_is(chimera_home: Path, tmp_path: Path) -> None:
    """A gzip download, a workbook or a folder gets an error saying what it is, not a CSV parse error."""
    import gzip

    add_client("packed")
    gz = tmp_path / "orders_export.csv.gz"
    gz.write_bytes(gzip.compress(b"Name,Email,Created at\n#1,a@b.c,2026-05-01 10:00:00 +0000\n"))
    xlsx = tmp_path / "orders.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    for path, said in ((gz, "gzip-compressed"), (xlsx, "Excel workbook"), (tmp_path, "is a directory")):
        result = runner.invoke(app, ["ingest", str(path), "--client", "packed"])
        assert result.exit_code == 1  # an IngestError: the entry point prints it as "error: ..."
        assert said in str(result.exception) and str(path) in str(result.exception)


def test_an_export_with_every_row_rejected_exits_1(chimera_home: Path, tmp_path: Path) -> None:
    """Dates rewritten by a spreadsheet (`4/5/2026 21:06`) on every row: nothing is ingested, the
    summary still lists each row, and the exit code says the file did not go in."""
    add_client("mangled")
    header = ["Name", "Email", "Financial Status", "Created at", "Subtotal", "Shipping", "Taxes", "Total",
              "Lineitem quantity", "Lineitem price", "Currency"]
    path = _write(tmp_path / "orders_export.csv", [header, *(
        [f"#{1000 + i}", f"c{i}@x.example", "paid", f"4/{i + 1}/2026 21:06", "10.00", "0.00", "0.00", "10.00",
         "1", "10.00", "USD"] for i in range(3))])
    result = runner.invoke(app, ["ingest", str(path), "--client", "mangled", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["orders_ingested"] == 0 and [r["line"] for r in doc["rejected"]] == [2, 3, 4]
    assert "nothing ingested" in result.stderr and "Created at" in result.stderr


def test_analytics_copies_count_once_and_channels_are_summed(chimera_home: Path, tmp_path: Path) -> None:
    """A report split by channel sums its rows per date (users excepted: they do not add up); the
    same report pasted twice adds nothing;
    a date whose pasted copies differ (GA revises recent days) is rejected, not guessed."""
    add_client("ga")
    split = tmp_path / "by_channel.csv"
    split.write_text("date,channel,sessions,revenue\n2026-03-01,organic,100,10.00\n2026-03-01,paid,50,5.00\n"
                     "2026-03-02,organic,80,8.00\n2026-03-01,organic,100,10.00\n2026-03-01,paid,50,5.00\n",
                     encoding="utf-8")
    doc = _invoke(["ingest", str(split), "--client", "ga", "--json"])
    assert doc["rejected"] == []
    assert _metrics("ga")["sessions"] == {"2026-03-01": 150, "2026-03-02": 80}
    users = tmp_path / "users_by_channel.csv"  # a person who came through two channels is in both rows
    users.write_text("date,channel,sessions,users\n2026-03-01,organic,100,90\n2026-03-01,paid,50,45\n"
                     "2026-03-02,organic,80,70\n2026-03-03,organic,60,\n2026-03-03,paid,10,9\n", encoding="utf-8")
    add_client("ga3")
    assert _invoke(["ingest", str(users), "--client", "ga3", "--json"])["rejected"] == []
    got = _metrics("ga3")
    assert got["sessions"] == {"2026-03-01": 150, "2026-03-02": 80, "2026-03-03": 70}
    assert got["users"] == {"2026-03-02": 70}, "a split day's users are missing, not a sum that overcounts"
    pasted = tmp_path / "pasted.csv"
    pasted.write_text("date,sessions,revenue\n2026-03-01,100,10.00\n2026-03-02,80,8.00\n"
                      "2026-03-02,90,9.50\n2026-03-03,70,7.00\n2026-03-01,100,10.00\n", encoding="utf-8")
    add_client("ga2")
    doc = _invoke(["ingest", str(pasted), "--client", "ga2", "--json"])
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [(3, "date", "2026-03-02")]
    assert _metrics("ga2")["sessions"] == {"2026-03-01": 100, "2026-03-03": 70}
