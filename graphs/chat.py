"""Chat routing: a message -> an intent and a commander -> a reply built from the tools.

No Chainlit here: app.py only renders what this returns. Offline (no model), every answer is
templated from deterministic tool outputs and says it is offline; with a model, the commander's
model writes the prose from the same facts and the truth guard rejects any figure not in them.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel
from sqlmodel import select

from agents.prompting import render
from agents.tools import Toolbox
from chimera import settings
from chimera.clients import ClientContext
from chimera.config.loader import load_config_set
from chimera.config.models import Commander as CommanderSpec
from chimera.errors import ChimeraError
from chimera.llm.provider import backend_info
from graphs.ui_models import ChatReply, ProfileInfo, as_of_line, fmt_value, kpi_table

log = logging.getLogger(__name__)

COMMAND_CENTER = "Command Center"
IntentKind = Literal["cycle", "daily", "kpis", "why", "evidence", "chart", "question"]

# keyword -> commander, checked in order (first hit wins); whole words, plural-tolerant
ROUTES: list[tuple[str, tuple[str, ...]]] = [
    ("evidence_commander_ai", ("kpi", "evidence", "roi", "threshold", "verdict")),
    ("infra_commander_ai", ("ingest", "data", "freshness", "stale", "export", "upload", "pipeline")),
    ("commerce_commander_ai", ("price", "pricing", "bundle", "revenue", "discount", "shipping", "margin")),
    ("growth_commander_ai", ("traffic", "email", "fiverr", "campaign", "session", "retention", "winback")),
    ("product_commander_ai", ("catalog", "product", "refund", "checkout", "review")),
]
DEFAULT_COMMANDER = "evidence_commander_ai"


class Intent(BaseModel):
    kind: IntentKind
    play_id: str | None = None
    kpi_id: str | None = None


def _words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9_]+", text.lower())
    return set(words) | {w[:-1] for w in words if w.endswith("s")} | {w[:-2] for w in words if w.endswith("es")}


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
    """The commander to answer: the profile's own, else by keywords (KPI/evidence first), else evidence."""
    for p in profiles():
        if p.commander and profile in (p.name, p.commander):
            return p.commander
    words = _words(text)
    for commander, keys in ROUTES:
        if words & set(keys):
            return commander
    return DEFAULT_COMMANDER


def _find_kpi(text: str, kpis: list[Any]) -> str | None:
    low = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
    for k in sorted(kpis, key=lambda k: -len(k.label)):
        for name in (k.id.replace("_", " "), k.label.lower()):
            if f" {re.sub(r'[^a-z0-9]+', ' ', name).strip()} " in low:
                return k.id
    return None


def _find_play(text: str, plays: list[Any]) -> str | None:
    low = text.lower()
    for p in sorted(plays, key=lambda p: -len(p.id)):
        if p.id in low or p.label.lower() in low:
            return p.id
    return None


def parse_intent(text: str, configs: Any = None) -> Intent:
    """What the person asked for; anything not recognized is a free question for a commander."""
    configs = configs or base_configs()
    low = " ".join(text.lower().split())
    play_id = _find_play(low, configs.plays.plays)
    if re.search(r"\b(run|start|resume)\b.*\bcycle\b|^weekly cycle", low):
        return Intent(kind="cycle")
    if re.search(r"today'?s checks?|daily checks?|\bdaily\b", low):
        return Intent(kind="daily")
    if re.search(r"\bwhy\b.*\b(suggest|recommend|play)", low):
        return Intent(kind="why", play_id=play_id)
    if re.search(r"\b(show|list)\b.*\bevidence\b|^evidence\b", low):
        return Intent(kind="evidence", play_id=play_id)
    if re.search(r"\bkpis?\b.*\bstatus\b|^kpis?\b|\bstatus of (the )?kpis?\b", low):
        return Intent(kind="kpis")
    m = re.match(r"(show|chart|plot|graph)\b(.*)", low)
    if m:
        kpi = _find_kpi(m.group(2), configs.kpis.kpis)
        if kpi:
            return Intent(kind="chart", kpi_id=kpi)
    return Intent(kind="question", play_id=play_id)


def _spec(client: ClientContext, commander_id: str) -> CommanderSpec:
    return next(c for c in client.configs.agents.commanders if c.id == commander_id)


def _offline_prefix(offline: bool, label: str) -> str:
    return f"_Offline — {label}: answered from the tools, no model._\n\n" if offline else ""


def _kpis(tb: Toolbox) -> tuple[str, list[Any]]:
    kpis = tb.kpi_statuses()
    return f"**KPI status as of {tb.as_of.isoformat()}**\n\n{_noted(tb)}{kpi_table(kpis)}", [kpis]


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
    lines += [f"| {f.source} | {f.last_day or 'never'} | {f.days_behind if f.days_behind is not None else 'n/a'} "
              f"| {'yes' if f.ok else 'NO'} |" for f in r.freshness]
    lines += [f"- 🔴 {k['id']}: {k.get('note', '')}" for k in r.critical]
    lines += [f"- re-queued stuck job #{j['id']} {j['type']}" for j in r.stuck_jobs_requeued]
    lines += [f"- failed ingest #{f['id']} {f['source']} {f['file']}" for f in r.failed_ingests]
    return "\n".join(lines), [r.model_dump(mode="json")]


def _why(tb: Toolbox, play_id: str | None) -> tuple[str, list[Any], list[str]]:
    if play_id is None:
        from graphs.service import pending_decisions

        pending = pending_decisions(tb.client.name)
        if not pending:
            return "No play is waiting for a decision. Run the weekly cycle first.", [], []
        play_id = pending[0].play_id
    info = tb.explain_play(play_id)
    latest = info.get("latest") or {}
    note = _play_note(tb.client, play_id)
    lines = [f"**Why `{play_id}` ({info['label']}) was suggested**", "", info.get("description", "").strip(), "",
             *([as_of_line(note), ""] if note else [])]
    lines += [f"- {t}" for t in latest.get("trigger", [])] or ["- it has not been suggested yet"]
    for kpi, v in (latest.get("kpi_values") or {}).items():
        lines.append(f"- {kpi}: {v.get('status')} at {fmt_value(v.get('value'), v.get('unit'))} "
                     f"(target {fmt_value(v.get('target'), v.get('unit'))})")
    if latest.get("why_rank"):
        lines.append(f"- rank: {latest['why_rank']}")
    lines.append(f"- evidence KPIs: {', '.join(info['evidence_kpis'])}; SOPs: {', '.join(info['sops'])}")
    return "\n".join(lines), [info], list(info["sops"])


def _play_note(client: ClientContext, play_id: str) -> str:
    """The as-of note of the cycle that last suggested the play (the one ``explain_play`` shows):
    its KPI values are of the day before the newest data when that day was in progress."""
    from chimera.db.engine import session_scope
    from chimera.db.models import PlayRun

    with session_scope() as s:
        run_id = s.exec(select(PlayRun.run_id).where(PlayRun.company_id == client.company_id,
                                                     PlayRun.play_id == play_id)
                        .order_by(PlayRun.created_at.desc())).first()  # type: ignore[attr-defined]
    return cycle_notes([run_id]).get(run_id, "") if run_id else ""


def _named(confounders: list[dict[str, Any]]) -> str:
    """Confounders as 'kind what' (they are dicts, see chimera.evidence.models.Confounder)."""
    return ", ".join(f"{c.get('kind')} {c.get('what')}" for c in confounders) or "-"


def _evidence(tb: Toolbox, play_id: str | None) -> tuple[str, list[Any]]:
    rows = tb.evidence(play_id)
    if not rows:
        return "No evidence records yet: a play needs to be executed and its delay to pass first.", [rows]
    lines = ["| play | KPI | before | after | effect % | CI % | verdict | confounders |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['play']} | {r['kpi']} | {_stored(r['before'], r.get('unit'))} "
              f"| {_stored(r['after'], r.get('unit'))} | {_or_dash(r['effect_pct'])} "
              f"| {_interval(r)} | {r['verdict']} | {_named(r['confounders'])} |"
              for r in rows]
    return ("**Evidence (before/after, no control group)**\n\n" + "\n".join(lines)
            + "\n\n**Why each verdict**\n\n" + "\n".join(_evidence_lines(rows))), [rows]


def _stored(value: Any, unit: str | None) -> str:
    """A before/after value as the KPI table shows it (when the record knows its KPI's unit)."""
    return fmt_value(value, unit) if unit else ("-" if value in (None, "") else str(value))


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


def _chart_text(tb: Toolbox, kpi_id: str) -> tuple[str, list[Any]]:
    kpi = tb.client.configs.kpi(kpi_id)
    status = tb.kpi_statuses([kpi_id])
    text = f"**{kpi.label}** (`{kpi_id}`, {kpi.window} window)\n\n{_noted(tb)}{kpi_table(status)}"
    return text, [status]


def _question(tb: Toolbox, spec: CommanderSpec, text: str) -> tuple[str, list[Any], list[str]]:
    hits = tb.sop_search(text)
    kpi = _find_kpi(text, tb.client.configs.kpis.kpis)
    kpis = tb.kpi_statuses([kpi] if kpi else None)
    shown = kpis if kpi else [k for k in kpis if k["status"] != "OK"][:6]
    lines = [f"**{spec.label}** on “{text.strip()}”:", ""]
    if shown:
        lines += ["KPIs that bear on it:", "", _noted(tb) + kpi_table(shown), ""]
    if hits:
        lines.append("Relevant SOPs:")
        lines += [f"- `{h['file']}` — {h['heading']}: {h['excerpt']}" for h in hits]
    else:
        lines.append("No SOP section matches this question.")
    facts = {"kpis": shown, "sops": hits}
    return "\n".join(lines), [facts], [h["file"] for h in hits]


def answer(client: ClientContext, commander_id: str, text: str, as_of: date | None = None) -> ChatReply:
    """Answer one chat message (every intent except running the cycle, which the UI streams)."""
    info = backend_info()
    intent = parse_intent(text, client.configs)
    spec = _spec(client, commander_id)
    tb = Toolbox(client, as_of=as_of, libraries=list(spec.libraries) or None)
    sops: list[str] = []
    chart = None
    if intent.kind == "kpis":
        body, facts = _kpis(tb)
    elif intent.kind == "daily":
        body, facts = _daily(client)
    elif intent.kind == "why":
        body, facts, sops = _why(tb, intent.play_id)
    elif intent.kind == "evidence":
        body, facts = _evidence(tb, intent.play_id)
    elif intent.kind == "chart":
        body, facts = _chart_text(tb, intent.kpi_id or "")
        chart = intent.kpi_id
    else:
        body, facts, sops = _question(tb, spec, text)
    offline = info.offline
    if intent.kind == "question" and not info.offline:
        body, offline = _model_answer(client, spec, text, facts, body, as_of)
        if not offline and facts[0]["kpis"] and tb.as_of_note:  # the model may not say why its day
            body += "\n\n" + as_of_line(tb.as_of_note)
    return ChatReply(text=_offline_prefix(offline, info.label) + body, commander=commander_id,
                     backend_label=info.label, offline=offline, intent=intent.kind, sops_cited=sops,
                     chart_kpi=chart)


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
        return reply.text, False
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
