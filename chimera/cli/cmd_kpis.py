"""``chimera kpis --client NAME [--as-of D] [--json] [--calibrate [--yes]]``."""

from __future__ import annotations

import getpass
import sys
from datetime import date

import typer
from rich.table import Table

from chimera.as_of import behind_note, reached
from chimera.cli.app import app, emit_json, err, out, parse_day
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.kpi.calibrate import apply_calibration, propose_calibration
from chimera.kpi.evaluate import evaluate_kpis, judged_day
from chimera.kpi.fmt import fmt, fmt_apart, fmt_bound
from chimera.kpi.models import KPIReport, Proposal

COLOURS = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "UNKNOWN": "dim"}
CALIBRATE_REASON = "monthly recalibration to the last 8 weekly values (chimera kpis --calibrate)"



@app.command("kpis")
def kpis(
    client: str = typer.Option(..., "--client", help="Client name (chimera client list)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Judge as of this day (YYYY-MM-DD); default: newest data."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
    calibrate: bool = typer.Option(False, "--calibrate", help="Propose thresholds from the last 8 weeks."),
    yes: bool = typer.Option(False, "--yes", help="With --calibrate: write the proposals without asking."),
    owner: str = typer.Option("", "--owner", help="With --calibrate: who owns the change (default: you)."),
    reason: str = typer.Option(CALIBRATE_REASON, "--reason", help="With --calibrate: changelog reason."),
) -> None:
    """Judge every KPI of a client: status, value, thresholds and a one-line note."""
    ctx = get_client(client)
    day = reached(ctx, parse_day(as_of))
    if calibrate:
        _calibrate(ctx, day, json_out, yes, owner or getpass.getuser(), reason)
        return
    report = evaluate_kpis(ctx, as_of=day, store=False)
    if report.as_of_note:
        err.print(report.as_of_note, highlight=False, soft_wrap=True)
    behind = behind_note(ctx, report.as_of) if day is None else ""
    if behind:
        err.print(f"note: {behind}", highlight=False, markup=False, soft_wrap=True)
    if json_out:
        emit_json(report.to_json())
    else:
        out.print(_table(report, ctx.config.currency))


def _table(report: KPIReport, currency: str | None = None) -> Table:
    """Value and thresholds with money in ``currency``'s own smallest unit (yen whole, dinars in fils)."""
    table = Table(title=f"KPIs of {report.client} as of {report.as_of}", title_justify="left")
    wide = out.width >= 140
    for col in ("KPI", "status", "value", "target / warn / crit") if wide else ("KPI", "status", "value"):
        table.add_column(col, no_wrap=True)
    table.add_column("note", overflow="fold", ratio=1, min_width=24)
    for k in report.kpis:
        colour = COLOURS[k.status]
        limits = [k.target, k.warning, k.critical]
        bounds = " / ".join(fmt_bound(v, k.unit, currency) for v in limits)
        value = fmt_apart(k.value, k.unit, limits, currency=currency)  # never shown on a bound it is short of
        cells = [k.id, f"[{colour}]{k.status}[/]", value, bounds] if wide else [k.id, f"[{colour}]{k.status}[/]", value]
        table.add_row(*cells, k.note)
    return table


def _calibrate(ctx: ClientContext, day: date | None, json_out: bool, yes: bool, owner: str, reason: str) -> None:
    if day is None:
        with session_scope() as session:
            day = judged_day(session, ctx)
    proposals = propose_calibration(ctx, day)
    usable = [p for p in proposals if p.enough_history and p.proposed]
    written: list[str] = []
    if not json_out:
        out.print(proposal_table(ctx.name, proposals, currency=ctx.config.currency))
    if usable and (yes or (not json_out and _confirmed(f"Write {len(usable)} KPI(s) to kpis.yml?"))):
        written = apply_calibration(ctx, usable, owner=owner, reason=reason)
    if json_out:
        emit_json({"client": ctx.name, "as_of": day.isoformat(),
                   "proposals": [p.to_json() for p in proposals], "written": written})
    elif written:
        out.print(f"wrote {', '.join(written)} to {ctx.folder / 'kpis.yml'} and logged the change", markup=False)
    else:
        out.print("nothing written")


def _confirmed(question: str) -> bool:
    """Ask; no answer at all (stdin at its end: a script, cron, a pipe) is a "no" that says how to
    write without asking, not "aborted" and exit 1. Ctrl-C at a terminal still aborts."""
    try:
        return typer.confirm(question)
    except typer.Abort:
        if sys.stdin.isatty():
            raise
        err.print("no answer on stdin: pass --yes to write the proposals without asking", highlight=False)
        return False


def proposal_table(client: str, proposals: list[Proposal], title: str = "", currency: str | None = None) -> Table:
    """Each KPI's thresholds, current -> proposed, and why (also the monthly review's target changes);
    money in ``currency``'s own smallest unit."""
    table = Table(title=title or f"Calibration proposals for {client}", title_justify="left")
    table.add_column("KPI", no_wrap=True)  # an id is never broken across lines (the why column folds)
    for col in ("target", "warning", "critical", "why"):
        table.add_column(col, overflow="fold")
    for p in proposals:
        def cell(key: str, p: Proposal = p) -> str:
            now = fmt(p.current.get(key), p.unit, currency)
            new = p.proposed.get(key)
            if new is None or new == p.current.get(key):
                return now
            return f"{now} -> [bold]{fmt(new, p.unit, currency)}[/]"
        table.add_row(p.kpi, cell("target"), cell("warning"), cell("critical"),
                      p.reason if p.enough_history else f"[dim]{p.reason}[/]")
    return table
