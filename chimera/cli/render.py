"""Rich rendering of a cycle outcome for people (JSON goes through emit_json instead)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

COLORS = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "UNKNOWN": "dim"}


def kpi_table(kpis: list[dict[str, Any]], title: str = "KPI statuses") -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("KPI", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("the numbers", overflow="fold")
    for k in kpis:
        status = k["status"]
        table.add_row(k["id"], f"[{COLORS.get(status, 'white')}]{status}[/]", escape(k.get("note", "")))
    return table


def _fmt(info: dict[str, Any], key: str = "value") -> str:
    """A KPI number as people read it: percents as %, money and counts plainly."""
    raw = info.get(key)
    if raw is None:
        return "—"
    value = float(raw)
    if info.get("unit") == "percent":
        return f"{value * 100:.2f}%"
    if info.get("unit") == "currency":
        return f"{value:,.2f}"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def shown(text: Any) -> str:
    """A model's (or a user's) words as plain text in the terminal: never read as markup (`[/]`
    would crash rich, `[product/x.md]` would vanish), and a lone surrogate, which no terminal
    encoding can print, becomes `?` instead of an exception."""
    return escape(str(text).encode("utf-8", "replace").decode("utf-8"))


def play_panel(p: dict[str, Any]) -> Panel:
    """One recommended play with its explanation: trigger, numbers, rank, SOPs, reversibility."""
    lines = [f"[bold]why[/]: {escape(p.get('reason', ''))}"]
    for kpi, info in (p.get("kpi_values") or {}).items():
        if isinstance(info, dict):
            lines.append(escape(f"  {kpi}: {_fmt(info)} ({info.get('status', '')}; target {_fmt(info, 'target')})"))
    lines.append(f"[bold]rank[/]: {escape(str(p.get('why_rank', '')))}")
    if p.get("sops"):
        lines.append("[bold]SOPs[/]: " + escape(", ".join(p["sops"])))
    kpis = escape(", ".join(p.get("evidence_kpis", [])))
    lines.append(f"[bold]evidence[/]: {kpis} after {p.get('delay_days')} days; "
                 + ("reversible" if p.get("reversible") else "[red]not fully reversible[/]"))
    rationale = (p.get("rationale") or {}).get("summary")
    if rationale:
        lines.append(f"[bold]commander[/]: {shown(rationale)}")
    title = f"#{p.get('rank')} {p.get('label', p.get('play_id'))} — owner {p.get('owner')}"
    if p.get("play_run_id"):
        title += f" — id {p['play_run_id']}"
    return Panel("\n".join(lines), title=escape(title), title_align="left")


_NOT_A_FAILURE = ("no model configured", "templated: this job type is not narrated by a model")


def model_fallbacks(narratives: list[dict[str, Any]]) -> list[str]:
    """Why a configured model's text was not shown (provider failure, guard, budget...), once each."""
    reasons = [n.get("reason") for n in narratives if n.get("source") == "offline"]
    return list(dict.fromkeys(r for r in reasons if r and r not in _NOT_A_FAILURE))


def print_outcome(console: Console, outcome: Any, narratives: bool = True) -> None:
    console.print(kpi_table(outcome.kpis, f"KPI statuses for {outcome.client} as of {outcome.as_of}"))
    if narratives:
        for n in outcome.narratives:
            console.print(f"[cyan]{n.get('owner')}[/] ({n.get('type')}): {shown(n.get('text'))}",
                          highlight=False)
    for p in outcome.plays:
        decision = p.get("decision")
        state = f"{decision['kind']} by {escape(decision['who'])}" if decision else p.get("status")
        console.print(f"play #{p['rank']} {p['play']} ({p['id']}): {state}")
    if outcome.pending:
        console.print("\n[bold]Awaiting your decision[/]:")
        for d in outcome.pending:
            console.print(play_panel(d.model_dump(mode="json")))
        first = outcome.pending[0].play_run_id
        console.print(f"decide with: chimera approve {first} | chimera override {first} --reason '...' | "
                      f"chimera reject {first} --reason '...'")
    for reason in model_fallbacks(outcome.narratives):
        console.print(f"[yellow]model not used[/]: {escape(reason)}; offline narrative shown", highlight=False)
    for j in outcome.jobs:
        if j["status"] == "failed":
            console.print(f"[red]job {j['id']} {j['type']} failed[/]: {escape(j.get('error') or '')}")
    console.print(f"cycle {outcome.run_id}: {outcome.status}; model backend: {outcome.model.get('backend')}")
