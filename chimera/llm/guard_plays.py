"""Claims about a play's state, who stopped it and what the weekly review advises it (manual §4.7, §6.2).

Why: a model reading ``weekly_review`` / ``paused_or_reverted`` (or a report's JSON) may say a
reverted play "is still running", that Alice paused what Bob did, or that the review says "continue"
where it says "stop". A person acts on those words, so they must be what the tool outputs say.

What is checked, per sentence, of a play the sentence names (its id, label, or the first words of its
label: "the price test"), or of the play named just before when it says "it" / "the play":
- a state: paused, on hold, resumed, reverted (rolled back), running / live / active / executing,
  held back, stopped: said now ("is paused", "remains held back") it must be the play's state now,
  said as done ("was reverted", "has been resumed") it must have happened; negated ("is no longer
  held back", "isn't paused") it must not be so;
- who: "Alice paused it", "reverted by carol": the person the pause, revert or resume records;
- the review's advice ("the review says continue X", "rule 1: stop X and revert it"): the
  recommendation (and, for pause / revert, the action) the review gives that play.
A sentence naming no play, a rule or a condition ("paused plays are held back", "if we pause it",
"you could revert it") and a question claim nothing. A claim no output speaks to is unsupported.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PlayState", "collect_states", "play_aliases", "play_state_problems", "unknown_play_problems"]

_RUNNING = frozenset({"executed", "executing", "applied", "live"})
_STOP_KINDS = frozenset({"paused", "reverted"})
_RECOMMENDATIONS = frozenset({"continue", "stop", "keep_watching"})


@dataclasses.dataclass
class PlayState:
    """What the tool outputs say of one play: its state now, what happened to it, who did it, its holds
    (True: a hold in force) and the review's advice ((recommendation, action) per reviewed run)."""

    now: set[str] = dataclasses.field(default_factory=set)  # paused / reverted / running / other
    ever: set[str] = dataclasses.field(default_factory=set)  # paused / reverted / resumed
    ran: bool = False  # an evidence record of an executed run: it ran, its state now unsaid
    who: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # paused/reverted/resumed -> people
    holds: list[bool] = dataclasses.field(default_factory=list)
    advice: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def add_who(self, verb: str, who: Any) -> None:
        if isinstance(who, str) and who.strip():
            self.who.setdefault(verb, set()).add(who.strip().lower())


def _play(d: Mapping[str, Any]) -> str | None:
    play = d.get("play_id") if isinstance(d.get("play_id"), str) else d.get("play")
    return play if isinstance(play, str) and play.strip() else None


def _add(d: Mapping[str, Any], states: dict[str, PlayState]) -> None:
    play = _play(d)
    if play is None:
        return
    s = states.setdefault(play, PlayState())
    kind, status = d.get("kind"), d.get("status")
    if d.get("recommendation") in _RECOMMENDATIONS:
        s.advice.add((str(d["recommendation"]), str(d.get("action") or "")))
    if kind in _STOP_KINDS and "in_force" in d:  # a pause or revert as holds.Stop gives it
        s.ever.add(str(kind))
        s.add_who(str(kind), d.get("who"))
        s.holds.append(d.get("in_force") is True)
        resumed = d.get("resumed")
        if isinstance(resumed, Mapping):
            s.ever.add("resumed")
            s.add_who("resumed", resumed.get("who"))
        if kind == "reverted" or d.get("in_force") is True:
            s.now.add(str(kind))
        elif resumed:
            s.now.add("running")
    elif kind in _STOP_KINDS and ("why_held" in d or "reason" in d):  # a cycle's held-back play
        s.ever.add(str(kind))
        s.now.add(str(kind))
        s.holds.append(True)
    if isinstance(status, str) and "verdict" not in d and "value" not in d:
        word = status.strip().lower()
        state = "running" if word in _RUNNING else word if word in _STOP_KINDS else "other"
        s.now.add(state)
        if state in _STOP_KINDS:
            s.ever.add(state)
    if d.get("executed_on") and "verdict" in d:
        s.ran = True


def collect_states(data: Iterable[Any]) -> dict[str, PlayState]:
    """play id -> its state, from plain JSON-like tool outputs (review entries, stops, play rows)."""
    states: dict[str, PlayState] = {}
    stack = list(data)
    while stack:
        obj = stack.pop()
        if isinstance(obj, Mapping):
            _add(obj, states)
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
    return states


_NAME_STOP = frozenset("on of the a an to for in at with above below and or by from".split())


def _norm(text: str) -> str:
    """Lower case, ``_`` and ``-`` as spaces (same length: positions hold)."""
    return re.sub(r"[_-]", " ", text.lower())


def play_aliases(play_names: Mapping[str, str]) -> dict[str, str]:
    """Every way a sentence may name a play: its id and label as the outputs give them, and the first
    two or more words of a label ("price test" of "Price test on best sellers") when no other play
    shares them."""
    names = {_norm(n).strip(): p for n, p in play_names.items() if n.strip()}
    prefixes: dict[str, set[str]] = {}
    for name, play in list(names.items()):
        words = name.split()
        for n in range(2, len(words)):
            if words[n - 1] not in _NAME_STOP:
                prefixes.setdefault(" ".join(words[:n]), set()).add(play)
    for prefix, plays in prefixes.items():
        if len(plays) == 1 and prefix not in names:
            names[prefix] = next(iter(plays))
    return names


def _mentions(sentence: str, aliases: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, play) of each play the sentence names, longest names first, no overlaps."""
    text, found = _norm(sentence), []
    for name in sorted(aliases, key=len, reverse=True):
        for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            if not any(s < m.end() and m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), aliases[name]))
    return sorted(found)


_SENTENCE = re.compile(r"(?<=[.!?])\s+|[;\n]+")
_CLAUSE_BREAK = re.compile(r"[,:()—]|\b(?:and|but|while|whereas|so|then)\b", re.IGNORECASE)
_JOIN = re.compile(r"^[\s,&/]*(?:(?:and|or|as\s+well\s+as)\s+)?(?:the\s+)?$", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:it|its|this\s+(?:play|one|test)|that\s+(?:play|one|test)|the\s+(?:play|test|run))\b",
                      re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"\b(?:if|once|when|whenever|unless|whether|should|would|could|can|may|might|must|"
                           r"will|shall|want|wants|consider|suggest|propose|please|let's|let\s+us|how|why)\b"
                           r"|'ll\b|'d\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no\s+longer|no\s+more)\b|n't\b", re.IGNORECASE)

_COPULA = (r"(?:(?:is|are|was|were)(?:n't)?|(?:has|have|had)(?:n't)?(?:\s+(?:not|never|already|just|now|since))*"
           r"\s+been|'s|got|gets|remains?|remained|stays?|stayed|being)")
_ADVERBS = (r"(?:(?:still|now|currently|already|just|also|effectively|officially|successfully|temporarily|indeed|"
            r"not|never|no\s+longer|no\s+more|n't)\s+)*")
STATE_CLAIM = re.compile(
    rf"(?:\b(?P<cop>{_COPULA})\s+)?(?P<adv>{_ADVERBS})"
    r"\b(?P<state>paused|on\s+hold|un-?paused|resumed|reverted|rolled\s+back|undone|running|live|active|executing"
    r"|in\s+effect|held\s+back|stopped|halted)\b"
    r"(?P<alt>(?:\s*(?:,|or|/|and)\s*(?:paused|reverted|stopped|resumed|held\s+back))*)",
    re.IGNORECASE)
_STATE_OF = {"on hold": "paused", "unpaused": "resumed", "un-paused": "resumed", "rolled back": "reverted",
             "undone": "reverted", "live": "running", "active": "running", "executing": "running",
             "in effect": "running", "halted": "stopped"}
_PAST = re.compile(r"^(?:was|were|had|has|have|got)", re.IGNORECASE)
_NOW_WORDS = re.compile(r"\b(?:still|now|currently|no\s+longer)\b", re.IGNORECASE)


def _state_word(word: str) -> str:
    key = re.sub(r"\s+", " ", word.lower())
    return _STATE_OF.get(key, key)


def _holds(s: PlayState, state: str, now: bool) -> bool | None:
    """Whether the play is (now) or was (done) in ``state``; None when the outputs do not say."""
    if state == "held back":
        return any(s.holds) if s.holds else (False if s.now else None)
    if state == "resumed":
        return "resumed" in s.ever if (s.ever or s.now) else None
    if state == "running":
        if not s.now:
            return True if s.ran else None
        return "running" in s.now and not (s.now & _STOP_KINDS)
    states = {"paused", "reverted"} if state == "stopped" else {state}
    if not (s.now or s.ever):
        return None
    if now and state != "reverted":  # a reverted run stays reverted, a resumed one too
        return bool(s.now & states)
    return bool((s.now | s.ever) & states)


def _subjects(mentions: list[tuple[int, int, str]], sentence: str, at: int, end: int,
              earlier: list[str]) -> list[str]:
    """The plays a claim at ``sentence[at:end]`` is said of: the nearest named before it in its clause
    (with those joined to it by "and" / "or"), else one named right after it ("held back: X"), else the
    play of the sentence before when it says "it" / "the play"."""
    before = [m for m in mentions if m[1] <= at]
    if before and not _CLAUSE_BREAK.search(sentence[before[-1][1]:at].replace(" and ", " ")):
        chosen = [before[-1]]
        for m in reversed(before[:-1]):
            if not _JOIN.match(sentence[m[1]:chosen[-1][0]]):
                break
            chosen.append(m)
        return [m[2] for m in chosen]
    after = [m for m in mentions if m[0] >= end]
    if after and re.fullmatch(r"[\s:,*`(]*(?:for|of|on|the|\s)*", sentence[end:after[0][0]], re.IGNORECASE):
        return [after[0][2]]
    if before:
        return [before[-1][2]]
    clause = _CLAUSE_BREAK.split(sentence[:at])[-1]
    if _PRONOUN.search(clause) or not clause.strip():
        return earlier
    return []


def _state_problems(sentence: str, mentions: list[tuple[int, int, str]], earlier: list[str],
                    states: Mapping[str, PlayState]) -> list[str]:
    problems = []
    for m in STATE_CLAIM.finditer(sentence):
        if not (m["cop"] or _NOW_WORDS.search(m["adv"] or "")):
            continue  # "the paused play", "bob paused it": no state said of a play
        if _HYPOTHETICAL.search(sentence[: m.start()]):
            continue
        plays = _subjects(mentions, sentence, m.start(), m.end(), earlier)
        if not plays:
            continue
        words = [m["state"], *re.findall(r"paused|reverted|stopped|resumed|held\s+back", m["alt"] or "", re.I)]
        wanted = {_state_word(w) for w in words}
        cop, adv = (m["cop"] or "").lower(), (m["adv"] or "").lower()
        negated = bool(_NEGATION.search(cop) or _NEGATION.search(adv))
        now = not _PAST.match(cop) or bool(_NOW_WORDS.search(adv))
        if not now and wanted == {"running"}:
            continue  # "was live" says it ran once: the decision check reads that
        for play in plays:
            s = states.get(play, PlayState())
            said = [_holds(s, w, now) for w in wanted]
            if negated and any(h is True for h in said):
                problems.append(f"{play} {m[0].strip()} (the tool outputs say {_told(s)})")
            elif not negated and not any(said):
                known = any(h is not None for h in said)
                problems.append(f"{play} {m[0].strip()} " + (f"(the tool outputs say {_told(s)})" if known
                                                             else "(no such state of it in the tool outputs)"))
    return problems


def _told(s: PlayState) -> str:
    """The play's state as the outputs give it, for the note."""
    parts = sorted(s.now - {"other"}) or (["not paused or reverted"] if s.now else ["nothing of its state"])
    if s.holds:
        parts.append("held back" if any(s.holds) else "not held back")
    for verb, people in sorted(s.who.items()):
        parts.append(f"{verb} by {'/'.join(sorted(people))}")
    return ", ".join(parts)


_WHO_BY = re.compile(r"\b(?P<verb>paused|reverted|resumed|un-?paused|rolled\s+back|stopped)\s+by\s+"
                     r"(?P<who>[A-Za-z][\w.@'-]*)", re.IGNORECASE)
_WHO_SUBJECT = re.compile(r"(?P<who>\b[A-Za-z][\w.@'-]*)\s+(?:(?:has|had|just|already|then|also|later)\s+)*"
                          r"(?P<verb>paused|reverted|resumed|un-?paused|rolled\s+back)\b", re.IGNORECASE)
# words that are not a person ("was paused", "it reverted", "paused by a person", "by hand")
_NOT_A_PERSON = frozenset(
    "i we you they he she it its someone somebody anyone anybody nobody everyone person people a an the who which "
    "that this these those was were is are be been being has have had and or not never also then just already later "
    "since once if when play plays run runs hand policy review rule team owner admin system chimera model user "
    "approver manager them us me him her one both each all only automatically what whoever their our your my "
    "cycle default itself remain remains remained stay stays stayed still now currently get gets got temporarily "
    "effectively officially successfully indeed no longer more been we've they've i've until unless by to for from "
    "of in on at with after before while because as than so but yet where whether".split())
_WHO_VERB = {"paused": "paused", "reverted": "reverted", "rolled back": "reverted", "resumed": "resumed",
             "unpaused": "resumed", "un-paused": "resumed", "stopped": "stopped"}


def _who_problems(sentence: str, mentions: list[tuple[int, int, str]], earlier: list[str],
                  states: Mapping[str, PlayState], play_words: set[str]) -> list[str]:
    problems = []
    for m in [*_WHO_BY.finditer(sentence), *_WHO_SUBJECT.finditer(sentence)]:
        who = m["who"].strip("'.").lower()
        if who.removesuffix("'s") in _NOT_A_PERSON or who in play_words or _HYPOTHETICAL.search(
                sentence[: m.start()]) or _NEGATION.search(sentence[max(0, m.start() - 12): m.start()]):
            continue
        people = {p for s in states.values() for names in s.who.values() for p in names}
        if "by" not in m[0].lower() and not (m["who"][0].isupper() or who in people):
            continue  # "alice paused" as a name is capitalised, or one the outputs give
        verb = _WHO_VERB[re.sub(r"\s+", " ", m["verb"].lower())]
        after = [p for s, _e, p in mentions if s >= m.end() and not _CLAUSE_BREAK.search(sentence[m.end():s])]
        plays = after[:1] or _subjects(mentions, sentence, m.start(), m.end(), earlier) or list(states)
        verbs = {"paused", "reverted"} if verb == "stopped" else {verb}
        known = [p for p in plays if states.get(p) and states[p].who]
        if any(who in states[p].who.get(v, set()) for p in plays if p in states for v in verbs):
            continue
        whose = "; ".join(f"{p}: {_told(states[p])}" for p in known) or "nobody named"
        problems.append(f"{m[0].strip()} (the tool outputs say {whose})")
    return problems


_OWN = re.compile(r"\b(?:I|we|my|I'd|we'd)\s+(?:would\s+|also\s+|still\s+|strongly\s+)?$", re.IGNORECASE)
_ATTRIBUTED = re.compile(r"\b(?:review\w*|recommend\w*|advi[cs]\w*|rule\s+\d)\b", re.IGNORECASE)
_ADVICE = re.compile(
    r"\b(?:(?P<keep_watching>keep\s+(?:on\s+)?watching|keep\s+an\s+eye\s+on|continue\s+to\s+(?:watch|monitor)"
    r"|monitor(?:ing)?|wait\s+and\s+see|watch(?:ing)?)"
    r"|(?P<continue>continu(?:e|ing)|keep\s+(?:it\s+)?(?:running|going)|carry\s+on)"
    r"|(?P<stop>stop(?:ping)?|halt(?:ing)?|revert(?:ing)?|pause|pausing|roll(?:ing)?\s+back))\b",
    re.IGNORECASE)


# "nothing in the review says stop", "no one recommends reverting": a negated subject claims no advice
_NO_SUBJECT = re.compile(r"\b(?:nothing|nobody|no\s+one|none|neither|nor)\b", re.IGNORECASE)


def _advice_problems(sentence: str, mentions: list[tuple[int, int, str]], earlier: list[str],
                     states: Mapping[str, PlayState]) -> list[str]:
    """"The review says continue X" when it says stop X: the review's words of a play must be its own."""
    if not any(not _OWN.search(sentence[: a.start()]) for a in _ATTRIBUTED.finditer(sentence)):
        return []  # "I recommend ..." is the model's own advice, not the review's
    problems = []
    for m in _ADVICE.finditer(sentence):
        before = sentence[: m.start()]
        negated = _NEGATION.search(" ".join(before.split()[-3:])) or _NO_SUBJECT.search(_CLAUSE_BREAK.split(before)[-1])
        if _HYPOTHETICAL.search(before) or negated:
            continue
        said = next(k for k in ("keep_watching", "continue", "stop") if m[k])
        word = m[0].lower()
        action = "revert" if word.startswith(("revert", "roll")) else "pause" if word.startswith("paus") else ""
        after = [p for s, _e, p in mentions if s >= m.end() and not _CLAUSE_BREAK.search(sentence[m.end():s])]
        plays = after[:1] or _subjects(mentions, sentence, m.start(), m.end(), earlier)
        for play in plays:
            advice = states[play].advice if play in states else set()
            if any(rec == said and (not action or act in (action, "")) for rec, act in advice):
                continue
            told = ", ".join(sorted(rec.replace("_", " ") + (f" ({act})" if act else "") for rec, act in advice))
            problems.append(f"the review: {m[0]} {play} " + (f"(the review says {told})" if told
                                                              else "(no review of it in the tool outputs)"))
    return problems


# a play named by an id ("the loyalty_points_boost play", "play `vip_sms`"): snake_case beside a play noun
_ID = r"[`'\"*]*(?P<{}>[a-z][a-z0-9]*(?:_[a-z0-9]+)+)[`'\"*]*"
_PLAY_ID = re.compile(_ID.format("before") + r"\s+(?:play|test|experiment|campaign|promotion|promo)s?\b"
                      + r"|\b(?:play|suggestion|recommendation)s?\s*(?:id\s*)?[:(]?\s*" + _ID.format("after"),
                      re.IGNORECASE)


def _strings(obj: Any, found: set[str]) -> set[str]:
    """Every key and text value of the outputs, lower case (where an id may be named)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            found.update(str(k).lower() for k in item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            stack.extend(item)
        elif isinstance(item, str):
            found.add(item.lower())
    return found


def unknown_play_problems(text: str, data: list[Any], play_names: Mapping[str, str]) -> list[str]:
    """Plays ``text`` names by an id no tool output gives (a model inventing ``loyalty_points_boost``):
    a person would look for, or ask to run, a play that does not exist."""
    known = set(play_names) | {p.lower() for p in play_names.values()}
    written = " ".join(_strings(data, set()))
    problems = []
    for m in _PLAY_ID.finditer(text):
        play = (m["before"] or m["after"]).lower()
        if play not in known and not re.search(rf"(?<![\w-]){re.escape(play)}(?![\w-])", written):
            problems.append(f"{play} (no such play in the tool outputs)")
    return problems


def play_state_problems(text: str, data: list[Any], play_names: Mapping[str, str]) -> list[str]:
    """Claims of ``text`` about a play's state, who paused / reverted / resumed it and the review's advice
    for it that the plain JSON-like tool outputs ``data`` contradict or do not support, and plays it
    names by an id the outputs never give."""
    states = collect_states(data)
    aliases = play_aliases({**play_names, **{p: p for p in states}})
    play_words = {w for name in aliases for w in name.split()}
    problems: list[str] = unknown_play_problems(text, data, play_names)
    earlier: list[str] = []
    for sentence in _SENTENCE.split(text):
        if not sentence.strip():
            continue
        mentions = _mentions(sentence, aliases)
        if not sentence.rstrip().endswith("?"):
            problems += _state_problems(sentence, mentions, earlier, states)
            problems += _who_problems(sentence, mentions, earlier, states, play_words)
            problems += _advice_problems(sentence, mentions, earlier, states)
        if mentions:
            earlier = [mentions[-1][2]]
    return problems
