"""``chimera jobs --client NAME | --all [--status S] [--json]``: what is queued, running, waiting or done,
and why each failed or cancelled job ended so (a play step skipped after an earlier step failed
names that step)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from chimera.cli.app import app, emit_json, out
from chimera.cli.each_client import (
    ALL_HELP,
    WalkDocument,
    end_walk,
    every_client,
    print_failures,
    walk_clients,
    walk_table,
)
from chimera.clients import get_client
from chimera.config.loader import suggest
from chimera.db.engine import session_scope
from chimera.errors import ChimeraError
from chimera.jobs.queue import STATUSES, list_jobs

FIELDS = ("id", "type", "owner", "bot", "action", "status", "attempts", "correlation_id")


@app.command("jobs")
def jobs(
    client: str | None = typer.Option(None, "--client", help="Client name (chimera client list), or --all."),
    all_clients: bool = typer.Option(False, "--all", help=ALL_HELP),
    status: str = typer.Option("", "--status", help=f"Only jobs with this status: {', '.join(STATUSES)}."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List a client's jobs, oldest first."""
    if status and status not in STATUSES:
        raise ChimeraError(f"--status {status!r}: expected one of {', '.join(STATUSES)}"
                           f"{suggest(status, list(STATUSES))}")
    if every_client(client, all_clients):
        _jobs_all(status, json_out)
        return
    assert client is not None
    doc = _jobs_document(client, status)
    if json_out:
        emit_json(doc)
        return
    rows = doc["jobs"]
    if not rows:
        out.print(f"no jobs{f' with status {status}' if status else ''} for {doc['client']}")
        return
    out.print(jobs_table(rows, out.width))
    for line in why_lines(rows):
        out.print(escape(line), highlight=False, soft_wrap=True)


def _jobs_document(client: str, status: str) -> dict[str, Any]:
    """The ``jobs --client NAME --json`` document: the client's jobs (of ``status``), oldest first."""
    ctx = get_client(client)
    with session_scope() as session:
        rows = [{f: getattr(j, f) for f in FIELDS} | {"step": j.step, "play_run_id": j.play_run_id,
                                                       "error": j.error}
                for j in list_jobs(session, ctx.company_id, status or None)]
    return {"client": ctx.name, "status": status or None, "jobs": rows}


class AllJobs(WalkDocument):
    """``chimera jobs --all --json``: each client's ``jobs --client NAME --json`` document under
    ``jobs``."""

    status: str | None
    jobs: list[dict[str, Any]]


def _counts(rows: list[dict[str, Any]]) -> str:
    """``3 succeeded, 1 failed``: how many jobs have each status (in the queue's order)."""
    counts = Counter(row["status"] for row in rows)
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) or "no jobs"


def _jobs_all(status: str, json_out: bool) -> None:
    """Every client's jobs: how many of each status, and why each failed or cancelled job ended so."""
    walk = walk_clients(lambda name, _note: _jobs_document(name, status), "jobs",
                        lambda _name, doc: _counts(doc["jobs"]))
    if json_out:
        emit_json(AllJobs.of(walk, status=status or None, jobs=[d.result for d in walk.done])
                  .model_dump(mode="json"))
    else:
        table = walk_table(f"Jobs{f' with status {status}' if status else ''} for every client", ("client", "jobs"))
        for d in walk.done:
            table.add_row(escape(d.client), _counts(d.result["jobs"]))
        out.print(table)
        for d in walk.done:
            for line in why_lines(d.result["jobs"]):
                out.print(f"{escape(d.client)}: {escape(line)}", highlight=False, soft_wrap=True)
        print_failures(walk)
    end_walk(walk, "jobs")


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
