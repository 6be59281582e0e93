"""Stripe exports QA: impossible refunds are rejected like any malformed row; the Dashboard balance export
in a time zone of its own is read on UTC days, as the payments export is."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.ingest import ingest_file
from chimera.metrics import load_series
from tests.test_stripe_dashboard_balance import _activity, _client, _dashboard_rows, _hand
from tests.test_stripe_edges_qa6 import _ingest, _metrics, _write


def _series(client) -> dict:
    with session_scope() as s:
        return load_series(s, client.company_id)


@pytest.mark.parametrize(("sep", "amount", "refunded", "ok"), [
    (",", "25.00", "30.00", "10.00"),
    (";", "25,00", "30,00", "10,00"),  # a European export: decimal commas, compared as numbers
    (",", "9.50", "10.00", "9.50"),  # 10.00 > 9.50 although "10.00" < "9.50" as text
])
def test_amount_refunded_above_amount_is_rejected_at_its_line(chimera_home: Path, tmp_path: Path, sep: str,
                                                              amount: str, refunded: str, ok: str) -> None:
    rows = [["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured", "Fee", "Status"],
            ["ch_1", "2026-05-01 03:48:05", "40.00" if sep == "," else "40,00", ok, "usd", "true", "0", "Paid"],
            ["ch_2", "2026-05-01 05:00:00", amount, refunded, "usd", "true", "0", "Refunded"],
            ["ch_3", "2026-05-02 05:00:00", amount, amount, "usd", "true", "0", "Refunded"]]  # a full refund: fine
    path = tmp_path / "payments.csv"
    path.write_text("".join(sep.join(r) + "\n" for r in rows), encoding="utf-8")
    client = add_client("c")
    summary = ingest_file(client, path)
    assert [(r.line, r.column, r.value, r.order) for r in summary.rejected] == [(3, "Amount Refunded", refunded,
                                                                                "ch_2")]
    assert "more than" in summary.rejected[0].reason and amount in summary.rejected[0].reason
    series = _series(client)
    assert series["stripe_payments"] == {date(2026, 5, 1): 1, date(2026, 5, 2): 1}  # ch_2 not counted
    assert series["stripe_refunded"][date(2026, 5, 1)] == Decimal(ok.replace(",", "."))


# --------------------------------------------------------------------------- Dashboard balance export, zoned


def _zoned_rows(activity: list[dict], zone: str, tz) -> list[list[str]]:
    """The Dashboard balance export of ``activity`` with its times in ``zone`` (naive, as written there)."""
    local = [{**t, "moment": t["moment"].astimezone(tz)} for t in activity]
    rows = _dashboard_rows(local)
    rows[0] = [c.replace("(UTC)", f"({zone})") for c in rows[0]]
    return rows


@pytest.mark.parametrize(("zone", "tz", "partial"), [
    ("America/New_York", ZoneInfo("America/New_York"), []),  # its local days cover the UTC days held whole
    ("UTC+2", timezone(timedelta(hours=2)), ["2026-05-09"]),  # 9 May local ends at 22:00 UTC
    ("Asia/Kolkata", ZoneInfo("Asia/Kolkata"), ["2026-05-09"]),
])
def test_a_zoned_dashboard_balance_export_is_read_on_utc_days(chimera_home: Path, tmp_path: Path, zone: str, tz,
                                                              partial: list[str]) -> None:
    """`Created (<zone>)`: each transaction on its moment's UTC day; the UTC days the export's local
    days hold only some hours of are left out saying why (what is stored stays), as for payments."""

    activity = _activity()
    client = _client()
    doc = _ingest(_write(tmp_path / "b.csv", _zoned_rows(activity, zone, tz)), client)
    assert doc["rejected"] == []
    assert [d["day"] for d in doc.get("left_out", [])] == partial
    assert all(zone in d["reason"] for d in doc.get("left_out", []))
    hand = {m: {d: v for d, v in days.items() if d not in partial} for m, days in _hand(activity).items()}
    got = _metrics(client)
    assert {m: got[m] for m in hand} == hand
    assert "stripe_payments" not in got  # a balance export lists no failed attempts


def test_balance_export_times_with_offsets_are_on_their_moments_utc_day(chimera_home: Path, tmp_path: Path) -> None:
    """`2026-05-04T01:30:00+02:00` in `Created (UTC)` (a re-saved file) is 3 May 23:30 UTC; and a zoned column's
    value that says its offset is read by it, not by the header's zone."""

    activity = _activity()
    plain, offsets, zoned = _client(), _client(), _client()
    _ingest(_write(tmp_path / "plain.csv", _dashboard_rows(activity)), plain)
    shifted = [{**t, "moment": t["moment"].astimezone(timezone(timedelta(hours=2 - i % 5)))}
               for i, t in enumerate(activity)]
    doc = _ingest(_write(tmp_path / "offsets.csv", _dashboard_rows(shifted, "%Y-%m-%dT%H:%M:%S%z")), offsets)
    assert doc["rejected"] == [] and "left_out" not in doc
    assert _metrics(offsets) == _metrics(plain)
    rows = _dashboard_rows(shifted, "%Y-%m-%dT%H:%M:%S%z")
    rows[0] = [c.replace("(UTC)", "(UTC+2)") for c in rows[0]]
    doc = _ingest(_write(tmp_path / "zoned.csv", rows), zoned)
    assert doc["rejected"] == []
    whole = {m: {d: v for d, v in days.items() if d not in {x["day"] for x in doc.get("left_out", [])}}
             for m, days in _metrics(plain).items()}
    assert _metrics(zoned) == whole


def test_a_dashboard_export_with_utc_and_zoned_columns_reads_the_utc_one(chimera_home: Path, tmp_path: Path
                                                                         ) -> None:

    activity = _activity()
    plain, both = _client(), _client()
    _ingest(_write(tmp_path / "plain.csv", _dashboard_rows(activity)), plain)
    rows = _dashboard_rows(activity)
    ny = ZoneInfo("America/New_York")
    rows = [[*r, "Created (America/New_York)" if i == 0 else activity[i - 1]["moment"].astimezone(ny).strftime(
        "%Y-%m-%d %H:%M")] for i, r in enumerate(rows)]
    assert _ingest(_write(tmp_path / "both.csv", rows), both)["rejected"] == []
    assert _metrics(both) == _metrics(plain)


def test_a_dashboard_export_in_an_unknown_zone_is_refused_naming_the_column(chimera_home: Path, tmp_path: Path
                                                                            ) -> None:

    rows = _zoned_rows(_activity()[:3], "Mars/Olympus", UTC)
    doc = _ingest(_write(tmp_path / "b.csv", rows), _client(), code=1)
    assert "column 'Created (Mars/Olympus)'" in doc["error"] and "line 1" in doc["error"] and "b.csv" in doc["error"]


def test_a_zoned_dashboard_export_rejects_a_time_the_clocks_skipped(chimera_home: Path, tmp_path: Path) -> None:
    """02:30 on 8 March 2026 never happened in New York: that row is rejected at its line, the rest read."""

    activity = [{**t, "moment": t["moment"] - timedelta(days=57)} for t in _activity()[:4]]
    rows = _zoned_rows(activity, "America/New_York", ZoneInfo("America/New_York"))
    rows[2][7] = "2026-03-08 02:30"
    doc = _ingest(_write(tmp_path / "b.csv", rows), _client())
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [
        (3, "Created (America/New_York)", "2026-03-08 02:30")]
    assert "does not exist" in doc["rejected"][0]["reason"]


ZONES = ["America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Adelaide",
         "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC+2", "UTC-03:30"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(ZONES), shift=st.integers(-24 * 40, 24 * 200))
def test_generated_zoned_balance_exports_give_the_utc_exports_whole_days(chimera_home: Path, tmp_path: Path,
                                                                         zone: str, shift: int) -> None:
    """Any zone, any season (daylight saving moves the window): the UTC days a zoned export holds whole
    have the UTC export's figures; the others are left out, never written short."""
    activity = [{**t, "moment": t["moment"] + timedelta(hours=shift)} for t in _activity()]
    fixed = re.fullmatch(r"UTC([+-])(\d\d?)(?::(\d\d))?", zone)
    tz = timezone((-1 if fixed.group(1) == "-" else 1) * timedelta(hours=int(fixed.group(2)),
                                                                   minutes=int(fixed.group(3) or 0))) \
        if fixed else ZoneInfo(zone)
    plain, zoned = _client(), _client()
    _ingest(_write(tmp_path / f"p{shift}.csv", _dashboard_rows(activity)), plain)
    doc = _ingest(_write(tmp_path / f"z{shift}.csv", _zoned_rows(activity, zone, tz)), zoned)
    left = {d["day"] for d in doc.get("left_out", [])}
    assert doc["rejected"] == []  # a time written from a real moment is never one the clocks skipped
    got, want = _metrics(zoned), _metrics(plain)
    written = {d for days in got.values() for d in days}
    held = {d for days in want.values() for d in days}
    assert not written & left and written | left == held and len(left) <= 2  # at most its first and last
    assert got == {m: {d: v for d, v in days.items() if d in written} for m, days in want.items()}
