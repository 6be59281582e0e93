"""Recording a decision on a play run: exactly once, with who and why, then the follow-up job."""

from __future__ import annotations

import getpass
from typing import Any

from sqlmodel import Session, select

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
    return override_changes(ctx.client.configs, run.play_id, params)


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
    """Per job plan step: ``bot.action``, the parameters it accepts (the step's own in plays.yml and
    the action's in agents.yml) and the step's values."""
    steps = []
    for step in configs.play(play_id).job_plan:
        action = next((a for a in configs.bot(step.bot).actions if a.name == step.action), None)
        accepted = set(step.params) | set(action.params if action else [])
        steps.append((f"{step.bot}.{step.action}", accepted, dict(step.params)))
    return steps


def check_params(configs: ConfigSet, play_id: str, params: dict[str, Any]) -> None:
    """Refuse a key no step of the play accepts: a misspelled key would be carried into every step
    and change nothing the operator meant to change."""
    accepted = sorted(set().union(*(a for _, a, _ in step_params(configs, play_id))))
    unknown = [f"{key!r}{suggest(key, accepted)}" for key in params if key not in accepted]
    if unknown:
        raise DecisionError(f"override params: {play_id} has no step parameter {', '.join(unknown)}; "
                            f"its steps accept {', '.join(accepted) or 'none'}; nothing was recorded")


def params_per_step(configs: ConfigSet, play_id: str, params: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Step index (a job's ``step``) -> the override params that step accepts: a key merged into a
    step that does not take it would show up in that step's brief and change nothing."""
    return {index: {key: value for key, value in params.items() if key in accepted}
            for index, (_name, accepted, _values) in enumerate(step_params(configs, play_id))}


def override_changes(configs: ConfigSet, play_id: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """What an override changes in the steps that accept each key: the record a reviewer reads later."""
    return [{"step": name, "param": key, "before": values.get(key), "after": value}
            for name, accepted, values in step_params(configs, play_id)
            for key, value in params.items() if key in accepted and values.get(key) != value]


def describe_changes(changes: list[dict[str, Any]]) -> str:
    """One line for people: ``shopify_bot.update_prices change_pct 10 -> 5``."""
    def shown(value: Any) -> str:
        return "(the bot's default)" if value is None else str(value)

    return "; ".join(f"{c['step']} {c['param']} {shown(c['before'])} -> {shown(c['after'])}" for c in changes) \
        or "no step parameter changed"
