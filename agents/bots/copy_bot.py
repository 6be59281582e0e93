"""copy_bot: copy drafts built from the play and its numbers (a model may polish them later)."""

from __future__ import annotations

from agents.bots.base import BotContext, kpi_lines
from agents.bots.catalog import best_sellers
from agents.bots.registry import register
from chimera.changesets import Asset, Change, ChangeSet


def _draft(ctx: BotContext, title: str, body: list[str]) -> ChangeSet:
    text = "\n".join([f"# {title}", "", *body, "", "## Numbers behind this draft", *kpi_lines(ctx)]) + "\n"
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params, summary=f"draft: {title}",
        changes=[Change(target=f"copy:{ctx.play_id}", field="draft", before=None, after=title)],
        asset=Asset(filename=f"{ctx.play_id}-{ctx.action}.md", content=text),
    )


@register("copy_bot", "draft_copy")
def draft_copy(ctx: BotContext) -> ChangeSet:
    channel = ctx.params.get("channel", "store")
    tone = ctx.params.get("tone", "warm, plain, no hype")
    return _draft(ctx, f"{ctx.play_label} — {channel} copy", [
        f"Tone: {tone}.", "",
        "Headline: Made for your everyday ritual",
        "Body: Our best sellers, brewed the way you like them. Free returns, honest prices.",
        "Call to action: Shop the favourites",
    ])


@register("copy_bot", "draft_product_descriptions")
def draft_product_descriptions(ctx: BotContext) -> ChangeSet:
    items = best_sellers(ctx.client, int(ctx.params.get("top_n", 3)))
    body = [f"## {p.name}\nWhat it is, who it is for, and why people buy it again ({p.units} sold)." for p in items]
    return _draft(ctx, "Product description refresh", body or ["No Shopify export configured: no products found."])
