"""Every view that judges the default day says why it is the day before the newest data when that
day was still in progress at its ingest (a morning export): the cycle's EVALUATE_KPIS step, the
chat's 'why was this play suggested' and 'Today's checks', `chimera daily`, `chimera monthly`,
`chimera evidence` and the HTML report. A whole newest day, or a day given, adds nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from chimera.as_of import default_day
from chimera.cli import _register
from chimera.cli import app as cli
from chimera.clients import ClientContext
from chimera.db.engine import session_scope
from chimera.db.models import Job
from chimera.kpi.evaluate import evaluate_kpis
from chimera.rhythms import daily_check
from graphs import chat
from graphs.service import run_cycle
from tests import test_chat_notes
from tests.test_chat_notes import WHOLE, _ingest, _ingested_during_newest_day

runner = CliRunner()  # stdout and stderr apart
_register()
morning = test_chat_notes.morning  # the client whose newest day was ingested at 10:00 that day, and the note


def test_evaluate_step_result_and_narrative_carry_the_note(morning) -> None:
    ctx, note = morning
    outcome = run_cycle(ctx.name)
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.run_id == outcome.run_id, Job.type == "EVALUATE_KPIS")).one()
        result = dict(job.result)
    assert result["as_of_note"] == note
    assert note in result["narrative"]["text"]
    told = [n["text"] for n in outcome.narratives if n["type"] == "EVALUATE_KPIS"]
    assert told and note in told[0], "chimera cycle prints the step's narrative"


def test_evaluate_step_without_note_when_the_day_is_given(morning) -> None:
    ctx, _note = morning
    outcome = run_cycle(ctx.name, as_of=left_out(ctx))
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.run_id == outcome.run_id, Job.type == "EVALUATE_KPIS")).one()
        assert "as_of_note" not in job.result and "left out" not in job.result["narrative"]["text"]


def left_out(ctx: ClientContext) -> date:
    """The newest day, the one the default as-of leaves out."""
    with session_scope() as s:
        return default_day(s, ctx.company_id, ctx.config.timezone).left_out


def test_offline_evaluate_narrative_names_the_note() -> None:
    from agents.offline import narrate

    text = narrate("Evidence", "EVALUATE_KPIS", {"kpis": [], "as_of_note": "2026-04-26 is left out: why"})
    assert "2026-04-26 is left out: why" in text
    assert "left out" not in narrate("Evidence", "EVALUATE_KPIS", {"kpis": []})


def test_why_was_a_play_suggested_says_why_its_day(morning) -> None:
    ctx, note = morning
    outcome = run_cycle(ctx.name)
    assert outcome.plays, "the generated store's conversion drop triggers a play"
    play = outcome.plays[0]["play"]
    reply = chat.answer(ctx, "evidence_commander_ai", f"Why was {play} suggested?")
    assert reply.intent == "why" and note in reply.text


def test_daily_check_judges_the_default_day_and_says_why(morning) -> None:
    ctx, note = morning
    now = datetime.combine(left_out(ctx) + timedelta(days=3), time(9), UTC)
    report = daily_check(ctx, now=now)
    assert report.as_of_note == note and report.today == now.date(), "today is the store's date, not the data's"
    shopify = next(f for f in report.freshness if f.source == "shopify")
    assert shopify.days_behind == (now.date() - shopify.last_day).days and shopify.ok, "within the allowance"
    later = daily_check(ctx, now=now + timedelta(days=30))
    assert not later.ok and all(not f.ok for f in later.freshness), "an export that stopped arriving is stale"
    judged = evaluate_kpis(ctx, store=False)  # the default day, as chimera kpis judges it
    assert [k["id"] for k in report.critical] == [k.id for k in judged.kpis if k.status == "CRITICAL"]
    assert "as_of_note" in report.to_json()
    reply = chat.answer(ctx, "evidence_commander_ai", "Today's checks")
    assert reply.intent == "daily" and note in reply.text


def test_daily_check_without_note_for_a_whole_day_or_a_given_today(shop: str) -> None:
    ctx = _ingest(shop, skip=WHOLE)
    report = daily_check(ctx)
    assert report.as_of_note == "" and "as_of_note" not in report.to_json()
    _ingested_during_newest_day(ctx)
    assert daily_check(ctx, today=report.today).as_of_note == ""


def _invoke(*args: str):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def _json(result) -> dict:
    return json.loads(result.stdout)


@pytest.mark.parametrize("command", ["daily", "monthly", "evidence"])
def test_cli_prints_the_note_on_stderr_and_carries_it_in_json(morning, command: str) -> None:
    ctx, note = morning
    shown = _invoke(command, "--client", ctx.name)
    assert note in " ".join(shown.stderr.split())
    doc = _json(_invoke(command, "--client", ctx.name, "--json"))
    assert doc["as_of_note"] == note


@pytest.mark.parametrize("command", ["daily", "monthly", "evidence"])
def test_cli_json_has_no_note_when_the_day_is_given(morning, command: str) -> None:
    ctx, _note = morning
    day = left_out(ctx)
    flag = "--today" if command == "daily" else "--as-of"
    given = (day + timedelta(days=1)) if command == "daily" else day
    doc = _json(_invoke(command, "--client", ctx.name, flag, given.isoformat(), "--json"))
    assert "as_of_note" not in doc


def test_report_shows_the_note_by_its_as_of(morning, tmp_path: Path) -> None:
    ctx, note = morning
    path = tmp_path / "r.html"
    _invoke("report", "--client", ctx.name, "--out", str(path))
    html = path.read_text(encoding="utf-8")
    header = html[html.index("<header>"):html.index("</header>")]
    assert escape(note) in header
    given = tmp_path / "given.html"
    _invoke("report", "--client", ctx.name, "--out", str(given), "--as-of", left_out(ctx).isoformat())
    assert "left out" not in given.read_text(encoding="utf-8")


def test_a_model_narrative_that_leaves_the_note_out_gets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model explains the EVALUATE_KPIS step without saying its day is the day before the newest
    data: the note is added after its (guarded) text, never twice, and not where there is none."""
    import agents.llm_commander
    from agents.commander import Commander
    from chimera.config.loader import load_config_set
    from chimera.llm.models import Narrative

    said = Narrative(text="Conversion is CRITICAL; the rest is OK.", source="model")
    monkeypatch.setattr(agents.llm_commander, "model_narrative", lambda *_a, **_k: said)
    cmd = Commander(load_config_set(Path(__file__).parents[1] / "configs").agents.commanders[0])
    note = "2026-04-26 is left out: its export was taken at 10:00 that day"
    story = cmd.narrate(None, Job(type="EVALUATE_KPIS"), {"kpis": [], "as_of_note": note})  # type: ignore[arg-type]
    assert story.source == "model" and story.text.startswith(said.text) and story.text.endswith(f"{note}.")
    said.text = f"Judged to 2026-04-25 because {note}."
    assert cmd.narrate(None, Job(type="EVALUATE_KPIS"), {"as_of_note": note}).text == said.text  # type: ignore[arg-type]
    assert cmd.narrate(None, Job(type="EVALUATE_KPIS"), {"kpis": []}).text == said.text  # type: ignore[arg-type]
