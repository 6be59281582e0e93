"""Scripted fake chat models, shipped in the product so every test (and `CHIMERA_LLM=fake`) uses one.

langchain_core's fake chat models raise NotImplementedError from ``bind_tools``; a LangGraph tool
loop needs it, so ``ScriptedChatModel.bind_tools`` returns ``self.bind(tools=...)`` (TESTING.md,
layer 2). Usage metadata is filled from message lengths so the economy code has tokens to count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from chimera.errors import ProviderError

__all__ = [
    "FAKE_MODELS",
    "CountingFakeModel",
    "ScriptedChatModel",
    "estimate_tokens",
    "fake_model_from_name",
]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content, sort_keys=True, default=str)


def estimate_tokens(messages: Sequence[BaseMessage]) -> int:
    """About four characters a token plus a small per-message overhead, like OpenAI's counting."""
    total = 0
    for m in messages:
        text = _text_of(m.content)
        if isinstance(m, AIMessage) and m.tool_calls:
            text += json.dumps([tc["args"] for tc in m.tool_calls], sort_keys=True, default=str)
        total += 4 + math.ceil(len(text) / 4)
    return total


def _echo(messages: Sequence[BaseMessage]) -> AIMessage:
    """Unscripted reply: repeat the last tool output (or question), so its figures stay true."""
    tool = [m for m in messages if isinstance(m, ToolMessage)]
    source = tool[-1] if tool else (messages[-1] if messages else None)
    return AIMessage(content="Fake model: " + (_text_of(source.content) if source else ""))


class ScriptedChatModel(FakeMessagesListChatModel):
    """Answers with the scripted messages in order (cycling), recording each request.

    With an empty script it echoes the last tool output. Tool-calling works in LangGraph loops.
    """

    responses: list[BaseMessage] = Field(default_factory=list)
    model_name: str = "fake"
    requests: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "chimera-scripted-fake"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        """Bind like a real model would (OpenAI tool schemas), so tool loops run unchanged."""
        schemas = [convert_to_openai_tool(t) for t in tools]
        self.bound_tools = schemas
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=schemas, **kwargs)

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        if not self.responses:
            return _echo(messages)
        scripted = self.responses[self.i]
        self.i = (self.i + 1) % len(self.responses)
        return AIMessage(**scripted.model_dump(exclude={"type"}))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.requests.append(list(messages))
        self._record(messages, kwargs)
        reply = self._next(messages)
        if not reply.usage_metadata:
            prompt, completion = estimate_tokens(messages), estimate_tokens([reply])
            reply.usage_metadata = {
                "input_tokens": prompt,
                "output_tokens": completion,
                "total_tokens": prompt + completion,
            }
        reply.response_metadata = {**reply.response_metadata, "model_name": self.model_name}
        return ChatResult(generations=[ChatGeneration(message=reply)], llm_output={"model_name": self.model_name})

    def _record(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> None:
        """Hook for subclasses that measure requests."""


class CountingFakeModel(ScriptedChatModel):
    """Records every request's messages, tools and estimated prompt tokens (economy benchmarks)."""

    calls: list[dict[str, Any]] = Field(default_factory=list)

    def _record(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> None:
        self.calls.append(
            {
                "messages": list(messages),
                "tools": kwargs.get("tools") or [],
                "prompt_tokens": estimate_tokens(messages),
            }
        )

    @property
    def total_prompt_tokens(self) -> int:
        return sum(c["prompt_tokens"] for c in self.calls)


_INVENTED = "Net revenue reached $98,765.43 this week, up 42.1% on the week before."

FAKE_MODELS: dict[str, Callable[[], ScriptedChatModel]] = {
    "fake": ScriptedChatModel,
    "fake:counting": CountingFakeModel,
    "fake:invent": lambda: ScriptedChatModel(responses=[AIMessage(content=_INVENTED)], model_name="fake:invent"),
}


def fake_model_from_name(name: str = "fake") -> ScriptedChatModel:
    """``fake`` (echo), ``fake:counting`` (records requests) or ``fake:invent`` (makes up figures)."""
    factory = FAKE_MODELS.get(name)
    if factory is None:
        raise ProviderError(f"unknown fake model {name!r}: expected one of {', '.join(sorted(FAKE_MODELS))}")
    return factory()
