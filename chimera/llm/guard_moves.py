"""A move said between two figures must go the way the figures do.

Why: "orders fell from 1,187 to 1,234" or "1,234 orders, down from 1,187" passes the figure checks
(both numbers are the tool's) yet says the opposite of what happened. The guard reads a direction
word followed by "from A to B" (a few words between at most, within the clause), and "B, up / down
from A", and refuses the sentence when B's side of A contradicts the word. Equal figures, figures in
different units (a percent and money), and anything in a condition or question claim nothing. The
figures themselves are read by the guard's own reader (``read``), so this module knows no format.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["move_problems"]

# (value, is a percent, end) of the figure written at a position, or None
FigureAt = Callable[[str, int], tuple[float, bool, int] | None]

_UP = ("rose|risen|rise|rises|grew|grown|grow|grows|increased|increase|increases|climbed|climbs|jumped|jumps|"
       "improved|improves|gained|gains|surged|went\\s+up|up|higher|recovered|rebounded")
_DOWN = ("fell|fallen|fall|falls|dropped|drops|drop|declined|declines|decreased|decreases|slipped|slid|sank|"
         "shrank|dipped|dips|plunged|plummeted|tumbled|went\\s+down|down|lower|worsened")
_FROM_TO = re.compile(rf"\b(?:(?P<up>{_UP})|(?P<down>{_DOWN}))\b(?P<gap>(?:\s+[\w'-]+){{0,3}}?)\s+from\s+",
                      re.IGNORECASE)
_TO = re.compile(r"\s*(?:to|→|->|–|—)\s*", re.IGNORECASE)
_SINCE = re.compile(r"(?:,\s*|\s+\(?)(?:(?P<up>up|higher|increased|rising)|(?P<down>down|lower|decreased|falling))"
                    r"\s+from\s+", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[;:!?()\[\]]|[,.](?!\d)")  # "1,234" and "1.69" go on
_NO_CLAIM = re.compile(r"\b(?:if|unless|whether|would|could|should|might|will|expect\w*|forecast\w*|project\w*)\b"
                       r"|\?\s*$", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|[;\n]+")


def _said(up: bool, old: float, new: float) -> bool:
    return new > old if up else new < old


def _problem(word: str, up: bool, old: tuple[float, bool, int], new: tuple[float, bool, int]) -> str | None:
    if old[1] != new[1] or old[0] == new[0] or _said(up, old[0], new[0]):
        return None
    went = "up" if new[0] > old[0] else "down"
    return f"{word!r} (the figures written go {went})"


def _last_figure(clause: str, read: FigureAt) -> tuple[float, bool, int] | None:
    """The last figure written in ``clause`` (its new value, before "up from ...")."""
    found = None
    for m in re.finditer(r"(?<![\w.,])[$€£¥]?\d", clause):
        at = read(clause, m.start())
        if at is not None and at[2] <= len(clause):
            found = at
    return found


def move_problems(text: str, read: FigureAt) -> list[str]:
    """Each "rose/fell from A to B" and "B, up/down from A" whose figures go the other way."""
    problems = []
    for sentence in _SENTENCE.split(text):
        if _NO_CLAIM.search(sentence):
            continue
        for m in _FROM_TO.finditer(sentence):
            if _CLAUSE_BREAK.search(m["gap"]):
                continue
            old = read(sentence, m.end())
            link = _TO.match(sentence, old[2]) if old else None
            new = read(sentence, link.end()) if link else None
            if old and new:
                problems.append(_problem(" ".join(sentence[m.start(): new[2]].split()), bool(m["up"]), old, new) or "")
        for m in _SINCE.finditer(sentence):
            old = read(sentence, m.end())
            start = max((b.end() for b in _CLAUSE_BREAK.finditer(sentence, 0, m.start())), default=0)
            new = _last_figure(sentence[start: m.start()], read)
            if old and new:
                problems.append(_problem(" ".join(sentence[m.start(): old[2]].split()).lstrip(",( "), bool(m["up"]),
                                         old, new) or "")
    return [p for p in problems if p]
