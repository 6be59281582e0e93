"""``chimera metrics --client NAME [--metric M] [--from D] [--to D] [--json]``."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import typer
from rich.table import Table
from sqlmodel import Session

from chimera.cli.app import app, check_order, emit_json, out, parse_day
from chimera.clients import get_client
from chimera.config.loader import suggest
from chimera.db.engine import session_scope
from chimera.errors import ChimeraError
from chimera.ingest.models import BASE_METRICS, COUNT_METRICS
from chimera.kpi.fmt import money_step
from chimera.metrics import Series, data_span, load_series

CENT = Decimal("0.01")



def render_value(metric: str, value: Decimal, currency: str | None = None) -> int | str:
    """Counts as integers; money as a decimal string with 2 places (the places of ``currency``'s
    smallest unit when given: 231880 yen, 1012.300 dinars), or every place it has beyond them (a
    3-decimal currency's 1012.335 dinars is not 1012.34: the stored sum is exact)."""
    if metric in COUNT_METRICS:
        return int(value)
    step = money_step(currency) or CENT
    exact = value.normalize()
    if isinstance(exact.as_tuple().exponent, int) and exact.as_tuple().exponent < step.as_tuple().exponent:
        return f"{exact:f}"
    return str(value.quantize(step, rounding=ROUND_HALF_UP))


def metrics_document(client: str, series: Series) -> dict:
    """The DESIGN.md §7 document: one entry per day with data; a missing day is absent."""
    return {
        "client": client,
        "metrics": {
            metric: {d.isoformat(): render_value(metric, v) for d, v in sorted(days.items())}
            for metric, days in sorted(series.items())
        },
    }


@app.command("metrics")
def metrics(
    client: str = typer.Option(..., "--client", help="Client name (chimera client list)."),
    metric: list[str] | None = typer.Option(None, "--metric", help="Only this metric (repeatable)."),
    start: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Daily base metrics as ingested (a day without data is absent, never zero)."""
    ctx = get_client(client)
    for name in metric or []:
        if name not in BASE_METRICS:  # a typo must not read as "no data yet"
            raise ChimeraError(f"--metric {name!r}: not a base metric{suggest(name, sorted(BASE_METRICS))}; "
                               f"known: {', '.join(sorted(BASE_METRICS))}")
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    check_order(first, last)
    with session_scope() as session:
        series = load_series(session, ctx.company_id, metric or None, first, last)
        empty = "" if series or json_out else empty_note(session, ctx.company_id, ctx.name, metric or None, first, last)
    doc = metrics_document(ctx.name, series)
    if json_out:
        emit_json(doc)
        return
    if not series:
        out.print(empty, markup=False, highlight=False, soft_wrap=True)
        return
    shown = {metric: {d.isoformat(): render_value(metric, v, ctx.config.currency) for d, v in days.items()}
             for metric, days in sorted(series.items())}  # the JSON keeps today's places; the text the currency's
    recent = sorted({d for values in shown.values() for d in values})[-14:]
    days = days_that_fit(shown, recent, out.width)
    more = "" if len(days) == len(recent) else " (a wider terminal shows more; --json shows every day)"
    table = Table(title=f"{ctx.name}: last {len(days)} days with data{more}", title_justify="left")
    table.add_column("metric", no_wrap=True)
    for d in days:
        table.add_column(d[5:], justify="right")
    for name, values in shown.items():
        table.add_row(name, *(str(values.get(d, "")) for d in days))
    out.print(table)


def empty_note(session: Session, company_id: int, client: str, metrics: list[str] | None, first: date | None,
               last: date | None) -> str:
    """Why nothing was shown: no data at all (ingest some), or none for the metric or days asked
    (and where that data is). 'no metrics yet: chimera ingest' for a --from past the newest day
    told a client with months of data to ingest it."""
    span = data_span(session, company_id)
    if span is None:
        return f"no metrics for {client} yet: chimera ingest PATH --client {client}"
    asked = f"{' or '.join(metrics)} data" if metrics else "data"
    everything = f"{client} has data from {span[0]} to {span[1]}"
    have = data_span(session, company_id, metrics) if metrics else span
    if have is None:
        return f"no {asked} for {client} on any day (no ingested source has it); {everything}"
    days = [f"on {first}"] if first and first == last else [
        *([f"from {first}"] if first else []), *([f"up to {last}"] if last else [])]
    low, high = first or have[0], last or have[1]
    inside = have[0] <= low <= high <= have[1]
    return (f"no {asked} for {client} {' '.join(days)}: {'a gap in its data, which' if inside else 'it'} runs "
            f"from {have[0]} to {have[1]}")


def days_that_fit(metrics: dict[str, dict[str, int | str]], days: list[str], width: int) -> list[str]:
    """The newest of ``days`` whose columns fit ``width``: a table wider than the terminal cuts every
    value to "1…", which reads as no number at all. Each column is its widest cell plus 3 (padding,
    border); at least the newest day is kept."""
    used = 1 + 3 + max((len(name) for name in metrics), default=6)
    kept: list[str] = []
    for day in reversed(days):
        cells = [len(day[5:]), *(len(str(values.get(day, ""))) for values in metrics.values())]
        used += max(cells) + 3
        if kept and used > width:
            break
        kept.append(day)
    return sorted(kept)
