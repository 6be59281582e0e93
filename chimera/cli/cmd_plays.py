"""``chimera play clear-review``: a person takes a play out of review (manual §8.3); ``chimera play
revert``: a person undoes an executed play; ``chimera play pause`` / ``resume``: a person stops the
rest of a play keeping its changes, then lets it go on (manual §4.7, §6.2, plays to continue or stop);
``chimera play scale``: a person suggests a larger run of a play that worked (manual §4.7)."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from chimera.cli.app import emit_json, out, parse_day, play_app
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.plays.models import ScaleOutcome
from chimera.plays.pause import HeldJob, PauseOutcome, ResumeOutcome
from chimera.plays.revert import RevertOutcome, revert


@play_app.command("clear-review")
def clear_review_cmd(
    play: str = typer.Argument(..., help="Play id."),
    client: str = typer.Option(..., "--client", help="Client name."),
    reason: str = typer.Option(..., "--reason", help="Why it may trigger again (recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who clears it (recorded; default: your OS user name)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Let a play that was put under review trigger again; who and why are kept in its record."""
    from agents.decisions import person
    from chimera.plays.review import clear_review

    who = person(who)  # a person, as for approve/override/reject: 'cli' would name no one to ask
    ctx = get_client(client)
    ctx.configs.play(play)  # unknown play -> clear error with a suggestion
    with session_scope() as s:
        row = clear_review(s, ctx.company_id, play, who, reason)
        record = dict(row.record)
    if json_out:
        emit_json({"client": client, "play": play, "under_review": False, "record": record})
    else:
        out.print(f"{play} cleared for {client} by {escape(who)}: it may trigger again")


@play_app.command("revert")
def revert_cmd(
    play_run_id: str = typer.Argument(..., help="Play run id of an executed play (cycle or jobs output)."),
    reason: str | None = typer.Option(None, "--reason", help="Why it is undone (required; recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who reverts it (recorded; default: your OS user name)."),
    on: str | None = typer.Option(None, "--on", help="Day it is undone, YYYY-MM-DD (default: today, store time); "
                                                     "evidence credits the play only before it."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Undo an executed play: inverse ChangeSets through the same adapter (dry run: outbox assets)."""
    from agents.decisions import person

    outcome = revert(play_run_id, person(who), reason, parse_day(on, "--on"))
    if json_out:
        emit_json(outcome.model_dump(mode="json"))
        return
    for line in revert_lines(outcome):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def revert_lines(outcome: RevertOutcome) -> list[str]:
    """The revert for a person: what was undone and where the restoring asset is, what is left to
    do by hand, and from which day the evidence stops crediting the play."""
    o = outcome
    if o.already_reverted:
        head = (f"play run {o.play_run_id} ({o.play}) was already reverted on {o.reverted_on} by {o.who} "
                f"({o.why}): nothing applied twice")
    else:
        head = f"reverted {o.play} (play run {o.play_run_id}) on {o.reverted_on} by {o.who}: {o.why}"
    lines = [head]
    for r in o.reverted:
        if r.changes:
            state = "undone" if r.applied else "already undone"
            what = f"{len(r.changes)} change(s) set back to their before values"
        else:  # nothing was set back: a sheet asks a person to undo it ("undone" would say otherwise)
            state = "undo sheet written" if r.applied else "undo sheet already written"
            what = "no before/after was recorded: the sheet asks a person to undo what its brief led to"
        lines.append(f"  {state} ({r.adapter}): {r.bot}.{r.action}: {what}" + (f" -> {r.asset}" if r.asset else ""))
    for b in o.by_hand:
        step = f"{b.bot}.{b.action}: " if b.bot else ""
        what = "; ".join(f"{c.target} {c.field}: {_value(c.before)} -> {_value(c.after)}" for c in b.changes)
        lines.append(f"  cannot be undone automatically: do by hand: {step}{b.summary}; {b.why}"
                     + (f"; it changed {what}" if what else "") + (f"; asset {b.asset}" if b.asset else ""))
    lines.append(f"evidence: from {o.reverted_on} on, {o.play}'s KPIs are no longer credited to this run")
    return lines


def _value(value: object) -> str:
    """A change's value as a person reads it: text as is, lists and numbers as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


@play_app.command("pause")
def pause_cmd(
    play_run_id: str = typer.Argument(..., help="Play run id of an approved, executing or executed play."),
    reason: str | None = typer.Option(None, "--reason", help="Why it is paused (required; recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who pauses it (recorded; default: your OS user name)."),
    on: str | None = typer.Option(None, "--on", help="Day it is paused, YYYY-MM-DD (default: today, store time)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Stop the rest of a play and keep what it changed: its steps not run yet are held, and the play is
    not suggested again until a person resumes it."""
    from agents.decisions import person
    from chimera.plays.pause import pause

    outcome = pause(play_run_id, person(who), reason, parse_day(on, "--on"))
    if json_out:
        emit_json(outcome.model_dump(mode="json"))
        return
    _print(pause_lines(outcome))


@play_app.command("resume")
def resume_cmd(
    play_run_id: str = typer.Argument(..., help="Play run id of a paused (or reverted) play."),
    reason: str | None = typer.Option(None, "--reason", help="Why it goes on (required; recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who resumes it (recorded; default: your OS user name)."),
    on: str | None = typer.Option(None, "--on", help="Day it is resumed, YYYY-MM-DD (default: today, store time)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-queue and run the steps a pause held (a reverted play: lift its hold, its changes stay undone)."""
    from agents.decisions import person
    from chimera.plays.pause import refreshed, resume

    outcome = resume(play_run_id, person(who), reason, parse_day(on, "--on"))
    if outcome.requeued and outcome.cycle_run_id:
        from graphs.service import resume_cycle

        resume_cycle(outcome.cycle_run_id)  # runs them now, as approve does (unless the cycle awaits a decision)
        outcome = refreshed(outcome)
    if json_out:
        emit_json(outcome.model_dump(mode="json"))
        return
    _print(resume_lines(outcome))


def _print(lines: list[str]) -> None:
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _step(j: HeldJob) -> str:
    return f"step {j.step} {j.bot}.{j.action} (job {j.id})" if j.bot else f"{j.type} (job {j.id})"


def pause_lines(o: PauseOutcome) -> list[str]:
    """The pause for a person: what is kept, what is held, and until when the play is held back."""
    if o.already_paused:
        head = f"play run {o.play_run_id} ({o.play}) was already paused on {o.on} by {o.who} ({o.why}): nothing changed"
    else:
        head = f"paused {o.play} (play run {o.play_run_id}) on {o.on} by {o.who}: {o.why}"
    lines = [head, f"  kept: {o.kept} change(s) already applied stay as they are "
                   f"(chimera play revert {o.play_run_id} --reason R undoes them)"]
    lines += [f"  held: {_step(j)}: {_held_state(j)}" for j in o.held]
    lines += [f"  running when paused: {_step(j)}: it finishes and its change is kept" for j in o.running]
    if not o.held and not o.running:
        lines.append("  nothing left to run: every step had already run")
    lines.append(f"held back: {o.play} is not suggested again until a person resumes it "
                 f"(chimera play resume {o.play_run_id} --reason R)")
    return lines


def _held_state(j: HeldJob) -> str:
    """What a pause holds: a failed step (run again on resume), one skipped for it, or one not run yet."""
    if j.status == "failed":
        return f"failed ({j.error}); run again when the play is resumed"
    if j.skipped_for is not None:
        return f"skipped: runs once job {j.skipped_for} succeeds, after the play is resumed"
    return "not run until the play is resumed"


def _resumed_state(j: HeldJob, cycle_run_id: str | None) -> str:
    """Where a step the resume re-queued stands: a step skipped for a failed one waits for that one
    (it failed again: "a decision is pending" would send a person to look for one that is not there)."""
    if j.status == "succeeded":
        return "ran"
    if j.status == "failed":
        return "failed (see chimera jobs)"
    if j.status == "cancelled":
        return (f"skipped: runs once job {j.skipped_for} succeeds" if j.skipped_for is not None
                else "cancelled: not run (see chimera jobs)")
    return f"{j.status}: runs when cycle run {cycle_run_id} goes on (a decision there is pending)"


def resume_lines(o: ResumeOutcome) -> list[str]:
    """The resume for a person: which held steps ran (or still wait, and for what)."""
    ref = f"{o.play} (play run {o.play_run_id})"
    if o.already_resumed:
        head = (f"play run {o.play_run_id} ({o.play}) was already resumed on {o.on} by {o.who} ({o.why}): "
                "nothing re-queued twice")
    elif o.of == "revert":
        head = f"lifted the revert's hold on {ref} on {o.on} by {o.who}: {o.why}"
    else:
        head = f"resumed {ref} on {o.on} by {o.who}: {o.why}"
    lines = [head]
    lines += [f"  {_step(j)}: {_resumed_state(j, o.cycle_run_id)}" for j in o.requeued]
    if o.of == "revert":
        lines.append("  its changes stay undone; it may be suggested again when its trigger fires")
    else:
        lines.append(f"  {o.play} may be suggested again when its trigger fires (status now {o.status})")
    return lines


@play_app.command("scale")
def scale_cmd(
    play_run_id: str = typer.Argument(..., help="Play run id of an executed play whose evidence says it worked."),
    reason: str | None = typer.Option(None, "--reason", help="Why it is scaled (required; recorded)."),
    who: str | None = typer.Option(None, "--who", help="Who scales it (recorded; default: your OS user name)."),
    on: str | None = typer.Option(None, "--on", help="Day it is scaled, YYYY-MM-DD (default: today, store time)."),
    sets: list[str] = typer.Option([], "--set", help="STEP.PARAM=VALUE: set one step param instead of the rule "
                                                     "(STEP: its number, bot.action or action); never past the "
                                                     "step's max_* cap. Repeatable."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Suggest a larger run of a play that worked: its step params x plays.yml policy.scale_factor, never past
    a step's max_* cap. The new run awaits a decision like any suggestion (chimera approve NEW)."""
    from agents.decisions import person
    from chimera.plays.scale import scale

    outcome = scale(play_run_id, person(who), reason, parse_day(on, "--on"), sets)
    if json_out:
        emit_json(outcome.model_dump(mode="json"))
        return
    _print(scale_lines(outcome))


def scale_lines(o: ScaleOutcome) -> list[str]:
    """The scale for a person: the new run, each param before -> after and why, the evidence, what next."""
    if o.already_scaled:
        head = (f"play run {o.scaled_from} ({o.play}) was already scaled on {o.on} by {o.who} ({o.why}): "
                f"play run {o.play_run_id} ({o.status}); nothing suggested twice")
    else:
        head = (f"scaled {o.play}: play run {o.play_run_id} suggested from play run {o.scaled_from} on {o.on} "
                f"by {o.who}: {o.why}")
    lines = [head]
    lines += [f"  step {c.step} {c.name} {c.param}: {c.before} -> {c.after} ({c.how})" for c in o.changes]
    lines += [f"  worked: {e}" for e in o.evidence]
    if o.next_step:
        lines.append(f"nothing runs until a person decides it: {o.next_step} (or chimera override {o.play_run_id} "
                     f"--reason R --params JSON, chimera reject {o.play_run_id} --reason R)")
        lines.append("undecided, it waits in each next cycle until a person decides it")
    return lines
