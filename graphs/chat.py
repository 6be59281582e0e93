"""Chat routing: a message -> an intent and a commander -> a reply built from the tools.

No Chainlit here: app.py only renders what this returns. Offline (no model), every answer is
templated from deterministic tool outputs and says it is offline; with a model, the commander's
model writes the prose from the same facts and the truth guard rejects any figure not in them.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from sqlmodel import select

from agents.prompting import render
from agents.tools import Toolbox, sop_fact, week_over_week
from chimera import settings
from chimera.clients import ClientContext
from chimera.config.loader import load_config_set, suggest
from chimera.config.models import Commander as CommanderSpec
from chimera.config.models import formula_metrics
from chimera.errors import ChimeraError
from chimera.evidence.record import shown_values
from chimera.llm.provider import backend_info
from chimera.plays.models import ScaleOutcome
from chimera.plays.pause import PauseOutcome, ResumeOutcome
from graphs.ui_models import (
    ChatReply,
    ProfileInfo,
    as_of_line,
    fmt_value,
    help_markdown,
    kpi_list,
    kpi_table,
    play_actions,
    review_markdown,
    safe_markdown,
    sop_citation,
    stops_markdown,
    trigger_kpi_ids,
    trigger_text,
)

if TYPE_CHECKING:
    from chimera.rhythms import SourceFreshness

log = logging.getLogger(__name__)

COMMAND_CENTER = "Command Center"
IntentKind = Literal["cycle", "daily", "kpis", "why", "evidence", "review", "stops", "chart", "question", "help",
                     "unknown_kpi"]
MAX_CHARS = 2_000  # what of a message is read: any real question fits; a pasted file costs no more
ECHO_CHARS = 160  # what of it is quoted back in a reply heading

# keyword -> commander, checked in order (first hit wins); whole words, plural-tolerant
ROUTES: list[tuple[str, tuple[str, ...]]] = [
    ("evidence_commander_ai", ("kpi", "evidence", "roi", "threshold", "verdict")),
    ("infra_commander_ai", ("ingest", "data", "freshness", "stale", "export", "upload", "pipeline")),
    ("commerce_commander_ai", ("price", "pricing", "bundle", "revenue", "discount", "shipping", "margin")),
    ("growth_commander_ai", ("traffic", "email", "fiverr", "campaign", "session", "retention", "winback")),
    ("product_commander_ai", ("catalog", "product", "refund", "checkout", "review")),
]
DEFAULT_COMMANDER = "evidence_commander_ai"


# a person's everyday words for a KPI -> KPI ids (kept when the client has them); ids and labels
# (with or without their parenthetical) are names already
KPI_SYNONYMS: dict[str, tuple[str, ...]] = {
    "revenue": ("net_revenue",), "sales": ("net_sales",), "conversion": ("conversion_rate",),
    "order value": ("aov",), "basket size": ("aov",), "refund": ("refund_rate_orders", "refund_rate_amount"),
    "traffic": ("sessions",), "visits": ("sessions",), "cancellation": ("cancellation_rate",),
    "discount": ("discount_rate",), "repeat purchase": ("repeat_purchase_rate",),
    "failed payment": ("failed_payment_rate",), "payment fee": ("stripe_fee_share",),
}
# words of a request for every KPI's status ("show me the kpis", "how are my KPIs doing?"), singular
KPI_WORDS = frozenset({"kpi", "metric"})
STATUS_FILLER = frozenset(
    "a about all and are at can check current currently display do doing give going health how i is key list "
    "latest like look looking me my now of on our overview performance indicator please report see show state "
    "status summary tell the this today us view week weekly what with you".split())
# words intents hinge on, singular: a near miss of one of these ("staus", "evidnce") is read as it
INTENT_WORDS = frozenset(
    "show list status evidence cycle weekly daily today check suggested recommended chart plot graph "
    "display kpi metric doing overview summary review continue pause paused revert reverted resume".split())
# the weekly review of plays (continue / stop / keep watching) and the pauses and reverts, read on
# the normalised text (singular words, apostrophes dropped)
REVIEW = re.compile(r"\bweekly review\b|\breview (?:of )?(?:the |my |our |all )?play|\bcontinue or stop\b"
                    r"|\bstop or continue\b|\bkeep watching\b|\bshould (?:we|i) (?:continue|stop|keep|pause|revert)\b")
STOPS = re.compile(r"\b(?:paused|pause|reverted|revert|resumed|resume|undone|on hold)\b")
METRIC_NOUNS = ("rate", "margin", "ratio", "share", "score", "value", "percentage", "churn", "cost", "total")


class Intent(BaseModel):
    kind: IntentKind
    play_id: str | None = None
    kpi_id: str | None = None
    kpi_ids: list[str] = []
    """Every KPI the message names (``kpi_id`` is the first, the one charted)."""
    asked: str | None = None
    """A play or KPI the message names that the client does not have (said so, not guessed)."""


def _words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9_]+", text.lower())
    return set(words) | {w[:-1] for w in words if w.endswith("s")} | {w[:-2] for w in words if w.endswith("es")}


def clip(text: str) -> str:
    """The part of a message that is read: a 540 kB paste costs what a question does."""
    return str(text)[:MAX_CHARS]


def _singular(word: str) -> str:
    """``kpis`` -> ``kpi``, ``refunds`` -> ``refund``; leaves ``status``, ``this``, ``less``."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")) and word != "this" \
        else word


def _tokens(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped (``what's`` -> ``whats``), ``_`` as a space, singular:
    the one form intents and KPI names are compared in."""
    text = re.sub(r"['’‘`]", "", text.lower())
    return [_singular(w) for w in re.findall(r"[a-z0-9]+", text)]


def normalize(text: str, vocabulary: frozenset[str] = frozenset()) -> str:
    """``_tokens`` joined, each word of 5+ letters that is a near miss of a known word (an intent
    word or a KPI name's word) read as that word: cheap typo tolerance without a keyword list."""
    known = INTENT_WORDS | vocabulary
    return " ".join(w if w in known or len(w) < 5 else next(iter(difflib.get_close_matches(w, known, 1, 0.82)), w)
                    for w in _tokens(clip(text)))


def base_configs():
    return load_config_set(settings.BASE_CONFIG_DIR)


def profiles() -> list[ProfileInfo]:
    """The Command Center, then one profile per commander of agents.yml (label, role, values)."""
    out = [ProfileInfo(name=COMMAND_CENTER, commander=None, icon="🧭", markdown_description=(
        "**Command Center** — routes each question to the right commander; runs the weekly cycle and "
        "offers every suggested play for your decision."))]
    for c in base_configs().agents.commanders:
        values = "\n".join(f"- {v}" for v in c.values)
        out.append(ProfileInfo(name=c.label, commander=c.id, icon=c.icon,
                               markdown_description=f"**{c.label}** (`{c.id}`)\n\n{c.role}\n\n**Values**\n{values}"))
    return out


def profile_icon(profile: ProfileInfo) -> str:
    """The profile's picture (served from public/icons/); Chainlit shows the profile's description,
    with the model backend, on the welcome screen only when the profile has an icon."""
    return f"/public/icons/{profile.commander or 'command-center'}.svg"


def route(text: str, profile: str | None) -> str:
    """The commander to answer: the profile's own, else evidence for the weekly review and pauses or
    reverts, else by keywords (KPI/evidence first), else evidence."""
    for p in profiles():
        if p.commander and profile in (p.name, p.commander):
            return p.commander
    norm = normalize(text)
    if REVIEW.search(norm) or STOPS.search(norm):  # judged on evidence: not the product commander's "review"
        return DEFAULT_COMMANDER
    words = _words(clip(text))
    for commander, keys in ROUTES:
        if words & set(keys):
            return commander
    return DEFAULT_COMMANDER


def _kpi_names(kpis: list[Any]) -> dict[str, list[str]]:
    """Normalised name -> KPI ids, for every way a person names a KPI: its id, its label with and
    without the parenthetical, and the everyday synonyms of ``KPI_SYNONYMS`` the client has."""
    names: dict[str, list[str]] = {}
    ids = {k.id for k in kpis}
    pairs = [(n, k.id) for k in kpis for n in (k.id, k.label, re.sub(r"\(.*?\)", " ", k.label))]
    pairs += [(alias, kpi) for alias, targets in KPI_SYNONYMS.items() for kpi in targets if kpi in ids]
    for name, kpi in pairs:
        key = " ".join(_tokens(name))
        if key and kpi not in names.setdefault(key, []):
            names[key].append(kpi)
    return names


def _find_kpis(norm: str, kpis: list[Any]) -> list[str]:
    """The KPIs a normalised message names, in the order it names them; a longer name wins over
    a shorter one inside it ("refund rate orders" is one KPI, "refunds" both refund rates)."""
    text, found = f" {norm} ", []
    for name, ids in sorted(_kpi_names(kpis).items(), key=lambda p: -len(p[0])):
        while (at := text.find(f" {name} ")) >= 0:
            found += [(at, kpi) for kpi in ids]
            text = text[:at] + " |" * (name.count(" ") + 1) + " " + text[at + len(name) + 2:]
    return list(dict.fromkeys(kpi for _at, kpi in sorted(found)))


_LABEL_HEAD = re.compile(r"\s+(?:on|for|to|with|in|of|at|by)\s+.*$")


def _play_names(p: Any) -> list[str]:
    """How a person names a play: its id (with or without underscores), its label, or the label's
    head ("price test" for "Price test on best sellers"); a head shorter than 5 letters names none."""
    label = re.sub(r"\s*\(.*?\)", "", p.label.lower()).strip()
    head = _LABEL_HEAD.sub("", label)
    return [n for n in (p.id, p.id.replace("_", " "), p.label.lower(), label, head) if len(n) >= 5]


def _find_play(text: str, plays: list[Any]) -> str | None:
    low = " ".join(re.sub(r"[^\w\s-]", " ", text.lower()).split())
    for p in sorted(plays, key=lambda p: -len(p.id)):
        if any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", low) for n in _play_names(p)):
            return p.id
    return None


_WHY_NAME = re.compile(r"\bwhy\b\s+(?:(?:was|is|were|did|has|have|got)\s+)?(?P<name>.+?)\s+(?:(?:been|get|got)\s+)?"
                       r"(?:suggest|recommend)")
_DEICTIC = frozenset("a an any it my next one our play that the these this those top first last latest you we".split())


def _asked_play(low: str) -> str | None:
    """The play a 'why was X suggested?' names, when it names one ("this play" names none)."""
    m = _WHY_NAME.search(low)
    words = [w.strip("'\"`?*") for w in m.group("name").split()] if m else []
    name = " ".join(w for w in words if w and w not in _DEICTIC)
    return name if name and len(name.split()) <= 5 else None


_ASKED_KPI = re.compile(
    r"^(?:show|chart|plot|graph|display)(?: me)?(?: the| our| my)? (?P<shown>.+)$"
    r"|^(?:what|whats|how)(?: is| are| was)?(?: the| our| my| a)? (?P<named>.+ (?:" + "|".join(METRIC_NOUNS) + r"))$")


def _asked_kpi(norm: str) -> str | None:
    """The KPI-like name asked for ("show churn rate", "what is the profit margin") when no KPI of
    the client is named: it must be told that there is no such KPI, not shown others."""
    m = _ASKED_KPI.match(re.sub(r"\b(please|now|today|this week)\b", " ", norm).strip())
    name = " ".join((m.group("shown") or m.group("named") or "").split()) if m else ""
    return name if name and len(name.split()) <= 5 and "play" not in name.split() else None


def _asks_kpi_status(norm: str) -> bool:
    """True for "show me the kpis", "how are my KPIs doing?", "what's the status of my kpis?":
    a KPI word and nothing but status words around it."""
    words = set(norm.split())
    return bool(words & KPI_WORDS) and words <= STATUS_FILLER | KPI_WORDS


def _vocabulary(configs: Any) -> frozenset[str]:
    """The words of every KPI name (typo tolerance for "show revenu")."""
    return frozenset(w for name in _kpi_names(configs.kpis.kpis) for w in name.split())


def parse_intent(text: str, configs: Any = None) -> Intent:
    """What the person asked for; anything not recognized is a free question for a commander."""
    configs = configs or base_configs()
    low = " ".join(unicodedata.normalize("NFKC", clip(text)).lower().split())  # full-width `ＫＰＩ` is `kpi`
    norm = normalize(low, _vocabulary(configs))
    # a question in another script (Cyrillic, CJK...) has no a-z words, yet is a question for a commander
    if not re.search(r"[^\W_]", low) or re.fullmatch(r"(help|what can (you|i) (do|ask)( here)?|hello|hi)", norm):
        return Intent(kind="help")
    play_id = _find_play(low, configs.plays.plays)
    if re.search(r"\b(run|start|resume)\b.*\bcycle\b|^weekly cycle", norm):
        return Intent(kind="cycle")
    if re.search(r"\btodays? check|\bdaily\b", norm):
        return Intent(kind="daily")
    if REVIEW.search(norm):
        return Intent(kind="review", play_id=play_id)
    if STOPS.search(norm):
        return Intent(kind="stops", play_id=play_id)
    if re.search(r"\bwhy\b.*\b(suggest|recommend|play)", norm):
        return Intent(kind="why", play_id=play_id, asked=None if play_id else _asked_play(low))
    if re.search(r"\b(show|list)\b.*\bevidence\b|^evidence\b", norm):
        return Intent(kind="evidence", play_id=play_id)
    if re.search(r"\bkpi\b.*\bstatus\b|^kpi\b|\bstatus of (the )?kpi\b", norm) or _asks_kpi_status(norm):
        return Intent(kind="kpis")
    kpis = _find_kpis(norm, configs.kpis.kpis)
    if kpis and re.match(r"(show|chart|plot|graph|display)\b", norm):
        return Intent(kind="chart", kpi_id=kpis[0], kpi_ids=kpis)
    asked = None if kpis or play_id else _asked_kpi(norm)
    if asked:
        return Intent(kind="unknown_kpi", asked=asked)
    return Intent(kind="question", play_id=play_id, kpi_id=kpis[0] if kpis else None, kpi_ids=kpis)


def _spec(client: ClientContext, commander_id: str) -> CommanderSpec:
    return next(c for c in client.configs.agents.commanders if c.id == commander_id)


def _offline_prefix(offline: bool, label: str) -> str:
    """Say an answer came from the tools alone, and why: no model configured (the backend's label
    is `offline (no model configured)`), or a configured model's answer was not used."""
    if not offline:
        return ""
    if label.startswith("offline (") and label.endswith(")"):
        return f"_Offline ({label[len('offline ('):-1]}): answered from the tools._\n\n"
    return f"_Offline: answered from the tools; the model ({label}) was not used for this answer._\n\n"


def _kpis(tb: Toolbox) -> tuple[str, list[Any]]:
    kpis = tb.kpi_statuses()
    return (f"**KPI status as of {tb.as_of.isoformat()} for {tb.client.name}**\n\n{_noted(tb)}"
            f"{kpi_table(kpis, _cur(tb))}", [kpis])


def _cur(tb: Toolbox) -> str:
    """The client's currency: its money reads in that currency's smallest unit (whole yen)."""
    return tb.client.config.currency


def _noted(tb: Toolbox) -> str:
    """The as-of note as a paragraph before a KPI table, or nothing when the newest day is judged."""
    return as_of_line(tb.as_of_note) + "\n\n" if tb.as_of_note else ""


def _daily(client: ClientContext) -> tuple[str, list[Any]]:
    from chimera.rhythms import daily_check

    r = daily_check(client)
    verdict = "all clear ✅" if r.ok else "attention ⚠️"
    lines = [f"**Today's checks for {client.name} ({r.today.isoformat()})**: {verdict}",
             *(["", as_of_line(r.as_of_note)] if r.as_of_note else []),
             "", "| source | last day | days behind | fresh |", "|---|---|---|---|"]
    lines += [f"| {f.source} | {_last_day(f)} | {f.days_behind if f.days_behind is not None else 'n/a'} "
              f"| {'yes' if f.ok else 'NO'} |" for f in r.freshness]
    lines += [f"- 🔴 {k['id']}: {k.get('note', '')}" for k in r.critical]
    lines += [f"- re-queued stuck job #{j['id']} {j['type']}" for j in r.stuck_jobs_requeued]
    lines += [f"- failed ingest #{f['id']} {f['source']} {f.get('file') or ''}".rstrip()
              + (f": {f['error']}" if f.get("error") else "") for f in r.failed_ingests]
    lines += [f"- failed job #{j['id']} {j['type']} (step {j['step']} of {j['play']}, play run "
              f"{j['play_run_id']}): {j['error']}; {j['fix']}" for j in r.failed_play_jobs]
    return "\n".join(lines), [r.model_dump(mode="json")]


def _last_day(f: SourceFreshness) -> str:
    """A source's newest day as ``chimera daily`` shows it: a quiet gig's with the day its export came
    (``current_on``), which days behind counts from; beside a bare last order it read as a contradiction."""
    if f.last_day is None:
        return "never"
    return f"{f.last_day} (quiet to {f.current_on})" if f.current_on else str(f.last_day)


def _why(tb: Toolbox, play_id: str | None, asked: str | None = None) -> tuple[str, list[Any], list[str]]:
    if play_id is None and asked:
        return _unknown_play(tb.client, asked), [], []
    if play_id is None:
        from graphs.service import pending_decisions

        pending = pending_decisions(tb.client.name)
        if not pending:
            return "No play is waiting for a decision. Run the weekly cycle first.", [], []
        play_id = pending[0].play_id
    info = tb.explain_play(play_id)
    latest = info.get("latest") or {}
    if not latest:
        return _not_suggested(tb, info)
    note = cycle_notes([info["run_id"]]).get(info["run_id"], "") if info.get("run_id") else ""
    lines = [f"**Why `{play_id}` ({info['label']}) was suggested**", "", info.get("description", "").strip(), "",
             *([as_of_line(note), ""] if note else [])]
    lines += [f"- {t}" for t in latest.get("trigger", [])]
    for kpi, v in (latest.get("kpi_values") or {}).items():
        lines.append(f"- {kpi}: {v.get('status')} at {fmt_value(v.get('value'), v.get('unit'), _cur(tb))} "
                     f"(target {fmt_value(v.get('target'), v.get('unit'), _cur(tb))})")
    if latest.get("why_rank"):
        lines.append(f"- rank: {latest['why_rank']}")
    lines.append(_play_refs(info))
    return "\n".join(lines), [info], list(info["sops"])


def _play_refs(info: dict[str, Any]) -> str:
    return f"- evidence KPIs: {', '.join(info['evidence_kpis'])}; SOPs: {', '.join(info['sops'])}"


def _unknown_play(client: ClientContext, asked: str) -> str:
    """A 'why was X suggested?' about a play the library does not have: said, with a near name."""
    ids = [p.id for p in client.configs.plays.plays]
    near = suggest(asked.replace(" ", "_").replace("-", "_"), ids)
    return f"There is no play `{asked}` in the play library{near}. Its plays: {', '.join(f'`{i}`' for i in ids)}."


def _not_suggested(tb: Toolbox, info: dict[str, Any]) -> tuple[str, list[Any], list[str]]:
    """A play no cycle has suggested: say so, and what would make it fire, with its trigger KPIs
    now (a run logged by hand is no suggestion)."""
    units = {k.id: k.unit for k in tb.client.configs.kpis.kpis}
    rule = info.get("trigger_rule") or {}
    kpis = tb.kpi_statuses(trigger_kpi_ids(rule)) if rule else []
    lines = [f"`{info['play']}` ({info['label']}) has not been suggested by any cycle for {tb.client.name} yet.",
             "", info.get("description", "").strip(), ""]
    if rule:
        lines += [f"**Its trigger:** {trigger_text(rule, units, currency=_cur(tb))}.", "",
                  f"**Its trigger KPIs as of {tb.as_of.isoformat()}:**", "", _noted(tb) + kpi_table(kpis, _cur(tb)), ""]
    lines.append(_play_refs(info))
    return "\n".join(lines), [info, {"as_of": tb.as_of.isoformat(), "kpis": kpis}], list(info["sops"])


def _named(confounders: list[dict[str, Any]]) -> str:
    """Confounders as 'kind what' (they are dicts, see chimera.evidence.models.Confounder)."""
    return ", ".join(f"{c.get('kind')} {c.get('what')}" for c in confounders) or "-"


def _evidence(tb: Toolbox, play_id: str | None) -> tuple[str, list[Any]]:
    rows = tb.evidence(play_id)
    if not rows:
        return "No evidence records yet: a play needs to be executed and its delay to pass first.", [rows]
    lines = ["| play | KPI | before | after | effect % | CI % | verdict | confounders |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['play']} | {r['kpi']} | {' | '.join(shown_values(r, _cur(tb)))} | {_or_dash(r['effect_pct'])} "
              f"| {_interval(r)} | {r['verdict']} | {_named(r['confounders'])} |"
              for r in rows]
    return ("**Evidence (before/after, no control group)**\n\n" + "\n".join(lines)
            + "\n\n**Why each verdict**\n\n" + "\n".join(_evidence_lines(rows))), [rows]


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _interval(r: dict[str, Any]) -> str:
    """The 95 % interval, or "-" (a pending record has none yet)."""
    low, high = r.get("ci_low_pct"), r.get("ci_high_pct")
    return "-" if low is None or high is None else f"{low} .. {high}"


def _evidence_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Each record's reason (windows and values compared) and its confounders in words, so a
    person can check a verdict by hand, as ``chimera evidence`` prints it."""
    lines = []
    for r in rows:
        reason = r.get("reason") or "no reason recorded (judged before reasons were kept)"
        lines.append(f"- `{r['play']}` / {r['kpi']} ({r['verdict']}): {reason}")
        lines += [f"  - confounder {c.get('kind')} {c.get('what')}" + (f": {c['note']}" if c.get("note") else "")
                  for c in r.get("confounders") or []]
    return lines


def _chart_text(tb: Toolbox, kpi_ids: list[str]) -> tuple[str, list[Any]]:
    """The KPIs named (the first one charted by the UI), each in the table."""
    status = tb.kpi_statuses(kpi_ids)
    heads = [f"**{k.label}** (`{k.id}`, {k.window} window)" for k in map(tb.client.configs.kpi, kpi_ids)]
    text = f"{' · '.join(heads)}\n\n{_noted(tb)}{kpi_table(status, _cur(tb))}"
    return text, [status]


def _echo(text: str) -> str:
    """The question as quoted back: one line, at most ``ECHO_CHARS``, without control and format
    characters (a NUL, a right-to-left override that would turn the rest of the reply around)."""
    flat = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text).split())
    return flat if len(flat) <= ECHO_CHARS else flat[:ECHO_CHARS - 1].rstrip() + "…"


# a question about single days ("yesterday", "per day", "on Tuesday", "2026-11-28"): the named KPIs'
# base metrics day by day answer it, where a 7-day KPI value cannot
_DAY_QUESTION = re.compile(
    r"\b(?:yesterday|today|daily|per\s+day|each\s+day|every\s+day|a\s+day|day\s+by\s+day|by\s+day|last\s+\d+\s+days"
    r"|(?:mon|tues|wednes|thurs|fri|satur|sun)day|\d{4}-\d{2}-\d{2}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?!\d))\b", re.IGNORECASE)
DAILY_DAYS = 7
# "this week against last week": the named KPIs' window before is shown beside the current one
_COMPARE = re.compile(r"\b(?:last|previous|prior|past)\s+(?:week|month|period|window)|\bweek\s+(?:before|earlier|ago)"
                      r"|\bweek[\s-]+(?:over|on)[\s-]+week\b|\bwow\b|\bcompar", re.IGNORECASE)


def _day_value(formula: str, values: dict[str, Decimal]) -> Decimal | None:
    """A KPI's formula on one day's base metrics (None when one is missing or a denominator is 0)."""
    from chimera.kpi.formula import parse_formula

    return parse_formula(formula).evaluate(values)


def _against_previous(k: dict[str, Any], currency: str | None = None) -> str:
    """One KPI's value beside its value over the window just before, and the relative change
    (also put in ``k`` as ``change_vs_previous_pct``: a model may quote it)."""
    label, unit, window = re.sub(r"\s*\(.*?\)", "", k["label"]), k["unit"], k["window"]
    value, before = k.get("value"), k.get("previous_value")
    if value is None or before is None:
        return f"- {label}: the {window} before has no complete data to compare with"
    change = ""
    pct = week_over_week(Decimal(value), Decimal(before), unit)["change_vs_previous_pct"]  # as the tool gives it
    if pct is not None:
        k["change_vs_previous_pct"] = pct
        change = f" ({float(pct):+.1f} %{' relative' if unit == 'percent' else ''})"
    return (f"- {label}: {fmt_value(value, unit, currency)} over the {window} to {k['data_through']} vs "
            f"{fmt_value(before, unit, currency)} over the {window} before{change}")


def _daily_table(tb: Toolbox, kpi_ids: list[str], most: int = 3) -> tuple[str, dict[str, dict[str, str]]]:
    """The named KPIs' formulas day by day over the ``DAILY_DAYS`` days to the as-of day, newest
    first, from the base metrics as ingested (a day without data shows "-", never 0). A KPI of
    pseudonymized customers (repeat purchases) has no daily value and is left out."""
    specs = [k for k in map(tb.client.configs.kpi, kpi_ids) if k.formula != "repeat_purchase_rate"][:most]
    metrics = list(dict.fromkeys(m for k in specs for m in formula_metrics(k.formula)))
    series = {m: tb.metric_series(m, DAILY_DAYS) for m in metrics}
    days = [(tb.as_of - timedelta(days=n)).isoformat() for n in range(DAILY_DAYS)]
    shown: dict[str, dict[str, str]] = {k.id: {} for k in specs}
    for day in days:
        values = {m: Decimal(series[m][day]) for m in metrics if day in series[m]}
        for k in specs:
            value = _day_value(k.formula, values)
            if value is not None:  # a ratio's 28 digits are noise: six places hold any shown percent
                shown[k.id][day] = str(value.quantize(Decimal("0.000001")) if -value.as_tuple().exponent > 6 else value)
    rows = [f"| {date.fromisoformat(d).strftime('%a')} {d} | "
            + " | ".join(fmt_value(shown[k.id][d], k.unit, _cur(tb)) if d in shown[k.id] else "-" for k in specs)
            + " |"
            for d in days]
    head = f"| day | {' | '.join(k.id for k in specs)} |\n|---|{'---|' * len(specs)}"
    return (head + "\n" + "\n".join(rows) if specs else ""), shown


def _question(tb: Toolbox, spec: CommanderSpec, text: str, kpi_ids: list[str],
              play_id: str | None = None) -> tuple[str, list[Any], list[str]]:
    """A free question: the KPIs it names (or those needing attention), the named KPIs' base metrics
    day by day when it asks about days, the named play's evidence, and the SOP sections it matches."""
    hits = tb.sop_hits(text)
    compare = bool(kpi_ids) and bool(_COMPARE.search(text))
    kpis = tb.kpi_statuses(kpi_ids or None, previous=compare)
    shown = kpis if kpi_ids else [k for k in kpis if k["status"] != "OK"][:6]
    lines = [f"**{spec.label}** on “{_echo(text)}”:", ""]
    facts: dict[str, Any] = {"kpis": shown}
    if shown:
        lines += ["KPIs that bear on it:", "", _noted(tb) + kpi_table(shown, _cur(tb)), ""]
    if compare:
        lines += ["Against the window just before:", "", *(_against_previous(k, _cur(tb)) for k in shown), ""]
    table, daily = _daily_table(tb, kpi_ids) if kpi_ids and _DAY_QUESTION.search(text) else ("", {})
    if table:
        facts["daily"] = daily
        lines += [f"Day by day, the {DAILY_DAYS} days to {tb.as_of.isoformat()} (each day's own value; `-`: no data):",
                  "", table, ""]
    if play_id:
        rows = tb.evidence(play_id)
        facts["evidence"] = rows
        lines += [f"Evidence for `{play_id}` (before/after, no control group):", "",
                  *(_evidence_lines(rows) or [f"- none recorded yet: an executed run is judged once its delay has "
                                              f"passed (the weekly cycle or `chimera evidence --client "
                                              f"{tb.client.name}` records it)"]),
                  ""]
    if hits:
        lines.append("Relevant SOPs:")
        lines += [sop_citation(h) for h in hits]
    else:
        lines.append("No SOP section matches this question.")
    facts["sops"] = [sop_fact(h) for h in hits]
    return "\n".join(lines), [facts], [h.file for h in hits]


def _unknown_kpi(tb: Toolbox, asked: str) -> tuple[str, list[Any]]:
    """A KPI the client does not have: said plainly, every KPI it has listed, then what needs attention."""
    kpis = tb.kpi_statuses()
    lines = [f"**{tb.client.name} has no KPI named “{_echo(asked)}”.**", "",
             f"Its KPIs: {kpi_list(kpis)}.", ""]
    attention = [k for k in kpis if k["status"] != "OK"]
    if attention:
        lines += [f"Needing attention as of {tb.as_of.isoformat()}:", "", _noted(tb) + kpi_table(attention, _cur(tb))]
    return "\n".join(lines), [{"as_of": tb.as_of.isoformat(), "kpis": kpis}]


def _help(client: ClientContext) -> tuple[str, list[Any]]:
    kpis = client.configs.kpis.kpis
    plays = client.configs.plays.plays
    return help_markdown(client.name, re.sub(r"\s*\(.*?\)", "", kpis[0].label) if kpis else "a KPI",
                         plays[0].id if plays else "a play"), []


def _shortened(text: str) -> str:
    """Says that only the start of an over-long message was read (empty when all of it was)."""
    if len(text) <= MAX_CHARS:
        return ""
    return f"_Your message was {len(text):,} characters long: only its first {MAX_CHARS:,} were read._\n\n"


def answer(client: ClientContext, commander_id: str, text: str, as_of: date | None = None) -> ChatReply:
    """Answer one chat message (every intent except running the cycle, which the UI streams)."""
    info = backend_info()
    shortened, text = _shortened(text), clip(text)
    intent = parse_intent(text, client.configs)
    spec = _spec(client, commander_id)
    tb = Toolbox(client, as_of=as_of, libraries=list(spec.libraries) or None)
    body, facts, sops = _body(client, tb, spec, intent, text)
    actions = play_actions(facts[0]) if intent.kind in ("review", "stops") else []
    offline = info.offline
    if intent.kind == "question" and not info.offline:
        body, offline = _model_answer(client, spec, text, facts, body, as_of)
        if not offline and facts[0]["kpis"] and tb.as_of_note:  # the model may not say why its day
            body += "\n\n" + as_of_line(tb.as_of_note)
    return ChatReply(text=_offline_prefix(offline, info.label) + shortened + body, commander=commander_id,
                     backend_label=info.label, offline=offline, intent=intent.kind, sops_cited=sops,
                     chart_kpi=intent.kpi_id if intent.kind == "chart" else None, actions=actions)


def _body(client: ClientContext, tb: Toolbox, spec: CommanderSpec, intent: Intent,
          text: str) -> tuple[str, list[Any], list[str]]:
    """The reply's text, the tool outputs it was built from, and the SOPs it cites."""
    if intent.kind == "why":
        return _why(tb, intent.play_id, intent.asked)
    if intent.kind == "question":
        return _question(tb, spec, text, intent.kpi_ids, intent.play_id)
    if intent.kind == "kpis":
        body, facts = _kpis(tb)
    elif intent.kind == "daily":
        body, facts = _daily(client)
    elif intent.kind == "evidence":
        body, facts = _evidence(tb, intent.play_id)
    elif intent.kind == "review":
        review = tb.weekly_review(intent.play_id)
        body, facts = review_markdown(review), [review]
    elif intent.kind == "stops":
        stops = tb.paused_or_reverted(intent.play_id)
        body, facts = stops_markdown(stops), [stops]
    elif intent.kind == "chart":
        body, facts = _chart_text(tb, intent.kpi_ids)
    elif intent.kind == "unknown_kpi":
        body, facts = _unknown_kpi(tb, intent.asked or "")
    else:
        body, facts = _help(client)
    return body, facts, []


def _model_answer(client: ClientContext, spec: CommanderSpec, text: str, facts: list[Any],
                  offline_text: str, as_of: date | None = None) -> tuple[str, bool]:
    """The commander's model answers from the facts and may call the read-only tools for more; any
    figure not in the facts or tool outputs falls back to the template, saying so."""
    from agents.llm_commander import ask_commander

    question = render("chat", question=text, facts=json.dumps(facts, default=str, indent=1))
    tb = Toolbox(client, as_of=as_of, libraries=list(spec.libraries) or None)  # the day the facts are of
    try:
        reply = ask_commander(spec, tb, question, offline_text, facts=facts)
    except ChimeraError:
        raise
    except Exception as exc:  # a model never leaves a person without a reply
        log.exception("model answer failed")
        return f"_model answer failed ({type(exc).__name__}); offline answer shown_\n\n{offline_text}", True
    if reply.source == "model":
        return safe_markdown(reply.text), False
    return f"_{reply.note}_\n\n{offline_text}", True


def cycle_notes(run_ids: list[str]) -> dict[str, str]:
    """Each cycle's as-of note by run id (only non-empty ones): a play offered again after a reload
    shows why its KPI values are of the day before the newest data."""
    from chimera.db.engine import session_scope
    from chimera.db.models import CycleRun

    with session_scope() as s:
        runs = s.exec(select(CycleRun).where(CycleRun.id.in_(set(run_ids)))).all()  # type: ignore[attr-defined]
        return {r.id: note for r in runs if (note := (r.summary or {}).get("as_of_note"))}


def kpi_chart(client: ClientContext, kpi_id: str, days: int = 90) -> tuple[Any | None, str]:
    """A plotly figure of the KPI (thresholds, anomaly band) when the report module is present;
    otherwise None and the last two weeks of the formula's base metrics as text."""
    try:
        from chimera.report.charts import kpi_trend_figure
    except ImportError:
        kpi_trend_figure = None
    if kpi_trend_figure is not None:
        try:
            return kpi_trend_figure(client, kpi_id, days=days), ""
        except ChimeraError as exc:
            note = f"chart unavailable: {exc}"
    else:
        note = "chart unavailable (the report module is not installed); daily values instead"
    from chimera.kpi.formula import parse_formula

    tb = Toolbox(client)
    kpi = client.configs.kpi(kpi_id)
    try:
        metrics = list(parse_formula(kpi.formula).metrics)
    except Exception:  # special formulas (repeat_purchase_rate) have no base metrics to list
        metrics = []
    lines = [f"_{note}_"]
    for m in metrics:
        series = tb.metric_series(m, 14)
        lines.append(f"- `{m}`: " + ", ".join(f"{d[5:]} {v}" for d, v in series.items()))
    return None, "\n".join(lines)


def safe_answer(client: ClientContext, commander_id: str, text: str) -> ChatReply:
    """``answer`` with a person's mistake (unknown play, bad config) shown as the reply, not a crash."""
    try:
        return answer(client, commander_id, text)
    except ChimeraError as exc:
        info = backend_info()
        return ChatReply(text=f"⚠️ {exc}", commander=commander_id, backend_label=info.label,
                         offline=info.offline, intent="error")


def pause_or_resume(play_run_id: str, kind: str, who: str, why: str, allowed: list[str] | None = None,
                    on_event: Any = None) -> PauseOutcome | ResumeOutcome:
    """A person's pause or resume from the chat, recorded with who and why as ``chimera play pause`` /
    ``resume`` records it, on a client granted to them only (a forged click names any run). A resume
    runs the held steps now, as the CLI does (unless their cycle awaits a decision)."""
    from chimera.clients import get_client
    from chimera.plays.pause import pause, refreshed, resume
    from chimera.plays.revert import client_of_run

    get_client(client_of_run(play_run_id).name, allowed)
    if kind == "pause":
        return pause(play_run_id, who, why)
    outcome = resume(play_run_id, who, why)
    if outcome.requeued and outcome.cycle_run_id:
        from graphs.service import resume_cycle

        resume_cycle(outcome.cycle_run_id, on_event=on_event)
        outcome = refreshed(outcome)
    return outcome


def scale_play(play_run_id: str, who: str, why: str, allowed: list[str] | None = None) -> ScaleOutcome:
    """A person's scale of a play that worked, from the chat: recorded with who and why as ``chimera play
    scale`` records it (the default rule: no ``--set``), on a client granted to them only (a forged click
    names any run). The same scale again returns the run the first one suggested (``already_scaled``)."""
    from chimera.clients import get_client
    from chimera.plays.revert import client_of_run
    from chimera.plays.scale import scale

    get_client(client_of_run(play_run_id).name, allowed)
    return scale(play_run_id, who, why)
