"""The chat says what the CLI says: why the default as-of is the day before the newest data (a day
still in progress at its ingest is left out) and why each evidence verdict was reached, offline and
with every figure taken from the tool outputs."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import func, select

from agents.tools import Toolbox
from chimera.as_of import default_day, store_zone
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.db.models import IngestRun, MetricPoint
from chimera.evidence.record import last_data_day, log_evidence, log_manual_play
from chimera.ingest import ingest_file
from chimera.llm.guard import check_numbers
from graphs import chat
from tests.cycle_fixtures import START
from tests.test_app_handlers import USERS, FakeUI, message

PRICE_TEST_DAY = START + timedelta(days=60)  # the generated store's price test (tests/cycle_fixtures.py)


def _ingest(name: str, skip: tuple[str, ...] = ()) -> ClientContext:
    """Ingest the client's exports (but the kinds in ``skip``)."""
    ctx = get_client(name)
    for src in ctx.config.sources:
        if src.kind not in skip:
            ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    return ctx


WHOLE = ("stripe_payments",)  # without Stripe, whose UTC days run past the store's last day (a part day)


def _ingested_during_newest_day(ctx: ClientContext) -> date:
    """Backdate the ingests of the newest day to 10:00 of that day (a morning export); its day."""
    with session_scope() as s:
        newest = s.exec(select(func.max(MetricPoint.day)).where(MetricPoint.company_id == ctx.company_id)).one()
        at = datetime.combine(newest, time(10), store_zone(ctx.config.timezone)).astimezone(UTC)
        for run in s.exec(select(IngestRun).where(IngestRun.company_id == ctx.company_id,
                                                  IngestRun.last_day >= newest)):  # type: ignore[operator]
            run.created_at = at
            s.add(run)
    return newest


@pytest.fixture
def morning(shop: str) -> tuple[ClientContext, str]:
    """The generated client whose newest day was ingested while it was going on, and the note."""
    ctx = _ingest(shop)
    newest = _ingested_during_newest_day(ctx)
    with session_scope() as s:
        note = default_day(s, ctx.company_id, ctx.config.timezone).note
    assert note.startswith(f"{newest} is left out")
    return ctx, note


def _body(text: str) -> str:
    """A reply without its offline label (the label names the backend, no figures from tools)."""
    return text.split("\n\n", 1)[1] if text.startswith("_Offline") else text


def test_toolbox_judges_the_same_default_day_and_its_kpis_carry_the_note(morning) -> None:
    ctx, note = morning
    tb = Toolbox(ctx)
    with session_scope() as s:
        assert tb.as_of == last_data_day(s, ctx)
    assert tb.as_of_note == note
    kpis = tb.call("kpi_statuses", {})  # what a commander's model receives
    assert kpis and all(k["as_of_note"] == note for k in kpis)


def test_no_note_when_the_newest_day_was_whole_or_the_day_is_given(shop: str) -> None:
    ctx = _ingest(shop, skip=WHOLE)
    assert Toolbox(ctx).as_of_note == ""
    assert all("as_of_note" not in k for k in Toolbox(ctx).kpi_statuses())
    _ingested_during_newest_day(ctx)
    given = Toolbox(ctx, as_of=START + timedelta(days=100))
    assert given.as_of_note == "" and all("as_of_note" not in k for k in given.kpi_statuses())


@pytest.mark.parametrize("question", ["KPI status", "Show conversion rate", "why is conversion rate down?"])
def test_kpi_views_show_the_note_offline(morning, question: str) -> None:
    ctx, note = morning
    reply = chat.answer(ctx, "evidence_commander_ai", question)
    assert reply.offline and reply.text.startswith("_Offline")
    assert note in reply.text


def test_kpi_status_figures_come_from_the_tool_output(morning) -> None:
    ctx, note = morning
    body, facts = chat._kpis(Toolbox(ctx))
    assert note in body
    verdict = check_numbers(body, facts)
    assert verdict.ok, verdict.offending


def test_cycle_outcome_says_why_it_judged_the_day_before() -> None:
    from graphs.models import CycleOutcome
    from graphs.ui_models import outcome_markdown

    outcome = CycleOutcome(client="shop", as_of=date(2026, 4, 25), run_id="r1", status="completed", silent=False,
                           kpis=[], plays=[], jobs=[], model={"backend": "offline"}, pending=[], narratives=[],
                           as_of_note="2026-04-26 is left out: ...")
    assert "2026-04-26 is left out: ..." in outcome_markdown(outcome)
    assert "left out" not in outcome_markdown(outcome.model_copy(update={"as_of_note": ""}))


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHIMERA_CHAT_HISTORY", "off")
    monkeypatch.setenv("CHIMERA_USERS", USERS)
    return importlib.import_module("app")


async def test_chat_cycle_and_kpi_status_show_the_note(app, morning) -> None:
    _ctx, note = morning
    ui = FakeUI("alice")
    await app.on_chat_start()
    await app.on_message(message("Run the weekly cycle"))
    assert note in ui.text(), "the cycle's outcome says why it judged the day before"
    await app.on_message(message("KPI status"))
    assert ui.text().count(note) >= 2 and "Offline" in ui.text()


@pytest.fixture
def judged(shop: str) -> ClientContext:
    """The generated client with its price test logged and judged (real reasons and confounders:
    a bundle offer ran a week into the test)."""
    ctx = _ingest(shop)
    with session_scope() as s:
        log_manual_play(s, ctx, "bundle_offer", PRICE_TEST_DAY + timedelta(days=7))
        run = log_manual_play(s, ctx, "pricing_test", PRICE_TEST_DAY, kpis=["aov", "net_revenue", "conversion_rate"])
        log_evidence(s, ctx, run, last_data_day(s, ctx) or PRICE_TEST_DAY)
    return ctx


def test_evidence_tool_output_has_reasons_and_confounders_in_words(judged) -> None:
    rows = Toolbox(judged).call("evidence", {})
    assert rows and all(r["reason"].startswith(f"{r['kpi']} ") for r in rows)
    confounders = [c for r in rows for c in r["confounders"]]
    assert confounders and all(c["kind"] and c["what"] and c["note"] for c in confounders)


def test_show_evidence_gives_each_verdicts_reason_and_confounders_offline(judged) -> None:
    reply = chat.answer(judged, "evidence_commander_ai", "Show evidence")
    assert reply.offline and reply.text.startswith("_Offline")
    rows = Toolbox(judged).evidence()
    for r in rows:
        assert r["reason"] in reply.text
        for c in r["confounders"]:
            assert f"{c['kind']} {c['what']}" in reply.text and c["note"] in reply.text
    assert "{'kind'" not in reply.text, "confounders in words, never raw dicts"


def test_show_evidence_figures_come_from_the_tool_output(judged) -> None:
    body, facts = chat._evidence(Toolbox(judged), None)
    verdict = check_numbers(_body(body), facts)
    assert verdict.ok, verdict.offending


def test_evidence_view_of_a_record_judged_before_reasons_were_kept() -> None:
    from graphs.chat import _evidence_lines

    old = {"play": "p", "kpi": "aov", "executed_on": "2026-01-01", "before": "1", "after": "2", "effect_pct": 1.0,
           "ci_low_pct": 0.5, "ci_high_pct": 1.5, "verdict": "moved_up", "reason": "",
           "confounders": [{"kind": "overlapping_play", "what": "bundle_offer"}]}
    text = "\n".join(_evidence_lines([old]))
    assert "overlapping_play bundle_offer" in text and "None" not in text


def test_offline_evidence_narrative_names_reason_and_confounders() -> None:
    from agents.offline import narrate

    record = {"play_id": "pricing_test", "kpi": "net_revenue", "verdict": "confounded",
              "confounders": [{"kind": "driver_anomaly", "what": "conversion_rate", "note": "conversion fell 25%"}],
              "details": {"reason": "net_revenue 10 over A vs 11 over B: a driver moved"}}
    text = narrate("Evidence", "LOG_EVIDENCE", {"evidence": [record]})
    assert "offline" in text and "a driver moved" in text and "driver_anomaly conversion_rate" in text


def test_chat_says_offline_without_a_key(shop: str) -> None:
    ctx = _ingest(shop)
    for question in ("KPI status", "Show evidence", "Today's checks"):
        reply = chat.answer(ctx, "evidence_commander_ai", question)
        assert reply.offline and "Offline" in reply.text and "no model" in reply.text


async def test_pending_plays_reoffered_in_a_new_tab_say_why_their_day(app, morning) -> None:
    from graphs.service import run_cycle

    _ctx, note = morning
    await __import__("asyncio").to_thread(run_cycle, _ctx.name)
    ui = FakeUI("alice", sid="s-new-tab")
    await app.on_chat_start()
    assert ui.actions() and note in ui.text(), "a re-offered play's KPI values are of the day before"


def test_a_model_answer_on_kpis_shows_the_note(morning, fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, note = morning
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    fake_openai.push({"text": "Conversion is below its warning level; look at checkout first."})
    reply = chat.answer(ctx, "growth_commander_ai", "why is conversion rate down?")
    assert not reply.offline, reply.text
    assert "look at checkout first" in reply.text and note in reply.text
