"""What a bot sees (the play, its explanation, the step parameters) and the generic brief."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from agents.bots.params import number
from chimera.changesets import Asset, ChangeSet, InForce
from chimera.clients import ClientContext
from chimera.config.loader import ConfigSet
from chimera.errors import ConfigError, DecisionError


@dataclass
class BotContext:
    client: ClientContext
    bot: str
    action: str
    play_id: str
    play_label: str
    params: dict[str, Any]
    as_of: date
    explanation: dict[str, Any] = field(default_factory=dict)
    sops: list[str] = field(default_factory=list)
    prices: dict[str, InForce] = field(default_factory=dict)
    """target -> the price Chimera last applied to it, and when (``chimera.changesets.in_force``):
    newer than the export's last order of the product, it is the price in force."""

    def param(self, name: str, default: Any = None) -> Any:
        """A step parameter this action declared it reads (``register(..., reads=...)``), checked as
        the decision checks an override: a value the bot cannot use (``"two"``, a list for a name,
        ``-2`` variants) stops the step with one clear error instead of a traceback, a default or a
        ChangeSet built on it. Reading an undeclared one is a bug: a decision would refuse that key,
        so no one could override it. No value (None) is the bot's default."""
        from agents.bots.registry import reads

        declared = reads(self.bot, self.action)
        if declared is None or name not in declared:
            raise LookupError(f"{self.bot}.{self.action} reads {name!r} without declaring it")
        value = self.params.get(name)
        if value is None:
            return default
        problem = declared[name](value)
        if problem:
            raise DecisionError(f"{self.play_id} {self.bot}.{self.action}: step param {name} {value!r} is not "
                                f"{problem}; nothing was applied (correct plays.yml or decide again with --params)")
        return value

    def amount(self, name: str, default: Any) -> Decimal:
        """A numeric step parameter as a Decimal (``"5"``, ``5.0`` and ``5`` are 5), checked."""
        value = number(self.param(name, default))
        assert value is not None  # the declared check refused anything else
        return value

    def whole(self, name: str, default: int) -> int:
        """A count (``"5"``, ``5.0`` and ``5`` are 5), checked as a whole number."""
        return int(self.amount(name, default))

    def _action(self) -> Any:
        bot = self.client.configs.bot(self.bot)
        found = next((a for a in bot.actions if a.name == self.action), None)
        if found is None:
            raise DecisionError(f"{self.bot} has no action {self.action!r} in agents.yml: nothing was applied")
        return found

    @property
    def reversible(self) -> bool:
        return bool(self._action().reversible)

    @property
    def description(self) -> str:
        return str(self._action().description)


def kpi_lines(ctx: BotContext) -> list[str]:
    """The numbers behind the play, as bullet lines (from the deterministic explanation only)."""
    lines = []
    for kpi_id, info in (ctx.explanation.get("kpi_values") or {}).items():
        if isinstance(info, dict):
            lines.append(f"- {kpi_id}: {info.get('display') or info.get('value')} ({info.get('status', '')})")
    return lines


def brief(ctx: BotContext) -> ChangeSet:
    """A task sheet for a person: the step, its parameters, the numbers behind it, the SOPs."""
    params = "\n".join(f"- {k}: {v}" for k, v in ctx.params.items()) or "- (none)"
    body = "\n".join(
        [
            f"# {ctx.play_label}: {ctx.action.replace('_', ' ')}",
            "",
            f"Bot: {ctx.bot}. {ctx.description}",
            f"Prepared {ctx.as_of.isoformat()} for client {ctx.client.name}. Dry run: nothing was changed.",
            "",
            "## Parameters",
            params,
            "",
            "## Why (from the KPI evaluation)",
            *(kpi_lines(ctx) or ["- see the play's explanation"]),
            "",
            "## SOPs",
            *([f"- libraries/{s}" for s in ctx.sops] or ["- none cited"]),
        ]
    )
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, summary=f"{ctx.description} (brief for a person)",
        reversible=ctx.reversible, params=ctx.params,
        asset=Asset(filename=f"{ctx.play_id}-{ctx.action}.md", content=body + "\n"),
    )


NOT_REVERSIBLE = "cannot be undone automatically (not reversible in agents.yml): a person undoes it by hand"


class IrreversibleStep(BaseModel):
    """A step of a play whose change no inverse undoes, and why: what a person reads before
    approving, so "not fully reversible" names the step instead of leaving them to guess."""

    step: int
    """Its place in the play's job plan, from 1."""
    bot: str
    action: str
    why: str

    def text(self) -> str:
        return f"step {self.step} {self.bot}.{self.action}: {self.why}"


def irreversible_steps(configs: ConfigSet, play_id: str) -> list[IrreversibleStep]:
    """The steps of ``play_id`` that cannot be undone, as the bots will mark their ChangeSets
    (``run_action``): an action ``reversible: false`` in agents.yml (its description says what it
    does), or one agents.yml does not list (``chimera.plays.rank.is_reversible`` counts it so too).
    [] for a play no longer in plays.yml: nothing can be said of its steps."""
    try:
        play = configs.play(play_id)
    except ConfigError:
        return []
    actions = {(b.id, a.name): a for b in configs.agents.bots for a in b.actions}
    steps = []
    for number_, step in enumerate(play.job_plan, start=1):
        action = actions.get((step.bot, step.action))
        if action is not None and action.reversible:
            continue
        why = (f"{action.description.rstrip('. ')}; it {NOT_REVERSIBLE}" if action is not None else
               f"{step.bot} has no action {step.action!r} in agents.yml, so nothing knows how to undo it")
        steps.append(IrreversibleStep(step=number_, bot=step.bot, action=step.action, why=why))
    return steps


def run_action(ctx: BotContext) -> ChangeSet:
    """The step's ChangeSet. One that cannot be undone says so in its summary, which a person reads
    before approving (the proposal) and which is recorded with it (and in its asset)."""
    from agents.bots.registry import lookup

    fn = lookup(ctx.bot, ctx.action)
    cs = fn(ctx) if fn else brief(ctx)
    reversible = ctx.reversible
    update: dict[str, Any] = {"reversible": reversible}
    if not reversible:
        update["summary"] = f"{cs.summary}; {NOT_REVERSIBLE}"
        if cs.asset is not None and not cs.asset.filename.lower().endswith(".csv"):
            update["asset"] = cs.asset.model_copy(update={"content": f"{cs.asset.content}\n> {NOT_REVERSIBLE}.\n"})
    return cs.model_copy(update=update)
