"""Multipliers of a named figure ("3x the target", "twice the baseline", "half of last week").

Such a phrase states a ratio between a KPI's value and one of its reference figures (its target, a
threshold, its baseline, last week's value): the guard computes the ratio from the tool outputs and
accepts the phrase only when the written multiplier rounds to it ("3.6x" for 3.64, "4x" too), or
the qualifier written holds ("more than three times", "almost 4x", "about 72% of"). Words are round:
"twice" or "half" allow 10 %. This module only reads the phrases and judges a ratio; the guard
finds the KPI the sentence speaks of and its figures.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["REFERENCE_MULTIPLE", "RefMultiple", "reference_multiples"]

_WORD_SLACK = 0.1  # "twice" is 1.8 to 2.2: the words are round, not the figures
_COUNTS = {w: i + 2 for i, w in enumerate("two three four five six seven eight nine ten".split())}
_WORDS = {"twice": 2.0, "double": 2.0, "triple": 3.0, "treble": 3.0, "quadruple": 4.0, "half": 0.5,
          "one half": 0.5, "a third": 1 / 3, "one third": 1 / 3, "two thirds": 2 / 3, "a quarter": 0.25,
          "one quarter": 0.25, "three quarters": 0.75}
_AT_LEAST = {"more than", "over", "above", "at least", "well over", "well above", "just over", "upwards of"}
_AT_MOST = {"under", "less than", "below", "just under", "at most"}
_NEARLY = {"almost", "nearly", "close to"}
_QUALIFIERS = sorted(_AT_LEAST | _AT_MOST | _NEARLY | {"about", "around", "roughly", "approximately", "approx",
                                                       "some", "~", "≈"}, key=len, reverse=True)
_ROLES = {"target": "target", "goal": "target", "baseline": "baseline", "average": "baseline", "norm": "baseline",
          "warning": "threshold", "critical": "threshold", "threshold": "threshold"}

REFERENCE_MULTIPLE = re.compile(
    r"(?<![\w.$€£])(?:(?P<qual>" + "|".join(q.replace(" ", r"\s+") for q in _QUALIFIERS) + r")\.?\s*)?"
    r"(?P<mult>(?P<num>\d+(?:\.\d+)?)\s?(?:x|×|times)(?![\w-])"
    r"|(?P<count>" + "|".join(_COUNTS) + r")\s+times"
    r"|(?P<word>twice|double|triple|treble|quadruple|(?:one\s+)?half|(?:a|one)\s+(?:third|quarter)"
    r"|two[\s-]+thirds|three[\s-]+quarters)"
    r"|(?P<pct>\d+(?:\.\d+)?)\s?%(?=\s+of\b))"
    r"(?P<link>\s+(?P<cmp>higher|more|greater|bigger|larger|lower|less|smaller|fewer)\s+than"
    r"|\s+as\s+(?:high|much|many|large|big|great|low|small)\s+as"
    r"|\s+what\s+(?:it|they)\s+(?:was|were|had\s+been)|\s+(?:that\s+)?of)?"
    r"\s+(?:(?:the|its|their|your|our|this|that|a)\s+)?(?:[$€£]?\d[\d,]*(?:\.\d+)?\s?(?:%|k)?\s+)?"
    r"(?:(?:weekly|week's|monthly|4-week|four-week|28-day|7-day|set|stated|own|usual|normal|typical)\s+)*"
    r"(?P<ref>targets?|goals?|baselines?|average|norm|(?:warning|critical)(?:\s+(?:threshold|level|line))?"
    r"|thresholds?|last\s+week|(?:the\s+)?(?:previous|prior)\s+week|week\s+(?:before|earlier|ago))\b(?P<poss>'s)?"
    r"(?!\s+(?:audience|customers?|market|group|segment|price|date|list|page|buyers?))",
    re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class RefMultiple:
    """One multiplier of a named figure: the ratio it states and how exactly it states it."""

    phrase: str
    start: int  # the multiplier itself ("3.6x", "twice", "72%"): no figure to source on its own
    end: int
    role: str  # target, threshold, baseline or previous
    wanted: float
    tolerance: float
    qualifier: str = ""
    inverse: bool = False  # "3x lower than the target": the target is 3x the value
    plus_one: bool = False  # "3x higher than": 3x or 4x, as people use it
    share: bool = False  # "72% of the target": judged only when it holds, else read as a figure

    def holds(self, ratio: float) -> bool:
        """Whether the value / reference ``ratio`` is what the phrase says."""
        if self.inverse:
            if ratio <= 0:
                return False
            ratio = 1 / ratio
        wanted = [self.wanted, self.wanted + 1] if self.plus_one else [self.wanted]
        return any(self._near(ratio, w) for w in wanted)

    def _near(self, ratio: float, wanted: float) -> bool:
        tol = self.tolerance
        if self.qualifier in _AT_LEAST:
            return ratio >= wanted - tol
        if self.qualifier in _AT_MOST:
            return ratio <= wanted + tol
        if self.qualifier in _NEARLY:
            return 0.85 * wanted <= ratio <= wanted + tol
        if self.qualifier:
            tol = max(tol, _WORD_SLACK * wanted)
        return abs(ratio - wanted) <= tol + 1e-9


def _role(ref: str) -> str:
    word = ref.lower().split()[0]
    return _ROLES.get(word.rstrip("s"), _ROLES.get(word, "previous"))


_COPULA = re.compile(r"\b(?:is|are|was|were|be|been|at|'s)\s*$", re.IGNORECASE)


def _how_often(m: re.Match[str]) -> bool:
    """"It fired twice last week", "3 times last week": a count of events, not a multiple of last
    week's figure (that says "twice last week's", "3x what it was last week", "half of last week")."""
    frequency = m["num"] or m["count"] or (m["word"] or "").lower() == "twice"
    compared = m["link"] or m["poss"] or _COPULA.search(m.string[: m.start()])
    return bool(frequency and _role(m["ref"]) == "previous" and not compared)


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


def reference_multiples(text: str) -> list[RefMultiple]:
    """Every multiplier of a named figure in ``text``, in order."""
    found = []
    for m in REFERENCE_MULTIPLE.finditer(text):
        if _how_often(m):
            continue
        qualifier = " ".join((m["qual"] or "").lower().split()).rstrip(".")
        cmp = (m["cmp"] or "").lower()
        if m["num"]:
            wanted, tol = float(m["num"]), 0.5 * 10 ** -_decimals(m["num"])
        elif m["count"]:
            wanted, tol = float(_COUNTS[m["count"].lower()]), _WORD_SLACK * _COUNTS[m["count"].lower()]
        elif m["word"]:
            wanted = _WORDS[" ".join(m["word"].lower().replace("-", " ").split())]
            tol = _WORD_SLACK * wanted
        else:
            wanted, tol = float(m["pct"]) / 100, 0.5 * 10 ** -_decimals(m["pct"]) / 100
        found.append(RefMultiple(
            phrase=" ".join(m[0].split()), start=m.start("mult"), end=m.end("mult"), role=_role(m["ref"]),
            wanted=wanted, tolerance=tol, qualifier="about" if qualifier in ("~", "≈") else qualifier,
            inverse=cmp in ("lower", "less", "smaller", "fewer") and wanted >= 1,
            plus_one=cmp in ("higher", "more", "greater", "bigger", "larger"), share=bool(m["pct"])))
    return found
