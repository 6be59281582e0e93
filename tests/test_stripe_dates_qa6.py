"""QA6: Stripe payment dates as a spreadsheet re-saves them, read as the export wrote them.

Excel in a US locale writes `3/1/26 17:13` (2-digit year) or `03/01/2026 05:13 PM` (12-hour clock);
a European one `01.03.26 17:13`. Each layout must read back to the moment it was written from, in the
scalar parser and in the vectorized one (a naive time in a zone other than UTC: the UTC day depends on
the hour, so the 12-hour conversion is checked there too), and a whole file of them must be read the
way it was written (day-first or month-first per file). A 2-digit year is 20YY; one that 20YY puts
years ahead is refused as a typo, never read silently wrong.
"""

from __future__ import annotations

import csv
import itertools
import json
from datetime import UTC, date, datetime, timedelta
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
from chimera.ingest.parsing import ParseError, parse_stripe_datetime, stripe_day
from chimera.ingest.stripe import detect_locale

_register()
runner = CliRunner()
_names = itertools.count()


def _twelve(moment: datetime, pad: bool, seconds: bool, mark: str) -> str:
    """`05:13 PM` / `5:13:09 pm` / `5:13 p.m.`, written by hand (strftime's %p is locale-dependent)."""
    hour = moment.hour % 12 or 12
    am = moment.hour < 12
    meridiem = {"AM": ("AM", "PM"), "am": ("am", "pm"), "a.m.": ("a.m.", "p.m.")}[mark][0 if am else 1]
    clock = f"{hour:02d}" if pad else str(hour)
    return f"{clock}:{moment.minute:02d}{f':{moment.second:02d}' if seconds else ''} {meridiem}"


def _date(moment: datetime, day_first: bool, sep: str, two_digit: bool, pad: bool) -> str:
    year = f"{moment.year % 100:02d}" if two_digit else str(moment.year)
    first, second = (moment.day, moment.month) if day_first else (moment.month, moment.day)
    fmt = "{:02d}" if pad else "{}"
    return sep.join([fmt.format(first), fmt.format(second), year])


layouts = st.fixed_dictionaries({
    "day_first": st.booleans(), "sep": st.sampled_from(["/", "."]), "two_digit": st.booleans(),
    "pad": st.booleans(), "twelve": st.booleans(), "seconds": st.booleans(),
    "mark": st.sampled_from(["AM", "am", "a.m."]),
})
# 2-digit years are 20YY: the moments a file can hold in them
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda m: m.replace(microsecond=0))
ZONES = ["UTC", "America/New_York", "UTC+5:30", "Asia/Tokyo"]


def _written(moment: datetime, lay: dict) -> str:
    day = _date(moment, lay["day_first"], lay["sep"], lay["two_digit"], lay["pad"])
    if lay["twelve"]:
        return f"{day} {_twelve(moment, lay['pad'], lay['seconds'], lay['mark'])}"
    return f"{day} {moment:%H:%M}{f':{moment.second:02d}' if lay['seconds'] else ''}"


@settings(max_examples=300)
@given(moment=moments, lay=layouts, zone=st.sampled_from(ZONES))
def test_a_date_in_each_accepted_layout_reads_back_to_its_moment(moment: datetime, lay: dict, zone: str) -> None:
    """Scalar: the same datetime (seconds when written). Vectorized: the moment's UTC day once the
    naive time is put in ``zone``; a day off means the hour was read wrong (12 AM, 12 PM, PM)."""
    text = _written(moment, lay)
    expected = moment if lay["seconds"] else moment.replace(second=0)
    assert parse_stripe_datetime(text, day_first=lay["day_first"]) == expected, text
    tz = UTC if zone == "UTC" else ZoneInfo(zone) if "/" in zone else None
    if tz is None:  # a fixed offset, by hand
        utc_day = (expected - timedelta(hours=5, minutes=30)).date()
    else:
        local = expected.replace(tzinfo=tz)
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != expected:
            return  # a time the clocks skip (DST): no such moment in ``zone``
        utc_day = local.astimezone(UTC).date()
    got = pl.DataFrame({"c": [text]}).select(stripe_day(pl.col("c"), lay["day_first"], zone)).item()
    assert got == utc_day, (text, zone)


@given(moment=moments, twelve=st.booleans())
def test_a_12_hour_time_is_the_24_hour_one(moment: datetime, twelve: bool) -> None:
    """`5:13 PM` and `17:13` are one moment, on either clock, in either date order."""
    lay = {"day_first": False, "sep": "/", "two_digit": True, "pad": False, "twelve": twelve, "seconds": True,
           "mark": "AM"}
    text = _written(moment, lay)
    assert parse_stripe_datetime(text) == parse_stripe_datetime(moment.strftime("%Y-%m-%d %H:%M:%S"))


@pytest.mark.parametrize("bad", ["3/1/2026 13:05 PM", "3/1/2026 0:05 AM", "3/1/2026 5:61 PM", "3/1/2026 5:13 XM",
                                 "3/1/2026 24:00", "3/1/6 17:13", "3/1/202 17:13", "2026-03-01 17:75"])
def test_times_no_clock_shows_are_refused_by_both_parsers(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_stripe_datetime(bad)
    assert pl.DataFrame({"c": [bad]}).select(stripe_day(pl.col("c"), False)).item() is None


@settings(max_examples=120)
@given(start=st.dates(date(2011, 1, 1), date(2090, 11, 1)), days=st.integers(2, 20), lay=layouts)
def test_a_file_of_resaved_dates_is_read_the_way_it_was_written(start: date, days: int, lay: dict) -> None:
    """A run of consecutive days (also one whose every part is <= 12): the file's day order is
    found once, and every date reads back."""
    run = [datetime(d.year, d.month, d.day, 17, 13, 9) for d in (start + timedelta(days=i) for i in range(days))]
    df = pl.DataFrame({"created": [_written(m, lay) for m in run], "amount": ["12.50"] * days})
    _, day_first = detect_locale(df)
    parsed = df.select(stripe_day(pl.col("created"), day_first).alias("d"))["d"].to_list()
    assert parsed == [m.date() for m in run]


# --------------------------------------------------------------------------- through the CLI


def _client() -> str:
    name = f"q6d{next(_names)}"
    add_client(name)
    return name


def _ingest(path: Path, client: str, code: int = 0) -> dict:
    result = runner.invoke(app, ["ingest", str(path), "--client", client, "--json"])
    assert result.exit_code == code, result.stdout + str(result.stderr) + str(result.exception or "")
    return json.loads(result.stdout)


def _metrics(client: str) -> dict[str, dict[str, str]]:
    result = runner.invoke(app, ["metrics", "--client", client, "--json"])
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)["metrics"]
    return {m: {d: str(Decimal(str(v))) for d, v in days.items()} for m, days in doc.items()}


def _export(path: Path, charges: list[tuple[datetime, str, str]], write) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "Created date (UTC)", "Amount", "Currency", "Fee", "Status"])
        out.writerows([f"ch_{i}", write(m), amount, "usd", "0.59", status]
                      for i, (m, amount, status) in enumerate(charges))
    return path


def _charges() -> list[tuple[datetime, str, str]]:
    """Charges over 9 UTC days in the past, at hours both sides of noon (and at 00:xx and 12:xx)."""
    start = datetime(2025, 3, 1, 0, 5)
    hours = [0, 5, 11, 12, 13, 17, 23]
    return [(start + timedelta(days=i // 3, hours=hours[i % len(hours)], minutes=i), f"{10 + i}.25",
             "Failed" if i % 5 == 4 else "Paid") for i in range(27)]


@pytest.mark.parametrize("write", [
    lambda m: f"{m.month}/{m.day}/{m.year % 100:02d} {m:%H:%M}",  # Excel US short date, 24 h
    lambda m: f"{m:%m/%d/%Y} {_twelve(m, True, False, 'AM')}",  # `03/01/2025 05:13 PM`
    lambda m: f"{m.month}/{m.day}/{m.year} {_twelve(m, False, True, 'am')}",  # `3/1/2025 5:13:00 pm`
    lambda m: f"{m:%d.%m.%y %H:%M}",  # a European Excel save
], ids=["us-2-digit-year", "us-12h", "us-12h-lower", "eu-2-digit-year"])
def test_a_resaved_export_ingests_as_the_iso_one(chimera_home: Path, tmp_path: Path, write) -> None:
    """The same charges, exported as Stripe writes them and as a spreadsheet re-saved them: the
    same metrics on every day, nothing rejected."""
    charges = _charges()
    iso, resaved = _client(), _client()
    _ingest(_export(tmp_path / "iso.csv", charges, lambda m: m.strftime("%Y-%m-%d %H:%M:%S")), iso)
    doc = _ingest(_export(tmp_path / "resaved.csv", charges, write), resaved)
    assert doc["rejected"] == []
    assert _metrics(resaved) == _metrics(iso)
    assert len(_metrics(iso)["stripe_payments"]) == 9


def test_a_two_digit_year_is_never_read_silently_wrong(chimera_home: Path, tmp_path: Path) -> None:
    """`3/1/99` is 2099, not 1999: years past the file's other dates, so it is refused as a typo
    (line, column, value), and the rest is ingested."""
    charges = _charges()[:6]
    client = _client()
    path = _export(tmp_path / "p.csv", charges, lambda m: f"{m.month}/{m.day}/{m.year % 100:02d} {m:%H:%M}")
    lines = path.read_text().splitlines()
    lines.append("ch_typo,3/1/99 17:13,99.00,usd,0.59,Paid")
    path.write_text("\n".join(lines) + "\n")
    doc = _ingest(path, client)
    assert [(r["line"], r["column"], r["value"]) for r in doc["rejected"]] == [
        (8, "Created date (UTC)", "3/1/99 17:13")]
    assert "after today" in doc["rejected"][0]["reason"]
    assert doc["last_day"] < "2030-01-01"
