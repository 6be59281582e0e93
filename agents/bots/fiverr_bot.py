"""fiverr_bot: gig package and FAQ refresh texts, from the step parameters plays.yml documents
(``reads``): the gig, its packages, a price change, the FAQ's questions."""

from __future__ import annotations

from agents.bots import params as p
from agents.bots.base import BotContext, kpi_lines
from agents.bots.registry import register
from chimera.changesets import NOT_KNOWN, Asset, Change, ChangeSet

FAQ_STARTERS = ["How fast do you reply?", "What do you need from me to start?", "What if I need changes?"]


@register("fiverr_bot", "refresh_gig_packages", reads={
    "gig": p.text, "packages": p.texts, "price_change_pct": p.pct})
def refresh_gig_packages(ctx: BotContext) -> ChangeSet:
    """One section per package: scope, delivery days, revisions, and the price change if any."""
    gig = str(ctx.param("gig", "main"))
    packages = [str(x) for x in ctx.param("packages", ["basic", "standard", "premium"])]
    price = ctx.amount("price_change_pct", 0)
    lines = [f"# Gig package refresh: {gig} gig ({ctx.play_label})", ""]
    for i, tier in enumerate(packages, start=1):
        lines += [f"## {tier}", f"- Scope: package {i} of {len(packages)}, one clear deliverable",
                  "- Delivery: state days you can always meet", "- Revisions: say how many",
                  f"- Price: {'unchanged' if not price else f'change by {price}%'}", ""]
    lines += ["## Why", *kpi_lines(ctx)]
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"refresh {len(packages)} packages of the {gig} gig (price change {price}%)",
        changes=[Change(target=f"gig:{gig}:packages", field="packages", before=NOT_KNOWN, after=packages)],
        asset=Asset(filename=f"{ctx.play_id}-gig-packages.md", content="\n".join(lines) + "\n"),
    )


@register("fiverr_bot", "update_gig_faq", reads={"gig": p.text, "questions": p.texts_or_source})
def update_gig_faq(ctx: BotContext) -> ChangeSet:
    """The FAQ's questions as given, or, when the plan names where they come from (cancellations),
    that source for a person plus starter questions: no export carries buyers' questions."""
    gig = str(ctx.param("gig", "main"))
    given = ctx.param("questions", FAQ_STARTERS)
    faqs = [str(q) for q in given] if isinstance(given, list) else FAQ_STARTERS
    source = "" if isinstance(given, list) else f"Questions: {given} (a person lists them; starters below).\n\n"
    text = f"# Gig FAQ: {gig} gig\n\n{source}" + "\n".join(f"**{q}**\n\n(answer in your words)\n" for q in faqs)
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params, summary=f"update the FAQ of the {gig} gig",
        changes=[Change(target=f"gig:{gig}:faq", field="entries", before=NOT_KNOWN, after=faqs)],
        asset=Asset(filename=f"{ctx.play_id}-gig-faq.md", content=text),
    )
