"""shopify_bot: price tests, bundles, free-shipping thresholds — as ChangeSets with before/after.

Each action reads the step parameters plays.yml documents, under those names (``reads``), so the
plan a person approved, or the override they gave, is what the ChangeSet holds.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from agents.bots import params as p
from agents.bots.base import BotContext, kpi_lines
from agents.bots.catalog import select_products
from agents.bots.registry import register
from chimera.changesets import Asset, Change, ChangeSet

CENT = Decimal("0.01")
CLEAN = Decimal(5)
"""A "clean" free-shipping threshold is a multiple of 5 (55, 60), as the SOP's "over 60" reads."""
AOV_DAYS = 28


def capped_pct(ctx: BotContext, key: str, default: int) -> tuple[Decimal, str]:
    """``key``'s percentage, held within the step's ``max_<key>`` (the decision refuses an override
    beyond it; a plan written beyond its own cap is held at the cap and the ChangeSet says so)."""
    pct = Decimal(str(ctx.param(key, default)))
    cap = ctx.param(f"max_{key}")
    if cap is None or abs(pct) <= Decimal(str(cap)):
        return pct, ""
    held = Decimal(str(cap)).copy_sign(pct)
    return held, f" (held at max_{key} {cap}; the plan asked {pct})"


@register("shopify_bot", "update_prices", reads={
    "products": p.products, "count": p.whole, "change_pct": p.pct, "max_change_pct": p.non_negative})
def update_prices(ctx: BotContext) -> ChangeSet:
    """Change the selected products' prices by a percentage; the price table is the asset and each
    change keeps the price before it (the rollback value)."""
    pct, held = capped_pct(ctx, "change_pct", 10)
    chosen = select_products(ctx.client, ctx.param("products", "top_sellers_by_units_90d"),
                             int(ctx.param("count", 5)), ctx.as_of)
    changes, rows = [], ["sku,name,price_before,price_after,units_sold"]
    for prod in chosen.products:
        after = (prod.price * (1 + pct / 100)).quantize(CENT, ROUND_HALF_UP)
        changes.append(Change(target=f"product:{prod.sku}", field="price", before=str(prod.price), after=str(after)))
        rows.append(f"{prod.sku},\"{prod.name}\",{prod.price},{after},{prod.units}")
    summary = (
        f"change the price of {len(chosen.products)} products by {pct}%{held} ({chosen.how})"
        if chosen.products else f"change prices by {pct}%{held}: no products found ({chosen.how}; "
                                "a Shopify export is needed)"
    )
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, summary=summary, changes=changes, params=ctx.params,
        asset=Asset(filename=f"{ctx.play_id}-price-table.csv", content="\n".join(rows) + "\n"),
    )


def bundle_name(ctx: BotContext, names: list[str]) -> str:
    """The step's ``name``; ``auto`` names the bundle after its items."""
    name = str(ctx.param("name", "auto"))
    return " + ".join(names) + " bundle" if name == "auto" and names else name


@register("shopify_bot", "create_bundle", reads={
    "products": p.products, "discount_pct": p.non_negative, "name": p.text})
def create_bundle(ctx: BotContext) -> ChangeSet:
    """Bundle the selected products (the plan: the pair bought together most) at a discount."""
    discount = Decimal(str(ctx.param("discount_pct", 10)))
    chosen = select_products(ctx.client, ctx.param("products", "top_co_purchased_pairs_90d"), 2, ctx.as_of)
    items = chosen.products
    total = sum((prod.price for prod in items), Decimal(0))
    price = (total * (1 - discount / 100)).quantize(CENT, ROUND_HALF_UP)
    name = bundle_name(ctx, [prod.name for prod in items])
    lines = [f"# Bundle proposal ({ctx.play_label}): {name}", "", f"Products: {chosen.how}.",
             *[f"- {prod.name} ({prod.sku}) at {prod.price}" for prod in items],
             "", f"Items total {total}; bundle price {price} ({discount}% off).", "", "## Why", *kpi_lines(ctx)]
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"create the {len(items)}-item bundle {name!r} at {discount}% off (price {price})",
        changes=[Change(target="bundle:new", field="price", before=None, after=str(price) if items else None)],
        asset=Asset(filename=f"{ctx.play_id}-bundle.md", content="\n".join(lines) + "\n"),
    )


def aov_28d(ctx: BotContext) -> Decimal | None:
    """The client's AOV over the 28 days to the cycle's day, with the ``aov`` KPI's own formula and
    rules (too few orders, missing or stale days: unknown; a 28-day window without three earlier
    ones to compare is judged UNKNOWN, yet its value is whole). The KPI itself is weekly: the plan
    names 28 days."""
    from chimera.db.engine import session_scope
    from chimera.kpi.evaluate import evaluate_series
    from chimera.kpi.window import needed_metrics
    from chimera.metrics import load_series

    spec = ctx.client.configs.kpi("aov").model_copy(update={"window": f"{AOV_DAYS}d"})
    with session_scope() as session:
        series = load_series(session, ctx.client.company_id, sorted(needed_metrics(spec)),
                             start=ctx.as_of - timedelta(days=AOV_DAYS - 1), end=ctx.as_of)
    result = evaluate_series(spec, series, ctx.as_of)
    usable = result.status != "UNKNOWN" or result.unknown_reason == "history"  # history: no baseline to
    return Decimal(str(result.value)) if usable and result.value is not None else None  # judge, value whole


def clean_round(amount: Decimal, floor: Decimal) -> Decimal:
    """The nearest multiple of 5, kept above ``floor`` (the AOV: a threshold at or below it gives
    margin away); whole units when 5 would be too coarse (amounts under 10)."""
    step = CLEAN if amount >= 10 else Decimal(1)
    out = (amount / step).quantize(Decimal(1), ROUND_HALF_UP) * step
    return out + step if out <= floor else out


def planned_threshold(ctx: BotContext) -> tuple[Decimal | None, str]:
    """The threshold and how it was reached: an amount as given, or ``aov_x_<a>_<b>[_rounded]``."""
    given = ctx.param("threshold", "aov_x_1_3_rounded")
    m = p.AOV_FORMULA.match(str(given))
    if not m:
        return Decimal(str(given)), "as set in the decision"
    factor = Decimal(f"{m.group(1)}.{m.group(2)}")
    aov = aov_28d(ctx)
    if aov is None:
        return None, f"{factor} x the {AOV_DAYS}-day AOV, which is unknown (too few orders or missing days)"
    raw = (aov * factor).quantize(CENT, ROUND_HALF_UP)
    if not m.group(3):
        return raw, f"{factor} x the {AOV_DAYS}-day AOV {aov.quantize(CENT)}"
    how = f"{factor} x the {AOV_DAYS}-day AOV {aov.quantize(CENT)} = {raw}, rounded to a clean number"
    return clean_round(raw, aov), how


@register("shopify_bot", "set_free_shipping_threshold", reads={"threshold": p.threshold, "currency": p.text})
def set_free_shipping_threshold(ctx: BotContext) -> ChangeSet:
    """Set free shipping above the average order so the average basket has a reason to grow."""
    threshold, how = planned_threshold(ctx)
    currency = str(ctx.param("currency", "store"))
    if currency == "store":
        currency = ctx.client.config.currency
    after = f"{threshold} {currency}" if threshold is not None else "to decide"
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"free shipping from {after} ({how})" if threshold is not None else f"threshold to decide: {how}",
        changes=[Change(target="shipping", field="free_shipping_threshold", before=None,
                        after=str(threshold) if threshold is not None else None)],
        asset=Asset(filename=f"{ctx.play_id}-free-shipping.md",
                    content="\n".join([f"# Free shipping threshold\n\nSet free shipping from {after}: {how}.\n",
                                       *kpi_lines(ctx)]) + "\n"),
    )

