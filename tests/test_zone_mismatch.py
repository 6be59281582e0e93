"""A Shopify export whose offsets are not client.yml's timezone's: the ingest warns, naming both
and the IANA zones that fit (``chimera.ingest.zone_check``), from a sample of the file's first and
last records only; what is written does not change."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.ingest import IngestSummary
from chimera.ingest.detect import read_header
from chimera.ingest.zone_check import (
    SAMPLE_ROWS,
    TAIL_BYTES,
    candidate_zones,
    export_sample,
    file_warnings,
    order_warnings,
    timestamp_warnings,
)

_register()
runner = CliRunner()
_names = itertools.count()
HEADER = ["Name", "Email", "Created at", "Currency", "Subtotal", "Total", "Lineitem quantity", "Lineitem price",
          "Notes"]
SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")


def _stamps(zone: ZoneInfo, start: datetime, n: int, step: timedelta = timedelta(hours=5)) -> list[str]:
    return [(start + i * step).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z") for i in range(n)]


def _rows(stamps: list[str], currency: str = "AUD") -> list[list[str]]:
    """One line item per order, each with a note over two lines (a record is not a line)."""
    return [[f"#{1000 + i}", f"b{i % 7}@example.com", at, currency, "20.00", "22.00", "1", "20.00",
             "ring twice,\nthanks"] for i, at in enumerate(stamps)]


def _write(path: Path, rows: list[list[str]], sep: str = ",", first: str = "", encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    buf.write(first)
    csv.writer(buf, delimiter=sep, lineterminator="\r\n").writerows([HEADER, *rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _client(extra: str = "") -> str:
    name = f"zone{next(_names)}"
    client = add_client(name)
    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text("utf-8") + extra, "utf-8")
    return name


def _ingest(path: Path, client: str) -> tuple[dict, str]:
    result = runner.invoke(app, ["ingest", str(path), "--client", client, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), " ".join(result.stderr.split())


def test_a_sydney_export_under_the_default_utc_warns_on_stderr_and_in_the_json(chimera_home: Path,
                                                                                 tmp_path: Path) -> None:
    stamps = _stamps(SYDNEY, datetime(2026, 3, 30, tzinfo=UTC), 60)  # across 5 April's change, +1100 -> +1000
    path = _write(tmp_path / "orders_export.csv", _rows(stamps))
    summary, stderr = _ingest(path, _client())
    (warning,) = summary["warnings"]
    assert warning.startswith("the export's times are at +1100/+1000, but client.yml's timezone UTC is +0000 then")
    assert "set `timezone:` in client.yml" in warning and "e.g. Australia/Sydney" in warning
    assert f"warning: {warning}" in stderr
    assert summary["orders_ingested"] == 60 and summary["rejected"] == []  # written all the same


def test_a_store_whose_zone_is_set_gets_no_warning_key(chimera_home: Path, tmp_path: Path) -> None:
    stamps = _stamps(NEW_YORK, datetime(2026, 3, 1, tzinfo=UTC), 80)  # -0500 then -0400 (8 March)
    path = _write(tmp_path / "orders_export.csv", _rows(stamps, "USD"))
    summary, stderr = _ingest(path, _client("timezone: America/New_York\n"))
    assert "warnings" not in summary and "warning" not in stderr
    assert summary["orders_ingested"] == 80


def test_the_warning_names_both_clocks_offsets_in_the_order_they_come() -> None:
    stamps = _stamps(NEW_YORK, datetime(2026, 3, 1, tzinfo=UTC), 200)  # to 12 April: past both DST starts
    (warning,) = timestamp_warnings("Europe/Berlin", stamps, "USD")
    assert "times are at -0500/-0400, but client.yml's timezone Europe/Berlin is +0100/+0200 then" in warning
    assert "e.g. America/New_York, " in warning


def test_the_shops_currency_puts_its_countrys_zones_first() -> None:
    """Toronto and New York keep the same offsets: CAD names Toronto first, USD New York."""
    times = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z")
             for s in _stamps(NEW_YORK, datetime(2026, 1, 1, tzinfo=UTC), 700, timedelta(hours=13))]
    assert candidate_zones(times, "CAD")[0] == "America/Toronto"
    assert candidate_zones(times, "USD")[0] == "America/New_York"


def test_a_zone_with_daylight_saving_between_the_samples_ends_is_no_candidate() -> None:
    """+0000 in January and in December: London is +0100 between, so only zones at +0000 all year fit."""
    times = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(0, 365, 5)]
    names = candidate_zones(times, "GBP")
    assert names[0] == "UTC" and "Europe/London" not in names


def test_candidate_zones_are_canonical_and_at_most_three() -> None:
    times = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z")
             for s in _stamps(SYDNEY, datetime(2026, 3, 30, tzinfo=UTC), 60)]
    names = candidate_zones(times)
    assert names[0] == "Australia/Sydney" and 1 <= len(names) <= 3
    assert all(n.count("/") == 1 and n.split("/")[1][0].isupper() for n in names)  # no Australia/NSW, no Etc/
    assert all(at.astimezone(ZoneInfo(n)).utcoffset() == at.utcoffset() for n in names for at in times)


def test_an_export_at_utc_under_a_zone_of_its_own_suggests_utc() -> None:
    (warning,) = timestamp_warnings("Australia/Sydney", _stamps(ZoneInfo("UTC"), datetime(2026, 5, 1, tzinfo=UTC), 20))
    assert "times are at +0000, but client.yml's timezone Australia/Sydney is +1000 then" in warning
    assert "e.g. UTC, " in warning


def test_an_offset_no_zone_has_is_still_named_without_a_suggestion() -> None:
    (warning,) = timestamp_warnings("UTC", ["2026-05-01 10:00:00 +0537", "2026-05-02 10:00:00 +0537"])
    assert "times are at +0537" in warning and "e.g." not in warning
    assert warning.endswith("(an IANA name with those offsets)")


def test_a_few_orders_at_another_offset_do_not_warn() -> None:
    """Most of the sample decides: a store that moved its zone, or a few hand-edited rows, is no mismatch."""
    agree = _stamps(SYDNEY, datetime(2026, 6, 1, tzinfo=UTC), 20)
    assert timestamp_warnings("Australia/Sydney", agree + _stamps(NEW_YORK, datetime(2026, 6, 1, tzinfo=UTC), 19)) == []
    assert timestamp_warnings("Australia/Sydney", agree + _stamps(NEW_YORK, datetime(2026, 6, 1, tzinfo=UTC), 21))


def test_cells_that_are_no_timestamp_are_skipped_not_raised() -> None:
    """The parser rejects such rows, naming their line; the check never fails an ingest."""
    bad = ["2026-02-30 10:00:00 +1100", "", "yesterday", None, 1714557600]
    assert timestamp_warnings("UTC", bad) == []
    assert timestamp_warnings("UTC", [*bad, "2026-05-01 10:00:00 +1000"])


def test_an_api_pull_is_checked_from_its_orders_created_at() -> None:
    orders = [{"name": f"#{i}", "currency": "AUD", "created_at": at.replace(" +1000", "+10:00").replace(" ", "T")}
              for i, at in enumerate(_stamps(SYDNEY, datetime(2026, 6, 1, tzinfo=UTC), 5))]
    (warning,) = order_warnings("UTC", orders)
    assert "times are at +1000" in warning and "e.g. Australia/" in warning  # AUD: the zones of Australia first
    assert order_warnings("Australia/Brisbane", orders) == []


@pytest.mark.parametrize(("sep", "first", "encoding"), [
    (",", "", "utf-8"), (";", "sep=;\r\n", "utf-8"), ("\t", "", "utf-16"), (",", "", "cp1252")])
def test_a_large_export_is_sampled_at_both_ends_only(tmp_path: Path, sep: str, first: str, encoding: str) -> None:
    """The first and last SAMPLE_ROWS records, the last read from the file's end (records over two
    lines: the tail is read from a record's start); rows between them are never read."""
    n = TAIL_BYTES // 40  # records of ~80 bytes: the file is several tails long
    stamps = _stamps(SYDNEY, datetime(2026, 1, 1, tzinfo=UTC), n, timedelta(minutes=7))
    middle = _stamps(NEW_YORK, datetime(2026, 1, 1, tzinfo=UTC), n, timedelta(minutes=7))
    cut = [*stamps[:SAMPLE_ROWS], *middle[SAMPLE_ROWS:-SAMPLE_ROWS], *stamps[-SAMPLE_ROWS:]]
    path = _write(tmp_path / "orders_export.csv", _rows(cut), sep, first, encoding)
    assert path.stat().st_size > 2 * TAIL_BYTES
    header = read_header(path)
    assert export_sample(path, header) == ([*stamps[:SAMPLE_ROWS], *stamps[-SAMPLE_ROWS:]], "AUD")
    assert file_warnings("Australia/Sydney", path, header) == []
    assert file_warnings("America/New_York", path, header)


def test_the_summary_carries_warnings_only_when_there_are_some() -> None:
    summary = IngestSummary(source="shopify_orders", rows_read=1, orders_ingested=1, rejected=[], first_day=None,
                            last_day=None, metrics_written=0)
    assert "warnings" not in summary.contract()
    summary.warnings = ["the export's times are at +1100"]
    assert summary.contract()["warnings"] == ["the export's times are at +1100"]


def test_the_text_view_prints_the_warning_on_stderr_only(chimera_home: Path, tmp_path: Path) -> None:
    stamps = _stamps(NEW_YORK, datetime(2026, 6, 1, tzinfo=UTC), 30)
    path = _write(tmp_path / "orders_export.csv", _rows(stamps, "USD"))
    result = runner.invoke(app, ["ingest", str(path), "--client", _client()])
    assert result.exit_code == 0, result.output
    assert "30 ingested" in result.stdout and "warning" not in result.stdout
    assert "warning: the export's times are at -0400" in " ".join(result.stderr.split())
