"""Products from the client's own Shopify export: best sellers, the most co-purchased pair.

The rows are read and validated by the ingest's own parser, so an order ingest rejects (a bad cell
anywhere in it), a pasted copy of an order or a cancelled order never reaches a price table. The
latest price is the price on the newest order by ``Created at`` as an instant (offsets compared),
never the file's last row: Shopify lists the newest order first.

Data minimization: no email, name or address column is read; order number, timestamp and the
line-item columns only. Nothing is stored: the result feeds a ChangeSet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from agents.bots.params import PAIRS, SELLERS
from chimera.ingest.detect import SHOPIFY_COLUMNS, SHOPIFY_REQUIRED, read_header, resolve_columns
from chimera.ingest.frame import ROW, collect, file_shapes, readable, scan_columns, tidy
from chimera.ingest.parsing import SHOPIFY_TS, minor_unit
from chimera.ingest.shopify import EVERY_ROW, _mixed_currencies, order_errors, parse_rows

SPEC = {k: v for k, v in SHOPIFY_COLUMNS.items() if k != "email"} | {
    "sku": ("Lineitem sku",), "item": ("Lineitem name",)}
"""Every column ingest validates except Email (a bad money cell rejects an order wherever it is),
plus the line item's SKU and name."""


class Product(BaseModel):
    sku: str
    name: str
    price: Decimal
    units: int
    currency: str = ""
    """The export's Currency (upper case), "" when it has none: the store's then."""
    seen_at: datetime | None = None
    """When the order its price is read from was placed (UTC): a change applied after it is newer."""

    @property
    def target(self) -> str:
        """What a change names: the SKU, else the name (two products without a SKU are not one)."""
        return f"product:{self.sku}" if self.sku else f"product name:{self.name}"


def in_minor(amount: Decimal, currency: str) -> Decimal:
    """``amount`` written in the currency's minor unit when it is a whole number of them (1234 yen,
    12.340 dinars), else with every digit it has (a price is shown as the export gives it)."""
    unit = minor_unit(currency)
    exact = amount.quantize(unit)
    return exact if exact == amount else tidy(amount)


@dataclass
class Selection:
    """The products a step works on and, for the ChangeSet, how they were chosen."""

    products: list[Product] = field(default_factory=list)
    how: str = ""
    by_person: bool = False  # the exports cannot tell: a person picks them


def _shopify_path(client: Any) -> Path | None:
    for src in client.config.sources:
        if src.kind == "shopify_orders":
            path = Path(src.path)
            return path if path.is_absolute() else client.folder / path
    return None


def _rejected(rows: pl.DataFrame, fmt: Any, cells: pl.DataFrame) -> pl.Series:
    """The order keys ingest rejects: the same checks, on the same parsed frame, as
    ``chimera.ingest.shopify.aggregate_shopify``."""
    errors = order_errors(rows, fmt, cells)
    return rows["_order"].gather(rows[ROW].search_sorted(errors[ROW].unique())).unique()


def _instant(col: str) -> pl.Expr:
    """``Created at`` as a UTC instant (``-0400`` and ``+0200`` compared as times, not as text),
    read with the ingest's own timestamp pattern."""
    g = pl.col(col).str.strip_chars().str.extract_groups(SHOPIFY_TS)
    offset = g.struct.field("5").str.replace("Z", "+0000").str.replace(":", "")
    text = pl.concat_str([g.struct.field("1"), pl.lit(" "), g.struct.field("2"), pl.lit(":"), g.struct.field("3"),
                          pl.lit(":"), g.struct.field("4"), offset])
    return text.str.to_datetime("%Y-%m-%d %H:%M:%S%z", time_zone="UTC", strict=False)


def order_lines(client: Any, as_of: date | None = None, days: int | None = None) -> pl.DataFrame:
    """Line items of the orders ingest accepts, not cancelled, placed in the ``days`` to ``as_of``
    (store-local days, as the metrics count them): ``_order, key, sku, item, price, qty, ts``."""
    path = _shopify_path(client)
    if path is None or not path.exists():
        return pl.DataFrame()
    header = read_header(path)
    columns = resolve_columns(path, header, "shopify_orders", SPEC, SHOPIFY_REQUIRED)
    # every record's field count, as ingest checks it: a row with an unquoted comma rejects its order
    # (without the count the scan refused the whole file, and the bot with it)
    shapes = readable(file_shapes(path, header), header, columns, EVERY_ROW)
    raw = scan_columns(path, header, columns, drop_empty=False, shapes=shapes, every_row=EVERY_ROW)
    rows, fmt, cells = parse_rows(raw, path)
    accepted = ~pl.col("_order").is_in(_rejected(rows, fmt, cells).implode())
    _one_currency(rows, accepted, path)
    keep = accepted & ~pl.col("_cancelled").any().over("_order")
    if "_dup" in rows.columns:
        keep &= ~pl.col("_dup")
    if as_of is not None:
        keep &= pl.col("_day") <= as_of
        if days is not None:
            keep &= pl.col("_day") > as_of - timedelta(days=days)
    extra = collect(raw.select(ROW, pl.col("^(sku|item|created_at)$")), path)
    # an export without Lineitem sku (or name) is one ingest reads: the other names the product
    extra = extra.with_columns(*(pl.lit(None, pl.String).alias(c) for c in ("sku", "item") if c not in extra.columns))
    extra = extra.with_columns(_trimmed("sku"), _trimmed("item"))
    lines = rows.filter(keep & (pl.col("_qty") > 0)).select(ROW, "_order", pl.col("_price").alias("price"),
                                                             pl.col("_qty").alias("qty"), _currency())
    return lines.join(extra, on=ROW, how="inner").with_columns(
        pl.coalesce(pl.col("sku"), pl.col("item"), pl.lit("")).alias("key"), _instant("created_at").alias("ts"),
    ).filter(pl.col("key") != "").sort(["ts", ROW])  # a line with neither SKU nor name names no product


def _trimmed(col: str) -> pl.Expr:
    """A SKU or name as a person reads it: `` A `` is ``A``; a blank cell is none."""
    return pl.col(col).str.strip_chars().replace("", None).alias(col)


def _currency() -> pl.Expr:
    """The order's Currency (written on its first row), upper case, on each of its lines."""
    code = pl.col("currency").str.strip_chars().str.to_uppercase().replace("", None)
    return code.max().over("_order").fill_null("").alias("currency")


def _one_currency(rows: pl.DataFrame, accepted: pl.Expr, path: Path) -> None:
    """Ingest refuses an export whose accepted orders mix currencies (their sums mean nothing); so
    does the catalog: a yen price beside a euro price is no price table."""
    codes = rows.filter(accepted & pl.col("_first"))["currency"].str.strip_chars().str.to_uppercase() \
        .replace("", None).drop_nulls().unique()
    if codes.len() > 1:
        _mixed_currencies(rows, path)


def _products(lines: pl.DataFrame, keys: list[str] | None = None, top_n: int | None = None) -> list[Product]:
    """Per product: units summed, name and price from its newest line (``lines`` are sorted by time)."""
    if not lines.height:
        return []
    if keys is not None:
        lines = lines.filter(pl.col("key").is_in(keys))
    grouped = lines.group_by("key").agg(
        pl.col("sku").last(), pl.col("item").last(), pl.col("price").last(), pl.col("qty").sum(),
        pl.col("currency").last(), pl.col("ts").last(),
    ).sort(["qty", "key"], descending=[True, False])
    if top_n is not None:
        grouped = grouped.head(top_n)
    return [Product(sku=r["sku"] or "", name=r["item"] or r["sku"] or "", units=r["qty"], currency=r["currency"],
                    price=in_minor(Decimal(r["price"]), r["currency"]), seen_at=r["ts"])
            for r in grouped.iter_rows(named=True)]


def best_sellers(client: Any, top_n: int = 5, as_of: date | None = None, days: int | None = None) -> list[Product]:
    """Top products by units, each at its latest price; [] when no export."""
    return _products(order_lines(client, as_of, days), top_n=top_n)


def co_purchased_pair(client: Any, as_of: date | None = None, days: int | None = None) -> list[Product]:
    """The two products found together in the most orders (ties: by SKU); [] when none."""
    lines = order_lines(client, as_of, days)
    if not lines.height:
        return []
    items = lines.select("_order", "key").unique()
    pairs = items.join(items, on="_order", suffix="_b").filter(pl.col("key") < pl.col("key_b"))
    top = pairs.group_by("key", "key_b").agg(pl.len().alias("orders")) \
        .sort(["orders", "key", "key_b"], descending=[True, False, False]).head(1)
    if not top.height:
        return []
    return _products(lines, keys=list(top.row(0)[:2]))


def select_products(client: Any, selector: str, count: int, as_of: date) -> Selection:
    """The products a plan's ``products`` names: ``top_sellers_by_units_<N>d`` (``count`` of them),
    ``top_co_purchased_pairs_<N>d`` (the top pair); any other name (``top_viewed_30d``) is not in the
    exports, so a person picks them rather than a bot passing best sellers off as them."""
    end = as_of.isoformat()
    if m := SELLERS.match(selector):
        days = int(m.group(1))
        return Selection(best_sellers(client, count, as_of, days),
                         f"top {count} by units sold over the {days} days to {end}")
    if m := PAIRS.match(selector):
        days = int(m.group(1))
        return Selection(co_purchased_pair(client, as_of, days),
                         f"the pair bought together in the most orders over the {days} days to {end}")
    return Selection([], f"{selector}: not computable from the exports; a person picks the products", True)
