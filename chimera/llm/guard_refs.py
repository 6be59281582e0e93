"""A KPI said to be above, below, meeting or missing its target or a threshold.

"AOV hit its target" when it is 44.56 against 45, or "conversion is above its warning threshold"
when it is below: no figure is wrong, so the figure checks pass, yet the sentence misleads. Such a
phrase states how the KPI's value compares with one of its reference figures; the guard finds the
KPI the clause speaks of and its value and references (the tool outputs'), and this module judges
the comparison:

- "above / over / exceeds / higher than" and "below / under / short of / lower than" compare the
  numbers (a refund rate above its target is above it, good or bad);
- "hit / met / reached / beat / within" and "missed / fell short of / behind" say the KPI is (not) where
  its target wants it, in the KPI's direction: a lower-is-better KPI meets its target at or below it.
  The direction comes from the outputs, else from the thresholds' side of the target (a warning
  below the target: higher is better); unknown, these words are not judged.

A comparison is refused only when every value and reference pair the outputs give contradicts it
(equal never does); a negated phrase ("did not hit", "is not above") is judged negated; a condition
or advice ("if conversion falls below", "to get AOV above target", "should stay under") states
nothing about now and is skipped.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["RefClaim", "judge_ref_claim", "ref_claims"]

_NUMERIC_UP = (r"above|over|exceed(?:s|ed|ing)?|higher\s+than|greater\s+than|more\s+than|ahead\s+of|beyond"
               r"|surpass(?:es|ed|ing)?")
_NUMERIC_DOWN = r"below|under(?!\s*way)|lower\s+than|less\s+than|beneath"
_MET = r"hit(?:s|ting)?|met|meet(?:s|ing)?|reach(?:es|ed|ing)?|beat(?:s|en|ing)?|achiev(?:es|ed|ing)|within"
_MISSED = r"miss(?:es|ed|ing)?|(?:fell|falls|falling|fall)\s+short\s+of|short\s+of|behind"
REF_CLAIM = re.compile(
    rf"(?<![\w-])(?:(?P<up>{_NUMERIC_UP})|(?P<down>{_NUMERIC_DOWN})|(?P<met>{_MET})|(?P<missed>{_MISSED}))\s+"
    r"(?:(?:the|its|their|your|our|this|that|a|an|own|set|stated|weekly|monthly|daily)\s+)*"
    r"(?:[$€£]?\d[\d,]*(?:\.\d+)?\s?%?\s+)?"
    r"(?:(?:weekly|monthly|daily|own|set|stated)\s+)*"
    r"(?P<ref>targets?|goals?|(?P<level>warning|critical)(?:\s+(?:thresholds?|levels?|lines?|marks?|limits?))?)"
    r"(?![\w-])(?!\s+(?:audience|customers?|market|group|segment|price|date|list|page|buyers?))",
    re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no\s+longer|yet\s+to|failed\s+to|fails\s+to|didn't|doesn't|isn't|"
                       r"aren't|wasn't|weren't|hasn't|haven't|won't)\b|n't\b", re.IGNORECASE)
# a condition, a plan or advice before the phrase: nothing said about how the KPI stands now
_NOT_NOW = re.compile(r"\b(?:if|once|when|whenever|until|unless|whether|should|will|would|could|can|may|might|"
                      r"must|to|aim|keep|get|bring|push|want|need|needs|goal\s+is|expect(?:ed|s)?|likely|"
                      r"forecast|projected)\b|'ll\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class RefClaim:
    """One comparison of a KPI with a reference figure, as written."""

    phrase: str
    start: int
    end: int
    ref: str  # "target", "warning" or "critical"
    relation: str  # "above", "below", "met" or "missed"
    negated: bool


def ref_claims(clause: str) -> list[RefClaim]:
    """The comparisons a clause states about now (conditions, plans and advice left out)."""
    found = []
    for m in REF_CLAIM.finditer(clause):
        before = clause[: m.start()]
        if _NOT_NOW.search(before):
            continue
        relation = "above" if m["up"] else "below" if m["down"] else "met" if m["met"] else "missed"
        ref = (m["level"] or "target").lower()
        found.append(RefClaim(m[0], m.start(), m.end(), ref, relation, bool(_NEGATION.search(before))))
    return found


def judge_ref_claim(claim: RefClaim, values: list[float], refs: list[float], direction: int) -> bool | None:
    """True when the outputs bear the claim out, False when every pair contradicts it, None when it
    cannot be judged (no figures, or a met/missed claim of a KPI with no known direction)."""
    if not values or not refs:
        return None
    if claim.relation in ("met", "missed") and not direction:
        return None

    def holds(value: float, ref: float) -> bool:
        if claim.relation in ("above", "below"):  # equal is neither, so it contradicts neither way
            up = claim.relation == "above"
            return (value <= ref if up else value >= ref) if claim.negated else (value >= ref if up else value <= ref)
        meets = value >= ref if direction > 0 else value <= ref
        return meets == ((claim.relation == "met") != claim.negated)

    return any(holds(v, r) for v in values for r in refs)
