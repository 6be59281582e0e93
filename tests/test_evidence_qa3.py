"""Evidence as a new user met it (QA pass 3): the table rounded a count's mean per day its own way
("210.2 per day -> 210 per day") beside a reason saying 210.21 and 210.00; a before-window with
holes was "not compared" yet showed an effect and an interval; and ``chimera play log`` run again
for a logged run without ``--note`` wiped the stored note without saying it updated that run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert
from sqlmodel import select

from chimera.cli.app import out as cli_out
from chimera.clients import ClientContext, add_client
from chimera.db.engine import session_scope
from chimera.db.models import EvidenceRecord, MetricPoint, PlayRun
from chimera.evidence.record import shown_value, shown_values
from chimera.llm.guard import check_numbers
from tests.test_decisions_cli import chimera  # the CLI in process, both streams captured

START, EXECUTED = date(2026, 5, 1), date(2026, 7, 1)
END = EXECUTED + timedelta(days=40)  # the 28-day after-window is over
ODD_DAY = EXECUTED - timedelta(days=10)  # in the before-window: 216 orders, every other day 210


@pytest.fixture
def shop(chimera_home: Path, monkeypatch: pytest.MonkeyPatch) -> ClientContext:
    """210 orders a day (216 on one before-window day: a mean of 210.2142... before, 210 after) and
    3079.75 of net sales a day."""
    monkeypatch.setattr(cli_out, "_width", 200)  # the table's cells on one line each, whatever the terminal
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    ctx = add_client("qa3")
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]
    rows = [{"company_id": ctx.company_id, "metric": m, "day": d, "source": "shopify", "value": v}
            for d in days for m, v in (("orders", "216" if d == ODD_DAY else "210"), ("net_sales", "3079.75"))]
    with session_scope() as s:
        s.execute(insert(MetricPoint), rows)
    return ctx


def _log_and_judge(ctx: ClientContext) -> dict[str, dict[str, Any]]:
    logged = chimera("play", "log", "pricing_test", "--client", ctx.name, "--executed-on", str(EXECUTED),
                     "--kpis", "orders,net_sales", "--json")
    assert logged.code == 0, logged.stderr
    judged = chimera("evidence", "--client", ctx.name, "--as-of", str(END), "--json")
    assert judged.code == 0, judged.stderr
    return {e["kpi"]: e for e in json.loads(judged.stdout)["evidence"]}


# --- 1. the same figures in the table, the reason and the chat ------------------------------------


def test_table_and_reason_show_the_same_figures(shop: ClientContext) -> None:
    records = _log_and_judge(shop)
    orders, sales = records["orders"], records["net_sales"]
    assert (orders["before"], orders["after"]) == ("210.21", "210.00")
    # the table rounded a count's mean its own way: "210.2 per day -> 210 per day"
    assert shown_values(orders) == ("210.21 per day", "210.00 per day")
    assert shown_values(sales) == ("3,079.75 per day", "3,079.75 per day")  # money to the cent
    for e in (orders, sales):
        before, after = shown_values(e)
        assert f"{e['kpi']} {before} over " in e["reason"] and f" vs {after} over " in e["reason"], e["reason"]
    table = chimera("evidence", "--client", shop.name, "--as-of", str(END))
    assert table.code == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "210.21 per day -> 210.00 per day" in text and "3,079.75 per day -> 3,079.75 per day" in text
    assert "210.2 per day" not in text and "210 per day" not in text


def test_the_chat_shows_the_figures_the_cli_shows(shop: ClientContext) -> None:
    from agents.tools import Toolbox
    from graphs.chat import _evidence

    _log_and_judge(shop)
    text, _outputs = _evidence(Toolbox(shop, END), "pricing_test")
    assert "| 210.21 per day | 210.00 per day |" in text, text
    assert "| 3,079.75 per day | 3,079.75 per day |" in text, text


def test_the_html_report_shows_the_figures_the_cli_shows(shop: ClientContext) -> None:
    from chimera.report.html import render_report

    _log_and_judge(shop)
    html = render_report(shop, END)
    evidence = html[html.index('id="evidence"'):html.index("</section>", html.index('id="evidence"'))]
    assert '<td class="num">210.21 per day</td><td class="num">210.00 per day</td>' in evidence
    assert '<td class="num">3,079.75 USD per day</td><td class="num">3,079.75 USD per day</td>' in evidence
    assert "210.2 per day" not in evidence and ">210 per day" not in evidence


def test_the_guard_passes_honest_answers_quoting_either_form(shop: ClientContext) -> None:
    records = _log_and_judge(shop)
    outputs = [list(records.values())]
    for answer in ("Orders went from 210.21 to 210.00 per day after pricing_test.",
                   "Orders went from 210.2 to 210 per day after pricing_test.",
                   "Net sales stayed at 3,079.75 per day.", "Net sales stayed at 3079.75 per day."):
        result = check_numbers(answer, outputs)
        assert result.ok, (answer, result.offending)
    assert not check_numbers("Orders went from 212.40 to 210.00 per day.", outputs).ok  # still a guard


def test_shown_value_keeps_the_stored_places_and_percent_as_the_kpi_table() -> None:
    assert shown_value("210.00", "count") == "210.00"
    assert shown_value("1.7234", "ratio") == "1.7234"
    assert shown_value("12345.60", "currency") == "12,345.60"
    assert shown_value("0.016900", "percent") == "1.69%"
    assert shown_value(None, "count") == "-"
    assert shown_value("n/a", "count") == "n/a"


# --- 2. a window with holes is not compared, and shows no effect or interval ------------------------


def test_a_window_with_holes_shows_no_effect_or_interval(shop: ClientContext, tmp_path: Path) -> None:
    with session_scope() as s:
        s.execute(delete(MetricPoint).where(MetricPoint.metric == "orders",  # type: ignore[arg-type]
                                            MetricPoint.day == EXECUTED - timedelta(days=3)))  # type: ignore[arg-type]
    records = _log_and_judge(shop)
    orders = records["orders"]
    assert orders["verdict"] == "inconclusive"
    assert "a window with holes is not compared" in orders["reason"], orders["reason"]
    assert "no effect or interval is given" in orders["reason"]
    assert (orders["effect_pct"], orders["ci_low_pct"], orders["ci_high_pct"]) == (None, None, None)
    assert any(c["kind"] == "data_gap" for c in orders["confounders"])
    with session_scope() as s:
        stored = s.exec(select(EvidenceRecord).where(EvidenceRecord.kpi == "orders")).one()
        assert stored.effect_pct is None and stored.details["test"]["p_noise"] is None
    assert records["net_sales"]["effect_pct"] is not None, "a KPI whose windows are whole is still compared"
    table = chimera("evidence", "--client", shop.name, "--as-of", str(END))
    lines = table.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "inconclusive" in line)
    row = "\n".join(lines[at:at + 2])  # values, then the effect under them
    assert "%" not in row and " - " in lines[at + 1], row  # no effect, no interval: the reason says why
    report = tmp_path / "report.html"
    made = chimera("report", "--client", shop.name, "--as-of", str(END), "--out", str(report))
    assert made.code == 0, made.stderr
    html = report.read_text()
    evidence = html[html.index('id="evidence"'):]
    cells = evidence[evidence.index("<td>orders</td>"):]
    cells = cells[:cells.index("</tr>")]
    assert '<td class="num">—</td><td class="num">—</td>' in cells, cells
    assert "a window with holes is not compared" in cells


# --- 3. play log again: the note is kept, and it says it updated the run ---------------------------


def _note(ctx: ClientContext) -> tuple[int, str]:
    with session_scope() as s:
        runs = s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id)).all()
        return len(runs), runs[0].explanation["note"]


def test_logging_a_run_again_keeps_its_note_and_says_it_was_updated(shop: ClientContext) -> None:
    args = ("play", "log", "pricing_test", "--client", shop.name, "--executed-on", str(EXECUTED))
    first = chimera(*args, "--note", "raised prices 10 %")
    assert first.code == 0 and first.stdout.startswith("logged a new run: pricing_test"), first.stdout
    again = chimera(*args, "--json")
    assert again.code == 0, again.stderr
    said = json.loads(again.stdout)
    assert said["updated"] is True and said["note"] == "raised prices 10 %"
    assert _note(shop) == (1, "raised prices 10 %"), "a re-log without --note wiped the stored note"
    text = chimera(*args)
    assert text.stdout.startswith(f"updated the run logged on {said['logged_on']} (id {said['play_run_id']})")
    assert "note kept" in text.stdout
    replaced = chimera(*args, "--note", "raised prices 12 %")
    assert "note replaced" in replaced.stdout and _note(shop) == (1, "raised prices 12 %")


def _run(ctx: ClientContext) -> dict[str, Any]:
    with session_scope() as s:
        [run] = s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id)).all()
        return dict(run.explanation)


def test_a_re_log_keeps_the_kpis_and_who_ran_it_and_records_who_updated(shop: ClientContext) -> None:
    """Was: a re-log to fix the note reset --kpis to the play's defaults (its evidence judged other KPIs)
    and made the person fixing it the one who ran it."""
    args = ("play", "log", "pricing_test", "--client", shop.name, "--executed-on", str(EXECUTED))
    assert chimera(*args, "--kpis", "orders", "--who", "alice", "--note", "raised prices 10 %").code == 0
    fixed = chimera(*args, "--note", "raised prices 12 %", "--json")
    said = json.loads(fixed.stdout)
    assert (said["kpis"], said["who"], said["note"]) == (["orders"], "alice", "raised prices 12 %")
    assert said["changed"] == ["note"]
    stored = _run(shop)
    assert (stored["evidence_kpis"], stored["who"]) == (["orders"], "alice")
    [update] = stored["updates"]
    assert update["changed"] == ["note"] and update["by"] and update["by"] != "alice", "the OS user fixed it"
    text = chimera(*args, "--kpis", "aov,orders", "--who", "bob")
    assert "note kept, KPIs replaced (who ran it replaced)" in text.stdout and "by bob" in text.stdout
    stored = _run(shop)
    assert (stored["evidence_kpis"], stored["who"], stored["note"]) == (["aov", "orders"], "bob", "raised prices 12 %")
    assert [u["changed"] for u in stored["updates"]] == [["note"], ["kpis", "who"]]
    assert stored["updates"][-1]["by"] == "bob"
    same = json.loads(chimera(*args, "--json").stdout)
    assert same["changed"] == [] and same["kpis"] == ["aov", "orders"]


def test_a_new_run_says_so_in_json(shop: ClientContext) -> None:
    logged = chimera("play", "log", "bundle_offer", "--client", shop.name, "--executed-on", str(EXECUTED), "--json")
    said = json.loads(logged.stdout)
    assert said["updated"] is False and said["note"] == "" and said["logged_on"]
