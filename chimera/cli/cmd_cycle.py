"""``chimera cycle``, ``approve``, ``override``, ``reject``: the weekly cycle and its decisions."""

from __future__ import annotations

import json
from typing import Any

import typer

from chimera.cli.app import app, emit_json, err, out, parse_day
from chimera.cli.render import print_outcome
from chimera.errors import DecisionError


def _progress(json_out: bool):
    def on_event(event: dict[str, Any]) -> None:
        if event.get("type"):
            err.print(f"[dim]{event.get('node')}: {event.get('type')} {event.get('status')}[/]")

    return on_event


@app.command()
def cycle(
    client: str = typer.Option(..., "--client", help="Client name."),
    as_of: str | None = typer.Option(None, "--as-of", help="Day of the cycle (YYYY-MM-DD); default: newest data."),
    silent: bool = typer.Option(False, "--silent", help="Run up to the decisions and execute nothing (manual §10.5)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Run (or resume) the weekly cycle: ingest, evaluate, evidence, suggest; stops at the decisions."""
    from graphs.service import run_cycle

    outcome = run_cycle(client, as_of=parse_day(as_of), silent=silent, on_event=_progress(json_out))
    if json_out:
        emit_json(outcome.to_json())
    else:
        print_outcome(out, outcome)
    if outcome.status == "failed":  # the document is printed; the exit code says the cycle failed
        raise typer.Exit(1)


def _decide(kind: str, play_run_id: str, reason: str, who: str, params: str | None, json_out: bool) -> None:
    from graphs.service import decide

    parsed = json.loads(params) if params else None
    outcome = decide(play_run_id, kind, who=who, why=reason, params=parsed, on_event=_progress(json_out))
    if json_out:
        emit_json(outcome.to_json())
    else:
        out.print(f"{kind} recorded for {play_run_id} by {who}")
        print_outcome(out, outcome, narratives=False)


WHO = typer.Option("cli", "--who", help="Who decides (recorded with the decision).")


@app.command()
def approve(
    play_run_id: str = typer.Argument(..., help="Play run id from the cycle output."),
    reason: str = typer.Option("", "--reason", help="Why (optional for approve)."),
    who: str = WHO,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Approve a suggested play; the cycle continues with planning and execution (dry run)."""
    _decide("approve", play_run_id, reason, who, None, json_out)


@app.command()
def override(
    play_run_id: str = typer.Argument(..., help="Play run id from the cycle output."),
    reason: str = typer.Option(..., "--reason", help="Why you override the recommendation (required)."),
    params: str | None = typer.Option(None, "--params", help='JSON step parameters, e.g. \'{"change_pct": 5}\'.'),
    who: str = WHO,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Run a suggested play with your changes (and your reason); recorded as an override."""
    if params:
        try:
            parsed = json.loads(params)
        except json.JSONDecodeError as exc:
            raise DecisionError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise DecisionError(f"--params must be a JSON object of step parameters, e.g. "
                                f"'{{\"change_pct\": 5}}' (got {params})")
    _decide("override", play_run_id, reason, who, params, json_out)


@app.command()
def reject(
    play_run_id: str = typer.Argument(..., help="Play run id from the cycle output."),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    who: str = WHO,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Reject a suggested play; nothing of it executes."""
    _decide("reject", play_run_id, reason, who, None, json_out)

