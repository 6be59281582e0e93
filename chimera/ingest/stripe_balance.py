"""Stripe balance reports (itemized balance change from activity) -> the Stripe money metrics.

DATA.md lists the layout beside the payments export: ``balance_transaction_id, created_utc,
available_on_utc, currency, gross, fee, net, reporting_category, source_id, description``. One
row is one balance transaction (money that moved), so the report says what was charged, paid in
fees and refunded, per UTC day of ``created_utc``, but nothing of failed attempts (no money
moved): ``stripe_payments`` and ``stripe_failed_payments`` are left out (missing, never zero), and
a KPI needing them is UNKNOWN on those days rather than "no failures".

- ``stripe_succeeded_payments``: rows of category ``charge``.
- ``stripe_gross``: their ``gross``; ``stripe_fees``: their ``fee`` (the processing fee, as the
  payments export's Fee column; other Stripe fees are category ``fee``, not payment fees).
- ``stripe_refunded``: minus the ``gross`` of ``refund`` and ``refund_failure`` rows, on the day
  the refund happened (the report does not say which day its charge was on).
Payouts, transfers, disputes and adjustments move the balance but are not sales: not summed.
A bad cell rejects its row only. Amounts are in currency units, in the balance's one currency.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import BALANCE_COLUMNS, BALANCE_REQUIRED, Header, resolve_columns
from chimera.ingest.frame import (
    Check,
    LineFinder,
    bad_cells,
    day_metrics,
    read_columns,
    reject_required,
    rejections,
    shape_check,
)
from chimera.ingest.future import future_check
from chimera.ingest.models import Aggregate
from chimera.ingest.parsing import is_bad_money, money_decimal, money_format, stripe_day
from chimera.ingest.stripe import ambiguous_checks, detect_locale

COUNTS = ["stripe_succeeded_payments"]
MONEY = ["stripe_gross", "stripe_fees", "stripe_refunded"]
HEADERS = {k: v[0] for k, v in BALANCE_COLUMNS.items()}
REFUNDS = ["refund", "refund_failure"]  # a failed refund gives the money back: it offsets its refund


def is_balance_report(header: Header) -> bool:
    """A Stripe report of balance transactions (its columns are lower_snake_case names; `created` alone
    when it was run with the default columns in the account's time zone)."""
    lower = {c.lower() for c in header.columns}
    return {"gross", "reporting_category"} <= lower and bool(lower & {"created_utc", "created"})


def read_balance(path: Path, header: Header) -> tuple[pl.DataFrame, dict[str, str]]:
    """The needed columns (no description, customer or card columns), and their headers. IngestError
    for a report whose times are only in the account's time zone (`created`): the file does not name
    that zone, so no charge can be put on its UTC day."""
    lower = [c.lower() for c in header.columns]
    if "created_utc" not in lower and "created" in lower:
        raise IngestError(
            f"{path}: line {header.skip_lines + 1}: column {header.columns[lower.index('created')]!r}: the report's "
            "times are in the Stripe account's time zone, which the file does not name, and Stripe's metrics are "
            "per UTC day; run the report again with its created_utc column (Columns: Custom)"
        )
    cols = resolve_columns(path, header, "stripe_payments", BALANCE_COLUMNS, BALANCE_REQUIRED)
    return read_columns(path, header, cols), cols


def aggregate_balance(
    df: pl.DataFrame, line_of: LineFinder, headers: dict[str, str] | None = None, kind: str = "stripe_payments"
) -> Aggregate:
    """Charges, fees and refunds per UTC day; rows with a bad date or amount are rejected."""
    if "currency" in df.columns:
        _one_currency(df["currency"])
    if "id" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("id"))
    if "fee" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("fee"))
    comma, day_first = detect_locale(df.rename({"gross": "amount"}))
    fmt = money_format(df, ["gross", "fee"], comma)
    number = "not a number (expected e.g. 12,34)" if comma else "not a number (expected e.g. 12.34)"
    day = stripe_day(pl.col("created"), day_first)
    checks = [
        shape_check(),
        *reject_required(["created", "gross", "category"]),
        Check("created", pl.col("created").is_not_null() & day.is_null(),
              "not a date-time like 2026-05-01 03:48:05 (UTC)"),
        *ambiguous_checks(df, ["gross", "fee"]),
        *(Check(c, is_bad_money(pl.col(c), fmt), number) for c in ("gross", "fee")),
    ]
    checks += [c for c in [future_check("created", day, df.select(day.unique()).to_series())] if c]
    errors = bad_cells([(df, checks)], "id", {**HEADERS, **(headers or {})})
    good = df.filter(~pl.col("_row").is_in(errors["_row"].implode()))
    category = pl.col("category").str.strip_chars().str.to_lowercase()
    charge = category == "charge"
    gross, fee = (money_decimal(pl.col(c), fmt).fill_null(0) for c in ("gross", "fee"))
    daily = good.group_by(day.alias("day")).agg(
        charge.sum().alias("stripe_succeeded_payments"),
        gross.filter(charge).sum().alias("stripe_gross"),
        fee.filter(charge).sum().alias("stripe_fees"),
        (-gross.filter(category.is_in(REFUNDS))).sum().alias("stripe_refunded"),
    )
    return Aggregate(
        kind=kind,
        days=day_metrics(daily.sort("day"), COUNTS, MONEY, fmt.scale),
        rows_read=df.height,
        orders_ingested=int(good.select(charge.sum()).item() or 0),
        rejected=rejections(errors, line_of),
    )


def _one_currency(currency: pl.Series) -> None:
    """A balance in several currencies cannot be summed into one number: refused, naming them."""
    codes = sorted(currency.drop_nulls().str.strip_chars().str.to_lowercase().unique().to_list())
    codes = [c for c in codes if c]
    if len(codes) > 1:
        raise IngestError(
            f"the balance report mixes currencies ({', '.join(codes)}): sums would be meaningless; "
            "run the report for one currency at a time"
        )
