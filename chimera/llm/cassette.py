"""Record model exchanges once, replay them byte for byte (``CHIMERA_LLM_CASSETTE`` + ``_MODE``).

A request is keyed by the sha256 of its canonical JSON (model name, messages, tools, tool choice),
so the same prompt gives the same recorded answer and a changed prompt is a clear miss, not a
silent wrong answer. The file holds messages and answers only: never headers, never a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from chimera.errors import ProviderError

__all__ = ["CassetteChatModel", "CassetteMiss", "cassette_from_env", "request_key"]

Mode = Literal["record", "replay"]


class CassetteMiss(ProviderError):
    """Replay found no recorded answer for a request."""


def _canonical_message(m: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.type, "content": m.content}
    if isinstance(m, AIMessage) and (m.tool_calls or m.invalid_tool_calls):
        out["tool_calls"] = [{"name": t["name"], "args": t["args"], "id": t.get("id")} for t in m.tool_calls]
        out["invalid_tool_calls"] = [{"name": t.get("name"), "args": t.get("args")} for t in m.invalid_tool_calls]
    for attr in ("tool_call_id", "name"):
        if getattr(m, attr, None):
            out[attr] = getattr(m, attr)
    return out


def request_key(model: str, messages: Sequence[BaseMessage], tools: Any = None, tool_choice: Any = None) -> str:
    """sha256 of the canonical request; stable across runs and machines."""
    doc = {
        "model": model,
        "messages": [_canonical_message(m) for m in messages],
        "tools": tools or [],
        "tool_choice": tool_choice,
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _dump_reply(msg: AIMessage) -> dict[str, Any]:
    return {
        "content": msg.content,
        "tool_calls": [dict(t) for t in msg.tool_calls],
        "invalid_tool_calls": [dict(t) for t in msg.invalid_tool_calls],
        "usage_metadata": dict(msg.usage_metadata) if msg.usage_metadata else None,
        "model_name": (msg.response_metadata or {}).get("model_name"),
    }


def _load_reply(rec: dict[str, Any]) -> AIMessage:
    return AIMessage(
        content=rec["content"],
        tool_calls=rec.get("tool_calls") or [],
        invalid_tool_calls=rec.get("invalid_tool_calls") or [],
        usage_metadata=rec.get("usage_metadata"),
        response_metadata={"model_name": rec.get("model_name")} if rec.get("model_name") else {},
    )


class CassetteChatModel(BaseChatModel):
    """Wraps a chat model: ``record`` calls it and stores answers; ``replay`` answers from the file only."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    mode: Mode
    model_name: str
    inner: BaseChatModel | None = None

    @property
    def _llm_type(self) -> str:
        return "chimera-cassette"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        """Tools as OpenAI schemas, so they are part of the key and reach the wrapped model."""
        schemas = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=schemas, **kwargs)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _write(self, key: str, request: list[BaseMessage], reply: AIMessage) -> None:
        with _LOCK:
            data = self._read()
            last = request[-1] if request else None
            data[key] = {
                "model": self.model_name,
                "last_message": str(last.content)[:200] if last else "",
                "reply": _dump_reply(reply),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.path)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        key = request_key(self.model_name, messages, kwargs.get("tools"), kwargs.get("tool_choice"))
        if self.mode == "replay":
            rec = self._read().get(key)
            if rec is None:
                last = str(messages[-1].content)[:80] if messages else ""
                raise CassetteMiss(
                    f"{self.path}: no recorded answer for request {key[:12]} (model {self.model_name!r}, "
                    f"last message {last!r}); re-record with CHIMERA_LLM_CASSETTE_MODE=record "
                    "and a real backend"
                )
            reply = _load_reply(rec["reply"])
        else:
            if self.inner is None:
                raise ProviderError("cassette record mode needs a model backend to record from (set CHIMERA_LLM)")
            reply = _record_call(self.inner, messages, stop, kwargs)
            self._write(key, messages, reply)
        return ChatResult(generations=[ChatGeneration(message=reply)], llm_output={"model_name": self.model_name})


_LOCK = threading.Lock()


def _record_call(inner: BaseChatModel, messages: list[BaseMessage], stop: list[str] | None,
                 kwargs: dict[str, Any]) -> AIMessage:
    """One answer from the wrapped model; a streaming model (``CHIMERA_LLM_STREAMING=1``) is read
    through its stream, as ``invoke`` would, since its plain ``_generate`` expects a JSON body."""
    if getattr(inner, "streaming", False):
        result = generate_from_stream(inner._stream(messages, stop=stop, **kwargs))
    else:
        result = inner._generate(messages, stop=stop, **kwargs)
    reply = result.generations[0].message
    if not isinstance(reply, AIMessage):  # a stream's merged chunk
        reply = AIMessage(**reply.model_dump(exclude={"type", "tool_call_chunks", "chunk_position"}))
    return reply


def cassette_from_env(inner: BaseChatModel | None, model_name: str) -> BaseChatModel | None:
    """Wrap ``inner`` when ``CHIMERA_LLM_CASSETTE`` is set; mode from ``CHIMERA_LLM_CASSETTE_MODE``."""
    path = os.environ.get("CHIMERA_LLM_CASSETTE")
    if not path:
        return inner
    mode = os.environ.get("CHIMERA_LLM_CASSETTE_MODE", "replay")
    if mode not in ("record", "replay"):
        raise ProviderError(f"CHIMERA_LLM_CASSETTE_MODE={mode!r}: expected 'record' or 'replay'")
    return CassetteChatModel(path=Path(path), mode=mode, model_name=model_name, inner=inner)
