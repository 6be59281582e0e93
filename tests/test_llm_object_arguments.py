"""A tool call whose ``arguments`` is a JSON object, as some OpenAI-compatible servers send it (the API
sends text): read as the same call, whole replies and streams alike. Was: langchain-openai could not
build the message, and the owner got the offline answer although the model's call was readable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chimera.llm.openai_compat import readable_message
from tests.fake_openai_server import FakeOpenAI
from tests.test_llm_unseen_qa3 import (  # noqa: F401 - fixtures
    DONE,
    HONEST,
    START,
    STOP,
    TEXT,
    USAGE,
    _ask,
    _delta,
    live,
    sse_server,
    streaming,
)

OBJECT = {"kpi_ids": ["net_revenue"]}


def _completion(calls: list[dict[str, Any]]) -> str:
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{i}", "type": "function", "function": c} for i, c in enumerate(calls)]}
    return json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def _tool_answers(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize("calls", [
    [{"name": "kpi_statuses", "arguments": OBJECT}],
    [{"name": "kpi_statuses", "arguments": {}}, {"name": "metric_series", "arguments": {"metric": "net_sales",
                                                                                         "days": 3}}],
    [{"name": "kpi_statuses", "arguments": OBJECT}, {"name": "evidence", "arguments": "{}"}],  # mixed
])
def test_object_arguments_in_a_whole_reply_are_run(live: str, fake_openai: FakeOpenAI,  # noqa: F811
                                                   calls: list[dict[str, Any]]) -> None:
    fake_openai.push({"raw": _completion(calls), "content_type": "application/json"}, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    answers = _tool_answers(fake_openai.requests[1])
    assert len(answers) == len(calls) and not any("error" in a for a in answers if isinstance(a, dict)), answers
    sent = fake_openai.requests[1]["messages"][-1 - len(calls)]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in sent] == \
        [c["arguments"] if isinstance(c["arguments"], dict) else json.loads(c["arguments"]) for c in calls], \
        "the call goes back to the server as the API's text"


def test_the_kpi_asked_for_is_the_one_answered(live: str, fake_openai: FakeOpenAI) -> None:  # noqa: F811
    fake_openai.push({"raw": _completion([{"name": "kpi_statuses", "arguments": OBJECT}]),
                      "content_type": "application/json"}, {"text": HONEST})
    _ask(live)
    [statuses] = _tool_answers(fake_openai.requests[1])
    shown = json.dumps(statuses)
    assert "net_revenue" in shown and "aov" not in shown, "the object's kpi_ids were read, not dropped"


def test_object_arguments_in_a_stream_chunk_are_run(streaming: str, sse_server: FakeOpenAI) -> None:  # noqa: F811
    call = {"index": 0, "id": "call_0", "type": "function", "function": {"name": "kpi_statuses", "arguments": OBJECT}}
    sse_server.push({"sse": [START, _delta({"tool_calls": [call]}), _delta({}, "tool_calls"), USAGE, DONE]},
                    {"sse": [*TEXT, STOP, DONE]})
    reply = _ask(streaming)
    assert (reply.offline, reply.text) == (False, HONEST)
    [statuses] = _tool_answers(sse_server.requests[1])
    assert "net_revenue" in json.dumps(statuses)


CALL = {"name": "kpi_statuses", "arguments": json.dumps(OBJECT)}


def test_a_streamed_legacy_function_call_is_run(streaming: str, sse_server: FakeOpenAI) -> None:  # noqa: F811
    parts = [_delta({"function_call": {"name": "kpi_statuses", "arguments": ""}}),
             _delta({"function_call": {"arguments": '{"kpi_ids": '}}),
             _delta({"function_call": {"arguments": '["net_revenue"]}'}})]
    sse_server.push({"sse": [START, *parts, _delta({}, "function_call"), DONE]}, {"sse": [*TEXT, STOP, DONE]})
    reply = _ask(streaming)
    assert (reply.offline, reply.text) == (False, HONEST)
    [statuses] = _tool_answers(sse_server.requests[1])
    assert "net_revenue" in json.dumps(statuses) and "aov" not in json.dumps(statuses)


@pytest.mark.parametrize("message", [
    {"content": HONEST},  # no role
    {"role": "assistant", "content": [{"type": "text", "text": HONEST}]},  # content parts
])
def test_an_answer_without_a_role_or_in_parts_is_shown(live: str, fake_openai: FakeOpenAI,  # noqa: F811
                                                       message: dict[str, Any]) -> None:
    body = json.loads(_completion([]))
    body["choices"][0] |= {"message": message, "finish_reason": "stop"}
    fake_openai.push({"raw": json.dumps(body), "content_type": "application/json"})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)


@pytest.mark.parametrize("message", [
    {"role": "assistant", "content": None, "function_call": CALL},  # legacy functions API
    {"content": "", "tool_calls": [{"id": "a", "type": "function", "function": CALL}]},  # no role
    {"role": "assistant", "content": "", "tool_calls": [  # JSON text encoded twice
        {"id": "a", "type": "function", "function": {**CALL, "arguments": json.dumps(json.dumps(OBJECT))}}]},
])
def test_a_call_in_an_older_or_doubly_encoded_shape_is_run(live: str, fake_openai: FakeOpenAI,  # noqa: F811
                                                          message: dict[str, Any]) -> None:
    body = json.loads(_completion([]))
    body["choices"][0]["message"] = message
    fake_openai.push({"raw": json.dumps(body), "content_type": "application/json"}, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
    [statuses] = _tool_answers(fake_openai.requests[1])
    assert "net_revenue" in json.dumps(statuses) and "aov" not in json.dumps(statuses)


@pytest.mark.parametrize("args", [OBJECT, [1, 2], {"note": "café ✓"}, json.dumps(json.dumps(OBJECT))])
def test_readable_message_writes_the_json_text_the_api_sends(args: Any) -> None:
    message = {"role": "assistant", "tool_calls": [{"function": {"name": "t", "arguments": args}},
                                                   {"function": {"arguments": "{}"}}]}
    assert readable_message(message)
    expected = json.dumps(args, ensure_ascii=False) if not isinstance(args, str) else json.loads(args)
    assert [c["function"]["arguments"] for c in message["tool_calls"]] == [expected, "{}"]
    assert not readable_message(message) and not readable_message(None)
    kept = {"role": "assistant", "tool_calls": [{"function": {"name": "t", "arguments": '"just text"'}}]}
    assert not readable_message(kept), "a JSON string that holds no JSON is left to the tool's own error"
    assert readable_message({"content": "x"}) and not readable_message({"content": "x"}, delta=True)
