"""``chimera daily`` on a Fiverr gig: its export lists only days with orders, so a quiet gig's newest
row says nothing of how current the export is. The day the current export was first ingested does:
a current export of a quiet gig is not behind, an old one (however often a cycle ingests the same
file again) still is, and a Shopify store's stale data is never made fresh by a recent ingest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from chimera.clients import ClientContext, add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import IngestRun
from chimera.ingest.service import ingest_file
from chimera.rhythms import SourceFreshness, daily_check
from tests.test_cli_contracts import chimera

D = date(2026, 3, 2)  # any past day: nothing below depends on it
L = D + timedelta(days=45)  # the gig's last order
ALLOWED = 8  # the Fiverr KPIs' max_staleness_days (7) plus the day judged before today
FIVERR = "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n"
SHOPIFY_HEADER = ("Name,Email,Financial Status,Created at,Cancelled at,Subtotal,Shipping,Taxes,Total,"
                  "Discount Amount,Refunded Amount,Lineitem quantity,Lineitem price,Currency\n")


def _client(name: str, kind: str, timezone: str = "UTC") -> ClientContext:
    """A client whose client.yml names one export of ``kind`` (and the Fiverr mapping); nothing ingested."""
    ctx = add_client(name)
    (ctx.folder / "client.yml").write_text(
        f"name: {name}\ncurrency: USD\ntimezone: {timezone}\nsources:\n  - {{kind: {kind}, path: exports/x.csv}}\n"
        + FIVERR, encoding="utf-8")
    return get_client(name)


def _fiverr(ctx: ClientContext, first: date, last: date, every: int = 3, file: str = "fiverr.csv") -> Path:
    """A gig's export: one completed order every ``every`` days from ``first`` to ``last`` (quiet between)."""
    days = dict.fromkeys([*(first + timedelta(days=i) for i in range(0, (last - first).days + 1, every)), last])
    path = ctx.folder / "exports" / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Order Date,Earnings,Status\n" + "".join(f"{d},40.00,completed\n" for d in days), encoding="utf-8")
    return path


def _shopify(ctx: ClientContext, first: date, last: date) -> Path:
    """A store with orders every day from ``first`` to ``last``."""
    rows = [f"#{i},a{i}@example.com,paid,{first + timedelta(days=i)} 10:00:00 +0000,,20.00,0.00,0.00,20.00,0.00,"
            f"0.00,1,20.00,USD\n" for i in range((last - first).days + 1)]
    path = ctx.folder / "exports" / "orders_export.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SHOPIFY_HEADER + "".join(rows), encoding="utf-8")
    return path


def _ingest_at(ctx: ClientContext, path: Path, at: datetime, until: date | None = None) -> None:
    """Ingest ``path`` and record the run as made at ``at`` (UTC), as if the export had been ingested then."""
    run_id = ingest_file(ctx, path, until=until).ingest_run_id
    with session_scope() as s:
        run = s.get(IngestRun, run_id)
        assert run is not None
        run.created_at = at
        s.add(run)


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _source(ctx: ClientContext, now: datetime, source: str) -> SourceFreshness:
    return next(f for f in daily_check(ctx, now=now).freshness if f.source == source)


def test_a_current_export_of_a_quiet_gig_is_not_behind(chimera_home: Path) -> None:
    """No order for 12 days (more than the 8 allowed), the export ingested this morning: current."""
    ctx = _client("quiet", "fiverr_orders")
    _ingest_at(ctx, _fiverr(ctx, D, L), _at(L + timedelta(days=12)))
    report = daily_check(ctx, now=_at(L + timedelta(days=12), 15))
    (fiverr,) = report.freshness
    assert (fiverr.last_day, fiverr.current_on, fiverr.days_behind, fiverr.ok) == (L, L + timedelta(days=12), 0, True)
    assert report.ok, report
    two_days_on = _source(ctx, _at(L + timedelta(days=14), 15), "fiverr")
    assert (two_days_on.days_behind, two_days_on.ok) == (2, True), "counted from the export's day, not the order's"


def test_an_old_export_is_behind_though_a_cycle_ingests_the_same_file_again(chimera_home: Path) -> None:
    """The same bytes ingested again later are no newer: behind counts from the file's first ingest."""
    ctx = _client("old", "fiverr_orders")
    path = _fiverr(ctx, D, L)
    _ingest_at(ctx, path, _at(L + timedelta(days=1)))
    _ingest_at(ctx, path, _at(L + timedelta(days=20)))  # a cycle re-reading the configured export
    stale = _source(ctx, _at(L + timedelta(days=20), 15), "fiverr")
    assert (stale.current_on, stale.days_behind, stale.ok) == (L + timedelta(days=1), 19, False)
    assert 19 > ALLOWED
    _ingest_at(ctx, _fiverr(ctx, D, L + timedelta(days=2), file="new.csv"), _at(L + timedelta(days=20), 10))
    fresh = _source(ctx, _at(L + timedelta(days=20), 15), "fiverr")
    assert (fresh.last_day, fresh.current_on, fresh.days_behind, fresh.ok) == (
        L + timedelta(days=2), L + timedelta(days=20), 0, True), "a new export with one more order is current"


def test_a_backfill_of_earlier_days_says_nothing_of_the_days_after_them(chimera_home: Path) -> None:
    """An export of March ingested today does not make the gig's newest data today's."""
    ctx = _client("backfill", "fiverr_orders")
    _ingest_at(ctx, _fiverr(ctx, D, L), _at(L + timedelta(days=2)))
    _ingest_at(ctx, _fiverr(ctx, D, D + timedelta(days=20), file="march.csv"), _at(L + timedelta(days=30)))
    f = _source(ctx, _at(L + timedelta(days=30), 15), "fiverr")
    assert (f.last_day, f.current_on, f.days_behind, f.ok) == (L, L + timedelta(days=2), 28, False)


def test_stale_shopify_data_stays_behind_however_recently_it_was_ingested(chimera_home: Path) -> None:
    """A store's orders export is not read as a quiet gig's: ten days without an order is ten days behind."""
    ctx = _client("shop", "shopify_orders")
    _ingest_at(ctx, _shopify(ctx, D, L), _at(L + timedelta(days=10)))
    report = daily_check(ctx, now=_at(L + timedelta(days=10), 15))
    shopify = next(f for f in report.freshness if f.source == "shopify")
    assert (shopify.last_day, shopify.current_on, shopify.days_behind, shopify.ok) == (L, None, 10, False)
    assert not report.ok
    assert all("current_on" not in f for f in report.to_json()["freshness"]), "only a quiet gig's entry has it"


def test_the_export_day_is_the_store_day(chimera_home: Path) -> None:
    """Ingested at 03:00 UTC is the evening before in Los Angeles: the export is of that day."""
    ctx = _client("west", "fiverr_orders", timezone="America/Los_Angeles")
    _ingest_at(ctx, _fiverr(ctx, D, L), _at(L + timedelta(days=12), 3))
    f = _source(ctx, _at(L + timedelta(days=12), 20), "fiverr")
    assert (f.current_on, f.days_behind, f.ok) == (L + timedelta(days=11), 1, True)


def test_daily_replays_and_says_what_behind_counts_from(chimera_home: Path) -> None:
    """``--today`` before the export came counts from the last order (the export was not there yet);
    after it, from the export's day, shown in the table and the JSON; an old export fails naming both days."""
    ctx = _client("replay", "fiverr_orders")
    came = L + timedelta(days=12)
    _ingest_at(ctx, _fiverr(ctx, D, L), _at(came))

    before = chimera("daily", "--client", "replay", "--today", str(L + timedelta(days=10)), "--json")
    (entry,) = json.loads(before.stdout)["freshness"]
    assert before.code == 1 and entry["days_behind"] == 10 and "current_on" not in entry, entry
    assert "fiverr 10 days behind" in before.stderr and "export came" not in before.stderr, before.stderr

    on = chimera("daily", "--client", "replay", "--today", str(came + timedelta(days=3)), "--json")
    (entry,) = json.loads(on.stdout)["freshness"]
    assert on.code == 0, on.stderr
    assert (entry["last_day"], entry["current_on"], entry["days_behind"], entry["ok"]) == (
        str(L), str(came), 3, True)
    table = chimera("daily", "--client", "replay", "--today", str(came + timedelta(days=3)))
    row = next(r for r in table.stdout.splitlines() if "fiverr" in r)
    assert str(L) in row and str(came) in row, table.stdout

    late = came + timedelta(days=ALLOWED + 1)
    old = chimera("daily", "--client", "replay", "--today", str(late))
    assert old.code == 1
    assert (f"fiverr {ALLOWED + 1} days behind (its newest export came {came}; last order {L}): re-export it, and "
            f"with no order since, ingest it with --until {late - timedelta(days=1)}") in old.stderr, old.stderr


def test_a_failed_ingest_does_not_make_the_export_current(chimera_home: Path) -> None:
    """Only a succeeded ingest says when the export came."""
    ctx = _client("failed", "fiverr_orders")
    _ingest_at(ctx, _fiverr(ctx, D, L), _at(L + timedelta(days=1)))
    with session_scope() as s:
        s.add(IngestRun(company_id=ctx.company_id, source="fiverr", file_name="x.csv", fingerprint="other",
                        status="failed", first_day=D, last_day=L, created_at=_at(L + timedelta(days=15))))
    f = _source(ctx, _at(L + timedelta(days=15), 15), "fiverr")
    assert (f.current_on, f.days_behind, f.ok) == (L + timedelta(days=1), 14, False)


def test_a_declared_range_is_the_newest_day_and_its_ingest_counts_after_it(chimera_home: Path) -> None:
    """``--until`` writes the quiet days as zero: they are data, up to the day declared; the export's
    ingest, two days later, is when it was current."""
    ctx = _client("declared", "fiverr_orders")
    until = L + timedelta(days=5)
    _ingest_at(ctx, _fiverr(ctx, D, L), _at(until + timedelta(days=2)), until=until)
    f = _source(ctx, _at(until + timedelta(days=4), 15), "fiverr")
    assert (f.last_day, f.current_on, f.days_behind, f.ok) == (until, until + timedelta(days=2), 2, True)


def test_a_new_export_the_same_as_the_last_is_current_once_its_range_is_declared(chimera_home: Path) -> None:
    """No order since the last export: the new one has the same bytes, so it is no newer by itself;
    ingested with ``--until`` (as the daily check advises) its quiet days are data up to that day."""
    ctx = _client("same", "fiverr_orders")
    path = _fiverr(ctx, D, L)
    _ingest_at(ctx, path, _at(L + timedelta(days=1)))
    _ingest_at(ctx, path, _at(L + timedelta(days=20)))
    assert not _source(ctx, _at(L + timedelta(days=20), 15), "fiverr").ok
    _ingest_at(ctx, path, _at(L + timedelta(days=20), 10), until=L + timedelta(days=19))
    f = _source(ctx, _at(L + timedelta(days=20), 15), "fiverr")
    assert (f.last_day, f.current_on, f.days_behind, f.ok) == (L + timedelta(days=19), L + timedelta(days=20), 0, True)
