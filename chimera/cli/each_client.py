"""Run one piece of work for every client, so that one broken client never stops the others.

An agency runs hundreds of clients from one database: a client whose config is broken, or whose
pass raises, is reported by name with its real error (secrets masked) and the rest still run. The
caller turns any failure into a non-zero exit code. A rich progress bar on stderr shows how far the
walk is; stdout stays free for the one JSON document or the report.

A failure of the database itself (refused connections, a locked or unreadable SQLite file) is no
client's: every client after it would fail the same way, each slowly. Such a walk stops there and
says which clients ran, which failed and which were not attempted (``database_failed``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, Self, TypeVar

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer._click.exceptions import UsageError

from chimera.cli.app import err, in_client_folder, out
from chimera.db.engine import reason, unreachable
from chimera.errors import ChimeraError, ConfigError

T = TypeVar("T")
Note = Callable[[str], None]
"""Shows what a client's work is doing now (its current step) next to the progress bar."""

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|_DSN$|DATABASE_URL", re.IGNORECASE)
_MASK = "***"


def _connector_env_names(client: str) -> set[str]:
    """The env vars a client's connectors read their credentials from (best effort: a broken
    client.yml names none, and the generic rule still masks the usual names)."""
    from chimera import settings
    from chimera.clients import load_client_config

    try:
        connectors = load_client_config(settings.client_dir(client), client).connectors
    except Exception:  # the config may be the very thing that failed
        return set()
    names = {connectors.shopify.token_env} if connectors.shopify else set()
    return names | ({connectors.stripe.key_env} if connectors.stripe else set())


def redact(text: str, env_names: Iterable[str] = ()) -> str:
    """``text`` without passwords in URLs or conninfo, nor the value of any secret-bearing env var."""
    text = _URL_PASSWORD.sub(rf"\g<head>{_MASK}@", text)
    text = _KEYWORD_PASSWORD.sub(rf"\g<head>{_MASK}", text)
    named = set(env_names)
    values = sorted({v for k, v in os.environ.items() if (k in named or _SECRET_NAME.search(k)) and len(v) >= 6},
                    key=len, reverse=True)  # longest first: a secret that contains another is masked whole
    for value in values:
        text = text.replace(value, _MASK)
    return text


def error_text(exc: BaseException, client: str = "") -> str:
    """What went wrong, for a person: a user error's own message, otherwise the exception's type
    and message (a bug must still say what it was); never a secret."""
    if isinstance(exc, ConfigError) and client:  # its files by their path: every client has a kpis.yml
        exc = in_client_folder(exc, client)
    text = str(exc) if isinstance(exc, ChimeraError) else f"{type(exc).__name__}: {exc}"
    return redact(text.strip() or type(exc).__name__, _connector_env_names(client) if client else ())


DATABASE_CLASSES = ("53", "58", "F0")
"""Postgres SQLSTATE classes of the server's own trouble (disk full, out of memory, too many
connections; I/O; its config file), besides those ``unreachable`` reads as the server gone."""


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from or while handling (a failure recorded while the database
    was gone raises again with the first as its context; the engine's own wrap keeps it too)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def database_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's failure, not the client's: the server does not answer or
    has trouble of its own (``DATABASE_CLASSES``), or SQLite cannot be used at all (an operational
    error: locked by another writer, unable to open the file, disk I/O; or not a database). A
    client's bad data (a constraint, a bad value, its config, its exports) is not."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    for e in _chain(exc):
        orig = e.orig if isinstance(e, DBAPIError) else e
        if unreachable(e) or isinstance(orig, sqlite3.OperationalError) or type(orig) is sqlite3.DatabaseError:
            return True
        if isinstance(orig, psycopg.Error) and (orig.sqlstate or "").startswith(DATABASE_CLASSES):
            return True
    return False


def database_error_text(exc: BaseException) -> str:
    """One line for a database failure: the driver's first line, not the SQL and link after it."""
    text = str(exc) if isinstance(exc, ChimeraError) else f"the database failed ({type(exc).__name__}): {reason(exc)}"
    return redact(text)


class ClientFailure(BaseModel):
    """One client whose work did not complete, and why."""

    client: str
    error: str
    run_id: str | None = None
    """The cycle run, when one was opened before the failure (resume it with the same command)."""


class ClientDone(BaseModel, Generic[T]):
    """One client's work that returned, with its wall time."""

    client: str
    result: T
    seconds: float


class Walk(BaseModel, Generic[T]):
    """Every client's outcome, in the order walked (a cycle that ran and failed is in both lists);
    a walk stopped by a database failure names the clients it never attempted."""

    clients: int = 0
    done: list[ClientDone[T]] = []
    failures: list[ClientFailure] = []
    stopped: str = ""
    """Why the walk stopped before the end (the database failed at the last failure's client)."""
    not_attempted: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.failures and not self.stopped

    @property
    def completed(self) -> int:
        """Clients whose work completed: neither failed nor left unattempted."""
        return self.clients - len(self.failures) - len(self.not_attempted)


def for_each_client(names: list[str], work: Callable[[str, Note], T], what: str,
                    outcome_line: Callable[[str, T], str],
                    check: Callable[[str, T], ClientFailure | None] | None = None,
                    progress: bool = True, fatal: Callable[[Exception], bool] | None = None,
                    stop: Callable[[Exception], bool] | None = None) -> Walk[T]:
    """Call ``work(client, note)`` for each name, in order; any exception fails that client only.

    ``outcome_line`` says how one client ended (printed above the bar as each one finishes);
    ``check`` turns a returned result that is itself a failure (a cycle whose job failed) into one;
    an exception ``fatal`` accepts (the database went away) is raised, ending the walk: every client
    after it would fail the same way. One ``stop`` accepts ends it too, as a result: that client
    failed, the walk says why it stopped and which clients it did not attempt."""
    walk: Walk[T] = Walk(clients=len(names))
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, redirect_stdout=False, redirect_stderr=False,
                   disable=not progress)
    with bar:
        task = bar.add_task(escape(what), total=len(names))

        def note_for(name: str) -> Note:
            return lambda step: bar.update(task, description=escape(f"{what}: {name}: {step}"))

        for index, name in enumerate(names):
            bar.update(task, description=escape(f"{what}: {name}"))
            started = time.perf_counter()
            try:
                result = work(name, note_for(name))
            except Exception as exc:  # one client's failure is reported, the walk goes on
                if fatal and fatal(exc):
                    raise
                halt = bool(stop and stop(exc))
                text = database_error_text(exc) if halt else error_text(exc, name)
                failure: ClientFailure | None = ClientFailure(client=name, error=text)
                line = failure.error
                if halt:
                    walk.stopped, walk.not_attempted = text, names[index + 1:]
            else:
                walk.done.append(ClientDone(client=name, result=result,
                                            seconds=round(time.perf_counter() - started, 3)))
                failure = check(name, result) if check else None
                line = outcome_line(name, result) + (f": {failure.error}" if failure else "")
            if failure:
                walk.failures.append(failure)
            mark = "[red]✗" if failure else "[green]✓"
            err.print(f"{mark} {escape(name)}[/]: {escape(line)} ({time.perf_counter() - started:.2f} s)",
                      highlight=False, soft_wrap=True)
            bar.advance(task)
            if walk.stopped:
                err.print(f"[red]stopped[/]: {escape(stopped_line(walk))}", highlight=False, soft_wrap=True)
                break
    return walk


SHOWN_NAMES = 10
"""Not-attempted clients named in a line; the rest are counted (``--json`` lists them all)."""


def stopped_line(walk: Walk) -> str:
    """Why the walk stopped and which clients it did not attempt."""
    names = walk.not_attempted[:SHOWN_NAMES]
    more = len(walk.not_attempted) - len(names)
    rest = (f"{len(walk.not_attempted)} client(s) not attempted: {', '.join(names)}"
            + (f" and {more} more" if more else "")) if walk.not_attempted else "no client left to attempt"
    failed = walk.failures[-1].client if walk.failures else "?"
    return f"{walk.stopped} (at {failed}); {rest}; run the command again once the database answers"


def summary_line(walk: Walk, what: str) -> str:
    """One line for the end of a walk: how many clients completed and which failed."""
    line = f"{what}: {walk.completed} of {walk.clients} client(s) completed"
    if walk.failures:
        line += f"; {len(walk.failures)} failed: " + ", ".join(f.client for f in walk.failures)
    if walk.stopped:
        line += f"; stopped: {stopped_line(walk)}"
    return line


ALL_HELP = "Every client, one after another; a failing client is reported and the others still run."
"""The help of ``--all`` on every command that walks the clients."""


def every_client(client: str | None, all_clients: bool) -> bool:
    """Whether the command walks every client: exactly one of ``--client NAME`` and ``--all``."""
    if all_clients == (client is not None):
        raise UsageError("give either --client NAME or --all (every client)")
    return all_clients


def walk_clients(work: Callable[[str, Note], T], what: str, outcome_line: Callable[[str, T], str],
                 check: Callable[[str, T], ClientFailure | None] | None = None) -> Walk[T]:
    """``work`` for every client (``chimera client list``'s order); a failure of the database itself
    stops the walk there, naming the clients not attempted (each would fail the same way, slowly).
    No client at all is an error: ``--all`` asked for every client of a database that has none."""
    from chimera import settings
    from chimera.clients import list_clients

    names = list_clients()
    if not names:  # cron pointed at the wrong home or database read "0 of 0 completed", exit 0: all good
        raise ChimeraError(f"--all: no client in the database {redact(settings.database_url())}: add one with "
                           "chimera client add NAME, or set CHIMERA_HOME (or CHIMERA_DATABASE_URL) to the "
                           "agency's")
    return for_each_client(names, work, what, outcome_line, check=check, stop=database_failed)


class WalkDocument(BaseModel):
    """What every ``COMMAND --all --json`` document holds besides its clients' own documents (which
    each command lists, as ``--client NAME --json`` prints them, under its own key): how many clients
    there are and completed, each failure and why, and why a database failure stopped the walk."""

    clients: int
    completed: int
    failures: list[ClientFailure]
    stopped: str = ""
    not_attempted: list[str] = []

    @classmethod
    def of(cls, walk: Walk[Any], **fields: Any) -> Self:
        return cls(clients=walk.clients, completed=walk.completed, failures=walk.failures, stopped=walk.stopped,
                   not_attempted=walk.not_attempted, **fields)


def walk_table(title: str, columns: tuple[str, ...], whole: tuple[str, ...] = ("client",)) -> Table:
    """The table of a walk, one row per client: the ``whole`` columns never fold (a client's name
    broken over two lines reads as two clients), the others fold to fit the terminal."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column in whole, overflow="fold")
    return table


def print_failures(walk: Walk[Any]) -> None:
    """Under a walk's table (stdout): each failed client and its error, then the clients not attempted."""
    for f in walk.failures:
        out.print(f"[red]{escape(f.client)} failed[/]: {escape(f.error)}", highlight=False, soft_wrap=True)
    if walk.not_attempted:
        out.print(f"[yellow]not attempted[/]: {escape(', '.join(walk.not_attempted))}", highlight=False,
                  soft_wrap=True)


def end_walk(walk: Walk[Any], what: str, more: str = "", failed: bool = False) -> None:
    """The walk's summary line on stderr (``more`` appended), then exit 1 when a client failed, the
    walk stopped, or ``failed`` (a client's own answer is a failure: a daily check not OK)."""
    err.print(summary_line(walk, what) + more, highlight=False, soft_wrap=True)
    if failed or not walk.ok:
        raise typer.Exit(1)
