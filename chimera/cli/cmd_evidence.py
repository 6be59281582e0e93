"""``chimera play log`` (a play run by hand) and ``chimera evidence`` (what executed plays did)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from chimera.as_of import default_day, reached, store_zone
from chimera.cli.app import app, emit_json, err, out, parse_day, play_app
from chimera.cli.each_client import (
    ALL_HELP,
    WalkDocument,
    end_walk,
    every_client,
    print_failures,
    walk_clients,
    walk_table,
)
from chimera.cli.render import client_currency
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.evidence.models import METHOD
from chimera.evidence.record import evidence_report, log_manual_play, manual_run, shown_values, so_far
from chimera.evidence.stats import move_rule

_COLORS = {"moved_up": "green", "moved_down": "green", "no_detectable_change": "yellow",
           "inconclusive": "magenta", "confounded": "red", "pending": "dim"}
_SHORT = {"overlapping_play": "play", "driver_anomaly": "driver", "data_gap": "gap in", "price_change": "prices"}


@play_app.command("log")
def play_log(
    play: str = typer.Argument(..., help="Play id from plays.yml."),
    client: str = typer.Option(..., "--client", help="Client name."),
    executed_on: str = typer.Option(..., "--executed-on", help="Day the play was run (YYYY-MM-DD)."),
    kpis: str = typer.Option("", "--kpis", help="Comma-separated KPIs (default: the play's evidence KPIs; a "
                             "re-log without it keeps the stored ones)."),
    note: str | None = typer.Option(None, "--note", help="What was done, for the record (a re-log without it "
                                    "keeps the stored note)."),
    who: str | None = typer.Option(None, "--who", help="Who ran it (recorded; default: your OS user name; a "
                                   "re-log without it keeps the stored name)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Log a play a person ran by hand, so its evidence is judged like any other (logging the same
    play and day again updates that run)."""
    from agents.decisions import person

    day = parse_day(executed_on, "--executed-on")
    assert day is not None
    ctx = get_client(client)
    chosen = [k.strip() for k in kpis.split(",") if k.strip()] or None
    with session_scope() as session:
        earlier = manual_run(session, ctx, play, day)
        run = log_manual_play(session, ctx, play, day, kpis=chosen, note=note, who=(who or "").strip() or None,
                              by=person(who))
        payload = {
            "client": ctx.name, "play_run_id": run.id, "play": run.play_id,
            "executed_on": str(run.executed_on),
            "kpis": run.explanation.get("evidence_kpis", []), "note": run.explanation.get("note", ""),
            "source": run.source,
            "status": run.status, "correlation_id": run.correlation_id, "who": run.explanation.get("who"),
            "delay_days": ctx.configs.play(play).evidence.delay_days,
            "updated": earlier is not None, "logged_on": _logged_on(ctx, run.created_at),
            "changed": run.explanation["updates"][-1]["changed"] if earlier is not None else [],
        }
    if json_out:
        emit_json(payload)
    else:
        out.print(_logged_line(payload))


def _logged_line(payload: dict) -> str:
    """What ``play log`` did, in one line: a new run, or which logged run it updated (a re-log
    that silently rewrote a run read as a second one)."""
    what = f"[bold]{payload['play']}[/] executed {payload['executed_on']} by {escape(payload['who'])}"
    if payload["updated"]:
        changed = payload["changed"]
        fields = [f"{label} {'replaced' if key in changed else 'kept'}" for key, label in (("note", "note"),
                                                                                          ("kpis", "KPIs"))]
        said = (f"updated the run logged on {payload['logged_on']} (id {payload['play_run_id']}): {what}, "
                + ", ".join(fields) + (" (who ran it replaced)" if "who" in changed else ""))
    else:
        said = f"logged a new run: {what} (run {payload['play_run_id']})"
    return (f"{said}; evidence on {', '.join(payload['kpis'])} after {payload['delay_days']} days: "
            f"chimera evidence --client {payload['client']}")


def _logged_on(ctx: ClientContext, at: datetime) -> str:
    """The store's day a run was logged on (stored in UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(store_zone(ctx.config.timezone)).date().isoformat()


@app.command("evidence")
def evidence(
    client: str | None = typer.Option(None, "--client", help="Client name (or --all)."),
    all_clients: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help="Judge as of this day (default: newest data)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Refresh and show the evidence of every executed play (before/after, no control group)."""
    day = parse_day(as_of, "--as-of")
    if every_client(client, all_clients):
        _evidence_all(day, json_out)
        return
    assert client is not None
    ctx, report = _evidence_report(client, day)
    if report.get("as_of_note"):  # the after-windows end the day before the newest data: say why, as kpis does
        err.print(report["as_of_note"], highlight=False, markup=False, soft_wrap=True)
    if json_out:
        emit_json(report)
        return
    currency = client_currency(ctx.name)  # money in its smallest unit, as the reasons read it (whole yen)
    table = Table(title=f"Evidence for {ctx.name} as of {report['as_of']} ({METHOD})", box=box.SIMPLE_HEAD)
    longest = max((len(e[k]) for e in report["evidence"] for k in ("play", "kpi")), default=10)
    table.add_column("play / kpi, executed", overflow="fold", min_width=min(longest, 24))  # names stay whole
    # three columns fit 80: four (values, effect, verdict, confounders) cropped the confounders to 5 letters
    table.add_column("before -> after\neffect [95 % CI]", justify="right", overflow="fold")  # "->": after may be larger
    verdicts = max((len(e["verdict"]) for e in report["evidence"]), default=7)
    table.add_column("verdict,\nconfounders", overflow="fold", min_width=verdicts)
    for e in report["evidence"]:
        effect = (so_far(e) or "-") if e["effect_pct"] is None else f"{e['effect_pct']:+.1f} %"  # reason says why
        if e["ci_low_pct"] is not None:
            effect += f" [{e['ci_low_pct']:+.1f}, {e['ci_high_pct']:+.1f}]"
        color = _COLORS.get(e["verdict"], "white")
        shown = " -> ".join(shown_values(e, currency))
        run = f" run {e['play_run_id']}" if e.get("play_run_id") else ""  # two runs of a play: which is which
        table.add_row(escape(f"{e['play']} / {e['kpi']}\n{e['executed_on']}{run}"), escape(f"{shown}\n{effect}"),
                      f"[{color}]{e['verdict']}[/]" + _below(confounder_summary(e["confounders"])))
    out.print(table)
    for e in report["evidence"]:  # why each verdict: the windows and values compared, in words
        if e.get("reason"):
            run = f" (run {e['play_run_id']})" if e.get("play_run_id") else ""
            out.print(f"{e['play']}{run} / {e['kpi']}: {e['reason']}", markup=False, highlight=False, soft_wrap=True)
    if not report["evidence"]:
        out.print(f"no executed plays yet: chimera play log PLAY --client {ctx.name} --executed-on DAY")
    out.print(f"method: {METHOD}. {move_rule()}", markup=False, highlight=False, soft_wrap=True)


def _evidence_report(client: str, as_of: date | None) -> tuple[ClientContext, dict[str, Any]]:
    """The client and its ``evidence --json`` document (with ``as_of_note`` when the day judged is
    not the newest data's), the evidence refreshed first."""
    ctx = get_client(client)
    day, note = _judged_day(ctx, reached(ctx, as_of, "--as-of"))
    return ctx, evidence_report(ctx, day) | ({"as_of_note": note} if note else {})


class AllEvidence(WalkDocument):
    """``chimera evidence --all --json``: each client's ``evidence --client NAME --json`` document
    under ``reports``."""

    as_of: date | None
    reports: list[dict[str, Any]]


def _verdicts(report: dict[str, Any]) -> str:
    """``2 moved_up, 1 pending``: each verdict and how many play/KPI pairs have it."""
    counts = Counter(e["verdict"] for e in report["evidence"])
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "no executed plays yet"


def _evidence_all(as_of: date | None, json_out: bool) -> None:
    """Every client's evidence, refreshed; exit 1 when any failed."""
    walk = walk_clients(lambda name, _note: _evidence_report(name, as_of)[1], "evidence",
                        lambda _name, r: f"as of {r['as_of']}: {_verdicts(r)}")
    if json_out:
        emit_json(AllEvidence.of(walk, as_of=as_of, reports=[d.result for d in walk.done]).model_dump(mode="json"))
    else:
        table = walk_table(f"Evidence for every client ({METHOD})",
                           ("client", "as of", "plays", "verdicts (play / KPI pairs)"), ("client", "as of"))
        for d in walk.done:
            runs = {e.get("play_run_id") or (e["play"], e["executed_on"]) for e in d.result["evidence"]}
            table.add_row(escape(d.client), str(d.result["as_of"]), str(len(runs)), _verdicts(d.result))
        out.print(table)
        print_failures(walk)
        out.print("each client's verdicts and why: chimera evidence --client NAME", markup=False, highlight=False)
    end_walk(walk, "evidence")


def confounder_summary(confounders: list[dict]) -> str:
    """``gap in net_sales, orders; play traffic_recovery``: each kind named once (the reasons
    printed under the table give the days), so the column stays readable on 80 columns."""
    kinds: dict[str, list[str]] = {}
    for c in confounders:
        kinds.setdefault(_SHORT.get(c["kind"], c["kind"]), []).append(str(c["what"]))
    return "; ".join(f"{kind} {', '.join(dict.fromkeys(what))}" for kind, what in kinds.items())


def _judged_day(ctx: ClientContext, given: date | None) -> tuple[date | None, str]:
    """The day given, else the commands' default day and its note (computed here: evidence_report
    resolves the same day but returns no note)."""
    if given is not None:
        return given, ""
    with session_scope() as s:
        default = default_day(s, ctx.company_id, ctx.config.timezone)
    return default.day, default.note


def _below(confounders: str) -> str:
    """The confounders, under the verdict they explain."""
    return f"\n{escape(confounders)}" if confounders else ""
