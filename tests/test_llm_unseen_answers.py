"""Model answers and server behaviours nobody had seen: figures glued to units, reasoning blocks,
JSON that is not an object, claims of having decided, tool calls without ids, odd usage blocks,
dropped connections, unknown models and keys. Each must end in an honest outcome, unchanged
deterministic decisions, counted usage, and no secret anywhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from sqlmodel import select

from agents.llm_commander import ask_commander
from agents.tools import Toolbox
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import Decision, Job
from chimera.llm import UsageTracker, guarded_narrative
from chimera.llm.fake import ScriptedChatModel
from chimera.llm.guard import check_numbers
from graphs.service import run_cycle
from tests import test_llm_http
from tests.cycle_fixtures import AS_OF, make_client
from tests.fake_openai_server import FakeOpenAI

ASK = [HumanMessage(content="How did the week go?")]
chat = test_llm_http.chat  # the fixture: the real ChatOpenAI client on the local fake server
FACTS = [{"kpi": "net_revenue", "value": "1234.50", "change_pct": -12.4, "day": "2026-04-20"}]


def _story(content: str, facts: list[Any] | None = None):
    model = ScriptedChatModel(responses=[AIMessage(content=content)])
    return guarded_narrative(model, ASK, FACTS if facts is None else facts, "OFFLINE")


def _commander(client: str, cid: str = "evidence_commander_ai"):
    return next(c for c in get_client(client).configs.agents.commanders if c.id == cid)


# -- the guard: figures written in ways it had not read ----------------------------------------------


@pytest.mark.parametrize("text", [
    "Revenue reached 98765USD.", "Revenue reached USD98765.", "Revenue reached EUR 98,765.",
    "Conversion rose 99pp.", "Revenue was 5e3 this week.", "Revenue was $2,026 this week.",
    "Revenue was 98,765 dollars.", "Revenue hit $5m.",
])
def test_figures_glued_to_a_unit_or_currency_code_are_checked(text: str) -> None:
    verdict = check_numbers(text, FACTS)
    assert not verdict.ok, f"{text!r} passed the guard"


@pytest.mark.parametrize("text", [
    "Revenue reached 1234.50USD.", "Revenue reached USD 1,234.50.", "Revenue fell 12.4pp.",
    "Over the 28d window revenue held.", "gpt-4o-mini wrote this.", "The 3rd week was calm.",
    "Sales on 2026-04-20 were 1.2k.", "In 2026 revenue was $1,234.50.",
])
def test_sourced_or_non_figures_in_those_forms_still_pass(text: str) -> None:
    facts = [*FACTS, {"window": "28d"}]
    assert check_numbers(text, facts).ok, check_numbers(text, facts).offending


# -- reasoning models ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    "<think>Maybe 77.7? Let me check 1234.5 again.</think>\nRevenue was $1,234.50.",
    "<thinking>77.7</thinking>Revenue was $1,234.50.",
    "The template opened the tag; 77.7 is a guess.</think>Revenue was $1,234.50.",
])
def test_reasoning_before_the_answer_is_neither_shown_nor_checked(content: str) -> None:
    story = _story(content)
    assert (story.source, story.text) == ("model", "Revenue was $1,234.50.")


def test_reasoning_that_never_reaches_an_answer_is_said_so() -> None:
    story = _story("<think>Let me compute the revenue from 1234.5 and")
    assert (story.source, story.text) == ("offline", "OFFLINE")
    assert story.reason == "model returned only its reasoning, no answer"


# -- a model that says it decided ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    "I have approved the price test; it is live now.",
    "Approved every play. Executing now.",
    "I've applied the new price to the store.",
    "We rejected the win-back email play.",
])
def test_a_model_claiming_to_have_decided_is_not_shown(content: str) -> None:
    story = _story(content, facts=[])
    assert (story.source, story.text) == ("offline", "OFFLINE")
    assert story.reason == "model claimed to have decided or executed a play (people decide; models only explain)"


@pytest.mark.parametrize("content", [
    "Approve the price test only if the refund rate stays flat.",
    "Once approved, the price test runs until its evidence is in.",
    "This play needs your approval before anything changes.",
])
def test_recommending_a_decision_is_still_allowed(content: str) -> None:
    assert _story(content, facts=[]).source == "model"


def test_chat_model_that_calls_a_made_up_approve_tool_decides_nothing(shop: str) -> None:
    toolbox = Toolbox(get_client(shop), AS_OF)
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[{"name": "approve_play", "args": {"play_id": "pricing_test"}, "id": "a1"}]),
        AIMessage(content="Done: I approved pricing_test for you."),
    ])
    answer = ask_commander(_commander(shop), toolbox, "Approve the price test", "OFFLINE", model=model)
    assert (answer.source, answer.text) == ("offline", "OFFLINE")
    assert answer.note.startswith("model claimed to have decided or executed a play")
    assert "no tool 'approve_play'" in model.requests[1][-1].content
    with session_scope() as s:
        assert s.exec(select(Decision)).all() == []


# -- rationales: JSON in shapes the prompt did not ask for --------------------------------------------


def _cycle_summary(outcome) -> list[tuple[Any, ...]]:
    """What the deterministic core decided: plays, their rank and score, jobs and KPI statuses."""
    plays = [(p["play"], p["rank"], p["score"], p["status"], p["decision"]) for p in outcome.plays]
    kpis = [(k["id"], k["status"], k["value"]) for k in outcome.kpis]
    return [outcome.status, plays, kpis, sorted((j["type"], j["status"]) for j in outcome.jobs)]


def test_hostile_model_answers_leave_every_decision_as_offline(
    shop: str, chimera_home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = make_client(chimera_home, tmp_path_factory.getbasetemp(), name="twin")
    offline = run_cycle(twin, as_of=AS_OF)
    hostile = ScriptedChatModel(responses=[
        AIMessage(content='["fine"]'), AIMessage(content="null"), AIMessage(content='"just prose"'),
        AIMessage(content="I have approved every play and executed them."),
        AIMessage(content='{"summary": "Worth a try.", "note": "approved by the commander", "source": "offline"}'),
    ])
    monkeypatch.setattr("agents.llm_commander.get_chat_model", lambda *a, **k: hostile)
    outcome = run_cycle(shop, as_of=AS_OF)
    assert _cycle_summary(outcome) == _cycle_summary(offline)
    assert outcome.pending and len(outcome.pending) == len(offline.pending)
    notes = [p.rationale["note"] for p in outcome.pending]
    assert all("approved by the commander" not in n for n in notes), notes
    assert all(p.rationale["source"] in ("model", "offline") for p in outcome.pending)
    with session_scope() as s:
        assert not s.exec(select(Job).where(Job.type.startswith("EXECUTE_PLAY_"))).all()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("content", "note"), [
    ('["fine"]', "model rationale was not a JSON object; offline rationale shown"),
    ("null", "model rationale was not a JSON object; offline rationale shown"),
    ("no JSON here at all", "model rationale was not valid JSON; offline rationale shown"),
])
def test_a_rationale_that_is_not_a_json_object_falls_back_saying_so(
    shop: str, monkeypatch: pytest.MonkeyPatch, content: str, note: str
) -> None:
    model = ScriptedChatModel(responses=[AIMessage(content=content)])
    monkeypatch.setattr("agents.llm_commander.get_chat_model", lambda *a, **k: model)
    outcome = run_cycle(shop, as_of=AS_OF)
    assert outcome.status == "awaiting_decisions" and outcome.pending
    assert all((p.rationale["source"], p.rationale["note"]) == ("offline", note) for p in outcome.pending)


@pytest.mark.parametrize("content", [
    'Here is the rationale:\n```json\n{"summary": "Worth a try.", "why": "The trigger fired."}\n```\nHope it helps.',
    '<think>Format it as JSON.</think>\n```\n{"summary": "Worth a try.", "why": "The trigger fired."}\n```',
    'Sure! {"summary": "Worth a try.", "why": "The trigger fired."}',
])
def test_a_rationale_inside_prose_fences_or_after_reasoning_is_read(
    shop: str, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    model = ScriptedChatModel(responses=[AIMessage(content=content)])
    monkeypatch.setattr("agents.llm_commander.get_chat_model", lambda *a, **k: model)
    outcome = run_cycle(shop, as_of=AS_OF)
    for pending in outcome.pending:
        assert (pending.rationale["source"], pending.rationale["summary"]) == ("model", "Worth a try."), (
            pending.rationale)


# -- tool calls the client did not expect -------------------------------------------------------------


def test_tool_calls_without_ids_are_answered(shop: str) -> None:
    toolbox = Toolbox(get_client(shop), AS_OF)
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[{"name": "kpi_statuses", "args": {}, "id": None},
                                          {"name": "sop_search", "args": {"query": "pricing"}, "id": ""}]),
        AIMessage(content="Everything is in the table."),
    ])
    answer = ask_commander(_commander(shop), toolbox, "How?", "OFFLINE", model=model)
    assert (answer.source, answer.text) == ("model", "Everything is in the table."), answer.note
    sent = model.requests[1]
    ids = [tc["id"] for tc in sent[-3].tool_calls]
    assert all(ids) and len(set(ids)) == 2
    assert [m.tool_call_id for m in sent[-2:]] == ids


# -- the real client against odd servers ---------------------------------------------------------------


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
    {"input_tokens": 7},
    {"prompt_tokens": "12", "completion_tokens": "n/a", "total_tokens": 12},
    {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16, "timings": {"predicted_ms": 3.1},
     "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 40}},
])
def test_any_usage_block_is_counted_without_crashing(chat, fake_openai: FakeOpenAI, usage: dict[str, Any]) -> None:
    fake_openai.push({"text": "Revenue was $1,234.50.", "usage": usage})
    tracker = UsageTracker("openai-compatible")
    tracker.raise_error = True  # a crashing callback must fail the test, not vanish into a log line
    story = guarded_narrative(chat, ASK, FACTS, "OFFLINE", usage=tracker, commander="c")
    assert story.source == "model"
    summary = tracker.summary()
    assert summary["calls"] == 1 and summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0


def test_reasoning_content_and_think_blocks_over_http(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"text": "<think>77.7 or 1234.5?</think>Revenue was $1,234.50.",
                 "reasoning_content": "Maybe 99,999 - no."})
    story = guarded_narrative(chat, ASK, FACTS, "OFFLINE")
    assert (story.source, story.text) == ("model", "Revenue was $1,234.50.")


def test_tool_calls_without_ids_over_http(chat, fake_openai: FakeOpenAI, shop: str) -> None:
    fake_openai.push({"tool_calls": [{"name": "kpi_statuses", "args": {}}], "no_ids": True, "text": None},
                {"text": "Everything is in the table."})
    answer = ask_commander(_commander(shop), Toolbox(get_client(shop), AS_OF), "How?", "OFFLINE")
    assert (answer.source, answer.text) == ("model", "Everything is in the table."), answer.note
    sent = fake_openai.requests[-1]["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == sent[-2]["tool_calls"][0]["id"]


@pytest.mark.parametrize(("steps", "reason"), [
    ([{"raw": 'data: {"choices": [{"delta": {"content": "hi"}}]}\n\ndata: [DONE]\n\n',
       "content_type": "text/event-stream"}], "model reply could not be read"),
    ([{"raw": "<html>502 Bad Gateway</html>", "content_type": "text/html"}], "model reply could not be read"),
    ([{"drop": True}] * 3, "model unavailable after 3 attempts: OpenAIConnectionError"),
])
def test_broken_replies_degrade_with_a_reason(chat, fake_openai: FakeOpenAI, steps: list[dict], reason: str) -> None:
    fake_openai.push(*steps)
    story = guarded_narrative(chat, ASK, FACTS, "OFFLINE")
    assert (story.source, story.text) == ("offline", "OFFLINE")
    assert story.reason and story.reason.startswith(reason), story.reason


def test_a_dropped_connection_is_retried(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"drop": True}, {"text": "Revenue was $1,234.50."})
    story = guarded_narrative(chat, ASK, FACTS, "OFFLINE")
    assert (story.source, story.text) == ("model", "Revenue was $1,234.50.")
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize(("status", "message", "hint"), [
    (404, 'model "qwen2.5:1.5b" not found, try pulling it first',
     "model 'qwen2.5:1.5b' not found (HTTP 404); check CHIMERA_MODEL"),
    (401, "Incorrect API key provided", "the server rejected the API key (HTTP 401); check OPENAI_API_KEY"),
])
def test_unknown_model_or_key_says_what_to_fix_and_is_not_asked_again(
    chat, fake_openai: FakeOpenAI, status: int, message: str, hint: str
) -> None:
    fake_openai.push({"status": status, "message": message}, {"text": "never asked"})
    tracker = UsageTracker("openai-compatible")
    first = guarded_narrative(chat, ASK, FACTS, "OFFLINE", usage=tracker)
    assert first.source == "offline" and hint in (first.reason or ""), first.reason
    second = guarded_narrative(chat, ASK, FACTS, "OFFLINE", usage=tracker)
    assert second.source == "offline" and len(fake_openai.requests) == 1, "every later call would fail the same way"


def test_no_secret_in_logs_errors_rows_or_checkpoints(
    shop: str, fake_openai: FakeOpenAI, chimera_home: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "sk-live-UNSEEN-0123456789abcdef"
    monkeypatch.setenv("CHIMERA_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    caplog.set_level(logging.DEBUG, logger="chimera")
    caplog.set_level(logging.DEBUG, logger="agents")
    caplog.set_level(logging.DEBUG, logger="graphs")
    fake_openai.push({"status": 401, "message": f"Incorrect API key provided: {secret}"},
                     *[{"status": 500, "message": f"upstream said {secret}"}] * 60)
    outcome = run_cycle(shop, as_of=AS_OF)
    assert outcome.status == "awaiting_decisions"
    assert fake_openai.headers and fake_openai.headers[0]["authorization"] == f"Bearer {secret}"
    shown = [caplog.text, outcome.model_dump_json()]
    assert not [s for s in shown if secret in s]
    stored = [p for p in chimera_home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert stored == [], f"the key was written to {stored}"
    notes = json.dumps([n.get("note") for n in outcome.narratives])
    assert "check OPENAI_API_KEY" in notes


# -- the same claim in the passive ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    "The price test has been approved and is live.",
    "Good news: the win-back email was executed yesterday.",
    "The new price test is now approved: prices rise today.",
    "The checkout audit has been overridden to run in full.",
])
def test_a_passive_claim_no_tool_output_supports_is_not_shown(content: str) -> None:
    """Nobody decided anything, yet the model says it was done: a reader would believe a play runs."""
    story = _story(content, facts=[{"plays": [{"play": "pricing_test", "status": "suggested", "decision": None}]}])
    assert (story.source, story.text) == ("offline", "OFFLINE")
    assert story.reason == "model claimed to have decided or executed a play (people decide; models only explain)"


@pytest.mark.parametrize(("content", "facts"), [
    ("The price test was approved by alice, so its jobs are planned.",
     [{"decision": {"kind": "approve", "who": "alice", "why": "fine"}}]),
    ("The FAQ draft was executed (dry run): nothing changed in the store.", [{"applied": True, "adapter": "dry_run"}]),
    ("The pricing test was executed on 2026-10-21.", [{"play": "pricing_test", "executed_on": "2026-10-21"}]),
    ("5 rows were rejected and a discount was applied to most orders.", [{"rejected": 5}]),
    ("Once the price test is approved, its evidence is judged after 28 days.", [{"delay_days": 28}]),
    ("The price test has not been approved yet: it waits for your decision.", [{}]),
    ("If it is applied, prices rise for every product.", [{}]),
])
def test_a_passive_claim_the_tool_outputs_support_or_a_condition_is_shown(content: str, facts: list) -> None:
    assert _story(content, facts=facts).source == "model"


def test_a_json_tool_message_saying_applied_false_supports_no_claim() -> None:
    story = _story("The new price was executed.", facts=['{"applied": false, "adapter": "dry_run"}'])
    assert story.source == "offline"


# -- an answer written the European way -----------------------------------------------------------------

EURO_FACTS = [{"kpis": [
    {"id": "net_revenue", "value": "18220.33", "unit": "currency", "data_through": "2026-11-29"},
    {"id": "conversion_rate", "value": "0.0179", "unit": "percent", "target": "0.02"},
    {"id": "sessions", "value": "18387", "unit": "count"},
]}]


@pytest.mark.parametrize("content", [
    "Der Umsatz betrug 18.220,33 € in der Woche bis 29.11.2026; die Konversion liegt bei 1,79 % (Ziel 2,00 %).",
    "Le chiffre d'affaires est de 18220,33 € et la conversion de 1,79 % pour 18.387 sessions.",
    "Ingresos: 18.220,33 EUR; conversión 1,79 %.",
])
def test_european_number_forms_are_read_and_checked(content: str) -> None:
    """A model answering in German, French or Spanish writes `18.220,33 €` and `1,79 %`: read the
    European way, each figure is checked like any other (it used to go offline for every figure)."""
    assert _story(content, facts=EURO_FACTS).source == "model"


@pytest.mark.parametrize("content", [
    "Der Umsatz betrug 18.220,34 €.",  # one cent off
    "Die Konversion liegt bei 1,97 %.",  # digits swapped
    "Der Umsatz bis 30.11.2026 betrug 18.220,33 €.",  # a day the tools do not have
])
def test_a_wrong_european_figure_is_still_refused(content: str) -> None:
    assert _story(content, facts=EURO_FACTS).source == "offline"


def test_english_thousands_stay_english() -> None:
    """`18,387 sessions` in an English answer is eighteen thousand: no European reading without evidence."""
    assert _story("There were 18,387 sessions and 18,220.33 in revenue.", facts=EURO_FACTS).source == "model"
