"""What a new user met on an 80-column terminal (QA pass 3): the play run id cut from a suggestion's
panel, a "chimera ingest FILE" hint that did not run as printed, metrics / jobs / evidence / cycle
--all tables whose every value read "1…" or "INGEST_M / ETRICS", "before > after" on a rise, the
report showing a later same-day cycle that hid the decided plays, and ``kpis --calibrate`` in a
script ending "aborted" with exit 1."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from chimera.cli import _register, app
from chimera.cli.cmd_evidence import confounder_summary
from chimera.cli.cmd_jobs import jobs_table
from chimera.cli.cmd_metrics import days_that_fit
from chimera.cli.render import data_problem_lines, play_panel
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.db.models import CycleRun, PlayRun
from chimera.evidence.record import log_manual_play
from chimera.report.data import latest_cycle
from tests.cycle_fixtures import AS_OF, shop  # noqa: F401 - fixture
from tests.test_report import ingested  # noqa: F401 - fixture (the shop, ingested)


def _rendered(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_suggestion_panel_shows_its_whole_id_on_80_columns() -> None:
    panel = play_panel({"rank": 2, "label": "Win-back email to lapsed customers", "owner": "growth_commander_ai",
                        "play_run_id": "9cbf5a74eb6e", "reason": "r", "why_rank": "w", "evidence_kpis": ["aov"],
                        "delay_days": 28, "reversible": True})
    title = _rendered(panel).splitlines()[0]
    assert "id 9cbf5a74eb6e" in title  # was "... — id 9cbf─": the id to approve was cut


def test_rejected_rows_hint_is_a_command_that_runs_as_printed(shop: str) -> None:  # noqa: F811 - fixture
    problems = [{"file": "orders_export.csv", "problem": "rows rejected", "rejected": 3}]
    (line,) = data_problem_lines(problems, shop)
    path = get_client(shop).folder / "exports" / "orders_export.csv"
    assert f"chimera ingest {path} --client {shop} lists each" in line  # was "chimera ingest orders_export.csv"
    assert path.exists()


def test_metrics_table_keeps_only_the_newest_days_that_fit() -> None:
    metrics = {"net_sales": {f"2026-10-{d:02d}": "1234.50" for d in range(1, 15)},
               "orders": {f"2026-10-{d:02d}": 31 for d in range(1, 15)}}
    days = sorted(metrics["net_sales"])
    kept = days_that_fit(metrics, days, 80)
    assert kept == days[-len(kept):] and 3 <= len(kept) < 14  # the newest days, each whole
    assert days_that_fit(metrics, days, 400) == days
    assert days_that_fit(metrics, days, 10) == days[-1:]  # never an empty table


def test_jobs_table_never_breaks_a_type_or_status_on_80_columns() -> None:
    rows = [{"id": 7, "type": "PLAN_JOB_QUEUE_FOR_PLAY", "owner": "product_commander_ai", "bot": "shopify_bot",
             "action": "simplify_checkout_settings", "status": "awaiting_approval", "attempts": 1,
             "correlation_id": "770db846d1b34e4f827c7f6f943cbdcb"},
            {"id": 13, "type": "INGEST_METRICS", "owner": "infra_commander_ai", "bot": "", "action": "",
             "status": "succeeded", "attempts": 1, "correlation_id": ""}]
    text = _rendered(jobs_table(rows, 80))
    assert max(len(line) for line in text.splitlines()) <= 80
    for whole in ("PLAN_JOB_QUEUE_FOR_PLAY", "awaiting_approval", "INGEST_METRICS", "succeeded"):
        assert whole in text, whole
    assert "correlation ids: chimera jobs --json" in text
    assert "770db846d1b34e4f827c7f6f943cbdcb" in _rendered(jobs_table(rows, 200), 200)  # wide: every field


def test_confounders_name_each_kind_once() -> None:
    confounders = [{"kind": "data_gap", "what": "net_sales"}, {"kind": "data_gap", "what": "orders"},
                   {"kind": "overlapping_play", "what": "traffic_recovery"}]
    assert confounder_summary(confounders) == "gap in net_sales, orders; play traffic_recovery"


def test_evidence_table_shows_before_arrow_after(ingested: ClientContext) -> None:  # noqa: F811 - fixture
    _register("play")
    with session_scope() as session:
        log_manual_play(session, ingested, "pricing_test", date(2026, 3, 6), who="qa")
    result = CliRunner().invoke(app, ["evidence", "--client", ingested.name], terminal_width=80)
    assert result.exit_code == 0, result.output
    table = result.stdout.split("\npricing_test / aov:")[0]  # the table, before the reasons in words
    assert "before ->" in table and " -> " in table.split("─")[-1]  # in the header and the rows
    assert " > " not in table  # "229.78 per day > 294.20 per day" read as a false comparison


def test_report_shows_the_days_cycle_that_suggested_plays(shop: str) -> None:  # noqa: F811 - fixture
    ctx = get_client(shop)
    with session_scope() as s:
        live = CycleRun(company_id=ctx.company_id, as_of=AS_OF, status="completed")
        s.add(live)
        s.flush()
        s.add(PlayRun(company_id=ctx.company_id, run_id=live.id, play_id="pricing_test", as_of=AS_OF,
                      owner="commerce_commander_ai", status="approved"))
        s.flush()
        later = CycleRun(company_id=ctx.company_id, as_of=AS_OF, status="completed", silent=True)
        s.add(later)  # a --silent run the same day: it held the decided plays back, suggested none
        s.flush()
        assert latest_cycle(s, ctx.company_id, AS_OF).id == live.id
        newer = CycleRun(company_id=ctx.company_id, as_of=date.fromordinal(AS_OF.toordinal() + 1), status="completed")
        s.add(newer)  # a later day's cycle is the latest, plays or not
        s.flush()
        assert latest_cycle(s, ctx.company_id, newer.as_of).id == newer.id


def test_calibrate_without_an_answer_writes_nothing_and_exits_0(ingested: ClientContext) -> None:  # noqa: F811
    _register("kpis")
    path: Path = ingested.folder / "kpis.yml"
    before = path.read_text()
    result = CliRunner().invoke(app, ["kpis", "--client", ingested.name, "--calibrate"], input="")
    assert result.exit_code == 0, result.output  # was "aborted", exit 1, in a script or cron job
    assert "nothing written" in result.stdout and "--yes" in result.stderr
    assert path.read_text() == before


def test_cycle_all_table_keeps_the_day_and_counts_whole(ingested: ClientContext,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import chimera.cli.cmd_cycle as cmd_cycle

    _register("cycle")
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cmd_cycle, "out", console)
    result = CliRunner().invoke(app, ["cycle", "--all", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    text = console.export_text()
    row = next(line for line in text.splitlines() if ingested.name in line)
    assert AS_OF.isoformat() in row and "…" not in row  # was "2026-04…" and "14/0/3…"
    assert "KPIs: OK / WARNING / CRITICAL / UNKNOWN" in text


def test_evidence_confounders_stay_whole_on_80_columns(ingested: ClientContext,  # noqa: F811 - fixture
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A column of their own was cropped to 5 letters ("confo", "drive") on 80 columns."""
    from chimera.cli import cmd_evidence

    confounders = [{"kind": "driver_anomaly", "what": "conversion_rate"},
                   {"kind": "overlapping_play", "what": "free_shipping_threshold"}]
    report = {"as_of": "2026-04-30", "evidence": [{
        "play": "checkout_friction_audit", "kpi": "refund_rate_amount", "executed_on": "2026-03-06",
        "play_run_id": "5edd6c9e875e", "before": "3129.40", "after": "3155.01", "unit": "currency",
        "effect_pct": 0.8, "ci_low_pct": -7.4, "ci_high_pct": 10.0, "verdict": "no_detectable_change",
        "confounders": confounders, "reason": ""}]}
    monkeypatch.setattr(cmd_evidence, "evidence_report", lambda ctx, day: report)
    _register("evidence")
    result = CliRunner().invoke(app, ["evidence", "--client", ingested.name], terminal_width=80)
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\nmethod:")[0].splitlines()  # the table (the method line is soft-wrapped)
    assert max(map(len, lines)) <= 80
    column = next(line.index("verdict,") for line in lines if "verdict," in line)
    cells = "".join(line[column:].strip() for line in lines)  # the verdict column, read down
    for word in ("no_detectable_change", "conversion_rate", "free_shipping_threshold"):
        assert word in cells, (word, result.stdout)
