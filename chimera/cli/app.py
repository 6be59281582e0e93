"""The typer application and the one place user errors become a clear line and an exit code."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import typer
from rich.console import Console

from chimera.errors import ChimeraError

app = typer.Typer(
    name="chimera",
    help="Chimera (Profit OS): run a small online business's growth operations with AI commanders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
client_app = typer.Typer(help="Manage clients (one config set and database scope each).", no_args_is_help=True)
config_app = typer.Typer(help="Check, log and export the config files.", no_args_is_help=True)
sop_app = typer.Typer(help="SOP libraries the commanders cite.", no_args_is_help=True)
play_app = typer.Typer(help="Plays run by hand, and plays under review.", no_args_is_help=True)
user_app = typer.Typer(help="Command-center users (chat login).", no_args_is_help=True)
app.add_typer(client_app, name="client")
app.add_typer(config_app, name="config")
app.add_typer(sop_app, name="sop")
app.add_typer(play_app, name="play")
app.add_typer(user_app, name="user")

out = Console()
err = Console(stderr=True)


def emit_json(payload: Any) -> None:
    """Print exactly one JSON document on stdout (dates and decimals as strings)."""
    sys.stdout.write(json.dumps(payload, default=str, indent=2) + "\n")


def parse_day(value: str | None, option: str = "--as-of") -> date | None:
    """A YYYY-MM-DD option value, or one clear error naming the option (never a traceback)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ChimeraError(f"{option} {value!r}: expected a date YYYY-MM-DD, like 2026-11-01") from None


def run() -> int:
    """Run the CLI; a ChimeraError prints one red line on stderr and exits 1, never a traceback."""
    try:
        code = app(standalone_mode=False)  # without standalone mode click returns typer.Exit's code
    except ChimeraError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    except typer.Abort:
        err.print("aborted")
        return 1
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", None)
        if code is None:
            code = getattr(exc, "code", 0)
        return int(code or 0)
    except Exception as exc:  # usage errors (typer vendors its own click; plain click too)
        import click
        from typer._click.exceptions import ClickException as TyperClickException

        if isinstance(exc, click.ClickException | TyperClickException):
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) and not isinstance(code, bool) else 0
