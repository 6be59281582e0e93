"""The shipped scripted fake runs a real LangGraph tool loop and reports usage like a provider."""

from __future__ import annotations

from typing import Annotated, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition

from chimera.errors import ProviderError
from chimera.llm import CountingFakeModel, ScriptedChatModel, fake_model_from_name
from chimera.llm.fake import estimate_tokens


@tool
def kpi_value(kpi: str) -> str:
    """Value of one KPI this week."""
    return {"aov": "41.25", "orders": "17"}[kpi]


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _graph(model):
    bound = model.bind_tools([kpi_value])
    builder = StateGraph(State)
    builder.add_node("commander", lambda s: {"messages": [bound.invoke(s["messages"])]})
    builder.add_node("tools", ToolNode([kpi_value]))
    builder.add_edge(START, "commander")
    builder.add_conditional_edges("commander", tools_condition)
    builder.add_edge("tools", "commander")
    builder.add_edge("commander", END)
    return builder.compile(checkpointer=InMemorySaver())


def _script() -> list[AIMessage]:
    call = {"name": "kpi_value", "args": {"kpi": "aov"}, "id": "call_1", "type": "tool_call"}
    return [AIMessage(content="", tool_calls=[call]), AIMessage(content="AOV is $41.25.")]


@pytest.mark.parametrize("stream_mode", [None, "messages"])
def test_tool_loop_runs_deterministically(stream_mode) -> None:
    model = CountingFakeModel(responses=_script())
    graph, cfg = _graph(model), {"configurable": {"thread_id": "t1"}}
    inputs = {"messages": [HumanMessage(content="How is AOV?")]}
    if stream_mode:
        for _ in graph.stream(inputs, cfg, stream_mode=stream_mode):
            pass
        final = graph.get_state(cfg).values
    else:
        final = graph.invoke(inputs, cfg)
    assert final["messages"][-1].content == "AOV is $41.25."
    assert final["messages"][-2].content == "41.25"  # the tool really ran
    assert [c["tools"][0]["function"]["name"] for c in model.calls] == ["kpi_value", "kpi_value"]
    second = model.calls[1]
    assert second["prompt_tokens"] == estimate_tokens(second["messages"]) > model.calls[0]["prompt_tokens"]
    assert model.total_prompt_tokens == sum(c["prompt_tokens"] for c in model.calls)


def test_usage_metadata_is_filled_from_lengths() -> None:
    model = ScriptedChatModel(responses=[AIMessage(content="x" * 40)])
    reply = model.invoke([HumanMessage(content="y" * 400)])
    usage = reply.usage_metadata
    assert usage["input_tokens"] == estimate_tokens([HumanMessage(content="y" * 400)])
    assert usage["output_tokens"] == estimate_tokens([AIMessage(content="x" * 40)])
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["model_name"] == "fake"


def test_script_cycles_and_replies_are_fresh_copies() -> None:
    model = ScriptedChatModel(responses=[AIMessage(content="one"), AIMessage(content="two")])
    got = [model.invoke("q").content for _ in range(3)]
    assert got == ["one", "two", "one"]
    assert model.responses[0].usage_metadata is None  # the script is not mutated


def test_unscripted_fake_echoes_the_tool_output() -> None:
    from langchain_core.messages import ToolMessage

    reply = fake_model_from_name("fake").invoke([ToolMessage(content='{"orders": 17}', tool_call_id="c")])
    assert '{"orders": 17}' in reply.content


def test_fake_selection_by_name() -> None:
    assert isinstance(fake_model_from_name("fake:counting"), CountingFakeModel)
    assert "98,765" in fake_model_from_name("fake:invent").invoke("q").content
    with pytest.raises(ProviderError, match="fake:counting"):
        fake_model_from_name("fake:nope")
