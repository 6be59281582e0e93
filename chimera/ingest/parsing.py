"""Exact parsers for the values exports hold: money, timestamps with offsets, analytics dates.

Each parser exists twice on purpose: a scalar function (for API payloads, errors and property
tests) and a vectorized polars expression (for million-row files). Both accept the same strings;
tests check they agree. Money never passes through a binary float: the vectorized form turns a
decimal string into an integer count of ``10**-scale`` units, summed exactly, then Decimal.

What only files need is vectorized only: cleaning a value before it is parsed (currency marks,
thousands groups, a count's `.0`), a report's totals line, and a file's locale decided once from
all its values (decimal comma, dd/mm or mm/dd).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

# `1234.50`, `-3`, `+0.5`; no thousands separators (Shopify, Stripe, GA4 write none).
MONEY_DOT = r"^\s*([+-]?)(\d+)(?:\.(\d+))?\s*$"
# `1,234.50`: a dot-decimal amount with thousands commas (Stripe's dashboard, a spreadsheet save), when told.
# Comma groups of a dot-decimal amount: thousands (`1,234,567`) or India's lakh and crore (`12,34,567`,
# as Excel in an Indian locale formats it).
DOT_GROUPS = r"(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3})"
MONEY_DOT_GROUPED = rf"^\s*([+-]?)({DOT_GROUPS}|\d+)(?:\.(\d+))?\s*$"
# `1234,50`, `1.234,50`, `1 234,50` (European Stripe exports).
MONEY_COMMA = r"^\s*([+-]?)(\d{1,3}(?:[. \u00a0\u202f]\d{3})+|\d+)(?:,(\d+))?\s*$"  # French Excel: no-break spaces
# `2026-04-05 21:06:21 -0400` (export) or `2026-04-05T21:06:21-04:00` (Admin API).
SHOPIFY_TS = r"^(\d{4}-\d{2}-\d{2})[ T]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.\d+)? ?(Z|[+-]\d{2}:?\d{2})$"
# A time of day on a 24-hour clock (`17:13`, `17:13:09`) or a 12-hour one (`5:13 PM`, `05:13:09 pm`, `5:13 p.m.`:
# a US-locale spreadsheet's save); groups: hour, minute, second (24 h), then hour, minute, second, a/p (12 h).
CLOCK = (r"(?:([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?:\.\d+)?"
         r"|(0?[1-9]|1[0-2]):([0-5]\d)(?::([0-5]\d))?(?:\.\d+)?\s*([AaPp])\.?[Mm]\.?)")
# `2026-05-01 03:48:05`, `2026-05-01T03:48:05Z`, `...03:48` (no seconds), `...03:48:05+02:00` (an offset:
# the UTC day is the moment's, `2026-05-01T01:30:00+02:00` is 30 April in UTC), `2026-03-05 1:07:33 PM` (a
# US-locale spreadsheet's save of ISO dates: ``CLOCK``'s 12-hour form). Groups: year, month, day, the 7 of
# ``CLOCK`` (4-10), then the zone: its mark (11), an offset's sign (12), hours (13), minutes (14).
ISO_DT = (
    r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]" + CLOCK + r")?"
    r"(?: ?(Z|UTC|GMT|([+-])(\d{2}):?(\d{2})))?\s*$"
)
# `01/05/2026 03:48`, `3/1/26 17:13` (Excel's US short date: the year last, in 2 digits), `3/1/2026 5:13 PM`.
SLASH_DT = r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})(?:[ T,]+" + CLOCK + r")?\s*$"
# `20260405` (GA4), `2026-04-05`, `2026/4/5` (Excel in Japan, China, Korea writes year first with slashes).
# A midnight time after it is a date-time cell of a sheet or script (`2026-04-05 00:00:00`), with its zone
# too (`...T00:00:00Z`, BigQuery's `2026-04-05 00:00:00 UTC`): still the day.
GA_DATE = (r"^\s*(\d{4})(?:-?(\d{2})-?(\d{2})|[-/.](\d{1,2})[-/.](\d{1,2}))"
           r"(?:[ T](?:0?0:00(?::00(?:\.0+)?)?|12:00(?::00)?\s*[Aa]\.?[Mm]\.?)"  # midnight; `12:00:00 AM` (US sheet)
           r"(?:\s*(?:Z|UTC|[+-]\d{2}:?\d{2}))?)?\s*$")
# `3/1/26` (Universal Analytics, US), `01/03/2026` or `01.03.2026` (a European Excel save of ISO dates).
SLASH_DATE = r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})\s*$"
NAMED_DATES = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y")  # `Mar 1, 2026` (Looker Studio, Fiverr)
# A currency mark before or after an amount: `$1,040.00`, `US$15.50`, `40.00 USD`, `1.040,00 €`.
CURRENCY_MARK = r"(?:US|CA|AU|NZ|A|C|R)?\$|€|£|¥|￥|₹|₩|\b(?:USD|EUR|GBP|CAD|AUD|JPY|INR|BRL|CHF)\b"
MARK_CODES = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "CA$": "CAD", "C$": "CAD", "AU$": "AUD",
              "R$": "BRL", "₹": "INR", "₩": "KRW",  # `¥` is yen or yuan: shown as written
              "A$": "AUD", "NZ$": "NZD"}
# `Total`, `Grand total`, and as German, French, Spanish, Portuguese, Italian, Dutch sheets label it.
TOTAL_LABEL = (r"(?i)^(?:(?:grand\s+)?totals?|total\s+g[ée]n[ée]ral|totales?|totaal|totale|gesamt(?:summe)?|summe"
               r"|insgesamt|suma\s+total|total\s+geral)\s*:?$")
# A whole number in thousands groups of either locale (`1,234`, `1.234`): 1234 or 1.234, as the file writes decimals.
PLAIN_GROUPS = r"^\s*[+-]?\d{1,3}(?:(?:,\d{3})+|(?:\.\d{3})+)\s*$"
# A whole number in thousands groups, one separator throughout: `1,234`, `12.345.678`, `1 234`.
GROUPED_COUNT = (r"^\s*(?:\d{1,3}(?:(?:,\d{3})+|(?:\.\d{3})+|(?:[\s\u00a0\u202f']\d{3})+)"
                 r"|\d{1,2}(?:,\d{2})+,\d{3})\s*$")  # ... or lakhs: `1,23,456` (DOT_GROUPS)
COUNT = r"^\s*\+?\d+\s*$"
ODD_MONEY = r"[eE]|\.\d{3}"  # an exponent, or more than two decimals: read such a file carefully

MAX_SCALE = 6
# A sheet's booleans as spreadsheets in English, German, French, Spanish, Portuguese, Italian, Dutch write them
# (Excel writes TRUE/FALSE in the sheet's language: WAHR/FALSCH, VRAI/FAUX, VERDADERO/FALSO, WAAR/ONWAAR).
YES = ["true", "yes", "y", "1", "ja", "oui", "sí", "si", "sim", "vero", "wahr", "vrai", "verdadero", "verdadeiro",
       "waar"]
NO = ["false", "no", "n", "0", "nein", "non", "não", "nao", "nee", "falsch", "falso", "faux", "onwaar"]
MAX_WHOLE_DIGITS = 15  # digits before the decimal point of one amount or count: a quadrillion
TOO_LARGE = (f"too large for one record (more than {MAX_WHOLE_DIGITS} digits before the decimal point): a pasted "
             "id or card number, or a sum?")


class ParseError(ValueError):
    """A value that does not parse; ``reason`` is the text shown to the user."""


# --------------------------------------------------------------------------- scalar parsers


def parse_money(text: str, decimal_comma: bool = False, grouped: bool = False) -> Decimal:
    """Exact Decimal from an export's money string (dot, or comma decimals when told; ``grouped``:
    a dot-decimal file that writes thousands commas, `1,234.56`)."""
    m = re.match(MONEY_COMMA if decimal_comma else MONEY_DOT_GROUPED if grouped else MONEY_DOT, text or "")
    if not m:
        sep = "," if decimal_comma else "."
        raise ParseError(f"not a number (expected e.g. 12{sep}34)")
    sign, whole, frac = m.groups()
    whole = re.sub(r"[. \u00a0\u202f]", "", whole) if decimal_comma else whole.replace(",", "")
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
    m = re.match(SHOPIFY_TS, (text or "").strip())
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


def parse_stripe_datetime(text: str, day_first: bool = False, zone: str | None = None) -> datetime:
    """A naive UTC datetime from `2026-05-01 03:48:05`, `2026-05-01T03:48:05Z`, `01/05/2026 03:48`
    (dd/mm or mm/dd), `3/1/26 17:13` or `03/01/2026 05:13 PM` (a spreadsheet's re-save: ``slash_year``
    reads a 2-digit year, ``CLOCK`` a 12-hour time); a value with its offset (`...+02:00`) is moved to
    UTC, and so is a naive one when ``zone`` (the export's time zone, from its header: `Created date
    (Europe/Berlin)`) is not UTC."""
    m = re.match(ISO_DT, text or "")
    marked = sign = None
    if m:
        y, mo, d, hh, mi, ss, h12, mi12, ss12, meridiem, marked, sign, oh, om = m.groups()
        if h12 is not None:  # `2026-03-05 1:07:33 PM` is 13:07:33
            hh, mi, ss = str(int(h12) % 12 + (12 if meridiem.lower() == "p" else 0)), mi12, ss12
    else:
        m = re.match(SLASH_DT, text or "")
        if not m:
            raise ParseError("not a date-time like 2026-05-01 03:48:05")
        a, b, y, hh, mi, ss, h12, mi12, ss12, meridiem = m.groups()
        d, mo = (a, b) if day_first else (b, a)
        y = slash_year(y)
        if h12 is not None:  # `12:05 AM` is 00:05, `12:05 PM` 12:05, `5:13 PM` 17:13
            hh, mi, ss = str(int(h12) % 12 + (12 if meridiem.lower() == "p" else 0)), mi12, ss12
    try:
        moment = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))  # noqa: DTZ001
    except ValueError:
        raise ParseError("not a calendar date-time") from None
    if sign:
        shift = timedelta(hours=int(oh), minutes=int(om))
        return moment - shift if sign == "+" else moment + shift
    tz = None if marked else zone_info(zone)  # `...Z` is UTC whatever the header says
    if tz is None:
        return moment
    if hh is None:
        raise ParseError(NO_TIME)
    return moment.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def slash_year(year: str) -> str:
    """A slash date's year in full: `26` is 2026. A 2-digit year is always 20YY, never 19YY (Stripe
    and the exports read here began after 2000), and always the LAST part (`3/1/26`, `01.03.26`: how
    Excel's US and European short dates write it); no export writes a 2-digit year first (those use 4
    digits: `2026/3/1`). A date that 20YY puts years ahead (a 19YY typed as YY) is refused by
    ``future.future_check`` as a typo, never read silently wrong."""
    return f"20{year}" if len(year) == 2 else year


NO_TIME = "a date without its time of day, in a time zone other than UTC: its UTC day is unknown"
FIXED_ZONE = r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$"  # `UTC+2`, `GMT-05:00`, `+0530`


def zone_info(zone: str | None) -> tzinfo | None:
    """The time zone a header names (`Europe/Berlin`, `UTC+2`); None for UTC (or none named).
    ParseError when it is no zone we know."""
    name = (zone or "").strip()
    if name.upper() in ("", "UTC", "GMT", "Z", "ETC/UTC"):
        return None
    fixed = re.match(FIXED_ZONE, name, re.IGNORECASE)
    if fixed:
        sign, hours, minutes = fixed.groups()
        shift = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-shift if sign == "-" else shift) if shift else None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParseError(f"{name!r} is not a time zone we know (expected UTC, an offset like UTC+2, or an "
                         "IANA name like America/New_York)") from None


def parse_ga_date(text: str, day_first: bool = False) -> date:
    """Analytics dates: `20260405` (API), `2026-04-05` (report export), `4/5/26` (Universal
    Analytics; ``day_first`` for `05/04/2026`, decided per file) or `Apr 5, 2026` (Looker Studio)."""
    m = re.match(GA_DATE, text or "")
    slash = re.match(SLASH_DATE, text or "")
    try:
        if m:
            y, mo, d, mo2, d2 = m.groups()
            return date(int(y), int(mo or mo2), int(d or d2))
        if slash:
            a, b, y = slash.groups()
            d, mo = (a, b) if day_first else (b, a)
            return date(int(y) + (2000 if len(y) == 2 else 0), int(mo), int(d))
    except ValueError:
        raise ParseError("not a calendar date") from None
    for fmt in NAMED_DATES:
        try:
            return datetime.strptime((text or "").strip(), fmt).date()  # noqa: DTZ007 - a calendar day
        except ValueError:
            continue
    raise ParseError("not a date like 20260405 or 2026-04-05")


# --------------------------------------------------------------------------- vectorized forms


def _normalized(col: pl.Expr, decimal_comma: bool, grouped: bool = False) -> pl.Expr:
    """Dot-decimal text: comma exports lose their group separators and use a dot; a ``grouped``
    dot-decimal file loses its thousands commas."""
    if not decimal_comma:
        return ungrouped(col) if grouped else col
    ok = col.str.contains(MONEY_COMMA)
    plain = col.str.replace_all(r"[. \u00a0\u202f]", "")
    return pl.when(ok).then(plain.str.replace(",", ".", literal=True))


def writes_decimal_comma(values: pl.Series) -> bool:
    """Whether a file's money values (all columns, one series) use a decimal comma: more of them
    end in `,<digits>` than in `.<digits>`. Decided once per file, so a file is read one way."""
    values = values.drop_nulls()
    return int(values.str.contains(r",\d+\s*$").sum()) > int(values.str.contains(r"\.\d+\s*$").sum())


def dot_decimal(col: pl.Expr) -> pl.Expr:
    """A decimal-comma value as dot-decimal text (`1.040,50` -> `1040.50`); a value that is not
    comma money is left as written, so a rejection shows what the file says."""
    return pl.coalesce(_normalized(col, True), col)


def frac_digits(col: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """Digits after the decimal separator of each value (0 without one); no regex, so it is cheap."""
    text = _normalized(col, decimal_comma)
    pos = text.str.find(".", literal=True)
    return pl.when(pos.is_null()).then(0).otherwise(text.str.len_bytes().cast(pl.Int64) - pos - 1)


def money_scale(col: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """Decimal places needed to hold every value of a money column exactly (capped at MAX_SCALE)."""
    return frac_digits(col, decimal_comma).filter(col.is_not_null()).max().fill_null(0).clip(0, MAX_SCALE)


@dataclass(frozen=True)
class MoneyFormat:
    """How one file writes money: decimal places to keep, separator, whether to check each value
    for exponents and extra decimals (``careful``; skipped when no value in the file needs it), and
    whether a dot-decimal file writes thousands commas (``grouped``: `1,234.56`). ``whole``: the
    amounts are of a zero-decimal currency (JPY...) written in thousands groups, where a value with
    a fraction (`1.500` in a file that also writes `1,500`) is a group read the other way, refused."""

    scale: int = 2
    decimal_comma: bool = False
    careful: bool = True
    grouped: bool = False
    whole: bool = False


def money_format(df: pl.DataFrame, columns: list[str], decimal_comma: bool = False) -> MoneyFormat:
    """Scale 2 unless some value has more decimals or an exponent (one cheap regex per column);
    a dot-decimal file with a comma in some value reads thousands commas (`1,234.56`)."""
    present = [c for c in columns if c in df.columns]
    if not present or df.height == 0:
        return MoneyFormat(2, decimal_comma, decimal_comma)
    grouped = not decimal_comma and any(
        df.select(pl.col(c).str.contains(",", literal=True).any().alias(c) for c in present).row(0))
    if not decimal_comma:
        odd = df.select(pl.col(c).str.contains(ODD_MONEY).any().alias(c) for c in present).row(0)
        if not any(odd):
            return MoneyFormat(2, False, careful=False, grouped=grouped)
    scales = df.select(money_scale(pl.col(c), decimal_comma).alias(c) for c in present).row(0)
    return MoneyFormat(max(2, *(int(v or 0) for v in scales)), decimal_comma, careful=True, grouped=grouped)


def money_decimal(col: pl.Expr, fmt: MoneyFormat) -> pl.Expr:
    """Exact polars Decimal(38, scale); null where the value is empty or not money."""
    text = _normalized(col, fmt.decimal_comma, fmt.grouped)
    value = text.cast(pl.Decimal(38, fmt.scale), strict=False)
    return pl.when(~text.str.contains("[eE]")).then(value) if fmt.careful else value


def too_large(col: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """True where a value has more than ``MAX_WHOLE_DIGITS`` digits before its decimal separator: no
    payment, order or day's count is that large, and sums of such values overflow exact decimal
    arithmetic (28 significant digits), which ended an ingest in a traceback naming no file or line."""
    whole = col.str.replace(r",\d*\s*$" if decimal_comma else r"\.\d*\s*$", "")
    return (whole.str.count_matches(r"\d") > MAX_WHOLE_DIGITS).fill_null(False)


def is_bad_money(col: pl.Expr, fmt: MoneyFormat) -> pl.Expr:
    """True where a non-empty value is not money, or has more decimals than the scale holds."""
    bad = col.is_not_null() & money_decimal(col, fmt).is_null()
    if fmt.careful:
        bad = bad | (frac_digits(col, fmt.decimal_comma) > fmt.scale).fill_null(False)
    return bad


def shopify_day(col: pl.Expr) -> pl.Expr:
    """Store-local date of a Shopify timestamp (null when malformed or not a calendar date)."""
    return pl.when(col.str.contains(SHOPIFY_TS)).then(col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))


def ga_day(col: pl.Expr, day_first: bool = False) -> pl.Expr:
    """The vectorized ``parse_ga_date`` (null where it would raise)."""
    parts = col.str.extract_groups(GA_DATE)
    month = pl.coalesce(parts.struct.field("2"), parts.struct.field("4").str.pad_start(2, "0"))
    day = pl.coalesce(parts.struct.field("3"), parts.struct.field("5").str.pad_start(2, "0"))
    text = pl.concat_str([parts.struct.field("1"), month, day], separator="-")
    return pl.coalesce(text.str.to_date("%Y-%m-%d", strict=False), _slash_day(col, day_first), named_day(col))


def named_day(col: pl.Expr) -> pl.Expr:
    """A date with its month named (`Mar 1, 2026`, `1 March 2026`: ``NAMED_DATES``); null otherwise."""
    text = col.str.strip_chars()
    return pl.coalesce(*(text.str.to_date(f, strict=False) for f in NAMED_DATES))


def _slash_day(col: pl.Expr, day_first: bool) -> pl.Expr:
    sl = col.str.extract_groups(SLASH_DATE)
    a, b, y = (sl.struct.field(k) for k in ("1", "2", "3"))
    d, m = (a, b) if day_first else (b, a)
    text = pl.concat_str([full_year(y), m.str.pad_start(2, "0"), d.str.pad_start(2, "0")], separator="-")
    return text.str.to_date("%Y-%m-%d", strict=False)


def full_year(year: pl.Expr) -> pl.Expr:
    """The vectorized ``slash_year``: `26` -> `2026`, `2026` as written (no `when`, so polars shares
    the pattern match that found the year among the date's parts)."""
    return pl.concat_str([pl.lit("20"), year]).str.slice(-4)


def totals_row(label: pl.Expr, blank: pl.Expr, height: int) -> pl.Expr:
    """A report's totals line, which is no record: labelled `Total` / `Grand total`, or ``blank``
    (no date: Universal Analytics, Looker Studio, spreadsheet sums) as the first or last of
    ``height`` rows. A blank row between records stays, to be rejected."""
    edge = pl.int_range(pl.len()).is_in([0, height - 1]) & (height > 1)
    return (label.str.strip_chars().str.contains(TOTAL_LABEL) | (blank & edge)).fill_null(False)


def slash_day_first(values: pl.Series, default: bool) -> bool:
    """How a file writes slash dates, decided once: a first part above 12 is a day, a second one a
    month; with every part <= 12 both readings parse, and the one spanning fewer days is right
    (a run of days read the wrong way spreads over months); ``default`` on a tie (one date)."""
    parts = values.drop_nulls().str.extract_groups(SLASH_DATE)
    first, second = (parts.struct.field(k).cast(pl.Int32, strict=False) for k in ("1", "2"))
    if (first > 12).any():
        return True
    if (second > 12).any():
        return False
    spans = []
    for day_first in (True, False):
        days = values.to_frame("v").select(_slash_day(pl.col("v"), day_first).alias("d"))["d"].drop_nulls()
        spans.append((days.max() - days.min()).days if len(days) else 0)  # type: ignore[operator]
    return default if spans[0] == spans[1] else spans[0] < spans[1]


def slash_dates(values: pl.Series) -> pl.Series:
    """The date part of slash date-times (`01/05/2026 03:48` -> `01/05/2026`, `3/1/26 5:13 PM` -> `3/1/26`),
    null for any other value: Stripe's timestamps meet the one day-first rule (``slash_day_first``)
    analytics uses."""
    return values.str.extract(r"^\s*(\d{1,2}[/.]\d{1,2}[/.](?:\d{4}|\d{2}))(?:[ T,]+" + CLOCK + r")?\s*$", 1)


def without_currency(col: pl.Expr) -> pl.Expr:
    """An amount without its currency mark or spaces (`US$1,040.00` -> `1,040.00`): spreadsheets and
    Universal Analytics write them; thousands groups stay, for the file's locale to decide."""
    return col.str.replace_all(CURRENCY_MARK, "").str.replace_all(r"\s", "")


def currency_of(col: pl.Expr) -> pl.Expr:
    """The currency an amount's mark names (`€40` -> EUR, `$40` -> USD); null without a mark."""
    mark = col.str.extract(f"({CURRENCY_MARK})", 1)
    return pl.coalesce(mark.replace_strict(MARK_CODES, default=None, return_dtype=pl.String), mark)


def ungrouped(col: pl.Expr) -> pl.Expr:
    """Dot-decimal money without its `,` groups (`1,040.00` -> `1040.00`, lakh `1,23,456.50` ->
    `123456.50`); a value grouped any other way is left as written, to be refused as not a number."""
    grouped = col.str.contains(rf"^[+-]?{DOT_GROUPS}(\.\d+)?$")
    return pl.when(grouped).then(col.str.replace_all(",", "", literal=True)).otherwise(col)


THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"})
"""ISO 4217 currencies with 3 minor digits: `5.120` dinars is 5 dinars 120 fils, never a thousands group."""


ZERO_DECIMAL_CURRENCIES = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                                     "vnd", "vuv", "xaf", "xof", "xpf"})
"""Stripe's zero-decimal currencies: an amount is whole, so `2,511` or `2.511` yen is a thousands group."""
WHOLE_GROUPS = (r"^[+-]?[1-9]\d{0,2}(,\d{3})+$", r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$")  # `2,511`; `2.511`


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` (ISO 4217): 1 yen, 0.001 dinar, else 0.01 (prices a bot
    sets, targets calibration proposes)."""
    code = currency.strip().lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return Decimal(1)
    return Decimal("0.001") if code in THREE_DECIMAL_CURRENCIES else Decimal("0.01")


def group_votes(values: pl.Series) -> tuple[int, int]:
    """(values grouped with dots, with commas): for a zero-decimal currency, whose amounts are
    whole, the group separator tells the locale (dots group where commas are decimal). Both in
    one file say nothing: the caller keeps refusing the groups."""
    v = values.drop_nulls().str.strip_chars()
    commas, dots = (int(v.str.contains(p).sum()) for p in WHOLE_GROUPS)
    return (dots, commas) if not (dots and commas) else (0, 0)


def decimal_comma_votes(values: pl.Series, three_decimals: bool = False) -> tuple[int, int]:
    """(values written with a decimal comma, with a decimal point). A plain thousands group
    (`1,234`, `1.234`) is no vote: it is 1234 in one locale and 1.234 in the other; `0.180` is
    (a thousands group never starts with 0), and so is every value of a ``three_decimals`` currency
    (its amounts always show 3 decimals)."""
    v = values.drop_nulls().str.strip_chars()
    comma, dot = v.str.contains(r",\d+$"), v.str.contains(r"\.\d+$")
    if not three_decimals:
        comma = comma & ~v.str.contains(r"^[+-]?[1-9]\d{0,2}(,\d{3})+$")
        dot = dot & ~v.str.contains(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$")
    return int(comma.sum()), int(dot.sum())


def whole_count(col: pl.Expr) -> pl.Expr:
    """A count's digits: thousands groups go (`1,234`, `1.234`), and so does a float's `.0` (pandas
    writes a count column with a gap as floats: `1675.0`); anything else stays, to be refused."""
    grouped = col.str.contains(GROUPED_COUNT)
    return pl.when(grouped).then(col.str.replace_all(r"\D", "")).otherwise(col.str.replace(r"\.0+\s*$", ""))


def stripe_day(col: pl.Expr, day_first: bool, zone: str | None = None) -> pl.Expr:
    """UTC date of a Stripe export timestamp; ``day_first`` decides slash dates (per file). A value
    with an offset (`2026-05-01T01:30:00+02:00`) is on its moment's UTC day; a naive one is in
    ``zone`` (the header's: `Created date (America/New_York)`, ``zone_info``), UTC when None. A date
    without a time in a zone other than UTC is null: its UTC day is unknown."""
    iso = col.str.extract_groups(ISO_DT)
    sl = col.str.extract_groups(SLASH_DT)
    d_sl, m_sl = (sl.struct.field("1"), sl.struct.field("2")) if day_first else (
        sl.struct.field("2"), sl.struct.field("1"))
    y = pl.coalesce(iso.struct.field("1"), full_year(sl.struct.field("3")))
    m = pl.coalesce(iso.struct.field("2"), m_sl).str.pad_start(2, "0")
    d = pl.coalesce(iso.struct.field("3"), d_sl).str.pad_start(2, "0")
    (iso_hour, iso_hh, iso_min), (sl_hour, sl_hh, sl_min) = _clock(iso), _clock(sl)
    hour = pl.coalesce(iso_hour, sl_hour)
    hh = pl.coalesce(iso_hh, sl_hh).fill_null(0)  # 0-23: the patterns refuse other hours
    day = pl.concat_str([y, m, d], separator="-").str.to_date("%Y-%m-%d", strict=False)
    minute = pl.coalesce(iso_min, sl_min).fill_null(0)
    marked = iso.struct.field("11")  # `Z`, `+02:00`: the value says its zone
    west = (iso.struct.field("12") == "-").fill_null(False).cast(pl.Int32)
    offset = (iso.struct.field("13").cast(pl.Int32, strict=False) * 60
              + iso.struct.field("14").cast(pl.Int32, strict=False)).fill_null(0) * (1 - 2 * west)
    # the moment's UTC day: the written one or a day either side. Integer days and no `when`: polars
    # then shares the pattern match among the parts (a `when` made it match again, 6x slower).
    utc = (day.cast(pl.Int32) + (hh * 60 + minute - offset).floordiv(1440)).cast(pl.Date)
    tz = zone_info(zone)
    if tz is None:
        return utc
    if isinstance(tz, ZoneInfo):
        moment = day.cast(pl.Datetime("us")) + pl.duration(hours=hh, minutes=minute)  # seconds never cross a day
        local = (moment.dt.replace_time_zone(tz.key, ambiguous="earliest", non_existent="null")
                 .dt.convert_time_zone("UTC").dt.date())
    else:  # a fixed offset (`UTC+2`)
        minutes = int(tz.utcoffset(None).total_seconds() // 60)
        local = (day.cast(pl.Int32) + (hh * 60 + minute - minutes).floordiv(1440)).cast(pl.Date)
    return pl.when(marked.is_not_null()).then(utc).when(hour.is_not_null()).then(local)


def _clock(parts: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(the hour as written, the hour 0-23, the minute) of ``CLOCK``'s groups 4-10 in ``parts`` (the
    groups of ``ISO_DT`` or ``SLASH_DT``); null where the value has no time. `12:05 AM` is 00:05,
    `5:13 PM` 17:13."""
    field = parts.struct.field
    pm = (field("10").str.to_lowercase() == "p").cast(pl.Int32).fill_null(0)
    h12 = field("7").cast(pl.Int32, strict=False) % 12 + 12 * pm
    hour = pl.coalesce(field("4"), field("7"))
    hh = pl.coalesce(field("4").cast(pl.Int32, strict=False), h12)
    return hour, hh, pl.coalesce(field("5"), field("8")).cast(pl.Int32, strict=False)


def units_to_decimal(units: int, scale: int) -> Decimal:
    """Exact Decimal from an integer count of ``10**-scale`` units (at least 2 places shown)."""
    value = Decimal(int(units)).scaleb(-scale)
    return value.quantize(Decimal("0.01")) if scale < 2 else value
