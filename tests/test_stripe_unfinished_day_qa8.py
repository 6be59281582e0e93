"""Stripe's UTC day still going on when its export is read (a store east of UTC exports after its
own midnight, while that UTC day runs on) holds only the payments made until then: DATA.md counts
Stripe per UTC day, and a day the file holds only part of is never written as if whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.connectors import stripe_api
from chimera.connectors.common import clip
from chimera.ingest import stripe

_register()
runner = CliRunner()
HEADER = "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"
NOW = datetime(2026, 11, 3, 0, 30, tzinfo=UTC)  # 01:30 in Berlin: the store's 2 Nov is over, UTC's 3 Nov is not


def _run(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(stripe, "_now", lambda: NOW)
    return NOW


def test_the_utc_day_still_going_on_is_left_out_not_written_whole(chimera_home: Path, tmp_path: Path,
                                                                  clock: datetime) -> None:
    add_client("east")
    path = tmp_path / "payments.csv"
    path.write_text(HEADER + "ch_1,2026-11-02 09:00:00,40.00,0.00,usd,true,1.46,Paid\n"
                    "ch_2,2026-11-02 23:10:00,60.00,0.00,usd,true,2.04,Paid\n"
                    "ch_3,2026-11-03 00:05:00,25.00,0.00,usd,true,1.03,Paid\n", encoding="utf-8")
    doc = _run(["ingest", str(path), "--client", "east", "--json"])
    assert [d["day"] for d in doc["left_out"]] == ["2026-11-03"]
    assert "not over" in doc["left_out"][0]["reason"] and "00:30 UTC" in doc["left_out"][0]["reason"]
    metrics = _run(["metrics", "--client", "east", "--json"])["metrics"]
    assert metrics["stripe_gross"] == {"2026-11-02": "100.00"}
    assert metrics["stripe_payments"] == {"2026-11-02": 2}


def test_a_day_after_the_clock_is_kept(chimera_home: Path, tmp_path: Path, clock: datetime) -> None:
    """Only the day the file is read on can be going on: later dates (a generated store, a clock behind) stay."""
    add_client("ahead")
    path = tmp_path / "payments.csv"
    path.write_text(HEADER + "ch_1,2026-11-04 09:00:00,40.00,0.00,usd,true,1.46,Paid\n", encoding="utf-8")
    doc = _run(["ingest", str(path), "--client", "ahead", "--json"])
    assert "left_out" not in doc
    assert _run(["metrics", "--client", "ahead", "--json"])["metrics"]["stripe_gross"] == {"2026-11-04": "40.00"}


def test_a_pull_leaves_the_utc_day_going_on_out_and_writes_no_zero_for_it(clock: datetime) -> None:
    charge = {"id": "ch_1", "created": int((NOW - timedelta(minutes=20)).timestamp()), "amount": 2500,
              "currency": "usd", "status": "succeeded", "captured": True, "amount_refunded": 0,
              "balance_transaction": {"fee": 103, "currency": "usd", "amount": 2500}}
    agg = stripe.aggregate_stripe(stripe_api.charges_frame([charge]), lambda rows: {})
    assert list(agg.left_out) == [NOW.date()] and agg.days == {}
    days = clip(agg, NOW.date() - timedelta(days=2), NOW.date(), today=NOW.date()).days
    assert sorted(days) == [NOW.date() - timedelta(days=2), NOW.date() - timedelta(days=1)]  # no 0 for 3 Nov


def test_a_balance_report_reaching_the_utc_day_going_on_leaves_it_out_and_is_no_cut_file(
        chimera_home: Path, tmp_path: Path, clock: datetime) -> None:
    """Not a download cut mid-row: --since is accepted and the day is left out for what it is."""
    add_client("bal")
    path = tmp_path / "balance.csv"
    path.write_text("balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
                    "txn_1,2026-11-02 09:00:00,usd,40.00,1.46,38.54,charge\n"
                    "txn_2,2026-11-03 00:05:00,usd,25.00,1.03,23.97,charge\n", encoding="utf-8")
    doc = _run(["ingest", str(path), "--client", "bal", "--since", "2026-11-02", "--json"])
    assert [(d["day"], "not over" in d["reason"]) for d in doc["left_out"]] == [("2026-11-03", True)]
    assert _run(["metrics", "--client", "bal", "--json"])["metrics"]["stripe_gross"] == {"2026-11-02": "40.00"}
