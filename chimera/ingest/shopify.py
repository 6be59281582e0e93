"""Shopify orders (export rows or API line items) -> daily base metrics and customer-days.

The frame has one row per line item with canonical column names (see ``detect.SHOPIFY_COLUMNS``);
order-level fields are read from each order's first row. A bad cell anywhere rejects its whole
order. Days are the store-local calendar date of ``Created at`` (the date its own offset gives).
The Admin API connector builds the same frame, so both paths share every rule below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import SHOPIFY_COLUMNS, SHOPIFY_REQUIRED, Header, resolve_columns
from chimera.ingest.frame import (
    ROW,
    Check,
    LineFinder,
    bad_cells,
    common_scale,
    day_metrics,
    read_columns,
    reject_required,
    rejections,
    with_missing,
)
from chimera.ingest.models import Aggregate
from chimera.ingest.parsing import COUNT, SHOPIFY_TS, is_bad_money, money_scale, money_units, shopify_day

ORDER_MONEY = ["subtotal", "shipping", "taxes", "total", "discount", "refunded"]
COUNTS = ["orders_placed", "orders", "cancelled_orders", "units", "refunded_orders"]
MONEY = ["gross_sales", "discounts", "net_sales", "shipping", "taxes", "total_sales", "refunded_amount",
         "net_revenue"]
HEADERS = {k: v[0] for k, v in SHOPIFY_COLUMNS.items()}
BAD_TS = "not a date-time like 2026-04-05 21:06:21 -0400"


def read_shopify(path: Path, header: Header) -> pl.DataFrame:
    """Only the columns the metrics need (no names, addresses or phones are ever read)."""
    cols = resolve_columns(path, header, "shopify_orders", SHOPIFY_COLUMNS, SHOPIFY_REQUIRED)
    return read_columns(path, header, cols)


def _checks(df: pl.DataFrame) -> list[Check]:
    first = pl.col("name").is_first_distinct()
    qty = pl.col("quantity")
    checks = reject_required(df, ["name", "created_at", "quantity", "price"])
    checks += [
        Check("created_at", ~pl.col("created_at").str.contains(SHOPIFY_TS), BAD_TS),
        Check("created_at", pl.col("created_at").str.contains(SHOPIFY_TS) & shopify_day(pl.col("created_at")).is_null(),
              "not a calendar date (expected YYYY-MM-DD HH:MM:SS ±HHMM)"),
        Check("quantity", qty.str.contains(r"^\s*-\s*\d+(\.\d+)?\s*$").fill_null(False), "negative quantity"),
        Check("quantity", qty.is_not_null() & ~qty.str.contains(r"^\s*-") & ~qty.str.contains(COUNT),
              "not a whole number"),
        Check("price", is_bad_money(pl.col("price")), "not a number (expected e.g. 12.34)"),
    ]
    checks += [Check(c, first & pl.col(c).is_null(), "missing required value") for c in ("subtotal", "total")]
    checks += [Check(c, is_bad_money(pl.col(c)), "not a number (expected e.g. 12.34)") for c in ORDER_MONEY]
    return checks


def aggregate_shopify(
    df: pl.DataFrame, pseudonym: Callable[[str], str], line_of: LineFinder, kind: str = "shopify_orders"
) -> Aggregate:
    """Validate, reject whole orders with a bad cell, and sum the rest per store-local day."""
    df = with_missing(df, list(SHOPIFY_COLUMNS))
    errors = bad_cells(df, _checks(df), "name", HEADERS)
    bad_orders = errors["order"].unique()
    good = df.filter(pl.col("name").is_not_null() & ~pl.col("name").is_in(bad_orders.implode()))
    scale = common_scale(good, [*ORDER_MONEY, "price"], money_scale)
    orders = _orders(good, scale)
    _check_currency(orders)
    kept = ~pl.col("cancelled")
    daily = orders.group_by("day").agg(
        pl.len().alias("orders_placed"),
        kept.sum().alias("orders"),
        pl.col("cancelled").sum().alias("cancelled_orders"),
        *(pl.col(src).filter(kept).sum().alias(dst) for src, dst in _SUMS.items()),
        (kept & (pl.col("refunded") > 0)).sum().alias("refunded_orders"),
    ).with_columns((pl.col("total_sales") - pl.col("refunded_amount")).alias("net_revenue"))
    return Aggregate(
        kind=kind,
        days=day_metrics(daily.sort("day"), COUNTS, MONEY, scale),
        rows_read=df.height,
        orders_ingested=orders.height,
        rejected=rejections(errors, line_of),
        customers=_customers(orders, pseudonym),
    )


_SUMS = {"units": "units", "gross": "gross_sales", "discount": "discounts", "subtotal": "net_sales",
         "shipping": "shipping", "taxes": "taxes", "total": "total_sales", "refunded": "refunded_amount"}


def _orders(good: pl.DataFrame, scale: int) -> pl.DataFrame:
    """One row per order: its day, cancelled flag, order-level money (units) and line-item sums."""
    qty = pl.col("quantity").str.strip_chars().cast(pl.Int64, strict=False)
    lines = good.group_by("name").agg(
        qty.sum().alias("units"),
        (qty * money_units(pl.col("price"), scale)).sum().alias("gross"),
    )
    first = good.filter(pl.col("name").is_first_distinct()).select(
        "name",
        shopify_day(pl.col("created_at")).alias("day"),
        pl.col("cancelled_at").is_not_null().alias("cancelled"),
        pl.col("email").str.strip_chars().str.to_lowercase().alias("email"),
        pl.col("currency"),
        *(money_units(pl.col(c), scale).fill_null(0).alias(c) for c in ORDER_MONEY),
    )
    return first.join(lines, on="name", how="left")


def _check_currency(orders: pl.DataFrame) -> None:
    currencies = orders["currency"].drop_nulls().unique().sort().to_list()
    if len(currencies) > 1:
        raise IngestError(
            f"the export mixes currencies ({', '.join(currencies)}): sums would be meaningless; "
            "export one currency (store) per file"
        )


def _customers(orders: pl.DataFrame, pseudonym: Callable[[str], str]) -> pl.DataFrame:
    """(day, customer pseudonym, orders) for non-cancelled orders with an email; emails stop here."""
    per_day = (
        orders.filter(~pl.col("cancelled") & pl.col("email").is_not_null())
        .group_by("day", "email")
        .agg(pl.len().cast(pl.Int64).alias("orders"))
    )
    emails = per_day["email"].unique()
    hashed = pl.Series([pseudonym(e) for e in emails.to_list()], dtype=pl.String)
    mapping = pl.DataFrame({"email": emails, "customer": hashed})
    return per_day.join(mapping, on="email").select("day", "customer", "orders").sort("day", "customer")


__all__ = ["ROW", "aggregate_shopify", "read_shopify"]
