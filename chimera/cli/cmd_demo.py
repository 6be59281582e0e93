"""``chimera demo``: a full weekly cycle on the bundled demo client, offline, ending in a report.

The demo lives in its own home (``./.chimera-demo`` unless CHIMERA_HOME is set) and starts fresh
each time, so it never touches a user's own clients. Its decisions follow a stated demo policy:
approve the top reversible play, override the second with a smaller change, reject the rest.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import typer
from rich.rule import Rule
from rich.table import Table

from chimera.cli.app import app, err, out
from chimera.cli.render import play_panel, print_outcome

DEMO_POLICY = (
    "demo policy: approve the top-ranked reversible play, override the second with a smaller change "
    "(reason recorded), reject anything else (a real operator decides these by hand)"
)


def _demo_home(keep: bool) -> Path:
    home = Path(os.environ.get("CHIMERA_HOME") or Path.cwd() / ".chimera-demo").resolve()
    if not keep and home.exists() and (home / "chimera.db").exists() and "CHIMERA_HOME" not in os.environ:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    os.environ["CHIMERA_HOME"] = str(home)
    os.environ.pop("CHIMERA_DATABASE_URL", None) if "CHIMERA_DATABASE_URL" not in os.environ else None
    return home


@app.command()
def demo(keep: bool = typer.Option(False, "--keep", help="Keep the previous demo home instead of starting fresh.")) -> None:
    """Run a full weekly cycle on the bundled demo client, offline, and print the report."""
    from chimera.db.engine import dispose_all
    from chimera.db.engine import session_scope
    from chimera.demo.demo_client import ensure_demo_client
    from chimera.evidence.record import evidence_report, log_manual_play
    from graphs.service import decide, run_cycle

    started = time.perf_counter()
    home = _demo_home(keep)
    dispose_all()
    out.print(Rule("Chimera demo — offline, no API key needed"))
    out.print(f"home: {home}")
    with err.status("generating the demo store's exports (seeded)…"):
        ctx, info = ensure_demo_client()
    out.print(f"demo client [bold]{ctx.name}[/]: exports in {ctx.folder / 'exports'}; cycle as of {info.as_of}")
    with session_scope() as s:
        from sqlmodel import select

        from chimera.db.models import PlayRun

        if not s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id, PlayRun.source == "manual")).first():
            log_manual_play(s, ctx, "pricing_test", info.price_test_day, note="price test run by hand before the demo",
                            who="demo")
    out.print(f"logged an earlier play run by hand: pricing_test executed on {info.price_test_day}")
    out.print(Rule("Weekly cycle"))
    outcome = run_cycle(ctx.name, as_of=info.as_of, who="demo",
                        on_event=lambda e: err.print(f"[dim]{e.get('node')}: {e.get('type') or e.get('decision')} "
                                                     f"{e.get('status', '')}[/]"))
    print_outcome(out, outcome)
    out.print(Rule("Decisions"))
    out.print(f"[italic]{DEMO_POLICY}[/]")
    for i, pending in enumerate(list(outcome.pending)):
        if i == 0 and pending.reversible:
            outcome = decide(pending.play_run_id, "approve", who="demo-policy", why="top-ranked and reversible")
            out.print(f"approved {pending.play_id} ({pending.play_run_id})")
        elif i == 1 and pending.reversible:
            outcome = decide(pending.play_run_id, "override", who="demo-policy",
                             why="run it, but with a smaller change first", params={"change_pct": 5})
            out.print(f"overrode {pending.play_id} ({pending.play_run_id}): smaller change, reason recorded")
        else:
            outcome = decide(pending.play_run_id, "reject", who="demo-policy",
                             why="demo policy: only two plays at a time / needs a person")
            out.print(f"rejected {pending.play_id} ({pending.play_run_id}), reason recorded")
    out.print(Rule("Executed (dry run: assets in the outbox, nothing changed in any store)"))
    table = Table()
    for col in ("job", "type", "owner", "bot.action", "status"):
        table.add_column(col)
    for j in outcome.jobs:
        table.add_row(str(j["id"]), j["type"], j["owner"], f"{j['bot']}.{j['action']}" if j["bot"] else "", j["status"])
    out.print(table)
    out.print(Rule("Evidence (before/after, no control group)"))
    report = evidence_report(ctx, info.as_of, refresh=False)
    ev = Table()
    for col in ("play", "executed", "kpi", "before", "after", "effect %", "95% interval", "verdict", "confounders"):
        ev.add_column(col, overflow="fold")
    for e in report["evidence"]:
        ci = f"{e['ci_low_pct']:+.1f}..{e['ci_high_pct']:+.1f}" if e.get("ci_low_pct") is not None else "—"
        eff = f"{e['effect_pct']:+.1f}" if e.get("effect_pct") is not None else "—"
        ev.add_row(e["play"], str(e["executed_on"]), e["kpi"], str(e["before"]), str(e["after"]), eff, ci,
                   e["verdict"], "; ".join(str(c) for c in e.get("confounders", [])))
    out.print(ev)
    _write_report(ctx.name, home)
    out.print(Rule("Explore further"))
    for line in (
        f"export CHIMERA_HOME={home}",
        "chimera kpis --client demo", "chimera evidence --client demo",
        "chimera jobs --client demo", "chimera daily --client demo", "chimera monthly --client demo",
        'chimera sop search "price test"', "chimera chat   # the command center in your browser",
    ):
        out.print(f"  {line}")
    out.print(f"demo finished in {time.perf_counter() - started:.1f} s")


def _write_report(client: str, home: Path) -> None:
    try:
        from chimera.report.html import write_report
    except ModuleNotFoundError:
        return
    path = write_report(client, home / "report.html")
    out.print(f"report: {path}")


__all__ = ["demo", "play_panel"]
