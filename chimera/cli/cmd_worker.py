"""``chimera worker``: the background pass — stuck jobs, unfinished cycles, due evidence.

One pass walks every client; a client whose config is broken or whose pass raises is reported by
name and the others still run (an agency's worker must not stall hundreds of clients on one).
"""

from __future__ import annotations

import time
from typing import Any

import typer
from pydantic import BaseModel
from rich.markup import escape

from chimera.cli.app import app, emit_json, err, out, parse_day
from chimera.cli.each_client import ClientFailure, Walk, for_each_client, summary_line
from chimera.clients import list_clients


class WorkerPass(BaseModel):
    """``chimera worker --json``: one document per pass; ``passes`` holds each completed client's
    result (as before), ``failures`` each client that did not complete, with its error."""

    passes: list[dict[str, Any]]
    failures: list[ClientFailure]


def _line(result: dict[str, Any]) -> str:
    return (f"{len(result['stuck_requeued'])} stuck re-queued, {len(result['cycles_resumed'])} cycle(s) resumed, "
            f"{len(result['evidence_jobs_run'])} evidence job(s) run")


@app.command()
def worker(
    client: str | None = typer.Option(None, "--client", help="One client (default: every client)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Day to judge due jobs against (default: newest data)."),
    once: bool = typer.Option(False, "--once", help="One pass, then exit (default: every --interval seconds)."),
    interval: float = typer.Option(300.0, "--interval", help="Seconds between passes."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-queue stuck jobs, resume unfinished cycles, and run evidence jobs whose delay is over.

    A failing client is reported by name and the others still run; with --once the exit code is 1
    when any client failed."""
    from graphs.service import run_due_jobs

    day = parse_day(as_of)
    while True:
        walk: Walk[dict[str, Any]] = for_each_client(
            [client] if client else list_clients(),
            lambda name, note: run_due_jobs(name, day, on_event=lambda e: note(str(e.get("node") or ""))),
            "worker pass", lambda _name, result: _line(result))
        if json_out:
            emit_json(WorkerPass(passes=[d.result for d in walk.done], failures=walk.failures).model_dump(mode="json"))
        else:
            for d in walk.done:
                out.print(f"{d.client}: {_line(d.result)}", highlight=False)
            for f in walk.failures:
                out.print(f"[red]{escape(f.client)}: failed[/]: {escape(f.error)}", highlight=False, soft_wrap=True)
        err.print(summary_line(walk, "worker pass"), highlight=False, soft_wrap=True)
        if once:
            if not walk.ok:
                raise typer.Exit(1)
            return
        time.sleep(interval)
