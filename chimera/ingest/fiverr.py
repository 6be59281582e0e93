"""Fiverr orders, read through the client's own column mapping (Fiverr documents no CSV layout).

The mapping lives in ``client.yml`` under ``fiverr:`` (date, amount, status, and optionally
order_id, delivered_on_time, response_hours). Without it the file cannot be read, and the error
says exactly what to add.
"""

from __future__ import annotations

import csv
import itertools
import re
from datetime import date
from pathlib import Path

import polars as pl
import yaml

from chimera.config.client import FiverrMapping
from chimera.errors import IngestError
from chimera.ingest.detect import Header, check_fiverr_columns, fiverr_spec, resolve_columns
from chimera.ingest.frame import (
    Check,
    LineFinder,
    bad_cells,
    day_metrics,
    read_columns,
    reject_required,
    rejections,
    shape_check,
    with_missing,
)
from chimera.ingest.future import future_check
from chimera.ingest.models import Aggregate
from chimera.ingest.parsing import (
    NO,
    TOO_LARGE,
    YES,
    MoneyFormat,
    currency_of,
    decimal_comma_votes,
    dot_decimal,
    is_bad_money,
    money_decimal,
    money_format,
    named_day,
    too_large,
    totals_row,
    ungrouped,
    without_currency,
)

COUNTS = ["fiverr_orders", "fiverr_completed", "fiverr_cancelled"]
DELIVERY = ["fiverr_delivered", "fiverr_delivered_on_time"]  # only from a mapped delivered_on_time column
RESPONSE = ["fiverr_inquiries", "fiverr_responded_24h"]  # only from a mapped response_hours column
MONEY = ["fiverr_earnings"]
OPTIONAL = ["order_id", "delivered_on_time", "response_hours", "currency"]  # null columns when not mapped / absent
# A sheet's yes/no, as spreadsheets in English, German, French, Spanish, Portuguese, Italian, Dutch write it.
TRUE = [*YES, "on time", "on_time"]
FALSE = [*NO, "late"]
ISO_DAY = r"^\d{4}-\d{2}-\d{2}(?:[ T].*)?$"  # `2026-11-03`, `2026-11-03 14:22:05`, `2026-11-03T14:22:05Z`
SLASH = r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"
DASHES = ["-", "\u2013", "\u2014"]  # a sheet's "no amount" (after its currency mark and spaces are gone)
COPY_CONFLICT = ("the order is listed more than once with different values (pasted sheets?): "
                 "which is current is unknown")
MAPPING_HINT = (
    "add a column mapping to client.yml, e.g.\n"
    "fiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n  date_format: '%Y-%m-%d'"
)


def require_mapping(mapping: FiverrMapping | None, path: Path, header: Header | None = None) -> FiverrMapping:
    if mapping is None:
        hint = suggested_mapping(path, header) if header is not None else None
        raise IngestError(f"{path}: a fiverr_orders export needs the client's column mapping: "
                          + (f"add to client.yml what this file's columns suggest (check it):\n{hint}"
                             if hint else MAPPING_HINT))
    return mapping


_GUESSES = (  # field -> words a sheet's column name holds, most telling first
    ("order_id", ("order id", "order number", "order no", "order #", "id")),
    ("date", ("order date", "date", "created", "placed")),
    ("amount", ("earnings", "amount", "net", "revenue", "price", "total")),
    ("status", ("status", "state")),
    ("delivered_on_time", ("on time", "on-time", "ontime")),
    ("response_hours", ("response",)),
)


def suggested_mapping(path: Path, header: Header, sample: int = 500) -> str | None:
    """A ``fiverr:`` block for client.yml from the file's own column names and dates: a hint that
    fits the sheet at hand (a fixed example sent people to columns their sheet does not have).
    None when no date, amount or status column can be told."""
    picked: dict[str, str] = {}
    for field, words in _GUESSES:
        for word in words:
            col = next((c for c in header.columns if word in c.lower() and c not in picked.values()), None)
            if col is not None:
                picked[field] = col
                break
    if not {"date", "amount", "status"} <= set(picked):
        return None
    fmt = _date_format(_column_sample(path, header, picked["date"], sample))
    lines = ["fiverr:", *(f"  {k}: {yaml_scalar(v)}" for k, v in picked.items()),
             *([f"  date_format: {fmt}"] if fmt else [])]
    return "\n".join(lines)


def yaml_scalar(value: str) -> str:
    """``value`` as YAML reads it back: plain when it round-trips, else single-quoted. A column
    named `Order #` pasted plain reads as `Order` (` #` starts a comment); `Status: final`, `@id`,
    `yes` or `123` change meaning or type too."""
    try:
        if yaml.safe_load(f"k: {value}") == {"k": value}:
            return value
    except yaml.YAMLError:
        pass
    return "'" + value.replace("'", "''") + "'"


def _column_sample(path: Path, header: Header, column: str, rows: int) -> list[str]:
    with path.open(newline="", encoding=header.encoding, errors="replace") as fh:
        for _ in range(header.skip_lines):
            fh.readline()
        reader = csv.DictReader(fh, delimiter=header.separator)
        return [str(r.get(column) or "").strip() for r in itertools.islice(reader, rows)]


def _date_format(values: list[str]) -> str | None:
    """The strptime format slash dates need: day first when a first part is above 12, month first
    when a second part is; ISO and named-month dates need none."""
    parts = [m.groups() for v in values if (m := re.match(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})", v))]
    if not parts:
        return None
    sep = "." if any("." in v[:6] for v in values if v) else "/"
    day_first, month_first = f"'%d{sep}%m{sep}%Y'", f"'%m{sep}%d{sep}%Y'"
    if any(int(a) > 12 for a, _, _ in parts):
        return day_first
    if any(int(b) > 12 for _, b, _ in parts):
        return month_first
    return f"{day_first}  # or {month_first}: no day above 12 in the file tells which"


def read_fiverr(path: Path, header: Header, mapping: FiverrMapping) -> pl.DataFrame:
    """The mapped columns (IngestError naming client.yml's field when one is not in the file), every
    ``OPTIONAL`` one present (null when unmapped), without a totals line at the top or bottom."""
    check_fiverr_columns(path, header, mapping)
    spec, required = fiverr_spec(mapping)
    df = with_missing(read_columns(path, header, resolve_columns(path, header, "fiverr_orders", spec, required)),
                      OPTIONAL)
    blank = pl.col("date").is_null() & pl.col("status").is_null()
    return df.filter(~totals_row(pl.coalesce("order_id", "date"), blank, df.height))


TIME_OF_DAY = (r"(?:[,\s]+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?"
               r"(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?$")
"""A time after a date (`29/08/2026 14:22`, `08/29/2026 2:22 PM`, `Aug 29, 2026, 2:22 PM`): a sheet's
order date often carries one while client.yml's date_format names the date only."""


def _day(mapping: FiverrMapping) -> pl.Expr:
    """The order's day: in the configured format (a date-only format reads the date before a
    time, which the day does not need), else an unambiguous layout (ISO, `Nov 3, 2026`)."""
    col = pl.col("date").str.strip_chars()
    if any(t in mapping.date_format for t in ("%H", "%I", "%M", "%S")):
        configured = col.str.to_datetime(mapping.date_format, strict=False).dt.date()
        part = _date_part(mapping.date_format)  # a row typed with the date alone is still that day
        configured = configured if part is None else pl.coalesce(configured, col.str.to_date(part, strict=False))
    else:
        configured = col.str.replace(TIME_OF_DAY, "").str.to_date(mapping.date_format, strict=False)
    iso = pl.when(col.str.contains(ISO_DAY)).then(col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))
    return pl.coalesce(configured, iso, named_day(col.str.replace(TIME_OF_DAY, "")))  # `Mar 5, 2026, 1:07 PM`


def _date_part(fmt: str) -> str | None:
    """The date before a timed format's time (`%d/%m/%Y %H:%M` -> `%d/%m/%Y`); None when the
    format does not start with a whole date."""
    part = re.split(r"[\sT,]*%[HIMSpf]", fmt, maxsplit=1)[0]
    whole = any(t in part for t in ("%Y", "%y")) and any(t in part for t in ("%d", "%e"))
    return part if whole else None


def _date_checks(mapping: FiverrMapping) -> list[Check]:
    bad = pl.col("date").is_not_null() & _day(mapping).is_null()
    slash = pl.col("date").str.strip_chars().str.contains(SLASH) & ("/" not in mapping.date_format)
    return [
        Check("date", bad & slash, "a slash date could be day or month first (3 Nov or 11 Mar?): set client.yml "
              "fiverr.date_format to '%d/%m/%Y' or '%m/%d/%Y'"),
        Check("date", bad & ~slash, f"not a date in the format {mapping.date_format} (client.yml "
              "fiverr.date_format), nor like 2026-11-03 or Nov 3, 2026"),
    ]


def _amounts(df: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """`_amount` and `_hours`: the amount and response hours as dot-decimal text (`$1,040.00`,
    `1.040,00 €` -> `1040.00`; `2,5` h -> `2.5`), and whether the file writes decimal commas (its
    amounts and hours vote together: a European sheet writes both that way). `amount` and
    `response_hours` stay as written, for rejections."""
    bare = without_currency(pl.col("amount"))
    hours = pl.col("response_hours").str.strip_chars()
    both = df.select(pl.concat([bare, hours]).alias("v"))["v"]
    comma, dot = decimal_comma_votes(both)
    to_dot = dot_decimal if comma > dot else ungrouped
    return df.with_columns(to_dot(bare).alias("_amount"), to_dot(hours).alias("_hours")), comma > dot


def _one_currency(df: pl.DataFrame) -> None:
    """IngestError when the amounts are in several currencies (by their marks, or a Currency column)."""
    code = pl.coalesce(currency_of(pl.col("amount")), pl.col("currency").str.strip_chars().str.to_uppercase())
    first = (df.select(code.alias("code"), pl.coalesce("order_id", "date").fill_null("").alias("order"))
             .drop_nulls("code").unique("code", keep="first", maintain_order=True).sort("code"))
    if first.height > 1:
        where = ", ".join(f"{c}: order {o}" for c, o in first.iter_rows())
        raise IngestError(f"the export mixes currencies ({where}): sums would be meaningless; "
                          "export one currency per file")


def _copies(df: pl.DataFrame, mapping: FiverrMapping) -> pl.Expr | None:
    """Rows of an order id listed again with other values; None without an order id column."""
    if not mapping.order_id:
        return None
    values = pl.struct("date", "amount", "status", "delivered_on_time", "response_hours")
    return pl.col("order_id").is_not_null() & (values.n_unique().over("order_id") > 1)


def aggregate_fiverr(
    df: pl.DataFrame, mapping: FiverrMapping, line_of: LineFinder, kind: str = "fiverr_orders"
) -> Aggregate:
    """Orders, completions, cancellations, earnings (completed orders), and, from mapped columns,
    delivery and response counts per day, from ``read_fiverr``'s frame. An order listed twice counts once."""
    df, comma = _amounts(df)
    _one_currency(df)
    headers = {"date": mapping.date, "amount": mapping.amount, "status": mapping.status,
               "order_id": mapping.order_id or "", "response_hours": mapping.response_hours or "",
               "delivered_on_time": mapping.delivered_on_time or ""}
    fmt = money_format(df, ["_amount", "_hours"])
    example = "12,34" if comma else "12.34"
    done = _done(mapping)
    none = pl.col("_amount").is_in(DASHES).fill_null(False) & ~done  # no earnings on an open or cancelled order
    checks = [
        shape_check(),
        *reject_required(["date", "status"]),
        Check("amount", pl.col("amount").is_null() & done, "missing required value (a completed order's earnings)"),
        *_date_checks(mapping),
        Check("amount", is_bad_money(pl.col("_amount"), fmt) & ~none, f"not a number (expected e.g. {example})"),
        Check("amount", pl.col("_amount").str.starts_with("-") & ~none, "an order's amount is never negative"),
        Check("amount", too_large(pl.col("_amount")) & ~none, TOO_LARGE),
        Check("response_hours", too_large(pl.col("_hours")), TOO_LARGE),
        Check("delivered_on_time", pl.col("delivered_on_time").str.strip_chars().str.to_lowercase()
              .is_in(TRUE + FALSE).not_() & (pl.col("delivered_on_time").str.strip_chars() != ""),
              "not a yes or no (expected e.g. yes, no, true, false, on time, late)"),
        Check("response_hours", is_bad_money(pl.col("_hours"), fmt),
              f"not a number of hours (expected e.g. {example})"),
    ]
    day = _day(mapping)
    checks += [c for c in [future_check("date", day, df.select(day.unique()).to_series())] if c]
    copies = _copies(df, mapping)
    if copies is not None:
        checks.append(Check("order_id", copies, COPY_CONFLICT))
    errors = bad_cells([(df, checks)], "order_id", headers)
    good = df.filter(~pl.col("_row").is_in(errors["_row"].implode()))
    if copies is not None:  # every copy of a rejected order goes; identical copies count once
        rejected = errors.filter(pl.col("column") == headers["order_id"])["order"].implode()
        first = pl.col("order_id").is_null() | (pl.int_range(pl.len()).over("order_id") == 0)
        good = good.filter(~pl.col("order_id").is_in(rejected) & first)
    daily = good.group_by(_day(mapping).alias("day")).agg(*_metrics(mapping, fmt))
    counts = COUNTS + (DELIVERY if mapping.delivered_on_time else []) + (RESPONSE if mapping.response_hours else [])
    days = day_metrics(daily.sort("day"), counts, MONEY, fmt.scale)
    rejected_on = _rejected_days(df, errors, mapping)
    return Aggregate(
        kind=kind,
        days=days,
        rows_read=df.height,
        orders_ingested=good.height,
        rejected=rejections(errors, line_of),
        unknown_days={d for d in rejected_on if d is not None} - set(days),
        rejected_on=None if None in rejected_on else set(rejected_on),
    )


def _rejected_days(df: pl.DataFrame, errors: pl.DataFrame, mapping: FiverrMapping) -> set[date | None]:
    """The days of the rejected orders (None for one without a readable date): a day whose every
    order was rejected is unknown, never a day without orders (zero), as a Shopify day of rejected
    orders is."""
    rejected = df.filter(pl.col("_row").is_in(errors["_row"].implode()))
    return set(rejected.select(_day(mapping).unique()).to_series().to_list())


def _done(mapping: FiverrMapping) -> pl.Expr:
    """Whether the order is completed (its earnings count)."""
    return pl.col("status").str.strip_chars().str.to_lowercase().is_in([v.lower() for v in mapping.completed_values])


def _metrics(mapping: FiverrMapping, fmt: MoneyFormat) -> list[pl.Expr]:
    status = pl.col("status").str.strip_chars().str.to_lowercase()
    done = _done(mapping)
    out = [
        pl.len().alias("fiverr_orders"),
        done.sum().alias("fiverr_completed"),
        status.is_in([v.lower() for v in mapping.cancelled_values]).sum().alias("fiverr_cancelled"),
        money_decimal(pl.col("_amount"), fmt).filter(done).sum().alias("fiverr_earnings"),
    ]
    if mapping.delivered_on_time:
        on_time = pl.col("delivered_on_time").str.strip_chars().str.to_lowercase()
        out += [on_time.is_in(TRUE + FALSE).sum().alias("fiverr_delivered"),
                on_time.is_in(TRUE).sum().alias("fiverr_delivered_on_time")]
    if mapping.response_hours:
        hours = money_decimal(pl.col("_hours"), fmt)
        out += [hours.is_not_null().sum().alias("fiverr_inquiries"),
                (hours < 24).sum().alias("fiverr_responded_24h")]  # DATA.md: responded in < 24 h
    return out


__all__ = ["aggregate_fiverr", "read_fiverr", "require_mapping"]
