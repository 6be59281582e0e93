"""The truth guard: every figure in a model's text must come from the tool outputs it was given.

A model never produces a number (DESIGN.md §6). The guard reads numbers as people write them
(``$10,528.00``, ``1.7 %``, ``down 12%``, ``10.5k``) and accepts one when some output value, read
as is (sign aside) or, for a percent, as a fraction shown in percent, rounds to it at the precision
the text shows. Dates must appear in the outputs; list markers are structure, not figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from chimera.llm.models import GuardResult, Narrative
from chimera.llm.retry import Backoff, ModelUnavailable, invoke_with_retries
from chimera.llm.usage import UsageTracker

__all__ = ["OutputFacts", "check_numbers", "collect_facts", "extract_figures", "guarded_narrative"]

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ]
    )
    for m in names.split()
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
MONTH_DAY = re.compile(
    rf"\b(?:(?P<m1>{_MONTH_RE})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH_RE})\.?)(?:,?\s+(?P<y>\d{{4}}))?\b",
    re.IGNORECASE,
)
LIST_MARKER = re.compile(r"^(\s*(?:[-*]\s+)?)\(?\d{1,2}[.)](?=\s)", re.MULTILINE)
STRUCTURAL = re.compile(r"\b(?:top|first|step|phase|part|#)\s*\d{1,2}\b", re.IGNORECASE)
FIGURE = re.compile(
    r"(?<![\w.])(?P<cur>[$€£¥]\s?)?[-−–]?(?P<cur2>[$€£¥]\s?)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?P<suffix>\s?%|\s?(?:k|K|M|bn)\b|x\b)?(?![\w])"
)
LOOSE_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SCALE = {"k": 1_000, "K": 1_000, "M": 1_000_000, "bn": 1_000_000_000}


@dataclasses.dataclass
class Figure:
    """One figure as written: its value, how many decimals it shows, and the raw text."""

    raw: str
    value: float
    decimals: int
    percent: bool
    scale: int = 1

    @property
    def tolerance(self) -> float:
        return 0.5 * 10 ** (-self.decimals) * self.scale + 1e-9 * max(1.0, abs(self.value))


@dataclasses.dataclass
class OutputFacts:
    """Everything numeric the tool outputs contain: values (absolute) and dates."""

    values: list[float] = dataclasses.field(default_factory=list)
    dates: set[dt.date] = dataclasses.field(default_factory=set)

    def add_text(self, text: str) -> None:
        for y, m, d in ISO_DATE.findall(text):
            try:
                self.dates.add(dt.date(int(y), int(m), int(d)))
            except ValueError:
                continue
        for tok in LOOSE_NUMBER.findall(text):
            self.values.append(abs(float(tok.replace(",", ""))))


def _walk(obj: Any, facts: OutputFacts) -> None:
    if obj is None or isinstance(obj, bool):
        return
    if isinstance(obj, int | float | Decimal):
        facts.values.append(abs(float(obj)))
    elif isinstance(obj, str):
        facts.add_text(obj)
    elif isinstance(obj, dt.date):
        facts.add_text(obj.isoformat())
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _walk(k, facts)
            _walk(v, facts)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            _walk(item, facts)
    elif isinstance(obj, BaseModel):
        _walk(obj.model_dump(mode="json"), facts)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _walk(dataclasses.asdict(obj), facts)
    elif hasattr(obj, "content"):  # a ToolMessage or similar
        _walk(obj.content, facts)
    else:
        facts.add_text(str(obj))


def collect_facts(tool_outputs: Iterable[Any]) -> OutputFacts:
    """Walk JSON-like tool outputs (dicts, lists, strings, models) and gather their numbers and dates."""
    facts = OutputFacts()
    for out in tool_outputs:
        _walk(out, facts)
    return facts


def _figure(match: re.Match[str]) -> Figure | None:
    digits = match["int"].replace(",", "") + (match["frac"] or "")
    try:
        value = float(Decimal(digits))
    except InvalidOperation:
        return None
    suffix = (match["suffix"] or "").strip()
    return Figure(
        raw=match.group(0).strip(),
        value=value,
        decimals=len(match["frac"] or ".") - 1,
        percent=suffix == "%",
        scale=_SCALE.get(suffix, 1),
    )


def _date_ok(match: re.Match[str], facts: OutputFacts) -> bool:
    month = _MONTHS[(match["m1"] or match["m2"]).lower()]
    day, year = int(match["d1"] or match["d2"]), match["y"]
    return any(d.month == month and d.day == day and (not year or d.year == int(year)) for d in facts.dates)


def extract_figures(text: str, facts: OutputFacts | None = None) -> tuple[list[Figure], list[str]]:
    """The figures in ``text`` that need a source, plus dates not found in ``facts`` (as written)."""
    facts = facts or OutputFacts()
    bad_dates: list[str] = []

    def _iso(m: re.Match[str]) -> str:
        try:
            ok = dt.date(int(m[1]), int(m[2]), int(m[3])) in facts.dates
        except ValueError:
            ok = False
        if not ok:
            bad_dates.append(m.group(0))
        return " "

    def _md(m: re.Match[str]) -> str:
        if not _date_ok(m, facts):
            bad_dates.append(m.group(0))
        return " "

    text = ISO_DATE.sub(_iso, text)
    text = MONTH_DAY.sub(_md, text)
    text = LIST_MARKER.sub(lambda m: m[1], text)
    text = STRUCTURAL.sub(" ", text)
    years = {d.year for d in facts.dates}
    figures = [f for f in map(_figure, FIGURE.finditer(text)) if f is not None]
    figures = [f for f in figures if not (f.decimals == 0 and f.scale == 1 and not f.percent and f.value in years)]
    return figures, bad_dates


def _matches(fig: Figure, values: list[float]) -> bool:
    """Same value at the shown precision; a percent may also show a fraction (0.0169 -> 1.69 %)."""
    target, tol = fig.value * fig.scale, fig.tolerance
    factors = (1, 100) if fig.percent else (1,)
    return any(abs(v * k - target) <= tol for v in values for k in factors)


def check_numbers(text: str, tool_outputs: list[Any]) -> GuardResult:
    """Accept ``text`` only when each of its figures and dates is found in ``tool_outputs``."""
    facts = collect_facts(tool_outputs)
    figures, bad_dates = extract_figures(text, facts)
    offending = bad_dates + [f.raw for f in figures if not _matches(f, facts.values)]
    return GuardResult(ok=not offending, offending=list(dict.fromkeys(offending)))


def _offline(offline_text: str, note: str, rejections: int = 0) -> Narrative:
    return Narrative(text=offline_text, source="offline", guard_rejections=rejections, note=note)


def _config_for(model: Any, usage: UsageTracker | None, commander: str | None) -> RunnableConfig:
    config: RunnableConfig = {"metadata": {"commander": commander or "-"}}
    if usage is not None and usage not in (getattr(model, "callbacks", None) or []):
        config["callbacks"] = [usage]
    return config


def _text(reply: AIMessage) -> str:
    return reply.text if isinstance(reply.text, str) else str(reply.content)


def guarded_narrative(
    model: BaseChatModel | None,
    messages: Sequence[BaseMessage],
    tool_outputs: list[Any],
    offline_text: str,
    *,
    usage: UsageTracker | None = None,
    commander: str | None = None,
    attempts: int = 3,
    backoff: Backoff | None = None,
) -> Narrative:
    """The model's prose when every figure in it is sourced, else the offline text with a note saying why.

    One retry names the offending figures; a second rejection, a failing provider, a spent budget or
    no configured model all give ``offline_text`` (labelled), never an exception.
    """
    if model is None:
        return _offline(offline_text, "offline (no model configured)")
    history, rejections, offending = list(messages), 0, []
    config = _config_for(model, usage, commander)
    for _ in range(2):
        if usage is not None and not usage.allow_call():
            return _offline(offline_text, f"{usage.budget_reason()}; offline narrative shown", rejections)
        try:
            reply = invoke_with_retries(model, history, attempts=attempts, backoff=backoff, config=config)
        except ModelUnavailable as exc:
            return _offline(offline_text, f"{exc.reason}; offline narrative shown", rejections)
        text = _text(reply).strip()
        if not text:
            return _offline(offline_text, "model returned no text; offline narrative shown", rejections)
        verdict = check_numbers(text, tool_outputs)
        if verdict.ok:
            return Narrative(text=text, source="model", guard_rejections=rejections)
        rejections += 1
        offending = verdict.offending
        if usage is not None:
            usage.add_guard_rejections()
        history += [reply, HumanMessage(content=_correction(offending))]
    figures = ", ".join(offending)
    note = f"model text contained figures not in the tool outputs: {figures}; offline narrative shown"
    return _offline(offline_text, note, rejections)


def _correction(offending: list[str]) -> str:
    return (
        "These figures are not in the tool outputs you were given: " + ", ".join(offending) + ". "
        "Rewrite the text using only figures that appear in the tool outputs, or no figures at all."
    )
