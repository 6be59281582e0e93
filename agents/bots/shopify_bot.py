"""shopify_bot: price tests, bundles, free-shipping thresholds — as ChangeSets with before/after.

Each action reads the step parameters plays.yml documents, under those names (``reads``), so the
plan a person approved, or the override they gave, is what the ChangeSet holds.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from agents.bots import params as p
from agents.bots.base import BotContext, kpi_lines
from agents.bots.catalog import Product, Selection, in_minor, select_products
from agents.bots.registry import register
from agents.bots.sheet import csv_text
from chimera.changesets import NOT_KNOWN, Asset, Change, ChangeSet
from chimera.ingest.parsing import minor_unit

CLEAN = Decimal(5)
"""A "clean" free-shipping threshold is a multiple of 5 (55, 60), as the SOP's "over 60" reads."""
AOV_DAYS = 28


def capped_pct(ctx: BotContext, key: str, default: int) -> tuple[Decimal, Decimal | None, str]:
    """``key``'s percentage, held within the step's ``max_<key>`` (the decision refuses an override
    beyond it; a plan written beyond its own cap is held at the cap and the ChangeSet says so), and
    the cap (None: none)."""
    pct = ctx.amount(key, default)
    raw_cap = ctx.param(f"max_{key}")
    cap = None if raw_cap is None else ctx.amount(f"max_{key}", raw_cap)
    if cap is None or abs(pct) <= cap:
        return pct, cap, ""
    return cap.copy_sign(pct), cap, f" (held at max_{key} {raw_cap}; the plan asked {pct})"


def new_price(price: Decimal, pct: Decimal, cap: Decimal | None, currency: str) -> Decimal:
    """``price`` changed by ``pct`` %, in the currency's minor unit (whole yen, 3-decimal dinars),
    half up unless that would take the change past ``cap`` % (5 yen + 10 % is 5, not 6: +20 %);
    then towards the old price. Never below zero (``pct`` is at least -100)."""
    exact = price * (1 + pct / 100)
    unit = minor_unit(currency)
    after = exact.quantize(unit, ROUND_HALF_UP)
    if cap is not None and abs(after - price) > price * cap / 100:
        after = exact.quantize(unit, ROUND_DOWN if pct > 0 else ROUND_UP)
    return max(after, Decimal(0).quantize(unit))


def priced_now(ctx: BotContext, chosen: Selection) -> tuple[Selection, str]:
    """``chosen`` with each product's price as in force: the price an earlier play's change (or its
    undo) set after the export's last order of it, when there is one (``BotContext.prices``), and
    the text saying which. Priced from the export alone, a scale's "before" was the price its
    original had already changed, so its undo silently put back the price from before both."""
    kept, newer = [], []
    for prod in chosen.products:
        applied = ctx.prices.get(prod.target)
        value = p.number(applied.value) if applied is not None and applied.value is not None else None
        newest = applied is not None and (prod.seen_at is None or applied.at > prod.seen_at)
        if newest and value is not None and value >= 0:
            if value != prod.price:
                newer.append(f"{prod.sku or prod.name} {prod.price} -> {value}")
            prod = prod.model_copy(update={"price": in_minor(value, prod.currency or ctx.client.config.currency)})
        kept.append(prod)
    said = (f"; prices as an earlier play set them after the export's last order ({', '.join(newer)})"
            if newer else "")
    return Selection(kept, chosen.how, chosen.by_person), said


def none_found(chosen: Selection) -> str:
    """Why a step has no products: a person picks them (no export says which), or none was found."""
    return chosen.how if chosen.by_person else f"no products found ({chosen.how}; a Shopify export is needed)"


def price_table(rows: list[tuple[Product, Decimal]]) -> str:
    """The price table a person uploads: real CSV (a name with a comma or a quote stays one cell, a
    name starting with ``=`` is no formula: ``agents.bots.sheet``), prices and units as numbers."""
    return csv_text(["sku", "name", "price_before", "price_after", "units_sold"],
                    [[prod.sku, prod.name, prod.price, after, prod.units] for prod, after in rows])


@register("shopify_bot", "update_prices", reads={
    "products": p.products, "count": p.whole, "change_pct": p.pct, "max_change_pct": p.non_negative})
def update_prices(ctx: BotContext) -> ChangeSet:
    """Change the selected products' prices by a percentage; the price table is the asset and each
    change keeps the price before it (the rollback value). A product whose last price is 0 or less
    (a free sample, a credit line) has no price to change by a percentage: it is left out, said so."""
    pct, cap, held = capped_pct(ctx, "change_pct", 10)
    chosen, newer = priced_now(ctx, select_products(ctx.client, ctx.param("products", "top_sellers_by_units_90d"),
                                                    ctx.whole("count", 5), ctx.as_of))
    priced = [prod for prod in chosen.products if prod.price > 0]
    skipped = [prod for prod in chosen.products if prod.price <= 0]
    rows = [(prod, new_price(prod.price, pct, cap, prod.currency or ctx.client.config.currency)) for prod in priced]
    changes = [Change(target=prod.target, field="price", before=str(prod.price), after=str(after))
               for prod, after in rows]
    left = (f"; left out, no price to change: {', '.join(f'{x.sku or x.name} at {x.price}' for x in skipped)}"
            if skipped else "")
    if priced:
        summary = f"change the price of {len(priced)} products by {pct}%{held} ({chosen.how}){left}{newer}"
    elif skipped:
        summary = f"change prices by {pct}%{held}: no product found has a price to change ({chosen.how}){left}"
    else:
        summary = f"change prices by {pct}%{held}: {none_found(chosen)}"
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, summary=summary, changes=changes, params=ctx.params,
        asset=Asset(filename=f"{ctx.play_id}-price-table.csv", content=price_table(rows)),
    )


def bundle_name(ctx: BotContext, names: list[str]) -> str:
    """The step's ``name``; ``auto`` names the bundle after its items."""
    name = str(ctx.param("name", "auto"))
    return " + ".join(names) + " bundle" if name == "auto" and names else name


def bundle_target(items: list[Product]) -> str:
    """What a bundle's change names: its items (``bundle:product:A-1+product:B-2``). One name for every
    bundle (``bundle:new``) made a later bundle of other products read as a change to the same
    bundle: reverting the earlier run was refused, "its before values would overwrite" a bundle
    they never touched; the same items bundled again still are the same bundle."""
    return "bundle:" + "+".join(prod.target for prod in items)


@register("shopify_bot", "create_bundle", reads={
    "products": p.products, "discount_pct": p.percent_off, "name": p.text})
def create_bundle(ctx: BotContext) -> ChangeSet:
    """Bundle the selected products (the plan: the pair bought together most) at a discount."""
    discount = ctx.amount("discount_pct", 10)
    chosen, newer = priced_now(ctx, select_products(ctx.client, ctx.param("products", "top_co_purchased_pairs_90d"),
                                                    2, ctx.as_of))
    items = chosen.products
    currency = next((prod.currency for prod in items if prod.currency), ctx.client.config.currency)
    total = sum((prod.price for prod in items), Decimal(0))
    price = max((total * (1 - discount / 100)).quantize(minor_unit(currency), ROUND_HALF_UP), Decimal(0))
    name = bundle_name(ctx, [prod.name for prod in items])
    if not items:
        return ChangeSet(
            bot=ctx.bot, action=ctx.action, params=ctx.params,
            summary=f"bundle at {discount}% off: {none_found(chosen)}",
            changes=[Change(target="bundle:new", field="price", before=None, after=None)],
            asset=Asset(filename=f"{ctx.play_id}-bundle.md", content=f"# Bundle proposal ({ctx.play_label})\n\n"
                        f"No products found ({chosen.how}): a person picks the items, or nothing is bundled.\n"),
        )
    lines = [f"# Bundle proposal ({ctx.play_label}): {name}", "", f"Products: {chosen.how}.",
             *[f"- {prod.name} ({prod.sku}) at {prod.price}" for prod in items],
             "", f"Items total {total} {currency}; bundle price {price} ({discount}% off).", "", "## Why",
             *kpi_lines(ctx)]
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"create the {len(items)}-item bundle {name!r} at {discount}% off (price {price}){newer}",
        changes=[Change(target=bundle_target(items), field="price", before=None, after=str(price))],
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


def planned_threshold(ctx: BotContext, currency: str = "") -> tuple[Decimal | None, str]:
    """The threshold and how it was reached: an amount as given, or ``aov_x_<a>_<b>[_rounded]``
    (in the currency's minor unit: whole yen, 3-decimal dinars, else cents)."""
    given = ctx.param("threshold", "aov_x_1_3_rounded")
    m = p.AOV_FORMULA.match(str(given))
    unit = minor_unit(currency)
    if not m:
        amount = ctx.amount("threshold", given)
        exact = amount.quantize(unit, ROUND_HALF_UP)
        if exact == amount:
            return amount, "as set in the decision"
        return exact, f"as set in the decision ({amount}), in whole {currency} minor units"
    factor = Decimal(f"{m.group(1)}.{m.group(2)}")
    aov = aov_28d(ctx)
    if aov is None:
        return None, f"{factor} x the {AOV_DAYS}-day AOV, which is unknown (too few orders or missing days)"
    raw = (aov * factor).quantize(unit, ROUND_HALF_UP)
    if not m.group(3):
        return raw, f"{factor} x the {AOV_DAYS}-day AOV {aov.quantize(unit)}"
    how = f"{factor} x the {AOV_DAYS}-day AOV {aov.quantize(unit)} = {raw}, rounded to a clean number"
    return clean_round(raw, aov), how


@register("shopify_bot", "set_free_shipping_threshold", reads={"threshold": p.threshold, "currency": p.text})
def set_free_shipping_threshold(ctx: BotContext) -> ChangeSet:
    """Set free shipping above the average order so the average basket has a reason to grow."""
    currency = str(ctx.param("currency", "store"))
    if currency == "store":
        currency = ctx.client.config.currency
    threshold, how = planned_threshold(ctx, currency)
    after = f"{threshold} {currency}" if threshold is not None else "to decide"
    return ChangeSet(
        bot=ctx.bot, action=ctx.action, params=ctx.params,
        summary=f"free shipping from {after} ({how})" if threshold is not None else f"threshold to decide: {how}",
        changes=[Change(target="shipping", field="free_shipping_threshold", before=NOT_KNOWN,
                        after=str(threshold) if threshold is not None else None)],
        asset=Asset(filename=f"{ctx.play_id}-free-shipping.md",
                    content="\n".join([f"# Free shipping threshold\n\nSet free shipping from {after}: {how}.\n",
                                       *kpi_lines(ctx)]) + "\n"),
    )

