"""``chimera daily`` and ``chimera monthly`` (manual §6), for one client or, with ``--all``, every client."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from chimera import settings
from chimera.as_of import reached
from chimera.cli.app import app, emit_json, err, out, parse_day
from chimera.cli.each_client import (
    ALL_HELP,
    Walk,
    WalkDocument,
    end_walk,
    every_client,
    print_failures,
    walk_clients,
    walk_table,
)
from chimera.clients import ClientContext, get_client
from chimera.config.messages import shown_path

if TYPE_CHECKING:
    from chimera.rhythms import DailyReport, MonthlyReview, SourceFreshness


@app.command()
def daily(
    client: str | None = typer.Option(None, "--client", help="Client name (or --all)."),
    all_clients: bool = typer.Option(False, "--all", help=ALL_HELP),
    today: str | None = typer.Option(None, "--today", help="Day to check as (default: today in the store's timezone)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document (with --all: every client's)."),
) -> None:
    """Daily check: ingestion freshness, CRITICAL KPIs, stuck jobs (re-queued). Exit 1 when not OK (with
    --all: when any client is not OK or its check failed)."""
    day = parse_day(today, "--today")
    if every_client(client, all_clients):
        _daily_all(day, json_out)
        return
    assert client is not None
    report = _daily_check(client, day)
    if report.as_of_note:  # the KPIs are of the day before the newest data: say why, as kpis does
        err.print(report.as_of_note, highlight=False, markup=False, soft_wrap=True)
    if json_out:
        emit_json(report.to_json())
    else:
        _print_daily(report)
    if not report.ok:  # a script reading the exit code finds the why on stderr, beside the document
        err.print(f"{report.client} needs attention: {_attention(report)}", highlight=False, markup=False,
                  soft_wrap=True)
        raise typer.Exit(1)


def _daily_check(client: str, today: date | None) -> DailyReport:
    from chimera.rhythms import daily_check

    ctx = get_client(client)
    return daily_check(ctx, today=reached(ctx, today, "--today"))


def _print_daily(report: DailyReport) -> None:
    table = Table(title=f"daily check for {report.client}, {report.today}")
    for col in ("source", "last day", "days behind", "ok"):
        table.add_column(col)
    for f in report.freshness:
        table.add_row(f.source, _last_day(f), "" if f.days_behind is None else str(f.days_behind),
                      "yes" if f.ok else "[red]no[/]")
    out.print(table)
    for k in report.critical:
        out.print(f"[bold red]CRITICAL[/] {escape(k['id'])}: {escape(k['note'] or '')}")
    for j in report.stuck_jobs_requeued:
        out.print(f"stuck job {j['id']} ({j['type']}) -> {j['status']}")
    for f in report.failed_ingests:  # which export, and why: the stderr line only counts them
        out.print(f"failed ingest {f['id']} ({f['source']}{', ' + f['file'] if f.get('file') else ''})"
                  + (f": {f['error']}" if f.get("error") else ""), markup=False, highlight=False, soft_wrap=True)
    for j in report.failed_play_jobs:
        out.print(f"failed job {j['id']} ({j['type']}, step {j['step']} of {j['play']}, play run "
                  f"{j['play_run_id']}): {j['error']}; {j['fix']}", markup=False, highlight=False, soft_wrap=True)
    out.print("all good" if report.ok else "[yellow]needs attention[/]")


class Attention(BaseModel):
    """A client whose daily check ran and is not OK, and why in one line."""

    client: str
    why: str


class AllDaily(WalkDocument):
    """``chimera daily --all --json``: each client's ``daily --client NAME --json`` document under
    ``checks``; ``needs_attention`` names the checks that are not OK (exit 1, as for one client),
    ``failures`` the clients whose check could not run."""

    today: date | None
    checks: list[dict[str, Any]]
    needs_attention: list[Attention]


def _daily_all(today: date | None, json_out: bool) -> None:
    """Every client's daily check; exit 1 when any needs attention or failed."""
    walk = walk_clients(lambda name, _note: _daily_check(name, today), "daily check",
                        lambda _name, r: "all good" if r.ok else f"needs attention: {_attention(r)}")
    attention = [Attention(client=d.client, why=_attention(d.result)) for d in walk.done if not d.result.ok]
    if json_out:
        emit_json(AllDaily.of(walk, today=today, checks=[d.result.to_json() for d in walk.done],
                              needs_attention=attention).model_dump(mode="json"))
    else:
        _print_daily_table(walk)
        for a in attention:
            out.print(f"[yellow]{escape(a.client)}[/] needs attention: {escape(a.why)}", highlight=False,
                      soft_wrap=True)
        print_failures(walk)
    more = f"; {len(attention)} need attention: {', '.join(a.client for a in attention)}" if attention else ""
    end_walk(walk, "daily check", more, failed=bool(attention))


def _print_daily_table(walk: Walk[DailyReport]) -> None:
    """One row per client: sources behind, CRITICAL KPIs, stuck and failed work. The day checked is in
    the title (a range when the stores' timezones make it two days): a column of it did not fit 80."""
    days = sorted({d.result.today for d in walk.done})
    when = f", {days[0]}" if len(days) == 1 else f", {days[0]} to {days[-1]} (each store's today)" if days else ""
    table = walk_table(f"Daily check for every client{when}",
                       ("client", "sources behind", "critical KPIs", "stuck jobs", "failed", "status"),
                       ("client", "status"))
    for d in walk.done:
        r = d.result
        behind = sum(1 for f in r.freshness if not f.ok)
        table.add_row(escape(d.client), f"{behind} of {len(r.freshness)}", str(len(r.critical)),
                      str(len(r.stuck_jobs_requeued)), str(len(r.failed_ingests) + len(r.failed_play_jobs)),
                      "all good" if r.ok else "[yellow]needs attention[/]")
    out.print(table)


def _last_day(f: SourceFreshness) -> str:
    """The source's newest day, and for a quiet gig the day its export came (days behind counts from it)."""
    if f.last_day is None:
        return "no data"
    return f"{f.last_day} (quiet to {f.current_on})" if f.current_on else str(f.last_day)


def _behind(f: SourceFreshness, today: date) -> str:
    """Why one source fails the check: how far behind, from which day, or that it has no data. A gig's
    new export the same as the last (no order since) is no newer by its bytes: ``--until`` says it is."""
    from chimera.as_of import SPARSE

    if f.last_day is None:
        return f"{f.source} has no data up to {today}"
    since = f" (its newest export came {f.current_on}; last order {f.last_day})" if f.current_on else ""
    advice = (f": re-export it, and with no order since, ingest it with --until {today - timedelta(days=1)}"
              if f.source in SPARSE else "")
    return f"{f.source} {f.days_behind} days behind{since}{advice}"


def _attention(report: DailyReport) -> str:
    """What made the daily check fail, in one line."""
    parts = [_behind(f, report.today) for f in report.freshness if not f.ok]
    parts += [f"{k['id']} CRITICAL" for k in report.critical]
    if report.stuck_jobs_requeued:
        parts.append(f"{len(report.stuck_jobs_requeued)} stuck job(s) re-queued")
    if report.failed_ingests:
        parts.append(f"{len(report.failed_ingests)} failed ingest(s)")
    if report.failed_play_jobs:
        parts.append(f"{len(report.failed_play_jobs)} failed play job(s)")
    return "; ".join(parts) or "no data ingested yet"


@app.command()
def monthly(
    client: str | None = typer.Option(None, "--client", help="Client name (or --all)."),
    all_clients: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help="Month end (default: newest data)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document (with --all: every client's)."),
) -> None:
    """Monthly review: target changes from new baselines, plays to retire or add, a case study."""
    day = parse_day(as_of)
    if every_client(client, all_clients):
        _monthly_all(day, json_out)
        return
    assert client is not None
    ctx, review, doc = _monthly_review(client, day)
    if doc.get("as_of_note"):
        err.print(doc["as_of_note"], highlight=False, markup=False, soft_wrap=True)
    if json_out:
        emit_json(doc)
        return
    _print_target_changes(review.client, review.target_changes, ctx.config.currency)
    for p in review.plays_to_retire:
        out.print(f"retire or redesign: {p['play']} ({p['reason']})", markup=False, highlight=False)
    for p in review.plays_to_add:
        out.print(f"add a play: {p['reason']}", markup=False, highlight=False)
    out.print(review.case_study, markup=False, highlight=False)  # people's words (a decision's why) as written
    out.print(f"case study written to {doc['case_study_path']}", markup=False)


def _monthly_review(client: str, as_of: date | None) -> tuple[ClientContext, MonthlyReview, dict[str, Any]]:
    """The review and its ``monthly --json`` document, once the case study is written to the outbox."""
    from chimera.rhythms import monthly_review

    ctx = get_client(client)
    day, note = _month_end(ctx, reached(ctx, as_of))
    review = monthly_review(ctx, day)
    path = settings.outbox_dir(client) / f"case-study-{day}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(review.case_study, encoding="utf-8")
    return ctx, review, (review.model_dump(mode="json") | {"case_study_path": str(path)}
                    | ({"as_of_note": note} if note else {}))


class AllMonthly(WalkDocument):
    """``chimera monthly --all --json``: each client's ``monthly --client NAME --json`` document
    under ``reviews`` (each case study written to that client's outbox)."""

    as_of: date | None
    reviews: list[dict[str, Any]]


def _monthly_all(as_of: date | None, json_out: bool) -> None:
    """Every client's monthly review; exit 1 when any failed."""
    walk = walk_clients(lambda name, _note: _monthly_review(name, as_of)[2], "monthly review",
                        lambda _name, doc: f"{_month_counts(doc)}; case study written to {doc['case_study_path']}")
    if json_out:
        emit_json(AllMonthly.of(walk, as_of=as_of, reviews=[d.result for d in walk.done]).model_dump(mode="json"))
    else:
        table = walk_table("Monthly review for every client",
                           ("client", "month end", "target changes", "plays to retire", "plays to add"))
        for d in walk.done:
            doc = d.result
            table.add_row(escape(d.client), str(doc["as_of"]), str(_proposed(doc)), str(len(doc["plays_to_retire"])),
                          str(len(doc["plays_to_add"])))
        outbox = shown_path(settings.home() / "outbox")  # the path is the same for every client but its name
        table.caption = escape(f"case studies: {outbox}/CLIENT/case-study-MONTH-END.md; each in full: "
                               "chimera monthly --client CLIENT")
        out.print(table)
        print_failures(walk)
    end_walk(walk, "monthly review")


def _proposed(doc: dict[str, Any]) -> int:
    """Target changes proposed (a KPI without enough history proposes none)."""
    return sum(1 for p in doc["target_changes"] if p.get("enough_history") and p.get("proposed"))


def _month_counts(doc: dict[str, Any]) -> str:
    return (f"month to {doc['as_of']}: {_proposed(doc)} target change(s), {len(doc['plays_to_retire'])} play(s) to "
            f"retire, {len(doc['plays_to_add'])} to add")


def _print_target_changes(client: str, changes: list[dict], currency: str) -> None:
    """The proposed threshold changes as ``chimera kpis --calibrate`` shows them (current -> proposed,
    and why, money in ``currency``'s smallest unit); KPIs without enough history are named in one line."""
    from chimera.cli.cmd_kpis import proposal_table
    from chimera.kpi.models import Proposal

    proposals = [Proposal.model_validate(p) for p in changes]
    usable = [p for p in proposals if p.enough_history and p.proposed]
    if usable:
        out.print(proposal_table(client, usable, title=f"Target changes proposed for {client}", currency=currency))
    short = [p.kpi for p in proposals if p not in usable]
    if short:
        out.print(f"no target change proposed (not enough history yet): {', '.join(short)}",
                  markup=False, highlight=False)


def _month_end(ctx: ClientContext, given: date | None) -> tuple[date, str]:
    """The day given, else the commands' default day and why it is not the newest (a day still
    in progress at its ingest would end the month on a partial day); for a client without data,
    today in the store's timezone (the UTC date is a day a store west of UTC has not reached yet
    in its evening, or one it has left behind east of it)."""
    from chimera.as_of import default_day, store_zone
    from chimera.db.engine import session_scope

    if given is not None:
        return given, ""
    with session_scope() as s:
        default = default_day(s, ctx.company_id, ctx.config.timezone)
    return default.day or datetime.now(store_zone(ctx.config.timezone)).date(), default.note
