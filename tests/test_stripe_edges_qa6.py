"""QA6: Stripe edge cases through the CLI contract, against figures worked out here from the charge
records the files are written from (DATA.md: Stripe's metrics are per UTC day; a failed charge is
never gross; missing is never zero; a partial day is never written as if whole):

- a payments export in a chosen time zone covering one local day holds two partial UTC days: nothing
  is written, and the summary (text and --json ``left_out``) says which days and why, exit 1;
- its --since/--until are the export's own zone's days: the UTC days they cover whole are written,
  the partial ones are neither written nor zero-filled;
- a balance report's ``charge_failure`` rows: the charge is no success and no gross, as in the
  payments export of the same activity;
- a file cut mid-row (payments export or balance report): the day it holds only part of is left out.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client

_register()
runner = CliRunner()
_names = itertools.count()
NY = ZoneInfo("America/New_York")
PAYMENTS = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"]
BALANCE = ["balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee", "net",
           "reporting_category", "source_id", "description"]
METRICS = ["stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments", "stripe_gross", "stripe_fees",
           "stripe_refunded"]


def _client() -> str:
    name = f"q6e{next(_names)}"
    add_client(name)
    return name


def _run(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, args)
    return result.exit_code, result.stdout, f"{result.stderr}{result.exception or ''}"


def _ingest(path: Path, client: str, *extra: str, code: int = 0) -> dict:
    exit_code, out, err = _run(["ingest", str(path), "--client", client, "--json", *extra])
    assert exit_code == code, out + err
    return json.loads(out) if out.strip().startswith("{") else {"error": err}


def _metrics(client: str) -> dict[str, dict[str, str]]:
    exit_code, out, err = _run(["metrics", "--client", client, "--json"])
    assert exit_code == 0, out + err
    return {m: {d: str(Decimal(str(v))) for d, v in days.items()} for m, days in json.loads(out)["metrics"].items()}


def _write(path: Path, rows: list[list[str]], tail: str = "") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(rows)
        fh.write(tail)
    return path


def _charges(start: datetime, n: int, step: timedelta) -> list[dict]:
    """Card charges every ``step`` from ``start`` (UTC): paid, refunded in part, failed."""
    kinds = ["Paid", "Paid", "Failed", "Refunded"]
    out = []
    for i in range(n):
        status = kinds[i % len(kinds)]
        amount = Decimal(1500 + 377 * i).scaleb(-2)
        fee = Decimal("0.00") if status == "Failed" else (amount * Decimal("0.029") + Decimal("0.30")).quantize(
            Decimal("0.01"))
        refunded = Decimal("4.00") if status == "Refunded" else Decimal("0.00")
        out.append({"id": f"ch_{i:03d}", "moment": start + i * step, "amount": amount, "fee": fee,
                    "refunded": refunded, "status": status})
    return out


def _payments(charges: list[dict], created: str = "Created date (UTC)", zone=UTC) -> list[list[str]]:
    header = [created if h == "Created date (UTC)" else h for h in PAYMENTS]
    return [header] + [[c["id"], c["moment"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), f"{c['amount']:.2f}",
                        f"{c['refunded']:.2f}", "usd", "false" if c["status"] == "Failed" else "true",
                        f"{c['fee']:.2f}", c["status"]] for c in charges]


def _reference(charges: list[dict]) -> dict[str, dict[str, str]]:
    """By hand: per UTC day of the moment; gross over captured paid/refunded; fees and refunds over all."""
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(METRICS, Decimal(0)))
    for c in charges:
        day = days[c["moment"].astimezone(UTC).date().isoformat()]
        ok = c["status"] != "Failed"
        day["stripe_payments"] += 1
        day["stripe_succeeded_payments"] += ok
        day["stripe_failed_payments"] += not ok
        day["stripe_gross"] += c["amount"] if ok else 0
        day["stripe_fees"] += c["fee"]
        day["stripe_refunded"] += c["refunded"]
    return {m: {d: str(v[m]) for d, v in sorted(days.items())} for m in METRICS}


def _only(ref: dict[str, dict[str, str]], first: date, last: date, zero: bool = True) -> dict[str, dict[str, str]]:
    """The reference on ``first``..``last`` (UTC); with ``zero`` a day there without charges is 0."""
    out: dict[str, dict[str, str]] = {}
    for m, days in ref.items():
        span = [(first + timedelta(days=k)).isoformat() for k in range((last - first).days + 1)]
        blank = "0" if m in ("stripe_payments", "stripe_succeeded_payments", "stripe_failed_payments") else "0.00"
        out[m] = {d: days.get(d, blank) for d in span if d in days or zero}
    return out


# --------------------------------------------------------------------------- zoned exports


def test_one_new_york_day_is_two_partial_utc_days_said_and_nothing_written(chimera_home: Path, tmp_path: Path) -> None:
    """Stripe's dialog exported one New York day (04:00 UTC to 04:00 UTC next day, in November
    05:00): neither UTC day is whole. Nothing is written, the JSON names both days and why, the
    text says so, and the command fails (a script must not read "0 metrics" as a day without sales)."""
    client = _client()
    local_day = date(2026, 11, 10)
    start = datetime.combine(local_day, time(1, 15), NY)
    charges = _charges(start, 9, timedelta(hours=2, minutes=31))
    assert {c["moment"].astimezone(NY).date() for c in charges} == {local_day}
    path = _write(tmp_path / "ny.csv", _payments(charges, "Created date (America/New_York)", NY))
    doc = _ingest(path, client, code=1)
    assert (doc["metrics_written"], doc["first_day"], doc["last_day"], doc["rejected"]) == (0, None, None, [])
    utc_days = sorted({c["moment"].astimezone(UTC).date().isoformat() for c in charges})
    assert [d["day"] for d in doc["left_out"]] == utc_days == ["2026-11-10", "2026-11-11"]
    first, last = doc["left_out"]
    assert "partial UTC day" in first["reason"] and "05:00-24:00 UTC" in first["reason"]
    assert "00:00-05:00 UTC" in last["reason"] and "America/New_York" in last["reason"]
    assert _metrics(client) == {}
    exit_code, out, err = _run(["ingest", str(path), "--client", client])
    assert exit_code == 1
    assert "left out 2026-11-10" in " ".join(out.split()) and "nothing written" in err


def test_partial_days_keep_what_a_utc_export_stored(chimera_home: Path, tmp_path: Path) -> None:
    """The UTC export of those days is stored first: the New York one of a single day changes nothing."""
    client = _client()
    charges = _charges(datetime(2026, 11, 9, 20, 5, tzinfo=UTC), 20, timedelta(hours=2, minutes=13))
    _ingest(_write(tmp_path / "utc.csv", _payments(charges)), client)
    before = _metrics(client)
    assert before == _reference(charges)
    one_day = [c for c in charges if c["moment"].astimezone(NY).date() == date(2026, 11, 10)]
    _ingest(_write(tmp_path / "ny.csv", _payments(one_day, "Created date (America/New_York)", NY)), client, code=1)
    assert _metrics(client) == before


def test_a_zoned_exports_since_until_are_its_own_days(chimera_home: Path, tmp_path: Path) -> None:
    """New York days Nov 1..Nov 6 (Nov 1 is daylight saving's end there): the export covers
    Nov 1 04:00 UTC to Nov 7 05:00 UTC, so UTC days Nov 2..Nov 6 are whole and written, quiet ones
    as zero; Nov 1 and Nov 7 hold some hours only: left out, never zero-filled (they were)."""
    client = _client()
    charges = _charges(datetime(2026, 11, 2, 9, tzinfo=UTC), 6, timedelta(hours=17))  # none on NY's first day
    charges.append(_charges(datetime(2026, 11, 7, 3, 30, tzinfo=UTC), 1, timedelta(0))[0] | {"id": "ch_late"})
    path = _write(tmp_path / "ny.csv", _payments(charges, "Created date (America/New_York)", NY))
    doc = _ingest(path, client, "--since", "2026-11-01", "--until", "2026-11-06")
    start = datetime.combine(date(2026, 11, 1), time(), NY).astimezone(UTC)
    end = datetime.combine(date(2026, 11, 7), time(), NY).astimezone(UTC)
    assert (start.hour, end.hour) == (4, 5)
    assert (doc["first_day"], doc["last_day"]) == ("2026-11-02", "2026-11-06")
    assert [d["day"] for d in doc["left_out"]] == ["2026-11-07"]
    assert _metrics(client) == _only(_reference(charges), date(2026, 11, 2), date(2026, 11, 6))
    assert "2026-11-01" not in _metrics(client)["stripe_gross"]


def test_a_zoned_range_that_is_not_the_exports_is_refused(chimera_home: Path, tmp_path: Path) -> None:
    client = _client()
    charges = _charges(datetime(2026, 11, 3, 15, tzinfo=UTC), 3, timedelta(hours=20))
    path = _write(tmp_path / "ny.csv", _payments(charges, "Created date (America/New_York)", NY))
    err = _ingest(path, client, "--since", "2026-11-04", "--until", "2026-11-08", code=1)["error"]
    assert "2026-11-03 (America/New_York), before --since" in err
    today = datetime.now(NY).date()
    err = _ingest(path, client, "--since", "2026-11-01", "--until", today.isoformat(), code=1)["error"]
    assert "not over yet in America/New_York" in err
    assert _metrics(client) == {}


# --------------------------------------------------------------------------- balance reports


def _ach_activity() -> list[dict]:
    """Charges over four UTC days; two bank debits fail later (one within the days, one after them)."""
    out = []
    for i, c in enumerate(_charges(datetime(2026, 6, 1, 8, tzinfo=UTC), 12, timedelta(hours=7))):
        if c["status"] in ("Failed", "Refunded"):  # card declines move no money: not in a balance report
            c = c | {"status": "Paid", "refunded": Decimal("0.00"),
                     "fee": (c["amount"] * Decimal("0.008")).quantize(Decimal("0.01"))}
        out.append(c | {"fails": (c["moment"] + timedelta(days=2)) if i in (1, 6) else None})
    return out


def _balance_rows(activity: list[dict]) -> list[list[str]]:
    rows = [BALANCE]
    for c in activity:
        made = c["moment"].strftime("%Y-%m-%d %H:%M:%S")
        rows.append([f"txn_{c['id']}", made, made, "usd", f"{c['amount']:.2f}", f"{c['fee']:.2f}",
                     f"{c['amount'] - c['fee']:.2f}", "charge", c["id"], "payment"])
        if c["fails"] is not None:
            failed = c["fails"].strftime("%Y-%m-%d %H:%M:%S")
            back = f"{-c['amount']:.2f}"
            rows.append([f"txn_f_{c['id']}", failed, failed, "usd", back, "0.00", back, "charge_failure", c["id"],
                         "ACH debit failed"])
    return rows


def test_a_failed_charge_in_a_balance_report_is_no_gross_as_in_the_payments_export(chimera_home: Path,
                                                                                  tmp_path: Path) -> None:
    """The payments export lists a bank debit that failed as Failed (no gross, no success); the
    balance report has its charge row and, days later, a charge_failure row of the same source_id.
    Both files of the same activity give the same gross, successes and fees per day."""
    activity = _ach_activity()
    as_paid = [c | {"status": "Failed" if c["fails"] else "Paid"} for c in activity]
    ref = _reference(as_paid)
    balance, payments = _client(), _client()
    _ingest(_write(tmp_path / "balance.csv", _balance_rows(activity)), balance)
    _ingest(_write(tmp_path / "payments.csv", _payments(as_paid)), payments)
    got_balance, got_payments = _metrics(balance), _metrics(payments)
    for metric in ("stripe_gross", "stripe_succeeded_payments", "stripe_fees"):
        assert got_payments[metric] == ref[metric], metric
        on_days = {d: v for d, v in got_balance[metric].items() if d in ref[metric]}
        assert on_days == ref[metric], metric
        assert {Decimal(v) for d, v in got_balance[metric].items() if d not in ref[metric]} <= {0}  # failures' days
    assert sum(Decimal(v) for v in got_balance["stripe_gross"].values()) == sum(
        c["amount"] for c in activity if c["fails"] is None)


def test_a_failure_of_a_charge_before_the_report_comes_off_gross_on_its_day(chimera_home: Path,
                                                                           tmp_path: Path) -> None:
    """The charge was in last month's report: the failure takes its gross off its own day, as a
    refund is counted on the refund's day; successes stay as they were."""
    client = _client()
    rows = [BALANCE,
            ["txn_1", "2026-06-02 10:00:00", "", "usd", "80.00", "2.64", "77.36", "charge", "py_new", "payment"],
            ["txn_2", "2026-06-02 12:00:00", "", "usd", "-45.50", "0.00", "-45.50", "charge_failure", "py_old", ""],
            ["txn_3", "2026-06-03 09:00:00", "", "usd", "30.00", "1.17", "28.83", "charge", "ch_x", "payment"]]
    _ingest(_write(tmp_path / "balance.csv", rows), client)
    got = _metrics(client)
    assert got["stripe_gross"] == {"2026-06-02": "34.50", "2026-06-03": "30.00"}
    assert got["stripe_succeeded_payments"] == {"2026-06-02": "1", "2026-06-03": "1"}
    assert got["stripe_fees"] == {"2026-06-02": "2.64", "2026-06-03": "1.17"}


def test_pasted_balance_reports_count_a_transaction_once(chimera_home: Path, tmp_path: Path) -> None:
    """Two overlapping reports pasted into one file: an identical copy counts once, copies that
    differ reject the transaction (line, column, reason); a day whose every row is rejected is
    missing, not zero."""
    client = _client()
    activity = [c | {"fails": None} for c in _ach_activity()[:8]]
    rows = _balance_rows(activity)
    rows += rows[3:6]  # the second report repeats three transactions
    rows[-1] = [*rows[-1][:4], "99.99", *rows[-1][5:]]  # one of them differs
    changed = rows[-1][0]
    doc = _ingest(_write(tmp_path / "balance.csv", rows), client)
    assert {(r["order"], r["column"]) for r in doc["rejected"]} == {(changed, "balance_transaction_id")}
    kept = [c for c in activity if f"txn_{c['id']}" != changed]
    ref = _reference(kept)
    got = _metrics(client)
    assert got["stripe_gross"] == ref["stripe_gross"]
    assert got["stripe_succeeded_payments"] == ref["stripe_succeeded_payments"]


# --------------------------------------------------------------------------- files cut mid-row


@pytest.mark.parametrize("kind", ["payments", "balance"])
def test_a_cut_file_leaves_out_the_day_it_holds_part_of(chimera_home: Path, tmp_path: Path, kind: str) -> None:
    """Stripe lists newest first: a download cut in a row of its oldest day lacks that day's older
    charges. That day is left out (said in --json), what was stored for it kept; the others written."""
    client = _client()
    charges = [c | {"status": "Paid", "refunded": Decimal("0.00"), "fails": None}
               for c in _charges(datetime(2026, 7, 1, 6, tzinfo=UTC), 12, timedelta(hours=8))]
    newest_first = sorted(charges, key=lambda c: c["moment"], reverse=True)
    write = _payments if kind == "payments" else _balance_rows
    whole = write(charges)
    _ingest(_write(tmp_path / "first.csv", whole), client)
    stored = _metrics(client)
    rows = write(newest_first)
    cut_row = rows[-3]  # the file ends inside the third-last charge, on the oldest day
    path = _write(tmp_path / "cut.csv", rows[:-3], ",".join(cut_row)[:len(cut_row[0]) + 22])  # whole date, cut money
    doc = _ingest(path, client)
    oldest = charges[0]["moment"].date().isoformat()
    assert cut_row[1].startswith(oldest)
    assert [d["day"] for d in doc["left_out"]] == [oldest] and "ends inside a row" in doc["left_out"][0]["reason"]
    assert [r["line"] for r in doc["rejected"]] == [len(rows) - 2]
    assert _metrics(client) == stored  # the cut day kept; the others written again with the same values
    assert doc["first_day"] > oldest
    dateless = _write(tmp_path / "cut2.csv", rows[:-3], cut_row[0] + ",2026-0")  # the cut row's date is cut too
    doc = _ingest(dateless, client)
    assert [d["day"] for d in doc["left_out"]] == [rows[-4][1][:10]]  # the complete row before it: maybe partial
    assert _metrics(client) == stored


# --------------------------------------------------------------------------- currency marks


def test_amounts_a_spreadsheet_marked_with_their_currency_read_as_the_plain_export(chimera_home: Path,
                                                                                   tmp_path: Path) -> None:
    """`$1,040.00`, `1.040,00 €` or `9.99 USD`: a spreadsheet's currency format on the export's
    amounts (all rejected as not a number before). Read as the plain export is, by hand."""
    charges = _charges(datetime(2026, 3, 1, 5, tzinfo=UTC), 24, timedelta(hours=7))
    ref = _reference(charges)
    plain = _payments(charges)
    styles = {"dollar": lambda v: f"${Decimal(v):,.2f}", "code": lambda v: f"{v} USD",
              "euro_comma": lambda v: f"{Decimal(v):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") + " €"}
    for style, mark in styles.items():
        rows = [plain[0]] + [[*r[:2], mark(r[2]), mark(r[3]), "eur" if style == "euro_comma" else "usd", r[5],
                              mark(r[6]), r[7]] for r in plain[1:]]
        client = _client()
        doc = _ingest(_write(tmp_path / f"{style}.csv", rows), client)
        assert doc["rejected"] == [], style
        assert _metrics(client) == ref, style


def test_a_mark_naming_another_currency_than_the_rows_rejects_the_charge(chimera_home: Path, tmp_path: Path) -> None:
    """`€12.00` in a usd row: which is right is unknown; rejected showing the value as written.
    A bare `$` names no one currency (US, Canadian, Australian dollars): no claim."""
    client = _client()
    header = ["id", "Created date (UTC)", "Amount", "Currency", "Fee", "Status"]
    rows = [header, ["ch_1", "2026-03-01 10:00:00", "€12.00", "usd", "0.65", "Paid"],
            ["ch_2", "2026-03-01 11:00:00", "$20.00", "usd", "$0.88", "Paid"],
            ["ch_3", "2026-03-01 12:00:00", "US$1,020.00", "usd", "0.88", "Paid"]]
    doc = _ingest(_write(tmp_path / "marks.csv", rows), client)
    assert [(r["line"], r["column"], r["value"], r["order"]) for r in doc["rejected"]] == [
        (2, "Amount", "€12.00", "ch_1")]
    assert "marked EUR" in doc["rejected"][0]["reason"] and "usd" in doc["rejected"][0]["reason"]
    assert _metrics(client)["stripe_gross"] == {"2026-03-01": "1040.00"}
    canadian = _client()
    rows = [header, ["ch_1", "2026-03-01 10:00:00", "$12.00", "cad", "$0.65", "Paid"],
            ["ch_2", "2026-03-01 11:00:00", "CA$20.00", "cad", "0.88", "Paid"]]
    assert _ingest(_write(tmp_path / "cad.csv", rows), canadian)["rejected"] == []
    assert _metrics(canadian)["stripe_gross"] == {"2026-03-01": "32.00"}


# --------------------------------------------------------------------------- joined exports, statuses


def test_two_exports_joined_with_their_headers_read_as_one(chimera_home: Path, tmp_path: Path) -> None:
    """`cat week1.csv week2.csv`: the second header is no charge (it was read as one in currency
    `currency`, and the whole file refused as mixing currencies); the overlap counts once."""
    client = _client()
    charges = _charges(datetime(2026, 4, 1, 2, tzinfo=UTC), 30, timedelta(hours=5))
    rows = _payments(charges[:20]) + _payments(charges[12:])
    doc = _ingest(_write(tmp_path / "joined.csv", rows), client)
    assert (doc["rejected"], doc["rows_read"]) == ([], 38)
    assert _metrics(client) == _reference(charges)
    balance = _client()
    activity = [c | {"status": "Paid", "refunded": Decimal("0.00"), "fails": None} for c in charges]
    rows = _balance_rows(activity[:20]) + _balance_rows(activity[12:])
    assert _ingest(_write(tmp_path / "joined_balance.csv", rows), balance)["rejected"] == []
    assert _metrics(balance)["stripe_gross"] == _reference(activity)["stripe_gross"]


def test_a_status_stripe_does_not_write_rejects_its_charge(chimera_home: Path, tmp_path: Path) -> None:
    """`Piad`, or a status of some other tool: whether money was captured is unknown (it was
    counted as an attempt without gross, silently); Uncaptured, Canceled and Pending move no money."""
    client = _client()
    rows = [PAYMENTS, ["ch_1", "2026-03-01 10:00:00", "10.00", "0.00", "usd", "true", "0.59", "Piad"],
            ["ch_2", "2026-03-01 11:00:00", "20.00", "0.00", "usd", "true", "0.88", "Paid"],
            ["ch_3", "2026-03-01 12:00:00", "30.00", "0.00", "usd", "false", "0.00", "Uncaptured"],
            ["ch_4", "2026-03-01 13:00:00", "40.00", "0.00", "usd", "false", "0.00", "Canceled"],
            ["ch_5", "2026-03-01 14:00:00", "50.00", "0.00", "usd", "true", "0.00", "Pending"]]
    doc = _ingest(_write(tmp_path / "status.csv", rows), client)
    assert [(r["line"], r["column"], r["value"], r["order"]) for r in doc["rejected"]] == [
        (2, "Status", "Piad", "ch_1")]
    got = _metrics(client)
    assert (got["stripe_payments"], got["stripe_succeeded_payments"], got["stripe_gross"]) == (
        {"2026-03-01": "4"}, {"2026-03-01": "1"}, {"2026-03-01": "20.00"})


def test_a_cut_shopify_export_says_which_day_it_left_out(chimera_home: Path, tmp_path: Path) -> None:
    """The same summary for any export: a cut Shopify file's partial day was only in a log line."""
    client = _client()
    header = ["Name", "Email", "Financial Status", "Created at", "Subtotal", "Shipping", "Taxes", "Total",
              "Lineitem quantity", "Lineitem price", "Currency"]
    rows = [header] + [[f"#{n}", "a@example.com", "paid", f"2026-05-0{d} 1{n % 10}:00:00 -0400", "10.00", "0.00",
                        "0.00", "10.00", "1", "10.00", "USD"] for n, d in ((1, 1), (2, 1), (3, 2), (4, 2))]
    doc = _ingest(_write(tmp_path / "orders.csv", rows, "#5,b@example.com,paid,2026-05-02 15:0"), client)
    assert [d["day"] for d in doc["left_out"]] == ["2026-05-02"] and "ends inside a row" in doc["left_out"][0]["reason"]
    assert (doc["first_day"], doc["last_day"]) == ("2026-05-01", "2026-05-01")
    assert _metrics(client)["orders"] == {"2026-05-01": "2"}


# --------------------------------------------------------------------------- API pull


def test_an_uncaptured_charge_pulled_from_the_api_is_no_success(chimera_home: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A card authorization never captured is `succeeded` with captured false in the API and
    `Uncaptured` in the export: the pull counted it as a success (a paid order that never paid)."""
    from chimera.clients import get_client
    from chimera.connectors import pull_stripe, stripe_api

    client = _client()
    yml = get_client(client).folder / "client.yml"
    yml.write_text(yml.read_text() + "connectors:\n  stripe:\n    api_base: http://127.0.0.1:9\n"
                   "    key_env: Q6_STRIPE\n")
    monkeypatch.setenv("Q6_STRIPE", "sk_test_x")
    moment = datetime(2026, 3, 8, 12, tzinfo=UTC)
    charges = [{"id": f"ch_{n}", "created": int(moment.timestamp()) + n * 60, "amount": 1000 + n, "amount_refunded": 0,
                "currency": "usd", "captured": captured, "status": "succeeded", "refunded": False,
                "balance_transaction": {"amount": 1000 + n, "currency": "usd", "fee": 59 if captured else 0}}
               for n, captured in enumerate([True, False, True])]
    monkeypatch.setattr(stripe_api, "fetch_charges", lambda cfg, key, since, until: iter(charges))
    pull_stripe(get_client(client), date(2026, 3, 8), date(2026, 3, 8))
    export = _client()
    rows = [PAYMENTS] + [[c["id"], f"2026-03-08 12:0{n}:00", f"{Decimal(c['amount']).scaleb(-2)}", "0.00", "usd",
                          str(c["captured"]).lower(), "0.59" if c["captured"] else "0.00",
                          "Paid" if c["captured"] else "Uncaptured"] for n, c in enumerate(charges)]
    _ingest(_write(tmp_path / "export.csv", rows), export)
    pulled, exported = _metrics(client), _metrics(export)
    assert pulled["stripe_succeeded_payments"] == exported["stripe_succeeded_payments"] == {"2026-03-08": "2"}
    assert pulled["stripe_gross"] == exported["stripe_gross"] == {"2026-03-08": "20.02"}


def test_a_released_authorization_moves_no_money(chimera_home: Path, tmp_path: Path) -> None:
    """A hold never captured and then released or expired (Status Refunded, Captured false, its
    whole amount "refunded"): no success, no gross, no refund; a captured refund still counts."""
    client = _client()
    rows = [PAYMENTS, ["ch_1", "2026-03-01 10:00:00", "20.00", "0.00", "usd", "true", "0.88", "Paid"],
            ["ch_2", "2026-03-01 11:00:00", "30.00", "30.00", "usd", "false", "0.00", "Refunded"],
            ["ch_3", "2026-03-01 12:00:00", "40.00", "15.00", "usd", "true", "1.46", "Refunded"]]
    _ingest(_write(tmp_path / "holds.csv", rows), client)
    got = _metrics(client)
    assert {m: got[m]["2026-03-01"] for m in METRICS} == {
        "stripe_payments": "3", "stripe_succeeded_payments": "2", "stripe_failed_payments": "0",
        "stripe_gross": "60.00", "stripe_fees": "2.34", "stripe_refunded": "15.00"}
