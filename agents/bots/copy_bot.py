"""copy_bot: copy drafts built from the play and its numbers (a model may polish them later).

Each action reads the step parameters plays.yml documents, under those names (``reads``): the
channel, audience, tone, number of variants and word limit the plan or an override set are the
ones in the draft.
"""

from __future__ import annotations

from agents.bots import params as p
from agents.bots.base import BotContext, kpi_lines
from agents.bots.catalog import select_products
from agents.bots.registry import register
from chimera.changesets import Asset, Change, ChangeSet

HEADLINES = ["Made for your everyday ritual", "The ones people come back for", "Small upgrade, better mornings",
             "Chosen by customers like you", "Worth adding to your basket"]


def _draft(ctx: BotContext, title: str, body: list[str]) -> ChangeSet:
    text = "\n".join([f"# {title}", "", *body, "", "## Numbers behind this draft", *kpi_lines(ctx)]) + "\n"
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params, summary=f"draft: {title}",
        changes=[Change(target=f"copy:{ctx.play_id}", field="draft", before=None, after=title)],
        asset=Asset(filename=f"{ctx.play_id}-{ctx.action}.md", content=text),
    )


def variant(number: int, channel: str) -> list[str]:
    """One copy variant; each has its own headline so the variants can be tested against each other
    (past the ready ones, a person writes it: a repeated headline tests nothing)."""
    headline = HEADLINES[number - 1] if number <= len(HEADLINES) else \
        f"(to write: variant {number} needs a headline unlike the {len(HEADLINES)} above)"
    return [f"## Variant {number}", f"Headline: {headline}",
            f"Body: written for the {channel}: our best sellers, honest prices, free returns.",
            "Call to action: Shop the favourites", ""]


@register("copy_bot", "draft_copy", reads={
    "channel": p.text, "audience": p.text, "tone": p.text, "variants": p.whole})
def draft_copy(ctx: BotContext) -> ChangeSet:
    """``variants`` drafts for one channel and audience, in the plan's tone."""
    channel = str(ctx.param("channel", "store"))
    audience = str(ctx.param("audience", "all visitors"))
    count = ctx.whole("variants", 1)
    body = [f"Channel: {channel}. Audience: {audience}. Tone: {ctx.param('tone', 'warm, plain, no hype')}.", ""]
    for number in range(1, count + 1):
        body += variant(number, channel)
    return _draft(ctx, f"{ctx.play_label} — {channel} copy ({count} variant{'s' * (count != 1)})", body)


def within(words: str, limit: int) -> str:
    """The text cut to ``limit`` words (a plan's ``max_words`` is a limit, not a hint)."""
    parts = words.split()
    return words if len(parts) <= limit else " ".join(parts[:limit]) + " ..."


@register("copy_bot", "draft_product_descriptions", reads={
    "products": p.products, "count": p.whole, "tone": p.text, "max_words": p.whole})
def draft_product_descriptions(ctx: BotContext) -> ChangeSet:
    """A description per selected product, in the plan's tone, each within ``max_words``."""
    limit = ctx.whole("max_words", 180)
    chosen = select_products(ctx.client, ctx.param("products", "top_sellers_by_units_90d"),
                             ctx.whole("count", 5), ctx.as_of)
    head = [f"Products: {chosen.how}. Tone: {ctx.param('tone', 'plain')}. At most {limit} words each.", ""]
    body = [f"## {prod.name}\n" + within(f"What it is, who it is for, and why people buy it again "
                                         f"({prod.units} sold).", limit) for prod in chosen.products]
    if not body:
        body = ["A person lists the products; write each description within the limit above."
                if chosen.by_person else "No products found in the Shopify export."]
    return _draft(ctx, "Product description refresh", head + body)
