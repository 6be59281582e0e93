"""QA pass 3: the real chat path (graphs.chat.answer -> ChatOpenAI -> a local OpenAI-compatible server)
against model answers and server behaviours not seen before: tool calls written as text, namespaced
tool names, stream shapes (late or missing finish_reason, split or cut tool calls, error events,
drops, hangs), long rate limits, space-grouped thousands, a model that loops, and keys in errors.
Each must end in the model's sourced answer or the offline answer with a plain reason."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agents.llm_commander import TEXT_CALL_RESULTS, ask_commander
from agents.tools import Toolbox
from chimera.clients import get_client
from chimera.ingest import ingest_file
from chimera.llm import UsageTracker, guarded_narrative
from chimera.llm.fake import ScriptedChatModel
from chimera.llm.guard import TOOL_CALL_AS_TEXT, check_numbers
from chimera.llm.text_tools import text_tool_calls
from graphs.chat import answer
from tests.cycle_fixtures import AS_OF
from tests.fake_openai_server import FakeOpenAI, make_app, serve

QUESTION = "what should I do about revenue and aov?"  # a free question: the commerce model answers it
COMMANDER = "commerce_commander_ai"
HONEST = "Net revenue is $16,017.93."  # the generated shop's net_revenue over 7d to AS_OF
ARGS = '{"kpi_ids": ["net_revenue"]}'


def _ingest(client: str) -> None:
    ctx = get_client(client)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)


def _point_at(monkeypatch: pytest.MonkeyPatch, base_url: str, timeout: str = "2") -> None:
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "0.01")
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", timeout)  # generous for the normal path on a loaded 2-core box


@pytest.fixture
def live(shop: str, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> str:
    """The generated shop, ingested, its commanders' model the local fake server (not streaming)."""
    _ingest(shop)
    _point_at(monkeypatch, fake_openai.base_url)
    return shop


def _ask(client: str) -> Any:
    return answer(get_client(client), COMMANDER, QUESTION, as_of=AS_OF)


def _note(reply: Any) -> str:
    """The italic reason line of an offline reply (the line after the offline banner)."""
    return reply.text.splitlines()[2]


# -- a local server whose SSE bytes a test writes itself -------------------------------------------------


def _sse_app(state: FakeOpenAI) -> Any:
    """The fake server, plus steps ``{"sse": [raw chunks], "then": "drop" | "hang", "hang": s}`` that send
    those bytes as a 200 event stream, then end, cut the connection or stay silent."""
    inner = make_app(state)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not state.steps or "sse" not in state.steps[0]:
            await inner(scope, receive, send)
            return
        step, body = state.steps.popleft(), b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        state.requests.append(json.loads(body))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for chunk in step["sse"]:
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
            await asyncio.sleep(0)
        if step.get("then") == "drop":
            raise ConnectionResetError("fake server dropped the stream")
        if step.get("then") == "hang":
            await asyncio.sleep(step.get("hang", 3))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


@pytest.fixture(scope="session")
def sse_server() -> Any:
    state = FakeOpenAI()
    with serve(_sse_app(state)) as url:
        state.base_url = url
        yield state


@pytest.fixture
def streaming(shop: str, sse_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> str:
    """The generated shop with a streaming model (``CHIMERA_LLM_STREAMING``) on the SSE server."""
    sse_server.reset()
    _ingest(shop)
    _point_at(monkeypatch, sse_server.base_url)
    monkeypatch.setenv("CHIMERA_LLM_STREAMING", "1")
    return shop


def _delta(delta: dict[str, Any] | None = None, finish: str | None = None) -> str:
    choice = {"index": 0, "delta": {} if delta is None else delta, "finish_reason": finish}
    return "data: " + json.dumps({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                                  "choices": [choice]}) + "\n\n"


def _call_chunk(index: int | None = 0, call_id: str | None = None, name: str | None = None,
                args: str | None = None) -> str:
    call: dict[str, Any] = {"function": {k: v for k, v in (("name", name), ("arguments", args)) if v is not None}}
    if index is not None:
        call["index"] = index
    if call_id is not None:
        call |= {"id": call_id, "type": "function"}
    return _delta({"tool_calls": [call]})


START = _delta({"role": "assistant", "content": ""})
TEXT = [START, _delta({"content": "Net revenue is "}), _delta({"content": "$16,017"}), _delta({"content": ".93."})]
STOP, DONE = _delta({}, "stop"), "data: [DONE]\n\n"
USAGE = "data: " + json.dumps({"id": "x", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                                                                    "total_tokens": 7}}) + "\n\n"
ANSWER = {"sse": [*TEXT, STOP, DONE]}


# -- tool calls written as text (small local models) -------------------------------------------------------


@pytest.mark.parametrize("written", [
    '<tool_call>\n{"name": "kpi_statuses", "arguments": ' + ARGS + '}\n</tool_call>',
    'Let me look that up.\n<tool_call>{"name": "kpi_statuses", "arguments": ' + ARGS + "}</tool_call>",
    '{"name": "kpi_statuses", "arguments": ' + ARGS + "}",
    '```json\n{"name": "kpi_statuses", "parameters": ' + ARGS + "}\n```",
    '[TOOL_CALLS][{"name": "kpi_statuses", "arguments": ' + ARGS + "}]",
    '<|python_tag|>{"name": "kpi_statuses", "parameters": ' + ARGS + "}<|eom_id|>",
    'functools[{"name": "kpi_statuses", "arguments": ' + json.dumps(ARGS) + "}]",
    '{"type": "function", "function": {"name": "functions.kpi_statuses", "arguments": ' + ARGS + "}}",
])
def test_a_tool_call_written_as_text_is_run_and_the_answer_shown(live: str, fake_openai: FakeOpenAI,
                                                                  written: str) -> None:
    """Was: the raw JSON / <tool_call> markup was shown to the owner as the commander's answer."""
    fake_openai.push({"text": written}, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    turn = fake_openai.requests[1]["messages"][-1]
    assert turn["role"] == "user" and turn["content"].startswith(TEXT_CALL_RESULTS)
    results = json.loads(turn["content"][len(TEXT_CALL_RESULTS):])
    assert len(results) == 1 and results[0]["tool"].endswith("kpi_statuses")
    assert results[0]["arguments"] == {"kpi_ids": ["net_revenue"]}
    assert [k["id"] for k in results[0]["result"]] == ["net_revenue"]


def test_a_text_tool_calls_output_sources_the_answers_figures(shop: str) -> None:
    """A figure the facts given in the question lack, but the text-written call returned, is shown."""
    _ingest(shop)
    toolbox = Toolbox(get_client(shop), AS_OF)
    series = toolbox.metric_series("net_sales", 3)
    day, value = next(iter(series.items()))
    model = ScriptedChatModel(responses=[
        AIMessage(content='<tool_call>{"name": "metric_series", "arguments": {"metric": "net_sales", "days": 3}}'
                          "</tool_call>"),
        AIMessage(content=f"Net sales on {day} were {value}."),
    ])
    spec = next(c for c in get_client(shop).configs.agents.commanders if c.id == COMMANDER)
    got = ask_commander(spec, toolbox, "net sales lately?", "OFFLINE", model=model)
    assert (got.source, got.text, got.tools_called) == ("model", f"Net sales on {day} were {value}.",
                                                       ["metric_series"])


def test_a_model_that_only_ever_writes_tool_calls_stops_at_the_limit_and_says_so(
    live: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.push(*[{"text": '<tool_call>{"name": "kpi_statuses", "arguments": {}}</tool_call>'}] * 10)
    reply = _ask(live)
    assert reply.offline and len(fake_openai.requests) == 4
    assert _note(reply) == ("_model kept calling tools and gave no answer within 4 rounds (the tool-call limit); "
                            "offline answer shown_")
    assert "<tool_call>" not in reply.text


def test_a_model_looping_on_real_tool_calls_stops_at_the_limit_and_says_so(
    live: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.push(*[{"tool_calls": [{"name": "kpi_statuses", "args": {}}] * 3}] * 20)
    started = time.monotonic()
    reply = _ask(live)
    assert reply.offline and len(fake_openai.requests) == 4
    assert "gave no answer within 4 rounds (the tool-call limit)" in _note(reply)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("written", [
    '<tool_call>{"name": "kpi_statuses", "arguments": {}}</tool_call>',
    '{"name": "explain_play", "arguments": {"play_id": "pricing_test"}}',
    '[TOOL_CALLS][{"name": "kpi_statuses", "arguments": {}}]',
])
def test_a_narrative_that_is_only_a_tool_call_is_not_shown(written: str) -> None:
    """A cycle narrative has no tools: a call written as its text is no summary for a person."""
    model = ScriptedChatModel(responses=[AIMessage(content=written)])
    story = guarded_narrative(model, [HumanMessage("Summarise")], [{"kpi": "aov", "value": "44.56"}], "OFFLINE")
    assert (story.source, story.text, story.reason) == ("offline", "OFFLINE", TOOL_CALL_AS_TEXT)


@pytest.mark.parametrize("text", [
    "Net revenue is $16,017.93.",
    '{"summary": "Test a price", "why": "aov is below target", "caveats": []}',
    '{"name": "net_revenue", "value": "16017.93"}',
    "Use the `kpi_statuses` tool name in the UI: {name} and {arguments} are placeholders.",
    "```json\n[1, 2, 3]\n```",
    "<tool_call></tool_call>",
])
def test_answers_and_json_that_are_not_tool_calls_stay_answers(text: str) -> None:
    assert text_tool_calls(text) == []


# -- tool calls the server sends oddly -----------------------------------------------------------------------


@pytest.mark.parametrize("calls", [
    [{"name": "functions.kpi_statuses", "args": ARGS}],
    [{"name": "KPI_Statuses", "args": ARGS}],
    [{"name": "kpi_statuses", "args": ""}],  # llama.cpp: a call without arguments
    [{"name": "kpi_statuses", "args": "null"}],
    [{"name": "kpi_statuses", "args": ARGS + " "}],
    [{"name": "kpi_statuses", "args": {"kpi_ids": ["net_revenue"], "verbose": True}}],
    [{"name": "kpi_statuses", "args": {}}, {"name": "metric_series", "args": {"metric": "net_sales", "days": 3}},
     {"name": "evidence", "args": {}}],
])
def test_tool_calls_in_odd_but_readable_shapes_are_run(live: str, fake_openai: FakeOpenAI,
                                                       calls: list[dict[str, Any]]) -> None:
    fake_openai.push({"tool_calls": calls}, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    answers = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert len(answers) == len(calls) and not any('"error"' in a["content"][:12] for a in answers), answers


@pytest.mark.parametrize("call", [
    {"name": "get_revenue", "args": {}},
    {"name": "metric_series", "args": {"metric": "net_sales", "days": "seven"}},
    {"name": "kpi_statuses", "args": {"kpi_ids": "net_revenue"}},
    {"name": "explain_play", "args": {"play_id": 42}},
])
def test_a_wrong_tool_name_or_argument_type_goes_back_to_the_model_as_an_error(
    live: str, fake_openai: FakeOpenAI, call: dict[str, Any]
) -> None:
    fake_openai.push({"tool_calls": [call]}, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    error = json.loads(fake_openai.requests[1]["messages"][-1]["content"])
    assert set(error) == {"error"}
    if call["name"] == "get_revenue":  # the names it may use, so a model can correct itself
        assert error["error"].startswith("no tool 'get_revenue'; the tools are: kpi_statuses, metric_series")


def test_a_tool_error_never_sources_an_invented_figure(live: str, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"tool_calls": [{"name": "metric_series", "args": {"metric": "net_sales", "days": "18200"}}]},
                     {"text": "Net revenue is $18,200."}, {"text": "Net revenue is $18,200."})
    reply = _ask(live)
    assert reply.offline and "$18,200" not in reply.text
    assert "figures or claims not in the tool outputs" in _note(reply)


# -- streaming: shapes real servers send ---------------------------------------------------------------------


@pytest.mark.parametrize("steps", [
    pytest.param([{"sse": [*TEXT, DONE]}], id="no-finish-reason"),
    pytest.param([{"sse": [*TEXT, STOP]}], id="no-done-line"),
    pytest.param([{"sse": [*TEXT, USAGE, STOP, DONE]}], id="finish-after-usage"),
    pytest.param([{"sse": [": keep-alive\n\n", *TEXT, ": keep-alive\n\n", STOP, DONE]}], id="comments"),
    pytest.param([{"sse": ['data: {"id":"x","choices":[{"index":0,"delta":null}]}\n\n', *TEXT, STOP, DONE]}],
                 id="null-delta"),
    pytest.param([{"sse": [START, _call_chunk(0, "c1", "kpi_", ""), _call_chunk(0, None, "statuses")]
                   + [_call_chunk(0, None, None, ch) for ch in ARGS] + [_delta({}, "tool_calls"), DONE]}, ANSWER],
                 id="name-and-args-one-char-at-a-time"),
    pytest.param([{"sse": [START, _call_chunk(0, "c1", "kpi_statuses", "")]
                   + [_call_chunk(0, "c1", None, ARGS[i:i + 3]) for i in range(0, len(ARGS), 3)]
                   + [_delta({}, "tool_calls"), DONE]}, ANSWER], id="id-repeated-in-every-chunk"),
    pytest.param([{"sse": [START, _call_chunk(None, "c1", "kpi_statuses", ARGS), _delta({}, "tool_calls"), DONE]},
                  ANSWER], id="no-index"),
    pytest.param([{"sse": [START, _call_chunk(0, "c1", "kpi_statuses", ARGS), STOP, DONE]}, ANSWER],
                 id="tool-call-with-finish-stop"),
    pytest.param([{"sse": [START, _call_chunk(0, "c1", "kpi_statuses", ARGS), DONE]}, ANSWER],
                 id="tool-call-never-finished"),
    pytest.param([{"sse": [START, _call_chunk(0, "a", "kpi_statuses", ""), _call_chunk(1, "b", "evidence", ""),
                           _call_chunk(0, None, None, ARGS[:8]), _call_chunk(1, None, None, "{}"),
                           _call_chunk(0, None, None, ARGS[8:]), _delta({}, "tool_calls"), DONE]}, ANSWER],
                 id="two-calls-interleaved"),
    pytest.param([{"sse": TEXT, "then": "drop"}, ANSWER], id="dropped-then-answered"),
])
def test_odd_but_complete_streams_give_the_models_answer(streaming: str, sse_server: FakeOpenAI,
                                                         steps: list[dict[str, Any]]) -> None:
    sse_server.push(*steps)
    reply = _ask(streaming)
    assert (reply.offline, reply.text) == (False, HONEST)
    assert len(sse_server.requests) == len(steps)
    if len(steps) == 2 and "tool_calls" in json.dumps(steps[0]):
        assert sse_server.requests[1]["messages"][-1]["role"] == "tool"


def test_a_streamed_tool_call_cut_at_the_length_limit_is_not_run(streaming: str, sse_server: FakeOpenAI) -> None:
    """Was: the stream's partial JSON was completed silently and the tool ran with other arguments."""
    cut = {"sse": [START, _call_chunk(0, "c1", "metric_series", '{"metric": "net_sales", "days": 2'),
                   _delta({}, "length"), DONE]}
    sse_server.push(cut, {"sse": [START, _call_chunk(0, "c2", "kpi_statuses", ARGS), _delta({}, "tool_calls"), DONE]},
                    ANSWER)
    reply = _ask(streaming)
    assert (reply.offline, reply.text) == (False, HONEST)
    repair = sse_server.requests[1]["messages"][-1]
    assert repair["role"] == "user" and "cut off at the length limit" in repair["content"]
    sent = json.dumps(sse_server.requests[2]["messages"])
    assert "metric_series" not in sent.split("The owner asks")[-1], "the cut call was never run"


@pytest.mark.parametrize(("steps", "note"), [
    ([{"sse": [START, 'data: {"error": {"message": "overloaded", "code": 503}}\n\n']}] * 3,
     "model unavailable after 3 attempts: the server sent an error instead of a reply (code 503)"),
    ([{"sse": [START, 'data: {"error": {"message": "bad grammar", "code": "invalid_request"}}\n\n']}],
     "model reply failed: the server sent an error instead of a reply (code invalid_request)"),
    ([{"sse": TEXT, "then": "drop"}] * 3, "model unavailable after 3 attempts: OpenAIConnectionError"),
    ([{"sse": ["data: {not json\n\n", *TEXT, STOP, DONE]}], "model reply could not be read: JSONDecodeError"),
    ([{"sse": [START]}] * 2, "model returned no text"),  # asked once more, empty again
])
def test_broken_streams_fall_back_with_a_plain_reason(streaming: str, sse_server: FakeOpenAI,
                                                      steps: list[dict[str, Any]], note: str) -> None:
    sse_server.push(*steps)
    reply = _ask(streaming)
    assert reply.offline and _note(reply) == f"_{note}; offline answer shown_"
    assert len(sse_server.requests) == len(steps)


def test_an_error_event_that_says_busy_is_retried(streaming: str, sse_server: FakeOpenAI) -> None:
    """Was: 'model refused the request: APIError' at once, though the server only said it was overloaded."""
    sse_server.push({"sse": [START, 'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n']},
                    ANSWER)
    reply = _ask(streaming)
    assert (reply.offline, reply.text) == (False, HONEST)


def test_a_stream_that_goes_silent_mid_reply_is_abandoned_at_the_deadline(
    streaming: str, sse_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", "0.5")
    sse_server.push({"sse": TEXT, "then": "hang", "hang": 3}, ANSWER)
    started = time.monotonic()
    reply = _ask(streaming)
    assert reply.offline and "model did not answer in time" in _note(reply) and "not asked again" in _note(reply)
    assert len(sse_server.requests) == 1, "the same request to a silent server would wait as long again"
    assert time.monotonic() - started < 2 * 0.5 + 5  # 2T, plus a loaded machine's slack
    sse_server.steps.clear()


# -- rate limits -------------------------------------------------------------------------------------------------


def test_a_retry_after_longer_than_the_cap_is_not_waited_on(live: str, fake_openai: FakeOpenAI,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: two waits of the cap (2 x 8 s by default) for retries the server had said it would refuse."""
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "5")
    fake_openai.push(*[{"status": 429, "retry_after": "120"}] * 3)
    started = time.monotonic()
    reply = _ask(live)
    assert time.monotonic() - started < 5 and len(fake_openai.requests) == 1
    assert _note(reply) == ("_model server rate-limited (HTTP 429): it asks to wait 120 s, longer than "
                            "CHIMERA_LLM_BACKOFF_MAX (5 s); offline answer shown_")


def test_a_long_rate_limit_stops_model_use_for_the_cycle(fake_openai: FakeOpenAI,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from chimera.llm import get_chat_model

    _point_at(monkeypatch, fake_openai.base_url)
    fake_openai.push({"status": 429, "retry_after": "600"}, {"text": "never asked"})
    tracker = UsageTracker("openai-compatible")
    first = guarded_narrative(get_chat_model(), [HumanMessage("Summarise")], [], "OFFLINE", usage=tracker)
    second = guarded_narrative(get_chat_model(), [HumanMessage("Summarise")], [], "OFFLINE", usage=tracker)
    assert first.source == second.source == "offline" and len(fake_openai.requests) == 1
    assert "asks to wait 600 s" in (first.reason or "")


def test_a_short_retry_after_is_honoured(live: str, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "5")
    fake_openai.push({"status": 429, "retry_after": "1"}, {"text": HONEST})
    started = time.monotonic()
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    assert time.monotonic() - started >= 0.9, "asked again before the server's retry-after"


@pytest.mark.parametrize("steps", [
    [{"status": 429, "retry_after": "0"}, {"text": HONEST}],
    [{"status": 500}, {"text": HONEST}],
    [{"status": 503, "retry_after": "0"}, {"status": 502}, {"text": HONEST}],
])
def test_short_rate_limits_and_server_errors_are_retried(live: str, fake_openai: FakeOpenAI,
                                                         steps: list[dict[str, Any]]) -> None:
    fake_openai.push(*steps)
    reply = _ask(live)
    assert (reply.offline, reply.text, len(fake_openai.requests)) == (False, HONEST, len(steps))


# -- figures: honest ones in other formats, invented ones in any ------------------------------------------------

FACTS = [{"kpis": [
    {"id": "net_revenue", "status": "CRITICAL", "value": "16017.93", "target": "5000", "warning": "4000",
     "critical": "3000", "window": "7d", "unit": "currency", "label": "Net revenue (weekly)",
     "note": "net_revenue 16,017.93 over 7d to 2026-04-26, at or above target 5,000.00; 5.1 sd below its 4-week "
             "baseline 22,984.98 (-30.3%)"},
    {"id": "aov", "status": "OK", "value": "44.56", "target": "45", "warning": "38", "critical": "32",
     "window": "7d", "unit": "currency", "label": "Average order value",
     "note": "aov 44.56 over 7d to 2026-04-26, below target 45.00, above warning 38.00"},
]}]


@pytest.mark.parametrize("text", [
    "Net revenue is 16\u202f017,93 $ this week.",  # French: narrow no-break space, decimal comma
    "Net revenue is 16\u00a0017.93 USD.",
    "Net revenue is 16 017.93 USD.",
    "Net revenue is USD 16 017.93.",
    "Net revenue is $16 017.93, 30.3 % under its baseline of $22 984.98.",
    "Net revenue: $16.02k this week vs a $22.98k baseline (-30.3 %).",
    "Net revenue moved −30.3% against its baseline.",
    "AOV is 44.56 USD, just under the 45.00 USD target.",
    "Net revenue fell 30.3 per cent (from $22,984.98 to $16,017.93).",
    "Net revenue was ＄16,017.93.",
])
def test_honest_figures_in_other_formats_are_shown(text: str) -> None:
    """Was: thousands grouped by a space ('16 017,93 €', as French and SI style write them) were read
    as two figures, 16 and 017.93, and an honest answer was refused."""
    verdict = check_numbers(text, FACTS)
    assert verdict.ok, verdict.offending


@pytest.mark.parametrize("text", [
    "Net revenue is 18\u202f200 USD.", "Net revenue is 18 200 USD.", "Net revenue is $ 18 200.",
    "Net revenue is 18 200,50 €.", "Net revenue is $18.2k this week.", "Net revenue fell −35% against baseline.",
    "Net revenue is １８,２００ USD.", "Net revenue is **$18,200**.", "Net revenue is [$18,200](https://x.example/r).",
    "AOV is 47,10 €.", "Net revenue is 18.2 thousand dollars.", "Net revenue dropped 35 pct.",
])
def test_invented_figures_in_any_format_are_refused(text: str) -> None:
    assert not check_numbers(text, FACTS).ok


def test_plain_spaces_between_counts_are_not_joined_into_one_figure() -> None:
    facts = [{"window": "7d", "orders": 100}]
    assert check_numbers("Over the last 7 100 orders came in.", facts).ok


def test_an_honest_space_grouped_answer_is_shown_over_http(live: str, fake_openai: FakeOpenAI) -> None:
    text = "Le chiffre d'affaires net est de 16\u202f017,93 $ sur 7 jours."
    fake_openai.push({"text": text})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, text)


# -- keys ----------------------------------------------------------------------------------------------------------


def test_the_key_never_reaches_a_reply_a_log_a_file_or_the_model(
    shop: str, fake_openai: FakeOpenAI, sse_server: FakeOpenAI, chimera_home: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that echoes the key in its error messages (401, 500, an error event mid-stream)."""
    secret = "sk-proj-QA3-9f8e7d6c5b4a3210"
    _ingest(shop)
    _point_at(monkeypatch, fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    caplog.set_level(logging.DEBUG)  # every logger: openai's and httpx's too
    fake_openai.push({"status": 401, "message": f"Incorrect API key provided: {secret}"})
    wrong_key = _ask(shop)
    fake_openai.push(*[{"status": 500, "message": f"upstream rejected {secret}"}] * 3)
    down = _ask(shop)
    monkeypatch.setenv("OPENAI_BASE_URL", sse_server.base_url)
    monkeypatch.setenv("CHIMERA_LLM_STREAMING", "1")
    sse_server.reset()
    event_error = {"error": {"message": f"key {secret} revoked", "code": f"revoked:{secret}"}}
    sse_server.push({"sse": [START, f"data: {json.dumps(event_error)}\n\n"]})
    event = _ask(shop)
    assert "the server sent an error instead of a reply (code withheld)" in _note(event)
    assert "the server rejected the API key (HTTP 401); check OPENAI_API_KEY" in _note(wrong_key)
    assert [r.offline for r in (wrong_key, down, event)] == [True, True, True]
    assert fake_openai.headers[0]["authorization"] == f"Bearer {secret}", "the key did reach the server"
    bodies = json.dumps(fake_openai.requests + sse_server.requests)
    shown = [wrong_key.text, down.text, event.text, caplog.text, bodies]
    assert [s for s in shown if secret in s] == []
    stored = [p for p in chimera_home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert stored == [], f"the key was written to {stored}"


def test_a_cycle_with_a_working_model_keeps_the_key_out_of_prompts_logs_rows_and_checkpoints(
    shop: str, fake_openai: FakeOpenAI, chimera_home: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from graphs.service import run_cycle

    secret = "sk-proj-QA3-cycle-0a1b2c3d4e5f"
    _point_at(monkeypatch, fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    fake_openai.push(*[{"text": "Nothing here needs a figure."}] * 40)
    outcome = run_cycle(shop, as_of=AS_OF)
    assert outcome.status == "awaiting_decisions"
    assert any(n["source"] == "model" for n in outcome.narratives), "the model was used"
    assert all(h["authorization"] == f"Bearer {secret}" for h in fake_openai.headers)
    shown = [json.dumps(fake_openai.requests), caplog.text, outcome.model_dump_json()]
    assert [s for s in shown if secret in s] == []
    stored = [p for p in chimera_home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert stored == [], f"the key was written to {stored}"


@pytest.mark.parametrize("empty", [{"text": ""}, {"text": "<think>Revenue is down; I should say so.</think>"}])
def test_an_empty_answer_is_asked_for_once_more(live: str, fake_openai: FakeOpenAI, empty: dict[str, Any]) -> None:
    """Was: a model that stopped without an answer (empty, or only its reasoning: small and reasoning
    models do, after a tool round) gave the offline answer at once; asked once more, they answer."""
    fake_openai.push(empty, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    assert "no answer in it" in fake_openai.requests[1]["messages"][-1]["content"]
