"""QA pass 8: model answers never seen before (other scripts, server shapes, pricing by the name a
server answers with), through the guard and the real client against the local fake server."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage

from chimera.llm import UsageTracker, get_chat_model, guarded_narrative
from chimera.llm.guard import check_numbers
from tests.fake_openai_server import FakeOpenAI, fake_openai_fixture, fake_openai_server_fixture  # noqa: F401

KPIS = [{"as_of": "2026-11-26", "kpis": [
    {"id": "net_revenue", "unit": "currency", "status": "OK", "value": "10528.00", "note": "on target"},
    {"id": "conversion_rate", "unit": "percent", "status": "WARNING", "value": "0.01694", "note": "below target"}]}]


@pytest.mark.parametrize("text", [
    "純売上高は99,999ドルです。",  # Japanese: no space between a word and its number
    "净收入为99999美元。",  # Chinese
    "净收入为9.99万美元。",  # 99,900 in ten thousands
    "순매출은 99,999달러입니다.",  # Korean particles glue too
    "รายได้สุทธิ99,999ดอลลาร์",  # Thai writes no spaces at all
    "純売上高は$99,999です。",
    "コンバージョン率は1.8％です。",  # full-width percent sign
    "2026年11月27日の純売上高は10,528ドルです。",  # a day the outputs do not have
])
def test_an_invented_figure_glued_to_cjk_or_thai_words_is_caught(text: str) -> None:
    """Was ok=True: a CJK or Thai letter is a word character, so no figure was found at all."""
    assert not check_numbers(text, KPIS).ok


@pytest.mark.parametrize("text", [
    "純売上高は10,528ドルです。",
    "净收入为10528美元。",
    "净收入为1.05万美元。",  # 10,528 rounded in ten thousands
    "순매출은 10,528달러입니다.",
    "รายได้สุทธิ10,528ดอลลาร์",
    "コンバージョン率は1.69％です。",  # was refused: the full-width % was not read as a percent
    "2026年11月26日の純売上高は10,528ドルです。",
    "11月26日の純売上高は$10,528です。",
])
def test_an_honest_answer_in_cjk_or_thai_passes(text: str) -> None:
    assert check_numbers(text, KPIS).ok, check_numbers(text, KPIS).offending


def test_latin_text_keeps_its_glued_units() -> None:
    assert check_numbers("Net revenue was 10528USD, conversion 1.69%.", KPIS).ok
    assert not check_numbers("Net revenue was 99999USD.", KPIS).ok


# -- server shapes, through the real client against the local fake server -----------------------------

ASK = [HumanMessage(content="How did the week go?")]
OUTPUTS = [{"kpi": "net_revenue", "value": "10528.00"}]


def _reply(message: dict | None, *, model: str = "gpt-4o", choices: list | None = None) -> dict:
    body = {"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}] if choices is None else choices,
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}
    return {"raw": json.dumps(body)}


def _sse(*deltas: dict) -> dict:
    def line(delta: dict, finish: str | None = None) -> str:
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n"

    return {"raw": "".join(map(line, deltas)) + line({}, "stop") + "data: [DONE]\n\n",
            "content_type": "text/event-stream"}


@pytest.fixture
def chat(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_MODEL", "gpt-4o")
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", "2")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "0.01")
    return get_chat_model()


@pytest.mark.parametrize("answered", ["openai/gpt-4o", "my-azure-deployment", "gpt-4o-2024-08-06"])
def test_a_call_is_priced_when_the_server_answers_with_another_model_name(
        chat, fake_openai: FakeOpenAI, answered: str) -> None:
    """A router's "openai/gpt-4o" or an Azure deployment's name was unpriced: the call cost $0 and the
    cycle's cost budget never stopped a paid model."""
    fake_openai.push(_reply({"role": "assistant", "content": "Net revenue was $10,528."}, model=answered))
    usage = UsageTracker("openai-compatible")
    assert guarded_narrative(chat, ASK, OUTPUTS, "offline", usage=usage).source == "model"
    price = usage.config.price_of("gpt-4o")
    assert price is not None and usage.cost == pytest.approx((1000 * price.input + 100 * price.output) / 1e6)
    assert usage.details()["unpriced_models"] == []


@pytest.mark.parametrize("first", [
    _reply(None, choices=[]),  # no choice at all
    _reply(None),  # a choice whose message is null
])
def test_a_reply_without_a_message_is_an_empty_reply_asked_once_more(
        chat, fake_openai: FakeOpenAI, first: dict) -> None:
    """Was "model reply could not be read: IndexError" (AttributeError), never asked again."""
    fake_openai.push(first, _reply({"role": "assistant", "content": "Net revenue was $10,528."}))
    story = guarded_narrative(chat, ASK, OUTPUTS, "offline")
    assert (story.source, story.text) == ("model", "Net revenue was $10,528.")
    assert "no answer in it" in fake_openai.requests[-1]["messages"][-1]["content"]


def test_a_streamed_refusal_is_said_as_a_refusal(chat, fake_openai: FakeOpenAI) -> None:
    """Was "model returned no text" after a second request: the stream's refusal deltas were dropped."""
    chat.streaming = True
    fake_openai.push(_sse({"role": "assistant", "content": None}, {"refusal": "I can't help "},
                          {"refusal": "with that."}))
    story = guarded_narrative(chat, ASK, OUTPUTS, "offline")
    assert (story.source, story.reason) == ("offline", "model refused: I can't help with that.")
    assert len(fake_openai.requests) == 1


GROUPED = [{"kpis": [
    {"id": "net_revenue", "unit": "currency", "status": "OK", "value": "10528.40"},
    {"id": "gmv", "unit": "currency", "status": "OK", "value": "105280"},
    {"id": "sessions", "unit": "count", "status": "OK", "value": "1234567"}]}]


@pytest.mark.parametrize(("honest", "invented"), [
    ("Net revenue is CHF 10'528.40.", "Net revenue is CHF 99'999.40."),  # Swiss apostrophes
    ("Net revenue is CHF 10’528.40.", "Net revenue is CHF 10’999.40."),
    ("GMV is ₹1,05,280.", "GMV is ₹9,99,999."),  # Indian lakh groups
    ("Sessions: 1.234.567", "Sessions: 9.234.567"),  # several dotted groups
    ("Umsatz: 10.528 €.", "Umsatz: 99.999 €."),  # one dotted group in euros
    ("Umsatz: EUR 10.528", "Umsatz: EUR 10.999"),
])
def test_thousands_grouped_the_swiss_indian_or_continental_way_are_read_as_such(honest: str, invented: str) -> None:
    """The honest answers were refused (read as "CHF 10" and "528.40", "1" and "05,280", 10.528 euros)."""
    assert check_numbers(honest, GROUPED).ok, check_numbers(honest, GROUPED).offending
    assert not check_numbers(invented, GROUPED).ok


def test_a_dollar_amount_with_three_decimals_stays_a_decimal() -> None:
    assert not check_numbers("Net revenue: $10.528", GROUPED).ok  # $3.459 is a real price in English


def test_credentials_in_the_base_url_never_reach_the_logs(
        fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A proxy that takes its token in the URL (https://user:token@proxy/v1): httpx logged the full URL
    of every request at INFO, token included."""
    import logging

    secret, key = "tok-IN-THE-URL-998877", "sk-test-KEY-556677"
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url.replace("http://", f"http://proxy:{secret}@"))
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    caplog.set_level(logging.DEBUG)
    fake_openai.push({"text": "Net revenue was $10,528."})
    assert guarded_narrative(get_chat_model(), ASK, OUTPUTS, "offline").source == "model"
    assert "HTTP Request: POST http://***@127.0.0.1" in caplog.text  # the request is still logged...
    assert secret not in caplog.text and key not in caplog.text  # ...without its credentials
    logging.getLogger("httpx").info("HTTP Request: GET https://h/v1/models?api-key=%s&x=1", secret)
    assert secret not in caplog.text and "api-key=***&x=1" in caplog.text


@pytest.mark.parametrize(("honest", "invented"), [
    ("صافي الإيرادات ١٠٬٥٢٨ دولار", "صافي الإيرادات ٩٩٬٩٩٩ دولار"),  # Arabic thousands separator
    ("معدل التحويل ١٫٦٩٪", "معدل التحويل ١٫٨٪"),  # Arabic decimal point and percent sign
    ("شاخص ۱۰٬۵۲۸ دلار", "شاخص ۹۹٬۵۲۸ دلار"),  # Persian digits
])
def test_arabic_separators_and_percent_sign_are_read(honest: str, invented: str) -> None:
    """Was refused: "١٠٬٥٢٨" read as two numbers, "١٫٦٩٪" as 1 and 69."""
    assert check_numbers(honest, KPIS).ok, check_numbers(honest, KPIS).offending
    assert not check_numbers(invented, KPIS).ok


@pytest.mark.parametrize("raw", [
    "◁think▷Maybe $99,999◁/think▷Net revenue was $10,528.",  # Kimi
    "<seed:think>Maybe $99,999</seed:think>Net revenue was $10,528.",  # Seed-OSS
    "<|begin_of_thought|>Maybe $99,999<|end_of_thought|>"
    "<|begin_of_solution|>Net revenue was $10,528.<|end_of_solution|>",  # OpenThoughts, Bespoke
    "<thought>Maybe $99,999</thought>Net revenue was $10,528.",
    "<|START_THINKING|>Maybe $99,999<|END_THINKING|><|START_RESPONSE|>Net revenue was $10,528.<|END_RESPONSE|>",
    "<answer>Net revenue was $10,528.</answer>",
])
def test_other_reasoning_formats_are_neither_shown_nor_checked(raw: str) -> None:
    """Was shown raw (markup on the person's screen), and the thinking's $99,999 refused an honest answer."""
    from langchain_core.messages import AIMessage

    from chimera.llm.fake import ScriptedChatModel

    story = guarded_narrative(ScriptedChatModel(responses=[AIMessage(content=raw)]), ASK, OUTPUTS, "offline")
    assert (story.source, story.text) == ("model", "Net revenue was $10,528.")


def test_an_unclosed_kimi_thought_is_no_answer() -> None:
    from langchain_core.messages import AIMessage

    from chimera.llm.fake import ScriptedChatModel

    model = ScriptedChatModel(responses=[AIMessage(content="◁think▷Revenue is maybe $99,999 and")])
    story = guarded_narrative(model, ASK, OUTPUTS, "offline")
    assert (story.source, story.reason) == ("offline", "model returned only its reasoning, no answer")


@pytest.mark.parametrize(("honest", "wrong_way"), [
    ("Der Umsatz sank um 12,4 %.", "Der Umsatz stieg um 12,4 %."),
    ("Der Umsatz ist um 12,4 % gesunken.", "Der Umsatz ist um 12,4 % gestiegen."),  # the verb comes last
    ("Le chiffre d'affaires a baissé de 12,4 %.", "Le chiffre d'affaires a augmenté de 12,4 %."),
    ("Los ingresos cayeron un 12,4 %.", "Los ingresos aumentaron un 12,4 %."),
])
def test_a_change_said_the_wrong_way_round_in_another_language_is_caught(honest: str, wrong_way: str) -> None:
    """Was ok: direction words were English only, so "stieg um 12,4 %" of a fall of 12.4% passed."""
    fell = [{"kpi": "net_revenue", "value": "10528.00", "change_pct": -12.4}]
    assert check_numbers(honest, fell).ok
    assert not check_numbers(wrong_way, fell).ok


@pytest.mark.parametrize("streaming", [False, True])
def test_null_tool_arguments_are_a_call_without_arguments_streamed_or_not(
        chat, fake_openai: FakeOpenAI, streaming: bool) -> None:
    """A stream's ``null`` arguments cost a repair request (langchain made them invalid); a whole reply's ran."""
    from langchain_core.tools import tool

    from chimera.llm import invoke_with_retries

    @tool
    def kpi_statuses(kpi_ids: list[str] | None = None) -> list:
        """KPI statuses."""
        return []

    chat.streaming = streaming
    fake_openai.push({"tool_calls": [{"name": "kpi_statuses", "args": "null"}]})
    reply = invoke_with_retries(chat, ASK, tools=[kpi_statuses])
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("kpi_statuses", {})]
    assert not reply.invalid_tool_calls and len(fake_openai.requests) == 1
