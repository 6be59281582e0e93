"""The truth guard: every figure in a model's text must come from the tool outputs it was given.

A model never produces a number (DESIGN.md §6). The guard reads numbers as people write them
(``$10,528.00``, ``1.7 %``, ``1.7 pct``, ``down 12 pp``, ``10.5k``, ``1 234``) and accepts one when some
output value, read as is (sign aside) or, for a percent, as a fraction shown in percent, rounds to it
at the precision the text shows; a tight range around one ("between 1,200 and 1,300") is a rounding
of it. Numbers written in words ("thirty-seven percent", "twelve customers") are read as figures
too; a small word used as plain language ("one of the plays") is not. Dates (ISO, "Apr 25", "4/25")
and ISO week numbers ("week 17") must be the outputs'; list markers are structure, not figures.

A figure must also match in unit: a percent only a rate or percent (a fraction such as 0.0179 shown
times 100, or "1.79%", change_pct -17.6 as is), money only money, a whole plain number never a rate.
A value's unit comes from the unit its dict declares (a KPI's "unit"), else its key ("change_pct",
"weeks", "net_revenue"), else its mark in prose ("%", "$"); a value nothing says the unit of sources
any figure, and a plain figure with decimals ("0.0179") may show a rate, a rate of unknown scale
(``ratio``) in either scale. A percent with a direction word attached ("down 12.4%", "a 12.4% drop")
is refused when every value it matches is a change of the other sign or a KPI's level; a value of
unknown sign is no evidence against it. A rate's relative change is no change in points.

Only figures count as sources: the digits of an ISO date are a date, not three values; digits
inside an id ("d980d972ff37"), a dict key or a value under an id-like key are not figures; a tool's
error text (which may repeat the model's own arguments) is no source. A window name such as "28d"
is the number 28.

Words are claims too. A KPI status ("conversion is OK", "all KPIs are OK", "nothing is CRITICAL")
must be the status the outputs give that KPI (or every KPI); a play said to have worked or not must
have an evidence verdict that says so; a figure said of one KPI must be one of that KPI's own values
(not another KPI's, nor last week's unless said so); a KPI's target, threshold or baseline only
quoted as one ("the $5,000 target"), never as its value ("revenue was $5,000"); a name several KPIs
share ("refunds": the refund rates, a refunded amount) takes a figure of one of them in its unit;
"doubled" or "halved" must be a ratio the outputs show, and a multiplier of a named figure ("3.6x the
target", "half of last week") the ratio computed from them (``guard_ratios``); a KPI said to be
above, below, meeting or missing its target or a threshold must be so by its value (``guard_refs``).
A weekday or relative day ("last Saturday", "3 days ago") must be a day of the outputs' dates
(``guard_days``). "Fell from 1,187 to 1,234" must go the figures' way (``guard_moves``). Money
written with a sign or code must be in the currency the outputs give ("£" of a USD store is refused;
``guard_currency``). A play said
to be paused, resumed, reverted, running or held back, who paused or reverted it, and the weekly
review's advice for it must be what the outputs say of that play (``guard_plays``); a verdict is read
in its KPI's direction, which a review figure carries. Each is
read per sentence, simply and deterministically: a false refusal only shows the offline text, a
false claim would mislead.

A reasoning model's thinking (``<think>...</think>``) is scratch work: neither shown nor checked.
A reply claiming the model approved, rejected or executed something is not shown: people decide.
Nor is one saying in the passive that a play "has been approved", "is live" or "was rejected" when
no decision or run status in the tool outputs says so (of that play, when the sentence names one).
A refusal written as the answer, a reply a content filter cut, or one with nothing readable is not
shown either; a split or lone surrogate and invisible characters are repaired before anything else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from chimera.llm.guard_currency import currency_problems
from chimera.llm.guard_days import MONTHS as _MONTHS
from chimera.llm.guard_days import day_problems, named_days, prose_day_words, sentence_of
from chimera.llm.guard_moves import move_problems
from chimera.llm.guard_plays import play_state_problems
from chimera.llm.guard_ranks import rank_problems
from chimera.llm.guard_ratios import RefMultiple, reference_multiples
from chimera.llm.guard_refs import RefClaim, judge_ref_claim, ref_claims
from chimera.llm.guard_scripts import regrouped, spaced_figures
from chimera.llm.models import GuardResult, Narrative
from chimera.llm.retry import Backoff, ModelUnavailable, invoke_with_retries
from chimera.llm.text_tools import has_call_markup, text_tool_calls, visible_text
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

_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
MONTH_DAY = re.compile(
    rf"\b(?:(?P<m1>{_MONTH_RE})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH_RE})\.?)(?:,?\s+(?P<y>\d{{4}}))?\b",
    re.IGNORECASE,
)
# a day range after a month name ("Nov 14–17", "Oct 4-13", "14–17 November") is two dates, not a
# figure and a negative one: both ends are checked as dates
MONTH_RANGE = re.compile(
    rf"\b(?:(?P<m1>{_MONTH_RE})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s?[-–—]\s?(?P<e1>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s?[-–—]\s?(?P<e2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH_RE})\.?)"
    r"(?:,?\s+(?P<y>\d{4}))?\b(?![%.,]\d|\s?%)",
    re.IGNORECASE,
)
LIST_MARKER = re.compile(r"^(\s*(?:[-*]\s+)?)\(?\d{1,2}[.)](?=\s)", re.MULTILINE)
# a calendar week named by its ISO number ("week 17", "W17", "KW 17", "semaine 17"): a name of the
# outputs' days when one of their dates falls in it, else a figure to source
WEEK_NUMBER = re.compile(r"\b(?:(?:iso\s+)?(?:week|wk|kw|cw|semaine|semana|settimana)\s*#?\s*|w)(?P<week>\d{1,2})\b"
                         r"(?:(?:\s+of|,)?\s+(?P<year>\d{4})\b)?", re.IGNORECASE)
STRUCTURAL = re.compile(r"\b(?:top|first|step|phase|part|#)\s*\d{1,2}\b", re.IGNORECASE)
_CURRENCY_CODES = "USD|EUR|GBP|JPY|CAD|AUD|NZD|CHF|CNY|INR|SEK|NOK|DKK|PLN|MXN|BRL|ZAR|SGD|HKD"
FIGURE = re.compile(
    rf"(?<![\w.])(?P<cur>[$€£¥]\s?|(?:{_CURRENCY_CODES})\s?)?(?P<sign>[-−–])?(?P<cur2>[$€£¥]\s?)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?P<exp>[eE][-+]?\d+)?"
    r"(?P<suffix>\s?%|\s(?i:percentage[\s-]points?|percent|per\s?cent|pct|pp)\b|\s?(?:k|K|M|bn)\b|\s(?i:thousand|million|billion)\b|x\b"
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
    r"(?:(?P<unit>[dhwmy])(?![\w])|(?P<pct>\s?%|\s(?i:percentage\s+points?|percent|per\s?cent|pct|pp)\b|pct\b|pp\b)"
    r"|k|K|M|bn|x)?(?![\w])"
)
NUMERIC = re.compile(r"\s*[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*")
_CODE_BEFORE = re.compile(rf"(?:\b(?:{_CURRENCY_CODES})|[$€£¥])\s?$")
_MONEY_AFTER = re.compile(rf"\s+(?:dollars?|euros?|pounds?|bucks|{_CURRENCY_CODES})\b|\s?[€£¥](?!\w)", re.IGNORECASE)
_SIGNS = {"-": -1, "−": -1, "–": -1, "+": 1}
# the first end of a percent range in prose ("5-10%", "5 to 10 percent", "between 5 and 10%") is a percent too
_RANGE_TO_PERCENT = re.compile(
    r"\s*(?:[-–—]|to|and)\s*\d[\d,]*(?:\.\d+)?\s?(?:%|(?i:percent|per\s?cent|pct)\b|pp\b)")
# a hyphenated token with a part that mixes letters and digits ("gpt-4o-mini", a uuid) is a name;
# "4-week" is not (its 4 is a count)
HYPHENATED = re.compile(r"(?<![\w-])\w+(?:-\w+)+(?![\w-])")
_MIXED_PART = re.compile(r"[A-Za-z]\d|\d[A-Za-z]")
_SCALE = {"k": 1_000, "K": 1_000, "M": 1_000_000, "bn": 1_000_000_000,
          "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_MONEY_SCALE = {"m": 1_000_000, "mn": 1_000_000, "mm": 1_000_000, "b": 1_000_000_000, "B": 1_000_000_000}
# percentage points read like a percent; "pct" is how tables and terse models abbreviate percent
_POINTS = {"pp", "pt", "pts", "pct"}
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
_RELATIVE_KEY = re.compile(r"(?:^|_)(?:pct|percent|percentage)(?:_|$)")  # "change_pct": relative, not "_pp"
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
                "uptick uplift".split()) | frozenset(  # German, French, Spanish, Italian, Portuguese
    "stieg steigt gestiegen wuchs gewachsen zugelegt zugenommen erhöht höher anstieg hausse augmenté augmente "
    "progressé progresse subió sube subieron aumentó aumentaron aumento creció crecieron crece aumentato "
    "cresciuto salito subiu aumentou cresceu".split())
_DOWN = frozenset("down fell fall falls fallen falling dropped drop drops dropping declined decline declines "
                  "declining decreased decrease decreases decreasing lower slipped slid sank shrank shrunk dipped "
                  "dip dips plunged plummeted tumbled reduction".split()) | frozenset(
    "sinkt gesunken fiel fällt gefallen verringert abgenommen niedriger rückgang baisse baissé diminué diminue "
    "recul reculé chuté bajó bajaron cayó cayeron cae disminuyó disminuyeron descenso diminuito calato sceso "
    "caiu diminuiu queda".split())
# after the figure only nouns and comparatives attach ("12.4% drop", "12.4% lower", "12.4% below
# baseline"), past one adjective; before a figure "below"/"above" name a level ("below 2%")
_AFTER = frozenset("up down higher lower drop drops decline declines decrease decreases fall dip reduction increase "
                   "increases rise growth gain gains jump uplift uptick surge below under above".split()) | frozenset(
    "gestiegen gesunken gefallen zugenommen abgenommen".split())  # German puts the verb last
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
_SAID_BEFORE = re.compile(r"(?:\b(?:is|are|was|were|at|to|hit|reached|stands\s+at|sits\s+at)|\w\s*:)\s*$",
                          re.IGNORECASE)
_SAID_AFTER = re.compile(r"\s*(?:[.,;!?)]|$)")


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
    points: bool = False  # "0.4 pp", "0.4 percentage points": a difference of two percents, no relative change

    @property
    def tolerance(self) -> float:
        return 0.5 * 10 ** (-self.decimals) * self.scale + 1e-9 * max(1.0, abs(self.value))


# What a number of the outputs is beside its unit: a reference figure (a KPI's target, a threshold,
# its baseline) may be quoted as that, never as the KPI's value; a day's value of a series (whose
# metric the outputs do not name) may be quoted of whatever that series is.
TARGET, THRESHOLD, BASELINE, DAY = "target", "threshold", "baseline", "day"
REFERENCE_ROLES = frozenset({TARGET, THRESHOLD, BASELINE})
_ROLE_KEYS = {"target": TARGET, "goal": TARGET, "warning": THRESHOLD, "critical": THRESHOLD,
              "warning_recovery": THRESHOLD, "critical_recovery": THRESHOLD, "threshold": THRESHOLD,
              "baseline": BASELINE}
# a word before a number in prose that makes it a reference ("target 5,000.00", "below warning 2.00%")
_ROLE_WORDS = {"target": TARGET, "targets": TARGET, "goal": TARGET, "warning": THRESHOLD, "critical": THRESHOLD,
               "threshold": THRESHOLD, "thresholds": THRESHOLD, "baseline": BASELINE}
# keys whose date is a data day ("as_of", "data_through"): what "yesterday" counts back from
_ANCHOR_KEYS = {"as_of", "data_through", "through", "day", "date", "last_day", "window_end", "end"}


@dataclasses.dataclass(frozen=True)
class Source:
    """One number of the tool outputs: absolute value, its kind, its direction when it is a change,
    and its role when it is a reference figure (target, threshold, baseline) or a series' day."""

    value: float
    kind: str = ANY
    direction: int = 0
    role: str = ""
    day: dt.date | None = None  # a series' day: the day this value is of
    level: bool = False  # a KPI's level (its value, a threshold, last week's): never a change
    relative: bool = False  # a relative change in % ("change_pct", "down 23.4%"): never percentage points
    either_scale: bool = False  # a declared "ratio": 0.0169 or 1.69 for the same 1.69 %


@dataclasses.dataclass
class OutputFacts:
    """Everything numeric the tool outputs contain: values with their kinds, window lengths and dates."""

    sources: list[Source] = dataclasses.field(default_factory=list)
    windows: list[float] = dataclasses.field(default_factory=list)  # "7d", "28d": a plain count only
    dates: set[dt.date] = dataclasses.field(default_factory=set)
    anchors: set[dt.date] = dataclasses.field(default_factory=set)  # data days: as-of, a series' days
    day_words: set[str] = dataclasses.field(default_factory=set)  # "last saturday" as the outputs' prose says it
    in_kpi: bool = False  # while walking a KPI dict (not a growth KPI's): its unsigned numbers are levels
    in_rate: bool = False  # while walking a rate's dict: a change in % there is no change in points

    def add(self, value: float, kind: str = ANY, direction: int = 0, role: str = "",
            day: dt.date | None = None, relative: bool = False, either_scale: bool = False) -> None:
        self.sources.append(Source(abs(value), kind, direction, role, day, self.in_kpi and not direction,
                                   relative and self.in_rate, either_scale))

    def add_dates(self, text: str) -> str:
        """Record the ISO dates of ``text``; returns the text with them blanked out."""
        self.dates |= _iso_dates(text)
        return ISO_DATE.sub(" ", text)

    def add_text(self, text: str, plain_kind: str = TEXT) -> None:
        """The numbers of prose: "1.79%" is a percent, "$5" money, "7d" a window; a bare number takes
        ``plain_kind`` (the unit of the value the prose describes, if any), a bare fraction stays ANY.
        A number right after "target", "warning" or "baseline" is that reference."""
        self.day_words |= prose_day_words(text)
        self.dates |= _window_starts(text)
        text = _without_names(self.add_dates(text))
        for m in SOURCE_NUMBER.finditer(text):
            try:
                value = float(m["num"].replace(",", ""))
            except ValueError:  # pragma: no cover - the pattern only matches numbers
                continue
            its = _prose_role(text[max(0, m.start() - 40): m.start()])
            if m["unit"]:
                self.windows.append(value)
            elif m["pct"]:
                sign = _SIGNS.get(m["sign"] or "", 0)
                direction = sign or _attached_direction(text[: m.start()], text[m.end():])
                points = m["pct"].strip().lower() == "pp" or m["pct"].strip().lower().startswith("percentage")
                self.add(value, POINTS, direction, its, relative=bool(direction) and not points)
            elif m["cur"] or _CODE_BEFORE.search(text[max(0, m.start() - 4): m.start()]) or _MONEY_AFTER.match(
                    text, m.end()):
                self.add(value, MONEY, role=its)
            else:
                self.add(value, ANY if plain_kind == TEXT and value < 1 else plain_kind, role=its)
                if _RANGE_TO_PERCENT.match(text, m.end()):
                    self.add(value, POINTS, role=its)


_WINDOW_TO = re.compile(r"(?<![\w.])(\d{1,3})d\s+to\s+(\d{4}-\d{2}-\d{2})(?!\d)")


def _window_starts(text: str) -> set[dt.date]:
    """The first day of each window the prose states ("over 7d to 2026-04-26" starts 2026-04-20), so
    an answer may name the window as its days ("Apr 20-26")."""
    starts = set()
    for m in _WINDOW_TO.finditer(text):
        try:
            starts.add(dt.date.fromisoformat(m[2]) - dt.timedelta(days=int(m[1]) - 1))
        except ValueError:
            continue
    return starts


def _prose_role(before: str) -> str:
    """The reference a number of prose is: the role word right before it ("target 5,000.00", "baseline
    of 460.5"), or none ("CRITICAL for 1 day" is a status)."""
    words = [_word(t) for t in before.split()[-2:]]
    if len(words) == 2 and words[1] in ("of", "at", "is", "=", ""):
        words = words[:1]
    return _ROLE_WORDS.get(words[-1], "") if words else ""


def _key_role(key: str | None) -> str:
    """The role a dict key gives its value: "target" a target, "2026-04-20" a series' day."""
    name = (key or "").strip().lower()
    if ISO_DATE.fullmatch(name):
        return DAY
    return _ROLE_KEYS.get(name) or next((r for k, r in _ROLE_KEYS.items() if name.endswith(f"_{k}")), "")


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
    role = _key_role(key)
    day = min(_iso_dates(key or "")) if role == DAY and _iso_dates(key or "") else None
    relative = signed and bool(_RELATIVE_KEY.search((key or "").lower()))
    facts.add(value, kind, ((value > 0) - (value < 0)) if signed else 0, role, day, relative,
              either_scale=kind == RATE and unit == RATE)  # the dict declares "ratio" (or "%")


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
            if (key or "").lower() in _ANCHOR_KEYS:
                facts.anchors |= _iso_dates(obj)
            facts.add_text(obj, _text_kind(key, unit))
    elif isinstance(obj, dt.date):
        day = obj if not isinstance(obj, dt.datetime) else obj.date()
        facts.dates.add(day)
        if (key or "").lower() in _ANCHOR_KEYS:
            facts.anchors.add(day)
    elif isinstance(obj, dict):
        unit = _unit_kind(obj) or unit
        outer, outer_rate = facts.in_kpi, facts.in_rate
        facts.in_kpi = outer or (_is_kpi_dict(obj) and not _CHANGE_KEY.search(str(obj.get("id") or obj.get("kpi"))))
        facts.in_rate = unit in (FRACTION, RATE) if _unit_kind(obj) else outer_rate
        _walk_items(obj, facts, key, unit)
        facts.in_kpi, facts.in_rate = outer, outer_rate
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


def _walk_items(obj: dict[Any, Any], facts: OutputFacts, key: str | None, unit: str | None) -> None:
    """``_walk`` of a dict's items: a day as a key is a date (and a data day), never a figure."""
    for k, v in obj.items():
        if isinstance(k, dt.date):
            _walk(k, facts)
            facts.anchors.add(k if not isinstance(k, dt.datetime) else k.date())
        elif isinstance(k, str):
            facts.add_dates(k)  # a key may be a day ("2026-04-20": ...), never a figure
            facts.anchors |= _iso_dates(k) if ISO_DATE.fullmatch(k.strip()) else set()
        if not _id_like(k):
            _walk(v, facts, k if isinstance(k, str) else key, unit)


def _iso_dates(text: str) -> set[dt.date]:
    found = set()
    for m in ISO_DATE.finditer(text):
        try:
            found.add(dt.date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            continue
    return found


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
    if not after[:1].isspace() or after.lstrip()[:1] in "([":  # "12.4%," or "12.4%)": the clause ended;
        return 0  # "1.69% (down)" is an aside on the level, not the figure's direction
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


# a round figure said to be approximate ("about $16,000") shows its precision by its trailing zeros
_APPROX_BEFORE = re.compile(r"(?:\b(?:about|around|roughly|approximately|approx\.|nearly|almost|some|close\s+to|circa"
                            r"|ca\.)|~|≈)\s*$", re.IGNORECASE)


def _round_places(match: re.Match[str]) -> int:
    """Decimals an approximate round figure shows: minus its trailing zeros, keeping two significant
    digits ("about $16,000" is 16 thousand, give or take 500; "about 100" is 100 give or take 5)."""
    whole = match["int"].replace(",", "")
    before = match.string[max(0, match.start() - 20):match.start()]
    if match["frac"] or match["exp"] or not _APPROX_BEFORE.search(before):
        return 0
    zeros = len(whole) - len(whole.rstrip("0"))
    return -max(0, min(zeros, len(whole) - 2))


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
        decimals=len(match["frac"] or ".") - 1 - exp + _round_places(match),
        percent=percent,
        scale=scale,
        plain=not (suffix or money),
        money=money,
        direction=direction,
        points=word in ("pp", "pt", "pts") or word.startswith("percentage"),
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
        # "the refund rate is zero.", "orders: nine", "revenue fell to zero": the value said of what precedes
        counted = counted or bool(_SAID_BEFORE.search(match.string[: match.start()])
                                  and _SAID_AFTER.match(match.string[match.end():]))
        if not counted:
            return None
    money = not percent and bool(_MONEY_AFTER.match(match.string, match.end()))
    direction = _attached_direction(match.string[: match.start()], match.string[match.end():]) if percent else 0
    return Figure(raw=match.group(0).strip(), value=float(value), decimals=0, percent=percent,
                  plain=not (percent or money), money=money, direction=direction)


def _date_ok(match: re.Match[str], facts: OutputFacts, day_group: tuple[str, str] = ("d1", "d2")) -> bool:
    month = _MONTHS[(match["m1"] or match["m2"]).lower()]
    day, year = int(match[day_group[0]] or match[day_group[1]]), match["y"]
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


# thousands grouped by spaces, as French and SI style write them ("16 017,93 €", "16 017.93 USD"):
# a no-break or thin space always groups; a plain one only in money or before decimals, where
# "7 100" cannot be two counts side by side
_SPACE_GROUPED = re.compile(r"(?<![\w.,])\d{1,3}(?:[\u00a0\u202f\u2009]\d{3})+(?![\w]|[.,]\d{3}\b)")
_PLAIN_GROUPED = re.compile(
    rf"(?<![\w.,])(?:(?<=[$€£¥] )|(?<=[$€£¥])|(?<=(?:{_CURRENCY_CODES}) ))\d{{1,3}}(?: \d{{3}})+(?![\w])"
    rf"|(?<![\w.,])\d{{1,3}}(?: \d{{3}})+(?=[.,]\d{{1,2}}(?!\d)|\s?(?:[$€£¥]|(?:{_CURRENCY_CODES})\b))")


# a count grouped by plain spaces ("1 234 commandes"): joined when the text groups thousands by spaces
# elsewhere or writes decimal commas, or when the tool outputs hold the joined value; otherwise
# "7 100" stays two numbers (and is refused unless both are sourced)
_PLAIN_SPACED = re.compile(r"(?<![\w.,])\d{1,3}(?: \d{3})+(?![\w]|[.,]\d)")


def _ungrouped(m: re.Match[str]) -> str:
    return re.sub(r"\s", "", m.group(0))


def _spaced_counts(text: str, facts: OutputFacts | None) -> str:
    """``text`` with counts grouped by plain spaces joined (see ``_PLAIN_SPACED``)."""
    spaced = bool(_SPACE_GROUPED.search(text) or _PLAIN_GROUPED.search(text) or _EURO_EVIDENCE.search(text))
    values = [s.value for s in facts.sources] + facts.windows if facts else []

    def join(m: re.Match[str]) -> str:
        whole = float(_ungrouped(m))
        return _ungrouped(m) if spaced or any(abs(v - whole) < 0.5 for v in values) else m.group(0)

    return _PLAIN_SPACED.sub(join, text)


def as_english_numbers(text: str, facts: OutputFacts | None = None) -> str:
    """``text`` with European number and date forms written the English way, when the text shows
    it uses them (see ``_EURO_EVIDENCE``); dotted day-first dates in any text; thousands grouped
    by spaces joined (a count grouped by plain spaces as ``_PLAIN_SPACED`` says, ``facts`` the tool
    outputs' numbers). The figures then go through the same checks as any other: the locale
    changes how they are read, not whether. Figures glued to CJK or Thai words are set apart first
    (``spaced_figures``); Swiss, Indian and dotted groups joined (``regrouped``)."""
    text = _spaced_counts(regrouped(_DOTTED_DATE.sub(_dotted_date, spaced_figures(text))), facts)
    text = _PLAIN_GROUPED.sub(_ungrouped, _SPACE_GROUPED.sub(_ungrouped, text))
    if not _EURO_EVIDENCE.search(text):
        return text
    return _EURO_NUMBER.sub(lambda m: m.group(1).replace(".", "").replace(",", "."), text)


# "one and a half percent" is 1.5%; "half of", "a third of" a share; "a dozen" twelve: figures too
_AND_A_HALF = re.compile(rf"\b(\d+|{_FIRST_WORD})\s+and\s+a\s+half\b", re.IGNORECASE)
_SHARES = {"half": 50.0, "a third": 100 / 3, "one third": 100 / 3, "two thirds": 200 / 3, "a quarter": 25.0,
           "one quarter": 25.0, "three quarters": 75.0, "a fifth": 20.0, "one fifth": 20.0}
_SHARE = re.compile(r"\b(?P<share>" + "|".join(w.replace(" ", r"\s+") for w in _SHARES) + r")\s+of\b"
                    r"|\b(?P<dozen>a\s+dozen)\b", re.IGNORECASE)


def _share(m: re.Match[str], found: list[Figure]) -> str:
    """A share in words is a rough percent (half: 45-55%); "a dozen" is twelve."""
    if m["dozen"]:
        found.append(Figure(raw=m[0], value=12.0, decimals=0, percent=False, plain=True))
    else:
        value = _SHARES[re.sub(r"\s+", " ", m["share"].lower())]
        found.append(Figure(raw=m["share"], value=value, decimals=-1, percent=True))
    return " "


# a date written with slashes: "4/25", "04/25/2026" (US, month first), "25/04/2026" (day first)
SLASH_DATE = re.compile(r"(?<![\w./])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\w/]|\.\d)")


def _slash_date(m: re.Match[str], dates: set[dt.date], bad: list[str]) -> str:
    """A slashed date is a date of the outputs when either reading (month or day first) is one; with a
    year and neither, a date they lack. Without a year and no such day it stays as written ("1/2",
    "24/7"): its numbers are figures to source."""
    a, b, year = int(m[1]), int(m[2]), m[3]
    full = (2000 + int(year) if len(year) == 2 else int(year)) if year else None
    readings = {(a, b), (b, a)}
    if any((d.month, d.day) in readings and full in (None, d.year) for d in dates):
        return " "
    if full is None or not any(1 <= mo <= 12 and 1 <= dy <= 31 for mo, dy in readings):
        return m[0]
    bad.append(m[0])
    return " "


_ORDINAL_WORDS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                  "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()
_DAY_ORDINALS = {w: n + 1 for n, w in enumerate(_ORDINAL_WORDS)} | {"twentieth": 20, "thirtieth": 30} | {
    f"{tens}{sep}{w}": base + n + 1 for tens, base in (("twenty", 20), ("thirty", 30)) for sep in ("-", " ")
    for n, w in enumerate(_ORDINAL_WORDS[:9]) if base + n + 1 <= 31}
_ORDINAL_RE = "|".join(sorted(map(re.escape, _DAY_ORDINALS), key=len, reverse=True))
# "April twenty-fifth", "the twenty-fifth of April": a day written in words, read as "April 25"
SPELLED_DAY = re.compile(rf"\b(?P<m1>{_MONTH_RE})\.?\s+(?:the\s+)?(?P<o1>{_ORDINAL_RE})\b"
                         rf"|\b(?P<o2>{_ORDINAL_RE})\s+of\s+(?P<m2>{_MONTH_RE})\b", re.IGNORECASE)


def _spelled_day(m: re.Match[str]) -> str:
    day = _DAY_ORDINALS[" ".join((m["o1"] or m["o2"]).lower().split())]
    return f"{m['m1'] or m['m2']} {day}"


def extract_figures(text: str, facts: OutputFacts | None = None) -> tuple[list[Figure], list[str]]:
    """The figures in ``text`` that need a source, plus dates not found in ``facts`` (as written)."""
    facts = facts or OutputFacts()
    text = SPELLED_DAY.sub(_spelled_day, as_english_numbers(text))
    text, bad_dates = day_problems(text, facts.dates, facts.anchors, facts.day_words)

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

    def _range(m: re.Match[str]) -> str:
        if not (_date_ok(m, facts) and _date_ok(m, facts, ("e1", "e2"))):
            bad_dates.append(m.group(0))
        return " "

    text = ISO_DATE.sub(_iso, text)
    text = SLASH_DATE.sub(lambda m: _slash_date(m, facts.dates, bad_dates), text)
    text = MONTH_RANGE.sub(_range, text)
    text = MONTH_DAY.sub(_md, text)
    text = LIST_MARKER.sub(lambda m: m[1], text)
    text = STRUCTURAL.sub(" ", text)
    weeks = {d.isocalendar()[:2] for d in facts.dates}
    text = WEEK_NUMBER.sub(lambda m: " " if any(w == int(m["week"]) for _, w in weeks) and (
        not m["year"] or (int(m["year"]), int(m["week"])) in weeks) else m[0], text)
    years = {d.year for d in facts.dates}
    spelled: list[Figure] = []

    def _words(m: re.Match[str]) -> str:
        fig = _spelled_figure(m)
        if fig is None:
            return m.group(0)
        spelled.append(fig)
        return " "

    text = _AND_A_HALF.sub(lambda m: f"{_spelled_value(m[1]) if m[1].isalpha() else m[1]}.5", text)
    text = _SHARE.sub(lambda m: _share(m, spelled), text)
    text = SPELLED.sub(_words, text)
    text = _without_names(text)
    figures = [f for f in map(_figure, FIGURE.finditer(text)) if f is not None] + spelled
    figures = [f for f in figures if not (f.plain and f.decimals == 0 and f.value in years)]
    return figures, bad_dates


def _factors(fig: Figure, kind: str, either_scale: bool = False) -> tuple[float, ...]:
    """How a value of ``kind`` may be shown as ``fig``: a percent only from a rate (a fraction times
    100, or a percent as is), money only from money, a whole plain number never from a rate. A rate
    of either scale (a declared ``ratio``: 0.0169 or 1.69 for the same 1.69 %) may be written in the
    other as a plain decimal too ("0.0169" for 1.69, "1.69" for 0.0169): the same digits, the
    scale is the ambiguity the unit leaves."""
    if fig.percent:
        return _PERCENT_FACTORS.get(kind, ())
    if fig.money:
        return (1,) if kind in _MONEY_SOURCES else ()
    if either_scale and kind == RATE and fig.decimals > 0 and fig.scale == 1 and fig.plain:
        return (1, 100, 0.01)
    return () if kind in (FRACTION, POINTS) and fig.decimals <= 0 else (1,)


def _sources_of(fig: Figure, facts: OutputFacts) -> list[Source]:
    """The tool values ``fig`` may show: same unit, same value at the shown precision. A window name
    ("28d") sources only a plain count ("28 days"), never "28%" or "28x"."""
    target, tol = fig.value * fig.scale, fig.tolerance
    found = [s for s in facts.sources
             if any(abs(s.value * k - target) <= tol for k in _factors(fig, s.kind, s.either_scale))]
    if fig.plain:
        found += [Source(w, NUMBER) for w in facts.windows if abs(w - target) <= tol]
    return found


def _problem(fig: Figure, facts: OutputFacts) -> str | None:
    """Why ``fig`` is refused, as shown to the model and the person, or None when it is sourced.

    A direction is refused when every matching value is a change of the other sign, or a KPI's level
    (its value, a threshold, last week's value: "conversion rose 1.69%" of a 1.69% rate); a value of
    unknown sign is no evidence against "down 12.4%".
    """
    found = _sources_of(fig, facts)
    if not found:
        return fig.raw
    said = "a rise" if fig.direction > 0 else "a fall"
    if fig.direction and all(s.direction == -fig.direction for s in found):
        return f"{fig.raw} (written as {said}; the tool outputs say {'down' if fig.direction > 0 else 'up'})"
    if fig.direction and all(s.level for s in found):  # "conversion rose 1.69%": 1.69% is where it is
        return f"{fig.raw} (written as {said}; the tool outputs give it as a level, not a change)"
    if fig.points and all(s.relative for s in found):  # "fell 23.4 pp" of a 23.4% fall: 2% can't fall 23 pp
        return f"{fig.raw} (written in percentage points; the tool outputs give a relative change in %)"
    return None


def series_day_problems(text: str, facts: OutputFacts) -> list[str]:
    """A figure only a series' day gives, in a sentence naming a day ("last Tuesday", "Nov 21",
    "yesterday"), must be the value of that day (or of a day of the named range): $3,245.76 is
    Saturday's value, never "last Tuesday's". A sentence naming no day may quote any day's value."""
    problems = []
    for sentence in _SENTENCE.split(text):
        days = named_days(sentence, facts.dates, facts.anchors)
        if not days:
            continue
        for fig in extract_figures(sentence, facts)[0]:
            found = _sources_of(fig, facts)
            if found and all(s.role == DAY and s.day for s in found) and not any(s.day in days for s in found):
                its = ", ".join(sorted({s.day.isoformat() for s in found if s.day}))
                problems.append(f"{fig.raw} (the tool outputs give it as the value of {its}, not of the day named)")
    return problems


_HEX_ID = re.compile(r"^(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,40}$")


def _output_ids(obj: Any, found: set[str] | None = None) -> set[str]:
    """Hex ids the tool outputs hold (play run ids, cycle ids): said back, they are names, not figures
    (`3529677dbaab` read as 3,529,677 with a unit `dbaab`)."""
    found = set() if found is None else found
    if isinstance(obj, str):
        found.update(t for t in re.findall(r"[0-9a-f]{8,40}", obj) if _HEX_ID.match(t))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _output_ids(key, found)
            _output_ids(value, found)
    elif isinstance(obj, list | tuple | set):
        for value in obj:
            _output_ids(value, found)
    elif isinstance(obj, BaseModel):
        _output_ids(obj.model_dump(mode="json"), found)
    return found


def _without_ids(text: str, tool_outputs: list[Any]) -> str:
    ids = _output_ids(tool_outputs)
    if not ids:
        return text
    return re.sub(r"(?<![\w.])(?:" + "|".join(sorted(map(re.escape, ids), key=len, reverse=True)) + r")(?!\w)", " ",
                  text)


# "between 1,200 and 1,300 orders", "somewhere between 1.5 and 2%": a range a tool value lies in
_BETWEEN = re.compile(r"\bbetween\s+", re.IGNORECASE)
_RANGE_LINK = re.compile(r"\s*(?:and|to|[-–—])\s*")
_RANGE_WIDTH = 0.3  # at most 30 % of the value wide: a rounding, not a hedge ("between 1 and 5,000")


def _range_figures(text: str, at: int) -> tuple[Figure, Figure, int] | None:
    """The two ends of a range written from ``at`` ("1,200 and 1,300", "$15k and $17k", "1.5 and 2%"),
    the first taking the second's unit when it shows none; and where the range ends."""
    first = FIGURE.match(text, at)
    link = _RANGE_LINK.match(text, first.end()) if first else None
    second = FIGURE.match(text, link.end()) if link else None
    low, high = (_figure(first), _figure(second)) if first and second else (None, None)
    if low is None or high is None or second is None:
        return None
    if low.plain and not high.plain:
        low = dataclasses.replace(low, percent=high.percent, money=high.money, scale=high.scale, plain=False)
    if (low.percent, low.money) != (high.percent, high.money):
        return None
    return low, high, second.end()


def range_blanks(text: str, facts: OutputFacts, claims: ClaimFacts) -> str:
    """``text`` with each "between A and B" blanked when a tool value of its unit lies in it (of the KPI
    its sentence names before it, when it names one, in that KPI's unit), at most ``_RANGE_WIDTH`` of it
    wide, and no direction word says the value went the other way: an honest rounding of a sourced
    figure. Any other range is left for its ends to be checked as figures (and refused)."""
    for m in reversed(list(_BETWEEN.finditer(text))):
        found = _range_figures(text, m.end())
        if found is None:
            continue
        low, high, end = found
        lo, hi = low.value * low.scale, high.value * high.scale
        sentence, begin = sentence_of(text, m.start(), end)
        named = claims.mentions(sentence[: m.start() - begin])
        owner = claims.owner(named[-1][2]) if named else None
        scope = _owned(high, owner, bool(_PAST.search(sentence))) if owner else facts
        if scope is None:  # a range said of a KPI in another unit than the KPI's: its ends are checked
            continue
        direction = _attached_direction(text[: m.start()], text[end:]) if high.percent else 0
        inside = [s for s in scope.sources for k in _factors(high, s.kind, s.either_scale)
                  if lo - low.tolerance <= s.value * k <= hi + high.tolerance
                  and 0 < hi - lo <= _RANGE_WIDTH * s.value * k
                  and not (direction and s.direction == -direction)]
        if inside:
            text = text[: m.start()] + " " * (end - m.start()) + text[end:]
    return text


def check_numbers(text: str, tool_outputs: list[Any]) -> GuardResult:
    """Accept ``text`` only when each of its figures (unit and direction included) and dates is found
    in ``tool_outputs``; the outputs' own hex ids are names, not figures. A tight range around a
    sourced value ("between 1,200 and 1,300" for 1,234) is a rounding of it (``range_blanks``). An
    amount written in another currency than the outputs' money ("£16,017.93" of a USD store) is
    refused whatever its digits (``guard_currency``)."""
    wrong_currency = currency_problems(text, tool_outputs)
    text = _without_ids(text, tool_outputs)
    facts, claims = collect_facts(tool_outputs), collect_claims(tool_outputs)
    text, multiples = reference_problems(as_english_numbers(text, facts), claims)
    text = range_blanks(text, facts, claims)
    figures, bad_dates = extract_figures(text, facts)
    offending = bad_dates + [p for p in (_problem(f, facts) for f in figures) if p] + multiples
    offending += series_day_problems(text, facts) + claim_problems(text, tool_outputs, facts, claims)
    offending += wrong_currency
    return GuardResult(ok=not offending, offending=list(dict.fromkeys(offending)))


# Claims that are not figures: a KPI's status, a play's evidence verdict, a figure said of one KPI,
# a multiplier ("doubled"). Each is read per sentence and must agree with the tool outputs given.
_STATUSES = frozenset({"OK", "WARNING", "CRITICAL", "UNKNOWN"})
_VERDICTS = frozenset({"moved_up", "moved_down", "no_detectable_change", "inconclusive", "confounded", "pending"})
_PREVIOUS_KEY = re.compile(r"^(?:previous|prev|prior|last)(?:_|$)")
_UNTRUSTED_PROSE = frozenset({"excerpt"})  # SOP text: anyone may write it, so it is no KPI's value
# words of a KPI id that name nothing on their own ("net", "rate"); the rest, when only one KPI has
# them, name it ("conversion" is conversion_rate, "refunds" refund_rate_orders)
_GENERIC_WORDS = frozenset("net gross rate rates per order orders value values average avg weekly daily monthly "
                           "total count share new first second failed time days pct percent ratio".split())
_SENTENCE = re.compile(r"(?<=[.!?])\s+|[;\n]+")
_CLAUSE = re.compile(r"[;—\n]|(?<=[.!?])\s+|,?\s+(?:but|while|whereas|although|though|yet)\b|,\s+(?:and|so)\b",
                     re.IGNORECASE)
_STATUS_WORD = re.compile(
    r"(?<![\w-])(?:(?P<upper>OK|WARNING|CRITICAL|UNKNOWN)|(?i:(?P<word>ok(?:ay)?|healthy|fine|on\s+track|on\s+target"
    r"|in\s+good\s+shape|warning|critical)))(?![\w-])")
_STATUS_OF = {"warning": "WARNING", "critical": "CRITICAL"}  # every other status word says OK
# before or after a status word, these make it a threshold ("below warning 2%"), a permission ("OK to
# run") or plain English ("a critical step"), not a status
_NOT_STATUS_BEFORE = frozenset("above below under over past beyond near the a an its their than from of any no".split())
_NOT_STATUS_AFTER = frozenset("threshold thresholds level levels line limit mark bound band range zone to with for if "
                              "that sign signs signal step part factor".split())
_NEGATED = re.compile(r"\b(?:not|no\s+longer|never|isn't|aren't|wasn't|weren't|hardly)\b|n't\b", re.IGNORECASE)
# a rule, a condition, a question or a choice states no status ("its trigger: aov is WARNING or CRITICAL")
_NO_STATUS_CLAIM = re.compile(r"\b(?:if|when|whenever|unless|once|until|whether|would|could|should|might|will|"
                              r"trigger\w*|rules?|fires?|conditions?|or)\b|\?\s*$", re.IGNORECASE)
_THRESHOLD_WORDS = re.compile(r"\b(?:target|threshold|goal)s?\b", re.IGNORECASE)
_ANOMALY_WORDS = re.compile(r"\b(?:anomal\w*|baseline|unusual|usual|normal)\b", re.IGNORECASE)
_PAST_STATUS = re.compile(r"\b(?:last|previous(?:ly)?|prior|ago|used\s+to)\b", re.IGNORECASE)
_PAST = re.compile(r"\b(?:last|previous(?:ly)?|prior|ago|before|from|used\s+to)\b", re.IGNORECASE)
_JOINED = re.compile(r"^[\s,&/]*(?:(?:and|or|plus|as\s+well\s+as)\s+)?(?:(?:the|your|both)\s+)*$", re.IGNORECASE)
_KPI_NOUN = r"(?:kpis?|metrics?|numbers|indicators?|measures?)"
_ALL = re.compile(rf"\b(?:all|every|each)\b(?:\s+(?:of\s+)?(?:the|your|my|our|these|those|\d+|other))*\s+{_KPI_NOUN}\b"
                  r"|\beverything\b|\ball\s+(?:is|are)\b", re.IGNORECASE)
_NONE = re.compile(rf"\bnothing\b|\bno\s+(?:single\s+)?{_KPI_NOUN}\b|\bnot\s+(?:a\s+single|one)\b"
                   rf"|\bnone\b(?!\s+of\s+(?:the|your|these|those)\s+(?!{_KPI_NOUN}\b)\w)", re.IGNORECASE)
# "everything else", "the rest", "all others": a quantifier over the KPIs the text has not named
_OTHERS = re.compile(rf"\b(?:everything|all|each|every)\s+(?:else|others?)\b|\bthe\s+(?:rest|others)\b"
                     rf"|\b(?:remaining|other)\s+{_KPI_NOUN}\b", re.IGNORECASE)
_EXCEPT = re.compile(r"\b(?:except|apart\s+from|other\s+than|besides|aside\s+from|but\s+for|save\s+for|only)\b",
                     re.IGNORECASE)

_SUCCESS = re.compile(
    r"\b(?:worked|paid\s+off|succeeded|successful|a\s+success|(?:an?|clear|big|real|proven)\s+win|winner|proven|proved"
    r"|moved\s+the\s+(?:number|needle|metric)|made\s+an?\s+(?:\w+\s+)?difference"
    r"|had\s+an?\s+(?:\w+\s+)?(?:effect|impact))(?![\w-])", re.IGNORECASE)
_FAILURE = re.compile(
    r"\b(?:didn't|did\s+not|does\s+not|doesn't|has\s+not|hasn't|have\s+not|haven't|never)\s+(?:really\s+)?"
    r"(?:work|help|pay\s+off|move\s+the\s+(?:number|needle)|make\s+(?:a|any)\s+difference|have\s+(?:an?|any)\s+"
    r"(?:effect|impact))\b|\b(?:failed(?!\s+payments?)|flopped|backfired|ineffective|made\s+no\s+difference|did\s+nothing"
    r"|no\s+(?:\w+\s+)?(?:effect|impact|difference|lift)|no\s+(?:detectable|measurable|significant|real|clear)\s+change)\b",
    re.IGNORECASE)
_NEGATED_BEFORE = re.compile(r"(?:\b(?:not|never|no)\b|n't)\s*(?:\w+\s+){0,1}$", re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"\b(?:if|whether|once|when|until|unless|will|would|could|should|might|may|can|to\s+(?:see|"
                           r"tell|know|judge|learn|check))\b|'ll\b", re.IGNORECASE)
_PLAY_NOUN = re.compile(r"\b(?:plays?|tests?|experiments?|campaigns?|promotions?|promos?)\b", re.IGNORECASE)
_MOVED = frozenset({"moved_up", "moved_down"})

_MULTIPLIER = re.compile(
    r"\b(?:(?P<verb>doubled|tripled|trebled|quadrupled|halved)"
    r"|(?P<times>twice|three\s+times|four\s+times|half)\s+as\s+(?:many|much|high|large|big|low)\b)",
    re.IGNORECASE)
_MULTIPLES = {"doubled": 2.0, "twice": 2.0, "tripled": 3.0, "trebled": 3.0, "three times": 3.0, "quadrupled": 4.0,
              "four times": 4.0, "halved": 0.5, "half": 0.5}
_RATIO_SLACK = 0.1  # "doubled" is a ratio of 1.8 to 2.2: the words are round, not the figures


@dataclasses.dataclass
class KpiFacts:
    """One KPI as the tool outputs describe it: what a sentence naming it may say of it."""

    kpi: str
    kind: str | None = None
    labels: set[str] = dataclasses.field(default_factory=set)
    status: set[str] = dataclasses.field(default_factory=set)
    threshold_status: set[str] = dataclasses.field(default_factory=set)
    anomaly_status: set[str] = dataclasses.field(default_factory=set)
    direction: int = 0  # 1 higher is better, -1 lower is better, 0 unknown
    values: OutputFacts = dataclasses.field(default_factory=OutputFacts)
    previous: OutputFacts = dataclasses.field(default_factory=OutputFacts)
    ratios: list[float] = dataclasses.field(default_factory=list)
    # its value and reference figures by role (target, threshold, baseline, previous): for "3x the target"
    refs: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    # a name several KPIs share ("refunds": the refund rates, the refunded amount) stands for them all
    members: list[KpiFacts] = dataclasses.field(default_factory=list)

    def add_ref(self, role: str, *values: Any) -> None:
        self.refs.setdefault(role, []).extend(v for v in map(_number, values) if v is not None)

    def reference_ratios(self, role: str) -> list[float]:
        """Value / reference for each pair the outputs give (of every member, for a shared name)."""
        if self.members:
            return [r for m in self.members for r in m.reference_ratios(role)]
        return [v / r for v in self.refs.get("value", []) for r in self.refs.get(role, []) if r]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One evidence verdict: of which play, on which KPI."""

    play: str
    kpi: str
    verdict: str


@dataclasses.dataclass
class ClaimFacts:
    """What the tool outputs say beyond their numbers: KPIs, verdicts, and the plays they name."""

    kpis: dict[str, KpiFacts] = dataclasses.field(default_factory=dict)
    verdicts: list[Verdict] = dataclasses.field(default_factory=list)
    play_names: dict[str, str] = dataclasses.field(default_factory=dict)  # name as written (lower) -> play id
    play_words: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # play id -> its outcome words
    ratios: list[float] = dataclasses.field(default_factory=list)
    keyed: list[tuple[str, Any]] = dataclasses.field(default_factory=list)  # numbers under a plain key
    families: dict[str, KpiFacts] = dataclasses.field(default_factory=dict)  # a shared name -> its KPIs
    _names: re.Pattern[str] | None = None
    _name_of: dict[str, str] = dataclasses.field(default_factory=dict)

    def kpi(self, kpi: str) -> KpiFacts:
        return self.kpis.setdefault(kpi, KpiFacts(kpi))

    def owner(self, name_id: str) -> KpiFacts:
        """The KPI a mention names, or the family of KPIs a shared name stands for."""
        return self.kpis.get(name_id) or self.families[name_id]

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """Where ``text`` names a KPI: (start, end, kpi id or family id), play names blanked first
        ("second-purchase nudge" names no KPI)."""
        if self._names is None:
            self._names, self._name_of = _name_pattern(self.kpis, self.families)
        lowered = _blank_plays(text.lower(), self.play_names)
        found = ((m.start(), m.end(), _lookup(self._name_of, m[0])) for m in self._names.finditer(lowered))
        return [(start, end, name) for start, end, name in found if name]

    def plays_in(self, text: str) -> set[str]:
        lowered = text.lower()
        return {play for name, play in self.play_names.items() if re.search(rf"\b{re.escape(name)}\b", lowered)}


def _json_like(obj: Any) -> Any:
    """``obj`` as plain JSON-like data (models, dataclasses, JSON text and ToolMessages unwrapped)."""
    if isinstance(obj, BaseModel):
        return _json_like(obj.model_dump(mode="json"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _json_like(dataclasses.asdict(obj))
    if isinstance(obj, str):
        parsed = _json_text(obj)
        return _json_like(parsed) if isinstance(parsed, dict | list) else obj
    if isinstance(obj, dict):
        return {k: _json_like(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_json_like(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | Decimal | dt.date):
        return obj
    return _json_like(obj.content) if hasattr(obj, "content") else str(obj)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_kpi_dict(d: dict[Any, Any]) -> bool:
    unit = d.get("unit")
    return "value" in d and (d.get("status") in _STATUSES or (isinstance(unit, str) and unit.lower() in _UNIT_KINDS))


def _is_verdict_dict(d: dict[Any, Any]) -> bool:
    return d.get("verdict") in _VERDICTS


def _play_of(d: dict[Any, Any]) -> str | None:
    play = d.get("play_id") if isinstance(d.get("play_id"), str) else d.get("play")
    return play if isinstance(play, str) and play.strip() else None


def _ratio(a: float | None, b: float | None) -> list[float]:
    return [a / b] if a is not None and b else []


def _declared_kind(unit: Any) -> str | None:
    return _UNIT_KINDS.get(unit.strip().lower()) if isinstance(unit, str) else None


def _named_kind(kpi_id: str) -> str | None:
    """A KPI's unit from its id when no unit is given (a compact result: id, status, value, note)."""
    kind = _key_kind(kpi_id, None, 1.0)[0]
    return kind if kind in (MONEY, NUMBER, RATE, POINTS) else None


def _add_kpi(d: dict[Any, Any], key: str | None, claims: ClaimFacts) -> None:
    """A KPI dict (``kpi_statuses``, a job's result, a play's ``kpi_values``): its statuses and its own values."""
    kpi_id = d.get("id") if isinstance(d.get("id"), str) else d.get("kpi") if isinstance(d.get("kpi"), str) else key
    if not kpi_id:
        return
    k = claims.kpi(kpi_id)
    unit = d.get("unit")
    k.kind = k.kind or _declared_kind(unit) or _named_kind(kpi_id)
    anomaly = d.get("anomaly") if isinstance(d.get("anomaly"), dict) else {}
    for found, value in ((k.status, d.get("status")), (k.threshold_status, d.get("threshold_status")),
                         (k.anomaly_status, anomaly.get("level"))):
        if value in _STATUSES:
            found.add(value)
    if isinstance(d.get("label"), str):
        k.labels.add(re.sub(r"\s*\(.*?\)", "", d["label"]).strip().lower())
    k.direction = k.direction or {"higher_is_better": 1, "lower_is_better": -1}.get(str(d.get("direction")), 0)
    previous = {key: v for key, v in d.items() if isinstance(key, str) and _PREVIOUS_KEY.match(key)}
    _walk({key: v for key, v in d.items() if key not in previous}, k.values)
    _walk(previous | {"unit": unit}, k.previous)
    value = _number(d.get("value"))
    k.ratios += [r for p in previous.values() for r in _ratio(value, _number(p))]
    k.ratios += _ratio(value, _number(anomaly.get("baseline")))
    k.add_ref("value", d.get("value"))
    k.add_ref(TARGET, d.get("target"), d.get("goal"))
    k.add_ref(THRESHOLD, d.get("warning"), d.get("critical"))
    k.add_ref("warning", d.get("warning"))
    k.add_ref("critical", d.get("critical"))
    k.add_ref("target_as_given", d.get("target"), d.get("goal"))  # the value's own scale (a note's "3.00%" is 3 too)
    k.add_ref(BASELINE, anomaly.get("baseline"), d.get("baseline"))
    k.add_ref("previous", *previous.values())
    note = OutputFacts()
    note.add_text(d.get("note") if isinstance(d.get("note"), str) else "")
    for s in note.sources:  # a compact result gives its references only in the note ("target 5,000.00")
        if s.role in REFERENCE_ROLES:
            k.add_ref(s.role, s.value, *([s.value / 100] if s.kind == POINTS else []))


def _record_direction(d: dict[Any, Any]) -> int:
    """The KPI's direction an evidence record or review figure gives: its ``direction``, else the way
    its ``reading`` (right / wrong way) says its move was (a review figure carries both)."""
    said = {"higher_is_better": 1, "lower_is_better": -1}.get(str(d.get("direction")), 0)
    moved = {"moved_up": 1, "moved_down": -1}.get(str(d.get("verdict")), 0)
    return said or moved * {"right": 1, "wrong": -1}.get(str(d.get("reading")), 0)


def _add_verdict(d: dict[Any, Any], claims: ClaimFacts) -> None:
    """An evidence record: its verdict, and its before/after/effect as its KPI's values."""
    play, kpi = _play_of(d) or "", d.get("kpi") if isinstance(d.get("kpi"), str) else ""
    claims.verdicts.append(Verdict(play, kpi, d["verdict"]))
    if not kpi:
        return
    k = claims.kpi(kpi)
    k.kind = k.kind or _declared_kind(d.get("unit")) or _named_kind(kpi)
    k.direction = k.direction or _record_direction(d)
    _walk({key: v for key, v in d.items() if key not in ("play", "play_id", "kpi")}, k.values)
    ratios = _ratio(_number(d.get("after")), _number(d.get("before")))
    effect = _number(d.get("effect_pct"))
    k.ratios += ratios + ([1 + effect / 100] if effect is not None else [])


def _add_play(d: dict[Any, Any], claims: ClaimFacts) -> None:
    play = _play_of(d)
    if play is None:
        return
    names = {play.lower(), play.lower().replace("_", " ")}
    if isinstance(d.get("label"), str) and not _is_kpi_dict(d):
        names.add(d["label"].lower().strip())
    claims.play_names.update({n: play for n in names if n})
    _outcome_words(d, claims.play_words.setdefault(play, set()))


def _gather(obj: Any, claims: ClaimFacts, key: str | None = None) -> None:
    """Walk plain data for KPI dicts, evidence records and plays."""
    if isinstance(obj, dict):
        if _is_kpi_dict(obj):
            _add_kpi(obj, key, claims)
        if _is_verdict_dict(obj):
            _add_verdict(obj, claims)
        _add_play(obj, claims)
        if not (_is_kpi_dict(obj) or _is_verdict_dict(obj)):
            claims.keyed += [(k, v) for k, v in obj.items() if isinstance(k, str) and not _id_like(k)
                             and _number(v) is not None]
        for k, v in obj.items():
            _gather(v, claims, k if isinstance(k, str) else key)
    elif isinstance(obj, list):
        for item in obj:
            _gather(item, claims, key)


def _fact_prose(obj: Any, key: str | None = None) -> Iterable[str]:
    """The trusted prose of the outputs outside KPI dicts and evidence records (a play's reason,
    a trigger): a segment naming a KPI sources that KPI's figures too."""
    if isinstance(obj, dict):
        if _is_kpi_dict(obj) or _is_verdict_dict(obj):
            return
        for k, v in obj.items():
            if k not in _UNTRUSTED_PROSE and not _id_like(k):
                yield from _fact_prose(v, k if isinstance(k, str) else key)
    elif isinstance(obj, list):
        for item in obj:
            yield from _fact_prose(item, key)
    elif isinstance(obj, str):
        yield obj


def collect_claims(tool_outputs: Iterable[Any]) -> ClaimFacts:
    """The KPIs (statuses, units, own values), evidence verdicts and plays of ``tool_outputs``."""
    claims = ClaimFacts()
    data = [_json_like(out) for out in tool_outputs]
    for out in data:
        _gather(out, claims)
    _add_amounts(claims)
    for out in data:
        for text in _fact_prose(out):
            for segment in _SENTENCE.split(text):
                for kpi in {m[2] for m in claims.mentions(segment)}:
                    for k in claims.owner(kpi).members or [claims.owner(kpi)]:
                        k.values.add_text(segment)
    facts = collect_facts(data)
    claims.ratios = [r for k in claims.kpis.values() for r in k.ratios] + [
        1 + s.direction * s.value / 100 for s in facts.sources if s.direction and s.kind in (POINTS, ANY)]
    return claims


def _name_key(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip().lower())


_ENDINGS = ("", "s", "es", "ed", "d")  # "refund", "refunds", "refunded"; "purchase", "purchased"


def _stem(word: str) -> str:
    """A name word without its plural or past ending: "refunded" and "refunds" are "refund"."""
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def _name_words(kpi: str) -> set[str]:
    """The words of a KPI id that name it on their own (not "rate", "net"), stemmed."""
    return {_stem(w) for w in re.split(r"[_\s]+", kpi.lower()) if w not in _GENERIC_WORDS and len(w) > 2}


def _lookup(name_of: dict[str, str], written: str) -> str | None:
    key = _name_key(written)
    return next((name_of[key[: len(key) - len(e)]] for e in _ENDINGS
                 if key.endswith(e) and key[: len(key) - len(e)] in name_of), None)


def _family(ids: set[str], kpis: dict[str, KpiFacts], families: dict[str, KpiFacts]) -> str:
    """The id of the family a shared name stands for: its statuses, values and ratios are its members'."""
    name = " or ".join(sorted(ids))
    if name not in families:
        members = [kpis[i] for i in sorted(ids)]
        family = KpiFacts(name, members=members)
        for m in members:
            family.status |= m.status
            family.threshold_status |= m.threshold_status
            family.anomaly_status |= m.anomaly_status
            family.ratios += m.ratios
        directions = {m.direction for m in members}
        family.direction = directions.pop() if len(directions) == 1 else 0
        families[name] = family
    return name


def _name_pattern(kpis: dict[str, KpiFacts], families: dict[str, KpiFacts]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every way the outputs name a KPI: its id, its label, a word only it has. A
    name several KPIs share ("refunds", "refund rate") names their family."""
    owners: dict[str, set[str]] = {}
    for k in kpis.values():
        for word in _name_words(k.kpi):
            owners.setdefault(word, set()).add(k.kpi)
    full: dict[str, set[str]] = {}
    for k in kpis.values():
        for n in (k.kpi, *k.labels):
            full.setdefault(_name_key(n), set()).add(k.kpi)
    name_of = {n: next(iter(ids)) if len(ids) == 1 else _family(ids, kpis, families)
               for n, ids in (owners | full).items()}
    alternatives = sorted(name_of, key=len, reverse=True)
    words = "|".join(r"[\s_-]+".join(map(re.escape, n.split())) + (r"(?:s|es|ed|d)?" if n in owners else "s?")
                     for n in alternatives)
    pattern = re.compile(rf"(?<![\w-])(?:{words})(?![\w-])" if words else r"(?!x)x")
    return pattern, name_of


def _add_amounts(claims: ClaimFacts) -> None:
    """A number under a plain key that shares a KPI's name in another unit ("refunded_amount": money,
    beside the refund rates) is one more thing that name stands for: "refunds were $477.55" is it."""
    kinds: dict[str, set[str | None]] = {}
    for k in claims.kpis.values():
        for word in _name_words(k.kpi):
            kinds.setdefault(word, set()).add(k.kind)
    added: set[str] = set()
    for key, value in claims.keyed:
        kind = _key_kind(key, None, _number(value) or 0.0)[0]
        shared = _name_words(key) & set(kinds)
        if (key in claims.kpis and key not in added) or kind not in (MONEY, NUMBER) or not shared:
            continue
        if all(kind not in kinds[w] for w in shared):
            added.add(key)
            amount = claims.kpis.setdefault(key, KpiFacts(key, kind=kind))
            _walk({key: value}, amount.values)
            amount.add_ref("value", value)


def _blank_plays(text: str, play_names: dict[str, str]) -> str:
    for name in sorted(play_names, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", lambda m: " " * len(m[0]), text)
    return text


def _status_words(clause: str) -> list[tuple[int, str]]:
    """The statuses a clause states: (start, status); thresholds and plain English skipped."""
    found = []
    for m in _STATUS_WORD.finditer(clause):
        before = clause[: m.start()].split()[-1:]
        after = clause[m.end():].split()[:1]
        if m["word"] and clause[m.end():].startswith(":"):  # "Warning: ..." is a heading
            continue
        if before and any(c.isdigit() for c in before[0]):  # "the 2% warning" is a threshold
            continue
        if (before and _word(before[0]) in _NOT_STATUS_BEFORE) or (after and _word(after[0]) in _NOT_STATUS_AFTER):
            continue
        word = (m["upper"] or m["word"]).lower()
        found.append((m.start(), m["upper"] or _STATUS_OF.get(word, "OK")))
    return found


def _subject(mentions: list[tuple[int, int, str]], at: int, clause: str) -> list[tuple[int, int, str]]:
    """The KPIs a status word at ``at`` is said of: the nearest named before it with those joined to
    it by "and" ("conversion and orders are CRITICAL"), else the first named right after a leading
    status ("CRITICAL: conversion")."""
    before = [m for m in mentions if m[1] <= at]
    if not before:
        after = [m for m in mentions if m[0] >= at]
        return after[:1] if after and not re.search(r"\w", clause[:at]) else []
    chosen = [before[-1]]
    for m in reversed(before[:-1]):
        if not _JOINED.match(clause[m[1]: chosen[-1][0]]):
            break
        chosen.append(m)
    return chosen


def _allowed(k: KpiFacts, clause: str) -> set[str]:
    allowed = set(k.status)
    if _THRESHOLD_WORDS.search(clause):
        allowed |= k.threshold_status
    if _ANOMALY_WORDS.search(clause):
        allowed |= k.anomaly_status
    return allowed


def _kpi_status_problem(k: KpiFacts, said: str, negated: bool, clause: str) -> str | None:
    """"Conversion is OK" when it is CRITICAL; "revenue is not OK" when OK is all the outputs say."""
    allowed = _allowed(k, clause)
    wrong = allowed == {said} if negated else said not in allowed
    if not allowed or not wrong:
        return None
    return f"{k.kpi} {'not ' if negated else ''}{said} (the tool outputs say {'/'.join(sorted(k.status or allowed))})"


def _named_kpis(claims: ClaimFacts, text: str) -> set[str]:
    """The KPI ids ``text`` names (a shared name: each KPI it stands for)."""
    owners = (claims.owner(m[2]) for m in claims.mentions(text))
    return {k.kpi for o in owners for k in (o.members or [o])}


def _quantified_problem(claims: ClaimFacts, said: str, before: str, sentence: str, named: set[str]) -> str | None:
    """"All KPIs are OK", "nothing is CRITICAL": true only when every KPI in the outputs agrees. With an
    exception ("except orders", "apart from X", "everything else", "the rest") the claim covers the
    KPIs the text has not named (``named``: those it names up to the end of this sentence)."""
    known = [k for k in claims.kpis.values() if k.status]
    other = ""
    if _EXCEPT.search(sentence) or _OTHERS.search(before):
        known, other = [k for k in known if k.kpi not in named], "other "
    if not known:
        return None
    if _NONE.search(before):
        wrong = [k.kpi for k in known if said in k.status]
        return f"no {other}KPI {said} (the tool outputs say {said}: {', '.join(wrong)})" if wrong else None
    if (_ALL.search(before) or _OTHERS.search(before)) and not _NEGATED.search(before):
        wrong = [k.kpi for k in known if said not in k.status]
        return f"all {other}KPIs {said} (the tool outputs say otherwise: {', '.join(wrong)})" if wrong else None
    return None


def status_problems(text: str, claims: ClaimFacts) -> list[str]:
    """Statuses the text gives a KPI (or all of them, or none) that the KPI's status contradicts."""
    problems: list[str] = []
    named: set[str] = set()
    for sentence in _SENTENCE.split(text):
        named |= _named_kpis(claims, sentence)
        for clause in _CLAUSE.split(sentence):
            if not clause or _PAST_STATUS.search(clause) or _NO_STATUS_CLAIM.search(sentence):
                continue
            mentions = claims.mentions(clause)
            for start, said in _status_words(clause):
                subject = _subject(mentions, start, clause)
                gap = clause[subject[0][1]:start] if subject and subject[0][1] <= start else ""
                if not subject or _ALL.search(gap) or _OTHERS.search(gap):  # "apart from X, all KPIs are OK"
                    before = gap if subject else clause[:start]
                    problems.append(_quantified_problem(claims, said, before, sentence, named) or "")
                    continue
                negated = bool(_NEGATED.search(gap))
                problems += [_kpi_status_problem(claims.owner(m[2]), said, negated, clause) or "" for m in subject]
    return [p for p in problems if p]


def _said_outcomes(sentence: str) -> list[tuple[str, str]]:
    """("success" | "failure", phrase) for each verdict-like phrase; "did not work" is a failure."""
    failures = list(_FAILURE.finditer(sentence))
    said = [("failure", m[0]) for m in failures]
    for m in _SUCCESS.finditer(sentence):
        if any(f.start() <= m.start() < f.end() for f in failures):
            continue
        said.append(("failure" if _NEGATED_BEFORE.search(sentence[: m.start()]) else "success", m[0]))
    return said


def _good(v: Verdict, claims: ClaimFacts) -> bool | None:
    """Whether a move was the KPI's good way (None: a move of unknown direction, or no move)."""
    direction = claims.kpis[v.kpi].direction if v.kpi in claims.kpis else 0
    if v.verdict not in _MOVED or not direction:
        return None
    return (v.verdict == "moved_up") == (direction > 0)


def _supports(v: Verdict, outcome: str, claims: ClaimFacts) -> bool:
    good = _good(v, claims)
    if outcome == "success":
        return v.verdict in _MOVED and good is not False
    return v.verdict == "no_detectable_change" or (v.verdict in _MOVED and good is not True)


def _relevant_verdicts(sentence: str, claims: ClaimFacts) -> list[Verdict]:
    plays = claims.plays_in(sentence)
    found = [v for v in claims.verdicts if not plays or v.play in plays]
    named = [claims.owner(m[2]) for m in claims.mentions(sentence)]
    kpis = {k.kpi for n in named for k in (n.members or [n])}
    return [v for v in found if v.kpi in kpis] or found


def verdict_problems(text: str, claims: ClaimFacts) -> list[str]:
    """A play said to have worked (or not) against the evidence verdicts given; a verdict said of a
    play with no verdict in the outputs at all is unsupported."""
    problems = []
    for sentence in _SENTENCE.split(text):
        for outcome, phrase in _said_outcomes(sentence):
            if sentence.rstrip().endswith("?") or _HYPOTHETICAL.search(sentence[: sentence.find(phrase)]):
                continue
            verdicts = _relevant_verdicts(sentence, claims)
            if not verdicts:
                if claims.plays_in(sentence) or _PLAY_NOUN.search(sentence):
                    problems.append(f"{phrase!r} (no evidence verdict in the tool outputs)")
                continue
            if not any(_supports(v, outcome, claims) for v in verdicts):
                told = ", ".join(sorted({v.verdict for v in verdicts}))
                problems.append(f"{phrase!r} (the evidence verdict is {told})")
    return problems


def _fits(fig: Figure, kind: str | None) -> bool:
    """Whether ``fig`` is written in a KPI's unit (a percent for a percent KPI, money for money...). A
    percent said to be a rise or a fall ("revenue dropped 29.9%") is a change, which any KPI has."""
    if fig.money:
        return kind == MONEY
    if fig.percent:
        return kind in (FRACTION, RATE, POINTS) or (fig.direction != 0 and kind in (MONEY, NUMBER))
    return kind in (NUMBER, RATE) and not fig.raw.lower().endswith("x")


def _kpi_sources(k: KpiFacts, with_previous: bool) -> OutputFacts:
    if not with_previous:
        return k.values
    return OutputFacts(k.values.sources + k.previous.sources, k.values.windows + k.previous.windows,
                       k.values.dates | k.previous.dates)


_DIRECTLY = re.compile(r"^\s+(?:(?:in|of|for|from|the|your|total|new|more|fewer|less)\s+)*$", re.IGNORECASE)


# "on-time delivery is about 93.5%": a figure right after "<words> is about" is said of those words,
# even when they name no KPI the outputs know; it is no figure of a KPI named later in the sentence
_PREDICATE = re.compile(r"\w\s+(?:is|are|was|were|stands\s+at|sits\s+at|came\s+in\s+at|comes\s+in\s+at)"
                        r"(?:\s+(?:about|around|roughly|approximately|approx\.?|nearly|almost|just|only|now|still|at))*"
                        r"\s*[~≈]?\s*$", re.IGNORECASE)


def _nearest(mentions: list[tuple[int, int, str]], sentence: str, at: int, end: int,
             fits: Callable[[str], bool] = lambda _: True) -> str | None:
    """The KPI a figure is said of: one named right after it in the figure's unit ("330 orders",
    "$5 in revenue"; "4.1% of orders" is a share of orders), else the last one named before it,
    else the first after, unless the figure is said of words before it that name no KPI (None)."""
    after = [m for m in mentions if m[0] >= end]
    gap = sentence[end: after[0][0]] if after else ""
    if after and _DIRECTLY.match(gap) and (fits(after[0][2]) or not re.search(r"\bof\b", gap, re.IGNORECASE)):
        return after[0][2]
    before = [m for m in mentions if m[1] <= at]
    if before:
        return before[-1][2]
    return None if _PREDICATE.search(sentence[:at]) else min(mentions)[2]


def _union(parts: Iterable[OutputFacts]) -> OutputFacts:
    union = OutputFacts()
    for part in parts:
        union.sources += part.sources
        union.windows += part.windows
        union.dates |= part.dates
    return union


def _fits_owner(fig: Figure, owner: KpiFacts) -> bool:
    return any(_fits(fig, m.kind) for m in owner.members or [owner])


def _owned(fig: Figure, owner: KpiFacts, past: bool) -> OutputFacts | None:
    """The figures ``fig`` may be of the KPI (or any KPI of the family) it is said of, in its unit;
    None when no such KPI has that unit."""
    fitting = [m for m in owner.members or [owner] if _fits(fig, m.kind)]
    return _union(_kpi_sources(m, past) for m in fitting) if fitting else None


def _owner_problem(fig: Figure, owner: KpiFacts, scope: OutputFacts | None, facts: OutputFacts) -> str | None:
    """A figure said of a KPI must be one of its own; said of a shared name ("refunds") it must be a
    figure of one of its KPIs in the figure's unit, or a day of a series, never another KPI's."""
    daily = any(s.role == DAY for s in _sources_of(fig, facts))  # a series' day: ``metric_series`` names no metric
    if scope is not None:
        wrong = _problem(fig, scope) and not daily
        return f"{fig.raw} (not a {owner.kpi} figure in the tool outputs)" if wrong else None
    if owner.members and (fig.money or fig.percent) and not daily:
        unit = "money" if fig.money else "a percent"
        return f"{fig.raw} (the tool outputs give {owner.kpi} no figure in {unit})"
    kpis = owner.members or [owner]
    if fig.plain and fig.decimals > 0 and all(k.kind == MONEY for k in kpis) and not daily and _problem(
            fig, _union(_kpi_sources(k, True) for k in kpis)):  # "AOV is 1.69": money written bare, not its own
        return f"{fig.raw} (not a {owner.kpi} figure in the tool outputs)"
    return None


# words that make a reference figure quoted as one: its role ("the $5,000 target", "baseline of
# 460.5"), or a comparison right before it ("above $5,000", "versus 4,000")
_REFERENCE_WORDS = frozenset("target targets targeted goal goals aim objective budget plan planned threshold "
                             "thresholds warning critical limit trigger triggers alert line level floor ceiling bar "
                             "cutoff cut-off baseline baselines usual normal typical average avg mean median "
                             "expected norm "
                             # an answer in German, French, Spanish, Italian, Dutch or Portuguese ("Ziel 2,00 %")
                             "ziel zielwert sollwert schwelle objectif cible seuil objetivo meta umbral obiettivo "
                             "soglia doel drempel alvo".split())
_COMPARED = frozenset("from compared relative above below under over beat beats beating exceeded exceeds exceeding "
                      "surpassed cleared clears "
                      "missed misses missing than vs vs. versus against toward towards short".split())
_SEGMENT = re.compile(r"[,;:()\[\]—|]")
_SEGMENT_AFTER = re.compile(r"[,;:)\]—|]")  # "$5,000 (the target)" quotes it


# figures listed before this one ("target ($15,000.00 and 1,100)"): the list shares its first one's reading
_LISTED_BEFORE = re.compile(r"(?:[$€£¥]?\d[\d,.]*\s?%?\s*(?:,|and|&|or|/)\s*)+$", re.IGNORECASE)


def _quoted_as_reference(sentence: str, at: int, end: int) -> bool:
    """Whether the figure at ``sentence[at:end]`` is written as a reference figure, not a value; a
    figure listed after others ("above target ($15,000.00 and 1,100)") is read as the list's first."""
    listed = _LISTED_BEFORE.search(sentence[:at])
    head = sentence[: listed.start()] if listed else sentence[:at]
    segment = _SEGMENT.split(head)[-1].split()
    before = head.split()
    if any(_word(t) in _REFERENCE_WORDS for t in segment) or any(_word(t) in _REFERENCE_WORDS | _COMPARED
                                                                  for t in before[-2:]):
        return True
    for token in _SEGMENT_AFTER.split(sentence[end:])[0].split()[:3]:
        if _word(token) in _REFERENCE_WORDS:
            return True
        if any(c.isdigit() for c in token) or _CLAUSE_END.search(token):
            return False
    return False


_TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|[\s:|-]+\|\s*$")


def _with_table_headers(text: str) -> str:
    """A markdown table's cells under a reference column ("target") or a past one ("last week") read
    as quoting it: each such cell gets its header before it, as prose would say "target 5,000.00"."""
    lines, header = text.split("\n"), None
    for n, line in enumerate(lines):
        row = _TABLE_ROW.match(line)
        if not row:
            header = None
        elif header is None:
            header = [c.strip() for c in row[1].split("|")]
        elif not _TABLE_RULE.match(line):
            cells = row[1].split("|")
            cells = [f" {header[i]} {c.strip()} " if i < len(header) and _word(header[i]) in _REFERENCE_WORDS
                     # a past column's cell is a clause of its own ("; orders last week 1,187 ;"): the
                     # row's other cells stay this period's
                     else f" ; {cells[0].strip()} {header[i]} {c.strip()} ; " if i and i < len(header)
                     and _PAST.search(header[i]) else c for i, c in enumerate(cells)]
            lines[n] = "|" + "|".join(cells) + "|"
    return "\n".join(lines)


def _reference_problem(fig: Figure, scope: OutputFacts, sentence: str, at: int, owner: KpiFacts | None) -> str | None:
    """A target, threshold or baseline written as the value ("revenue was $5,000" when $5,000 is the
    target): refused unless the sentence quotes it as that reference."""
    found = _sources_of(fig, scope)
    if not found or any(s.role not in REFERENCE_ROLES for s in found):
        return None
    if _quoted_as_reference(sentence, at, at + len(fig.raw)):
        return None
    roles = "/".join(sorted({s.role for s in found}))
    whose = f"{owner.kpi}'s {roles}" if owner else f"a {roles}"
    return f"{fig.raw} ({whose} in the tool outputs, written as a value)"


def _find_figure(sentence: str, raw: str, start: int) -> int:
    """Where the figure written ``raw`` stands in ``sentence`` (from ``start``), as a whole number:
    the "1%" of "the 1% target", not the tail of an earlier "2.1%"; -1 when not found."""
    m = re.compile(rf"(?<![\d.,]){re.escape(raw)}(?!\d)").search(sentence, start)
    return m.start() if m else -1


def kpi_figure_problems(text: str, claims: ClaimFacts, facts: OutputFacts) -> list[str]:
    """A figure in the unit of the KPI its sentence says it of (the nearest named) must be that
    KPI's (value, threshold, baseline; last week's value only said as such), not another KPI's; a
    target, threshold or baseline only quoted as one."""
    problems = []
    for sentence in _SENTENCE.split(_with_table_headers(text)):
        mentions = claims.mentions(sentence)
        past = bool(_PAST.search(sentence))
        seen: dict[str, int] = {}  # a figure written twice is read at each place, not twice at the first
        for fig in extract_figures(sentence, facts)[0]:
            at = _find_figure(sentence, fig.raw, seen.get(fig.raw, 0))
            seen[fig.raw] = at + len(fig.raw)
            if at < 0 or _problem(fig, facts):  # not found as written, or unsourced anywhere: said already
                continue
            owner = scope = None
            named = _nearest(mentions, sentence, at, at + len(fig.raw),
                             lambda n, f=fig: _fits_owner(f, claims.owner(n))) if mentions else None
            if named:
                owner = claims.owner(named)
                scope = _owned(fig, owner, past)
            problem = (_owner_problem(fig, owner, scope, facts) if owner else None) or _reference_problem(
                fig, scope or facts, sentence, at, owner if scope else None)
            if problem:
                problems.append(problem)
    return problems


def reference_problems(text: str, claims: ClaimFacts) -> tuple[str, list[str]]:
    """Multipliers of a named figure ("3x the target", "half of last week"): each must be the ratio of
    the KPI's value to that figure in the outputs (of the KPI the sentence names, else of any). Returns
    ``text`` with each judged multiplier blanked (it is no figure to source) and the problems."""
    problems: list[str] = []
    blanks: list[tuple[int, int]] = []
    for multiple in reference_multiples(text):
        sentence, begin = sentence_of(text, multiple.start, multiple.end)
        ratios = _named_ratios(claims, sentence, multiple.start - begin, multiple.role) or [
            r for k in claims.kpis.values() for r in k.reference_ratios(multiple.role)]
        if any(multiple.holds(r) for r in ratios):
            blanks.append((multiple.start, multiple.end))
        elif not multiple.share:
            blanks.append((multiple.start, multiple.end))
            problems.append(_multiple_problem(multiple, ratios))
    for start, end in reversed(blanks):
        text = text[:start] + " " * (end - start) + text[end:]
    return text, problems


def _named_ratios(claims: ClaimFacts, sentence: str, at: int, role: str) -> list[float]:
    """The ratios to ``role`` of the KPI a multiplier at ``at`` is said of (the last named before it,
    else the first after)."""
    mentions = claims.mentions(sentence)
    if not mentions:
        return []
    before = [m for m in mentions if m[1] <= at]
    return claims.owner((before[-1] if before else mentions[0])[2]).reference_ratios(role)


def _multiple_problem(multiple: RefMultiple, ratios: list[float]) -> str:
    what = "last week" if multiple.role == "previous" else f"the {multiple.role}"
    if not ratios:
        return f"{multiple.phrase} (no {multiple.role} value in the tool outputs to compare with)"
    shown = ", ".join(dict.fromkeys(f"{r:.2f}" for r in sorted(ratios)[:3]))
    return f"{multiple.phrase} (the tool outputs give {shown} times {what})"


def multiplier_problems(text: str, claims: ClaimFacts) -> list[str]:
    """"Doubled", "halved", "twice as many": a ratio the outputs must show between two values (of the
    KPI the sentence names, when it names one) or as a change; else an unsupported figure."""
    problems = []
    for sentence in _SENTENCE.split(text):
        named = {m[2] for m in claims.mentions(sentence)}
        own = [r for k in named for r in claims.owner(k).ratios]
        for m in _MULTIPLIER.finditer(sentence):
            word = _name_key(m["verb"] or m["times"])
            wanted = _MULTIPLES[word]
            if not any(abs(r - wanted) <= _RATIO_SLACK * wanted for r in (own or claims.ratios)):
                problems.append(f"{m[0]} (no ratio of {wanted:g} in the tool outputs)")
    return problems


def _figure_at(text: str, at: int) -> tuple[float, bool, int] | None:
    """The figure written at ``at`` (value, is a percent, where it ends), for ``guard_moves``."""
    m = FIGURE.match(text, at)
    fig = _figure(m) if m else None
    return (fig.value * fig.scale * (-1 if m["sign"] else 1), fig.percent, m.end()) if fig and m else None


def claim_problems(text: str, tool_outputs: list[Any], facts: OutputFacts | None = None,
                   claims: ClaimFacts | None = None) -> list[str]:
    """Everything besides unsourced figures that the tool outputs contradict or do not support."""
    claims = claims or collect_claims(tool_outputs)
    facts = facts or collect_facts(tool_outputs)
    text = as_english_numbers(text, facts)
    data = [_json_like(out) for out in tool_outputs]
    return (status_problems(text, claims) + verdict_problems(text, claims) + move_problems(text, _figure_at)
            + kpi_figure_problems(text, claims, facts) + multiplier_problems(text, claims) + ref_problems(text, claims)
            + play_state_problems(text, data, claims.play_names) + rank_problems(text, data, claims.play_names))


def _kpi_direction(k: KpiFacts) -> int:
    """1 higher is better, -1 lower is better: as the outputs say, else the side of the target its
    thresholds are on (a warning below the target: higher is better); 0 when neither tells."""
    if k.direction:
        return k.direction
    levels = k.refs.get("warning", []) + k.refs.get("critical", []) or k.refs.get(THRESHOLD, [])
    targets = k.refs.get("target_as_given") or k.refs.get(TARGET, [])
    votes = [(t > w) - (t < w) for t in targets for w in levels]  # a note's "1.80%" is also 0.018
    return (sum(votes) > 0) - (sum(votes) < 0)


def _ref_problem(k: KpiFacts, claim: RefClaim) -> str | None:
    if claim.ref == "target":  # as the KPI dict gives it, in its value's scale; else as a note says it
        refs = k.refs.get("target_as_given") or k.refs.get(TARGET, [])
    else:
        refs = k.refs.get(claim.ref, [])
    values = k.refs.get("value", [])
    if judge_ref_claim(claim, values, refs, _kpi_direction(k)) is not False:
        return None
    def listed(numbers: list[float]) -> str:
        return ", ".join(dict.fromkeys(f"{n:.10g}" for n in numbers))

    return f"{k.kpi} {claim.phrase} (the tool outputs say {listed(values)} against its {claim.ref} {listed(refs)})"


# a clause that goes on about the KPI before it ("Refund rate is 1.69% — above its target", "..., still
# above target", "...: comfortably above its goal"): nothing but such words before its comparison
_CARRIES_ON = re.compile(r"^[\s,:–-]*(?:(?:and|but|so|yet|still|now|already|which|that|it|it's|is|was|are|were|"
                         r"sits|sitting|stays|staying|remains|comfortably|just|slightly|well|far|way|safely|"
                         r"i\.e\.|so\s+it's)\s+)*$", re.IGNORECASE)


def _carried_subject(claims: ClaimFacts, earlier: str, before: str) -> list[tuple[int, int, str]]:
    """The KPI a clause naming none carries on about: the last one named earlier in its sentence, when
    nothing but linking words come before its comparison (``_CARRIES_ON``); else none."""
    if not _CARRIES_ON.match(before):
        return []
    return claims.mentions(earlier)[-1:]


def ref_problems(text: str, claims: ClaimFacts) -> list[str]:
    """A KPI said to be above, below, meeting or missing its target or a threshold when its value and
    that figure in the outputs say otherwise (``guard_refs``); a shared name ("refunds") is refused
    only when every KPI it stands for contradicts the claim."""
    problems = []
    for sentence in _SENTENCE.split(text):
        at = 0
        for clause in _CLAUSE.split(sentence):
            if not clause:
                continue
            at = sentence.find(clause, at)
            mentions = claims.mentions(clause)
            for claim in ref_claims(clause):
                subject = _subject(mentions, claim.start, clause) or _carried_subject(
                    claims, sentence[:at], clause[: claim.start])
                for _start, _end, name in subject:
                    owner = claims.owner(name)
                    found = [_ref_problem(k, claim) for k in (owner.members or [owner])]
                    if found and all(found):
                        problems.append(found[0] if len(found) == 1 else f"{owner.kpi} {claim.phrase} (the tool "
                                        "outputs say otherwise for each KPI it names)")
    return problems


MAX_REPLY_CHARS = 8_000  # a narrative or chat answer longer than this is not read (economy, and a sane page)
OFFLINE_NARRATIVE = "offline narrative shown"
ONLY_REASONING = "model returned only its reasoning, no answer"
EMPTY_REPLY = "model returned no text"
EMPTY_NUDGE = ("Your reply had no answer in it. Answer now, in plain prose, from the tool outputs above (no tool "
               "calls).")
TOOL_CALL_AS_TEXT = "model wrote a tool call as text instead of an answer"
DECISION_CLAIMED = "model claimed to have decided or executed a play (people decide; models only explain)"

_TAG = "(?:think|thinking|reasoning|thought|seed:think)"
# <think>...</think> (DeepSeek-R1, Qwen3), [THINK]...[/THINK] (Magistral), <seed:think> (Seed-OSS),
# ◁think▷...◁/think▷ (Kimi), <|begin_of_thought|> (OpenThoughts, Bespoke), <|START_THINKING|> (Command A)
_OPENS = rf"<{_TAG}>|\[THINK\]|◁think▷|<\|begin_of_thought\|>|<\|START_THINKING\|>"
_CLOSES = rf"</{_TAG}>|\[/THINK\]|◁/think▷|<\|end_of_thought\|>|<\|END_THINKING\|>"
REASONING_BLOCK = re.compile(rf"(?:{_OPENS}).*?(?:{_CLOSES})", re.DOTALL | re.IGNORECASE)
REASONING_CLOSE = re.compile(_CLOSES, re.IGNORECASE)
REASONING_OPEN = re.compile(_OPENS, re.IGNORECASE)
# what wraps the answer itself in those formats: the wrapper goes, the answer stays
ANSWER_WRAPPER = re.compile(r"<\|(?:START|END)_RESPONSE\|>|<\|(?:begin|end)_of_solution\|>|</?answer>", re.IGNORECASE)
# a claim of having decided, not a recommendation: "I approved ...", "I’ve approved", "I went ahead and
# approved", "I approve", "I'll approve", "approved every play", "executing now"; "I would approve" is advice
_ACTIVE_VERBS = (r"approv(?:e|ed|ing)|auto-approv(?:e|ed|ing)|reject(?:ed|ing)?|overr(?:ode|idden|iding|ide)"
                 r"|execut(?:e|ed|ing)|applied|launched|published|decided|queued|scheduled|deployed|activated"
                 r"|rolled\s+(?:it\s+|them\s+)?out|pushed\s+(?:it\s+|them\s+)?live|put\s+(?:it\s+|them\s+)?live"
                 r"|turned\s+(?:it\s+|them\s+)?on|signed\s+off")
DECISION_CLAIM = re.compile(
    r"\b(?:I|we)(?:\s+(?:have|had|just|already|now|also|then|hereby|officially|automatically|will|am|are|do)"
    r"|\s+(?:went|gone|go)\s+ahead\s+and|'ve|'ll|'m|'re)*\s+"
    rf"(?:{_ACTIVE_VERBS})\b"
    r"|\bapproved\s+(?:every|all)\b|\bexecuting\s+(?:it\s+|them\s+|the\s+plays?\s+)?now\b",
    re.IGNORECASE,
)


# the same claim in the passive ("the price test has been approved", "was executed", "got approved",
# "is live", "rolled out", "APPROVED ✅", "queued its jobs"): true only when a person's decision or a
# run's status in the tool outputs says so (of the play the sentence names, when it names one). Only
# the decision words: "rows were rejected", "a discount was applied" and "a product was launched"
# describe data, so "rejected" counts only when said of a play.
PASSIVE_CLAIM = re.compile(
    r"\b(?:has|have|had|was|were|is|are|got|gets|get|getting|been)\s+"
    r"(?:(?:now|already|just|successfully|been|automatically|officially|finally|gone)\s+)*"
    r"(?P<word>approved|auto-approved|overridden|executed|rejected|queued|scheduled|deployed|activated|live"
    r"|under\s*way|rolled\s+out)\b"
    r"|\b(?P<bare>(?:went|gone|goes|going)\s+live|rolled\s+out|pushed\s+live|queued\s+(?:its|the|their|all|up|your))\b"
    r"|(?-i:\b(?P<status>APPROVED|AUTO-APPROVED|REJECTED|EXECUTED|OVERRIDDEN)\b)"
    r"|(?::\s*|\b)(?P<mark>approved|executed|rejected|live)\s*[✅✔☑]",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(?:if|once|when|whenever|until|unless|after|before|whether|should|will|would|could|can|"
                        r"may|might|must|to)\b[^.;:!?\n]*$|'ll\s*$", re.IGNORECASE)
# "No play has been approved yet", "None of the plays were executed", "nothing is live": no claim
_NEGATED_SUBJECT = re.compile(r"\b(?:no|none|nothing|neither|nor|not|never|nobody|without)\b|n't\b", re.IGNORECASE)
_EXECUTED = {"executed", "executing", "applied", "succeeded", "executed_on", "live"}
_SUPPORTED_BY = {  # a claimed outcome -> the words a decision kind, run status or job result uses for it
    "approved": {"approved", "approve", "auto_approve", "override"}, "auto-approved": {"auto_approve"},
    "overridden": {"override", "overridden"}, "executed": _EXECUTED, "live": _EXECUTED, "deployed": _EXECUTED,
    "activated": _EXECUTED, "underway": _EXECUTED | {"already_active"}, "rolled out": _EXECUTED,
    "rejected": {"rejected", "reject"}, "queued": _EXECUTED | {"queued", "running", "executing"},
}
_OF_A_PLAY = re.compile(r"\b(?:plays?|proposals?|suggestions?|recommendations?|it|this|that)\b", re.IGNORECASE)

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


_CONDITION_AFTER = re.compile(r"^[^.;!?\n]*?\b(?:if|once|when|as\s+soon\s+as|after|until|unless)\b", re.IGNORECASE)
_RESTRICTED = {"rejected", "live", "rolled out", "deployed", "activated", "underway", "queued"}  # said of a play only
_OF_A_PLAY = re.compile(r"\b(?:plays?|proposals?|suggestions?|recommendations?|tests?|experiments?|campaigns?|jobs?|"
                        r"it|this|that|its)\b", re.IGNORECASE)
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "＇": "'"})


def _plain_quotes(text: str) -> str:
    """Typographic apostrophes as ASCII: models write "I’ve" at least as often as "I've"."""
    return text.translate(_QUOTES)


def _conditional(sentence: str, start: int, end: int) -> bool:
    """A claim inside a condition or a negated subject claims nothing ("once it is approved",
    "no play has been approved", "it goes live as soon as you approve")."""
    before = sentence[:start]
    clause = re.split(r"[,;:—]", before)[-1]
    return bool(_CONDITION.search(before) or _NEGATED_SUBJECT.search(clause)
                or _CONDITION_AFTER.match(sentence[end:]))


def _claim_word(m: re.Match[str]) -> str:
    """The outcome a passive claim states, as ``_SUPPORTED_BY`` names it."""
    if m["word"]:
        word = re.sub(r"\s+", " ", m["word"].lower())
        return {"scheduled": "queued", "under way": "underway"}.get(word, word)
    if m["bare"]:
        bare = m["bare"].lower()
        return "queued" if bare.startswith("queued") else "rolled out" if bare.startswith("rolled") else "live"
    return (m["status"] or m["mark"]).lower()


def decision_claim(text: str) -> str | None:
    """The first claim that the model itself decided or ran something, or None."""
    for sentence in _SENTENCE.split(_plain_quotes(text)):
        for m in DECISION_CLAIM.finditer(sentence):
            if not _conditional(sentence, m.start(), m.end()):
                return m[0]
    return None


def unsupported_passive_claim(text: str, tool_outputs: Iterable[Any]) -> str | None:
    """The first passive claim of a decision or execution ("has been approved", "is live") that no
    tool output supports, or None. Conditions ("once it is approved, ...") and negations claim
    nothing. When the sentence names a play, only what the outputs say of that play supports it."""
    outputs = list(tool_outputs)
    claims: ClaimFacts | None = None
    for sentence in _SENTENCE.split(_plain_quotes(text)):
        for m in PASSIVE_CLAIM.finditer(sentence):
            if _conditional(sentence, m.start(), m.end()):
                continue
            claims = claims or collect_claims(outputs)
            word, plays = _claim_word(m), claims.plays_in(sentence)
            if word in _RESTRICTED and not plays and not _OF_A_PLAY.search(sentence[: m.start()] + m[0]):
                continue
            words = (set().union(*(claims.play_words.get(p, set()) for p in plays)) if plays
                     else _outcome_words(outputs, set()))
            if not _SUPPORTED_BY[word] & words:
                return m[0]
    return None


def _raw_text(reply: AIMessage) -> str:
    return reply.text if isinstance(reply.text, str) else str(reply.content)


def answer_text(reply: AIMessage) -> str:
    """The reply's answer without a reasoning model's thinking (``<think>...</think>``, ``[THINK]``, a
    harmony ``analysis`` channel) or what a server left after the turn's end token, stripped.

    The thinking is neither shown nor checked: it is scratch work, often with figures the answer
    drops. A close tag without its opening (the chat template opened it) ends the thinking; an
    opening tag never closed (cut off while thinking) leaves no answer after it.
    """
    text = REASONING_BLOCK.sub("", visible_text(readable(_raw_text(reply))))
    text = ANSWER_WRAPPER.sub("", text)
    closes = list(REASONING_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = REASONING_OPEN.search(text)
    return (text[: opened.start()] if opened else text).strip()


_INVISIBLE = {"Cf", "Cs", "Co", "Cn"}  # format (zero-width, bidi), surrogate, private use, unassigned


def readable(text: str) -> str:
    """``text`` as it can be stored and printed: a surrogate pair a decoder left split is joined, a
    lone surrogate (half an emoji: no UTF-8 encoder takes it) and invisible or control characters
    (zero-width, bidi overrides, terminal escapes) are dropped; newlines and tabs stay."""
    joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\ufffd", "")
    return "".join(c for c in joined if c in "\n\t" or not (unicodedata.category(c) in _INVISIBLE
                                                               or unicodedata.category(c) == "Cc"))


def _only_reasoning(reply: AIMessage) -> bool:
    raw = _raw_text(reply)
    return bool(REASONING_OPEN.search(raw) or REASONING_CLOSE.search(raw) or "<|channel|>" in raw
                or (reply.additional_kwargs or {}).get("reasoning_content"))


def reply_problem(reply: AIMessage, text: str, tool_outputs: list[Any] | None = None) -> str | None:
    """Why a final reply cannot be shown at all (before its figures are checked), or None.

    A refusal (in the refusal field or written as the answer), a reply cut off at the length limit
    or by a content filter, an empty reply (or only reasoning, or only marks and invisible
    characters), an oversized reply, a tool call written as the text, a claim to have decided or
    executed a play (decisions are people's). A refusal is quoted only when it holds no figure the
    tool outputs lack (the note reaches a person).
    """
    refusal = (reply.additional_kwargs or {}).get("refusal")
    if refusal or (text and _REFUSAL.match(_plain_quotes(text)) and len(text) <= _REFUSAL_MAX):
        said = " ".join(readable(str(refusal or text)).split())[:200]
        return f"model refused: {said}" if check_numbers(said, tool_outputs or []).ok else "model refused"
    stop = _stop_reason(reply)
    if stop in _CUT_OFF:
        return "model reply was cut off at the length limit (incomplete)"
    if stop in _FILTERED:
        return f"model reply was cut by a content filter ({stop}; incomplete)"
    if not text:
        return ONLY_REASONING if _only_reasoning(reply) else EMPTY_REPLY
    if not any(c.isalnum() for c in text):
        return "model returned no readable text (only marks or symbols)"
    if len(text) > MAX_REPLY_CHARS:
        return f"model reply too long ({len(text)} characters, limit {MAX_REPLY_CHARS})"
    if text != readable(text):  # a caller that skipped answer_text: never store what cannot be printed
        return "model reply held unreadable characters"
    if text_tool_calls(text) or has_call_markup(text):  # raw JSON or markup for a person; the chat runs
        return TOOL_CALL_AS_TEXT  # the calls it can read before asking this
    if decision_claim(text) or unsupported_passive_claim(text, tool_outputs or []):
        return DECISION_CLAIMED
    return None


# a refusal written as the answer ("I'm sorry, but I can't help with that."): short, and nothing else
_REFUSAL = re.compile(
    r"^\W*(?:(?:I'm|I\s+am)\s+(?:very\s+|so\s+)?sorry|sorry|I\s+apologi[sz]e|apologies|unfortunately)?[,.!\s]*"
    r"(?:but\s+)?(?:as\s+an\s+AI[^,.]*,\s*)?I\s*(?:can't|cannot|can\s+not|am\s+unable\s+to|'m\s+unable\s+to|"
    r"am\s+not\s+able\s+to|won't|will\s+not|must\s+decline\s+to)\s+(?:help|assist|comply|provide|answer|do|"
    r"fulfil|fulfill|support|respond|complete|engage|continue)\b", re.IGNORECASE)
_REFUSAL_MAX = 300
_CUT_OFF = frozenset({"length", "max_tokens", "max_output_tokens"})
_FILTERED = frozenset({"content_filter", "content_filtered", "safety", "refusal", "recitation", "blocklist",
                       "prohibited_content", "spii"})


def _stop_reason(reply: AIMessage) -> str:
    """Why the provider stopped the reply, lower-case ("stop", "length", "content_filter", "SAFETY")."""
    meta = reply.response_metadata or {}
    return str(meta.get("finish_reason") or meta.get("stop_reason") or "").strip().lower()


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
    history, rejections, offending, nudged = list(messages), 0, [], False
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
        if problem in (EMPTY_REPLY, ONLY_REASONING) and not nudged and not rejections:  # asked once more
            nudged = True
            history += [reply, HumanMessage(content=EMPTY_NUDGE)]
            continue
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
    note = f"model text contained figures or claims not in the tool outputs: {figures}; {OFFLINE_NARRATIVE}"
    return _offline(offline_text, note, rejections, "model text contained figures or claims not in the tool outputs")


def _correction(offending: list[str]) -> str:
    return (
        "These figures or claims are not in the tool outputs you were given: " + ", ".join(offending) + ". "
        "Rewrite the text using only figures, statuses and verdicts that appear in the tool outputs, "
        "or none at all."
    )
