"""The typer application and the one place user errors become a clear line and an exit code."""

from __future__ import annotations

import functools
import json
import sys
from datetime import date
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperOption

from chimera.errors import ChimeraError, ConfigError


def _flag_without_type(display: Any) -> Any:
    """typer 0.29's rich help writes a flag's type (`--json <bool>`) as if it took a value (its plain
    help does not: `if not self.is_flag`); a flag shows no type, every other option keeps its own."""

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else display(self, ctx)

    return display_type_rich


TyperOption.display_type_rich = _flag_without_type(TyperOption.display_type_rich)  # type: ignore[method-assign]

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

out = Console(emoji=False)  # `:x:` in a name or a file is text, not an emoji code
err = Console(stderr=True, emoji=False)


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


def check_order(first: date | None, last: date | None, options: tuple[str, str] = ("--from", "--to")) -> None:
    """Refuse a span that ends before it starts: a script would read the empty answer as "no data"."""
    if first is not None and last is not None and last < first:
        raise ChimeraError(f"{options[1]} {last} is before {options[0]} {first}: no day lies between them")


def fail(message: str) -> None:
    """One red line on stderr, the message printed as given (a value like ``[/x]`` is not markup)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _usage_line(exc: Any) -> str:
    """A usage error (missing option, unknown command) as one line naming the command and its help."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return exc.format_message()
    return f"{ctx.command_path}: {exc.format_message()} (see {ctx.command_path} --help)"


def _click_error(exc: Exception) -> int | None:
    """A click/typer exception's exit code after printing it; None when ``exc`` is not one."""
    import click
    from typer._click.exceptions import ClickException as TyperClickException
    from typer._click.exceptions import NoArgsIsHelpError

    if isinstance(exc, NoArgsIsHelpError | click.exceptions.NoArgsIsHelpError):
        exc.show()  # a bare group: its help, as asked
    elif isinstance(exc, click.ClickException | TyperClickException):
        fail(_usage_line(exc))
    else:
        return None
    return exc.exit_code


def in_client_folder(exc: ConfigError, client: str) -> ConfigError:
    """``exc`` with its problems naming client ``client``'s files by their path (``kpis.yml:21`` is
    every client's kpis.yml; ``configs/clients/acme/kpis.yml:21`` is the one to open)."""
    from chimera import settings
    from chimera.config.messages import in_folder

    return ConfigError(in_folder(exc.problems, settings.client_dir(client)))


def _naming_client_folders(command: Any) -> Any:
    """``command`` (and its subcommands) with every ``--client`` command's config errors naming the
    client's folder: the loaders name a file of the folder they read by its bare name."""
    for sub in getattr(command, "commands", {}).values():
        _naming_client_folders(sub)
    callback = getattr(command, "callback", None)
    if callback is None or not any(p.name == "client" for p in command.params):
        return command

    @functools.wraps(callback)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except ConfigError as exc:
            if not kwargs.get("client"):
                raise
            raise in_client_folder(exc, kwargs["client"]) from exc

    command.callback = call
    return command


def database_line(exc: Exception) -> str | None:
    """One line for a database that fails under a command (locked, full, unreachable), password
    masked; None for anything else (a bug keeps its traceback). A URL that is none, a database
    Chimera does not run on and a missing search_path schema are the engine's own DatabaseUrlError."""
    from chimera.cli.each_client import database_error_text, database_failed

    return database_error_text(exc) if database_failed(exc) else None


def run() -> int:
    """Run the CLI; a user error (a ChimeraError, a usage error, a file that cannot be written) prints
    one red line on stderr and exits non-zero, never a traceback."""
    try:
        command = _naming_client_folders(typer.main.get_command(app))
        code = command.main(standalone_mode=False)  # without standalone mode click returns typer.Exit's code
    except ChimeraError as exc:
        fail(str(exc))
        return 1
    except typer.Abort:
        err.print("aborted")
        return 1
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", None)
        if code is None:
            code = getattr(exc, "code", 0)
        return int(code or 0)
    except OSError as exc:  # a path the user gave: a folder, a missing parent, no permission, disk full
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
        return 1
    except Exception as exc:  # usage errors (typer vendors its own click; plain click too)
        handled = _click_error(exc)
        if handled is None:
            line = database_line(exc)
            if line is None:
                raise
            fail(line)
            return 1
        return handled
    return code if isinstance(code, int) and not isinstance(code, bool) else 0
