"""``chimera jobs --client NAME [--status S] [--json]``: what is queued, running, waiting or done,
and why each failed or cancelled job ended so (a play step skipped after an earlier step failed
names that step)."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from chimera.cli.app import app, emit_json, out
from chimera.clients import get_client
from chimera.config.loader import suggest
from chimera.db.engine import session_scope
from chimera.errors import ChimeraError
from chimera.jobs.queue import STATUSES, list_jobs

FIELDS = ("id", "type", "owner", "bot", "action", "status", "attempts", "correlation_id")


@app.command("jobs")
def jobs(
    client: str = typer.Option(..., "--client", help="Client name (chimera client list)."),
    status: str = typer.Option("", "--status", help=f"Only jobs with this status: {', '.join(STATUSES)}."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List a client's jobs, oldest first."""
    if status and status not in STATUSES:
        raise ChimeraError(f"--status {status!r}: expected one of {', '.join(STATUSES)}"
                           f"{suggest(status, list(STATUSES))}")
    ctx = get_client(client)
    with session_scope() as session:
        rows = [{f: getattr(j, f) for f in FIELDS} | {"step": j.step, "play_run_id": j.play_run_id,
                                                       "error": j.error}
                for j in list_jobs(session, ctx.company_id, status or None)]
    if json_out:
        emit_json({"client": ctx.name, "status": status or None, "jobs": rows})
        return
    if not rows:
        out.print(f"no jobs{f' with status {status}' if status else ''} for {ctx.name}")
        return
    out.print(jobs_table(rows, out.width))
    for line in why_lines(rows):
        out.print(escape(line), highlight=False, soft_wrap=True)


WIDE = 120
"""From this terminal width every field has its own column; below it, a type or status folded
mid-word ("INGEST_M / ETRICS") is unreadable, so owner and bot.action share one column and the
correlation id is left to ``--json``."""


def jobs_table(rows: list[dict], width: int) -> Table:
    """The jobs as a table that reads at ``width``: id, type and status are never broken."""
    whole = ("id", "type", "status", "attempts")
    if width >= WIDE:
        table = Table()
        for name in FIELDS:
            table.add_column(name, no_wrap=name in whole, overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(row[f])) for f in FIELDS))
        return table
    table = Table(caption="correlation ids: chimera jobs --json")
    for name in ("id", "type", "status", "tries", "owner / bot.action"):
        table.add_column(name, no_wrap=name != "owner / bot.action", overflow="fold")
    for row in rows:
        step = f"\n{row['bot']}.{row['action']}" if row["bot"] else ""
        table.add_row(str(row["id"]), row["type"], row["status"], str(row["attempts"]), escape(f"{row['owner']}{step}"))
    return table


def why_lines(rows: list[dict]) -> list[str]:
    """One line under the table per failed or cancelled job with its reason: the table has no room
    for it, and "cancelled" alone does not say whether a person held it or an earlier step failed."""
    return [f"job {row['id']} {row['status']}: {row['error']}" for row in rows
            if row["status"] in ("failed", "cancelled") and row.get("error")]
