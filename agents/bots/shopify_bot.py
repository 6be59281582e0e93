"""shopify_bot: price tests, bundles, free-shipping thresholds — as ChangeSets with before/after."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from agents.bots.base import BotContext, kpi_lines
from agents.bots.catalog import best_sellers
from agents.bots.registry import register
from chimera.changesets import Asset, Change, ChangeSet

CENT = Decimal("0.01")


@register("shopify_bot", "update_prices")
def update_prices(ctx: BotContext) -> ChangeSet:
    """Raise (or lower) the best sellers' prices by a percentage; the price table is the asset."""
    pct = Decimal(str(ctx.params.get("change_pct", ctx.params.get("increase_pct", 10))))
    products = best_sellers(ctx.client, int(ctx.params.get("top_n", 5)))
    changes, rows = [], ["sku,name,price_before,price_after,units_sold"]
    for p in products:
        after = (p.price * (1 + pct / 100)).quantize(CENT, ROUND_HALF_UP)
        changes.append(Change(target=f"product:{p.sku}", field="price", before=str(p.price), after=str(after)))
        rows.append(f"{p.sku},\"{p.name}\",{p.price},{after},{p.units}")
    summary = (
        f"change the price of the top {len(products)} best sellers by {pct}%"
        if products else f"change best-seller prices by {pct}% (no Shopify export found: table is empty)"
    )
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, summary=summary, changes=changes, params=ctx.params,
        asset=Asset(filename=f"{ctx.play_id}-price-table.csv", content="\n".join(rows) + "\n"),
    )


@register("shopify_bot", "create_bundle")
def create_bundle(ctx: BotContext) -> ChangeSet:
    """Bundle the two or three best sellers at a discount; the bundle sheet is the asset."""
    size = int(ctx.params.get("size", 2))
    discount = Decimal(str(ctx.params.get("discount_pct", 10)))
    items = best_sellers(ctx.client, size)
    total = sum((p.price for p in items), Decimal(0))
    price = (total * (1 - discount / 100)).quantize(CENT, ROUND_HALF_UP)
    lines = [f"# Bundle proposal ({ctx.play_label})", "", *[f"- {p.name} ({p.sku}) at {p.price}" for p in items],
             "", f"Items total {total}; bundle price {price} ({discount}% off).", "", "## Why", *kpi_lines(ctx)]
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"create a {len(items)}-item bundle at {discount}% off (price {price})",
        changes=[Change(target="bundle:new", field="price", before=None, after=str(price))],
        asset=Asset(filename=f"{ctx.play_id}-bundle.md", content="\n".join(lines) + "\n"),
    )


@register("shopify_bot", "set_free_shipping_threshold")
def set_free_shipping_threshold(ctx: BotContext) -> ChangeSet:
    """Set free shipping just above the current AOV so the average basket has a reason to grow."""
    aov = (ctx.explanation.get("kpi_values") or {}).get("aov", {}).get("value")
    uplift = Decimal(str(ctx.params.get("above_aov_pct", 15)))
    threshold = (Decimal(str(aov)) * (1 + uplift / 100)).quantize(Decimal("1"), ROUND_HALF_UP) if aov else None
    after = str(threshold) if threshold is not None else ctx.params.get("threshold", "to decide")
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"free shipping from {after} (AOV {aov or 'unknown'} + {uplift}%)",
        changes=[Change(target="shipping", field="free_shipping_threshold", before=ctx.params.get("current"),
                        after=after)],
        asset=Asset(filename=f"{ctx.play_id}-free-shipping.md",
                    content="\n".join([f"# Free shipping threshold\n\nSet free shipping from {after}.\n",
                                       *kpi_lines(ctx)]) + "\n"),
    )
