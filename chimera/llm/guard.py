"""The truth guard: every figure in a model's text must come from the tool outputs it was given.

A model never produces a number (DESIGN.md §6). The guard reads numbers as people write them
(``$10,528.00``, ``1.7 %``, ``down 12%``, ``10.5k``) and accepts one when some output value, read
as is (sign aside) or, for a percent, as a fraction shown in percent, rounds to it at the precision
the text shows. Numbers written in words ("thirty-seven percent", "twelve customers") are read as
figures too; a small word used as plain language ("one of the plays") is not. Dates must appear in
the outputs; list markers are structure, not figures.

A figure must also match in unit: a percent only a rate or percent (a fraction such as 0.0179 shown
times 100, or "1.79%", change_pct -17.6 as is), money only money, a whole plain number never a rate.
A value's unit comes from the unit its dict declares (a KPI's "unit"), else its key ("change_pct",
"weeks", "net_revenue"), else its mark in prose ("%", "$"); a value nothing says the unit of sources
any figure, and a plain figure with decimals ("0.0179") may show a rate. A percent with a direction word attached
("down 12.4%", "a 12.4% drop") is refused when every value it matches is a change of the other sign;
a level, or a value of unknown sign, is no evidence against it.

Only figures count as sources: the digits of an ISO date are a date, not three values; digits
inside an id ("d980d972ff37"), a dict key or a value under an id-like key are not figures; a tool's
error text (which may repeat the model's own arguments) is no source. A window name such as "28d"
is the number 28.

A reasoning model's thinking (``<think>...</think>``) is scratch work: neither shown nor checked.
A reply claiming the model approved, rejected or executed something is not shown: people decide.
Nor is one saying in the passive that a play "has been approved" or "was executed" when no decision
or run status in the tool outputs says so.
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
    rf"(?<![\w.])(?P<cur>[$€£¥]\s?|(?:{_CURRENCY_CODES})\s?)?(?P<sign>[-−–])?(?P<cur2>[$€£¥]\s?)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?P<exp>[eE][-+]?\d+)?"
    r"(?P<suffix>\s?%|\s(?i:percent|per\s?cent)\b|\s?(?:k|K|M|bn)\b|\s(?i:thousand|million|billion)\b|x\b"
    # a unit glued to the number ("98765USD", "12pp", "$5m", "28d") is still a figure; an ordinal is not
    r"|(?!(?:st|nd|rd|th)\b)[A-Za-z]+\b)?"
    r"(?![\w])"
)
# a figure in a tool output: standalone (not inside an id such as "d980d972ff37"); a window name
# ("7d", "28d") or a scaled amount ("10.5k") keeps its number. A sign counts only where it starts a
# word ("(-30.3%)", "< -10%"), never inside a range ("5%-10%").
SOURCE_NUMBER = re.compile(
    r"(?:(?<![^\s(\[:<>=~])(?P<sign>[-+−–])|(?<![\w.]))(?P<cur>[$€£¥]\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"(?:(?P<unit>[dhwmy])(?![\w])|(?P<pct>\s?%|\s(?i:percent|per\s?cent)\b|pp\b)|k|K|M|bn|x)?(?![\w])"
)
NUMERIC = re.compile(r"\s*[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*")
_CODE_BEFORE = re.compile(rf"(?:\b(?:{_CURRENCY_CODES})|[$€£¥])\s?$")
_MONEY_AFTER = re.compile(rf"\s+(?:dollars?|euros?|pounds?|bucks|{_CURRENCY_CODES})\b|\s?[€£¥](?!\w)", re.IGNORECASE)
_SIGNS = {"-": -1, "−": -1, "–": -1, "+": 1}
# the first end of a percent range in prose ("5-10%", "5 to 10 percent", "between 5 and 10%") is a percent too
_RANGE_TO_PERCENT = re.compile(
    r"\s*(?:[-–—]|to|and)\s*\d[\d,]*(?:\.\d+)?\s?(?:%|(?i:percent|per\s?cent)\b|pp\b)")
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

# What a tool value is, so a figure is matched only by a value of its own unit. A value whose unit
# nothing says stays ANY and sources every kind of figure, as before (the guard refuses sound
# answers only on evidence). FRACTION is a rate kept as a fraction (0.017912 reads 1.79%), POINTS a
# percent already in percent (1.79%, change_pct -17.6), RATE either; TEXT a plain number in prose.
ANY, MONEY, NUMBER, FRACTION, POINTS, RATE, TEXT = "any", "money", "number", "fraction", "points", "rate", "text"
_PERCENT_FACTORS: dict[str, tuple[int, ...]] = {FRACTION: (100,), POINTS: (1,), RATE: (1, 100), ANY: (1, 100)}
_MONEY_SOURCES = {MONEY, ANY, TEXT}
# the unit a KPI (or any dict) declares for its values: chimera.kpi keeps "percent" as a fraction
# ("ratio" may be a share written as a percent, so it is read either way)
_UNIT_KINDS = {"currency": MONEY, "money": MONEY, "count": NUMBER, "ratio": RATE, "percent": FRACTION,
               "pct": FRACTION, "%": RATE, **{code.lower(): MONEY for code in _CURRENCY_CODES.split("|")}}
_PCT_KEY = re.compile(r"(?:^|_)(?:pct|percent|percentage|pp)(?:_|$)")
# a signed change: its sign is the direction ("change_pct": -17.6 went down)
_CHANGE_KEY = re.compile(r"(?:^|_)(?:change|delta|diff|effect|lift|uplift|growth|wow|yoy|mom)(?:_|$)")
_COUNT_KEY = re.compile(r"(?:^|_)(?:orders?|sessions?|customers?|visitors?|buyers?|users?|units?|items?|count|n|"
                        r"weeks?|days?|hours?|rank|impact|effort|score|line|qty|quantity)$")
# the last word of a key names what its value is ("net_revenue"); an earlier one only qualifies it
# ("price_elasticity" is no money)
_RATE_KEY = re.compile(r"(?:^|_)(?:rates?|share)$")
_MONEY_KEY = re.compile(r"(?:^|_)(?:revenue|sales|aov|amount|price|cost|costs|spend|profit|fees?|gmv|income)$")

# direction words: "down 12.4%", "fell by about 12.4%", "a 12.4% drop"
_UP = frozenset("up rose rise rises risen rising grew grow grows grown growing growth increase increased increases "
                "increasing gain gained gains climbed climb climbs jumped jump jumps higher surged surge spiked "
                "uptick uplift".split())
_DOWN = frozenset("down fell fall falls fallen falling dropped drop drops dropping declined decline declines "
                  "declining decreased decrease decreases decreasing lower slipped slid sank shrank shrunk dipped "
                  "dip dips plunged plummeted tumbled reduction".split())
# after the figure only nouns and comparatives attach ("12.4% drop", "12.4% lower", "12.4% below
# baseline"), past one adjective; before a figure "below"/"above" name a level ("below 2%")
_AFTER = frozenset("up down higher lower drop drops decline declines decrease decreases fall dip reduction increase "
                   "increases rise growth gain gains jump uplift uptick surge below under above".split())
_AFTER_ADJECTIVES = frozenset("sharp steep small slight big large further overall weekly monthly daily yearly annual "
                              "total net".split())
# a word that ends the figure's clause before a direction word is reached ("fell from 2.31% to 1.79%":
# both are levels; "up to 30%" is a cap; "down, and 12%" is about something else)
_CLAUSE_WORDS = frozenset("from to vs versus against at and or but while whereas below above under beneath near "
                          "toward towards then is are was were remains remained stands stood sits".split())
_NEGATIONS = frozenset("no not never negative didn't don't doesn't isn't wasn't".split())
_CLAUSE_END = re.compile(r"[,;:.!?()\[\]—]$")
_WORD_TRIM = "\"'“”‘’*_([~≈"
_BETWEEN_MAX = 3  # words between a direction word and its figure ("fell by about 12.4%")

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
    """One figure as written: its value, how many decimals it shows, its unit, and the raw text."""

    raw: str
    value: float
    decimals: int
    percent: bool
    scale: int = 1
    plain: bool = False  # a bare count ("7 days", "seven"): no currency, percent, scale or "x"
    money: bool = False  # "$5", "USD 5", "5 dollars"
    direction: int = 0  # a percent said to be a rise (1) or a fall (-1); 0 when no direction word is attached

    @property
    def tolerance(self) -> float:
        return 0.5 * 10 ** (-self.decimals) * self.scale + 1e-9 * max(1.0, abs(self.value))


@dataclasses.dataclass(frozen=True)
class Source:
    """One number of the tool outputs: absolute value, its kind, and its direction when it is a change."""

    value: float
    kind: str = ANY
    direction: int = 0


@dataclasses.dataclass
class OutputFacts:
    """Everything numeric the tool outputs contain: values with their kinds, window lengths and dates."""

    sources: list[Source] = dataclasses.field(default_factory=list)
    windows: list[float] = dataclasses.field(default_factory=list)  # "7d", "28d": a plain count only
    dates: set[dt.date] = dataclasses.field(default_factory=set)

    def add(self, value: float, kind: str = ANY, direction: int = 0) -> None:
        self.sources.append(Source(abs(value), kind, direction))

    def add_dates(self, text: str) -> str:
        """Record the ISO dates of ``text``; returns the text with them blanked out."""

        def _date(m: re.Match[str]) -> str:
            try:
                self.dates.add(dt.date(int(m[1]), int(m[2]), int(m[3])))
            except ValueError:
                pass
            return " "

        return ISO_DATE.sub(_date, text)

    def add_text(self, text: str, plain_kind: str = TEXT) -> None:
        """The numbers of prose: "1.79%" is a percent, "$5" money, "7d" a window; a bare number takes
        ``plain_kind`` (the unit of the value the prose describes, if any), a bare fraction stays ANY."""
        text = _without_names(self.add_dates(text))
        for m in SOURCE_NUMBER.finditer(text):
            try:
                value = float(m["num"].replace(",", ""))
            except ValueError:  # pragma: no cover - the pattern only matches numbers
                continue
            if m["unit"]:
                self.windows.append(value)
            elif m["pct"]:
                sign = _SIGNS.get(m["sign"] or "", 0)
                self.add(value, POINTS, sign or _attached_direction(text[: m.start()], text[m.end():]))
            elif m["cur"] or _CODE_BEFORE.search(text[max(0, m.start() - 4): m.start()]) or _MONEY_AFTER.match(
                    text, m.end()):
                self.add(value, MONEY)
            else:
                self.add(value, ANY if plain_kind == TEXT and value < 1 else plain_kind)
                if _RANGE_TO_PERCENT.match(text, m.end()):
                    self.add(value, POINTS)


def _without_names(text: str) -> str:
    """``text`` with hyphenated names blanked ("gpt-4o-mini", a uuid): their digits are no figures."""
    return HYPHENATED.sub(lambda m: " " if _MIXED_PART.search(m[0]) else m[0], text)


def _id_like(key: Any) -> bool:
    name = str(key).strip().lower()
    return name in _ID_KEYS or name.endswith(_ID_SUFFIXES)


def _unit_kind(obj: dict[Any, Any]) -> str | None:
    """The kind a dict's own ``unit`` gives its values ({"unit": "percent", "value": "0.0179"})."""
    unit = obj.get("unit")
    return _UNIT_KINDS.get(unit.strip().lower()) if isinstance(unit, str) else None


def _key_kind(key: str | None, unit: str | None, value: float = 0.0) -> tuple[str, bool]:
    """The kind of a value under ``key`` (in a dict of ``unit``), and whether its sign is a direction.

    The key's own word wins ("change_pct", "weeks", "sd_score"); then the declared unit; then a
    rate or money word; else ANY. A "percent" value above 1 is already in percent: either reading.
    """
    name = (key or "").strip().lower()
    signed = bool(_CHANGE_KEY.search(name))
    if _PCT_KEY.search(name):
        return POINTS, signed
    if signed:
        return ANY, True
    if _COUNT_KEY.search(name) and (abs(value) >= 1 or not value):  # 0.85 under "score" is no count
        return NUMBER, False
    if unit:
        return (RATE if unit == FRACTION and abs(value) > 1 else unit), False
    if _RATE_KEY.search(name):
        return RATE, False
    return (MONEY if _MONEY_KEY.search(name) else ANY), False


def _add_number(value: float, key: str | None, unit: str | None, facts: OutputFacts) -> None:
    kind, signed = _key_kind(key, unit, value)
    facts.add(value, kind, ((value > 0) - (value < 0)) if signed else 0)


def _text_kind(key: str | None, unit: str | None) -> str:
    """Bare numbers in prose about money or counts are money or counts; elsewhere plain text."""
    kind = _key_kind(key, unit)[0]
    return kind if kind in (MONEY, NUMBER) else TEXT


def _json_text(text: str) -> Any:
    """A JSON object or array written as text (a ToolMessage's content), else None."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _walk(obj: Any, facts: OutputFacts, key: str | None = None, unit: str | None = None) -> None:
    """Gather ``obj``'s numbers; ``key`` is the dict key they stand under, ``unit`` the nearest declared unit."""
    if obj is None or isinstance(obj, bool):
        return
    if isinstance(obj, int | float | Decimal):
        _add_number(float(obj), key, unit, facts)
    elif isinstance(obj, str):
        parsed = _json_text(obj)
        if isinstance(parsed, dict | list):
            _walk(parsed, facts, key, unit)
        elif NUMERIC.fullmatch(obj):  # "16017.93": a number kept as a string, read as the number
            _add_number(float(obj), key, unit, facts)
        else:
            facts.add_text(obj, _text_kind(key, unit))
    elif isinstance(obj, dt.date):
        facts.dates.add(obj if not isinstance(obj, dt.datetime) else obj.date())
    elif isinstance(obj, dict):
        unit = _unit_kind(obj) or unit
        for k, v in obj.items():
            if isinstance(k, dt.date):
                _walk(k, facts)
            elif isinstance(k, str):
                facts.add_dates(k)  # a key may be a day ("2026-04-20": ...), never a figure
            if not _id_like(k):
                _walk(v, facts, k if isinstance(k, str) else key, unit)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            _walk(item, facts, key, unit)
    elif isinstance(obj, BaseModel):
        _walk(obj.model_dump(mode="json"), facts, key, unit)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _walk(dataclasses.asdict(obj), facts, key, unit)
    elif hasattr(obj, "content"):  # a ToolMessage or similar
        _walk(obj.content, facts, key, unit)
    else:
        facts.add_text(str(obj), _text_kind(key, unit))


def collect_facts(tool_outputs: Iterable[Any]) -> OutputFacts:
    """Walk JSON-like tool outputs (dicts, lists, strings, models) and gather their numbers and dates."""
    facts = OutputFacts()
    for out in tool_outputs:
        _walk(out, facts)
    return facts


def _word(token: str) -> str:
    return token.lower().strip(_WORD_TRIM).rstrip(",;:.!?)]")


def _direction_before(before: str) -> int:
    """The direction word right before a figure, in its clause, at most a few words away, not negated."""
    words = before.split()
    for back, token in enumerate(reversed(words[-(_BETWEEN_MAX + 1):])):
        if _CLAUSE_END.search(token):
            return 0
        word = _word(token)
        if word in _UP or word in _DOWN:
            negated = back + 1 < len(words) and _word(words[-back - 2]) in _NEGATIONS
            return 0 if negated else (1 if word in _UP else -1)
        if word in _CLAUSE_WORDS or any(c.isdigit() for c in word):
            return 0
    return 0


def _direction_after(after: str) -> int:
    """The direction noun right after a figure ("12.4% drop"), past one adjective at most."""
    if not after[:1].isspace():  # "12.4%," or "12.4%)": the clause ended
        return 0
    for n, token in enumerate(after.split()[:2]):
        word = _word(token)
        if word in _AFTER:
            return 1 if word in _UP or word == "above" else -1
        if n or _CLAUSE_END.search(token) or not ("-" in word or word in _AFTER_ADJECTIVES):
            return 0
    return 0


def _attached_direction(before: str, after: str) -> int:
    """Rise (1), fall (-1), or 0: no direction word clearly attached (or two that disagree)."""
    ahead, behind = _direction_before(before), _direction_after(after)
    return ahead if not behind else behind if not ahead else (ahead if ahead == behind else 0)


def _figure(match: re.Match[str]) -> Figure | None:
    digits = match["int"].replace(",", "") + (match["frac"] or "")
    exp = int(match["exp"][1:]) if match["exp"] else 0
    try:
        value = float(Decimal(digits).scaleb(exp))
    except InvalidOperation:
        return None
    suffix = (match["suffix"] or "").strip()
    word = suffix.lower()
    money = bool(match["cur"] or match["cur2"] or suffix in _CURRENCY_CODES.split("|")
                 or (not suffix and _MONEY_AFTER.match(match.string, match.end())))
    if suffix in _WINDOW_UNITS and not money:
        return None
    scale = _SCALE.get(suffix) or _SCALE.get(word) or (_MONEY_SCALE.get(suffix, 1) if money else 1)
    percent = suffix == "%" or word.startswith("per") or word in _POINTS
    direction = 0
    if percent:
        direction = _attached_direction(match.string[: match.start()], match.string[match.end():])
        direction = -1 if direction and match["sign"] else direction  # "growth -12.4%" is a fall
    return Figure(
        raw=match.group(0).strip(),
        value=value,
        decimals=len(match["frac"] or ".") - 1 - exp,
        percent=percent,
        scale=scale,
        plain=not (suffix or money),
        money=money,
        direction=direction,
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
    money = not percent and bool(_MONEY_AFTER.match(match.string, match.end()))
    direction = _attached_direction(match.string[: match.start()], match.string[match.end():]) if percent else 0
    return Figure(raw=match.group(0).strip(), value=float(value), decimals=0, percent=percent,
                  plain=not (percent or money), money=money, direction=direction)


def _date_ok(match: re.Match[str], facts: OutputFacts) -> bool:
    month = _MONTHS[(match["m1"] or match["m2"]).lower()]
    day, year = int(match["d1"] or match["d2"]), match["y"]
    return any(d.month == month and d.day == day and (not year or d.year == int(year)) for d in facts.dates)


# An answer written the European way (`18.220,33 €`, `2,39 %`, `26.11.2026`), as a model answering
# in German, French or Spanish does. A comma followed by one, two or four-plus digits, or dotted
# thousands before a decimal comma, is never English; `1,234` alone says nothing either way.
_EURO_EVIDENCE = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:\.\d{3})+,\d+|\d+,(?:\d{1,2}|\d{4,}))(?![\w,]|\.\d)")
_EURO_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d+)(?![\w,]|\.\d)")
_DOTTED_DATE = re.compile(r"(?<![\w.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\w]|\.\d)")


def _dotted_date(m: re.Match[str]) -> str:
    """`26.11.2026` -> `2026-11-26` (day first: the dotted form is the European one)."""
    try:
        return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
    except ValueError:
        return m.group(0)


def as_english_numbers(text: str) -> str:
    """``text`` with European number and date forms written the English way, when the text shows
    it uses them (see ``_EURO_EVIDENCE``); dotted day-first dates in any text. The figures then
    go through the same checks as any other: the locale changes how they are read, not whether."""
    text = _DOTTED_DATE.sub(_dotted_date, text)
    if not _EURO_EVIDENCE.search(text):
        return text
    return _EURO_NUMBER.sub(lambda m: m.group(1).replace(".", "").replace(",", "."), text)


def extract_figures(text: str, facts: OutputFacts | None = None) -> tuple[list[Figure], list[str]]:
    """The figures in ``text`` that need a source, plus dates not found in ``facts`` (as written)."""
    facts = facts or OutputFacts()
    bad_dates: list[str] = []
    text = as_english_numbers(text)

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
    text = _without_names(text)
    figures = [f for f in map(_figure, FIGURE.finditer(text)) if f is not None] + spelled
    figures = [f for f in figures if not (f.plain and f.decimals == 0 and f.value in years)]
    return figures, bad_dates


def _factors(fig: Figure, kind: str) -> tuple[int, ...]:
    """How a value of ``kind`` may be shown as ``fig``: a percent only from a rate (a fraction times
    100, or a percent as is), money only from money, a whole plain number never from a rate."""
    if fig.percent:
        return _PERCENT_FACTORS.get(kind, ())
    if fig.money:
        return (1,) if kind in _MONEY_SOURCES else ()
    return () if kind in (FRACTION, POINTS) and fig.decimals <= 0 else (1,)


def _sources_of(fig: Figure, facts: OutputFacts) -> list[Source]:
    """The tool values ``fig`` may show: same unit, same value at the shown precision. A window name
    ("28d") sources only a plain count ("28 days"), never "28%" or "28x"."""
    target, tol = fig.value * fig.scale, fig.tolerance
    found = [s for s in facts.sources if any(abs(s.value * k - target) <= tol for k in _factors(fig, s.kind))]
    if fig.plain:
        found += [Source(w, NUMBER) for w in facts.windows if abs(w - target) <= tol]
    return found


def _problem(fig: Figure, facts: OutputFacts) -> str | None:
    """Why ``fig`` is refused, as shown to the model and the person, or None when it is sourced.

    A direction is refused only when every matching value is a change of the other sign: a level or
    a value of unknown sign is no evidence against "down 12.4%".
    """
    found = _sources_of(fig, facts)
    if not found:
        return fig.raw
    if fig.direction and all(s.direction == -fig.direction for s in found):
        said, told = ("a rise", "down") if fig.direction > 0 else ("a fall", "up")
        return f"{fig.raw} (written as {said}; the tool outputs say {told})"
    return None


def check_numbers(text: str, tool_outputs: list[Any]) -> GuardResult:
    """Accept ``text`` only when each of its figures (unit and direction included) and dates is found
    in ``tool_outputs``."""
    facts = collect_facts(tool_outputs)
    figures, bad_dates = extract_figures(text, facts)
    offending = bad_dates + [p for p in (_problem(f, facts) for f in figures) if p]
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


# the same claim in the passive ("the price test has been approved", "was executed"): true only
# when a person's decision or a run's status in the tool outputs says so. Only the decision words:
# "rows were rejected", "a discount was applied" and "a product was launched" describe data.
PASSIVE_CLAIM = re.compile(
    r"\b(?:has|have|had|was|were|is|are)\s+(?:(?:now|already|just|successfully|been)\s+)*"
    r"(approved|auto-approved|overridden|executed)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(?:if|once|when|whenever|until|unless|after|before|whether|should)\b[^.;:!?\n]*$",
                        re.IGNORECASE)
_SUPPORTED_BY = {  # a claimed outcome -> the words a decision kind, run status or job result uses for it
    "approved": {"approved", "approve", "auto_approve", "override"}, "auto-approved": {"auto_approve"},
    "overridden": {"override", "overridden"}, "executed": {"executed", "executing", "applied", "succeeded"},
}


def _outcome_words(value: Any, found: set[str]) -> set[str]:
    """Lower-case words of the tool outputs' text values and keys (``executed_on``: a run that was
    executed; ``"applied": true``): what a passive claim may rest on. Walks outputs as ``_walk`` does."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif isinstance(value, str) and isinstance(parsed := _json_text(value), dict | list):
        value = parsed
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and (v is True or not isinstance(v, bool)):  # `"applied": false` says no
                found.update(re.findall(r"[a-z]+", k.lower()))
            _outcome_words(v, found)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            _outcome_words(v, found)
    elif isinstance(value, str):
        found.update(re.findall(r"[a-z_]+", value.lower()))
    elif hasattr(value, "content"):  # a ToolMessage or similar
        _outcome_words(value.content, found)
    return found


def unsupported_passive_claim(text: str, tool_outputs: Iterable[Any]) -> str | None:
    """The first passive claim of a decision or execution ("has been approved") that no tool output
    supports, or None. Conditions ("once it is approved, ...") and negations claim nothing."""
    words: set[str] | None = None
    for m in PASSIVE_CLAIM.finditer(text):
        if _CONDITION.search(text[max(0, m.start() - 80):m.start()]):
            continue
        words = words if words is not None else _outcome_words(list(tool_outputs), set())
        if not _SUPPORTED_BY[m.group(1).lower()] & words:
            return m.group(0)
    return None


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
    if DECISION_CLAIM.search(text) or unsupported_passive_claim(text, tool_outputs or []):
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
