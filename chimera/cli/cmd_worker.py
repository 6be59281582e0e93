"""``chimera worker``: the background pass — stuck jobs, unfinished cycles, due evidence."""

from __future__ import annotations

import time

import typer

from chimera.cli.app import app, emit_json, out, parse_day
from chimera.clients import list_clients


@app.command()
def worker(
    client: str | None = typer.Option(None, "--client", help="One client (default: every client)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Day to judge due jobs against (default: newest data)."),
    once: bool = typer.Option(False, "--once", help="One pass, then exit (default: every --interval seconds)."),
    interval: float = typer.Option(300.0, "--interval", help="Seconds between passes."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-queue stuck jobs, resume unfinished cycles, and run evidence jobs whose delay is over."""
    from graphs.service import run_due_jobs

    while True:
        results = [run_due_jobs(name, parse_day(as_of))
                   for name in ([client] if client else list_clients())]
        if json_out:
            emit_json({"passes": results})
        else:
            for r in results:
                out.print(f"{r['client']}: {len(r['stuck_requeued'])} stuck re-queued, "
                          f"{len(r['cycles_resumed'])} cycle(s) resumed, "
                          f"{len(r['evidence_jobs_run'])} evidence job(s) run")
        if once:
            return
        time.sleep(interval)
