"""What the command center shows, as markdown built from the service's contracts (no chainlit import).

Kept apart from the Chainlit hooks so the same text is unit-tested and reused by any other face.
Numbers come from the deterministic core as stored; percent KPIs are shown as percentages.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel

from chimera.ingest.models import IngestSummary
from chimera.kpi.fmt import fmt_stored
from chimera.plays.models import ScaleOutcome
from chimera.plays.pause import PAUSABLE, PauseOutcome, ResumeOutcome
from chimera.sop import FLAG, SopHit, is_instruction_like
from graphs.models import CycleOutcome, PendingDecision

STATUS_ICON = {"OK": "", "WARNING": "", "CRITICAL": "", "UNKNOWN": ""}  # text says it; emoji fonts vary
DECISION_KINDS = ("approve", "override", "reject")


class PlayAction(BaseModel):
    """A button on a play run that a person may press: pause it, resume it (a revert: lift its hold), or
    scale a run that worked (``chimera play scale``: a larger run, suggested for a decision)."""

    kind: Literal["pause", "resume", "scale"]
    play_run_id: str
    play: str

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} {self.play}"


class ChatReply(BaseModel):
    """One answer in the chat: text plus what the UI needs to label and decorate it."""

    text: str
    commander: str
    backend_label: str
    offline: bool
    intent: str = "question"
    sops_cited: list[str] = []
    chart_kpi: str | None = None
    actions: list[PlayAction] = []
    """Pause / resume buttons the reply offers (the UI shows them only to people who may decide)."""


class ProfileInfo(BaseModel):
    """A chat profile: the Command Center or one commander from agents.yml."""

    name: str
    commander: str | None
    markdown_description: str
    icon: str = ""


def fmt_value(value: Any, unit: str | None, currency: str | None = None) -> str:
    """A stored KPI value for people, as ``chimera kpis`` shows it (fractions as percents, money in
    ``currency``'s smallest unit, half-up: whole yen); two decimals when the unit is not known."""
    if value in (None, ""):
        return "n/a"
    return fmt_stored(str(value), unit or "ratio", currency)


def as_of_line(note: str) -> str:
    """The as-of note as one italic paragraph (empty without a note): a person seeing yesterday's
    date learns that today's data was still coming in when it was exported."""
    return f"_Judged the day before the newest data: {note}_" if note else ""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_REF_DEF = re.compile(r"^(\s{0,3})\[([^\]]+)\]:", re.M)
_URL = re.compile(r"(?<![`\w])((?:https?|ftp)://|www\.)[^\s<>`)]+?(?=[.,;:!?]*(?:[\s)]|$))", re.I)


def quoted(text: Any) -> str:
    """A model's words inside a decision card: every line in the quote and every markdown mark
    inert, so a rationale cannot add a card field ("**Reversible:** yes" under the real "NO"), a
    heading, a link or an image outside its quote."""
    lines = str(text).splitlines() or [""]
    return "\n".join(f"> {inert_line(line)}".rstrip() for line in lines)


def inert_line(line: str) -> str:
    """Markdown marks escaped; a web address as code (GitHub-flavoured markdown links bare ones)."""
    out, at = [], 0
    for m in _URL.finditer(line):
        out += [_MD_SPECIAL.sub(r"\\\1", line[at:m.start()]), f"`{m.group(0).replace('`', '')}`"]
        at = m.end()
    return "".join([*out, _MD_SPECIAL.sub(r"\\\1", line[at:])])


def inert(text: Any) -> str:
    """One line of a model's words (a caveat) with its markdown marks inert."""
    return inert_line(" ".join(str(text).split()))


def safe_markdown(text: str) -> str:
    """A model's chat answer keeps its lists, tables and emphasis, but nothing that fetches or
    leads out of the app by itself: an image is its alt text, a link its text with the address as
    code, a bare address code (never a live link), raw HTML shown as text."""
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1)}]" if m.group(1) else "[image]", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} (`{m.group(2)}`)" if m.group(2) else m.group(1), text)
    text = _REF_DEF.sub(lambda m: f"{m.group(1)}\\[{m.group(2)}]:", text)
    text = _URL.sub(lambda m: f"`{m.group(0)}`", text)
    return text.replace("<", "&lt;")


def pending_markdown(p: PendingDecision, as_of_note: str = "", currency: str | None = None) -> str:
    """Everything a person needs to decide one play (manual §7.4), in one message; ``as_of_note``
    is its cycle's (its KPI values are of the day before the newest data), ``currency`` its client's."""
    r = p.rationale or {}
    lines = [f"### #{p.rank} {p.label} (`{p.play_id}`)",
             f"Owner: **{p.owner}** · play run `{p.play_run_id}` · cycle as of {p.as_of.isoformat()}",
             *([as_of_line(as_of_note)] if as_of_note else []), "", "**Why it triggered**"]
    lines += [f"- {clause}" for clause in p.trigger] or [f"- {p.reason}"]
    if p.kpi_values:
        lines += ["", "**KPI values vs thresholds**", "", "| KPI | status | value | target | warning | critical |",
                  "|---|---|---|---|---|---|"]
        for kpi, v in p.kpi_values.items():
            numbers = " | ".join(fmt_value(v.get(key), v.get("unit"), currency)
                                 for key in ("value", "target", "warning", "critical"))
            lines.append(f"| {kpi} ({v.get('window', '')}) | {STATUS_ICON.get(v.get('status'), '')} {v.get('status')} "
                         f"| {numbers} |")
    sops = list(dict.fromkeys([*p.sops, *(r.get("sops_cited") or [])]))
    lines += ["", f"**SOPs cited:** {', '.join(f'`{s}`' for s in sops) or 'none'}",
              f"**Expected effect:** measured on {', '.join(p.evidence_kpis) or 'no KPI'} "
              f"after {p.delay_days} days (before/after, no control group)",
              *reversible_lines(p), f"**Rank:** {p.why_rank}"]
    if r:
        source = r.get("source", "offline")
        lines += ["", f"**Commander rationale** ({source}{': ' + r['note'] if r.get('note') else ''})",
                  quoted(r.get("summary") or r.get("why", ""))]
        lines += [f"- caveat: {inert(c)}" for c in r.get("caveats") or []]
    return "\n".join(lines)


def reversible_lines(p: PendingDecision) -> list[str]:
    """The card's **Reversible** field: each step that cannot be undone and why (a person approving
    knows which change is beyond taking back), or why "no" names none (the configs changed since the
    play was suggested, or could not be read)."""
    steps = p.irreversible_steps
    if steps:
        return ["**Reversible:** NO — these steps cannot be undone:",
                *(f"- step {s.step} `{s.bot}.{s.action}`: {inert(s.why)}" for s in steps), ""]  # the list ends
    if p.reversible:
        return ["**Reversible:** yes"]
    if steps is None:
        return ["**Reversible:** NO — at least one step cannot be undone"]
    return ["**Reversible:** NO when suggested; its steps as configured now can all be undone "
            "(agents.yml or plays.yml changed since)"]


def event_title(event: dict[str, Any]) -> str:
    """A step name for one cycle event: ``<commander> · <job type> #<id>``."""
    if event.get("type"):
        return f"{event.get('node')} · {event['type']} #{event.get('job')}"
    if event.get("decision"):
        return f"human_decision · {event['decision']} by {event.get('who')}"
    return f"{event.get('node')} · {event.get('status', '')}"


def event_output(event: dict[str, Any]) -> str:
    """The step body: status and the commander's narrative with its source."""
    narrative = event.get("narrative") or {}
    run = f" · play run `{event['play_run_id']}`" if event.get("play_run_id") else ""
    head = f"**{event.get('status', '')}**{run}"
    text = safe_markdown(narrative.get("text", ""))
    note = f"\n\n_source: {narrative.get('source')}{' — ' + narrative['note'] if narrative.get('note') else ''}_" \
        if narrative else ""
    return f"{head}\n\n{text}{note}".strip()


def outcome_markdown(o: CycleOutcome) -> str:
    """The cycle's headline: status, KPI counts, what is waiting for a person."""
    counts: dict[str, int] = {}
    for k in o.kpis:
        counts[k["status"]] = counts.get(k["status"], 0) + 1
    kpis = ", ".join(f"{STATUS_ICON.get(s, '')} {n} {s}" for s, n in sorted(counts.items()))
    lines = [f"**Weekly cycle for {o.client} as of {o.as_of.isoformat()}** — status `{o.status}`",
             *([_sentence(o.reused_note())] if o.reused else []),
             *([as_of_line(o.as_of_note)] if o.as_of_note else []),
             f"KPIs: {kpis or 'none evaluated'} · jobs: {len(o.jobs)} · model: {o.model.get('backend')}"]
    executed = [p for p in o.plays if p.get("decision")]
    for p in executed:
        d = p["decision"]
        lines.append(f"- `{p['play']}`: {d['kind']} by {d['who']} → {p['status']}")
    lines.append(f"{len(o.pending)} play(s) await a decision below." if o.pending else "Nothing awaits a decision.")
    return "\n".join(lines)


def _sentence(note: str) -> str:
    """A lower-case note as one italic sentence ("same run as before: ..." -> "_Same run as before: ..._")."""
    return f"_{note[:1].upper()}{note[1:]}._"


def decision_markdown(play_run_id: str, kind: str, who: str, why: str, o: CycleOutcome) -> str:
    """What was recorded and what ran because of it (jobs of that play run)."""
    play = next((p for p in o.plays if p["id"] == play_run_id), None)
    label = play["play"] if play else play_run_id
    lines = [f"**{kind}** recorded for `{label}` (play run `{play_run_id}`) by **{who}**"
             + (f" — reason: {why}" if why else "")]
    if play:
        lines.append(f"Play status: `{play['status']}`")
    jobs = [j for j in o.jobs if j.get("play_run_id") == play_run_id]
    for j in jobs:
        what = f"{j['bot']}.{j['action']}" if j.get("bot") else j["type"]
        lines.append(f"- job #{j['id']} {what}: {j['status']}" + (f" ({j['error']})" if j.get("error") else ""))
    if not jobs and kind == "reject":
        lines.append("Nothing executed (rejected).")
    return "\n".join(lines)


def ingest_markdown(file_name: str, s: IngestSummary, limit: int = 20) -> str:
    """An upload's result with every rejected row's line number (first ``limit`` listed)."""
    days = f"{s.first_day} .. {s.last_day}" if s.first_day else "no days"
    lines = [f"**Ingested `{file_name}`** as `{s.source}`: {s.rows_read} rows read, {s.orders_ingested} ingested, "
             f"{len(s.rejected)} rejected, {s.metrics_written} metric values written, days {days}."]
    if s.rejected:
        lines += ["", "| line | column | value | reason | order |", "|---|---|---|---|---|"]
        lines += [f"| {r.line} | {r.column} | `{r.value}` | {r.reason} | {r.order} |" for r in s.rejected[:limit]]
        if len(s.rejected) > limit:
            lines.append(f"… and {len(s.rejected) - limit} more rejected rows.")
    return "\n".join(lines)


def kpi_table(kpis: list[dict[str, Any]], currency: str | None = None) -> str:
    """KPI statuses as a table, worst first (money in ``currency``'s smallest unit)."""
    order = {"CRITICAL": 0, "WARNING": 1, "UNKNOWN": 2, "OK": 3}
    rows = sorted(kpis, key=lambda k: (order.get(k.get("status", ""), 4), k.get("id", "")))
    lines = ["| KPI | status | value | target | note |", "|---|---|---|---|---|"]
    for k in rows:
        unit = k.get("unit")
        lines.append(f"| {k.get('label', k['id'])} | {STATUS_ICON.get(k['status'], '')} {k['status']} "
                     f"| {fmt_value(k.get('value'), unit, currency)} | {fmt_value(k.get('target'), unit, currency)} "
                     f"| {k.get('note', '')} |")
    return "\n".join(lines)


def sop_citation(hit: SopHit) -> str:
    """A SOP section cited for a person: title, heading, ``file:line`` and the quoted excerpt. The
    model's quoting markers stay out (they are for models); an instruction-like excerpt is still flagged."""
    where = hit.title if hit.heading in ("", hit.title) else f"{hit.title} › {hit.heading}"
    flag = f"{FLAG} " if is_instruction_like(hit.excerpt) else ""
    quote = "\n".join(f"  > {flag if i == 0 else ''}{line}".rstrip() for i, line in enumerate(hit.excerpt.splitlines()))
    return f"- **{where}** — `{hit.file}:{hit.line}`\n{quote or '  >'}"


def kpi_list(kpis: list[dict[str, Any]]) -> str:
    """Every KPI as ``id`` (label), in config order: what a person may ask about."""
    return ", ".join(f"`{k['id']}` ({k.get('label', k['id'])})" for k in kpis)


def _cond_text(cond: dict[str, Any], units: dict[str, str], currency: str | None = None) -> str:
    """One trigger condition in words, thresholds in the KPI's unit (money in ``currency``'s)."""
    kpi, unit = f"`{cond['kpi']}`", units.get(cond["kpi"])
    if "status" in cond:
        return f"{kpi} is {' or '.join(cond['status'])}"
    if "below" in cond or "above" in cond:
        side = "below" if "below" in cond else "above"
        return f"{kpi} {side} {fmt_value(cond[side], unit, currency)}"
    if "anomaly" in cond:
        return f"{kpi} is anomalous against its own baseline"
    below = "change_pct_below" in cond
    bound = cond["change_pct_below" if below else "change_pct_above"]
    return f"{kpi} changed {'less' if below else 'more'} than {bound}% over {cond.get('over', '7d')}"


def trigger_text(rule: dict[str, Any], units: dict[str, str], nested: bool = False,
                 currency: str | None = None) -> str:
    """A play's trigger rule (plays.yml, as ``explain_play`` returns it) in words, so a person sees
    what would make the play fire without reading YAML (money in ``currency``'s smallest unit)."""
    if "not" in rule:
        return f"not ({trigger_text(rule['not'], units, True, currency)})"
    for key, joiner in (("all", " and "), ("any", " or ")):
        if key in rule:
            text = joiner.join(trigger_text(r, units, True, currency) for r in rule[key])
            return f"({text})" if nested and len(rule[key]) > 1 else text
    return _cond_text(rule, units, currency)


def trigger_kpi_ids(rule: dict[str, Any]) -> list[str]:
    """Every KPI a trigger rule reads, in order, once."""
    if "kpi" in rule:
        return [rule["kpi"]]
    inner = rule.get("all") or rule.get("any") or [rule["not"]]
    return list(dict.fromkeys(k for r in inner for k in trigger_kpi_ids(r)))


def help_markdown(client: str, kpi_label: str, play_id: str) -> str:
    """What can be asked, for an empty message (no figures: nothing was asked)."""
    return "\n".join([
        f"Ask me about **{client}**, for example:", "",
        "- *KPI status* or *How are my KPIs doing?* — every KPI against its target",
        f"- *Show {kpi_label.lower()}* — one KPI, with its chart",
        f"- *Why was this play suggested?* or *Why was {play_id} suggested?*",
        "- *Show evidence* — what executed plays did to their KPIs",
        "- *Weekly review* or *What should we continue or stop?* — the fixed rules' advice per judged play",
        "- *Which plays are paused or reverted?* — who stopped them, when, why, and whether they are held back",
        "- *Today's checks* — data freshness and critical KPIs",
        "- *Run the weekly cycle* — evaluate, suggest plays, decide",
        "- any other question: answered from the SOP libraries and the KPIs",
        "", "You can also drop a CSV export here to ingest it."])


REVIEW_HEAD = ("fixed rules over the evidence verdicts (before/after, no control group); the same evidence "
               "always gives the same advice, and no model gives it")


def review_markdown(data: dict[str, Any]) -> str:
    """The ``weekly_review`` tool's output for a person: each judged run's advice with its rule and
    evidence figures, then the pauses and reverts (as ``chimera report`` shows them)."""
    lines = [f"**Weekly review of plays as of {data['as_of']}** — {REVIEW_HEAD}.", ""]
    for r in data["review"]:
        lines += [f"- {_run_ref(r)}, executed {r['executed_on']}, now {r['status']}: **{r['advice']}**",
                  f"  - rule {r['rule']}: {r['rule_text']}"]
        lines += [f"  - {f['text']} (before {f['before_shown']}, after {f['after_shown']})" for f in r["figures"]]
        if r.get("next_step"):
            lines.append(f"  - next: `{r['next_step']}`")
        if r.get("option"):  # a play that worked may also be scaled (manual §4.7)
            lines.append(f"  - or scale it: `{r['option']}`")
    if not data["review"]:
        lines.append("No executed play has a verdict yet: nothing to continue or stop.")
    return "\n".join([*lines, "", stops_markdown(data)])


def stops_markdown(data: dict[str, Any]) -> str:
    """The pauses and reverts of the ``paused_or_reverted`` tool: who, when, why, still held back?"""
    lines = [f"**Paused and reverted plays** (as of {data['as_of']})", ""]
    for s in data["stopped"]:
        lines.append(f"- {_run_ref(s)}: {s['kind']} on {s['on']} by **{inert(s['who'] or 'unknown')}** — "
                     f"why: “{inert(s['why'] or 'no reason given')}” · still held back: {inert(s['held_back'])}")
    if not data["stopped"]:
        lines.append("None: no play has been paused or reverted.")
    else:
        lines += ["", f"_A paused play is held back until a person resumes it; a reverted one for "
                      f"{data['revert_hold_days']} days (plays.yml `policy.revert_hold_days`) or until resumed._"]
    return "\n".join(lines)


def _run_ref(r: dict[str, Any]) -> str:
    label = f" ({r['label']})" if r.get("label") else ""
    return f"**`{r['play']}`**{label}, play run `{r['play_run_id']}`"


def play_actions(data: dict[str, Any]) -> list[PlayAction]:
    """The buttons a review or a list of stops offers: pause a run under way, resume a pause or a
    revert's hold still in force (one of the two per run); beside them, scale a run the review says
    worked (its entry has an ``option``: executed, rule 3)."""
    offers: dict[tuple[str, str], PlayAction] = {}
    for s in data.get("stopped", []):
        if s["in_force"]:
            offers.setdefault((s["play_run_id"], "stop"), PlayAction(kind="resume", play_run_id=s["play_run_id"],
                                                                     play=s["play"]))
    for r in data.get("review", []):
        if r["status"] in PAUSABLE:
            offers.setdefault((r["play_run_id"], "stop"), PlayAction(kind="pause", play_run_id=r["play_run_id"],
                                                                     play=r["play"]))
        if r.get("option"):
            offers.setdefault((r["play_run_id"], "scale"), PlayAction(kind="scale", play_run_id=r["play_run_id"],
                                                                      play=r["play"]))
    return list(offers.values())


def _step_ref(j: Any) -> str:
    """``HeldJob.step`` is already counted from 1, as the CLI shows it."""
    return f"step {j.step} {j.bot}.{j.action} (job #{j.id})" if j.bot else f"{j.type} (job #{j.id})"


def _held_text(j: Any) -> str:
    """Why a held step waits: a skipped one for the failed step it builds on, the rest for the resume."""
    if getattr(j, "skipped_for", None) is not None:
        return f"skipped: runs once job #{j.skipped_for} succeeds, after the play is resumed"
    return "not run until the play is resumed"


def pause_markdown(o: PauseOutcome) -> str:
    """What a pause from the chat recorded and did: who, why, what is kept, what is held."""
    ref = f"`{o.play}` (play run `{o.play_run_id}`)"
    head = (f"{ref} was already paused on {o.on} by **{inert(o.who)}** — “{inert(o.why)}”: nothing changed"
            if o.already_paused else f"**pause** recorded for {ref} on {o.on} by **{inert(o.who)}** — "
                                     f"reason: {inert(o.why)}")
    lines = [head, f"- kept: {o.kept} change(s) already applied stay as they are",
             *(f"- held: {_step_ref(j)}: {_held_text(j)}" for j in o.held),
             *(f"- running when paused: {_step_ref(j)}: it finishes and its change is kept" for j in o.running)]
    if not o.held and not o.running:
        lines.append("- nothing left to run: every step had already run")
    lines.append(f"Held back: `{o.play}` is not suggested again until a person resumes it.")
    return "\n".join(lines)


def resume_markdown(o: ResumeOutcome) -> str:
    """What a resume from the chat recorded and ran (a revert's hold lifted: nothing re-run)."""
    ref = f"`{o.play}` (play run `{o.play_run_id}`)"
    if o.already_resumed:
        head = f"{ref} was already resumed on {o.on} by **{inert(o.who)}** — “{inert(o.why)}”: nothing re-queued twice"
    else:
        what = "**revert hold lifted**" if o.of == "revert" else "**resume** recorded"
        head = f"{what} for {ref} on {o.on} by **{inert(o.who)}** — reason: {inert(o.why)}"
    lines = [head, *(f"- {_step_ref(j)}: " + (f"skipped: runs once job #{j.skipped_for} succeeds"
                                               if getattr(j, "skipped_for", None) is not None else j.status)
                     for j in o.requeued)]
    if any(j.status in ("queued", "running") for j in o.requeued):
        lines.append(f"Steps still queued run when cycle run `{o.cycle_run_id}` goes on (a decision there is pending).")
    lines.append("Its changes stay undone; it may be suggested again when its trigger fires." if o.of == "revert"
                 else f"`{o.play}` may be suggested again when its trigger fires (status now `{o.status}`).")
    return "\n".join(lines)


def decision_actions(play_run_id: str, o: CycleOutcome) -> list[PlayAction]:
    """After an approve or override: a Pause button while the play run is under way or done."""
    play = next((p for p in o.plays if p["id"] == play_run_id), None)
    return [PlayAction(kind="pause", play_run_id=play_run_id, play=play["play"])] \
        if play and play["status"] in PAUSABLE else []


def follow_up_actions(o: PauseOutcome | ResumeOutcome) -> list[PlayAction]:
    """After a pause, its Resume button; after a pause's resume, Pause again (a revert's lifted hold: none)."""
    if isinstance(o, PauseOutcome):
        return [PlayAction(kind="resume", play_run_id=o.play_run_id, play=o.play)]
    return [PlayAction(kind="pause", play_run_id=o.play_run_id, play=o.play)] if o.status in PAUSABLE else []


def scale_markdown(o: ScaleOutcome, buttons: bool = False) -> str:
    """What a scale from the chat suggested (or, clicked again, the run the first scale suggested): the
    new run, each param before -> after and how (held at its cap), the figures that say it worked, and
    the decision it awaits (``buttons``: the approve / override / reject buttons come with it)."""
    ref = f"`{o.play}` play run `{o.scaled_from}`"
    head = (f"{ref} was already scaled on {o.on} by **{inert(o.who)}** — “{inert(o.why)}”: play run "
            f"`{o.play_run_id}` ({o.status}); nothing suggested twice" if o.already_scaled else
            f"**scale** recorded for {ref} on {o.on} by **{inert(o.who)}** — reason: {inert(o.why)}: "
            f"play run `{o.play_run_id}` suggested (params x{o.factor:g}, never past a step's `max_*` cap)")
    lines = [head, *(f"- step {c.step} {c.name} {c.param}: {c.before} -> {c.after} ({c.how})" for c in o.changes),
             *(f"- worked: {e}" for e in o.evidence)]
    if o.status == "suggested":
        how = "with the buttons below" if buttons else \
            f"(`chimera approve {o.play_run_id}`, `chimera override {o.play_run_id} --reason R --params JSON`, " \
            f"`chimera reject {o.play_run_id} --reason R`)"
        lines.append(f"Next: nothing runs until a person decides play run `{o.play_run_id}`: approve, override or "
                     f"reject it {how}.")
    else:
        lines.append(f"Play run `{o.play_run_id}` is {o.status}: it was decided already; nothing to decide.")
    return "\n".join(lines)
