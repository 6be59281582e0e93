"""A Shopify export taken before the store's midnight holds its day only until then: that day is
left out (named, with why; what is stored stays), judged by the export's own offsets, as an API
pull's is and as Stripe's UTC day is (``zone_check.unfinished_day``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.ingest import ingest_file
from chimera.ingest.detect import read_header
from chimera.ingest.zone_check import read_sample, unfinished_day
from chimera.metrics import load_series
from tests.test_zone_mismatch import _rows, _write


def _stamps(zone, days: list[date], hour: int = 1) -> list[str]:
    return [datetime(d.year, d.month, d.day, hour, 30, tzinfo=zone).strftime("%Y-%m-%d %H:%M:%S %z") for d in days]


@pytest.mark.parametrize("zone", [ZoneInfo("America/Los_Angeles"), ZoneInfo("Australia/Sydney"), UTC])
def test_the_stores_day_going_on_is_left_out_and_what_is_stored_stays(chimera_home: Path, tmp_path: Path,
                                                                         zone) -> None:
    today = datetime.now(zone).date()
    days = [today - timedelta(days=k) for k in (3, 2, 1, 0)]
    client = add_client("shop")
    first = ingest_file(client, _write(tmp_path / "a.csv", _rows(_stamps(zone, days[:3]))))
    assert first.left_out == [] and first.last_day == days[2]
    summary = ingest_file(client, _write(tmp_path / "b.csv", _rows(_stamps(zone, days))))
    assert [d.day for d in summary.left_out] == [today]
    assert "not over" in summary.left_out[0].reason and "store time" in summary.left_out[0].reason
    assert summary.last_day == days[2]
    with session_scope() as s:
        orders = load_series(s, client.company_id)["orders"]
    assert today not in orders and orders[days[2]] == 1


def test_the_exports_offsets_decide_not_client_yml(tmp_path: Path) -> None:
    """Noon UTC: 04:00 in Los Angeles (-0800 in winter) is still the 10th there; client.yml at UTC would
    call the 10th over only at 00:00 UTC."""
    now = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    la = timezone(timedelta(hours=-8))
    path = _write(tmp_path / "la.csv", _rows(_stamps(la, [date(2026, 12, 9), date(2026, 12, 10)])))
    stamps = read_sample(path, read_header(path)).stamps
    both = {date(2026, 12, 9), date(2026, 12, 10)}
    assert list(unfinished_day(both, "UTC", stamps, now)) == [date(2026, 12, 10)]
    assert unfinished_day({date(2026, 12, 9)}, "UTC", stamps, now) == {}
    late = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)  # 01:00 on the 11th in LA: the 10th is over
    assert unfinished_day({date(2026, 12, 10)}, "UTC", stamps, late) == {}
    assert read_sample(tmp_path / "missing.csv", read_header(path)).stamps == []  # unreadable: no timestamps
    no_sample: list[str] = []  # no timestamps to read: client.yml's zone decides
    assert list(unfinished_day({date(2026, 12, 10)}, "UTC", no_sample, now)) == [date(2026, 12, 10)]
    assert unfinished_day({date(2026, 12, 10)}, "Pacific/Kiritimati", no_sample, now) == {}  # 02:00, 11th


@pytest.mark.parametrize(("given", "hint"), [("shopify", "shopify_orders"), ("Stripe", "stripe_payments"),
                                              ("analytics_dialy", "analytics_daily"), ("ga4", None)])
def test_a_misspelt_source_kind_gets_the_kind_it_was_near(chimera_home: Path, tmp_path: Path, given: str,
                                                           hint: str | None) -> None:
    from chimera.errors import IngestError

    path = _write(tmp_path / "a.csv", _rows(_stamps(UTC, [date(2026, 3, 2)])))
    with pytest.raises(IngestError, match="expected one of shopify_orders") as refused:
        ingest_file(add_client("shop"), path, kind=given)
    assert (f"did you mean {hint!r}?" in str(refused.value)) if hint else "did you mean" not in str(refused.value)
