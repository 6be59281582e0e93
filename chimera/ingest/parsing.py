"""Exact parsers for the values exports hold: money, timestamps with offsets, GA4 dates.

Each parser exists twice on purpose: a scalar function (for API payloads, errors and property
tests) and a vectorized polars expression (for million-row files). Both accept the same strings;
tests check they agree. Money never passes through a binary float: the vectorized form turns a
decimal string into an integer count of ``10**-scale`` units, summed exactly, then Decimal.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import polars as pl

# `1234.50`, `-3`, `+0.5`; no thousands separators (Shopify, Stripe, GA4 write none).
MONEY_DOT = r"^\s*([+-]?)(\d+)(?:\.(\d+))?\s*$"
# `1234,50`, `1.234,50`, `1 234,50` (European Stripe exports).
MONEY_COMMA = r"^\s*([+-]?)(\d{1,3}(?:[. ]\d{3})+|\d+)(?:,(\d+))?\s*$"
# `2026-04-05 21:06:21 -0400` (export) or `2026-04-05T21:06:21-04:00` (Admin API).
SHOPIFY_TS = r"^\s*(\d{4}-\d{2}-\d{2})[ T]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.\d+)? ?(Z|[+-]\d{2}:?\d{2})\s*$"
ISO_DT = (
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
    r"(?: ?(?:Z|UTC|[+-]00:?00))?\s*$"
)
SLASH_DT = r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
GA_DATE = r"^\s*(\d{4})-?(\d{2})-?(\d{2})\s*$"
COUNT = r"^\s*\+?\d+\s*$"

MAX_SCALE = 6
MAX_WHOLE_DIGITS = 12  # with MAX_SCALE, sums of a million values stay inside Int64


class ParseError(ValueError):
    """A value that does not parse; ``reason`` is the text shown to the user."""


# --------------------------------------------------------------------------- scalar parsers


def parse_money(text: str, decimal_comma: bool = False) -> Decimal:
    """Exact Decimal from an export's money string (dot, or comma decimals when told)."""
    m = re.match(MONEY_COMMA if decimal_comma else MONEY_DOT, text or "")
    if not m:
        sep = "," if decimal_comma else "."
        raise ParseError(f"not a number (expected e.g. 12{sep}34)")
    sign, whole, frac = m.groups()
    whole = re.sub(r"[. ]", "", whole) if decimal_comma else whole
    try:
        return Decimal(f"{sign}{whole}.{frac or '0'}")
    except InvalidOperation:  # pragma: no cover - the regex already guarantees digits
        raise ParseError("not a number") from None


def parse_count(text: str) -> int:
    """A non-negative whole number (a quantity)."""
    raw = (text or "").strip()
    if re.match(r"^-\d+$", raw):
        raise ParseError("negative quantity")
    if not re.match(COUNT, raw):
        raise ParseError("not a whole number")
    return int(raw)


def parse_shopify_timestamp(text: str) -> datetime:
    """An aware datetime from `2026-04-05 21:06:21 -0400` (or the API's ISO form)."""
    m = re.match(SHOPIFY_TS, text or "")
    if not m:
        raise ParseError("not a date-time like 2026-04-05 21:06:21 -0400")
    day, hh, mm, ss, off = m.groups()
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise ParseError("not a calendar date (expected YYYY-MM-DD HH:MM:SS ±HHMM)") from None
    return datetime(d.year, d.month, d.day, int(hh), int(mm), int(ss), tzinfo=_tz(off))


def _tz(off: str) -> timezone:
    if off == "Z":
        return UTC
    digits = off[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if off[0] == "-" else delta)


def local_day(text: str) -> date:
    """The store-local calendar day of a Shopify timestamp: the date its own offset gives."""
    return parse_shopify_timestamp(text).date()


def parse_stripe_datetime(text: str, day_first: bool = False) -> datetime:
    """A naive UTC datetime from `2026-05-01 03:48:05`, `01/05/2026 03:48` (dd/mm or mm/dd)."""
    m = re.match(ISO_DT, text or "")
    if m:
        y, mo, d, hh, mi, ss = m.groups()
    else:
        m = re.match(SLASH_DT, text or "")
        if not m:
            raise ParseError("not a date-time like 2026-05-01 03:48:05")
        a, b, y, hh, mi, ss = m.groups()
        d, mo = (a, b) if day_first else (b, a)
    try:
        return datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))  # noqa: DTZ001
    except ValueError:
        raise ParseError("not a calendar date-time") from None


def parse_ga_date(text: str) -> date:
    """GA4 dates: `20260405` (API) or `2026-04-05` (report export)."""
    m = re.match(GA_DATE, text or "")
    if not m:
        raise ParseError("not a date like 20260405 or 2026-04-05")
    try:
        return date(*(int(g) for g in m.groups()))
    except ValueError:
        raise ParseError("not a calendar date") from None


# --------------------------------------------------------------------------- vectorized forms


def money_scale(col: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """Largest number of decimal places among the valid values of a money column."""
    pattern = MONEY_COMMA if decimal_comma else MONEY_DOT
    return col.str.extract(pattern, 3).str.len_chars().max().fill_null(0)


def money_units(col: pl.Expr, scale: int, decimal_comma: bool = False) -> pl.Expr:
    """Int64 count of ``10**-scale`` units; null where the string is not money (or is empty)."""
    pattern = MONEY_COMMA if decimal_comma else MONEY_DOT
    parts = col.str.extract_groups(pattern)
    whole = parts.struct.field("2")
    if decimal_comma:
        whole = whole.str.replace_all(r"[. ]", "")
    frac = parts.struct.field("3").fill_null("")
    frac_units = (
        frac.str.pad_end(scale, "0").str.slice(0, scale).cast(pl.Int64, strict=False).fill_null(0)
        if scale
        else pl.lit(0, pl.Int64)
    )
    units = whole.cast(pl.Int64, strict=False) * (10**scale) + frac_units
    sign = pl.when(parts.struct.field("1") == "-").then(-1).otherwise(1)
    return units * sign


def is_bad_money(col: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """True where a non-empty value is not money (an empty value is checked separately)."""
    pattern = MONEY_COMMA if decimal_comma else MONEY_DOT
    too_long = (col.str.extract(pattern, 3).str.len_chars() > MAX_SCALE) | (
        col.str.extract(pattern, 2).str.len_chars() > MAX_WHOLE_DIGITS
    )
    return (col.is_not_null() & ~col.str.contains(pattern)) | too_long.fill_null(False)


def shopify_day(col: pl.Expr) -> pl.Expr:
    """Store-local date of a Shopify timestamp (null when malformed or not a calendar date)."""
    return col.str.extract(SHOPIFY_TS, 1).str.to_date("%Y-%m-%d", strict=False)


def ga_day(col: pl.Expr) -> pl.Expr:
    parts = col.str.extract_groups(GA_DATE)
    text = pl.concat_str([parts.struct.field("1"), parts.struct.field("2"), parts.struct.field("3")], separator="-")
    return text.str.to_date("%Y-%m-%d", strict=False)


def stripe_day(col: pl.Expr, day_first: bool) -> pl.Expr:
    """UTC date of a Stripe export timestamp; ``day_first`` decides slash dates (per file)."""
    iso = col.str.extract_groups(ISO_DT)
    sl = col.str.extract_groups(SLASH_DT)
    d_sl, m_sl = (sl.struct.field("1"), sl.struct.field("2")) if day_first else (
        sl.struct.field("2"), sl.struct.field("1"))
    y = pl.coalesce(iso.struct.field("1"), sl.struct.field("3"))
    m = pl.coalesce(iso.struct.field("2"), m_sl).str.pad_start(2, "0")
    d = pl.coalesce(iso.struct.field("3"), d_sl).str.pad_start(2, "0")
    hh = pl.coalesce(iso.struct.field("4"), sl.struct.field("4")).cast(pl.Int32, strict=False).fill_null(0)
    ok_time = (hh < 24)
    day = pl.concat_str([y, m, d], separator="-").str.to_date("%Y-%m-%d", strict=False)
    return pl.when(ok_time).then(day)


def count_units(col: pl.Expr) -> pl.Expr:
    return col.str.strip_chars().str.strip_prefix("+").cast(pl.Int64, strict=False)


def units_to_decimal(units: int, scale: int) -> Decimal:
    """Exact Decimal from an integer count of ``10**-scale`` units (at least 2 places shown)."""
    value = Decimal(int(units)).scaleb(-scale)
    return value.quantize(Decimal("0.01")) if scale < 2 else value
