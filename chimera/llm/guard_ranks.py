"""A play's rank as a model says it must be its rank in the tool outputs (SUGGEST's ``rank``).

Why: "the top suggestion is win-back email, ranked #1" sends a person to approve the wrong play first
when SUGGEST ranked it second. A claim of rank ("#2", "ranked 2", "rank 2", "ranked second", "the 3rd
suggestion", "the top / first / highest-ranked suggestion") is said of the play the sentence names
nearest to it, and must be a rank the outputs give that play. A sentence naming no play, or a question
or a condition ("if win-back email were ranked first"), claims nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["collect_ranks", "rank_problems"]

_ORDINALS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth".split())}
_ORD = "|".join(_ORDINALS)
_NOUN = r"(?:suggestions?|suggested\s+plays?|plays?|picks?|recommendations?|priority|option|choice|idea)"
RANK_CLAIM = re.compile(
    rf"#\s?(?P<hash>\d{{1,2}})\b"
    rf"|\b(?:ranked|ranks?|ranking)(?:\s+(?:at|as))?\s+(?:#\s?|number\s+|no\.\s*)?"
    rf"(?P<num>\d{{1,2}}|{_ORD})(?:st|nd|rd|th)?\b"
    rf"|\b(?P<ord>{_ORD}|\d{{1,2}}(?:st|nd|rd|th))[\s-]+(?:ranked\b|{_NOUN})"
    rf"|\b(?P<top>top|highest[\s-]ranked|top[\s-]ranked|first[\s-]ranked|number[\s-]one|leading)\s+{_NOUN}",
    re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|[;\n]+")
_NO_CLAIM = re.compile(r"\b(?:if|were|would|could|should|might|unless|whether)\b|\?\s*$", re.IGNORECASE)


def collect_ranks(data: Iterable[Any]) -> dict[str, set[int]]:
    """play id -> the ranks the plain JSON-like outputs give it (a dict with ``play_id`` and ``rank``)."""
    ranks: dict[str, set[int]] = {}
    stack = list(data)
    while stack:
        obj = stack.pop()
        if isinstance(obj, Mapping):
            play, rank = obj.get("play_id"), obj.get("rank")
            if isinstance(play, str) and isinstance(rank, int) and not isinstance(rank, bool):
                ranks.setdefault(play, set()).add(rank)
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
    return ranks


def _name_pattern(name: str) -> str:
    """A play name as a sentence may write it: "winback email" also as "win-back email" or "winback_email"."""
    words = [r"-?".join(re.escape(c) for c in w) for w in name.split()]
    return r"(?<![\w-])" + r"[\s_-]+".join(words) + r"(?![\w-])"


def _mentions(sentence: str, play_names: Mapping[str, str]) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    names = {re.sub(r"[_-]", " ", n.lower()).strip(): p for n, p in play_names.items()}
    for name in sorted(names, key=len, reverse=True):
        if not name:
            continue
        for m in re.finditer(_name_pattern(name), sentence, re.IGNORECASE):
            if not any(s < m.end() and m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), names[name]))
    return found


def _claimed(m: re.Match[str]) -> int:
    if m["top"]:
        return 1
    word = (m["hash"] or m["num"] or m["ord"]).lower()
    digits = re.match(r"\d+", word)
    return int(digits[0]) if digits else _ORDINALS[word]


def rank_problems(text: str, data: list[Any], play_names: Mapping[str, str]) -> list[str]:
    """The ranks ``text`` gives a named play that the outputs ``data`` do not give it; none when the
    outputs rank no play."""
    ranks = collect_ranks(data)
    if not ranks:
        return []
    names = {**play_names, **{p: p for p in ranks}}
    problems = []
    for sentence in _SENTENCE.split(text):
        mentions = _mentions(sentence, names)
        if not mentions or _NO_CLAIM.search(sentence):
            continue
        for m in RANK_CLAIM.finditer(sentence):
            play = min(mentions, key=lambda x: min(abs(x[0] - m.end()), abs(m.start() - x[1])))[2]
            rank = _claimed(m)
            if rank not in ranks.get(play, set()):
                given = ", ".join(f"#{r}" for r in sorted(ranks.get(play, ()))) or "no rank"
                problems.append(f"{m[0].strip()} (the tool outputs give {play} {given})")
    return problems
