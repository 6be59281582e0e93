"""Best sellers from the client's own Shopify export, reading only line-item columns.

Data minimization: name, SKU, price and quantity only; nothing is stored, the result feeds a
ChangeSet's price table.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from chimera.clients import ClientContext

COLUMNS = ["Lineitem name", "Lineitem sku", "Lineitem price", "Lineitem quantity"]


class Product(BaseModel):
    sku: str
    name: str
    price: Decimal
    units: int


def _shopify_path(client: ClientContext) -> Path | None:
    for src in client.config.sources:
        if src.kind == "shopify_orders":
            path = Path(src.path)
            return path if path.is_absolute() else client.folder / path
    return None


def best_sellers(client: ClientContext, top_n: int = 5) -> list[Product]:
    """Top SKUs by units over the export, each at its most recent price; [] when no export."""
    path = _shopify_path(client)
    if path is None or not path.exists():
        return []
    df = pl.read_csv(path, columns=COLUMNS, infer_schema=False)
    df = df.with_columns(
        pl.col("Lineitem quantity").cast(pl.Int64, strict=False).alias("qty"),
        pl.col("Lineitem price").alias("price"),
    ).filter(pl.col("qty") > 0)
    grouped = (
        df.group_by("Lineitem sku")
        .agg(pl.col("Lineitem name").last(), pl.col("price").last(), pl.col("qty").sum())
        .sort(["qty", "Lineitem sku"], descending=[True, False])
        .head(top_n)
    )
    return [
        Product(sku=r["Lineitem sku"] or "", name=r["Lineitem name"] or "", price=Decimal(r["price"]), units=r["qty"])
        for r in grouped.iter_rows(named=True)
    ]
