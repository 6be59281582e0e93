"""QA6: the Stripe Dashboard's balance export (Balance > Export: `id,Type,Source,Amount,Fee,Net,Currency,
Created (UTC),Available On (UTC),Description,...`) is detected as a Stripe export and read as the balance
report is, against figures worked out here from the transactions the file is written from:

- per UTC day of `Created (UTC)`: successes and gross over charge/payment rows (a charge whose
  payment_failure_refund is in the file is neither; a failure of an earlier charge takes its amount
  off gross on its own day), fees of those rows, refunds as minus refund/payment_refund/refund_failure;
- payouts, transfers, Stripe's own fees and adjustments move the balance but are no revenue;
- payments and failed attempts are not in a balance export: missing, never zero.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from chimera.clients import add_client
from chimera.ingest.detect import detect_kind, read_header
from chimera.ingest.stripe_balance import is_balance_report
from tests.test_stripe_edges_qa6 import _ingest, _metrics, _write  # the CLI contract's helpers

_names = itertools.count()
DASHBOARD = ["id", "Type", "Source", "Amount", "Fee", "Net", "Currency", "Created (UTC)", "Available On (UTC)",
             "Description", "Customer Facing Amount", "Customer Facing Currency", "Transfer", "Transfer Date (UTC)"]
REPORT = ["balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee", "net",
          "reporting_category", "source_id", "description"]
# how the balance report categorizes what the Dashboard calls a type (for writing the same activity both ways)
AS_REPORTED = {"charge": "charge", "payment": "charge", "refund": "refund", "payment_refund": "refund",
               "refund_failure": "refund_failure", "payment_failure_refund": "charge_failure", "payout": "payout",
               "transfer": "transfer", "stripe_fee": "fee", "adjustment": "other_adjustment"}
MONEY = ["stripe_gross", "stripe_fees", "stripe_refunded"]


def _client() -> str:
    name = f"q6b{next(_names)}"
    add_client(name)
    return name


def _activity() -> list[dict]:
    """A month-like mix over 6 UTC days: card charges and bank payments, refunds of both, a failed
    refund, two bank debits that fail (one's payment in the file, one's before it), Stripe's fees,
    an adjustment, transfers and payouts. Amounts signed as Stripe writes them."""
    start = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)
    out: list[dict] = []

    def add(kind: str, hours: float, amount: str, fee: str = "0.00", source: str = "") -> None:
        n = len(out)
        out.append({"id": f"txn_{n:03d}", "type": kind, "moment": start + timedelta(hours=hours),
                    "amount": Decimal(amount), "fee": Decimal(fee), "source": source or f"src_{n:03d}"})

    for i in range(14):  # card charges every ~10 h, at hours crossing midnight UTC
        add("charge", 10.3 * i, f"{25 + 7 * i}.{i:02d}", f"{1 + i % 3}.{(29 * i) % 100:02d}", f"ch_{i}")
    for i in range(4):
        add("payment", 7 + 31 * i, f"{60 + i}.00", "0.48", f"py_{i}")
    add("refund", 30, "-12.00", source="re_1")
    add("refund", 75, "-25.50", source="re_2")
    add("payment_refund", 100, "-61.00", source="pyr_1")
    add("refund_failure", 110, "12.00", source="re_1")
    add("payment_failure_refund", 60, "-61.00", source="py_1")  # py_1 (in the file) failed: no revenue
    add("payment_failure_refund", 90, "-44.00", source="py_old")  # a payment of last month failed
    add("stripe_fee", 50, "-2.00", source="radar")
    add("adjustment", 80, "-15.00", source="dp_1")  # a dispute: not a sale, not a refund
    add("transfer", 95, "-30.00", source="tr_1")
    add("payout", 24, "-150.00", source="po_1")
    add("payout", 120, "-210.40", source="po_2")
    return out


def _hand(activity: list[dict]) -> dict[str, dict[str, str]]:
    """The metrics by hand, per UTC day: a separate reading of the rules in the module docstring."""
    failed = {t["source"] for t in activity if t["type"] == "payment_failure_refund"}
    sold = {t["source"] for t in activity if t["type"] in ("charge", "payment")}
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"stripe_succeeded_payments": Decimal(0),
                                                               **dict.fromkeys(MONEY, Decimal(0))})
    for t in activity:
        day = days[t["moment"].date().isoformat()]
        if t["type"] in ("charge", "payment"):
            day["stripe_fees"] += t["fee"]
            if t["source"] not in failed:
                day["stripe_succeeded_payments"] += 1
                day["stripe_gross"] += t["amount"]
        elif t["type"] == "payment_failure_refund" and t["source"] not in sold:
            day["stripe_gross"] += t["amount"]
        elif t["type"] in ("refund", "payment_refund", "refund_failure"):
            day["stripe_refunded"] -= t["amount"]
    metrics = ["stripe_succeeded_payments", *MONEY]
    return {m: {d: f"{v[m]:.2f}" if m in MONEY else str(v[m]) for d, v in sorted(days.items())} for m in metrics}


def _dashboard_rows(activity: list[dict], moment: str = "%Y-%m-%d %H:%M") -> list[list[str]]:
    rows = [DASHBOARD]
    for t in activity:
        made = t["moment"].strftime(moment)
        avail = (t["moment"] + timedelta(days=2)).strftime("%Y-%m-%d 00:00")
        rows.append([t["id"], t["type"], t["source"], f"{t['amount']:.2f}", f"{t['fee']:.2f}",
                     f"{t['amount'] - t['fee']:.2f}", "usd", made, avail, f"{t['type']} {t['source']}",
                     f"{t['amount']:.2f}", "usd", "po_x" if t["type"] != "payout" else "", ""])
    return rows


def _report_rows(activity: list[dict]) -> list[list[str]]:
    rows = [REPORT]
    for t in activity:
        made = t["moment"].strftime("%Y-%m-%d %H:%M:%S")
        rows.append([t["id"], made, made, "usd", f"{t['amount']:.2f}", f"{t['fee']:.2f}",
                     f"{t['amount'] - t['fee']:.2f}", AS_REPORTED[t["type"]], t["source"], ""])
    return rows


def test_the_dashboard_balance_export_is_a_stripe_export(tmp_path: Path) -> None:
    """Detected from its column names, and routed to the balance reader; a payments export is not."""
    header = read_header(_write(tmp_path / "b.csv", _dashboard_rows(_activity()[:2])))
    assert detect_kind(tmp_path / "b.csv", header) == "stripe_payments"
    assert is_balance_report(header)
    payments = _write(tmp_path / "p.csv", [["id", "Created date (UTC)", "Amount", "Fee", "Status", "Currency"]])
    assert not is_balance_report(read_header(payments))


def test_the_dashboard_export_gives_the_hand_computed_metrics(chimera_home: Path, tmp_path: Path) -> None:
    """Every type in one file: each day's successes, gross, fees and refunds as worked out by hand;
    payouts, transfers, Stripe's fees and the adjustment change nothing; no failed-attempt counts."""
    activity = _activity()
    client = _client()
    doc = _ingest(_write(tmp_path / "balance.csv", _dashboard_rows(activity)), client)
    assert doc["rejected"] == []
    assert doc["orders_ingested"] == 18  # the charge and payment rows
    got, ref = _metrics(client), _hand(activity)
    for metric, days in ref.items():
        assert got[metric] == days, metric
    assert "stripe_payments" not in got and "stripe_failed_payments" not in got  # missing, never zero
    assert sum(Decimal(v) for v in got["stripe_gross"].values()) == sum(
        t["amount"] for t in activity if t["type"] in ("charge", "payment") and t["source"] != "py_1"
    ) - Decimal("44.00")


def test_the_same_activity_as_report_and_as_dashboard_export_reads_the_same(chimera_home: Path,
                                                                          tmp_path: Path) -> None:
    activity = _activity()
    report, dashboard = _client(), _client()
    _ingest(_write(tmp_path / "report.csv", _report_rows(activity)), report)
    _ingest(_write(tmp_path / "dashboard.csv", _dashboard_rows(activity)), dashboard)
    assert _metrics(dashboard) == _metrics(report)


def test_payouts_and_transfers_alone_are_no_revenue(chimera_home: Path, tmp_path: Path) -> None:
    """A day of only payouts, transfers and fees: no sale, no refund (zero, as the balance report)."""
    only = [t for t in _activity() if t["type"] in ("payout", "transfer", "stripe_fee")]
    client = _client()
    _ingest(_write(tmp_path / "b.csv", _dashboard_rows(only)), client)
    got = _metrics(client)
    assert got["stripe_gross"] and {Decimal(v) for v in got["stripe_gross"].values()} == {0}
    assert {Decimal(v) for v in got["stripe_refunded"].values()} == {0}
    assert {Decimal(v) for v in got["stripe_fees"].values()} == {0}


def test_a_reporting_category_column_wins_and_type_fills_its_gaps(chimera_home: Path, tmp_path: Path) -> None:
    """An export given a Reporting Category column: a row's category is that, and the Type only where
    it is empty (a failed refund is type adjustment; its category says refund_failure)."""
    rows = [[*DASHBOARD, "Reporting Category"],
            ["txn_1", "charge", "ch_1", "40.00", "1.46", "38.54", "usd", "2026-05-04 10:00", "", "", "", "", "", "",
             ""],
            ["txn_2", "payment", "py_1", "20.00", "0.30", "19.70", "usd", "2026-05-04 11:00", "", "", "", "", "", "",
             "charge"],
            ["txn_3", "refund", "re_1", "-10.00", "0.00", "-10.00", "usd", "2026-05-04 12:00", "", "", "", "", "", "",
             "refund"],
            ["txn_4", "adjustment", "re_1", "10.00", "0.00", "10.00", "usd", "2026-05-04 13:00", "", "", "", "", "", "",
             "refund_failure"],
            ["txn_5", "adjustment", "dp_1", "-40.00", "15.00", "-55.00", "usd", "2026-05-04 14:00", "", "", "", "", "",
             "", "dispute"]]
    client = _client()
    assert _ingest(_write(tmp_path / "b.csv", rows), client)["rejected"] == []
    got = _metrics(client)
    assert got["stripe_gross"] == {"2026-05-04": "60.00"}
    assert got["stripe_succeeded_payments"] == {"2026-05-04": "2"}
    assert got["stripe_fees"] == {"2026-05-04": "1.76"}
    assert got["stripe_refunded"] == {"2026-05-04": "0.00"}  # the refund and its failure cancel


def test_a_row_without_a_type_is_rejected_naming_the_column(chimera_home: Path, tmp_path: Path) -> None:
    rows = _dashboard_rows(_activity()[:5])
    rows[3][1] = ""
    client = _client()
    doc = _ingest(_write(tmp_path / "b.csv", rows), client)
    assert [(r["line"], r["column"], r["order"]) for r in doc["rejected"]] == [(4, "Type", rows[3][0])]
    assert "missing" in doc["rejected"][0]["reason"]


def test_spreadsheet_dates_and_a_repeated_header_read_as_the_export(chimera_home: Path, tmp_path: Path) -> None:
    """The export re-saved by Excel (US dates, 12-hour clock) and two exports pasted with their headers:
    the same metrics as the plain export."""
    activity = _activity()
    plain, resaved = _client(), _client()
    _ingest(_write(tmp_path / "plain.csv", _dashboard_rows(activity)), plain)
    rows = _dashboard_rows(activity[:12], "%m/%d/%Y %I:%M %p") + _dashboard_rows(activity[10:], "%m/%d/%Y %I:%M %p")
    assert _ingest(_write(tmp_path / "resaved.csv", rows), resaved)["rejected"] == []
    assert _metrics(resaved) == _metrics(plain)


def test_a_zoned_exports_since_until_are_its_own_days(chimera_home: Path, tmp_path: Path) -> None:
    """`--since`/`--until` of a balance export in New York time are New York days, as for the
    payments export: a range starting after the export's first local day is refused naming it,
    and nothing is stored (read as UTC days, it was neither checked nor said)."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    activity = [{**t, "moment": t["moment"].astimezone(ny)} for t in _activity()]
    rows = _dashboard_rows(activity)
    rows[0] = [c.replace("(UTC)", "(America/New_York)") for c in rows[0]]
    client = _client()
    path = _write(tmp_path / "b.csv", rows)
    err = _ingest(path, client, "--since", "2026-05-04", "--until", "2026-05-09", code=1)["error"]
    assert "2026-05-03 (America/New_York), before --since" in err
    assert _metrics(client) == {}
    doc = _ingest(path, client, "--since", "2026-05-03", "--until", "2026-05-09")
    assert (doc["first_day"], doc["last_day"]) == ("2026-05-04", "2026-05-09")
