"""``chimera play clear-review``: a person takes a play out of review (manual §8.3); ``chimera play
revert``: a person undoes an executed play (manual §6.2, plays to continue or stop)."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from chimera.cli.app import emit_json, out, parse_day, play_app
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.plays.revert import RevertOutcome, revert


@play_app.command("clear-review")
def clear_review_cmd(
    play: str = typer.Argument(..., help="Play id."),
    client: str = typer.Option(..., "--client", help="Client name."),
    reason: str = typer.Option(..., "--reason", help="Why it may trigger again (recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who clears it (recorded; default: your OS user name)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Let a play that was put under review trigger again; who and why are kept in its record."""
    from agents.decisions import person
    from chimera.plays.review import clear_review

    who = person(who)  # a person, as for approve/override/reject: 'cli' would name no one to ask
    ctx = get_client(client)
    ctx.configs.play(play)  # unknown play -> clear error with a suggestion
    with session_scope() as s:
        row = clear_review(s, ctx.company_id, play, who, reason)
        record = dict(row.record)
    if json_out:
        emit_json({"client": client, "play": play, "under_review": False, "record": record})
    else:
        out.print(f"{play} cleared for {client} by {escape(who)}: it may trigger again")


@play_app.command("revert")
def revert_cmd(
    play_run_id: str = typer.Argument(..., help="Play run id of an executed play (cycle or jobs output)."),
    reason: str | None = typer.Option(None, "--reason", help="Why it is undone (required; recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who reverts it (recorded; default: your OS user name)."),
    on: str | None = typer.Option(None, "--on", help="Day it is undone, YYYY-MM-DD (default: today, store time); "
                                                     "evidence credits the play only before it."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Undo an executed play: inverse ChangeSets through the same adapter (dry run: outbox assets)."""
    from agents.decisions import person

    outcome = revert(play_run_id, person(who), reason, parse_day(on, "--on"))
    if json_out:
        emit_json(outcome.model_dump(mode="json"))
        return
    for line in revert_lines(outcome):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def revert_lines(outcome: RevertOutcome) -> list[str]:
    """The revert for a person: what was undone and where the restoring asset is, what is left to
    do by hand, and from which day the evidence stops crediting the play."""
    o = outcome
    if o.already_reverted:
        head = (f"play run {o.play_run_id} ({o.play}) was already reverted on {o.reverted_on} by {o.who} "
                f"({o.why}): nothing applied twice")
    else:
        head = f"reverted {o.play} (play run {o.play_run_id}) on {o.reverted_on} by {o.who}: {o.why}"
    lines = [head]
    for r in o.reverted:
        state = "undone" if r.applied else "already undone"
        what = (f"{len(r.changes)} change(s) set back to their before values" if r.changes
                else "no before/after was recorded: the sheet asks a person to undo what its brief led to")
        lines.append(f"  {state} ({r.adapter}): {r.bot}.{r.action}: {what}" + (f" -> {r.asset}" if r.asset else ""))
    for b in o.by_hand:
        step = f"{b.bot}.{b.action}: " if b.bot else ""
        what = "; ".join(f"{c.target} {c.field}: {_value(c.before)} -> {_value(c.after)}" for c in b.changes)
        lines.append(f"  cannot be undone automatically: do by hand: {step}{b.summary}; {b.why}"
                     + (f"; it changed {what}" if what else "") + (f"; asset {b.asset}" if b.asset else ""))
    lines.append(f"evidence: from {o.reverted_on} on, {o.play}'s KPIs are no longer credited to this run")
    return lines


def _value(value: object) -> str:
    """A change's value as a person reads it: text as is, lists and numbers as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
