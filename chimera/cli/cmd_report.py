"""``chimera report``: the offline HTML dashboard of one client (KPIs, trends, plays, evidence) and,
printed, its weekly review of plays (continue / stop / keep watching) with the pauses and reverts."""

from __future__ import annotations

from pathlib import Path

import typer

from chimera.as_of import reached
from chimera.cli.app import app, emit_json, err, out, parse_day
from chimera.clients import get_client
from chimera.plays.holds import stop_line
from chimera.plays.weekly_review import review_line
from chimera.report.data import ReportData
from chimera.report.html import save_report


@app.command("report")
def report(
    client: str = typer.Option(..., "--client", help="Client name."),
    out_path: Path = typer.Option(..., "--out", help="HTML file to write (folders are created)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Report as of this day (default: newest data)."),
    json_out: bool = typer.Option(False, "--json", help="Print the path, the weekly review and the pauses and "
                                                        "reverts as one JSON document."),
) -> None:
    """Write a self-contained HTML report (opens offline), print its path and the weekly review of plays."""
    path, data = save_report(client, out_path, reached(get_client(client), parse_day(as_of)))
    for line in note_lines(data):  # on stderr, as chimera kpis and cycle say them: stdout stays the path
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if json_out:
        note = {"as_of_note": data.as_of_note} if data.as_of_note else {}  # as kpis and evidence --json
        emit_json({"client": data.client, "as_of": data.as_of.isoformat(), **note, "path": str(path.resolve()),
                   "review": [r.model_dump(mode="json") for r in data.review],
                   "stopped": [s.model_dump(mode="json") for s in data.stopped]})
        return
    out.print(str(path.resolve()), markup=False, highlight=False, soft_wrap=True)  # a path is text
    for line in review_lines(data):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def note_lines(data: ReportData) -> list[str]:
    """What the report's header warns of: no data at all, the newest day left out, data days old."""
    if data.no_data:
        return [f"note: no data has been ingested for {data.client}: every KPI in the report is UNKNOWN "
                f"(chimera ingest FILE --client {data.client})"]
    return [line for line in (data.as_of_note, data.behind_note and f"note: {data.behind_note}") if line]


def review_lines(data: ReportData) -> list[str]:
    """The weekly review under the path: one line per judged run, then each pause and revert."""
    if not data.review:
        lines = ["weekly review: no executed play has a verdict yet"]
    else:
        lines = [f"weekly review ({len(data.review)} play run(s) with a verdict; fixed rules, first match wins):"]
        lines += [f"  {review_line(r)}" for r in data.review]
    if data.stopped:
        lines.append("paused and reverted plays:")
        lines += [f"  {stop_line(s)}" for s in data.stopped]
    return lines
