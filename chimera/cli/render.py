"""Rich rendering of a cycle outcome for people (JSON goes through emit_json instead)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chimera.jobs.queue import SKIPPED
from chimera.kpi.fmt import fmt

if TYPE_CHECKING:  # the graphs are imported when a cycle runs, not when the CLI starts
    from graphs.models import CycleOutcome

COLORS = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "UNKNOWN": "dim"}


def kpi_table(kpis: list[dict[str, Any]], title: str = "KPI statuses") -> Table:
    """KPI, status and note; a client's long KPI id folds within 28 columns instead of squeezing the
    note to three characters a line on 80 columns (ids and notes are plain text, never markup)."""
    table = Table(title=escape(title), show_lines=False)
    table.add_column("KPI", overflow="fold", max_width=28)
    table.add_column("status", no_wrap=True)
    table.add_column("the numbers", overflow="fold", min_width=30)
    for k in kpis:
        status = k["status"]
        table.add_row(Text(str(k["id"])), Text(str(status), style=COLORS.get(status, "white")),
                      Text(str(k.get("note", ""))))
    return table


@dataclass
class StoredExtras:
    """What a cycle outcome does not carry but its explanation needs: each play run's stored
    explanation (SOPs, KPI values) and the plays that triggered but were held back (the
    SUGGEST_PLAYS job's ``not_selected``)."""

    explanations: dict[str, dict[str, Any]] = field(default_factory=dict)
    held_back: list[dict[str, Any]] = field(default_factory=list)


def stored_extras(outcome: CycleOutcome) -> StoredExtras:
    """Read once from the database: the outcome lists jobs without their results."""
    from sqlmodel import col, select

    from chimera.db.engine import session_scope
    from chimera.db.models import Job, PlayRun
    from chimera.plays.rank import held_back

    ids = [p["id"] for p in outcome.plays]
    jobs = [j["id"] for j in outcome.jobs if j.get("type") == "SUGGEST_PLAYS" and j.get("id") is not None]
    if not ids and not jobs:  # nothing stored to read: no database is opened
        return StoredExtras()
    with session_scope() as s:
        runs = s.exec(select(PlayRun).where(col(PlayRun.id).in_(ids))).all() if ids else []
        explanations = {r.id: dict(r.explanation or {}) for r in runs}
        job = s.exec(select(Job).where(col(Job.id).in_(jobs)).order_by(col(Job.id).desc())).first() if jobs else None
        not_selected = list((job.result or {}).get("not_selected") or []) if job is not None else []
    return StoredExtras(explanations, held_back(not_selected))


def cycle_document(outcome: CycleOutcome, extras: StoredExtras | None = None) -> dict[str, Any]:
    """The ``cycle --json`` document: the outcome's, each play with its stored ``sops`` and
    structured ``kpi_values`` (numbers as strings), and ``held_back``: every recommendation carries
    its explanation, and a cycle that suggests nothing says which plays triggered and why they wait."""
    extras = extras or stored_extras(outcome)
    doc = outcome.to_json()
    doc["plays"] = [p | {"sops": list(extras.explanations.get(p["id"], {}).get("sops") or []),
                         "kpi_values": dict(extras.explanations.get(p["id"], {}).get("kpi_values") or {})}
                    for p in doc["plays"]]
    doc["held_back"] = extras.held_back
    return doc


def data_problem_lines(problems: list[dict[str, Any]], client: str = "") -> list[str]:
    """One plain line per export the cycle could not read or that had rejected rows; the command that
    lists the rejected rows names the export's full path and the client, so it runs as printed."""
    return [f"{p['file']} not read ({p.get('error', '')}): the cycle went on without it; its KPIs read stale"
            if p.get("problem") == "not read" else
            f"{p['file']}: {p.get('rejected')} row(s) rejected ({_ingest_hint(p['file'], client)} lists each)"
            for p in problems]


def _ingest_hint(file: str, client: str) -> str:
    """``chimera ingest PATH --client NAME`` for an export named in the client's ``client.yml``
    (the cycle records only its file name; a relative path is the client folder's)."""
    if not client:
        return f"chimera ingest {shlex.quote(file)}"
    from chimera import settings
    from chimera.clients import load_client_config
    from chimera.errors import ChimeraError

    folder = settings.client_dir(client)
    try:
        paths = [folder / s.path for s in load_client_config(folder, client).sources]
    except ChimeraError:  # an unreadable client.yml: the cycle said so already; name the file alone
        paths = []
    path = next((str(p) for p in paths if p.name == file), file)
    return f"chimera ingest {shlex.quote(path)} --client {shlex.quote(client)}"


def held_back_lines(held: list[dict[str, Any]]) -> list[str]:
    """One plain line per play that triggered but was not suggested, saying why (never markup)."""
    if not held:
        return []
    head = f"{len(held)} play(s) triggered but held back:"
    return [head, *(f"  {h['play']}: {h['why_held']}" for h in held)]


def client_currency(client: str) -> str | None:
    """The currency client ``client``'s client.yml names (how its money reads); None when it has
    none to read (an outcome of no stored client) or the file is refused (the command says so)."""
    from chimera import settings
    from chimera.clients import load_client_config
    from chimera.errors import ChimeraError

    folder = settings.client_dir(client) if client else None
    if folder is None or not (folder / "client.yml").exists():
        return None
    try:
        return load_client_config(folder, client).currency
    except (ChimeraError, ValueError):
        return None


def _fmt(info: dict[str, Any], key: str = "value", currency: str | None = None) -> str:
    """A KPI number as ``chimera kpis`` and the play's reason show it (``chimera.kpi.fmt``, decimal
    half-up, money in ``currency``'s smallest unit): rounded as a float, 0.020050 read 2.00% beside
    their 2.01%, and a dinar sum lost its fils."""
    raw = info.get(key)
    if raw is None:
        return "—"
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return str(raw)
    unit = str(info.get("unit") or ("count" if value == value.to_integral_value() else "ratio"))  # older records
    return fmt(value, unit, currency)


def _thresholds(info: dict[str, Any], currency: str | None = None) -> str:
    """All three lines, so a status the thresholds do not explain (an anomaly) is not read as a
    breach of the target: ``target 100, warning 80, critical 50``."""
    return ", ".join(f"{key} {_fmt(info, key, currency)}" for key in ("target", "warning", "critical")
                     if info.get(key) is not None)


def shown(text: Any) -> str:
    """A model's (or a user's) words as plain text in the terminal: never read as markup (`[/]`
    would crash rich, `[product/x.md]` would vanish), and a lone surrogate, which no terminal
    encoding can print, becomes `?` instead of an exception. Trailing backslashes stay as typed:
    rich's ``escape`` doubles them for a closing tag that would follow, and none does here
    (`C:\\exports\\` printed with two at the end), so the result must not be followed by a tag."""
    plain = str(text).encode("utf-8", "replace").decode("utf-8")
    body = plain.rstrip("\\")
    return escape(body) + plain[len(body):]


def play_panel(p: dict[str, Any], currency: str | None = None) -> Panel:
    """One recommended play with its explanation: trigger, numbers (money in ``currency``'s smallest
    unit), rank, SOPs, reversibility."""
    lines = [f"[bold]why[/]: {shown(p.get('reason', ''))}"]
    for kpi, info in (p.get("kpi_values") or {}).items():
        if isinstance(info, dict):
            numbers = f"{_fmt(info, currency=currency)} ({info.get('status', '')}; {_thresholds(info, currency)})"
            lines.append(shown(f"  {kpi}: {numbers}"))
    lines.append(f"[bold]rank[/]: {shown(p.get('why_rank', ''))}")
    if p.get("sops"):
        lines.append("[bold]SOPs[/]: " + shown(", ".join(p["sops"])))
    kpis = shown(", ".join(p.get("evidence_kpis", [])))
    lines.append(f"[bold]evidence[/]: {kpis} after {p.get('delay_days')} days; {_reversible(p)}")
    lines += [f"  {shown(step)}" for step in irreversible_texts(p.get("irreversible_steps"))]
    rationale = (p.get("rationale") or {}).get("summary")
    if rationale:
        lines.append(f"[bold]commander[/]: {shown(rationale)}")
    # the id first: a long label or owner is cut at the panel's width, and the id is what you type
    run_id = f" id {p['play_run_id']} —" if p.get("play_run_id") else ""
    title = f"#{p.get('rank')}{run_id} {p.get('label', p.get('play_id'))} — owner {p.get('owner')}"
    return Panel("\n".join(lines), title=Text(title), title_align="left")


def irreversible_texts(steps: list[dict[str, Any]] | None) -> list[str]:
    """Each step that cannot be undone as ``step N bot.action: why`` (``IrreversibleStep.text``)."""
    from agents.bots.base import IrreversibleStep

    return [IrreversibleStep.model_validate(s).text() for s in steps or []]


def _reversible(p: dict[str, Any]) -> str:
    """Whether the play can be undone; when not, the steps are listed under it (``irreversible_steps``),
    or the line says why none is named: the configs changed since it was suggested (``[]``), or its
    steps are not known (no ``irreversible_steps``: a card of another source)."""
    steps = p.get("irreversible_steps")
    if steps:
        return "[red]not fully reversible[/]: these steps cannot be undone:"
    if p.get("reversible"):
        return "reversible"
    if steps is None:
        return "[red]not fully reversible[/]"
    return ("[red]not fully reversible[/] when suggested; its steps as configured now can all be undone "
            "(agents.yml or plays.yml changed since)")


_NOT_A_FAILURE = ("no model configured", "templated: this job type is not narrated by a model")


def model_fallbacks(narratives: list[dict[str, Any]]) -> list[str]:
    """Why a configured model's text was not shown (provider failure, guard, budget...), once each."""
    reasons = [n.get("reason") for n in narratives if n.get("source") == "offline"]
    return list(dict.fromkeys(r for r in reasons if r and r not in _NOT_A_FAILURE))




def is_skipped(job: dict[str, Any]) -> bool:
    """A cycle job cancelled because an earlier step of its play failed for good (not applied)."""
    return job.get("status") == "cancelled" and str(job.get("error") or "").startswith(SKIPPED)


def _step_name(job: dict[str, Any]) -> str:
    return f" {job['bot']}.{job['action']}" if job.get("bot") else ""


def print_outcome(console: Console, outcome: Any, narratives: bool = True,
                  extras: StoredExtras | None = None) -> None:
    extras = extras or stored_extras(outcome)
    console.print(kpi_table(outcome.kpis, f"KPI statuses for {outcome.client} as of {outcome.as_of}"))
    if narratives:
        for n in outcome.narratives:
            console.print(f"[cyan]{n.get('owner')}[/] ({n.get('type')}): {shown(n.get('text'))}",
                          highlight=False)
    for p in outcome.plays:
        decision = p.get("decision")
        state = f"{decision['kind']} by {shown(decision['who'])}" if decision else p.get("status")
        console.print(f"play #{p['rank']} {p['play']} ({p['id']}): {state}")
    for line in held_back_lines(extras.held_back):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for line in data_problem_lines(outcome.data_problems, outcome.client):
        console.print(f"[yellow]data[/]: {shown(line)}", highlight=False, soft_wrap=True)
    if outcome.pending:
        console.print("\n[bold]Awaiting your decision[/]:")
        currency = client_currency(outcome.client)
        for d in outcome.pending:
            console.print(play_panel(d.model_dump(mode="json"), currency))
        first = outcome.pending[0].play_run_id
        console.print(f"decide with: chimera approve {first} | chimera override {first} --reason '...' | "
                      f"chimera reject {first} --reason '...'", highlight=False, soft_wrap=True)  # copyable
    for reason in model_fallbacks(outcome.narratives):
        console.print(f"[yellow]model not used[/]: {shown(reason)}; offline narrative shown", highlight=False)
    for j in outcome.jobs:
        if j["status"] == "failed":
            console.print(f"[red]job {j['id']} {j['type']} failed[/]: {shown(j.get('error') or '')}")
        elif is_skipped(j):
            console.print(f"[yellow]job {j['id']} {j['type']}{_step_name(j)} cancelled[/]: {shown(j['error'])}",
                          highlight=False, soft_wrap=True)
    console.print(f"cycle {outcome.run_id}: {outcome.status}; model backend: {outcome.model.get('backend')}")
