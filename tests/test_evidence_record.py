"""LOG_EVIDENCE on the realistic sample store: the price test moves AOV, the conversion drop
confounds revenue, quiet dates show no change, and re-running refreshes instead of duplicating.

Dates and sizes come from the store's ground_truth.json, never typed in here.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import func, select

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.db.models import EvidenceRecord, Job, MetricPoint, Play, PlayRun
from chimera.errors import ConfigError, DecisionError
from chimera.evidence import evidence_report, log_evidence, log_manual_play

ANALYTICS = {"sessions": "sessions", "users": "users", "transactions": "ga_transactions", "revenue": "ga_revenue"}


def _load_store(company_id: int, folder: Path) -> None:
    """Base metrics as ingest writes them (shopify from expected_daily, analytics as exported)."""
    rows = []
    with (folder / "expected_daily.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            day = date.fromisoformat(r.pop("date"))
            r.pop("aov", None)
            rows += [{"company_id": company_id, "metric": m, "day": day, "source": "shopify", "value": v}
                     for m, v in r.items()]
    with (folder / "analytics_daily.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            day = date.fromisoformat(r["date"])
            rows += [{"company_id": company_id, "metric": m, "day": day, "source": "analytics", "value": r[c]}
                     for c, m in ANALYTICS.items() if c in r]
    with session_scope() as s:
        s.execute(insert(MetricPoint), rows)


@pytest.fixture
def truth(sample_store: Path) -> dict:
    data = json.loads((sample_store / "ground_truth.json").read_text())
    return {t["id"]: t for t in data["truths"]} | {"_window": data["window"]}


@pytest.fixture
def shop(chimera_home: Path, sample_store: Path):
    ctx = add_client("alder")
    _load_store(ctx.company_id, sample_store)
    return ctx


def _price_test(truth: dict) -> tuple[str, date]:
    t = truth["price_test_play"]
    return t["play"], date.fromisoformat(t["executed"])


def _end(truth: dict) -> date:
    return date.fromisoformat(truth["_window"]["end"])


def _log(shop, play: str, day: date, kpis=None, as_of: date | None = None):
    with session_scope() as s:
        run = log_manual_play(s, shop, play, day, kpis=kpis, note="test")
        return {r.kpi: r for r in log_evidence(s, shop, run, as_of or day + timedelta(days=60))}, run


def test_price_test_moves_aov_and_revenue_is_confounded(shop, truth) -> None:
    play, executed = _price_test(truth)
    records, run = _log(shop, play, executed, as_of=_end(truth))
    aov = records["aov"]
    assert aov.verdict == "moved_up", aov.details["reason"]
    assert aov.ci_low_pct > 0 and aov.ci_high_pct > aov.effect_pct > aov.ci_low_pct
    assert abs(aov.effect_pct - 100 * truth["price_test_play"]["design_relative_change"]) < 3
    assert aov.method == "before/after, no control group"
    assert aov.details["placebo"]["share_beaten"] >= 0.9 and aov.details["placebo"]["enough"]
    revenue = records["net_revenue"]
    assert revenue.verdict == "confounded", revenue.details["reason"]
    drop_start = date.fromisoformat(truth["conversion_rate_drop"]["start"])
    drivers = [c for c in revenue.confounders if c["kind"] == "driver_anomaly" and c["what"] == "conversion_rate"]
    assert drivers and date.fromisoformat(drivers[0]["first_day"]) >= drop_start
    assert all(r.correlation_id == run.correlation_id and r.play_run_id == run.id for r in records.values())
    assert records["aov"].details["decision"]["kind"] == "manual"


def _quiet_monday(truth: dict, window: int = 28) -> date:
    """The first Monday whose two windows fit in the data and touch none of the injected events."""
    events = [(date.fromisoformat(t["start"]), date.fromisoformat(t["end"])) for t in truth.values()
              if "start" in t and "end" in t and t.get("kind") != "seasonality" and "id" in t]
    events += [(date.fromisoformat(t["executed"]),) * 2 for t in truth.values() if "executed" in t]
    day = date.fromisoformat(truth["_window"]["start"]) + timedelta(days=window)
    while True:
        day += timedelta(days=(7 - day.weekday()) % 7 or 0)
        lo, hi = day - timedelta(days=window), day + timedelta(days=window - 1)
        if not any(s <= hi and e >= lo for s, e in events):
            return day
        day += timedelta(days=7)


def test_quiet_date_shows_no_detectable_change(shop, truth) -> None:
    play, _ = _price_test(truth)
    day = _quiet_monday(truth)
    records, _run = _log(shop, play, day, kpis=["aov"], as_of=_end(truth))
    assert list(records) == ["aov"]
    assert records["aov"].verdict == "no_detectable_change", records["aov"].details["reason"]
    assert records["aov"].ci_low_pct < 0 < records["aov"].ci_high_pct
    with session_scope() as s:  # a play that did not move its KPI counts as a failure (manual §8.3)
        state = s.exec(select(Play).where(Play.company_id == shop.company_id, Play.play_id == play)).one()
        assert state.record["failed"] == 1 and state.record["verdicts"] == ["no_detectable_change"]


def test_pending_until_the_delay_has_passed(shop, truth) -> None:
    play, executed = _price_test(truth)
    with session_scope() as s:
        run = log_manual_play(s, shop, play, executed)
        delay = shop.configs.play(play).evidence.delay_days
        early = log_evidence(s, shop, run, executed + timedelta(days=delay - 1))
        assert {r.verdict for r in early} == {"pending"}
        assert early[0].details["after_days_seen"] == delay
        late = log_evidence(s, shop, run, executed + timedelta(days=delay))
        assert "pending" not in {r.verdict for r in late}


def test_data_gap_in_a_window_is_inconclusive_and_flagged(shop, truth) -> None:
    gap = truth["analytics_data_gap"]
    gap_start = date.fromisoformat(gap["start"])
    play, _ = _price_test(truth)
    records, _run = _log(shop, play, gap_start + timedelta(days=7), kpis=["conversion_rate"], as_of=_end(truth))
    rec = records["conversion_rate"]
    assert rec.verdict == "inconclusive", rec.details["reason"]
    gaps = [c for c in rec.confounders if c["kind"] == "data_gap"]
    assert gaps and gaps[0]["what"] == "sessions" and gaps[0]["days"] == gap["days"]


def test_rerun_updates_never_duplicates_and_counts_the_verdict_once(shop, truth) -> None:
    play, executed = _price_test(truth)
    first, run = _log(shop, play, executed, as_of=_end(truth))
    with session_scope() as s:
        s.add(Job(company_id=shop.company_id, play_run_id=run.id, correlation_id=run.correlation_id,
                  type="EXECUTE_PLAY_COMMERCE", owner="commerce_commander_ai", idempotency_key=f"{run.id}:0"))
    with session_scope() as s:
        again = log_manual_play(s, shop, play, executed)
        assert again.id == run.id
        second = {r.kpi: r for r in log_evidence(s, shop, again, _end(truth))}
        n = s.exec(select(func.count()).select_from(EvidenceRecord)).one()
        assert n == len(first) == len(second)
        assert {k: r.effect_pct for k, r in first.items()} == {k: r.effect_pct for k, r in second.items()}
        assert second["aov"].details["jobs"][0]["type"] == "EXECUTE_PLAY_COMMERCE"
        state = s.exec(select(Play).where(Play.company_id == shop.company_id, Play.play_id == play)).one()
        assert state.record["runs"] == 1 and state.record["moved"] == 1


def test_overlapping_plays_confound_each_other(shop, truth) -> None:
    play, _ = _price_test(truth)
    day = _quiet_monday(truth)
    _log(shop, play, day, kpis=["aov"], as_of=_end(truth))
    records, _run = _log(shop, play, day + timedelta(days=10), kpis=["aov"], as_of=_end(truth))
    rec = records["aov"]
    assert rec.verdict == "confounded"
    assert [c["kind"] for c in rec.confounders] == ["overlapping_play"]


@pytest.mark.parametrize(("apart", "confounded"), [(27, True), (28, False)])
def test_a_play_in_force_over_both_windows_is_no_confounder(shop, truth, apart: int, confounded: bool) -> None:
    """A run executed on the before window's first day (28 days before, as a play scaled on the day its
    original's 28-day evidence fell due) is in force on every day compared: it shifts neither window.
    Was: confounded every time, so a scaled play's review stayed at 'keep watching'."""
    play, _ = _price_test(truth)
    day = _quiet_monday(truth)
    _log(shop, play, day, kpis=["aov"], as_of=_end(truth))
    records, _run = _log(shop, play, day + timedelta(days=apart), kpis=["aov"], as_of=_end(truth))
    kinds = [c["kind"] for c in records["aov"].confounders]
    assert ("overlapping_play" in kinds) is confounded, kinds


def test_report_shape_and_replay(shop, truth) -> None:
    play, executed = _price_test(truth)
    with session_scope() as s:
        log_manual_play(s, shop, play, executed)
        assert s.exec(select(func.count()).select_from(PlayRun)).one() == 1
    report = evidence_report(shop, _end(truth))
    assert report["client"] == "alder" and report["as_of"] == str(_end(truth))
    keys = {"play", "executed_on", "kpi", "before", "after", "effect_pct", "ci_low_pct", "ci_high_pct",
            "verdict", "confounders", "method"}
    assert report["evidence"] and all(keys <= set(e) for e in report["evidence"])
    assert {e["method"] for e in report["evidence"]} == {"before/after, no control group"}
    earlier = evidence_report(shop, executed + timedelta(days=3))
    assert {e["verdict"] for e in earlier["evidence"]} == {"pending"}
    assert evidence_report(shop, executed - timedelta(days=1))["evidence"] == []
    assert evidence_report(shop, _end(truth)) == report


def test_manual_play_refuses_unknown_names(shop) -> None:
    with session_scope() as s:
        with pytest.raises(ConfigError, match="no play 'pricing_tset'"):
            log_manual_play(s, shop, "pricing_tset", date(2026, 1, 1))
        with pytest.raises(ConfigError, match=r"unknown KPI 'aovv'.*did you mean 'aov'"):
            log_manual_play(s, shop, "pricing_test", date(2026, 1, 1), kpis=["aovv"])
        run = PlayRun(company_id=shop.company_id, play_id="pricing_test", as_of=date(2026, 1, 1))
        s.add(run)
        with pytest.raises(DecisionError, match="has not been executed"):
            log_evidence(s, shop, run, date(2026, 2, 1))


def test_a_nearby_play_on_unrelated_kpis_is_not_a_confounder(shop, truth) -> None:
    play, _ = _price_test(truth)
    day = _quiet_monday(truth)
    unrelated = next(k.id for k in shop.configs.kpis.kpis
                     if k.id != "aov" and k.id not in shop.configs.kpi("aov").drivers)
    _log(shop, play, day + timedelta(days=3), kpis=[unrelated], as_of=_end(truth))
    records, _run = _log(shop, play, day, kpis=["aov"], as_of=_end(truth))
    assert not [c for c in records["aov"].confounders if c["kind"] == "overlapping_play"]


# --------------------------------------------------------------------------- CLI


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    import sys

    from chimera.cli import _register, run

    _register()
    monkeypatch.setattr(sys, "argv", ["chimera", *args])
    code = run()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_play_log_and_evidence(shop, truth, monkeypatch, capsys) -> None:
    play, executed = _price_test(truth)
    code, out, _err = _cli(monkeypatch, capsys, "play", "log", play, "--client", "alder",
                           "--executed-on", str(executed), "--note", "raised prices 10 %", "--json")
    assert code == 0
    logged = json.loads(out)
    assert logged["play"] == play and logged["source"] == "manual" and logged["kpis"]
    code, out, _err = _cli(monkeypatch, capsys, "evidence", "--client", "alder", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["as_of"] == str(_end(truth))  # default: the newest day with data
    by_kpi = {e["kpi"]: e for e in report["evidence"]}
    assert set(by_kpi) == set(logged["kpis"])
    assert by_kpi["aov"]["verdict"] == "moved_up" and by_kpi["net_revenue"]["verdict"] == "confounded"
    code, out, _err = _cli(monkeypatch, capsys, "evidence", "--client", "alder")
    assert code == 0 and "before/after, no control group" in out and "moved_up" in out
    run = by_kpi["aov"]["play_run_id"]
    assert f"{play} (run {run}) / aov: {by_kpi['aov']['reason']}" in " ".join(out.split()), \
        "the table is followed by each why, naming the run (two runs of a play are told apart)"
    assert f"run {run}" in out.split("method:")[0]


def test_case_study_names_confounders_and_the_comparison(shop, truth) -> None:
    from chimera.rhythms import _case_study

    play, executed = _price_test(truth)
    by_kpi, _run = _log(shop, play, executed, as_of=_end(truth))
    study = _case_study("alder", _end(truth), [], [], list(by_kpi.values()), {})
    revenue = next(line for line in study.splitlines() if f"{play} on net_revenue" in line)
    assert "confounders: driver " in revenue and "{" not in revenue, "a confounder reads as words, not a dict"
    assert by_kpi["net_revenue"].details["reason"] in revenue


def test_cli_errors_are_one_line(shop, monkeypatch, capsys) -> None:
    code, _out, err = _cli(monkeypatch, capsys, "play", "log", "pricing_tset", "--client", "alder",
                           "--executed-on", "2026-01-05")
    assert code == 1 and "pricing_test" in err and "Traceback" not in err
    code, _out, err = _cli(monkeypatch, capsys, "play", "log", "pricing_test", "--client", "alder",
                           "--executed-on", "2026-13-05")
    assert code != 0 and "YYYY-MM-DD" in err
    code, _out, err = _cli(monkeypatch, capsys, "evidence", "--client", "nobody", "--json")
    assert code == 1 and "unknown client" in err


def test_evidence_on_postgres_is_the_same_and_idempotent(pg_url, sample_store, truth) -> None:
    ctx = add_client("alder")
    _load_store(ctx.company_id, sample_store)
    play, executed = _price_test(truth)
    first, _run = _log(ctx, play, executed, as_of=_end(truth))
    second, _ = _log(ctx, play, executed, as_of=_end(truth))
    assert first["aov"].verdict == "moved_up" and first["net_revenue"].verdict == "confounded"
    assert {k: r.id for k, r in first.items()} == {k: r.id for k, r in second.items()}
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(EvidenceRecord)).one() == len(first)


def test_windows_follow_the_plays_delay(shop, truth) -> None:
    other = next(p for p in shop.configs.plays.plays if p.evidence.delay_days != 28)
    day = _quiet_monday(truth, other.evidence.delay_days)
    records, _run = _log(shop, other.id, day, as_of=_end(truth))
    for rec in records.values():
        lo, hi = (date.fromisoformat(d) for d in rec.details["after_window"])
        assert rec.details["window_days"] == other.evidence.delay_days == (hi - lo).days + 1
        assert lo == day
