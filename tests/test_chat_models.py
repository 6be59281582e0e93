"""Free-form chat questions with a model configured: tool calls through the real client, the truth
guard on the answer, and the offline template when the model invents figures."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from chimera.clients import get_client
from chimera.ingest import ingest_file
from chimera.llm.fake import ScriptedChatModel
from graphs.chat import answer
from tests.fake_openai_server import FakeOpenAI

QUESTION = "What should we do about lapsed customers who stopped buying?"


@pytest.fixture
def ingested(shop: str) -> str:
    ctx = get_client(shop)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    return shop


def test_question_through_the_real_client_with_a_tool_call(
    ingested: str, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    fake_openai.push({"tool_calls": [{"name": "sop_search", "args": {"query": "win-back email"}}]},
                     {"text": "Send the win-back email from growth/winback-email.md to lapsed customers."})
    reply = answer(get_client(ingested), "growth_commander_ai", QUESTION)
    assert not reply.offline, reply.text
    assert "win-back email" in reply.text
    tools = fake_openai.requests[0].get("tools") or []
    assert "sop_search" in {t["function"]["name"] for t in tools}
    assert any(m.get("role") == "tool" for m in fake_openai.requests[1]["messages"])


def test_invented_figures_in_a_chat_answer_fall_back_to_the_offline_answer(
    ingested: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIMERA_LLM", "fake")
    liar = ScriptedChatModel(responses=[AIMessage(content="Revenue will grow 37.5% to $81,234 next week.")] * 4)
    monkeypatch.setattr("agents.llm_commander.get_chat_model", lambda *a, **k: liar)
    reply = answer(get_client(ingested), "growth_commander_ai", QUESTION)
    assert reply.offline
    assert "81,234" not in reply.text and "not in the tool outputs" in reply.text
