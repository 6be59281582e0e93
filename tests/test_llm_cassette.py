"""Cassettes: record through the real client once, replay byte for byte with no server and no key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool

from chimera.llm import CassetteChatModel, CassetteMiss, get_chat_model, invoke_with_retries
from tests.fake_openai_server import FakeOpenAI, fake_openai_fixture, fake_openai_server_fixture  # noqa: F401

SECRET = "sk-test-cassette-SECRET-987"


@tool
def kpi_value(kpi: str) -> str:
    """Value of one KPI this week."""
    return kpi


def _env(monkeypatch: pytest.MonkeyPatch, path: Path, mode: str, base_url: str | None) -> None:
    monkeypatch.setenv("CHIMERA_LLM", "openai")
    monkeypatch.setenv("CHIMERA_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("CHIMERA_LLM_CASSETTE", str(path))
    monkeypatch.setenv("CHIMERA_LLM_CASSETTE_MODE", mode)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    if base_url:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    else:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _conversation(model) -> list:
    first = [HumanMessage(content="Which KPI needs attention? Ünïcode ✓")]
    call = invoke_with_retries(model, first, tools=[kpi_value])
    second = [*first, call, ToolMessage(content="41.25", tool_call_id=call.tool_calls[0]["id"])]
    return [call, invoke_with_retries(model, second, tools=[kpi_value])]


def test_record_then_replay_is_identical(fake_openai: FakeOpenAI, monkeypatch, tmp_path: Path) -> None:
    cassette = tmp_path / "cassette.json"
    text = "AOV is $41.25 — steady.\nNo action needed."
    fake_openai.push({"tool_calls": [{"name": "kpi_value", "args": {"kpi": "aov"}}]}, {"text": text})
    _env(monkeypatch, cassette, "record", fake_openai.base_url)
    recorded = _conversation(get_chat_model())
    assert recorded[1].content == text and len(fake_openai.requests) == 2

    _env(monkeypatch, cassette, "replay", None)  # no server, no key
    replay_model = get_chat_model()
    assert isinstance(replay_model, CassetteChatModel) and replay_model.inner is None
    replayed = _conversation(replay_model)
    assert len(fake_openai.requests) == 2
    assert replayed[1].content.encode() == recorded[1].content.encode()
    assert replayed[0].tool_calls == recorded[0].tool_calls
    assert replayed[1].usage_metadata == recorded[1].usage_metadata
    assert SECRET not in cassette.read_text(encoding="utf-8")
    assert len(json.loads(cassette.read_text(encoding="utf-8"))) == 2


def test_replay_miss_fails_clearly(monkeypatch, tmp_path: Path) -> None:
    cassette = tmp_path / "empty.json"
    _env(monkeypatch, cassette, "replay", None)
    with pytest.raises(CassetteMiss, match=r"empty\.json: no recorded answer .*CHIMERA_LLM_CASSETTE_MODE=record"):
        get_chat_model().invoke([HumanMessage(content="never recorded")])


def test_changed_prompt_is_a_miss_not_a_wrong_answer(fake_openai: FakeOpenAI, monkeypatch, tmp_path) -> None:
    cassette = tmp_path / "c.json"
    fake_openai.push({"text": "recorded"})
    _env(monkeypatch, cassette, "record", fake_openai.base_url)
    get_chat_model().invoke([HumanMessage(content="prompt A")])
    _env(monkeypatch, cassette, "replay", None)
    model = get_chat_model()
    assert model.invoke([HumanMessage(content="prompt A")]).content == "recorded"
    with pytest.raises(CassetteMiss):
        model.invoke([HumanMessage(content="prompt B")])
