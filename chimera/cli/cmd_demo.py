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
from typing import Any

import typer
from rich.markup import escape
from rich.rule import Rule

from chimera.cli.app import app, err, out
from chimera.cli.cmd_cycle import print_progress, recorded
from chimera.cli.render import play_panel, print_outcome
from chimera.config.loader import ConfigSet
from chimera.evidence.record import shown_values

DEMO_POLICY = (
    "demo policy (a real operator decides by hand): approve the top-ranked fully reversible play; "
    "override the top-ranked other play with a smaller change (in a step that cannot be undone when it has one: "
    "a list cut to its first item, or a percentage halved), reason recorded; reject the rest"
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
def demo(keep: bool = typer.Option(False, "--keep", help="Keep the last demo home.")) -> None:
    """Run a full weekly cycle on the bundled demo client, offline, and print the report."""
    from chimera.db.engine import dispose_all, session_scope
    from chimera.demo.demo_client import ensure_demo_client
    from chimera.evidence.record import evidence_report, log_manual_play
    from graphs.service import run_cycle

    started = time.perf_counter()
    home = _demo_home(keep)
    dispose_all()
    out.print(Rule("Chimera demo — offline, no API key needed"))
    out.print(f"home: {home}", markup=False)
    with err.status("generating the demo store's exports (seeded)…"):
        ctx, info = ensure_demo_client()
    out.print(f"demo client [bold]{escape(ctx.name)}[/]: exports in {escape(str(ctx.folder / 'exports'))}; "
              f"cycle as of {info.as_of}")
    with session_scope() as s:
        from sqlmodel import select

        from chimera.db.models import PlayRun

        if not s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id, PlayRun.source == "manual")).first():
            log_manual_play(s, ctx, "pricing_test", info.price_test_day, note="price test run by hand before the demo",
                            who="demo")
    out.print(f"logged an earlier play run by hand: pricing_test executed on {info.price_test_day}")
    out.print(Rule("Weekly cycle"))
    outcome = run_cycle(ctx.name, as_of=info.as_of, who="demo", on_event=print_progress)
    print_outcome(out, outcome)
    out.print(Rule("Decisions"))
    out.print(f"[italic]{DEMO_POLICY}[/]")
    outcome = _decide_per_policy(outcome, ctx.configs)
    out.print(Rule("Executed (dry run: assets in the outbox, nothing changed in any store)"))
    for j in outcome.jobs:
        if j["bot"]:
            out.print(f"job {j['id']} {j['type']} by {j['owner']}: {j['bot']}.{j['action']} -> {j['status']}")
        elif j["type"] == "LOG_EVIDENCE" and j["play_run_id"]:
            out.print(f"job {j['id']} LOG_EVIDENCE for {j['play_run_id']}: scheduled after the play's delay")
    out.print(Rule("Evidence (before/after, no control group)"))
    for e in evidence_report(ctx, info.as_of, refresh=False)["evidence"]:
        out.print(escape(_evidence_line(e, ctx.config.currency)), highlight=False)
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


def _evidence_line(e: dict, currency: str | None = None) -> str:
    """One evidence record as a sentence: numbers (money in ``currency``'s smallest unit), interval,
    verdict and why."""
    if e.get("effect_pct") is None:
        return f"{e['play']} on {e['kpi']} (executed {e['executed_on']}): {e['verdict']} — {e.get('reason', '')}"
    notes = [c.get("note", str(c)) if isinstance(c, dict) else str(c) for c in e.get("confounders", [])]
    before, after = shown_values(e, currency)
    return (f"{e['play']} on {e['kpi']} (executed {e['executed_on']}): {before} -> {after}, "
            f"{e['effect_pct']:+.1f}% (95% interval {e['ci_low_pct']:+.1f}..{e['ci_high_pct']:+.1f}): "
            f"{e['verdict']} — {'; '.join(notes) or e.get('reason', '')}")


def _decide_per_policy(outcome, configs: ConfigSet):
    """Decide every pending play per DEMO_POLICY, saying what was decided and, for the override,
    exactly which step parameter it changed (as recorded)."""
    from agents.decisions import describe_changes
    from graphs.service import decide

    pending = list(outcome.pending)
    approve = next((p for p in pending if p.reversible), None)
    override = next((p for p in pending if p is not approve), None)
    smaller = smaller_change(configs, override.play_id) if override else {}
    for p in pending:
        if p is approve:
            outcome = decide(p.play_run_id, "approve", who="demo-policy", why="top-ranked fully reversible play")
            out.print(f"approved  {p.play_id} ({p.play_run_id}): fully reversible")
        elif p is override and smaller:
            outcome = decide(p.play_run_id, "override", who="demo-policy", params=smaller,
                             why="a smaller change first; a person widens it after reading the evidence")
            changed = describe_changes(recorded(p.play_run_id)[1])
            out.print(f"overrode  {p.play_id} ({p.play_run_id}): {changed}; reason recorded", highlight=False)
        else:
            why = "demo policy: two plays at a time" if p is not override else "no smaller version to propose"
            outcome = decide(p.play_run_id, "reject", who="demo-policy", why=why)
            out.print(f"rejected  {p.play_id} ({p.play_run_id}): {why}")
    return outcome


def smaller_change(configs: ConfigSet, play_id: str) -> dict[str, Any]:
    """The demo's override: one parameter of a step that cannot be undone (else any step) made smaller,
    a list cut to its first item or a percentage halved; ``{}`` when nothing can shrink."""
    steps = configs.play(play_id).job_plan
    reversible = {(b.id, a.name): a.reversible for b in configs.agents.bots for a in b.actions}
    for step in sorted(steps, key=lambda st: reversible.get((st.bot, st.action), False)):
        for key, value in step.params.items():
            if isinstance(value, list) and len(value) > 1:
                return {key: value[:1]}
            if key.endswith("_pct") and isinstance(value, int | float) and not isinstance(value, bool) and value:
                return {key: value // 2 if isinstance(value, int) else value / 2}
    return {}


def _write_report(client: str, home: Path) -> None:
    try:
        from chimera.report.html import write_report
    except ModuleNotFoundError:
        return
    path = write_report(client, home / "report.html")
    out.print(f"report: {path}", markup=False)


__all__ = ["demo", "play_panel"]
