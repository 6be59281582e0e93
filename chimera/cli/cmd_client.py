"""``chimera client add|list``."""

from __future__ import annotations

import typer
from rich.markup import escape

from chimera.cli.app import client_app, emit_json, out
from chimera.clients import add_client, list_clients


@client_app.command("add")
def client_add(
    name: str = typer.Argument(..., help="Client name: lower-case letters, digits, '-' or '_'."),
    label: str = typer.Option("", help="Business name shown to people."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Create a client: copy the base configs to configs/clients/NAME/ and create its Company."""
    ctx = add_client(name, label=label)
    if json_out:
        emit_json({"client": ctx.name, "folder": str(ctx.folder)})
    else:
        out.print(f"client [bold]{escape(ctx.name)}[/] created; configs in {escape(str(ctx.folder))}")


@client_app.command("list")
def client_list(json_out: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """List the clients in this CHIMERA_HOME's database."""
    names = list_clients()
    if json_out:
        emit_json({"clients": names})
    else:
        for name in names:
            out.print(name)
        if not names:
            out.print("no clients yet: chimera client add NAME")
