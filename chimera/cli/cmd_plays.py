"""``chimera play clear-review``: a person takes a play out of review (manual §8.3)."""

from __future__ import annotations

import typer
from rich.markup import escape

from chimera.cli.app import emit_json, out, play_app
from chimera.clients import get_client
from chimera.db.engine import session_scope


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
