"""``chimera ingest PATH --client NAME [--source KIND] [--json]`` and ``--pull shopify|stripe``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chimera.cli.app import app, check_order, emit_json, err, fail, out, parse_day
from chimera.clients import get_client
from chimera.errors import IngestError
from chimera.ingest import IngestSummary, ingest_file

PROGRESS_BYTES = 20 << 20  # show a bar for files bigger than this
SHOWN_REJECTIONS = 20



@app.command("ingest")
def ingest(
    path: Path | None = typer.Argument(None, help="The export (CSV) to ingest.", show_default=False),
    client: str = typer.Option(..., "--client", help="Client name (chimera client list)."),
    source: str | None = typer.Option(
        None, "--source",
        help="shopify_orders | stripe_payments (payments export or balance report) | analytics_daily | "
        "fiverr_orders (default: detect).",
    ),
    pull: str | None = typer.Option(None, "--pull", help="Pull from an API instead of a file: shopify | stripe."),
    since: str | None = typer.Option(
        None, "--since", help="With --pull: first day (YYYY-MM-DD). With an order or payment export: the first day "
        "of the range it was exported for (days without orders are then zero, not missing)."),
    until: str | None = typer.Option(
        None, "--until", help="With --pull: last day (default: today). With an order or payment export: the "
        "last day of the range it was exported for (a quiet store's last days without orders are zero)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Turn an export (or an API pull) into daily metrics; re-ingesting replaces the covered days."""
    ctx = get_client(client)
    if pull is not None:
        summary = _pull(ctx, pull, parse_day(since, "--since"), parse_day(until, "--until"))
    elif path is None:
        raise IngestError("give the export's PATH, or --pull shopify|stripe --since D")
    else:
        first, last = parse_day(since, "--since"), parse_day(until, "--until")
        check_order(first, last, ("--since", "--until"))
        summary = _ingest(ctx, path, source, first, last)
    if json_out:
        emit_json(_contract(summary, pull))
    else:
        _print(summary, str(path or pull), pull)
    _warn(summary)
    _fail_if_nothing_ingested(summary, pull)
    _fail_if_only_partial_days(summary, pull)


@app.command("pull")
def pull_command(
    api: str = typer.Argument(..., help="shopify | stripe"),
    client: str = typer.Option(..., "--client", help="Client name (chimera client list)."),
    since: str = typer.Option(..., "--since", help="First day (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last day (default: today)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Pull orders (Shopify Admin API) or charges (Stripe API) into the same daily metrics."""
    summary = _pull(get_client(client), api, parse_day(since, "--since"), parse_day(until, "--until"))
    if json_out:
        emit_json(_contract(summary, api))
    else:
        _print(summary, api, api)
    _warn(summary)  # the same exits as ``ingest --pull``: a script must not tell the two apart
    _fail_if_nothing_ingested(summary, api)
    _fail_if_only_partial_days(summary, api)


def _warn(summary: IngestSummary) -> None:
    """The summary's warnings on stderr, with ``--json`` too (the data was written all the same)."""
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


def _contract(summary: IngestSummary, pull: str | None) -> dict:
    """The JSON document; a pull's rejections have no file line (``line`` null), their ``order``
    names the record (the order's name, the charge's id)."""
    document = summary.contract()
    if pull is not None:
        for rejection in document["rejected"]:
            rejection["line"] = None
    return document


def _fail_if_nothing_ingested(summary: IngestSummary, pull: str | None = None) -> None:
    """Exit 1 when rows were read and every one was rejected: a script must not take that file for
    a quiet day. The commonest rejection is named; one reason on every row usually means the file
    went through a spreadsheet that rewrote a column (dates, decimals). A pull has no file to export
    again: it names the API whose every record was refused."""
    if not summary.rows_read or summary.orders_ingested or not summary.rejected:
        return
    (column, reason), count = Counter((r.column, r.reason) for r in summary.rejected).most_common(1)[0]
    problems = f"({len(summary.rejected)} problems, {count} of them {column}: {reason})"
    if pull is not None:
        fail(f"nothing ingested: every {_record(pull)} the {pull} API listed was rejected {problems}")
    else:
        fail(f"nothing ingested: every row was rejected {problems}; if the export was opened and saved in a "
             "spreadsheet, export it again from the source")
    raise typer.Exit(1)


def _fail_if_only_partial_days(summary: IngestSummary, pull: str | None = None) -> None:
    """Exit 1 when every day was left out as partial: "0 metric points" with exit 0 reads as an
    export without payments. Says which days and why (the JSON lists them too). For a pull there is
    no file: the days were still going on when pulled, so it says when to pull them again."""
    from chimera.connectors.common import NOT_OVER  # here: a file ingest never loads the HTTP clients

    if summary.metrics_written or not summary.left_out:
        return
    if pull is not None and all(NOT_OVER in r.reason for r in summary.left_out):
        fail(f"nothing written: every day pulled was still going on ({_days(summary)}): the {pull} API lists "
             f"its {_record(pull)}s only until now, and a day is written whole or not at all; pull again "
             f"after {_midnight(pull)}")
        raise typer.Exit(1)
    reason = Counter(r.reason for r in summary.left_out).most_common(1)[0][0]
    what = "every day pulled was left out" if pull is not None else "the file holds only part of each of its days"
    fail(f"nothing written: {what} ({_days(summary)}): {reason}")
    raise typer.Exit(1)


def _record(pull: str) -> str:
    return "charge" if pull == "stripe" else "order"


def _midnight(pull: str) -> str:
    """When a pulled source's day is over: Stripe counts UTC days, Shopify the store's own."""
    return "midnight UTC" if pull == "stripe" else "the store's midnight"


def _days(summary: IngestSummary) -> str:
    return ", ".join(str(r.day) for r in summary.left_out)


def _ingest(ctx, path: Path, source: str | None, since: date | None, until: date | None) -> IngestSummary:
    if path.is_dir():
        raise IngestError(f"{path}: is a directory (give one export file)")
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size < PROGRESS_BYTES or not err.is_terminal:
        return ingest_file(ctx, path, kind=source, since=since, until=until)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        return ingest_file(ctx, path, kind=source, progress=progress, since=since, until=until)


def _pull(ctx, api: str, since: date | None, until: date | None) -> IngestSummary:
    from chimera.connectors import pull_shopify, pull_stripe

    if since is None:
        raise IngestError("--pull needs --since YYYY-MM-DD (the first day to pull)")
    until = until or datetime.now(UTC).date()
    check_order(since, until, ("--since", "--until"))
    if api == "shopify":
        return pull_shopify(ctx, since, until)
    if api == "stripe":
        return pull_stripe(ctx, since, until)
    raise IngestError(f"--pull {api!r}: expected shopify or stripe")


def _print(summary: IngestSummary, what: str, pull: str | None = None) -> None:
    days = f"days {summary.first_day} .. {summary.last_day}" if summary.first_day else "no day written"
    out.print(
        f"[bold]{escape(what)}[/] ({summary.source}): {summary.rows_read} rows read, "
        f"{summary.orders_ingested} ingested, {len(summary.rejected)} rejected; "
        f"{days}; {summary.metrics_written} metric points written",
        highlight=False,
    )
    for left in summary.left_out:
        out.print(f"left out {left.day} (what was stored for it is kept): {escape(left.reason)}", highlight=False)
    if summary.kept_days:
        out.print(f"{summary.kept_days} day(s) inside that range have no rows in this file: what was stored for them "
                  "is kept, not replaced by zeros (a filtered or partial export?)", highlight=False)
    if not summary.rejected:
        return
    record = "order" if pull is None else _record(pull)  # a pull has no line: the record is named
    table = Table(title=f"rejected (the whole {record} is left out)", title_justify="left")
    for col in ("line", "column", "value", "reason", record)[pull is not None:]:
        table.add_column(col)
    for r in summary.rejected[:SHOWN_REJECTIONS]:
        cells = list(map(escape, (r.column, r.value, r.reason, r.order)))
        table.add_row(*cells if pull is not None else (str(r.line), *cells))
    out.print(table)
    if len(summary.rejected) > SHOWN_REJECTIONS:
        out.print(f"... and {len(summary.rejected) - SHOWN_REJECTIONS} more (--json lists all)")
