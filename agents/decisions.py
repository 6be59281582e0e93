"""Recording a decision on a play run: exactly once, with who and why, then the follow-up job."""

from __future__ import annotations

import getpass
from typing import Any

from sqlmodel import Session, select

from agents.bots.params import Check, cap_of, number
from agents.bots.registry import reads
from agents.context import CycleContext
from chimera.config.loader import ConfigSet, suggest
from chimera.db.models import Decision, PlayRun
from chimera.errors import DecisionError

KINDS = {"approve": "approved", "override": "approved", "auto_approve": "approved", "reject": "rejected"}


def apply_decision(session: Session, ctx: CycleContext, run: PlayRun, kind: str, who: str, why: str,
                   params: dict[str, Any] | None = None) -> Decision:
    """Record the decision (once: a second one is refused) and enqueue planning when approved."""
    from agents.jobs import cycle_job

    if kind not in KINDS:
        raise DecisionError(f"decision {kind!r}: expected one of approve, override, reject")
    if kind in ("override", "reject") and not why.strip():
        raise DecisionError(f"{kind} needs a reason (--reason)")
    changes = _checked_changes(ctx, run, kind, params)
    existing = recorded_decision(session, run.id)
    if existing is not None:
        raise DecisionError(
            f"play run {run.id} ({run.play_id}) was already decided: {existing.kind} by {existing.who}"
        )
    decision = Decision(company_id=run.company_id, play_run_id=run.id, kind=kind, who=who, why=why,
                        correlation_id=run.correlation_id)
    session.add(decision)
    run.status = KINDS[kind]
    if params:  # what the override changed, beside the decision's who and why (same play run)
        run.rationale = {**run.rationale, "override_params": params, "override_changes": changes}
    session.add(run)
    session.flush()
    if run.status == "approved" and not ctx.silent:
        play = ctx.client.configs.play(run.play_id)
        cycle_job(session, ctx, "PLAN_JOB_QUEUE_FOR_PLAY", play_run_id=run.id,
                  correlation_id=run.correlation_id, play_owner=play.owner)
    return decision


def _checked_changes(ctx: CycleContext, run: PlayRun, kind: str,
                     params: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The override's changes, step by step, checked here so every face (CLI, chat, demo) gets the
    same refusal before anything is recorded: params outside an override, or a key no step of the
    play accepts, would be stored and change nothing."""
    if params is not None and not isinstance(params, dict):
        raise DecisionError(f"override params must be a JSON object, got {type(params).__name__}")
    if not params:
        return []
    if kind != "override":
        raise DecisionError(f"{kind} takes no step parameters: changing them is an override")
    check_params(ctx.client.configs, run.play_id, params)
    from chimera.plays.scale import step_params as scaled_params

    return override_changes(ctx.client.configs, run.play_id, params, scaled_params(run))


def same_decision(existing: Decision, run: PlayRun, kind: str, who: str, why: str,
                  params: dict[str, Any] | None) -> bool:
    """True when a repeated request is the recorded decision itself (a double click, a re-run after a
    crash), so it may only resume the cycle; anything else would be silently dropped."""
    recorded = (run.rationale or {}).get("override_params")
    return (existing.kind, existing.who, existing.why.strip()) == (kind, who, why.strip()) and \
        (recorded or None) == (params or None)


def person(given: str | None = None) -> str:
    """Who decides: the name given, else the OS user running the command. A decision is a person's:
    a placeholder such as 'cli' would leave the audit trail without anyone to ask."""
    if given and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        raise DecisionError("cannot tell who you are (no login name): pass --who NAME") from None


def recorded_decision(session: Session, play_run_id: str) -> Decision | None:
    """The decision already recorded on a play run, if any (one per run)."""
    return session.exec(select(Decision).where(Decision.play_run_id == play_run_id)).first()


def step_params(configs: ConfigSet, play_id: str) -> list[tuple[str, set[str], dict[str, Any]]]:
    """Per job plan step: ``bot.action``, the parameters its bot reads and the step's values. An
    action with a dedicated function accepts what that function reads (``register(..., reads=)``),
    so a key accepted is a key that changes the ChangeSet; an action without one gets a brief listing
    every parameter for a person: the step's own (plays.yml) and the action's (agents.yml)."""
    steps = []
    for step in configs.play(play_id).job_plan:
        declared = reads(step.bot, step.action)
        if declared is None:
            action = next((a for a in configs.bot(step.bot).actions if a.name == step.action), None)
            accepted = set(step.params) | set(action.params if action else [])
        else:
            accepted = set(declared)
        steps.append((f"{step.bot}.{step.action}", accepted, dict(step.params)))
    return steps


def check_params(configs: ConfigSet, play_id: str, params: dict[str, Any]) -> None:
    """Refuse, before anything is recorded, an override its bots could not follow: a key no step's
    bot reads (a misspelling would change nothing the operator meant to change), a value the bot
    cannot use, or a value beyond the play's own ``max_*`` constraint (a cap only a config change,
    logged in the changelog, may raise)."""
    accepted = sorted(set().union(*(a for _, a, _ in step_params(configs, play_id))))
    unknown = [f"{key!r}{suggest(key, accepted)}" for key in params if key not in accepted]
    if unknown:
        raise DecisionError(f"override params: {play_id} has no step parameter {', '.join(unknown)}; "
                            f"its steps accept {', '.join(accepted) or 'none'}; nothing was recorded")
    per_step = params_per_step(configs, play_id, params)
    for index, step in enumerate(configs.play(play_id).job_plan):
        given = per_step[index]
        name = f"{step.bot}.{step.action}"
        _check_sizes(play_id, name, given)
        checks = reads(step.bot, step.action) or {}
        _check_values(play_id, name, checks, given)
        _check_kinds(play_id, name, {k: v for k, v in step.params.items() if k not in checks}, given)
        _check_caps(play_id, name, dict(step.params), given)


def _check_values(play_id: str, step: str, checks: dict[str, Check], given: dict[str, Any]) -> None:
    """A value the step's bot cannot use (``count: "two"``) is refused naming what it expects."""
    for key, value in given.items():
        problem = checks[key](value) if key in checks else None
        if problem:
            raise DecisionError(f"override params: {play_id} {step} {key} {value!r} is not {problem}; "
                                "nothing was recorded")


def _kind(value: Any) -> str:
    """What a step value is, as an override must keep it: a list, a mapping, true/false, a number, text."""
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _check_kinds(play_id: str, step: str, plan: dict[str, Any], given: dict[str, Any]) -> None:
    """A value of another kind than the step's own in plays.yml (a list of fields given as one text, a
    number as a list, true/false as a word) is refused: the bot's brief would carry it as given and the
    override record would call it a change of that parameter. A number may be written as text ("5") and
    numeric text as a number."""
    for key, value in given.items():
        if key not in plan or plan[key] is None or value is None:
            continue
        want, got = _kind(plan[key]), _kind(value)
        if want == got or ({want, got} == {"a number", "text"} and None not in (number(value), number(plan[key]))):
            continue
        raise DecisionError(f"override params: {play_id} {step} {key} {value!r} is not {want} like the "
                            f"step's own {plan[key]!r}; nothing was recorded")


def _check_sizes(play_id: str, step: str, given: dict[str, Any]) -> None:
    """A number beyond what JSON readers keep exact (``count: 1e30``) is no value a step can carry: a
    bot would accept it as a whole number, and a scale of the run could not grow it."""
    from chimera.plays.scale import LARGEST, WHY_LARGEST

    for key, value in given.items():
        if (n := number(value)) is not None and abs(n) > LARGEST:
            raise DecisionError(f"override params: {play_id} {step} {key} {value!r} is beyond {LARGEST} in size "
                                f"({WHY_LARGEST}); nothing was recorded")


def _check_caps(play_id: str, step: str, plan: dict[str, Any], given: dict[str, Any]) -> None:
    """The step's ``max_<key>`` caps ``<key>`` (its size either way: a -50 % price change is as far
    beyond a 10 % cap as +50 %). An override may lower a cap, never raise it."""
    merged = {**plan, **given}
    for cap_key, cap in plan.items():
        limit, ceiling = number(merged[cap_key]), number(cap)
        key = cap_of(cap_key)
        if key is None or ceiling is None or limit is None or not {cap_key, key} & set(given):
            continue  # a plan beyond its own cap, untouched by the override, is held at it by the bot
        if limit > ceiling:
            raise DecisionError(f"override params: {play_id} {step} caps {cap_key} at {cap}: an override may "
                                f"lower it, not raise it to {merged[cap_key]}; nothing was recorded")
        value = number(merged.get(key)) if key in merged else None
        if value is not None and abs(value) > limit:
            raise DecisionError(f"override params: {play_id} {step} {key} {merged[key]} is beyond the cap "
                                f"{cap_key} {merged[cap_key]}; nothing was recorded")


def params_per_step(configs: ConfigSet, play_id: str, params: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Step index (a job's ``step``) -> the override params that step accepts: a key merged into a
    step that does not take it would show up in that step's brief and change nothing."""
    return {index: {key: value for key, value in params.items() if key in accepted}
            for index, (_name, accepted, _values) in enumerate(step_params(configs, play_id))}


def override_changes(configs: ConfigSet, play_id: str, params: dict[str, Any],
                     scaled: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """What an override changes in the steps that accept each key: the record a reviewer reads later.
    ``scaled``: a scaled run's recorded params by step, its "before" (not plays.yml's)."""
    scaled = scaled or {}
    return [{"step": name, "param": key, "before": before.get(key), "after": value}
            for index, (name, accepted, values) in enumerate(step_params(configs, play_id))
            for before in [{**values, **scaled.get(index, {})}]
            for key, value in params.items() if key in accepted and not same_value(before.get(key), value)]


def same_value(before: Any, after: Any) -> bool:
    """An override's value is no change when it is the step's value written differently: ``"5"``, ``5``,
    ``5.0`` and ``"5.0"`` are the same number to the checks above and to the bots (``number``), so
    listing ``count 5 -> "5"`` would tell a reviewer of a change that changed nothing."""
    old, new = number(before), number(after)
    if old is not None and new is not None:
        return old == new
    return type(before) is type(after) and before == after


def describe_changes(changes: list[dict[str, Any]]) -> str:
    """One line for people: ``shopify_bot.update_prices change_pct 10 -> 5``."""
    def shown(value: Any) -> str:
        return "(the bot's default)" if value is None else str(value)

    return "; ".join(f"{c['step']} {c['param']} {shown(c['before'])} -> {shown(c['after'])}" for c in changes) \
        or "no step parameter changed"
