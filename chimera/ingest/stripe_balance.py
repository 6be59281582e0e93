"""Stripe balance reports (itemized balance change from activity) -> the Stripe money metrics.

DATA.md lists the layout beside the payments export: ``balance_transaction_id, created_utc,
available_on_utc, currency, gross, fee, net, reporting_category, source_id, description``. One
row is one balance transaction (money that moved), so the report says what was charged, paid in
fees and refunded, per UTC day of ``created_utc``, but nothing of failed attempts (no money
moved): ``stripe_payments`` and ``stripe_failed_payments`` are left out (missing, never zero), and
a KPI needing them is UNKNOWN on those days rather than "no failures".

- ``stripe_succeeded_payments``: rows of category ``charge``, except those that failed later.
- ``stripe_gross``: their ``gross``; ``stripe_fees``: the ``fee`` of every ``charge`` row (the
  processing fee, as the payments export's Fee column, which it shows on a failed charge too;
  other Stripe fees are category ``fee``, not payment fees).
- ``charge_failure``: a charge that failed after its money was counted (ACH or SEPA debits:
  Stripe takes the money back). A failed charge is never revenue (the payments export lists it
  as Failed, outside gross): when the report holds the charge (same ``source_id``), the charge is
  neither a success nor gross on its day; otherwise (the charge was before the report, or the
  report has no ``source_id``) the failure's negative ``gross`` is taken off gross on its own day,
  as refunds are.
- ``stripe_refunded``: minus the ``gross`` of ``refund``, ``refund_failure`` and
  ``partial_capture_reversal`` rows (the uncaptured rest of an authorization, which the charge's
  Amount Refunded holds in the payments export), on the day it happened (a refund's ``source_id``
  is the refund, not its charge).
Payouts, transfers, disputes and adjustments move the balance but are not sales: not summed.
A bad cell rejects its row only. Amounts are in currency units, in the balance's one currency.

The Dashboard's balance export (Balance > Export: ``id, Type, Source, Amount, Fee, Net, Currency,
Created (UTC), Available On (UTC), Description, ...``) lists the same balance transactions: its
``Amount`` is ``gross``, ``Source`` is ``source_id``, and it has the API's ``type`` where the report
has ``reporting_category``. A row's category is its ``reporting_category`` when the file has one,
else its type through ``TYPE_CATEGORIES`` (Stripe's reporting-categories page): ``payment`` (a
non-card charge) is ``charge``, ``payment_refund`` is ``refund``, ``payment_failure_refund`` (an ACH
or direct debit that failed) is ``charge_failure``; ``charge``, ``refund``, ``refund_failure`` and
``charge_failure`` are their own category. Every other type (``payout``, ``transfer``,
``stripe_fee``, ``adjustment``, ...) is not summed, as above. What a type cannot tell: a partial
capture's reversal is type ``refund`` (counted in ``stripe_refunded``, as the payments export's
Amount Refunded counts it), and a refund that failed may be type ``adjustment`` (then not offset).
Exported in a time zone the Dashboard was set to (`Created (America/New_York)`, `Created (UTC+2)`),
its times are read as the payments export's are (docs/contracts.md): a time as written in that
zone, one with an offset as its moment, each on its UTC day; the first and last UTC days its local
days hold only some hours of are left out, saying why, what is stored for them kept.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import (
    BALANCE_COLUMNS,
    BALANCE_REQUIRED,
    DASHBOARD_BALANCE_COLUMNS,
    DASHBOARD_BALANCE_REQUIRED,
    Header,
    is_dashboard_balance,
    resolve_columns,
)
from chimera.ingest.frame import (
    ROW,
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
from chimera.ingest.parsing import (
    TOO_LARGE,
    MoneyFormat,
    is_bad_money,
    money_decimal,
    money_format,
    too_large,
)
from chimera.ingest.stripe import (
    CUT_REASON,
    DAY,
    LocalRange,
    ambiguous_checks,
    as_written,
    copy_checks,
    created_days,
    detect_locale,
    first_copies,
    header_zone,
    partial_days,
    without_headers,
    without_marks,
    zoned_created,
)

COUNTS = ["stripe_succeeded_payments"]
MONEY = ["stripe_gross", "stripe_fees", "stripe_refunded"]
HEADERS = {k: v[0] for k, v in BALANCE_COLUMNS.items()}
REFUNDS = ["refund", "refund_failure", "partial_capture_reversal"]  # a failed refund offsets its refund
SPEC = {**BALANCE_COLUMNS, "source": ("source_id",)}  # which charge a charge_failure row is of
# A balance transaction's type -> its reporting category, where the two differ (the module's docstring);
# any other type is its own category, and only charge, charge_failure and the REFUNDS are summed.
TYPE_CATEGORIES = {"payment": "charge", "payment_refund": "refund", "payment_failure_refund": "charge_failure"}


def is_balance_report(header: Header) -> bool:
    """A Stripe report of balance transactions (its columns are lower_snake_case names; `created` alone
    when it was run with the default columns in the account's time zone), or the Dashboard's balance
    export (``detect.is_dashboard_balance``)."""
    lower = {c.lower() for c in header.columns}
    report = {"gross", "reporting_category"} <= lower and bool(lower & {"created_utc", "created"})
    return report or is_dashboard_balance(header.columns)


def read_balance(path: Path, header: Header) -> tuple[pl.DataFrame, dict[str, str]]:
    """The needed columns (no description, customer or card columns), and their headers. IngestError
    for a report whose times are only in the account's time zone (`created`): the file does not name
    that zone, so no charge can be put on its UTC day."""
    if is_dashboard_balance(header.columns):
        return _read_dashboard(path, header)
    lower = [c.lower() for c in header.columns]
    if "created_utc" not in lower and "created" in lower:
        raise IngestError(
            f"{path}: line {header.skip_lines + 1}: column {header.columns[lower.index('created')]!r}: the report's "
            "times are in the Stripe account's time zone, which the file does not name, and Stripe's metrics are "
            "per UTC day; run the report again with its created_utc column (Columns: Custom)"
        )
    cols = resolve_columns(path, header, "stripe_payments", SPEC, BALANCE_REQUIRED)
    return read_columns(path, header, cols), cols


def _read_dashboard(path: Path, header: Header) -> tuple[pl.DataFrame, dict[str, str]]:
    """The Dashboard balance export's needed columns. One exported in a time zone of the Dashboard's
    choosing (`Created (America/New_York)`, `Created (UTC+2)`) is read as the payments export in one
    is (``aggregate_balance``); IngestError (file, line, column) for a zone we do not know."""
    spec = {**DASHBOARD_BALANCE_COLUMNS,
            "created": (*DASHBOARD_BALANCE_COLUMNS["created"], *zoned_created(path, header))}
    cols = resolve_columns(path, header, "stripe_payments", spec, DASHBOARD_BALANCE_REQUIRED)
    return read_columns(path, header, cols), cols


def with_category(df: pl.DataFrame, headers: dict[str, str]) -> tuple[pl.DataFrame, dict[str, str]]:
    """``df`` with each row's reporting category: the file's own, else its ``type`` through
    ``TYPE_CATEGORIES`` (the Dashboard export); ``headers`` then name the Type column for a row that
    has neither (its rejection says which column to fill)."""
    if "type" not in df.columns:
        return df, headers
    kind = pl.col("type").str.strip_chars().str.to_lowercase().str.replace_all(r"[\s-]+", "_")
    mapped = kind.replace(TYPE_CATEGORIES)
    own = "category" in df.columns
    category = pl.coalesce(pl.col("category"), mapped) if own else mapped
    return df.with_columns(category.alias("category")), headers if own else {**headers, "category": headers["type"]}


def aggregate_balance(
    df: pl.DataFrame, line_of: LineFinder, headers: dict[str, str] | None = None, kind: str = "stripe_payments",
    local_range: LocalRange = (None, None),
) -> Aggregate:
    """Charges, fees and refunds per UTC day; rows with a bad date or amount are rejected. A
    Dashboard export in a time zone other than UTC puts each transaction on its moment's UTC day and
    leaves out the first and last UTC days, which it holds only some hours of (``partial_days``;
    ``local_range``: ``--since``/``--until`` as given, days of that zone), as the payments export."""
    headers = {**HEADERS, **(headers or {})}
    df, headers = with_category(without_headers(df, headers), headers)
    if "currency" in df.columns:
        _one_currency(df["currency"])
    df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in ("id", "fee", "source", "currency")
                         if c not in df.columns)
    df, raw, marks = without_marks(df, {"gross": "currency", "fee": "currency"})
    comma, day_first = detect_locale(df.rename({"gross": "amount"}))
    fmt = money_format(df, ["gross", "fee"], comma)
    zone = header_zone(headers["created"])
    df, created = created_days(df, day_first, zone)
    errors = as_written(bad_cells([(df, [*marks, *created, *_checks(df, fmt, comma)])], "id", headers), raw,
                        headers)
    good = first_copies(df, errors)
    category = pl.col("category").str.strip_chars().str.to_lowercase()
    charge = category == "charge"
    succeeded, failure = _failed_later(good, category)
    gross, fee = (money_decimal(pl.col(c), fmt).fill_null(0) for c in ("gross", "fee"))
    daily = good.group_by(pl.col(DAY).alias("day")).agg(
        succeeded.sum().alias("stripe_succeeded_payments"),
        gross.filter(succeeded | failure).sum().alias("stripe_gross"),
        fee.filter(charge).sum().alias("stripe_fees"),
        (-gross.filter(category.is_in(REFUNDS))).sum().alias("stripe_refunded"),
    )
    days = day_metrics(daily.sort("day"), COUNTS, MONEY, fmt.scale)
    rejected_days = set(df.filter(pl.col(ROW).is_in(errors[ROW].implode()))[DAY].drop_nulls().to_list())
    left_out, whole_range = partial_days(df, set(days) | rejected_days, zone, local_range)
    days = {d: v for d, v in days.items() if d not in left_out}
    edges = {d for d in left_out if whole_range and not whole_range[0] <= d <= whole_range[1]}  # a zone's
    return Aggregate(
        kind=kind,
        days=days,
        rows_read=df.height,
        orders_ingested=int(good.select(charge.sum()).item() or 0),
        rejected=rejections(errors, line_of),
        # every row of the day rejected: missing, not 0; a zoned export's edge days lie outside its range
        unknown_days=(rejected_days | set(left_out)) - edges - set(days),
        cut_days={d for d, why in left_out.items() if why == CUT_REASON},  # not the UTC day still going on
        left_out=left_out,
        whole_range=whole_range,
    )


def _checks(df: pl.DataFrame, fmt: MoneyFormat, comma: bool) -> list[Check]:
    """Bad cells (besides a malformed date: ``created_days``): a row of the wrong shape, a missing
    date or amount, a malformed amount, a typo date, a transaction listed twice with different values."""
    number = "not a number (expected e.g. 12,34)" if comma else "not a number (expected e.g. 12.34)"
    day = pl.col(DAY)
    checks = [
        shape_check(),
        *reject_required(["created", "gross", "category"]),
        *ambiguous_checks(df, ["gross", "fee"]),
        *(Check(c, is_bad_money(pl.col(c), fmt), number) for c in ("gross", "fee")),
        *(Check(c, too_large(pl.col(c), comma), TOO_LARGE) for c in ("gross", "fee")),
        *copy_checks(df),
    ]
    return checks + [c for c in [future_check("created", day, df[DAY].unique())] if c]


def _failed_later(good: pl.DataFrame, category: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(a charge that did not fail later, a charge_failure whose charge is not in the report): a
    failed charge found in the report is left out of its day; a failure of an earlier charge takes
    its gross off its own day (see the module's docstring)."""
    source = pl.col("source").str.strip_chars()
    of = {c: good.filter(category == c).select(source.drop_nulls()).to_series().implode() for c in ("charge",
                                                                                                  "charge_failure")}
    charge, failure = category == "charge", category == "charge_failure"
    return (charge & ~source.is_in(of["charge_failure"]).fill_null(False),
            failure & ~source.is_in(of["charge"]).fill_null(False))


def _one_currency(currency: pl.Series) -> None:
    """A balance in several currencies cannot be summed into one number: refused, naming them."""
    codes = sorted(currency.drop_nulls().str.strip_chars().str.to_lowercase().unique().to_list())
    codes = [c for c in codes if c]
    if len(codes) > 1:
        raise IngestError(
            f"the balance report mixes currencies ({', '.join(codes)}): sums would be meaningless; "
            "run the report for one currency at a time"
        )
