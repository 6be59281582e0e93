"""Tool calls a model wrote as text instead of ``tool_calls``, as small local models do.

Ollama, llama.cpp and vLLM only fill ``tool_calls`` when their parser recognises the model's format;
otherwise the call arrives as the answer's text: ``<tool_call>{...}</tool_call>`` (Hermes, Qwen),
``<tool_call><function=name><parameter=p>...`` (Qwen3-Coder), ``<function=name>{...}</function>``
(Llama 3.1), ``[TOOL_CALLS][...]`` or ``[TOOL_CALLS]name[ARGS]{...}`` (Mistral), ``<|tool_call|>[...]``
(Granite), ``<|python_tag|>{...}`` (Llama 3.1), ``[name(a=1)]`` (Llama 3.2 pythonic; Gemma's fenced
``tool_code``), DeepSeek's ``<｜tool▁call▁begin｜>`` markers, gpt-oss's harmony ``to=functions.name``,
``functools[...]`` (FireFunction), a fenced or bare JSON object (also ``{"tool": ..., "tool_input": ...}``
and single-quoted). Such text is never an answer for a person: the chat runs the calls it names
(read-only tools), a narrative without tools refuses it, and markup no call can be read from is
refused too (``has_call_markup``).

``visible_text`` is what of a raw reply a person may read: the final channel of a harmony reply,
and nothing after an end-of-turn token a server left in (a model that wrote on into a made-up turn).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["TextToolCall", "has_call_markup", "text_tool_calls", "tool_name", "visible_text"]

# a wrapper that only ever introduces tool calls: whatever JSON follows it is a call
_TAGGED = re.compile(r"<tool_call>\s*(?P<body>.*?)\s*(?:</tool_call>|$)|<\|python_tag\|>\s*(?P<py>.*?)\s*"
                     r"(?:<\|eom_id\|>|<\|eot_id\|>|$)|\[TOOL_CALLS\]\s*(?P<mistral>.*?)\s*(?:\[/TOOL_CALLS\]|$)"
                     r"|<\|tool_call\|>\s*(?P<granite>.*?)\s*$|^\s*functools\s*(?P<fire>\[.*\])\s*$", re.DOTALL)
_GROUPS = ("body", "py", "mistral", "granite", "fire")
_FENCED_ONLY = re.compile(r"^\s*```[\w-]*\s*\n?(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)
_NAME_KEYS = ("name", "tool", "tool_name", "action")  # "action"/"action_input": a ReAct agent's step
_ARG_KEYS = ("arguments", "parameters", "args", "input", "tool_input", "action_input", "kwargs")
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
    """``{"name"|"tool", "arguments"|"parameters"|"tool_input"|...}`` or ``{"function": {...}}`` as a
    call, else None."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    names = [k for k in _NAME_KEYS if k in obj]
    name = obj[names[0]] if len(names) == 1 else None
    if not isinstance(name, str) or not name.strip() or set(obj) - {*_NAME_KEYS, "id", "type", *_ARG_KEYS}:
        return None
    raw = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    if isinstance(raw, str):
        raw = _value(raw) if raw.strip() else {}
    return TextToolCall(name=name.strip(), args=raw) if isinstance(raw, dict) else None


_NOT_READ = object()


def _value(text: str) -> Any:
    """``text`` as JSON, else as a Python literal (single quotes, True/None: some models write
    ``{'name': 'kpi_statuses'}``); ``_NOT_READ`` when it is neither."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_READ


def _calls(body: str) -> list[TextToolCall]:
    """Every call in ``body``: one JSON value (an object or a list of them), one object per line, a
    ``<function=...>`` element, a Mistral ``name[ARGS]{...}`` or Python call syntax."""
    body = body.strip()
    for reader in (_xml_calls, _mistral_calls, _python_calls):
        found = reader(body)
        if found:
            return found
    value = _value(body)
    if value is not _NOT_READ:
        values = [value]
    else:
        values = [_value(line) for line in body.splitlines() if line.strip()]
        if not values or any(v is _NOT_READ for v in values):
            return []
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    calls = [_call(v) for v in flat]
    return [c for c in calls if c is not None] if calls and all(calls) else []


# Qwen3-Coder: <function=name><parameter=p>value</parameter></function>; Llama 3.1: <function=name>{...}</function>
_XML_CALL = re.compile(r"<function=(?P<name>[^>\s]+)>(?P<inner>.*?)(?:</function>|$)", re.DOTALL)
_XML_PARAM = re.compile(r"<parameter=(?P<key>[^>\s]+)>(?P<value>.*?)(?:</parameter>|(?=<parameter=)|$)", re.DOTALL)


def _xml_calls(body: str) -> list[TextToolCall]:
    calls = []
    for m in _XML_CALL.finditer(body):
        inner = m["inner"].strip()
        if inner.startswith("{"):
            args = _value(inner)
        else:
            params = {p["key"]: p["value"].strip() for p in _XML_PARAM.finditer(inner)}
            args = {k: (v if (read := _value(v)) is _NOT_READ else read) for k, v in params.items()}
        if not isinstance(args, dict):
            return []
        calls.append(TextToolCall(name=m["name"].strip(), args=args))
    return calls


_MISTRAL_CALL = re.compile(r"^\s*(?P<name>[\w.\-]+)\s*(?:\[CALL_ID\]\s*\w+\s*)?\[ARGS\]\s*(?P<args>.*?)\s*$", re.DOTALL)


def _mistral_calls(body: str) -> list[TextToolCall]:
    """``name[ARGS]{...}`` calls (Mistral's newer templates), several joined by ``[TOOL_CALLS]``."""
    if "[ARGS]" not in body:
        return []
    calls = []
    for part in filter(str.strip, body.split("[TOOL_CALLS]")):
        m = _MISTRAL_CALL.match(part)
        args = _value(m["args"]) if m else _NOT_READ
        if not m or not isinstance(args, dict):
            return []
        calls.append(TextToolCall(name=m["name"], args=args))
    return calls


def _python_call(node: ast.expr) -> TextToolCall | None:
    """``name(key=literal, ...)`` (also ``functions.name(...)``) as a call; anything else None."""
    if not isinstance(node, ast.Call) or node.args:
        return None
    name = ast.unparse(node.func)
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
        return None
    try:
        args = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    except (ValueError, SyntaxError, TypeError):
        return None
    return TextToolCall(name=name, args=args) if len(args) == len(node.keywords) else None


def _python_calls(body: str) -> list[TextToolCall]:
    """``[name(a=1), other()]`` or ``name(a=1)`` written as the whole text (Llama 3.2's pythonic
    calls, Gemma's ``tool_code``); prose never parses as that."""
    if "(" not in body or len(body) > 4_000:
        return []
    try:
        tree = ast.parse(body.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    nodes = tree.elts if isinstance(tree, ast.List) else [tree]
    calls = [_python_call(n) for n in nodes]
    return [c for c in calls if c is not None] if calls and all(calls) else []


# DeepSeek V3 (function<｜tool▁sep｜>name ```json {...}```) and V3.1 (name<｜tool▁sep｜>{...})
_BAR, _SP = "[｜|]", "[▁_]"
_DEEPSEEK_CALL = re.compile(
    rf"<{_BAR}tool{_SP}call{_SP}begin{_BAR}>\s*(?:function\s*<{_BAR}tool{_SP}sep{_BAR}>)?\s*(?P<name>[\w.\-]+)\s*"
    rf"(?:<{_BAR}tool{_SP}sep{_BAR}>)?\s*(?:```[\w-]*\s*)?(?P<args>.*?)\s*(?:```\s*)?(?:<{_BAR}tool{_SP}call{_SP}end{_BAR}>|$)",
    re.DOTALL)
# gpt-oss (harmony): [<|start|>assistant] [to=functions.name] <|channel|>commentary [to=...] [json]
# <|message|>{...}<|call|>
_HARMONY_PART = re.compile(r"<\|start\|>")
_HARMONY_END = re.compile(r"<\|(?:end|return|call)\|>")
_CHANNEL = re.compile(r"<\|channel\|>\s*(?P<channel>\w+)")
_RECIPIENT = re.compile(r"\bto=(?P<name>[\w.\-]+)")


def _harmony(text: str) -> list[tuple[str, str, str]]:
    """(channel, recipient, message) of each message of a harmony reply (gpt-oss), in order."""
    parts = []
    for part in _HARMONY_PART.split(text):
        head, sep, message = part.partition("<|message|>")
        if not sep:
            continue
        channel = _CHANNEL.search(head)
        recipient = _RECIPIENT.search(head)
        parts.append((channel["channel"].lower() if channel else "", recipient["name"] if recipient else "",
                      _HARMONY_END.split(message, maxsplit=1)[0].strip()))
    return parts


def _is_harmony(text: str) -> bool:
    return "<|message|>" in text and "<|channel|>" in text


def _marked_calls(text: str) -> list[TextToolCall]:
    """Calls in DeepSeek's or harmony's markers (the names and arguments stand apart)."""
    pairs = [(m["name"], m["args"]) for m in _DEEPSEEK_CALL.finditer(text)]
    if _is_harmony(text):
        pairs += [(to.removeprefix("functions."), message) for _channel, to, message in _harmony(text) if to]
    calls = []
    for name, raw in pairs:
        args = _value(raw) if raw.strip() else {}
        if not isinstance(args, dict):
            return []
        calls.append(TextToolCall(name=name, args=args))
    return calls


def text_tool_calls(text: str) -> list[TextToolCall]:
    """The tool calls ``text`` consists of: after a wrapper tag (prose may come before it), in a
    model's call markers, or the whole text as (fenced) JSON or call syntax; empty when the text is
    an answer."""
    tagged = [m for m in _TAGGED.finditer(text) if any(m.group(g) for g in _GROUPS)]
    if tagged:
        found = [c for m in tagged for c in _calls(next(m[g] for g in _GROUPS if m[g]))]
        if found:
            return found
    marked = _marked_calls(text)
    if marked:
        return marked
    if "<function=" in text:
        return _xml_calls(text)
    fenced = _FENCED_ONLY.match(text)
    return _calls(fenced["body"] if fenced else text)


# what only a call (or a chat template) writes: text holding it is no answer even when no call reads
_CALL_MARKUP = re.compile(r"</?tool_call>|\[/?TOOL_CALLS\]|\[ARGS\]|<\|python_tag\|>|<\|tool_call\|>"
                          rf"|<function=[^>\s]+>|tool{_SP}calls?{_SP}begin|<\|(?:channel|message|constrain|call|start)\|>"
                          r"|(?m:^\s*```tool_code\b)")


def has_call_markup(text: str) -> bool:
    """Whether ``text`` holds tool-call or chat-template markup (read as calls or not): raw
    ``<tool_call>{"name": ...`` with broken JSON is no answer for a person either."""
    return bool(_CALL_MARKUP.search(text))


# a token that ends the model's turn (or starts another): a server that left it in shows what follows,
# often a made-up next turn ("<|im_start|>user ...") nobody said
_END_OF_TURN = re.compile(r"<\|(?:im_end|im_start|eot_id|eom_id|end|return|endoftext|end_of_text|end_of_turn)\|>"
                          rf"|</s>|<end_of_turn>|<start_of_turn>|<{_BAR}end{_SP}of{_SP}sentence{_BAR}>")


def visible_text(text: str) -> str:
    """What of a raw reply may reach a person: a harmony reply's last ``final`` message (its
    ``analysis`` is reasoning; a reply of calls keeps them, to be run; with neither there is no
    answer), and nothing from an end-of-turn token on (a ``<|python_tag|>`` call before it stays)."""
    if _is_harmony(text):
        messages = _harmony(text)
        finals = [message for channel, _to, message in messages if channel == "final"]
        if finals:
            return finals[-1]
        if not any(to for _channel, to, _message in messages):
            return ""
    else:
        end = next((m for m in _END_OF_TURN.finditer(text)  # "<s>old</s>": HTML strikethrough, no turn's end
                    if not (m[0] == "</s>" and text.count("<s>", 0, m.start()) > text.count("</s>", 0, m.start()))),
                   None)
        text = text[: end.start()] if end else text
    return text
