"""``chimera daily`` and ``chimera monthly`` (manual §6.1, §6.3) on stores never seen before: every
number recomputed from the exports the test wrote (hand-written analytics exports, and the project's
seeded generator with other seeds, sizes and events), replays with ``--today`` / ``--as-of``, and
several clients in one database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlmodel import select

from chimera.as_of import store_zone
from chimera.clients import ClientContext, add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import Job, MetricPoint
from chimera.ingest.service import ingest_file
from chimera.jobs.queue import claim_next, enqueue
from chimera.rhythms import daily_check
from tests.test_cli_contracts import Run, chimera

START = date(2026, 3, 2)
"""A Monday; the hand-written stores begin here (any day works: nothing below depends on it)."""


def cli(*args: str) -> Run:
    """The CLI in process as the executable runs it: exit code, stdout, stderr."""
    return chimera(*args)


def doc(run: Run) -> dict:
    """The one JSON document on stdout, whatever the exit code (daily exits 1 when not OK)."""
    return json.loads(run.stdout)


def write_analytics(path: Path, start: date, days: int, sessions: int = 700) -> Path:
    """A GA4-style daily export (DATA.md): one row per day, ``sessions`` a day with a small weekly wiggle."""
    rows = ["date,sessions,users,transactions,revenue"]
    for i in range(days):
        day = start + timedelta(days=i)
        s = sessions + (i % 7) * 3
        rows.append(f"{day:%Y%m%d},{s},{s * 8 // 10},{s // 40},{s // 40 * 37}.50")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def client_with(name: str, sources: dict[str, str], timezone: str = "UTC", currency: str = "USD") -> ClientContext:
    """A new client whose client.yml names ``sources`` (kind -> path under its folder); nothing ingested."""
    ctx = add_client(name)
    listed = [f"  - {{kind: {kind}, path: {path}}}" for kind, path in sources.items()]
    (ctx.folder / "client.yml").write_text("\n".join([
        f"name: {name}", f"currency: {currency}", f"timezone: {timezone}", "sources:" if listed else "sources: []",
        *listed, ""]), encoding="utf-8")
    return get_client(name)


def analytics_client(name: str, days: int, *, also: dict[str, str] | None = None, timezone: str = "UTC",
                     start: date = START) -> ClientContext:
    """A client with ``days`` of hand-written analytics ingested (and the other sources in ``also`` named only)."""
    sources = {"analytics_daily": "exports/analytics_daily.csv", **(also or {})}
    ctx = client_with(name, sources, timezone)
    ingest_file(ctx, write_analytics(ctx.folder / "exports" / "analytics_daily.csv", start, days), "analytics_daily")
    return get_client(name)


def newest_days(ctx: ClientContext, upto: date | None = None) -> dict[str, date]:
    """Each source's newest day in the database, read straight from the MetricPoint rows."""
    out: dict[str, date] = {}
    with session_scope() as s:
        for p in s.exec(select(MetricPoint).where(MetricPoint.company_id == ctx.company_id)):
            if upto is None or p.day <= upto:
                out[p.source] = max(out.get(p.source, p.day), p.day)
    return out


def allowance(ctx: ClientContext) -> int:
    """Days a source may be behind (the largest KPI staleness allowance plus the day in progress)."""
    return max(k.max_staleness_days for k in ctx.configs.kpis.kpis) + 1


# --- daily: freshness ----------------------------------------------------------------------------


def test_a_configured_source_never_ingested_is_listed_and_fails_the_check(chimera_home: Path) -> None:
    """client.yml names a Shopify export that never reached the database: the check says so (manual
    §6.1: did ingestion complete?) instead of leaving the source out and reporting all good."""
    analytics_client("neverfed", 35, also={"shopify_orders": "exports/orders_export.csv"})
    end = START + timedelta(days=34)
    run = cli("daily", "--client", "neverfed", "--today", (end + timedelta(days=1)).isoformat(), "--json")
    report = doc(run)
    fresh = {f["source"]: f for f in report["freshness"]}
    assert set(fresh) == {"analytics", "shopify"}
    assert fresh["analytics"]["last_day"] == end.isoformat() and fresh["analytics"]["days_behind"] == 1
    assert fresh["analytics"]["ok"] is True
    assert fresh["shopify"] == {"source": "shopify", "last_day": None, "last_ingest": None, "days_behind": None,
                                "ok": False}
    assert report["ok"] is False and run.code == 1
    (line,) = run.stderr.strip().splitlines()
    assert "shopify has no data" in line and "None" not in line, line
    shown = cli("daily", "--client", "neverfed", "--today", (end + timedelta(days=1)).isoformat())
    row = next(r for r in shown.stdout.splitlines() if "shopify" in r)
    assert "no data" in row and "None" not in row, shown.stdout


def test_freshness_is_recomputed_from_the_export_for_each_day_checked(chimera_home: Path) -> None:
    """days_behind = the day checked minus the newest day of data on or before it; ok while within
    the allowance. A replay (``--today``) reads no data of later days: checked as of a day before the
    store's first day there is no data at all, and the check is not OK."""
    ctx = analytics_client("wiggle", 40)
    end = START + timedelta(days=39)
    limit = allowance(ctx)
    for today in (START + timedelta(days=10), end, end + timedelta(days=1), end + timedelta(days=limit),
                  end + timedelta(days=limit + 1)):
        (entry,) = doc(cli("daily", "--client", "wiggle", "--today", today.isoformat(), "--json"))["freshness"]
        last = newest_days(ctx, upto=today)["analytics"]
        assert entry["last_day"] == last.isoformat(), (today, entry)
        assert entry["days_behind"] == (today - last).days
        assert entry["ok"] is ((today - last).days <= limit)
    before = START - timedelta(days=1)
    run = cli("daily", "--client", "wiggle", "--today", before.isoformat(), "--json")
    (entry,) = doc(run)["freshness"]
    assert entry["last_day"] is None and entry["days_behind"] is None and entry["ok"] is False, entry
    assert run.code == 1 and doc(run)["ok"] is False
    assert doc(run)["critical"] == [], "nothing to judge before the first day"


def test_today_is_the_store_s_date_in_its_own_timezone(chimera_home: Path) -> None:
    """Without --today the day checked is the store's calendar date: at one UTC instant a store at
    UTC+14 is a day ahead of one at UTC-11, and each counts its days behind from its own date."""
    east = analytics_client("east", 30, timezone="Pacific/Kiritimati")
    west = analytics_client("west", 30, timezone="Pacific/Pago_Pago")
    end = START + timedelta(days=29)
    now = datetime.combine(end + timedelta(days=2), time(12), UTC)  # 02:00 next day at +14, 01:00 at -11
    for ctx in (east, west):
        report = daily_check(ctx, now=now)
        local = now.astimezone(store_zone(ctx.config.timezone)).date()
        assert report.today == local
        (entry,) = report.freshness
        assert entry.days_behind == (local - end).days
    assert daily_check(east, now=now).today - daily_check(west, now=now).today == timedelta(days=1)


def test_a_day_not_reached_is_refused_in_one_line_and_changes_nothing(chimera_home: Path) -> None:
    """``--today`` in the future is refused like every ``--as-of``: one line, non-zero, and no stuck job
    is re-queued by a check that did not run."""
    ctx = analytics_client("ahead", 20)
    job_id = _stuck_job(ctx)
    future = max(datetime.now(store_zone("Pacific/Kiritimati")).date(), START + timedelta(days=19)) + timedelta(days=3)
    run = cli("daily", "--client", "ahead", "--today", future.isoformat(), "--json")
    lines = [x for x in run.stderr.splitlines() if x.strip()]
    assert run.code != 0 and run.stdout == "" and len(lines) == 1, run
    assert f"--today {future} has not happened yet" in lines[0]
    with session_scope() as s:
        assert s.get(Job, job_id).status == "running"


# --- daily: stuck jobs, exit codes, CRITICAL KPIs -----------------------------------------------------


def _stuck_job(ctx: ClientContext, max_attempts: int = 3) -> int:
    """A job a crashed worker left running, its lease long expired."""
    with session_scope() as s:
        enqueue(s, ctx.company_id, "EVALUATE_KPIS", "evidence_commander_ai", idempotency_key=f"stuck:{ctx.name}",
                max_attempts=max_attempts)
        job = claim_next(s, ctx.company_id, now=datetime.now(UTC) - timedelta(hours=2), lease_seconds=60)
        assert job is not None
        return job.id


def test_a_stuck_job_is_requeued_exactly_once_and_the_exit_code_follows(chimera_home: Path) -> None:
    """The first check re-queues the stuck job, names it and exits 1; the second finds nothing stuck
    and, the data fresh and no KPI CRITICAL, exits 0 with ``ok`` true."""
    ctx = analytics_client("crashy", 35)
    job_id = _stuck_job(ctx)
    today = (START + timedelta(days=35)).isoformat()
    first = cli("daily", "--client", "crashy", "--today", today, "--json")
    assert first.code == 1 and doc(first)["ok"] is False
    assert doc(first)["stuck_jobs_requeued"] == [{"id": job_id, "type": "EVALUATE_KPIS", "status": "queued",
                                                   "attempts": 1}]
    assert "1 stuck job(s) re-queued" in first.stderr
    second = cli("daily", "--client", "crashy", "--today", today, "--json")
    assert doc(second)["stuck_jobs_requeued"] == [] and doc(second)["critical"] == []
    assert second.code == 0 and doc(second)["ok"] is True and second.stderr == ""
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.attempts) == ("queued", 1)
    shown = cli("daily", "--client", "crashy", "--today", today)
    assert shown.code == 0 and "all good" in shown.stdout


def test_a_stuck_job_with_no_attempt_left_is_failed_once(chimera_home: Path) -> None:
    ctx = analytics_client("spent", 35)
    job_id = _stuck_job(ctx, max_attempts=1)
    today = START + timedelta(days=35)
    first = daily_check(ctx, today=today)
    assert [(j["id"], j["status"]) for j in first.stuck_jobs_requeued] == [(job_id, "failed")] and not first.ok
    assert daily_check(ctx, today=today).stuck_jobs_requeued == []
