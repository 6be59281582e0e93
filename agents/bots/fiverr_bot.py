"""fiverr_bot: gig package and FAQ refresh texts."""

from __future__ import annotations

from agents.bots.base import BotContext, kpi_lines
from agents.bots.registry import register
from chimera.changesets import Asset, Change, ChangeSet


@register("fiverr_bot", "refresh_gig_packages")
def refresh_gig_packages(ctx: BotContext) -> ChangeSet:
    tiers = ctx.params.get("tiers", ["Basic", "Standard", "Premium"])
    lines = [f"# Gig package refresh ({ctx.play_label})", ""]
    for i, tier in enumerate(tiers, start=1):
        lines += [f"## {tier}", f"- Scope: tier {i} of {len(tiers)}, one clear deliverable",
                  "- Delivery: state days you can always meet", "- Revisions: say how many", ""]
    lines += ["## Why", *kpi_lines(ctx)]
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params, summary=f"refresh {len(tiers)} gig packages",
        changes=[Change(target="gig:packages", field="tiers", before=None, after=list(tiers))],
        asset=Asset(filename=f"{ctx.play_id}-gig-packages.md", content="\n".join(lines) + "\n"),
    )


@register("fiverr_bot", "update_gig_faq")
def update_gig_faq(ctx: BotContext) -> ChangeSet:
    faqs = ["How fast do you reply?", "What do you need from me to start?", "What if I need changes?"]
    text = "# Gig FAQ\n\n" + "\n".join(f"**{q}**\n\n(answer in your words)\n" for q in faqs)
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params, summary="update the gig FAQ",
        changes=[Change(target="gig:faq", field="entries", before=None, after=faqs)],
        asset=Asset(filename=f"{ctx.play_id}-gig-faq.md", content=text),
    )
