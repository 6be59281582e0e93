"""Weekdays and relative days in a model's text must be days the tool outputs hold.

"Refunds spiked last Saturday" is a claim about a day: the outputs must hold that day (their dates
give the weekdays), else the model invented it. A weekday written beside a date must be that date's
weekday ("Friday, April 25" when April 25 is a Saturday is refused). "Last Saturday", "yesterday",
"3 days ago" count back from the newest data day (or the day after it: data that runs through
yesterday); a bare "on Saturday" needs some Saturday in the outputs. Advice and plans ("next Monday",
"I would review it on Monday") and habits ("on Saturdays") claim no day; neither do names such as
"Black Friday". A weekday or relative phrase the outputs' own prose uses may be repeated.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection

__all__ = ["DAY_WORDS", "MONTHS", "day_problems", "named_days", "prose_day_words", "sentence_of"]

_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_SHORT = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6}
_WEEKDAY = "|".join(_NAMES)
MONTHS = {m: i + 1 for i, names in enumerate(  # month names as people write them -> month number
    "jan january;feb february;mar march;apr april;may;jun june;jul july;aug august;sep sept september;"
    "oct october;nov november;dec december".split(";")) for m in names.split()}
_MONTHS = "|".join(sorted(MONTHS, key=len, reverse=True))
_ISO = r"(?P<iso>\d{4}-\d{2}-\d{2})"
_MD = (rf"(?:(?P<m1>{_MONTHS})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+"
       rf"(?P<m2>{_MONTHS})\.?)(?:,?\s+(?P<y>\d{{4}}))?")
_DOM = r"the\s+(?P<dom>\d{1,2})(?:st|nd|rd|th)"
_DATE = rf"(?:{_ISO}|{_MD}|{_DOM})"
# a weekday beside a date, either way round: "Saturday, April 25", "Sat 2026-04-25", "April 25 (a Saturday)"
_SHORT_RE = "|".join(sorted(_SHORT, key=len, reverse=True))
WEEKDAY_DATE = re.compile(
    rf"\b(?:(?P<wd>{_WEEKDAY})|(?-i:(?P<short>{_SHORT_RE.title()})\.?))"
    rf",?\s+(?:\(\s*)?{_DATE}\b"
    rf"|\b{_DATE.replace('?P<', '?P<b_')}(?:,\s*|\s+\(\s*|\s+)(?:(?:a|on\s+a|which\s+was\s+a)\s+)?"
    rf"(?P<b_wd>{_WEEKDAY})\b",
    re.IGNORECASE)
# a weekday or relative day on its own
_PAST_WORDS = r"last|this\s+past|past|previous"
DAY_WORDS = re.compile(
    rf"\b(?:(?P<rel>{_PAST_WORDS})\s+)?(?P<wd>{_WEEKDAY})(?P<plural>s\b)?(?:'s)?\b"
    r"|\b(?P<ago>(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+days?\s+ago)\b"
    r"|\b(?P<dby>(?:the\s+)?day\s+before\s+yesterday)\b"
    r"|\b(?P<yday>yesterday)(?:'s)?\b",
    re.IGNORECASE)
_SMALL = {w: i + 1 for i, w in enumerate("one two three four five six seven eight nine ten".split())}
# a named day, not a day of the data
_NAMED_DAYS = re.compile(r"\b(?:black|cyber|good|easter|boxing|giving|super\s+bowl|small\s+business|ash|palm|"
                         r"whit|shrove|girl)\s+$", re.IGNORECASE)
# advice, plans, questions and habits claim no day of the data
_NO_CLAIM = re.compile(
    r"\b(?:will|would|should|could|might|may|can|shall|let's|going\s+to|plan\w*|schedul\w*|recommend\w*|"
    r"suggest\w*|consider|next|coming|upcoming|every|each|until|starting|from\s+now)\b|'ll\b|\?\s*$",
    re.IGNORECASE)
_IMPERATIVE = re.compile(r"^\W*(?:please\s+)?(?:send|run|launch|schedule|start|try|post|publish|email|check|review|"
                         r"wait|approve|pause|set|plan|compare|look|revisit|re-?run|ship|test|hold|book|call|ask)\b",
                         re.IGNORECASE)
_BEFORE_NO_CLAIM = re.compile(r"\b(?:next|coming|upcoming|every|each|by|until|till|through|before)\s+$", re.IGNORECASE)
# "Monday to Sunday" spans a week: no claim about either day
_SPAN_AFTER = re.compile(rf"\s*(?:to|through|thru|till|until|-|–|—)\s*(?:{_WEEKDAY})\b", re.IGNORECASE)
_SPAN_BEFORE = re.compile(rf"\b(?:{_WEEKDAY})\s*(?:to|through|thru|till|until|-|–|—)\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[\n;]")
# the keys and prose words a phrase of the outputs may use ("refunds spiked last Saturday")
_PROSE_DAY = re.compile(rf"\b(?:(?:{_PAST_WORDS})\s+)?(?:{_WEEKDAY})\b|\byesterday\b|\bday\s+before\s+yesterday\b",
                        re.IGNORECASE)


def prose_day_words(text: str) -> set[str]:
    """The weekday and relative-day phrases of an output's prose, lower-case, spaces collapsed."""
    return {" ".join(m[0].lower().split()) for m in _PROSE_DAY.finditer(text)}


def _weekday(name: str | None, short: str | None = None) -> int | None:
    if name:
        return _NAMES.index(name.lower())
    return _SHORT.get(short.lower().rstrip(".")) if short else None


def _written_dates(m: re.Match[str], prefix: str, dates: Collection[dt.date]) -> list[dt.date]:
    """The days a written date may be: an ISO date; a month and day in the outputs' years (or the
    outputs' own dates of that month and day); "the 25th": the outputs' dates of that day of month."""
    g = {k.removeprefix(prefix): v for k, v in m.groupdict().items() if v and k.startswith("b_") == bool(prefix)}
    if "iso" in g:
        try:
            return [dt.date.fromisoformat(g["iso"])]
        except ValueError:
            return []
    if "dom" in g:
        return [d for d in dates if d.day == int(g["dom"])]
    month = MONTHS.get((g.get("m1") or g.get("m2") or "").lower())
    day = int(g.get("d1") or g.get("d2") or 0)
    years = [int(g["y"])] if "y" in g else sorted({d.year for d in dates}) or []
    found = []
    for year in years:
        try:
            found.append(dt.date(year, month or 0, day))
        except ValueError:
            continue
    return found


def sentence_of(text: str, start: int, end: int) -> tuple[str, int]:
    """The sentence around ``text[start:end]`` and where it starts."""
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = _SENTENCE_END.search(text, end)
    return text[begin: stop.end() if stop else len(text)], begin


def _references(dates: Collection[dt.date], anchors: Collection[dt.date]) -> list[dt.date]:
    """The days "yesterday" and "last Saturday" count back from: the newest data day (an as-of, a
    day of a series) as today, or the day after it (data through yesterday)."""
    newest = max(anchors or dates, default=None)
    return [newest, newest + dt.timedelta(days=1)] if newest else []


def _last(weekday: int, ref: dt.date) -> dt.date:
    """The latest ``weekday`` strictly before ``ref``."""
    back = (ref.weekday() - weekday) % 7 or 7
    return ref - dt.timedelta(days=back)


def _day_claim_problem(m: re.Match[str], dates: Collection[dt.date], refs: list[dt.date],
                       said: Collection[str]) -> str | None:
    phrase = " ".join(m[0].lower().split()).removesuffix("'s")
    if phrase in said:
        return None
    if m["wd"]:
        weekday = _weekday(m["wd"])
        if m["rel"]:
            days = {_last(weekday or 0, r) for r in refs}
            if not days & set(dates):
                return f"{m[0]} (not a day in the tool outputs)"
            return None
        if weekday in {d.weekday() for d in dates} or m["wd"].lower() in said:
            return None
        return f"{m[0]} (no {_NAMES[weekday or 0].title()} in the tool outputs' dates)"
    back = 2 if m["dby"] else 1 if m["yday"] else _days_ago(m["ago"])
    if not {r - dt.timedelta(days=back) for r in refs} & set(dates):
        return f"{m[0]} (not a day in the tool outputs)"
    return None


def _days_ago(phrase: str) -> int:
    count = phrase.split()[0].lower()
    return int(count) if count.isdigit() else _SMALL[count]


def day_problems(text: str, dates: Collection[dt.date], anchors: Collection[dt.date] = (),
                 said: Collection[str] = ()) -> tuple[str, list[str]]:
    """``text`` with its relative days ("3 days ago") blanked (their numbers are no figures), and the
    weekdays and relative days it claims that the outputs' ``dates`` do not hold. ``anchors`` are the
    outputs' data days (as-of, series days) to count back from; ``said`` the phrases their prose uses."""
    problems: list[str] = []
    for m in WEEKDAY_DATE.finditer(text):
        weekday = _weekday(m["wd"] or m["b_wd"], m["short"])
        days = _written_dates(m, "b_" if m["b_wd"] else "", dates)
        if weekday is not None and days and all(d.weekday() != weekday for d in days):
            shown = days[0]
            problems.append(f"{m[0].strip()} ({shown.isoformat()} is a {_NAMES[shown.weekday()].title()})")
    dated = [(m.start(), m.end()) for m in WEEKDAY_DATE.finditer(text)]
    refs = _references(dates, anchors)
    blanks: list[tuple[int, int]] = []
    for m in DAY_WORDS.finditer(text):
        if m["ago"]:
            blanks.append((m.start(), m.end()))
        if any(s <= m.start() < e for s, e in dated) or m["plural"]:
            continue
        sentence, begin = sentence_of(text, m.start(), m.end())
        before = text[begin: m.start()]
        if (_NO_CLAIM.search(sentence) or _IMPERATIVE.match(sentence) or _BEFORE_NO_CLAIM.search(before)
                or _NAMED_DAYS.search(before) or _SPAN_AFTER.match(text, m.end()) or _SPAN_BEFORE.search(before)):
            continue
        problem = _day_claim_problem(m, dates, refs, said)
        if problem:
            problems.append(problem)
    for start, end in reversed(blanks):
        text = text[:start] + " " * (end - start) + text[end:]
    return text, problems


_DATE_ALONE = re.compile(rf"\b{_DATE}\b", re.IGNORECASE)
# "Nov 14–17": the day a month-and-day range ends on
_RANGE_END = re.compile(r"\s*(?:–|—|-|to|through|thru|until|till)\s*(\d{1,2})(?:st|nd|rd|th)?\b(?![.,]?\d|\s*%)",
                        re.IGNORECASE)
_RANGE_WORDS = re.compile(r"\b(?:since|from|between|through|thru|to|until|till|over|during)\b|[–—]", re.IGNORECASE)
_SINCE = re.compile(r"\bsince\b", re.IGNORECASE)


def named_days(sentence: str, dates: Collection[dt.date], anchors: Collection[dt.date] = ()) -> set[dt.date]:
    """The days ``sentence`` names: its dates ("Nov 21", "2026-11-21", "the 21st"), weekdays (each such
    day of the outputs' ``dates``) and relative days ("last Tuesday", "yesterday", counted back as
    ``day_problems`` does). Two or more days with a range word ("from Monday to Thursday", "Nov 14–17")
    name every day between; "since Monday" runs to the newest data day. Empty: the sentence names no day."""
    days: set[dt.date] = set()
    spans = []
    for m in _DATE_ALONE.finditer(sentence):
        found = _written_dates(m, "", dates)
        days.update(found)
        spans.append((m.start(), m.end()))
        end = _RANGE_END.match(sentence, m.end()) if (m["m1"] or m["m2"]) else None
        for day in found if end else ():
            try:
                days.add(day.replace(day=int(end[1])))
            except ValueError:
                continue
    refs = _references(dates, anchors)
    for m in DAY_WORDS.finditer(sentence):
        if m["plural"] or any(s <= m.start() < e for s, e in spans):
            continue
        if m["wd"]:
            weekday = _weekday(m["wd"]) or 0
            days |= {_last(weekday, r) for r in refs} if m["rel"] else {d for d in dates if d.weekday() == weekday}
        else:
            back = 2 if m["dby"] else 1 if m["yday"] else _days_ago(m["ago"])
            days |= {r - dt.timedelta(days=back) for r in refs}
    if len(days) > 1 and _RANGE_WORDS.search(sentence):
        last = max([*days, *anchors]) if _SINCE.search(sentence) else max(days)
        days |= {min(days) + dt.timedelta(days=i) for i in range((last - min(days)).days + 1)}
    return days
