"""What a bot sees (the play, its explanation, the step parameters) and the generic brief."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chimera.changesets import Asset, ChangeSet
from chimera.clients import ClientContext


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

    def param(self, name: str, default: Any = None) -> Any:
        """A step parameter this action declared it reads (``register(..., reads=...)``). Reading an
        undeclared one is a bug: a decision would refuse that key, so no one could override it."""
        from agents.bots.registry import reads

        declared = reads(self.bot, self.action)
        if declared is None or name not in declared:
            raise LookupError(f"{self.bot}.{self.action} reads {name!r} without declaring it")
        value = self.params.get(name)
        return default if value is None else value

    @property
    def reversible(self) -> bool:
        bot = self.client.configs.bot(self.bot)
        return next(a.reversible for a in bot.actions if a.name == self.action)

    @property
    def description(self) -> str:
        bot = self.client.configs.bot(self.bot)
        return next(a.description for a in bot.actions if a.name == self.action)


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


def run_action(ctx: BotContext) -> ChangeSet:
    from agents.bots.registry import lookup

    fn = lookup(ctx.bot, ctx.action)
    cs = fn(ctx) if fn else brief(ctx)
    return cs.model_copy(update={"reversible": ctx.reversible})
