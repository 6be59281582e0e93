"""``chimera cycle``, ``approve``, ``override``, ``reject``: the weekly cycle and its decisions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from chimera.as_of import behind_note
from chimera.cli.app import app, emit_json, err, fail, in_client_folder, out, parse_day
from chimera.cli.each_client import (
    ALL_HELP,
    ClientFailure,
    Note,
    Walk,
    WalkDocument,
    end_walk,
    every_client,
    redact,
    walk_clients,
)
from chimera.cli.render import cycle_document, data_problem_lines, print_outcome
from chimera.clients import get_client
from chimera.errors import ConfigError, DecisionError

if TYPE_CHECKING:  # the graphs are imported when a cycle runs, not when the CLI starts
    from chimera.db.models import Decision
    from graphs.models import CycleOutcome


def progress_line(event: dict[str, Any]) -> str | None:
    """One stderr line per cycle event: a job's step, a decision taken, or the cycle waiting for one."""
    node = event.get("node")
    if event.get("type"):
        return f"{node}: {event['type']} {event.get('status', '')}".rstrip()
    if event.get("decision"):
        return f"{node}: {event['decision']} of play run {event.get('play_run_id')} by {event.get('who')}"
    if event.get("status") == "waiting":
        return f"{node}: waiting for a person to approve, override or reject a suggested play"
    return None


def print_progress(event: dict[str, Any]) -> None:
    """The ``on_event`` of a cycle run from the CLI: progress goes to stderr (stdout is the report)."""
    line = progress_line(event)
    if line:
        err.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)


class AllCycles(WalkDocument):
    """``chimera cycle --all --json``: each client's cycle document exactly as ``cycle --client``
    prints it, in client order; ``failures`` names each client that did not complete, and why;
    ``stopped`` says why a database failure ended the walk, before ``not_attempted``."""

    as_of: date | None
    cycles: list[dict[str, Any]]


def _document(outcome: CycleOutcome) -> dict[str, Any]:
    """The cycle's JSON document, each play with ``irreversible_steps``: the steps that cannot be
    undone and why (``[]``: every step can be)."""
    from graphs.service import irreversible_by_run

    steps = irreversible_by_run(outcome)
    doc = cycle_document(outcome)
    doc["plays"] = [p | {"irreversible_steps": [s.model_dump() for s in steps.get(p["id"], [])]}
                    for p in doc["plays"]]
    return doc


def irreversible_lines(outcome: CycleOutcome) -> list[str]:
    """For each play awaiting a decision that cannot be fully undone: which step, and why. Printed
    under the proposals, so "not fully reversible" is not a guess about which step it means."""
    from graphs.service import irreversible_by_run

    steps = irreversible_by_run(outcome)
    lines = []
    for d in outcome.pending:
        named = steps.get(d.play_run_id, [])
        head = f"play #{d.rank} {d.play_id} ({d.play_run_id})"
        if named:
            lines += [f"{head} is not fully reversible:", *(f"  {s.text()}" for s in named)]
        elif not d.reversible:  # agents.yml or plays.yml changed since the play was suggested
            lines.append(f"{head} was not fully reversible when suggested; its steps as configured now can "
                         "all be undone (agents.yml or plays.yml changed since)")
    return lines


def _print_irreversible(outcome: CycleOutcome) -> None:
    for line in irreversible_lines(outcome):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _cycle_line(_name: str, outcome: CycleOutcome) -> str:
    kpis = Counter(k["status"] for k in outcome.kpis)
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(kpis.items())) or "none"
    same = f"; same run as before: cycle run {outcome.run_id}, ran at {outcome.ran_at_text()}" if outcome.reused else ""
    note = f"; {outcome.as_of_note}" if outcome.as_of_note else ""  # why it is shown, not live, or of the day before
    resolved = f"; {outcome.resolved['text']}" if outcome.resolved and outcome.resolved.get("text") else ""
    return (f"{outcome.status} as of {outcome.as_of}; KPIs {statuses}; {len(outcome.plays)} play(s), "
            f"{len(outcome.pending)} awaiting a decision{same}{note}{resolved}")


def _failed_cycle(name: str, outcome: CycleOutcome) -> ClientFailure | None:
    """A cycle that ran but ended failed counts as the client's failure, with its jobs' errors; so
    does one of a client with no data at all (one row of hundreds reading 0/0/0/17 UNKNOWN, exit
    0, while ``chimera daily`` exits 1 for it)."""
    if outcome.kpis and all(k.get("data_through") is None for k in outcome.kpis):
        return ClientFailure(client=name, run_id=outcome.run_id, error=_no_data(name, outcome.as_of))
    if outcome.status != "failed" or (outcome.resolved or {}).get("all"):  # every failed job succeeded since
        return None
    errors = "; ".join(f"job {j['id']} {j['type']}: {j.get('error') or 'failed'}" for j in outcome.jobs
                       if j["status"] == "failed") or "the cycle failed"
    return ClientFailure(client=name, error=redact(errors), run_id=outcome.run_id)


def _no_data(name: str, as_of: date) -> str:
    """Why every KPI is UNKNOWN: no data at all, or none up to ``as_of`` (a replay of a day before the
    first export's: "no data ingested ... list the client's exports" sent a client with months of
    data to fix its client.yml)."""
    from sqlmodel import select

    from chimera.db.engine import session_scope
    from chimera.db.models import Company
    from chimera.metrics import data_span

    with session_scope() as s:
        company = s.exec(select(Company).where(Company.name == name)).first()
        span = data_span(s, company.id) if company is not None and company.id is not None else None
    if span is not None and span[0] > as_of:
        return (f"no data up to {as_of}: every KPI is UNKNOWN; {name}'s data runs from {span[0]} to {span[1]}: pass "
                f"an --as-of from {span[0]} on")
    return ("no data ingested: every KPI is UNKNOWN; list the client's exports under sources in its client.yml, "
            f"or chimera ingest FILE --client {name}")


def _cycle_all(as_of: date | None, silent: bool, json_out: bool) -> None:
    """Every client's cycle in one command; one client's failure never stops the others, a failure of
    the database does (each client after it would fail the same way, slowly): the clients not
    attempted are named and the exit code is 1, as the worker's pass."""
    from graphs.service import run_cycle

    documents: dict[str, dict[str, Any]] = {}

    def one(name: str, note: Note) -> CycleOutcome:
        outcome = run_cycle(name, as_of=as_of, silent=silent,
                            on_event=lambda e: note(f"{e.get('node')} {e.get('type') or ''}".strip()))
        if json_out:  # read now: after a database failure later in the walk, it could not be
            documents[name] = _document(outcome)
        return outcome

    walk = walk_clients(one, "weekly cycle", _cycle_line, check=_failed_cycle)
    if json_out:
        emit_json(AllCycles.of(walk, as_of=as_of, cycles=[documents[d.client] for d in walk.done])
                  .model_dump(mode="json"))
    else:
        _print_summary(walk)
    end_walk(walk, "weekly cycle")


def _print_summary(walk: Walk[CycleOutcome]) -> None:
    """Per client: status, KPI counts, plays and pending decisions; then each failure's error."""
    table = Table(title="Weekly cycle for every client", caption="KPIs: OK / WARNING / CRITICAL / UNKNOWN")
    for column in ("client", "status", "as of", "KPIs", "plays", "pending", "s"):  # fits 80 columns
        table.add_column(column, no_wrap=column in ("client", "as of", "KPIs"), overflow="fold")
    failed = {f.client for f in walk.failures}
    for d in walk.done:
        o = d.result
        n = Counter(k["status"] for k in o.kpis)
        status = f"{o.status} (same run)" if o.reused else o.status
        table.add_row(escape(d.client), f"[red]{status}[/]" if d.client in failed else status, str(o.as_of),
                      "/".join(str(n[s]) for s in ("OK", "WARNING", "CRITICAL", "UNKNOWN")),
                      str(len(o.plays)), str(len(o.pending)), f"{d.seconds:.2f}")
    for f in walk.failures:
        if f.run_id is None:  # it never returned an outcome
            table.add_row(escape(f.client), "[red]error[/]", "", "", "", "", "")
    for name in walk.not_attempted:
        table.add_row(escape(name), "[yellow]not attempted[/]", "", "", "", "", "")
    out.print(table)
    for f in walk.failures:
        out.print(f"[red]{escape(f.client)} failed[/]: {escape(f.error)}", highlight=False, soft_wrap=True)
    for d in walk.done:
        for line in data_problem_lines(d.result.data_problems, d.client):
            out.print(f"[yellow]{escape(d.client)}[/]: {escape(line)}", highlight=False, soft_wrap=True)


@app.command()
def cycle(
    client: str | None = typer.Option(None, "--client", help="Client name (or --all)."),
    all_clients: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help="Day of the cycle (YYYY-MM-DD); default: newest data."),
    silent: bool = typer.Option(False, "--silent", help="Run up to the decisions and execute nothing (manual §10.5)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Run (or resume) the weekly cycle: ingest, evaluate, evidence, suggest; stops at the decisions."""
    if every_client(client, all_clients):
        _cycle_all(parse_day(as_of), silent, json_out)
        return
    from graphs.service import run_cycle

    outcome = run_cycle(client, as_of=parse_day(as_of), silent=silent, on_event=print_progress)
    if outcome.as_of_note:
        err.print(outcome.as_of_note, highlight=False, soft_wrap=True)
    behind = behind_note(get_client(outcome.client), outcome.as_of) if as_of is None else ""
    if behind:  # the exports in the client's folder were not refreshed: the cycle judged an old week
        err.print(f"note: {behind}", highlight=False, markup=False, soft_wrap=True)
    if json_out:
        emit_json(_document(outcome))
        if outcome.reused:
            err.print(outcome.reused_note(), markup=False, highlight=False, soft_wrap=True)
    else:
        print_outcome(out, outcome)
        _print_irreversible(outcome)
        if outcome.reused:
            out.print(outcome.reused_note(), markup=False, highlight=False, soft_wrap=True)
    failure = _failed_cycle(outcome.client, outcome)
    if failure is not None:  # the document is printed; the exit code and one line say why it failed
        fail(f"cycle {outcome.run_id} failed: {failure.error}")
        raise typer.Exit(1)


def _decide(kind: str, play_run_id: str, reason: str, who: str | None, params: dict[str, Any] | None,
            json_out: bool) -> None:
    """Record the decision and continue the cycle; an identical repeat only resumes it, and says so."""
    from agents.decisions import person
    from graphs.service import decide

    who = person(who)
    earlier, _ = recorded(play_run_id)
    try:
        outcome = decide(play_run_id, kind, who=who, why=reason, params=params, on_event=print_progress)
    except ConfigError as exc:  # the play run's client's files, by their path: the command named no client
        client = _client_of(play_run_id)
        raise (in_client_folder(exc, client) if client else exc) from exc
    if earlier is not None:  # decide() refuses any other second decision, so this one is the same
        line = (f"play run {play_run_id} was already {PAST.get(earlier.kind, earlier.kind)} by {earlier.who} "
                f"at {earlier.at:%Y-%m-%d %H:%M} UTC: nothing new recorded")
    else:
        line = f"{kind} recorded for {play_run_id} by {who}{_changed(play_run_id, kind)}"
    if json_out:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
        emit_json(_document(outcome))
    else:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
        print_outcome(out, outcome, narratives=False)
        _print_irreversible(outcome)


PAST = {"approve": "approved", "override": "overridden", "reject": "rejected"}


def recorded(play_run_id: str) -> tuple[Decision | None, list[dict[str, Any]]]:
    """The decision already on a play run, and what its override changed (empty for others)."""
    from agents.decisions import recorded_decision
    from chimera.db.engine import session_scope
    from chimera.db.models import PlayRun

    with session_scope() as s:
        decision, run = recorded_decision(s, play_run_id), s.get(PlayRun, play_run_id)
        if decision is not None:
            s.expunge(decision)
        return decision, list(((run.rationale if run else None) or {}).get("override_changes") or [])


def _client_of(play_run_id: str) -> str | None:
    """The name of the client a play run is of (None for an unknown id)."""
    from chimera.db.engine import session_scope
    from chimera.db.models import Company, PlayRun

    with session_scope() as s:
        run = s.get(PlayRun, play_run_id)
        company = s.get(Company, run.company_id) if run is not None else None
        return company.name if company is not None else None


def _changed(play_run_id: str, kind: str) -> str:
    """``: what the override changed`` (nothing for approve and reject)."""
    from agents.decisions import describe_changes

    return f": {describe_changes(recorded(play_run_id)[1])}" if kind == "override" else ""


WHO = typer.Option(None, "--who", help="Who decides (recorded with the decision; default: your OS user name).")


@app.command()
def approve(
    play_run_id: str = typer.Argument(..., help="Play run id from the cycle output."),
    reason: str = typer.Option("", "--reason", help="Why (optional for approve)."),
    who: str | None = WHO,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Approve a suggested play; the cycle continues with planning and execution (dry run)."""
    _decide("approve", play_run_id, reason, who, None, json_out)


@app.command()
def override(
    play_run_id: str = typer.Argument(..., help="Play run id from the cycle output."),
    reason: str = typer.Option(..., "--reason", help="Why you override the recommendation (required)."),
    params: str | None = typer.Option(None, "--params", help='JSON step parameters, e.g. \'{"change_pct": 5}\'; '
                                                             "only parameters the play's steps accept."),
    who: str | None = WHO,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Run a suggested play with your changes (and your reason); recorded as an override."""
    _decide("override", play_run_id, reason, who, _parsed_params(params), json_out)


def _parsed_params(params: str | None) -> dict[str, Any] | None:
    """``--params`` as a JSON object (``decide`` checks its keys against the play's steps)."""
    if not params:
        return None
    try:
        parsed = json.loads(params)
    except json.JSONDecodeError as exc:
        raise DecisionError(f"--params is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise DecisionError(f"--params must be a JSON object of step parameters, e.g. "
                            f"'{{\"change_pct\": 5}}' (got {params})")
    return parsed


@app.command()
def reject(
    play_run_id: str = typer.Argument(..., help="Play run id from the cycle output."),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    who: str | None = WHO,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Reject a suggested play; nothing of it executes."""
    _decide("reject", play_run_id, reason, who, None, json_out)
