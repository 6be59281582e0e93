"""QA9: a commander's chat answer through the real client against the local fake OpenAI server, with
tool-call quirks of servers never seen before (calls without ids or with the same id, parallel calls,
arguments as an object or as JSON text encoded twice, streamed fragments), and the guard on the
answer that follows: honest figures pass, invented ones end in the offline answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chimera.clients import get_client
from chimera.ingest import ingest_file
from graphs.chat import answer
from tests.cycle_fixtures import AS_OF
from tests.fake_openai_server import FakeOpenAI

COMMANDER = "commerce_commander_ai"
QUESTION = "what should I do about revenue and aov?"
HONEST = "Net revenue is $16,017.93."  # the generated shop's net_revenue over 7d to AS_OF
INVENTED = "Net revenue is $18,250.00."
KPIS = {"name": "kpi_statuses", "args": {"kpi_ids": ["net_revenue"]}}
SERIES = {"name": "metric_series", "args": {"metric": "net_revenue", "days": 7}}


@pytest.fixture(params=["whole", "streamed"])
def live(request: pytest.FixtureRequest, shop: str, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> str:
    """The generated shop, ingested, its commanders' model the local fake server (whole replies or SSE)."""
    ctx = get_client(shop)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "0.01")
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", "5")
    if request.param == "streamed":
        monkeypatch.setenv("CHIMERA_LLM_STREAMING", "1")
    return shop


def _ask(client: str) -> Any:
    return answer(get_client(client), COMMANDER, QUESTION, as_of=AS_OF)


def _tool_answers(fake: FakeOpenAI, request: int) -> list[dict[str, Any]]:
    return [m for m in fake.requests[request]["messages"] if m.get("role") == "tool"]


@pytest.mark.parametrize("step", [
    {"tool_calls": [KPIS, SERIES], "no_ids": True},  # parallel calls, no ids (llama.cpp builds, some proxies)
    {"tool_calls": [KPIS, SERIES]},  # parallel calls with ids
    {"tool_calls": [{"name": "kpi_statuses", "args": json.dumps(json.dumps({"kpi_ids": ["net_revenue"]}))}]},
    {"tool_calls": [{"name": "kpi_statuses", "args": "{}"}], "no_ids": True},
    {"tool_calls": [{"name": "kpi_statuses", "args": ""}, {"name": "kpi_statuses", "args": "null"}]},
    {"tool_calls": [KPIS, {"name": "kpi_statuses", "args": {}}], "no_ids": True},  # the same tool twice
])
def test_tool_call_quirks_still_reach_an_honest_answer(live: str, fake_openai: FakeOpenAI,
                                                        step: dict[str, Any]) -> None:
    """Was (streamed): arguments encoded twice cost a repair request, whole replies read them at once;
    a model repeating its encoding ended in the offline answer."""
    fake_openai.push(step, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text, len(fake_openai.requests)) == (False, HONEST, 2)
    tools = _tool_answers(fake_openai, 1)
    assert len(tools) == len(step["tool_calls"]) and len({t["tool_call_id"] for t in tools}) == len(tools)
    assert all("error" not in json.loads(t["content"]) for t in tools if t["content"].startswith("{"))


def test_an_invented_figure_after_tool_calls_is_corrected_then_refused(live: str, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"tool_calls": [KPIS, SERIES], "no_ids": True}, {"text": INVENTED}, {"text": INVENTED})
    reply = _ask(live)
    assert reply.offline and "18,250.00" not in reply.text
    correction = fake_openai.requests[2]["messages"][-1]["content"]
    assert "$18,250.00" in correction and "not supported by the tool outputs" in correction


def test_an_invented_figure_is_corrected_to_an_honest_one(live: str, fake_openai: FakeOpenAI) -> None:
    fake_openai.push({"tool_calls": [KPIS]}, {"text": INVENTED}, {"text": HONEST})
    reply = _ask(live)
    assert (reply.offline, reply.text) == (False, HONEST)
