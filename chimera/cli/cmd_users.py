"""``chimera user add|list``: command-center logins (salted scrypt hashes in the database)."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from chimera.auth import ROLES, add_user, check_grant, list_users
from chimera.cli.app import emit_json, err, out, user_app
from chimera.errors import AuthError


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="Login name."),
    role: str | None = typer.Option(None, "--role", help=f"One of {', '.join(ROLES)} (default: viewer; an existing "
                                    "user's role is kept)."),
    clients: str | None = typer.Option(None, "--clients", help="Comma-separated clients granted ('': all; "
                                       "default: all, an existing user's grants are kept)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Create or update a user; the password is asked for (or read from stdin), never an argument."""
    granted = None if clients is None else [c.strip() for c in clients.split(",") if c.strip()]
    for warning in check_grant(name, role, granted):
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise AuthError("empty password: give one on stdin or at the prompt")
    user = add_user(name, password, role, granted)
    if json_out:
        emit_json(user.model_dump())
    else:
        clients_text = ", ".join(user.clients) or "all"
        out.print(f"user [bold]{escape(user.name)}[/] saved: role {user.role}, clients {escape(clients_text)}")


@user_app.command("list")
def user_list(json_out: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """Users from the database and from CHIMERA_USERS (passwords are never shown)."""
    users = list_users()
    if json_out:
        emit_json({"users": [u.model_dump() for u in users]})
        return
    for u in users:
        out.print(f"{u.name}\t{u.role}\t{', '.join(u.clients) or 'all clients'}", markup=False)
    if not users:
        out.print("no users yet: chimera user add NAME --role approver")
