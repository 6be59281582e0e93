"""``ChatOpenAI`` for servers that send a tool call's ``arguments`` as a JSON object, not a string.

The OpenAI API sends ``"arguments": "{\"metric\": \"aov\"}"`` (text); some OpenAI-compatible
servers (llama.cpp and Ollama builds, proxies that re-encode replies) send the object itself.
langchain-openai then fails to build the message (a ValidationError), and the commander's answer
fell back to the offline one although the model's call was readable. The object is written back as
the JSON text the API would have sent, in whole replies and in stream chunks alike; everything else
goes through untouched.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

__all__ = ["LenientChatOpenAI", "text_arguments"]


def text_arguments(message: dict[str, Any] | None) -> bool:
    """Rewrite, in place, each tool call's non-text ``arguments`` of a message (or a stream
    delta) as JSON text; True when one was rewritten."""
    changed = False
    for call in (message or {}).get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), dict | list):
            function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
            changed = True
    return changed


def _has_object_arguments(response: dict[str, Any] | openai.BaseModel) -> bool:
    choices = response.get("choices") if isinstance(response, dict) else getattr(response, "choices", None)
    for choice in choices or []:
        message = choice.get("message") if isinstance(choice, dict) else getattr(choice, "message", None)
        calls = message.get("tool_calls") if isinstance(message, dict) else getattr(message, "tool_calls", None)
        for call in calls or []:
            function = call.get("function") if isinstance(call, dict) else getattr(call, "function", None)
            args = function.get("arguments") if isinstance(function, dict) else getattr(function, "arguments", None)
            if isinstance(args, dict | list):
                return True
    return False


class LenientChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` reading tool-call arguments sent as a JSON object (see the module's docstring)."""

    def _create_chat_result(
        self, response: dict | openai.BaseModel, generation_info: dict | None = None
    ) -> ChatResult:
        if isinstance(response, dict | openai.BaseModel) and _has_object_arguments(response):
            response = response if isinstance(response, dict) else response.model_dump(warnings=False)
            for choice in response.get("choices") or []:
                text_arguments(choice.get("message"))
        return super()._create_chat_result(response, generation_info)

    def _convert_chunk_to_generation_chunk(
        self, chunk: dict, default_chunk_class: type, base_generation_info: dict | None
    ) -> ChatGenerationChunk | None:
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                text_arguments(choice.get("delta"))
        return super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
