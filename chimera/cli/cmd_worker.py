"""``chimera worker``: the background pass — stuck jobs, unfinished cycles, due evidence.

One pass walks every client; a client whose config is broken or whose pass raises is reported by
name and the others still run (an agency's worker must not stall hundreds of clients on one).
A database that stops answering (Postgres restarted, a network blip) or cannot be used (a SQLite
file locked by another writer, unreadable, not a database: ``database_failed``) fails the whole
pass: the looping worker says so in one line, backs off and carries on once the database is back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import typer
from pydantic import BaseModel
from rich.markup import escape
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from chimera.cli.app import app, emit_json, err, out, parse_day
from chimera.cli.each_client import (
    ClientFailure,
    Walk,
    database_error_text,
    database_failed,
    for_each_client,
    redact,
    summary_line,
)
from chimera.clients import list_clients
from chimera.db.engine import DatabaseUnreachable, reason, unreachable


class WorkerPass(BaseModel):
    """``chimera worker --json``: one document per pass; ``passes`` holds each completed client's
    result (as before), ``failures`` each client that did not complete, with its error."""

    passes: list[dict[str, Any]]
    failures: list[ClientFailure]


def _line(result: dict[str, Any]) -> str:
    return (f"{len(result['stuck_requeued'])} stuck re-queued, {len(result['cycles_resumed'])} cycle(s) resumed, "
            f"{len(result['evidence_jobs_run'])} evidence job(s) run")


def _failed_cycles(name: str, result: dict[str, Any]) -> ClientFailure | None:
    """A resumed cycle that ended failed is the client's failure, with its jobs' errors in one line."""
    failed = result.get("cycles_failed") or []
    if not failed:
        return None
    error = "; ".join(f"cycle {f['run_id']} failed: {f['error']}" for f in failed)
    return ClientFailure(client=name, error=redact(error), run_id=failed[0]["run_id"])


def _pass(client: str | None, day: date | None) -> Walk[dict[str, Any]]:
    """One worker pass over the clients; raises when the database does not answer."""
    from graphs.service import run_due_jobs

    return for_each_client(
        [client] if client else list_clients(),
        lambda name, note: run_due_jobs(name, day, on_event=lambda e: note(str(e.get("node") or ""))),
        "worker pass", lambda _name, result: _line(result), check=_failed_cycles, fatal=database_failed)


def _outage(exc: BaseException) -> str:
    """One line for a pass the database failed, without the URL's password: a server gone is "cannot
    be reached", a SQLite file locked or unreadable names the driver's error."""
    if isinstance(exc, DatabaseUnreachable):
        return redact(str(exc))
    if unreachable(exc):
        return redact(f"the database cannot be reached: {reason(exc)}")
    return database_error_text(exc)


def _backoff() -> wait_exponential:
    """Doubling waits between failed passes from ``CHIMERA_WORKER_BACKOFF`` (first wait, s, default 1)
    up to ``CHIMERA_WORKER_BACKOFF_MAX`` (default 60): a restart is waited out without hammering it."""
    first = float(os.environ.get("CHIMERA_WORKER_BACKOFF", 1.0))
    return wait_exponential(multiplier=first, min=first, max=float(os.environ.get("CHIMERA_WORKER_BACKOFF_MAX", 60.0)))


def _report_outage(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    line = _outage(exc) if exc else "the database cannot be reached"
    err.print(f"worker pass failed: {escape(line)}; next try in {wait:.2f} s",
              highlight=False, soft_wrap=True)


def _until_the_database_answers(run_pass: Callable[[], Walk[dict[str, Any]]], once: bool) -> Walk[dict[str, Any]]:
    """``run_pass()`` again after each pass the database did not answer; with ``once``, a clear error."""
    if once:
        try:
            return run_pass()
        except Exception as exc:
            if database_failed(exc):
                raise DatabaseUnreachable(_outage(exc)) from None
            raise
    retrying = Retrying(retry=retry_if_exception(database_failed), wait=_backoff(), before_sleep=_report_outage,
                        reraise=True)
    return retrying(run_pass)


@app.command()
def worker(
    client: str | None = typer.Option(None, "--client", help="One client (default: every client)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Day to judge due jobs against (default: newest data)."),
    once: bool = typer.Option(False, "--once", help="One pass, then exit (default: every --interval seconds)."),
    interval: float = typer.Option(300.0, "--interval", help="Seconds between passes."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-queue stuck jobs, resume unfinished cycles, and run evidence jobs whose delay is over.

    A failing client is reported by name and the others still run; with --once the exit code is 1
    when any client failed. A database that does not answer fails the pass in one line; the worker
    tries again after a doubling wait (CHIMERA_WORKER_BACKOFF, up to CHIMERA_WORKER_BACKOFF_MAX
    seconds), and with --once exits 1."""
    day = parse_day(as_of)
    while True:
        walk = _until_the_database_answers(lambda: _pass(client, day), once)
        if json_out:
            emit_json(WorkerPass(passes=[d.result for d in walk.done], failures=walk.failures).model_dump(mode="json"))
        else:
            for d in walk.done:
                out.print(f"{d.client}: {_line(d.result)}", highlight=False)
            for f in walk.failures:
                out.print(f"[red]{escape(f.client)}: failed[/]: {escape(f.error)}", highlight=False, soft_wrap=True)
        err.print(summary_line(walk, "worker pass"), highlight=False, soft_wrap=True)
        if once:
            if not walk.ok:
                raise typer.Exit(1)
            return
        time.sleep(interval)
