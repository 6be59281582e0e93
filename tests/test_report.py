"""KPI trend charts and the offline HTML report, on a store from the project's seeded generator."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
from sqlmodel import delete, select
from typer.testing import CliRunner

import chimera.cli.cmd_report  # noqa: F401 - registers the command
from chimera.cli.app import app
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.db.models import CycleRun, Decision, MetricPoint, PlayRun
from chimera.errors import ConfigError
from chimera.evidence.models import METHOD
from chimera.evidence.record import evidence_report, log_manual_play
from chimera.ingest import ingest_file
from chimera.kpi.evaluate import evaluate_kpis
from chimera.report import kpi_trend_figure, render_report, trend_figure, write_report
from chimera.report.charts import TrendPoint, kpi_spec
from tests.cycle_fixtures import AS_OF, shop  # noqa: F401 - fixture

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def ingested(shop: str) -> ClientContext:  # noqa: F811 - fixture
    ctx = get_client(shop)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    return ctx


def _trace(fig, name: str):
    return next(t for t in fig.data if t.name == name)


def _value_trace(fig, ctx: ClientContext, kpi_id: str):
    spec = kpi_spec(ctx, kpi_id)
    return _trace(fig, f"{spec.label} ({spec.window})")


# --------------------------------------------------------------------------- charts


def test_trend_has_one_point_per_day_and_the_threshold_lines(ingested: ClientContext) -> None:
    fig = kpi_trend_figure(ingested, "conversion_rate", as_of=AS_OF, days=60)
    spec = kpi_spec(ingested, "conversion_rate")
    line = _value_trace(fig, ingested, "conversion_rate")
    assert len(line.x) == 60
    assert [date.fromisoformat(str(d)[:10]) for d in (line.x[0], line.x[-1])] == [AS_OF - timedelta(days=59), AS_OF]
    for name in ("target", "warning", "critical"):
        level = _trace(fig, name)
        assert set(level.y) == {float(getattr(spec, name))}
        assert len(level.x) == 2
    assert "Conversion rate" in fig.layout.title.text and spec.window in fig.layout.title.text


def test_trend_values_and_marks_are_the_evaluators_own(ingested: ClientContext) -> None:
    fig = kpi_trend_figure(ingested, "conversion_rate", as_of=AS_OF, days=30)
    line = _value_trace(fig, ingested, "conversion_rate")
    by_day = {date.fromisoformat(str(x)[:10]): y for x, y in zip(line.x, line.y, strict=True)}
    marked = {date.fromisoformat(str(x)[:10]) for t in fig.data if t.name in ("WARNING", "CRITICAL") for x in t.x}
    for day in (AS_OF, AS_OF - timedelta(days=4), AS_OF - timedelta(days=20)):
        k = evaluate_kpis(ingested, day, store=False).by_id("conversion_rate")
        assert k.data_through == day
        if k.status == "UNKNOWN":
            assert by_day[day] is None
        else:
            assert by_day[day] == pytest.approx(float(k.value))
        assert (day in marked) == (k.status in ("WARNING", "CRITICAL"))


def test_days_without_data_are_gaps_never_zeros(ingested: ClientContext) -> None:
    hole = AS_OF - timedelta(days=15)
    with session_scope() as s:
        s.exec(delete(MetricPoint).where(MetricPoint.company_id == ingested.company_id,
                                         MetricPoint.metric == "sessions", MetricPoint.day == hole))
    fig = kpi_trend_figure(ingested, "conversion_rate", as_of=AS_OF, days=40)
    line = _value_trace(fig, ingested, "conversion_rate")
    window = kpi_spec(ingested, "conversion_rate").window
    span = int(window.rstrip("d"))
    gaps = {date.fromisoformat(str(x)[:10]) for x, y in zip(line.x, line.y, strict=True) if y is None}
    assert {hole + timedelta(days=i) for i in range(span)} <= gaps
    assert all(y is None or y > 0 for y in line.y)
    for t in fig.data:  # no other trace puts a value on the hole's windows either
        if t.name.startswith("value, not judged"):
            assert all(y is None for x, y in zip(t.x, t.y, strict=True) if date.fromisoformat(str(x)[:10]) in gaps
                       and date.fromisoformat(str(x)[:10]) < hole + timedelta(days=span))


def test_percent_and_money_axes(ingested: ClientContext) -> None:
    rate = kpi_trend_figure(ingested, "conversion_rate", as_of=AS_OF, days=20)
    assert rate.layout.yaxis.tickformat.endswith("%")
    assert all(y is None or 0 < y < 1 for y in _value_trace(rate, ingested, "conversion_rate").y)
    money = kpi_trend_figure(ingested, "net_revenue", as_of=AS_OF, days=20)
    currency = ingested.config.currency
    assert currency in money.layout.yaxis.ticksuffix and currency in money.layout.yaxis.title.text
    assert not (money.layout.yaxis.tickformat or "").endswith("%")


def test_anomaly_band_surrounds_its_baseline(ingested: ClientContext) -> None:
    fig = kpi_trend_figure(ingested, "orders", as_of=AS_OF, days=45)
    bands = [t for t in fig.data if t.name.startswith("anomaly band")]
    assert bands and all(t.fill == "toself" for t in bands)
    for t in bands:  # each closed shape: upper edge forward, lower edge back
        n = len(t.y) // 2
        assert all(hi >= lo for hi, lo in zip(t.y[:n], reversed(t.y[n:]), strict=True))


def test_figure_marks_statuses_and_unknown_days_from_points() -> None:
    from chimera.config.models import KPI

    spec = KPI(id="aov", label="AOV", unit="currency", direction="higher_is_better", formula="net_sales / orders",
               target=Decimal(50), warning=Decimal(40), critical=Decimal(30), owner="commerce_commander_ai")
    start = date(2026, 3, 1)
    statuses = ["OK", "UNKNOWN", "WARNING", "CRITICAL", "OK"]
    points = [TrendPoint(day=start + timedelta(days=i), status=s,
                         value=None if s == "UNKNOWN" else Decimal(45 - 5 * i)) for i, s in enumerate(statuses)]
    fig = trend_figure(spec, points, currency="EUR")
    line = _trace(fig, "AOV (7d)")
    assert list(line.y) == [45.0, None, 35.0, 30.0, 25.0]
    assert list(_trace(fig, "WARNING").y) == [35.0] and list(_trace(fig, "CRITICAL").y) == [30.0]
    assert "EUR" in fig.layout.yaxis.ticksuffix


def test_unknown_kpi_names_the_file_and_the_choices(ingested: ClientContext) -> None:
    with pytest.raises(ConfigError, match=r"kpis\.yml.*conversion_rat.*expected one of"):
        kpi_trend_figure(ingested, "conversion_rat")


# --------------------------------------------------------------------------- the report


def _kpi_row(html: str, kpi_id: str) -> str:
    match = re.search(rf'<tr class="row-\w+" id="kpi-{kpi_id}">(.*?)</tr>', html, re.S)
    assert match, kpi_id
    return match.group(0)


def test_report_is_self_contained_with_plotly_once(ingested: ClientContext) -> None:
    html = render_report(ingested, AS_OF)
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?https?:", html, re.I)
    assert html.count(get_plotlyjs()) == 1
    report = evaluate_kpis(ingested, AS_OF, store=False)
    for k in report.kpis:
        assert f'st-{k.status}">{k.status}<' in _kpi_row(html, k.id)
    charted = {k.id for k in report.kpis if k.status in ("WARNING", "CRITICAL")} | {"net_revenue", "aov"}
    for kpi_id in charted:
        assert html.count(f'id="trend-{kpi_id}"') == 1
    assert METHOD in html and "numbers computed deterministically" in html


def test_report_shows_plays_decisions_jobs_and_evidence(shop: str) -> None:  # noqa: F811 - fixture
    from graphs.service import decide, pending_decisions, run_cycle

    outcome = run_cycle(shop, as_of=AS_OF)
    first = outcome.pending[0]
    decide(first.play_run_id, "approve", who="alice", why="worth a try")
    for rest in pending_decisions(shop):
        decide(rest.play_run_id, "reject", who="carol", why=f"not now {SCRIPT}")
    ctx = get_client(shop)
    with session_scope() as s:
        log_manual_play(s, ctx, "checkout_friction_audit", AS_OF - timedelta(days=45), note="by hand")
    evidence = evidence_report(ctx, AS_OF)["evidence"]
    assert evidence

    html = render_report(ctx, AS_OF)
    assert f'id="play-{first.play_run_id}"' in html and "alice" in html and "worth a try" in html
    assert SCRIPT not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    with session_scope() as s:
        runs = s.exec(select(PlayRun).where(PlayRun.run_id == outcome.run_id)).all()
    for run in runs:
        assert f'id="play-{run.id}"' in html
    assert "EXECUTE_PLAY_" in html
    section = html[html.index('id="evidence"'):]
    for e in evidence:
        assert f"<td>{e['play']}</td><td>{e['kpi']}</td><td class=d>{e['executed_on']}</td>" in section
        assert e["verdict"] in section
    row = section[section.index("<td>checkout_friction_audit</td>"):]
    assert "per day" not in row[:row.index("</tr>")], "conversion is a ratio: its values are not means per day"


def test_a_sum_kpis_evidence_reads_per_day(ingested: ClientContext) -> None:
    """net_revenue's before/after are means per day: beside the KPI table's weekly totals, the
    report says so (as chimera evidence and the chat do)."""
    with session_scope() as s:
        log_manual_play(s, ingested, "pricing_test", AS_OF - timedelta(days=45), kpis=["net_revenue"])
    [e] = evidence_report(ingested, AS_OF, persist=False)["evidence"]
    assert e["value_kind"] == "mean per day"
    section = render_report(ingested, AS_OF)
    section = section[section.index('id="evidence"'):]
    row = section[section.index("<td>pricing_test</td>"):]
    assert row[:row.index("</tr>")].count(" per day</td>") == 2


def test_play_text_is_escaped(ingested: ClientContext) -> None:
    with session_scope() as s:
        run = CycleRun(company_id=ingested.company_id, kind="cycle", as_of=AS_OF, status="completed")
        s.add(run)
        s.flush()
        play = PlayRun(company_id=ingested.company_id, run_id=run.id, play_id="bundle_offer", as_of=AS_OF, rank=1,
                       explanation={"label": f"Bundle {SCRIPT}", "reason": f"<b>{SCRIPT}</b>",
                                    "trigger": [f"aov < 40 & {SCRIPT}"]})
        s.add(play)
        s.flush()
        s.add(Decision(company_id=ingested.company_id, play_run_id=play.id, kind="reject",
                       who='"><img src=x onerror=alert(1)>', why=SCRIPT))
    html = render_report(ingested, AS_OF)
    assert SCRIPT not in html and "<img src=x" not in html and "<b><script" not in html
    assert html.count("&lt;script&gt;alert(") >= 4
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_cli_writes_the_report_and_prints_its_path(ingested: ClientContext, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", "--client", ingested.name, "--out", str(target),
                                      "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert str(target.resolve()) in result.output.replace("\n", "")
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and f"as of <b>{AS_OF}</b>" in text
    bad = CliRunner().invoke(app, ["report", "--client", ingested.name, "--out", str(target), "--as-of", "26/04"])
    assert bad.exit_code != 0


def test_write_report_without_a_cycle_says_so(ingested: ClientContext, tmp_path: Path) -> None:
    path = write_report(ingested.name, tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert "No weekly cycle has run yet" in html and "No executed play has evidence yet" in html
