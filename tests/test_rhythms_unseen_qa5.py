"""``chimera daily`` and ``chimera monthly`` (manual §6.1, §6.3) on stores never seen before: every
number recomputed from the exports the test wrote (hand-written analytics exports, and the project's
seeded generator with other seeds, sizes and events), replays with ``--today`` / ``--as-of``, and
several clients in one database."""

from __future__ import annotations

import json
import re
import statistics
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from chimera.as_of import store_zone
from chimera.clients import ClientContext, add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import EvidenceRecord, Job, MetricPoint, Play
from chimera.demo.generator import ConversionDrop, DemoEvents, generate_store
from chimera.evidence.record import log_manual_play, refresh_evidence
from chimera.ingest.service import ingest_file
from chimera.jobs.queue import claim_next, enqueue
from chimera.rhythms import daily_check
from tests.test_cli_contracts import Run, chimera

NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
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


def allowance(ctx: ClientContext, source: str) -> int:
    """Days ``source`` may be behind today: the largest staleness allowance among the KPIs whose formula
    names one of its metrics, plus the day the KPIs are judged before today."""
    with session_scope() as s:
        metrics = set(s.exec(select(MetricPoint.metric).where(MetricPoint.company_id == ctx.company_id,
                                                              MetricPoint.source == source)).all())
    return max(k.max_staleness_days for k in ctx.configs.kpis.kpis
               if metrics & set(re.findall(r"[a-z_]+", k.formula))) + 1


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
    limit = allowance(ctx, "analytics")
    assert limit < max(k.max_staleness_days for k in ctx.configs.kpis.kpis) + 1, "other sources' KPIs allow more"
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
    assert cli("daily", "--client", "wiggle", "--today", before.isoformat(), "--json") == run, "same output again"


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


def _last_day(path: Path, column: str) -> date:
    """The newest calendar day in ``column`` of a CSV export (its first 10 characters: the day as written)."""
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return max(date.fromisoformat(row[column][:10]) for row in csv.DictReader(fh) if row.get(column))


def test_critical_kpis_are_the_ones_chimera_kpis_gives_for_the_day_judged(chimera_home: Path, tmp_path: Path) -> None:
    """A generated store (its own seed, size and a 40 % conversion drop): the CRITICAL list of ``daily``
    is exactly the CRITICAL entries of ``chimera kpis`` for the day it judges: the default day without
    --today (with the same as-of note), the day before --today with it. The readable output names each."""
    store = generate_store(tmp_path / "drop", start=date(2026, 7, 1), days=100, seed=991, orders_per_day=40,
                           events=DemoEvents(conversion_drop=ConversionDrop(day=85, relative_change=-0.4)), malformed=0)
    ctx = client_with("drop", {}, timezone="America/New_York")
    for kind in ("shopify_orders", "stripe_payments", "analytics_daily"):
        ingest_file(ctx, store.sources()[kind], kind)

    def critical(kpis: dict) -> list[dict]:
        return [{k: e[k] for k in ("id", "status", "value", "note")} for e in kpis["kpis"] if e["status"] == "CRITICAL"]

    default = cli("daily", "--client", "drop", "--json")
    kpis = doc(cli("kpis", "--client", "drop", "--json"))
    assert doc(default)["critical"] == critical(kpis) and critical(kpis), kpis
    assert doc(default).get("as_of_note", "") == kpis.get("as_of_note", "")
    for today in (store.end + timedelta(days=1), store.end - timedelta(days=20)):
        given = doc(cli("daily", "--client", "drop", "--today", today.isoformat(), "--json"))
        judged = doc(cli("kpis", "--client", "drop", "--as-of", (today - timedelta(days=1)).isoformat(), "--json"))
        assert given["critical"] == critical(judged), today
    last = {"shopify": _last_day(store.shopify_orders, "Created at"),  # store-local day of each export's newest row
            "stripe": _last_day(store.stripe_payments, "Created date (UTC)"),
            "analytics": _last_day(store.analytics_daily, "date")}
    today = store.end + timedelta(days=1)
    fresh = doc(cli("daily", "--client", "drop", "--today", today.isoformat(), "--json"))["freshness"]
    assert {f["source"]: (f["last_day"], f["days_behind"]) for f in fresh} == {
        source: (day.isoformat(), (today - day).days) for source, day in last.items()}
    shown = cli("daily", "--client", "drop", "--today", (store.end + timedelta(days=1)).isoformat())
    assert shown.code == 1
    text = " ".join(shown.stdout.split())
    assert all(f"CRITICAL {k['id']}: {k['note']}" in text for k in critical(kpis)), shown.stdout


# --- monthly: plays to retire, target changes, the case study ----------------------------------------

FLAT_START, FLAT_DAYS = date(2026, 2, 2), 160
_FLAT: dict[str, Path] = {}


@pytest.fixture
def flat(chimera_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ClientContext, date]:
    """A generated store with no injected event (its own seed and size), ingested for client ``flat``;
    its plays logged by hand: one that never worked (``stripe_fee_review``: Stripe's fee share does not
    move), two run on top of each other (their evidence confounded) and one too recent to judge."""
    if "dir" not in _FLAT:
        _FLAT["dir"] = tmp_path_factory.getbasetemp() / "flat-store"
        generate_store(_FLAT["dir"], start=FLAT_START, days=FLAT_DAYS, seed=5151, orders_per_day=50)
    ctx = client_with("flat", {}, timezone="America/New_York")
    for kind, name in (("shopify_orders", "orders_export.csv"), ("stripe_payments", "stripe_payments.csv"),
                       ("analytics_daily", "analytics_daily.csv")):
        ingest_file(ctx, _FLAT["dir"] / name, kind)
    end = FLAT_START + timedelta(days=FLAT_DAYS - 1)
    with session_scope() as s:
        for d in (50, 100):
            log_manual_play(s, ctx, "stripe_fee_review", FLAT_START + timedelta(days=d))
        for d in (40, 90):
            log_manual_play(s, ctx, "traffic_recovery", FLAT_START + timedelta(days=d))
            log_manual_play(s, ctx, "paid_traffic_test", FLAT_START + timedelta(days=d + 3))
        log_manual_play(s, ctx, "cancellation_reduction", end - timedelta(days=5))
    return get_client("flat"), end


def _verdicts(as_of: date) -> dict[str, list[list[str]]]:
    """play -> one list of KPI verdicts per run, as ``chimera evidence --as-of`` judges them."""
    runs: dict[tuple[str, str], list[str]] = {}
    for e in doc(cli("evidence", "--client", "flat", "--as-of", as_of.isoformat(), "--json"))["evidence"]:
        runs.setdefault((e["play"], e["play_run_id"]), []).append(e["verdict"])
    out: dict[str, list[list[str]]] = {}
    for (play, _run), verdicts in runs.items():
        out.setdefault(play, []).append(verdicts)
    return out


def test_monthly_retires_the_play_that_never_worked_and_no_other(flat: tuple[ClientContext, date]) -> None:
    """Judged as of the review, stripe_fee_review failed on both runs (the policy's limit): it is proposed
    for retirement with those counts, though no cycle had judged and counted them yet. The confounded
    plays and the play with no verdict yet are not. The review stores nothing and says the same again."""
    ctx, end = flat
    first = cli("monthly", "--client", "flat", "--as-of", end.isoformat(), "--json")
    review = doc(first)
    with session_scope() as s:
        assert s.exec(select(EvidenceRecord)).all() == [] and s.exec(select(Play)).all() == [], "nothing stored"
    again = doc(cli("monthly", "--client", "flat", "--as-of", end.isoformat(), "--json"))
    assert again == review, "same inputs, same review"
    verdicts = _verdicts(end)
    assert verdicts["stripe_fee_review"] == [["no_detectable_change"], ["no_detectable_change"]]
    assert all(v == "confounded" for play in ("traffic_recovery", "paid_traffic_test")
               for run in verdicts[play] for v in run), verdicts
    assert verdicts["cancellation_reduction"] == [["pending"]]
    assert ctx.configs.plays.policy.review_after_failures <= 2
    assert first.code == 0
    assert [(p["play"], p["record"]) for p in review["plays_to_retire"]] == [
        ("stripe_fee_review", {"runs": 2, "moved": 0, "failed": 2})]
    assert "2 of 2" in review["plays_to_retire"][0]["reason"]
    shown = cli("monthly", "--client", "flat", "--as-of", end.isoformat())
    assert "retire or redesign: stripe_fee_review" in shown.stdout


def test_a_replayed_month_retires_only_on_what_was_judged_by_then(flat: tuple[ClientContext, date]) -> None:
    """Once a cycle has counted both failures (the play is under review in the database), a review of
    a day when only the first was judged proposes nothing: the second failure came later."""
    ctx, end = flat
    with session_scope() as s:  # what a cycle's LOG_EVIDENCE does: judge and store every run's evidence
        refresh_evidence(s, ctx, end)
    with session_scope() as s:
        assert s.exec(select(Play).where(Play.play_id == "stripe_fee_review")).one().under_review
    second_due = FLAT_START + timedelta(days=100 + 42)
    earlier = second_due - timedelta(days=3)
    assert [len(runs) for runs in _verdicts(earlier).values()] and \
        sum(v == ["no_detectable_change"] for v in _verdicts(earlier)["stripe_fee_review"]) == 1
    assert doc(cli("monthly", "--client", "flat", "--as-of", earlier.isoformat(), "--json"))["plays_to_retire"] == []
    now = doc(cli("monthly", "--client", "flat", "--as-of", end.isoformat(), "--json"))
    assert [p["play"] for p in now["plays_to_retire"]] == ["stripe_fee_review"]


def test_monthly_target_changes_come_from_the_store_s_own_weekly_values(flat: tuple[ClientContext, date]) -> None:
    """Each proposed target is the median of the KPI's last 8 weekly values, which are the values
    ``chimera kpis`` gives as of the review's day and each week before; warning and critical lie on
    the bad side, in order. Problems in the case study are the KPIs ``chimera kpis`` flags, with its notes."""
    ctx, end = flat
    review = doc(cli("monthly", "--client", "flat", "--as-of", end.isoformat(), "--json"))
    weekly = {k: [] for k in (p["kpi"] for p in review["target_changes"])}
    for week in range(8):
        day = end - timedelta(days=7 * week)
        for k in doc(cli("kpis", "--client", "flat", "--as-of", day.isoformat(), "--json"))["kpis"]:
            if k["value"] is not None and k["status"] != "UNKNOWN":
                weekly[k["id"]].append(Decimal(k["value"]))
    specs = {k.id: k for k in ctx.configs.kpis.kpis}
    proposed = [p for p in review["target_changes"] if p["proposed"]]
    assert len(proposed) >= 5, review["target_changes"]
    for p in proposed:
        values = [Decimal(v) for v in p["weekly_values"]]
        assert values == weekly[p["kpi"]], p["kpi"]
        step = {"currency": Decimal("0.01"), "percent": Decimal("0.0001"), "count": Decimal(1),
                "ratio": Decimal("0.01")}[p["unit"]]
        target, warning, critical = (Decimal(p["proposed"][k]) for k in ("target", "warning", "critical"))
        assert abs(target - statistics.median(values)) <= step, p
        sign = 1 if specs[p["kpi"]].direction == "higher_is_better" else -1
        assert sign * target > sign * warning > sign * critical, p
        assert str(len(values)) in p["reason"] and "median" in p["reason"]
    flagged = [k for k in doc(cli("kpis", "--client", "flat", "--as-of", end.isoformat(), "--json"))["kpis"]
               if k["status"] in ("WARNING", "CRITICAL")]
    problems = review["case_study"].split("## Problems")[1].split("##")[0].strip().splitlines()
    assert problems == [f"- {k['id']}: {k['status']} — {k['note']}" for k in flagged] or \
        (not flagged and problems == ["- no KPI in WARNING or CRITICAL"])


def test_the_case_study_cites_only_recorded_numbers(flat: tuple[ClientContext, date]) -> None:
    """Each result line is one evidence record (``chimera evidence``), its effect and interval as recorded."""
    _ctx, end = flat
    records = doc(cli("evidence", "--client", "flat", "--as-of", end.isoformat(), "--json"))["evidence"]
    study = doc(cli("monthly", "--client", "flat", "--as-of", end.isoformat(), "--json"))["case_study"]
    results = study.split("## Results (before/after, no control group)")[1].strip().splitlines()
    assert len(results) == len(records)
    in_order = sorted(records, key=lambda e: (e["executed_on"], e["play"], e["correlation_id"], e["kpi"]))
    for line, e in zip(results, in_order, strict=True):
        assert line.startswith(f"- {e['play']} on {e['kpi']}: {e['verdict']}"), (line, e)
        if e["effect_pct"] is not None and e["ci_low_pct"] is not None:
            assert f"effect {e['effect_pct']:+.1f}% (95% interval {e['ci_low_pct']:+.1f}..{e['ci_high_pct']:+.1f})" \
                in line
        else:
            assert "effect" not in line.split(".")[0]
        cited = {m.group() for m in NUMBER.finditer(line.replace("95% interval", "interval"))}
        recorded = {m.group() for m in NUMBER.finditer(json.dumps(e) + f"{e['effect_pct'] or 0:+.1f}")}
        assert cited <= recorded | {f"{v:+.1f}" for v in (e["ci_low_pct"], e["ci_high_pct"]) if v is not None}, \
            (line, cited - recorded)


# --- monthly: no data, half a month, no plays ---------------------------------------------------------


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_a_month_without_data_ends_on_the_store_s_own_date_and_proposes_nothing(chimera_home: Path,
                                                                                 zone: str) -> None:
    """No data, no plays, no --as-of: the review ends on today in the store's timezone (UTC+14 and UTC-11
    are on two different dates at any instant, and one of them is never the UTC date), proposes no
    target, retires and adds nothing, and its case study says there was nothing."""
    client_with("nodata", {}, timezone=zone)
    before = datetime.now(store_zone(zone)).date()
    run = cli("monthly", "--client", "nodata", "--json")
    after = datetime.now(store_zone(zone)).date()
    review = doc(run)
    assert run.code == 0 and review["as_of"] in (before.isoformat(), after.isoformat()), (review["as_of"], zone)
    assert review["target_changes"] and all(not p["enough_history"] and not p.get("proposed")
                                            for p in review["target_changes"])
    assert review["plays_to_retire"] == [] and review["plays_to_add"] == []
    assert "- none this month" in review["case_study"] and "- no evidence yet" in review["case_study"]
    assert Path(review["case_study_path"]).read_text(encoding="utf-8") == review["case_study"]


def test_half_a_month_of_data_proposes_no_target_and_says_why(chimera_home: Path) -> None:
    ctx = analytics_client("half", 15)
    end = START + timedelta(days=14)
    review = doc(cli("monthly", "--client", "half", "--as-of", end.isoformat(), "--json"))
    sessions = next(p for p in review["target_changes"] if p["kpi"] == "sessions")
    assert sessions["enough_history"] is False and not sessions.get("proposed")
    assert len(sessions["weekly_values"]) < 6 and f"only {len(sessions['weekly_values'])} of the last 8" in \
        sessions["reason"]
    shown = cli("monthly", "--client", "half", "--as-of", end.isoformat())
    assert shown.code == 0 and "no target change proposed (not enough history yet)" in shown.stdout
    assert "Target changes proposed" not in shown.stdout
    assert all(k.id in shown.stdout for k in ctx.configs.kpis.kpis)
    early = doc(cli("monthly", "--client", "half", "--as-of", (START - timedelta(days=1)).isoformat(), "--json"))
    assert all(not p["weekly_values"] and not p.get("proposed") for p in early["target_changes"])
    assert early["plays_to_retire"] == [] and early["plays_to_add"] == []
    assert "no KPI could be judged" in early["case_study"]


# --- TRAIN_AGENT counts a run as the review does -----------------------------------------------------


def test_train_agent_waits_for_every_kpi_of_a_run_before_counting_it(chimera_home: Path) -> None:
    """A run whose aov shows no change while its net_revenue is still pending is not a failure yet (the
    evidence's own review count waits too); runs only confounded or inconclusive say nothing either."""
    from agents.context import CycleContext
    from agents.training import train
    from chimera.db.models import PlayRun

    ctx = analytics_client("trainer", 20)
    day = START + timedelta(days=19)
    with session_scope() as s:
        for i, verdicts in enumerate([("no_detectable_change", "pending"), ("no_detectable_change", "pending"),
                                      ("confounded", "inconclusive")]):
            run = PlayRun(company_id=ctx.company_id, play_id="pricing_test", as_of=day, status="executed",
                          executed_on=day - timedelta(days=10 + i), source="manual")
            s.add(run)
            s.flush()
            for kpi, verdict in zip(("aov", "net_revenue"), verdicts, strict=True):
                s.add(EvidenceRecord(company_id=ctx.company_id, play_run_id=run.id, play_id="pricing_test",
                                     correlation_id=run.correlation_id, kpi=kpi, executed_on=run.executed_on,
                                     verdict=verdict))
        s.flush()
        result = train(s, CycleContext(client=ctx, as_of=day, run_id="t"))
        row = s.exec(select(Play).where(Play.play_id == "pricing_test")).first()
        assert "pricing_test" not in result["play_records"], result
        assert row is None or not row.under_review


# --- several clients in one database -------------------------------------------------------------------


def test_a_broken_or_empty_client_neither_stops_nor_pollutes_another(chimera_home: Path) -> None:
    """Client ``good`` checked alone, then beside ``empty`` (no data, a stuck job of its own) and
    ``broken`` (kpis.yml no longer valid): its daily and monthly documents are the same; ``empty``'s
    check fails on its own missing data and re-queues only its own job; ``broken`` is refused in one
    line naming the file."""
    analytics_client("good", 35)
    today = (START + timedelta(days=35)).isoformat()
    month_end = (START + timedelta(days=34)).isoformat()

    def good() -> tuple[dict, dict]:
        daily = doc(cli("daily", "--client", "good", "--today", today, "--json"))
        monthly = doc(cli("monthly", "--client", "good", "--as-of", month_end, "--json"))
        return daily, monthly

    alone = good()
    empty = client_with("empty", {"analytics_daily": "exports/analytics_daily.csv"})
    stuck = _stuck_job(empty)
    broken = client_with("broken", {})
    kpis = broken.folder / "kpis.yml"
    kpis.write_text(kpis.read_text(encoding="utf-8") + "\nnot_a_field: 1\n", encoding="utf-8")
    for _ in range(2):
        bad = cli("daily", "--client", "broken", "--json")
        assert "kpis.yml" in bad.one_line_error()
        assert "kpis.yml" in cli("monthly", "--client", "broken", "--json").one_line_error()
        checked = cli("daily", "--client", "empty", "--today", today, "--json")
        assert checked.code == 1 and [f["source"] for f in doc(checked)["freshness"]] == ["analytics"]
        assert good() == alone
    with session_scope() as s:
        assert s.get(Job, stuck).status == "queued" and s.get(Job, stuck).company_id == empty.company_id
    assert doc(cli("daily", "--client", "good", "--today", today, "--json"))["ok"] is True


def test_a_play_already_gone_from_the_library_is_not_proposed_again(flat: tuple[ClientContext, date]) -> None:
    """A person retired stripe_fee_review from plays.yml (its review flag stays in the database): the
    review does not propose retiring it again."""
    import yaml

    ctx, end = flat
    with session_scope() as s:
        refresh_evidence(s, ctx, end)
    path = ctx.folder / "plays.yml"
    plays = yaml.safe_load(path.read_text(encoding="utf-8"))
    plays["plays"] = [p for p in plays["plays"] if p["id"] != "stripe_fee_review"]
    path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    run = cli("monthly", "--client", "flat", "--as-of", end.isoformat(), "--json")
    assert run.code == 0, run.stderr
    assert doc(run)["plays_to_retire"] == []


def _suggested(ctx: ClientContext, days: list[date], status: str = "suggested", play: str = "bundle_offer") -> None:
    """A run of ``play`` suggested by a cycle of each day (as the weekly cycle stores them; a silent
    cycle, a dry run, stores its runs as ``silent``)."""
    from chimera.db.models import PlayRun

    with session_scope() as s:
        for day in days:
            s.add(PlayRun(company_id=ctx.company_id, play_id=play, as_of=day, status=status))


def _attempted(study: str) -> list[str]:
    return study.split("## Plays attempted")[1].split("##")[0].strip().splitlines()


@pytest.mark.parametrize(("first", "second"), [(date(2026, 9, 30), date(2026, 10, 31)),
                                                (date(2026, 2, 28), date(2026, 3, 31)),
                                                (date(2026, 8, 8), date(2026, 9, 8))])
def test_consecutive_monthly_reviews_each_count_a_run_once(chimera_home: Path, first: date, second: date) -> None:
    """Reviews a month apart cover adjoining months: a run suggested on the first review's day is in that
    review only, one of the day after in the next only, and the header says which days a review covers."""
    ctx = analytics_client("months", 10, start=second - timedelta(days=9))
    _suggested(ctx, [first, first + timedelta(days=1)])
    one = doc(cli("monthly", "--client", "months", "--as-of", first.isoformat(), "--json"))["case_study"]
    two = doc(cli("monthly", "--client", "months", "--as-of", second.isoformat(), "--json"))["case_study"]
    assert [line for line in _attempted(one) if f"suggested {first}" in line] and \
        not [line for line in _attempted(one) if f"suggested {first + timedelta(days=1)}" in line]
    assert [line for line in _attempted(two) if f"suggested {first + timedelta(days=1)}" in line]
    assert not [line for line in _attempted(two) if f"suggested {first}" in line], two
    assert f"{first + timedelta(days=1)}..{second}" in two.splitlines()[0]


def test_a_silent_cycle_s_dry_run_is_not_a_play_attempted(chimera_home: Path) -> None:
    """A silent cycle (manual §10: test the data and logic) stores what it would suggest as ``silent``
    runs nobody can decide: the case study does not count them as plays attempted."""
    end = date(2026, 6, 30)
    ctx = analytics_client("dry", 10, start=end - timedelta(days=9))
    _suggested(ctx, [end - timedelta(days=7)], status="silent", play="winback_email")
    _suggested(ctx, [end - timedelta(days=3)])
    attempted = _attempted(doc(cli("monthly", "--client", "dry", "--as-of", end.isoformat(), "--json"))["case_study"])
    assert attempted == [f"- bundle_offer (suggested {end - timedelta(days=3)}, suggested)"], attempted


def test_a_case_study_of_a_month_with_no_data_does_not_read_as_all_fine(chimera_home: Path) -> None:
    """With no KPI judged at all, the problems section says nothing could be judged, not that no KPI is
    in WARNING or CRITICAL."""
    client_with("blank", {})
    study = doc(cli("monthly", "--client", "blank", "--as-of", "2026-05-31", "--json"))["case_study"]
    problems = study.split("## Problems")[1].split("##")[0]
    assert "no KPI in WARNING or CRITICAL" not in problems and "no KPI could be judged" in problems, problems


def _thin() -> tuple[ClientContext, str, list[str]]:
    """Sessions far below critical (1,400-odd a week) and the plays whose trigger reads sessions."""
    from chimera.config.models import trigger_kpis

    ctx = client_with("thin", {"analytics_daily": "exports/analytics_daily.csv"})
    ingest_file(ctx, write_analytics(ctx.folder / "exports" / "analytics_daily.csv", START, 35, sessions=200),
                "analytics_daily")
    end = (START + timedelta(days=34)).isoformat()
    status = {k["id"]: k["status"] for k in doc(cli("kpis", "--client", "thin", "--as-of", end, "--json"))["kpis"]}
    assert status["sessions"] == "CRITICAL"
    readers = [p.id for p in ctx.configs.plays.plays if "sessions" in trigger_kpis(p.trigger)]
    assert readers
    return ctx, end, readers


def _asked(end: str) -> list[dict]:
    return [a for a in doc(cli("monthly", "--client", "thin", "--as-of", end, "--json"))["plays_to_add"]
            if a["kpi"] == "sessions"]


def test_a_flagged_kpi_whose_plays_are_all_under_review_asks_for_a_play(chimera_home: Path) -> None:
    """The library's plays whose trigger reads sessions cover it; once every one of them is under
    review (never suggested, manual §8.3) the review asks for a new play and names them."""
    ctx, end, readers = _thin()
    assert _asked(end) == []
    with session_scope() as s:
        for pid in readers:
            s.add(Play(company_id=ctx.company_id, play_id=pid, record={}, under_review=True, review_reason="r"))
    (add,) = _asked(end)
    assert add["status"] == "CRITICAL" and all(pid in add["reason"] for pid in readers), add


def test_a_play_needing_a_kpi_without_triggering_on_it_does_not_cover_it(chimera_home: Path) -> None:
    """A play that lists sessions among its ``kpis`` (what it needs) but triggers on something else is
    never set off by sessions: the review asks for a play."""
    import yaml

    ctx, end, readers = _thin()
    path = ctx.folder / "plays.yml"
    plays = yaml.safe_load(path.read_text(encoding="utf-8"))
    for play in plays["plays"]:
        if play["id"] in readers:
            play["trigger"] = {"kpi": "aov", "below": 1}
            play["kpis"] = ["sessions"]
    path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    (add,) = _asked(end)
    assert "no play's trigger reads it" in add["reason"]


def test_after_a_cleared_review_two_new_failures_put_the_play_back_under_review(chimera_home: Path) -> None:
    """As a cycle does it: each run's evidence is logged and counted on the play's record
    (``record_verdict``), then TRAIN_AGENT rebuilds the record. A person clears the review; the policy's
    two failures after that put the play back under review, the first one counted though it was logged
    before TRAIN_AGENT ran."""
    from agents.context import CycleContext
    from agents.training import train
    from chimera.db.models import PlayRun
    from chimera.plays.review import clear_review, record_verdict

    ctx = analytics_client("again", 20)
    day = START + timedelta(days=19)
    limit = ctx.configs.plays.policy.review_after_failures
    direction = next(k.direction for k in ctx.configs.kpis.kpis if k.id == "aov")
    cycle = CycleContext(client=ctx, as_of=day, run_id="t")

    def fail_once(s, i: int) -> None:
        run = PlayRun(company_id=ctx.company_id, play_id="pricing_test", as_of=day, status="executed",
                      executed_on=day - timedelta(days=60 - i), source="manual")
        s.add(run)
        s.flush()
        s.add(EvidenceRecord(company_id=ctx.company_id, play_run_id=run.id, play_id="pricing_test",
                             correlation_id=run.correlation_id, kpi="aov", executed_on=run.executed_on,
                             verdict="no_detectable_change"))
        record_verdict(s, ctx.company_id, "pricing_test", "no_detectable_change", limit, direction=direction)

    def row(s) -> Play:
        return s.exec(select(Play).where(Play.play_id == "pricing_test")).one()

    with session_scope() as s:
        for i in range(limit):
            fail_once(s, i)
        train(s, cycle)
        assert row(s).under_review
        clear_review(s, ctx.company_id, "pricing_test", "alice", "new price points")
        for i in range(limit):
            assert not row(s).under_review, f"under review after {i} new failure(s)"
            fail_once(s, limit + i)
            train(s, cycle)
        assert row(s).under_review and row(s).record["failures_since_review"] == limit, row(s).record


# --- currencies with 3 and 0 decimals -------------------------------------------------------------------


def write_orders(path: Path, start: date, days: int, currency: str, prices: list[Decimal]) -> Path:
    """A hand-written Shopify orders export (DATA.md's columns, one line item per order), 3 to 6 orders a day."""
    rows = ["Name,Email,Financial Status,Currency,Subtotal,Shipping,Taxes,Total,Discount Amount,Created at,"
            "Cancelled at,Refunded Amount,Lineitem quantity,Lineitem price"]
    n = 1000
    for i in range(days):
        day = start + timedelta(days=i)
        for j in range(3 + i % 4):
            n += 1
            qty, price = 1 + (i + j) % 3, prices[(i * 5 + j) % len(prices)]
            rows.append(f"#{n},c{(i * 3 + j) % 40}@example.test,paid,{currency},{price * qty},0,0,{price * qty},0,"
                        f"{day} 10:{j:02d}:00 +0300,,0,{qty},{price}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("currency", "prices", "places"), [
    ("KWD", [Decimal("4.125"), Decimal("7.350"), Decimal("12.005")], 3),
    ("JPY", [Decimal(1200), Decimal(3450), Decimal(980)], 0)])
def test_target_changes_keep_the_currency_s_own_decimals(chimera_home: Path, currency: str, prices: list[Decimal],
                                                         places: int) -> None:
    """A dinar store's net sales are in fils (3 decimals) and a yen store's in whole yen: a proposed
    target is money of that currency, not cents of it."""
    name = currency.lower()
    ctx = client_with(name, {}, timezone="Asia/Kuwait", currency=currency)
    ingest_file(ctx, write_orders(ctx.folder / "orders.csv", START, 70, currency, prices), "shopify_orders")
    end = (START + timedelta(days=69)).isoformat()
    review = doc(cli("monthly", "--client", name, "--as-of", end, "--json"))
    (net_sales,) = [p for p in review["target_changes"] if p["kpi"] == "net_sales"]
    assert net_sales["proposed"], net_sales
    assert all(Decimal(v).as_tuple().exponent == -places for v in net_sales["proposed"].values()), net_sales


def test_the_readable_check_names_each_export_that_could_not_be_read(chimera_home: Path) -> None:
    """The newest cycle's ingest could not read one export: the JSON lists it, and a person reading the
    check (not the JSON) sees the file and why, not only a count on stderr."""
    ctx = analytics_client("unread", 35, also={"stripe_payments": "exports/stripe.csv"})
    with session_scope() as s:
        job = enqueue(s, ctx.company_id, "INGEST_METRICS", "infra_commander_ai", idempotency_key="ingest:unread")
        job.status, job.result = "succeeded", {"failed": [
            {"kind": "stripe_payments", "file": "stripe.csv", "error": "stripe.csv: no such file"}]}
        s.add(job)
    today = (START + timedelta(days=35)).isoformat()
    report = doc(cli("daily", "--client", "unread", "--today", today, "--json"))
    assert [(f["source"], f["file"], f["error"]) for f in report["failed_ingests"]] == [
        ("stripe_payments", "stripe.csv", "stripe.csv: no such file")]
    shown = cli("daily", "--client", "unread", "--today", today)
    assert shown.code == 1 and "stripe.csv: no such file" in shown.stdout, shown.stdout


def test_a_person_s_words_reach_the_readable_case_study_as_written(chimera_home: Path) -> None:
    """A decision's reason is free text: brackets in it are the person's words, not terminal markup (one
    closing tag crashed the readable review, another vanished)."""
    from chimera.db.models import Decision, PlayRun

    end = date(2026, 6, 30)
    ctx = analytics_client("words", 10, start=end - timedelta(days=9))
    why = "A/B on [bold] bundles, see [/b] notes"
    with session_scope() as s:
        run = PlayRun(company_id=ctx.company_id, play_id="bundle_offer", as_of=end - timedelta(days=2),
                      status="approved")
        s.add(run)
        s.flush()
        s.add(Decision(company_id=ctx.company_id, play_run_id=run.id, kind="approve", who="alice", why=why))
    assert why in doc(cli("monthly", "--client", "words", "--as-of", end.isoformat(), "--json"))["case_study"]
    shown = cli("monthly", "--client", "words", "--as-of", end.isoformat())
    assert shown.code == 0 and f"approve by alice: {why}" in " ".join(shown.stdout.split()), shown
