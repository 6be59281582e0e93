"""ISO dates with 12-hour times (`2026-03-05 1:07:33 PM`), as a US-locale spreadsheet re-saves an
export's timestamps, in Stripe, analytics and Fiverr files: read as the moments they are (DATA.md:
Stripe's day is the UTC day of Created; analytics and Fiverr count calendar days)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.ingest.parsing import parse_ga_date, parse_stripe_datetime

_register()
runner = CliRunner()
HEADER = "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status\n"


def _ingest(path: Path, client: str) -> dict:
    result = runner.invoke(app, ["ingest", str(path), "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _metrics(client: str) -> dict:
    result = runner.invoke(app, ["metrics", "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["metrics"]


def test_scalar_parsers_read_twelve_hour_iso_times() -> None:
    from datetime import date, datetime

    assert parse_stripe_datetime("2026-03-05 1:07:33 PM") == datetime(2026, 3, 5, 13, 7, 33)
    assert parse_stripe_datetime("2026-03-05 12:30:00 AM") == datetime(2026, 3, 5, 0, 30)
    assert parse_stripe_datetime("2026-03-05 12:10 p.m.") == datetime(2026, 3, 5, 12, 10)
    assert parse_ga_date("2026-03-05 12:00:00 AM") == date(2026, 3, 5)


def test_stripe_twelve_hour_times_fall_on_their_utc_days(chimera_home: Path, tmp_path: Path) -> None:
    add_client("s12")
    path = tmp_path / "payments.csv"
    path.write_text(HEADER + "ch_1,2026-03-05 1:07:33 PM,10.00,0.00,usd,true,0.59,Paid\n"
                    "ch_2,2026-03-05 11:59:00 PM,20.00,0.00,usd,true,0.88,Paid\n"
                    "ch_3,2026-03-06 12:30:00 AM,30.00,0.00,usd,true,1.17,Paid\n", encoding="utf-8")
    doc = _ingest(path, "s12")
    assert doc["rejected"] == []
    series = _metrics("s12")
    assert series["stripe_gross"] == {"2026-03-05": "30.00", "2026-03-06": "30.00"}
    assert series["stripe_fees"] == {"2026-03-05": "1.47", "2026-03-06": "1.17"}


def test_zoned_stripe_export_with_twelve_hour_times_moves_to_utc(chimera_home: Path, tmp_path: Path) -> None:
    """`11:30 PM` in New York (UTC-5 in March before DST) is 04:30 UTC the next day."""
    add_client("z12")
    path = tmp_path / "payments.csv"
    rows = [f"ch_{d}{k},2026-03-0{d} {h},10.00,0.00,usd,true,0.50,Paid"
            for d in (2, 3, 4) for k, h in enumerate(("2:00 AM", "11:30 PM"))]
    path.write_text(HEADER.replace("(UTC)", "(America/New_York)") + "\n".join(rows) + "\n", encoding="utf-8")
    _ingest(path, "z12")
    # whole UTC days: 3 March (02:00 NY 3 Mar = 07:00 UTC; 23:30 NY 2 Mar = 04:30 UTC 3 Mar) and 4 March
    assert _metrics("z12")["stripe_gross"] == {"2026-03-03": "20.00", "2026-03-04": "20.00"}


def test_analytics_dates_saved_as_twelve_hour_midnight_read_as_days(chimera_home: Path, tmp_path: Path) -> None:
    add_client("a12")
    path = tmp_path / "analytics.csv"
    path.write_text("date,sessions,users,transactions,revenue\n2026-03-05 12:00:00 AM,100,80,2,20.00\n"
                    "2026-03-06 12:00 AM,110,85,3,30.00\n", encoding="utf-8")
    assert _ingest(path, "a12")["rejected"] == []
    assert _metrics("a12")["sessions"] == {"2026-03-05": 100, "2026-03-06": 110}


def test_analytics_date_with_a_time_other_than_midnight_is_refused_by_line(chimera_home: Path,
                                                                           tmp_path: Path) -> None:
    """A date-time that is not a day's start is no analytics day: refused, naming line, column, value."""
    add_client("a13")
    path = tmp_path / "analytics.csv"
    path.write_text("date,sessions\n2026-03-05 12:00:00 AM,100\n2026-03-06 1:07:33 PM,110\n", encoding="utf-8")
    doc = _ingest(path, "a13")
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [(3, "date", "2026-03-06 1:07:33 PM")]
