"""The default as-of leaves out a day that was still in progress when its export was ingested."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert
from typer.testing import CliRunner

from chimera.as_of import default_day
from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import IngestRun, MetricPoint
from chimera.errors import ChimeraError

D = date(2026, 3, 10)
_register()


def _client(name: str = "shop", timezone: str | None = None):
    ctx = add_client(name)
    if timezone:
        path = ctx.folder / "client.yml"
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
        path.write_text(yaml.safe_dump({**(data or {}), "name": name, "timezone": timezone}))
    return get_client(name)


def _data(company_id: int, last: date = D, days: int = 5, source: str = "shopify_orders") -> None:
    with session_scope() as s:
        s.execute(insert(MetricPoint), [
            {"company_id": company_id, "metric": "orders", "day": last - timedelta(days=i), "source": source,
             "value": "3"} for i in range(days)])


def _ingested(company_id: int, at: datetime, source: str = "shopify_orders", fingerprint: str = "f1",
              last: date = D) -> None:
    with session_scope() as s:
        s.add(IngestRun(company_id=company_id, source=source, file_name="x.csv", fingerprint=fingerprint,
                        first_day=last - timedelta(days=4), last_day=last, created_at=at))


def _default(ctx):
    with session_scope() as s:
        return default_day(s, ctx.company_id, ctx.config.timezone)


def test_a_day_ingested_before_it_ended_is_left_out_and_the_note_says_why(chimera_home: Path) -> None:
    ctx = _client()
    _data(ctx.company_id)
    _ingested(ctx.company_id, datetime(2026, 3, 10, 10, 5, tzinfo=UTC))
    got = _default(ctx)
    assert (got.day, got.left_out) == (D - timedelta(days=1), D)
    assert "2026-03-10 is left out" in got.note and "10:05 (UTC)" in got.note and "--as-of 2026-03-10" in got.note


@pytest.mark.parametrize(("at", "expected"), [
    (datetime(2026, 3, 11, 0, 30, tzinfo=UTC), D),  # after the day ended
    (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), D),  # data dated after its ingest: taken as it is
])
def test_a_day_that_had_ended_or_lies_ahead_of_the_ingest_is_judged(chimera_home: Path, at: datetime,
                                                                    expected: date) -> None:
    ctx = _client()
    _data(ctx.company_id)
    _ingested(ctx.company_id, at)
    got = _default(ctx)
    assert (got.day, got.left_out, got.note) == (expected, None, "")


@pytest.mark.parametrize(("zone", "at", "in_progress"), [
    ("America/Los_Angeles", datetime(2026, 3, 11, 6, 0, tzinfo=UTC), True),  # 23:00 on the 10th in LA
    ("America/Los_Angeles", datetime(2026, 3, 11, 8, 0, tzinfo=UTC), False),  # 01:00 on the 11th (PDT)
    ("Asia/Tokyo", datetime(2026, 3, 9, 16, 0, tzinfo=UTC), True),  # 01:00 on the 10th in Tokyo
    ("Asia/Tokyo", datetime(2026, 3, 10, 15, 30, tzinfo=UTC), False),  # 00:30 on the 11th in Tokyo
])
def test_the_store_timezone_decides_when_the_day_ends(chimera_home: Path, zone: str, at: datetime,
                                                      in_progress: bool) -> None:
    ctx = _client(timezone=zone)
    _data(ctx.company_id)
    _ingested(ctx.company_id, at)
    assert _default(ctx).day == (D - timedelta(days=1) if in_progress else D)


def test_every_source_must_have_the_whole_day(chimera_home: Path) -> None:
    ctx = _client()
    _data(ctx.company_id)
    _ingested(ctx.company_id, datetime(2026, 3, 11, 2, 0, tzinfo=UTC), source="analytics_daily", fingerprint="a")
    _ingested(ctx.company_id, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), fingerprint="s")
    assert _default(ctx).left_out == D, "the Shopify export holds part of the day: the day is not whole"


def test_the_same_export_ingested_again_later_is_still_partial_but_a_new_one_is_whole(chimera_home: Path) -> None:
    ctx = _client()
    _data(ctx.company_id)
    _ingested(ctx.company_id, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), fingerprint="morning")
    _ingested(ctx.company_id, datetime(2026, 3, 12, 8, 0, tzinfo=UTC), fingerprint="morning")  # next cycle
    assert _default(ctx).left_out == D, "the same bytes are the same partial day"
    _ingested(ctx.company_id, datetime(2026, 3, 12, 9, 0, tzinfo=UTC), fingerprint="next-day export")
    assert _default(ctx).day == D


def test_no_data_has_no_default_day(chimera_home: Path) -> None:
    assert _default(_client()).day is None


def test_an_unknown_store_timezone_is_a_config_error_naming_it(chimera_home: Path) -> None:
    with pytest.raises(ChimeraError, match=r"client\.yml:\d+: timezone: unknown timezone .*'Mars/Olympus_Mons'"):
        _client("shop", timezone="Mars/Olympus_Mons")


def test_kpis_and_metrics_on_an_export_taken_today(chimera_home: Path, tmp_path: Path) -> None:
    """A real ingest now of an analytics export whose last day is today: `chimera kpis` judges
    yesterday and says why, `--as-of` today still judges today, `chimera metrics` shows today."""
    ctx = _client()
    today = datetime.now(UTC).date()
    lines = ["date,sessions,users,transactions,revenue"] + [
        f"{today - timedelta(days=i)},{1000 + i},{900 + i},{20 + i},{400 + i}.50" for i in range(40)]
    export = tmp_path / "analytics.csv"
    export.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(export), "--client", ctx.name])
    assert ingested.exit_code == 0, ingested.output
    if datetime.now(UTC).date() != today:  # midnight passed during the test: the day has ended
        pytest.skip("the UTC day changed while the test ran")
    result = runner.invoke(app, ["kpis", "--client", ctx.name, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["as_of"] == (today - timedelta(days=1)).isoformat()
    assert f"{today} is left out" in doc["as_of_note"] and f"{today} is left out" in result.stderr
    explicit = json.loads(runner.invoke(app, ["kpis", "--client", ctx.name, "--as-of", str(today), "--json"]).stdout)
    assert explicit["as_of"] == today.isoformat() and "as_of_note" not in explicit
    metrics = json.loads(runner.invoke(app, ["metrics", "--client", ctx.name, "--metric", "sessions", "--json"]).stdout)
    assert metrics["metrics"]["sessions"][today.isoformat()] == 1000, "the partial day is stored, only not judged"


def test_a_cycle_without_as_of_judges_the_last_whole_day(chimera_home: Path, tmp_path: Path) -> None:
    """The weekly cycle ingests its sources itself: exports ending today (taken now) are judged
    as of yesterday, and the cycle's JSON says why."""
    from chimera.demo.generator import generate_store

    today = datetime.now(UTC).date()
    ctx = add_client("fresh")
    generate_store(ctx.folder / "exports", start=today - timedelta(days=69), days=70, seed=7)
    (ctx.folder / "client.yml").write_text(
        "name: fresh\nsources:\n  - {kind: shopify_orders, path: exports/orders_export.csv}\n"
        "  - {kind: analytics_daily, path: exports/analytics_daily.csv}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["cycle", "--client", "fresh", "--silent", "--json"])
    assert result.exit_code == 0, result.output
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed while the test ran")
    doc = json.loads(result.stdout)
    assert doc["as_of"] == str(today - timedelta(days=1))
    assert f"{today} is left out" in doc["as_of_note"] and f"{today} is left out" in result.stderr
    assert all(k["data_through"] is None or k["data_through"] < str(today) for k in doc["kpis"])


def test_a_day_only_some_sources_reach_by_one_day_is_left_out(chimera_home: Path) -> None:
    """Stripe's UTC day runs hours past the store's midnight: its newest day holds a few hours while
    Shopify and analytics end the day before. Judged, it would mix a part day into 7-day windows."""
    ctx = _client()
    _data(ctx.company_id, source="shopify")
    _data(ctx.company_id, source="analytics")
    _data(ctx.company_id, last=D + timedelta(days=1), source="stripe")
    got = _default(ctx)
    assert (got.day, got.left_out) == (D, D + timedelta(days=1))
    assert got.note.startswith("2026-03-11 is left out: only stripe has data for it "
                               "(analytics, shopify end 2026-03-10)")
    assert "--as-of 2026-03-11" in got.note


def test_a_source_two_days_behind_is_stale_not_a_reason_to_go_back(chimera_home: Path) -> None:
    """An export that stopped arriving does not pull the day back: its KPIs read stale instead."""
    ctx = _client()
    _data(ctx.company_id, source="shopify")
    _data(ctx.company_id, last=D - timedelta(days=2), source="analytics")
    assert (_default(ctx).day, _default(ctx).note) == (D, "")


def test_an_evening_export_west_of_utc_leaves_out_both_the_stripe_day_and_the_store_day(chimera_home: Path) -> None:
    """Exported at 18:30 in New York: Stripe already has the next UTC day (cut off), and the store's
    own day is still going on: the day judged is the one before both, and the note says why."""
    ctx = _client(timezone="America/New_York")
    _data(ctx.company_id, source="shopify")
    _data(ctx.company_id, last=D + timedelta(days=1), source="stripe")
    at = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)  # 18:30 in New York (EDT from 2026-03-08)
    _ingested(ctx.company_id, at, source="shopify")
    _ingested(ctx.company_id, at, source="stripe", last=D + timedelta(days=1))
    got = _default(ctx)
    assert (got.day, got.left_out) == (D - timedelta(days=1), D + timedelta(days=1))
    assert "2026-03-11 is left out: only stripe" in got.note
    assert "2026-03-10 is left out: its data was ingested at 18:30 (America/New_York)" in got.note


def test_kpis_say_when_the_newest_data_is_days_behind_today(chimera_home: Path) -> None:
    """Was: a store whose exports stopped a week ago read OK 'as of' that day with no word of it
    (manual §8.1: stale data is UNKNOWN, which --as-of today shows)."""
    from chimera.as_of import behind_note

    ctx = _client("behind")
    day = date(2026, 11, 20)
    note = behind_note(ctx, day, today=date(2026, 11, 27))
    assert note == ("the newest complete data is 2026-11-20, 7 days before today (2026-11-27, "
                    f"{ctx.config.timezone}): statuses are as of 2026-11-20; re-export and ingest, or pass --as-of "
                    "2026-11-27 to see which KPIs are stale (UNKNOWN)")
    assert behind_note(ctx, day, today=date(2026, 11, 21)) == "", "yesterday's data is current"
    now = datetime.now(UTC).date()
    _data(ctx.company_id, last=now - timedelta(days=6), days=30)
    runner = CliRunner()
    said = runner.invoke(app, ["kpis", "--client", "behind", "--json"])
    assert said.exit_code == 0 and "days before today" in said.stderr and f"--as-of {now}" in said.stderr
    assert "as_of_note" not in json.loads(said.stdout), "the JSON contract is unchanged"
    explicit = runner.invoke(app, ["kpis", "--client", "behind", "--as-of", str(now - timedelta(days=6))])
    assert explicit.exit_code == 0 and "days before today" not in explicit.stderr, "a day asked for is no surprise"
    weekly = runner.invoke(app, ["cycle", "--client", "behind", "--silent"])
    assert weekly.exit_code == 0 and "6 days before today" in weekly.stderr, "the weekly cycle says it too"
