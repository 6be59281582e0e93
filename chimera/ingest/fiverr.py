"""Fiverr orders, read through the client's own column mapping (Fiverr documents no CSV layout).

The mapping lives in ``client.yml`` under ``fiverr:`` (date, amount, status, and optionally
order_id, delivered_on_time, response_hours). Without it the file cannot be read, and the error
says exactly what to add.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chimera.config.client import FiverrMapping
from chimera.errors import IngestError
from chimera.ingest.detect import Header, fiverr_spec, resolve_columns
from chimera.ingest.frame import (
    Check,
    LineFinder,
    bad_cells,
    day_metrics,
    read_columns,
    reject_required,
    rejections,
    with_missing,
)
from chimera.ingest.models import Aggregate
from chimera.ingest.parsing import is_bad_money, money_decimal, money_format

COUNTS = ["fiverr_orders", "fiverr_completed", "fiverr_cancelled", "fiverr_delivered",
          "fiverr_delivered_on_time", "fiverr_inquiries", "fiverr_responded_24h"]
MONEY = ["fiverr_earnings"]
TRUE = ["true", "yes", "y", "1", "on time", "on_time"]
FALSE = ["false", "no", "n", "0", "late"]
MAPPING_HINT = (
    "add a column mapping to client.yml, e.g.\n"
    "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n  date_format: '%Y-%m-%d'"
)


def require_mapping(mapping: FiverrMapping | None, path: Path) -> FiverrMapping:
    if mapping is None:
        raise IngestError(f"{path}: a fiverr_orders export needs the client's column mapping: {MAPPING_HINT}")
    return mapping


def read_fiverr(path: Path, header: Header, mapping: FiverrMapping) -> pl.DataFrame:
    spec, required = fiverr_spec(mapping)
    cols = resolve_columns(path, header, "fiverr_orders", spec, required)
    return read_columns(path, header, cols)


def _plain_amount(col: pl.Expr) -> pl.Expr:
    """`$1,040.00`, `US$15.50`, `40.00 USD` -> `1040.00`, `15.50`, `40.00`: currency marks and
    thousands groups (before a decimal point) go; anything else stays, to be refused as not a number."""
    bare = col.str.replace_all(r"[$€£\s]|USD|EUR|GBP|US", "")
    grouped = bare.str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
    return pl.when(grouped).then(bare.str.replace_all(",", "")).otherwise(bare)


def _day(mapping: FiverrMapping) -> pl.Expr:
    col = pl.col("date").str.strip_chars()
    if any(t in mapping.date_format for t in ("%H", "%I", "%M", "%S")):
        return col.str.to_datetime(mapping.date_format, strict=False).dt.date()
    return col.str.to_date(mapping.date_format, strict=False)


def aggregate_fiverr(
    df: pl.DataFrame, mapping: FiverrMapping, line_of: LineFinder, kind: str = "fiverr_orders"
) -> Aggregate:
    """Orders, completions, cancellations, earnings (completed orders), delivery and response counts per day."""
    df = with_missing(df, ["order_id", "delivered_on_time", "response_hours"])
    df = df.with_columns(_plain_amount(pl.col("amount")).alias("_amount"))  # `amount` stays as written, for reports
    headers = {"date": mapping.date, "amount": mapping.amount, "status": mapping.status,
               "order_id": mapping.order_id or "", "response_hours": mapping.response_hours or ""}
    fmt = money_format(df, ["_amount", "response_hours"])
    checks = [
        *reject_required(["date", "amount", "status"]),
        Check("date", pl.col("date").is_not_null() & _day(mapping).is_null(),
              f"not a date in the format {mapping.date_format} (client.yml fiverr.date_format)"),
        Check("amount", is_bad_money(pl.col("_amount"), fmt), "not a number (expected e.g. 12.34)"),
        Check("response_hours", is_bad_money(pl.col("response_hours"), fmt), "not a number of hours"),
    ]
    errors = bad_cells([(df, checks)], "order_id", headers)
    good = df.filter(~pl.col("_row").is_in(errors["_row"].implode()))
    if mapping.order_id:
        good = good.unique(subset=["order_id"], keep="first", maintain_order=True)
    status = pl.col("status").str.strip_chars().str.to_lowercase()
    done = status.is_in([v.lower() for v in mapping.completed_values])
    on_time = pl.col("delivered_on_time").str.strip_chars().str.to_lowercase()
    hours = money_decimal(pl.col("response_hours"), fmt)
    daily = good.group_by(_day(mapping).alias("day")).agg(
        pl.len().alias("fiverr_orders"),
        done.sum().alias("fiverr_completed"),
        status.is_in([v.lower() for v in mapping.cancelled_values]).sum().alias("fiverr_cancelled"),
        money_decimal(pl.col("_amount"), fmt).filter(done).sum().alias("fiverr_earnings"),
        on_time.is_in(TRUE + FALSE).sum().alias("fiverr_delivered"),
        on_time.is_in(TRUE).sum().alias("fiverr_delivered_on_time"),
        hours.is_not_null().sum().alias("fiverr_inquiries"),
        (hours <= 24).sum().alias("fiverr_responded_24h"),
    )
    return Aggregate(
        kind=kind,
        days=day_metrics(daily.sort("day"), COUNTS, MONEY, fmt.scale),
        rows_read=df.height,
        orders_ingested=good.height,
        rejected=rejections(errors, line_of),
    )


__all__ = ["aggregate_fiverr", "read_fiverr", "require_mapping"]
