"""The truth guard: every figure in a model's text must come from the tool outputs it was given.

A model never produces a number (DESIGN.md §6). The guard reads numbers as people write them
(``$10,528.00``, ``1.7 %``, ``down 12%``, ``10.5k``) and accepts one when some output value, read
as is (sign aside) or, for a percent, as a fraction shown in percent, rounds to it at the precision
the text shows. Numbers written in words ("thirty-seven percent", "twelve customers") are read as
figures too; a small word used as plain language ("one of the plays") is not. Dates must appear in
the outputs; list markers are structure, not figures.

Only figures count as sources: the digits of an ISO date are a date, not three values; digits
inside an id ("d980d972ff37"), a dict key or a value under an id-like key are not figures; a tool's
error text (which may repeat the model's own arguments) is no source. A window name such as "28d"
is the number 28.

A reasoning model's thinking (``<think>...</think>``) is scratch work: neither shown nor checked.
A reply claiming the model approved, rejected or executed something is not shown: people decide.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
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

__all__ = [
    "MAX_REPLY_CHARS",
    "OutputFacts",
    "answer_text",
    "check_numbers",
    "collect_facts",
    "extract_figures",
    "guarded_narrative",
    "reply_problem",
]

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
_CURRENCY_CODES = "USD|EUR|GBP|JPY|CAD|AUD|NZD|CHF|CNY|INR|SEK|NOK|DKK|PLN|MXN|BRL|ZAR|SGD|HKD"
FIGURE = re.compile(
    rf"(?<![\w.])(?P<cur>[$€£¥]\s?|(?:{_CURRENCY_CODES})\s?)?[-−–]?(?P<cur2>[$€£¥]\s?)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?P<exp>[eE][-+]?\d+)?"
    r"(?P<suffix>\s?%|\s(?i:percent|per\s?cent)\b|\s?(?:k|K|M|bn)\b|\s(?i:thousand|million|billion)\b|x\b"
    # a unit glued to the number ("98765USD", "12pp", "$5m", "28d") is still a figure; an ordinal is not
    r"|(?!(?:st|nd|rd|th)\b)[A-Za-z]+\b)?"
    r"(?![\w])"
)
# a figure in a tool output: standalone (not inside an id such as "d980d972ff37"); a window name
# ("7d", "28d") or a scaled amount ("10.5k") keeps its number
SOURCE_NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"(?P<unit>[dhwmy](?![\w]))?(?:k|K|M|bn|x|%)?(?![\w])"
)
# a hyphenated token with a part that mixes letters and digits ("gpt-4o-mini", a uuid) is a name;
# "4-week" is not (its 4 is a count)
HYPHENATED = re.compile(r"(?<![\w-])\w+(?:-\w+)+(?![\w-])")
_MIXED_PART = re.compile(r"[A-Za-z]\d|\d[A-Za-z]")
_SCALE = {"k": 1_000, "K": 1_000, "M": 1_000_000, "bn": 1_000_000_000,
          "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_MONEY_SCALE = {"m": 1_000_000, "mn": 1_000_000, "mm": 1_000_000, "b": 1_000_000_000, "B": 1_000_000_000}
_POINTS = {"pp", "pt", "pts"}  # percentage points read like a percent
_WINDOW_UNITS = set("dhwmy")  # "28d" in a model's text names a window, as it does in the outputs
# keys whose values name things (ids, fingerprints, hashes, threads): never a figure
_ID_KEYS = {"id", "ids", "uuid", "guid", "hash", "sha", "sha256", "digest", "fingerprint", "thread", "checkpoint",
            "run", "play_run", "job", "key", "idempotency_key", "correlation", "error"}
_ID_SUFFIXES = ("_id", "_ids", "_uuid", "_hash", "_sha", "_digest", "_fingerprint", "_key", "_thread")

# numbers written in words
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_WORD_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUM_WORD = "(?:" + "|".join(sorted([*_UNITS, *_TENS, *_WORD_SCALES], key=len, reverse=True)) + ")"
_FIRST_WORD = "(?:" + "|".join(sorted([*_UNITS, *_TENS], key=len, reverse=True)) + ")"
_AND = "|".join(rf"(?<={w})\s+and\s+" for w in _WORD_SCALES)
SPELLED = re.compile(
    rf"\b(?P<num>(?:a\s+(?:hundred|thousand|million|billion)\b|{_FIRST_WORD})"
    rf"(?:(?:\s*-\s*|\s+|{_AND}){_NUM_WORD})*)\b"
    r"(?P<pct>\s*-?\s*(?:percent|per\s+cent)\b|\s?%)?",
    re.IGNORECASE,
)
# what makes a small number word a quantity: a noun of count or a unit right after it
_COUNT_NOUNS = set(
    "customer customers order orders sale sales refund refunds session sessions visitor visitors user users "
    "buyer buyers subscriber subscribers client clients people person item items unit units product products "
    "purchase purchases return returns signup signups lead leads click clicks visit visits review reviews "
    "dollar dollars euro euros pound pounds cent cents point points times day days week weeks month months "
    "year years hour hours minute minutes".split()
)
_SMALL_WORD_MAX = 10


@dataclasses.dataclass
class Figure:
    """One figure as written: its value, how many decimals it shows, and the raw text."""

    raw: str
    value: float
    decimals: int
    percent: bool
    scale: int = 1
    plain: bool = False  # a bare count ("7 days", "seven"): no currency, percent, scale or "x"

    @property
    def tolerance(self) -> float:
        return 0.5 * 10 ** (-self.decimals) * self.scale + 1e-9 * max(1.0, abs(self.value))


@dataclasses.dataclass
class OutputFacts:
    """Everything numeric the tool outputs contain: values (absolute) and dates."""

    values: list[float] = dataclasses.field(default_factory=list)
    windows: list[float] = dataclasses.field(default_factory=list)  # "7d", "28d": a plain count only
    dates: set[dt.date] = dataclasses.field(default_factory=set)

    def add_dates(self, text: str) -> str:
        """Record the ISO dates of ``text``; returns the text with them blanked out."""

        def _date(m: re.Match[str]) -> str:
            try:
                self.dates.add(dt.date(int(m[1]), int(m[2]), int(m[3])))
            except ValueError:
                pass
            return " "

        return ISO_DATE.sub(_date, text)

    def add_text(self, text: str) -> None:
        text = HYPHENATED.sub(lambda m: " " if _MIXED_PART.search(m[0]) else m[0], self.add_dates(text))
        for m in SOURCE_NUMBER.finditer(text):
            try:
                value = abs(float(m["num"].replace(",", "")))
                (self.windows if m["unit"] else self.values).append(value)
            except ValueError:  # pragma: no cover - the pattern only matches numbers
                continue


def _id_like(key: Any) -> bool:
    name = str(key).strip().lower()
    return name in _ID_KEYS or name.endswith(_ID_SUFFIXES)


def _json_text(text: str) -> Any:
    """A JSON object or array written as text (a ToolMessage's content), else None."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _walk(obj: Any, facts: OutputFacts) -> None:
    if obj is None or isinstance(obj, bool):
        return
    if isinstance(obj, int | float | Decimal):
        facts.values.append(abs(float(obj)))
    elif isinstance(obj, str):
        parsed = _json_text(obj)
        if isinstance(parsed, dict | list):
            _walk(parsed, facts)
        else:
            facts.add_text(obj)
    elif isinstance(obj, dt.date):
        facts.dates.add(obj if not isinstance(obj, dt.datetime) else obj.date())
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, dt.date):
                _walk(k, facts)
            elif isinstance(k, str):
                facts.add_dates(k)  # a key may be a day ("2026-04-20": ...), never a figure
            if not _id_like(k):
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
    exp = int(match["exp"][1:]) if match["exp"] else 0
    try:
        value = float(Decimal(digits).scaleb(exp))
    except InvalidOperation:
        return None
    suffix = (match["suffix"] or "").strip()
    word = suffix.lower()
    money = bool(match["cur"] or match["cur2"])
    if suffix in _WINDOW_UNITS and not money:
        return None
    scale = _SCALE.get(suffix) or _SCALE.get(word) or (_MONEY_SCALE.get(suffix, 1) if money else 1)
    return Figure(
        raw=match.group(0).strip(),
        value=value,
        decimals=len(match["frac"] or ".") - 1 - exp,
        percent=suffix == "%" or word.startswith("per") or word in _POINTS,
        scale=scale,
        plain=not (suffix or money),
    )


def _spelled_value(phrase: str) -> int:
    """``"thirty-seven"`` -> 37, ``"two hundred and five"`` -> 205, ``"a thousand"`` -> 1000."""
    total = current = 0
    for word in re.findall(r"[a-z]+", phrase.lower()):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _WORD_SCALES:
            total += max(current, 1) * _WORD_SCALES[word]
            current = 0
    return total + current


def _spelled_figure(match: re.Match[str]) -> Figure | None:
    """A number written in words, or None when it is a small word used as plain language."""
    phrase, percent = match["num"], bool(match["pct"])
    words = re.findall(r"[a-z]+", phrase.lower())
    value = _spelled_value(phrase)
    if len(words) == 1 and value <= _SMALL_WORD_MAX and not percent:
        after = re.match(r"\s+(?:[a-z]+\s+)?([a-z]+)", match.string[match.end():].lower())
        nxt = re.match(r"\s+([a-z]+)", match.string[match.end():].lower())
        counted = nxt is not None and nxt[1] in _COUNT_NOUNS
        # "two new customers": one adjective between the number and its noun
        counted = counted or (after is not None and after[1] in _COUNT_NOUNS and nxt is not None
                              and nxt[1] not in ("of", "and", "or", "to", "the", "a", "an"))
        if not counted:
            return None
    return Figure(raw=match.group(0).strip(), value=float(value), decimals=0, percent=percent, plain=not percent)


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
    spelled: list[Figure] = []

    def _words(m: re.Match[str]) -> str:
        fig = _spelled_figure(m)
        if fig is None:
            return m.group(0)
        spelled.append(fig)
        return " "

    text = SPELLED.sub(_words, text)
    text = HYPHENATED.sub(lambda m: " " if _MIXED_PART.search(m[0]) else m[0], text)  # "gpt-4o-mini" is a name
    figures = [f for f in map(_figure, FIGURE.finditer(text)) if f is not None] + spelled
    figures = [f for f in figures if not (f.plain and f.decimals == 0 and f.value in years)]
    return figures, bad_dates


def _matches(fig: Figure, facts: OutputFacts) -> bool:
    """Same value at the shown precision; a percent may also show a fraction (0.0169 -> 1.69 %).
    A window name ("28d") sources only a plain count ("28 days"), never "28%" or "28x"."""
    target, tol = fig.value * fig.scale, fig.tolerance
    factors = (1, 100) if fig.percent else (1,)
    values = facts.values + facts.windows if fig.plain else facts.values
    return any(abs(v * k - target) <= tol for v in values for k in factors)


def check_numbers(text: str, tool_outputs: list[Any]) -> GuardResult:
    """Accept ``text`` only when each of its figures and dates is found in ``tool_outputs``."""
    facts = collect_facts(tool_outputs)
    figures, bad_dates = extract_figures(text, facts)
    offending = bad_dates + [f.raw for f in figures if not _matches(f, facts)]
    return GuardResult(ok=not offending, offending=list(dict.fromkeys(offending)))


MAX_REPLY_CHARS = 8_000  # a narrative or chat answer longer than this is not read (economy, and a sane page)
OFFLINE_NARRATIVE = "offline narrative shown"
ONLY_REASONING = "model returned only its reasoning, no answer"
DECISION_CLAIMED = "model claimed to have decided or executed a play (people decide; models only explain)"

_TAG = "(?:think|thinking|reasoning)"
REASONING_BLOCK = re.compile(rf"<({_TAG})>.*?</\1>", re.DOTALL | re.IGNORECASE)
REASONING_CLOSE = re.compile(rf"</{_TAG}>", re.IGNORECASE)
REASONING_OPEN = re.compile(rf"<{_TAG}>", re.IGNORECASE)
# a claim of having decided, not a recommendation: "I approved ...", "approved every play", "executing now"
DECISION_CLAIM = re.compile(
    r"\b(?:I|we)(?:\s+have|'ve|\s+just|\s+already|\s+now)*\s+"
    r"(?:approved|auto-approved|rejected|overrode|overridden|executed|applied|launched|published|decided)\b"
    r"|\bapproved\s+(?:every|all)\b|\bexecuting\s+(?:it\s+|them\s+|the\s+plays?\s+)?now\b",
    re.IGNORECASE,
)


def _raw_text(reply: AIMessage) -> str:
    return reply.text if isinstance(reply.text, str) else str(reply.content)


def answer_text(reply: AIMessage) -> str:
    """The reply's answer without a reasoning model's thinking (``<think>...</think>``), stripped.

    The thinking is neither shown nor checked: it is scratch work, often with figures the answer
    drops. A close tag without its opening (the chat template opened it) ends the thinking; an
    opening tag never closed (cut off while thinking) leaves no answer after it.
    """
    text = REASONING_BLOCK.sub("", _raw_text(reply))
    closes = list(REASONING_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = REASONING_OPEN.search(text)
    return (text[: opened.start()] if opened else text).strip()


def _only_reasoning(reply: AIMessage) -> bool:
    return bool(REASONING_OPEN.search(_raw_text(reply)) or REASONING_CLOSE.search(_raw_text(reply))
                or (reply.additional_kwargs or {}).get("reasoning_content"))


def reply_problem(reply: AIMessage, text: str, tool_outputs: list[Any] | None = None) -> str | None:
    """Why a final reply cannot be shown at all (before its figures are checked), or None.

    A refusal, a reply cut off at the length limit, an empty reply (or only reasoning), an oversized
    reply, a claim to have decided or executed a play (decisions are people's). A refusal
    is quoted only when it holds no figure the tool outputs lack (the note reaches a person).
    """
    refusal = (reply.additional_kwargs or {}).get("refusal")
    if refusal:
        said = " ".join(str(refusal).split())[:200]
        return f"model refused: {said}" if check_numbers(said, tool_outputs or []).ok else "model refused"
    if (reply.response_metadata or {}).get("finish_reason") == "length":
        return "model reply was cut off at the length limit (incomplete)"
    if not text:
        return ONLY_REASONING if _only_reasoning(reply) else "model returned no text"
    if len(text) > MAX_REPLY_CHARS:
        return f"model reply too long ({len(text)} characters, limit {MAX_REPLY_CHARS})"
    if DECISION_CLAIM.search(text):
        return DECISION_CLAIMED
    return None


def _offline(offline_text: str, note: str, rejections: int = 0, reason: str | None = None) -> Narrative:
    return Narrative(text=offline_text, source="offline", guard_rejections=rejections, note=note,
                     reason=reason or note)


def _config_for(model: Any, usage: UsageTracker | None, commander: str | None) -> RunnableConfig:
    config: RunnableConfig = {"metadata": {"commander": commander or "-"}}
    if usage is not None and usage not in (getattr(model, "callbacks", None) or []):
        config["callbacks"] = [usage]
    return config


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

    One retry names the offending figures; a second rejection, a failing provider, an unreadable,
    empty, refused, cut-off or oversized reply, a spent budget or no configured model all give
    ``offline_text`` (labelled), never an exception. ``reason`` says why, without the model's figures.
    """
    if model is None:
        return _offline(offline_text, "offline (no model configured)", reason="no model configured")
    history, rejections, offending = list(messages), 0, []
    config = _config_for(model, usage, commander)
    for _ in range(2):
        if usage is not None and not usage.allow_call():
            reason = usage.budget_reason() or "model budget reached"
            return _offline(offline_text, f"{reason}; {OFFLINE_NARRATIVE}", rejections, reason)
        try:
            reply = invoke_with_retries(model, history, attempts=attempts, backoff=backoff, config=config)
        except ModelUnavailable as exc:
            if usage is not None and exc.ends_cycle_use:  # a down or hanging server, a wrong key or model
                usage.trip(exc.reason)
            return _offline(offline_text, f"{exc.reason}; {OFFLINE_NARRATIVE}", rejections, exc.reason)
        text = answer_text(reply)
        problem = reply_problem(reply, text, tool_outputs)
        if problem:
            return _offline(offline_text, f"{problem}; {OFFLINE_NARRATIVE}", rejections, problem)
        verdict = check_numbers(text, tool_outputs)
        if verdict.ok:
            return Narrative(text=text, source="model", guard_rejections=rejections)
        rejections += 1
        offending = verdict.offending
        if usage is not None:
            usage.add_guard_rejections()
        history += [reply, HumanMessage(content=_correction(offending))]
    figures = ", ".join(offending)
    note = f"model text contained figures not in the tool outputs: {figures}; {OFFLINE_NARRATIVE}"
    return _offline(offline_text, note, rejections, "model text contained figures not in the tool outputs")


def _correction(offending: list[str]) -> str:
    return (
        "These figures are not in the tool outputs you were given: " + ", ".join(offending) + ". "
        "Rewrite the text using only figures that appear in the tool outputs, or no figures at all."
    )
