"""``chimera report``: the offline HTML dashboard of one client (KPIs, trends, plays, evidence)."""

from __future__ import annotations

from pathlib import Path

import typer

from chimera.as_of import reached
from chimera.cli.app import app, out, parse_day
from chimera.clients import get_client
from chimera.report.html import write_report


@app.command("report")
def report(
    client: str = typer.Option(..., "--client", help="Client name."),
    out_path: Path = typer.Option(..., "--out", help="HTML file to write (folders are created)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Report as of this day (default: newest data)."),
) -> None:
    """Write a self-contained HTML report (opens offline) and print its path."""
    path = write_report(client, out_path, reached(get_client(client), parse_day(as_of)))
    out.print(str(path.resolve()), highlight=False, soft_wrap=True)
