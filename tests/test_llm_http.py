"""The real ChatOpenAI client against the local fake OpenAI server: retries, repair, fallback."""

from __future__ import annotations

import json
import logging

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool

from chimera.llm import (
    Budget,
    ModelUnavailable,
    UsageTracker,
    ainvoke_with_retries,
    get_chat_model,
    guarded_narrative,
    invoke_with_retries,
)
from tests.fake_openai_server import FakeOpenAI, fake_openai_fixture, fake_openai_server_fixture  # noqa: F401

ASK = [HumanMessage(content="How did the week go?")]


@tool
def get_kpis(kpi: str, window: str = "7d") -> dict:
    """Current value and status of one KPI."""
    return {"kpi": kpi, "window": window}


@pytest.fixture
def chat(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_MODEL", "qwen2.5:1.5b")
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", "1.0")  # a loaded 2-core CI machine missed 0.25 s on a stream
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "0.01")
    return get_chat_model()


def test_plain_text_sends_max_tokens_for_llama_cpp(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"text": "Revenue held steady."})
    reply = invoke_with_retries(chat, ASK)
    assert reply.content == "Revenue held steady."
    body = fake_openai.requests[-1]
    assert body["model"] == "qwen2.5:1.5b"
    assert body["max_tokens"] > 0 and "max_completion_tokens" not in body
    assert fake_openai.headers[-1]["authorization"] == "Bearer not-needed"


def test_streaming_text_and_tool_argument_fragments(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"text": "A longer answer that arrives in pieces."})
    assert "".join(c.content for c in chat.stream(ASK)) == "A longer answer that arrives in pieces."
    args = {"kpi": "conversion_rate", "window": "28d"}
    fake_openai.push({"tool_calls": [{"name": "get_kpis", "args": args}]})
    total: AIMessageChunk | None = None
    for chunk in chat.bind_tools([get_kpis]).stream(ASK):
        total = chunk if total is None else total + chunk
    assert total is not None and total.tool_calls[0]["name"] == "get_kpis"
    assert total.tool_calls[0]["args"] == args
    assert fake_openai.requests[-1]["stream"] is True


def test_tool_calls_reach_the_server_and_come_back(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"tool_calls": [{"name": "get_kpis", "args": {"kpi": "aov"}}]})
    reply = invoke_with_retries(chat, ASK, tools=[get_kpis])
    assert reply.tool_calls[0]["args"] == {"kpi": "aov"}
    assert fake_openai.requests[-1]["tools"][0]["function"]["name"] == "get_kpis"


@pytest.mark.parametrize("failure", [{"status": 429, "retry_after": "0"}, {"status": 500}, {"drop": True}])
def test_transient_failure_then_success(chat, fake_openai: FakeOpenAI, failure: dict) -> None:
    fake_openai.push(failure, {"text": "Recovered."})
    assert invoke_with_retries(chat, ASK).content == "Recovered."
    assert len(fake_openai.requests) == 2


def test_a_timeout_falls_back_to_offline_without_waiting_again(chat, fake_openai: FakeOpenAI) -> None:
    """A hung server is not asked again: the same request would wait as long (3 x T with retries)."""
    fake_openai.push({"hang": 2.0}, {"text": "never asked"})
    story = guarded_narrative(chat, ASK, [{"net_revenue": "100.00"}], "Offline: net revenue 100.00.")
    assert story.source == "offline" and story.text == "Offline: net revenue 100.00."
    assert "Timeout" in story.note and "not asked again" in story.note and "offline narrative shown" in story.note
    assert len(fake_openai.requests) == 1


def test_all_attempts_failing_raise_model_unavailable(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(*[{"status": 500}] * 3)
    with pytest.raises(ModelUnavailable, match=r"after 3 attempts.*500"):
        invoke_with_retries(chat, ASK, attempts=3)
    fake_openai.push(*[{"status": 503}] * 3)
    story = guarded_narrative(chat, ASK, [], "The offline text.")
    assert (story.source, story.text) == ("offline", "The offline text.")
    assert "model unavailable" in story.note


def test_client_errors_are_not_retried(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"status": 404}, {"text": "never asked"})
    with pytest.raises(ModelUnavailable, match=r"refused.*404"):
        invoke_with_retries(chat, ASK)
    assert len(fake_openai.requests) == 1


def test_malformed_tool_json_is_repaired_once(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(
        {"tool_calls": [{"name": "get_kpis", "args": '{"kpi": "aov", '}]},
        {"tool_calls": [{"name": "get_kpis", "args": {"kpi": "aov"}}]},
    )
    reply = invoke_with_retries(chat, ASK, tools=[get_kpis])
    assert reply.tool_calls[0]["args"] == {"kpi": "aov"} and not reply.invalid_tool_calls
    repair = fake_openai.requests[-1]["messages"][-1]
    assert repair["role"] == "user" and "malformed JSON" in repair["content"]


def test_malformed_tool_json_twice_gives_up(chat, fake_openai: FakeOpenAI) -> None:
    bad = {"tool_calls": [{"name": "get_kpis", "args": "{not json"}]}
    fake_openai.push(bad, bad)
    with pytest.raises(ModelUnavailable, match="still malformed"):
        invoke_with_retries(chat, ASK, tools=[get_kpis])


def test_invented_figure_is_corrected_over_http(chat, fake_openai: FakeOpenAI) -> None:
    outputs = [{"kpi": "net_revenue", "value": "10528.00", "change_pct": -12.4}]
    fake_openai.push({"text": "Net revenue was $10,900, down 12%."}, {"text": "Net revenue was $10,528, down 12%."})
    usage = UsageTracker("openai-compatible")
    story = guarded_narrative(chat, ASK, outputs, "offline", usage=usage, commander="commerce_commander_ai")
    assert (story.source, story.text, story.guard_rejections) == (
        "model",
        "Net revenue was $10,528, down 12%.",
        1,
    )
    assert "$10,900" in fake_openai.requests[-1]["messages"][-1]["content"]
    summary = usage.summary()
    server_prompt = sum(json.dumps(b["messages"]).__len__() // 4 for b in fake_openai.requests)
    assert summary["calls"] == 2 and summary["prompt_tokens"] == server_prompt
    assert summary["guard_rejections"] == 1
    assert usage.details()["by_commander"]["commerce_commander_ai"]["calls"] == 2


def test_api_key_never_logged_or_shown(fake_openai: FakeOpenAI, monkeypatch, caplog) -> None:
    secret = "sk-test-DO-NOT-LEAK-1234567890"
    monkeypatch.setenv("CHIMERA_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    caplog.set_level(logging.DEBUG)
    chat = get_chat_model()
    fake_openai.push({"text": "fine"})
    assert invoke_with_retries(chat, ASK).content == "fine"
    assert fake_openai.headers[-1]["authorization"] == f"Bearer {secret}"  # it was used...
    from chimera.llm import backend_info

    shown = [
        caplog.text,
        repr(chat),
        str(chat),
        backend_info().model_dump_json(),
        json.dumps(chat.to_json(), default=str),
    ]
    assert not [s for s in shown if secret in s]  # ...and never shown


async def test_async_calls_retry_and_repair_too(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(
        {"status": 429, "retry_after": "0"},
        {"tool_calls": [{"name": "get_kpis", "args": "{oops"}]},
        {"tool_calls": [{"name": "get_kpis", "args": {"kpi": "orders"}}]},
    )
    reply = await ainvoke_with_retries(chat, ASK, tools=[get_kpis])
    assert reply.tool_calls[0]["args"] == {"kpi": "orders"}
    assert len(fake_openai.requests) == 3
    fake_openai.push(*[{"status": 502}] * 2)
    with pytest.raises(ModelUnavailable, match="after 2 attempts"):
        await ainvoke_with_retries(chat, ASK, attempts=2)


# -- malformed and odd replies degrade like a provider failure ----------------------------------------


@pytest.mark.parametrize("args", ['["aov"]', '"aov"', "42", "[1, 2]", "true"])
@pytest.mark.parametrize("streaming", [False, True])
def test_tool_arguments_that_are_not_an_object_are_repaired_like_bad_json(
    chat, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, args: str, streaming: bool
) -> None:
    """JSON that is no object gets the repair request unparseable JSON gets, streamed or not (it was
    "model reply could not be read: ValidationError" and the offline answer, no repair asked)."""
    chat.streaming = streaming
    fake_openai.push({"tool_calls": [{"name": "get_kpis", "args": args}]},
                     {"tool_calls": [{"name": "get_kpis", "args": {"kpi": "aov"}}]})
    reply = invoke_with_retries(chat, ASK, tools=[get_kpis])
    assert reply.tool_calls[0]["args"] == {"kpi": "aov"} and not reply.invalid_tool_calls
    assert len(fake_openai.requests) == 2
    repair = fake_openai.requests[-1]["messages"][-1]
    assert repair["role"] == "user" and "must be a JSON object" in repair["content"] and args in repair["content"]


def test_tool_arguments_not_an_object_twice_give_up_with_the_reason(chat, fake_openai: FakeOpenAI) -> None:
    bad = {"tool_calls": [{"name": "get_kpis", "args": "[1, 2]"}]}
    fake_openai.push(bad, bad)
    with pytest.raises(ModelUnavailable, match=r"^tool-call JSON still malformed after one repair request$"):
        invoke_with_retries(chat, ASK, tools=[get_kpis])
    assert len(fake_openai.requests) == 2
    fake_openai.push({"tool_calls": [{"name": "get_kpis", "args": "null"}]})
    assert invoke_with_retries(chat, ASK, tools=[get_kpis]).tool_calls[0]["args"] == {}, "null: no arguments"


async def test_async_tool_arguments_not_an_object_are_repaired(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"tool_calls": [{"name": "get_kpis", "args": "[1, 2]"}]},
                     {"tool_calls": [{"name": "get_kpis", "args": {"kpi": "orders"}}]})
    reply = await ainvoke_with_retries(chat, ASK, tools=[get_kpis])
    assert reply.tool_calls[0]["args"] == {"kpi": "orders"} and len(fake_openai.requests) == 2


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ({"refusal": "I can't help with that."}, "model refused: I can't help with that."),
        ({"text": "Refunds are fine, but you should urgently", "finish_reason": "length"},
         "model reply was cut off at the length limit (incomplete)"),
        ({"text": ""}, "model returned no text"),
    ],
)
def test_refusals_cut_off_and_empty_replies_over_http(chat, fake_openai: FakeOpenAI, step: dict, reason: str) -> None:
    fake_openai.push(step, step)  # an empty reply is asked for once more: empty again
    story = guarded_narrative(chat, ASK, [], "The offline text.")
    assert (story.source, story.reason) == ("offline", reason)


def test_failed_attempts_are_counted_as_calls(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(*[{"status": 500}] * 3)
    usage = UsageTracker("openai-compatible")
    story = guarded_narrative(chat, ASK, [], "offline", usage=usage, commander="growth_commander_ai")
    assert story.reason == "model unavailable after 3 attempts: OpenAIAPIError (HTTP 500)"
    assert len(fake_openai.requests) == 3
    assert usage.summary()["calls"] == 3 and usage.details()["failed_calls"] == 3
    assert usage.details()["by_commander"]["growth_commander_ai"]["failed_calls"] == 3


def test_a_server_that_reports_no_usage_still_spends_the_budget(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"text": "All steady. " * 300, "no_usage": True})
    usage = UsageTracker("openai-compatible", budget=Budget(max_tokens_per_cycle=500, max_cost_per_cycle=None))
    first = guarded_narrative(chat, ASK, [], "offline one", usage=usage)
    assert first.source == "model"
    assert usage.summary()["completion_tokens"] >= 800 and usage.summary()["prompt_tokens"] > 0
    second = guarded_narrative(chat, ASK, [], "offline two", usage=usage)
    assert second.source == "offline" and second.reason.startswith("model budget reached")
    assert len(fake_openai.requests) == 1, "no call after the reply that spent the budget"


def test_streaming_with_cassette_record_then_replay(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    cassette = tmp_path / "stream.cassette.json"
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_STREAMING", "1")
    monkeypatch.setenv("CHIMERA_LLM_CASSETTE", str(cassette))
    monkeypatch.setenv("CHIMERA_LLM_CASSETTE_MODE", "record")
    fake_openai.push({"text": "All figures are in the table."},
                     {"tool_calls": [{"name": "get_kpis", "args": {"kpi": "aov"}}]})
    usage = UsageTracker("openai-compatible")
    story = guarded_narrative(get_chat_model(), ASK, [], "offline", usage=usage)
    assert (story.source, story.text) == ("model", "All figures are in the table.")
    assert fake_openai.requests[-1]["stream"] is True
    assert usage.summary()["completion_tokens"] > 0
    reply = invoke_with_retries(get_chat_model(), ASK, tools=[get_kpis])
    assert reply.tool_calls[0]["args"] == {"kpi": "aov"}
    monkeypatch.setenv("CHIMERA_LLM_CASSETTE_MODE", "replay")
    replayed = guarded_narrative(get_chat_model(), ASK, [], "offline")
    assert replayed.text == "All figures are in the table." and len(fake_openai.requests) == 2


def test_a_down_or_hanging_server_is_not_waited_on_again_in_the_same_cycle(chat, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"hang": 2.0}, {"text": "Back again."})
    usage = UsageTracker("openai-compatible")
    first = guarded_narrative(chat, ASK, [], "offline one", usage=usage)
    assert first.source == "offline" and first.reason.startswith("model did not answer in time")
    second = guarded_narrative(chat, ASK, [], "offline two", usage=usage)
    assert (second.source, second.text) == ("offline", "offline two")
    assert second.reason == f"model not called again this cycle after: {first.reason}"
    assert len(fake_openai.requests) == 1, "the second narrative waited on the hanging server again"
    assert usage.details()["model_unavailable"] == first.reason
    # a refused request (HTTP 400) is about that request, not the server: the next call still goes out
    fake_openai.reset()
    fake_openai.push({"status": 400}, {"text": "Fine."})
    fresh = UsageTracker("openai-compatible")
    assert guarded_narrative(chat, ASK, [], "offline", usage=fresh).source == "offline"
    assert guarded_narrative(chat, ASK, [], "offline", usage=fresh).text == "Fine."
