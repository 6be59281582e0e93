"""``ChatOpenAI`` for OpenAI-compatible servers whose replies bend the API's shape in readable ways.

Each made langchain-openai fail to build the message (a ValidationError), or drop the call, and the
owner got the offline answer although the model's reply was readable:

- a tool call's ``arguments`` sent as a JSON object (llama.cpp and Ollama builds, proxies that
  re-encode replies) or as JSON text encoded twice (``"\\"{\\\\\\"days\\\\\\": 7}\\""``): written back
  as the JSON text the API sends;
- a message without ``role`` (the reply of ``/chat/completions`` is always the assistant's);
- a legacy ``function_call`` instead of ``tool_calls`` (servers that predate tools): read as the
  one tool call it is;
- no choice at all, or a choice whose ``message`` is null: an empty reply;
- a streamed ``refusal`` (langchain-openai keeps only a whole reply's): kept, so the refusal is said.

Whole replies and stream chunks alike; everything else goes through untouched.

A tool call whose ``arguments`` are JSON but no object (``["net_revenue"]``, ``"net_revenue"``, ``42``)
is an invalid tool call, as unparseable JSON is, so the repair request asks the model again (retry.py).
langchain-openai built the message with a list as ``args`` (a ValidationError: the offline answer,
no repair) or ran the tool with no arguments at all (``0``, ``[]``); a stream already made it invalid.
``null`` stays a call without arguments.

A 200 reply whose body is an error and no choices (``{"error": {"code": 503, "message": "model is
loading"}}``: llama.cpp's router, LiteLLM and OpenRouter send upstream failures so) is raised as the
error event inside a stream is: retried when its code says busy, described by its code only (its
message is the server's words and may echo a key). It was "model reply could not be read: ValueError",
never retried.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import openai
from langchain_core.messages import AIMessage
from langchain_core.messages.tool import InvalidToolCall, invalid_tool_call
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from chimera.llm.retry import NOT_AN_OBJECT, SDK_HTTPX, not_an_object

__all__ = ["LenientChatOpenAI", "readable_message"]

LEGACY_CALL_ID = "call_function"
# the SDK's stream chunk holds the object as sent; langchain-openai dumps it before we rewrite it, and
# pydantic warns that `arguments` is not text: noise on the person's terminal, not a problem
warnings.filterwarnings("ignore", message=r"(?s)Pydantic serializer warnings:.*field_name='arguments'",
                        category=UserWarning)


def _text(args: Any) -> Any:
    """The JSON text of ``args`` as the API sends it (an object, or text holding JSON text)."""
    if isinstance(args, dict | list):
        return json.dumps(args, ensure_ascii=False)
    if isinstance(args, str) and args.lstrip().startswith('"'):
        try:
            inner = json.loads(args)
        except ValueError:
            return args
        if isinstance(inner, str) and inner.lstrip().startswith(("{", "[")):
            return inner
    return args


def readable_message(message: dict[str, Any] | None, *, delta: bool = False) -> bool:
    """Rewrite, in place, a reply's message (or a stream ``delta``) into the API's shape (see the
    module's docstring); True when something was rewritten."""
    if not isinstance(message, dict):
        return False
    changed = False
    if not delta and not message.get("role"):
        message["role"] = "assistant"
        changed = True
    legacy = message.get("function_call")
    if isinstance(legacy, dict) and (legacy.get("name") or delta) and not message.get("tool_calls"):
        # a stream names the function in its first delta only; the later ones add arguments
        call = {"id": LEGACY_CALL_ID, "type": "function"} if legacy.get("name") else {}
        call["function"] = dict(legacy)
        message["tool_calls"] = [{"index": 0, **call} if delta else call]
        message.pop("function_call")
        changed = True
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and "arguments" in function:
            text = _text(function["arguments"])
            if text is not function["arguments"]:
                function["arguments"] = text
                changed = True
    return changed


def _split_not_objects(message: Any) -> list[InvalidToolCall]:
    """Take, in place, the tool calls whose arguments are JSON but no object out of a whole reply's
    message; they come back as invalid tool calls, for the repair request."""
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(calls, list):
        return []
    kept, invalid = [], []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        kind = not_an_object(function.get("arguments")) if isinstance(function, dict) else None
        if kind is None:
            kept.append(call)
        else:
            invalid.append(invalid_tool_call(name=function.get("name"), args=function.get("arguments"),
                                             id=call.get("id"), error=f"{NOT_AN_OBJECT}, not {kind}"))
    if invalid:
        message["tool_calls"] = kept or None
    return invalid


def _needs_rewrite(response: dict[str, Any] | openai.BaseModel) -> bool:
    """Whether any choice's message is off the API's shape (checked on a copy: a reply in shape,
    the usual case, goes on as the SDK's object)."""
    dumped = response if isinstance(response, dict) else response.model_dump(warnings=False)
    messages = [json.loads(json.dumps(c.get("message"), default=str))
                for c in dumped.get("choices") or [] if isinstance(c, dict)]
    return any(readable_message(m) for m in messages) or any(_split_not_objects(m) for m in messages)


def _error_body(response: Any) -> dict[str, Any] | None:
    """The error a 200 reply carries instead of any choice, as the API's error object; else None."""
    dumped = response if isinstance(response, dict) else (
        response.model_dump(warnings=False) if isinstance(response, openai.BaseModel) else {})
    error = dumped.get("error")
    if not error or dumped.get("choices"):
        return None
    return error if isinstance(error, dict) else {"message": str(error)}


def _with_a_message(response: Any) -> Any:
    """A reply with no choice (``"choices": []``) or a choice without a message (``"message": null``)
    as one empty assistant message: a reply with no text (asked once more), as a stream without
    content reads; it was "model reply could not be read: IndexError" (or AttributeError)."""
    if not isinstance(response, dict | openai.BaseModel):
        return response
    dumped = response if isinstance(response, dict) else response.model_dump(warnings=False)
    choices = dumped.get("choices")
    if not isinstance(choices, list) or (choices and all(isinstance(c, dict) and isinstance(c.get("message"), dict)
                                                         for c in choices)):
        return response
    empty = {"role": "assistant", "content": ""}
    fixed = [{**c, "message": c["message"] if isinstance(c.get("message"), dict) else dict(empty)}
             for c in choices if isinstance(c, dict)]
    return {**dumped, "choices": fixed or [{"index": 0, "message": dict(empty), "finish_reason": None}]}


class LenientChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` reading replies bent in the ways the module's docstring lists."""

    def _create_chat_result(
        self, response: dict | openai.BaseModel, generation_info: dict | None = None
    ) -> ChatResult:
        error = _error_body(response)
        if error is not None:
            url = f"{self.openai_api_base or 'https://api.openai.com/v1'}/chat/completions"
            raise openai.APIError("the server sent an error instead of a reply", SDK_HTTPX.Request("POST", url),
                                  body=error)
        response = _with_a_message(response)
        invalid: list[list[InvalidToolCall]] = []
        if isinstance(response, dict | openai.BaseModel) and _needs_rewrite(response):
            response = response if isinstance(response, dict) else response.model_dump(warnings=False)
            for choice in response.get("choices") or []:
                if isinstance(choice, dict):
                    readable_message(choice.get("message"))
                    invalid.append(_split_not_objects(choice.get("message")))
        result = super()._create_chat_result(response, generation_info)
        for generation, calls in zip(result.generations, invalid, strict=False):
            if calls and isinstance(generation.message, AIMessage):
                generation.message.invalid_tool_calls = [*generation.message.invalid_tool_calls, *calls]
        return result

    def _convert_chunk_to_generation_chunk(
        self, chunk: dict, default_chunk_class: type, base_generation_info: dict | None
    ) -> ChatGenerationChunk | None:
        refusal = ""
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                readable_message(choice.get("delta"), delta=True)
                said = (choice.get("delta") or {}).get("refusal") if isinstance(choice.get("delta"), dict) else None
                refusal += said if isinstance(said, str) else ""
        generation = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
        if refusal and generation is not None:  # langchain-openai drops it: the reply read as empty
            generation.message.additional_kwargs["refusal"] = refusal
        return generation
