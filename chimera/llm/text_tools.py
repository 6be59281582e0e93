"""Tool calls a model wrote as text instead of ``tool_calls``, as small local models do.

Ollama, llama.cpp and vLLM only fill ``tool_calls`` when their parser recognises the model's format;
otherwise the call arrives as the answer's text: ``<tool_call>{...}</tool_call>`` (Hermes, Qwen),
``[TOOL_CALLS][...]`` (Mistral), ``<|python_tag|>{...}`` (Llama 3.1), ``functools[...]``
(FireFunction), a fenced or bare JSON object. Such text is never an answer for a person: the chat
runs the calls it names (read-only tools), a narrative without tools refuses it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["TextToolCall", "text_tool_calls", "tool_name"]

# a wrapper that only ever introduces tool calls: whatever JSON follows it is a call
_TAGGED = re.compile(r"<tool_call>\s*(?P<body>.*?)\s*(?:</tool_call>|$)|<\|python_tag\|>\s*(?P<py>.*?)\s*"
                     r"(?:<\|eom_id\|>|<\|eot_id\|>|$)|\[TOOL_CALLS\]\s*(?P<mistral>.*?)\s*(?:\[/TOOL_CALLS\]|$)"
                     r"|^\s*functools\s*(?P<fire>\[.*\])\s*$", re.DOTALL)
_FENCED_ONLY = re.compile(r"^\s*```[\w-]*\s*\n?(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_PREFIXES = ("functions.", "function.", "tools.", "tool.")


class TextToolCall(BaseModel):
    """One call read from the text: the tool's name as written and its arguments."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


def tool_name(written: str, known: list[str] | tuple[str, ...] | set[str]) -> str:
    """The known tool a written name means (``functions.kpi_statuses``, ``KPI_Statuses``), else as written."""
    bare = written.strip()
    for prefix in _PREFIXES:
        if bare.lower().startswith(prefix):
            bare = bare[len(prefix):]
    by_lower = {k.lower(): k for k in known}
    return by_lower.get(bare.lower(), written)


def _call(obj: Any) -> TextToolCall | None:
    """``{"name", "arguments"|"parameters"|...}`` or ``{"function": {...}}`` as a call, else None."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip() or set(obj) - {"name", "id", "type", *_ARG_KEYS}:
        return None
    raw = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return None
    return TextToolCall(name=name.strip(), args=raw) if isinstance(raw, dict) else None


def _calls(body: str) -> list[TextToolCall]:
    """Every call in ``body``: one JSON value (an object or a list of them), or one object per line."""
    body = body.strip()
    try:
        values = [json.loads(body)]
    except json.JSONDecodeError:
        try:
            values = [json.loads(line) for line in body.splitlines() if line.strip()]
        except json.JSONDecodeError:
            return []
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    calls = [_call(v) for v in flat]
    return [c for c in calls if c is not None] if calls and all(calls) else []


def text_tool_calls(text: str) -> list[TextToolCall]:
    """The tool calls ``text`` consists of: after a wrapper tag (prose may come before it), or the
    whole text as (fenced) JSON; empty when the text is an answer."""
    tagged = [m for m in _TAGGED.finditer(text) if any(m.group(g) for g in ("body", "py", "mistral", "fire"))]
    if tagged:
        found = [c for m in tagged for c in _calls(m["body"] or m["py"] or m["mistral"] or m["fire"])]
        if found:
            return found
    fenced = _FENCED_ONLY.match(text)
    return _calls(fenced["body"] if fenced else text)
