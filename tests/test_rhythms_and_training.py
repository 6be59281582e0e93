"""Daily and monthly rhythms, the worker pass, TRAIN_AGENT's play records and the review rule."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from agents.context import CycleContext
from agents.training import train
from chimera.cli import _register, app
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import EvidenceRecord, Job, Play, PlayRun
from chimera.plays.review import clear_review
from chimera.rhythms import daily_check, monthly_review
from graphs.service import decide, run_cycle, run_due_jobs
from tests.cycle_fixtures import AS_OF

_register()
runner = CliRunner()


def _fail(s, company_id: int, play_id: str, n: int) -> None:
    for i in range(n):
        run = PlayRun(company_id=company_id, play_id=play_id, as_of=AS_OF, status="executed",
                      executed_on=AS_OF - timedelta(days=60 + i), source="manual")
        s.add(run)
        s.flush()
        s.add(EvidenceRecord(company_id=company_id, play_run_id=run.id, play_id=play_id,
                             correlation_id=run.correlation_id, kpi="aov", executed_on=run.executed_on,
                             verdict="no_detectable_change"))


def test_train_agent_puts_a_repeatedly_failing_play_under_review_and_clearing_counts_afresh(shop: str) -> None:
    ctx = get_client(shop)
    cctx = CycleContext(client=ctx, as_of=AS_OF, run_id="t")
    with session_scope() as s:
        _fail(s, ctx.company_id, "pricing_test", 2)
        result = train(s, cctx)
        assert result["play_records"]["pricing_test"] == {"runs": 2, "moved": 0, "failed": 2}
        assert result["sop_files"] >= 0
        row = s.exec(select(Play).where(Play.play_id == "pricing_test")).one()
        assert row.under_review and "2 times" in row.review_reason
        train(s, cctx)  # idempotent: recomputed from evidence, not incremented
        assert s.exec(select(Play).where(Play.play_id == "pricing_test")).one().record["runs"] == 2
        clear_review(s, ctx.company_id, "pricing_test", "alice", "new price points")
        train(s, cctx)
        assert not s.exec(select(Play).where(Play.play_id == "pricing_test")).one().under_review
        _fail(s, ctx.company_id, "pricing_test", 2)
        train(s, cctx)
        assert s.exec(select(Play).where(Play.play_id == "pricing_test")).one().under_review


def test_a_play_under_review_is_not_suggested(shop: str) -> None:
    first = run_cycle(shop, as_of=AS_OF, silent=True)
    play = first.plays[0]["play"]
    ctx = get_client(shop)
    with session_scope() as s:
        _fail(s, ctx.company_id, play, 2)
    again = run_cycle(shop, as_of=AS_OF - timedelta(days=1), silent=True)
    assert play not in [p["play"] for p in again.plays]


def test_daily_check_reports_a_cycle_whose_export_could_not_be_read(shop: str) -> None:
    """A missing export never becomes an ingest run, yet ingestion did not complete (manual §6.1):
    the daily check names it and its error, and is not OK. The cycle went on with the other
    exports (manual §8.1, data gaps); with none readable, the ingest step fails."""
    from graphs import chat

    ctx = get_client(shop)
    run_cycle(shop, as_of=AS_OF)
    assert daily_check(ctx, today=AS_OF + timedelta(days=1)).failed_ingests == []
    assert len(ctx.config.sources) > 1
    sources = [ctx.folder / src.path for src in ctx.config.sources]
    source = sources[0]
    source.rename(source.with_suffix(".gone"))
    try:
        went_on = run_cycle(shop, as_of=AS_OF + timedelta(days=1))
        assert went_on.status != "failed" and went_on.kpis
        assert [(p["file"], p["problem"]) for p in went_on.data_problems] == [(source.name, "not read")]
        assert went_on.to_json()["data_problems"] == went_on.data_problems
        shown = runner.invoke(app, ["cycle", "--client", shop, "--as-of", (AS_OF + timedelta(days=1)).isoformat()],
                              env={"COLUMNS": "250"})
        assert f"{source.name} not read" in shown.stdout and "its KPIs read stale" in shown.stdout, shown.stdout
        ingest = next(j for j in went_on.jobs if j["type"] == "INGEST_METRICS")
        assert ingest["status"] == "succeeded"
        with session_scope() as s:
            result = s.get(Job, ingest["id"]).result
        assert [f["file"] for f in result["failed"]] == [source.name]
        assert {x["file"] for x in result["sources"]} == {p.name for p in sources[1:]}  # the others ingested
        report = daily_check(ctx, today=AS_OF + timedelta(days=2))
        [entry] = report.failed_ingests
        assert not report.ok and entry["file"] == source.name and source.name in entry["error"], entry
        assert source.name in chat.answer(ctx, "evidence_commander_ai", "Today's checks").text
        for other in sources[1:]:
            other.rename(other.with_suffix(".gone"))
        try:
            failed = run_cycle(shop, as_of=AS_OF + timedelta(days=2))
            assert failed.status == "failed"
            [entry] = daily_check(ctx, today=AS_OF + timedelta(days=3)).failed_ingests
            assert all(p.name in entry["error"] for p in sources), entry
        finally:
            for other in sources[1:]:
                other.with_suffix(".gone").rename(other)
    finally:
        source.with_suffix(".gone").rename(source)


def test_daily_check_reports_freshness_critical_kpis_and_requeues_stuck_jobs(shop: str) -> None:
    outcome = run_cycle(shop, as_of=AS_OF)
    ctx = get_client(shop)
    with session_scope() as s:
        job = s.get(Job, outcome.jobs[0]["id"])
        job.status, job.lease_until = "running", job.created_at - timedelta(hours=1)
        s.add(job)
    report = daily_check(ctx, today=AS_OF + timedelta(days=1))
    assert {f.source for f in report.freshness} >= {"shopify", "analytics"}
    assert [j["id"] for j in report.stuck_jobs_requeued] == [outcome.jobs[0]["id"]]
    assert not report.ok
    stale = daily_check(ctx, today=AS_OF + timedelta(days=30))
    assert not any(f.ok for f in stale.freshness)


def test_monthly_review_writes_a_case_study(shop: str, chimera_home: Path) -> None:
    outcome = run_cycle(shop, as_of=AS_OF)
    decide(outcome.pending[0].play_run_id, "approve", who="alice")
    review = monthly_review(get_client(shop), AS_OF)
    assert review.case_study.startswith("# Case study: shop")
    assert outcome.pending[0].play_id in review.case_study and "approve by alice" in review.case_study
    result = runner.invoke(app, ["monthly", "--client", shop, "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert Path(payload["case_study_path"]).read_text().startswith("# Case study")
    shown = runner.invoke(app, ["monthly", "--client", shop, "--as-of", AS_OF.isoformat()], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "{'" not in shown.stdout, "a person reads a table, not a Python dict"
    proposed = [p for p in payload["target_changes"] if p["enough_history"] and p["proposed"]]
    assert proposed and "Target changes proposed" in shown.stdout
    assert all(p["kpi"] in shown.stdout for p in payload["target_changes"])


def test_a_monthly_review_of_an_earlier_day_reads_only_what_was_known_then(shop: str) -> None:
    """Replayed with --as-of, the case study lists no play suggested after that day and judges the
    evidence with that day's data, writing nothing (the stored verdicts stay the newest)."""
    early = AS_OF - timedelta(days=35)
    first = run_cycle(shop, as_of=early)
    decide(first.pending[0].play_run_id, "approve", who="alice")
    later = run_cycle(shop, as_of=AS_OF)
    with session_scope() as s:
        stored = sorted((e.play_run_id, e.kpi, e.verdict, e.as_of) for e in s.exec(select(EvidenceRecord)))
    assert stored and all(v != "pending" for _, _, v, _ in stored), stored  # judged with the later data
    review = monthly_review(get_client(shop), early)
    attempted = review.case_study.split("## Plays attempted")[1].split("##")[0]
    assert f"(suggested {early}" in attempted and f"(suggested {AS_OF}" not in attempted
    assert "approve by alice)" in attempted  # no reason given: no dangling colon
    results = review.case_study.split("## Results")[1]
    assert first.pending[0].play_id in results and ": pending" in results, results
    assert all(p.play_id not in attempted for p in later.pending if p.play_id not in
               {x.play_id for x in first.pending})
    with session_scope() as s:
        assert sorted((e.play_run_id, e.kpi, e.verdict, e.as_of) for e in s.exec(select(EvidenceRecord))) == stored


def test_worker_runs_evidence_jobs_once_their_delay_is_over(shop: str) -> None:
    outcome = run_cycle(shop, as_of=AS_OF)
    decide(outcome.pending[0].play_run_id, "approve", who="alice")
    assert run_due_jobs(shop, as_of=AS_OF)["evidence_jobs_run"] == []
    later = run_due_jobs(shop, as_of=AS_OF + timedelta(days=200))
    assert later["evidence_jobs_run"], "the scheduled LOG_EVIDENCE job ran"
    result = runner.invoke(app, ["worker", "--client", shop, "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passes"][0]["client"] == shop, "stdout holds only the JSON document"
    assert f"{shop}:" in result.stderr, "each client's outcome line goes to stderr, beside the JSON"


def test_clear_review_cli_needs_a_reason_and_a_known_play(shop: str) -> None:
    bad = runner.invoke(app, ["play", "clear-review", "pricing_tset", "--client", shop, "--reason", "x"])
    assert bad.exit_code != 0
