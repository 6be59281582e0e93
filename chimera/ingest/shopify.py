"""Shopify orders (export rows or API line items) -> daily base metrics and customer-days.

The frame has one row per line item with canonical column names (see ``detect.SHOPIFY_COLUMNS``);
order-level fields are read from each order's first row. A bad cell anywhere rejects its whole
order. Days are the store-local calendar date of ``Created at`` (the date its own offset gives).
The Admin API connector builds the same frame, so both paths share every rule below.

Speed: one streaming pass parses every value once into typed columns (money as Decimal with 6
places: exact for any value written with up to 6); raw strings are kept only for rows with a
problem (to report them). A file with a very long money value, or padded values, takes a second,
careful pass that measures the exact scale and trims.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import SHOPIFY_COLUMNS, SHOPIFY_REQUIRED, Header, resolve_columns
from chimera.ingest.frame import (
    ROW,
    SHAPE,
    Check,
    LineFinder,
    MisshapenRows,
    NotUtf8,
    bad_cells,
    collect,
    collect_all,
    cut_shapes,
    day_metrics,
    file_shapes,
    readable,
    rejections,
    scan_columns,
    shape_check,
    with_missing,
)
from chimera.ingest.future import future_check
from chimera.ingest.lines import Shapes
from chimera.ingest.models import Aggregate, DayMetrics
from chimera.ingest.parsing import (
    MAX_SCALE,
    SHOPIFY_TS,
    THREE_DECIMAL_CURRENCIES,
    TOO_LARGE,
    WHOLE_GROUPS,
    ZERO_DECIMAL_CURRENCIES,
    MoneyFormat,
    decimal_comma_votes,
    frac_digits,
    group_votes,
    money_decimal,
    money_scale,
    too_large,
)
from chimera.ingest.pseudonymize import Pseudonymizer

ORDER_MONEY = ["subtotal", "shipping", "taxes", "total", "discount", "refunded"]
MONEY_IN = [*ORDER_MONEY, "price"]
RAW = [*SHOPIFY_COLUMNS, SHAPE]  # SHAPE: why a row's field count is not the header's (null on the rest)
COUNTS = ["orders_placed", "orders", "cancelled_orders", "units", "refunded_orders"]
MONEY = ["gross_sales", "discounts", "net_sales", "shipping", "taxes", "total_sales", "refunded_amount",
         "net_revenue"]
HEADERS = {k: v[0] for k, v in SHOPIFY_COLUMNS.items()}
EVERY_ROW = ("name", "created_at", "quantity", "price")  # a line item's own cells; the rest are its order's
FAST_SCALE = 6
FAST_MAX_LEN = 12
TOO_FINE = rf"\.\d{{{FAST_SCALE + 1}}}|[eE]"  # a 7th decimal place, or an exponent (`1e3`: not money as written)
BAD_TS = "not a date-time like 2026-04-05 21:06:21 -0400"
NOT_NUMBER = "not a number (expected e.g. 12.34)"
NOT_NUMBER_COMMA = "not a number (expected e.g. 12,34)"
WHOLE_AMOUNT = ("a fraction in a zero-decimal currency whose amounts the file writes in thousands groups both ways "
                "(1,500 and 1.500): which is a group is unknown; write the amounts without groups")
_SUMS = {"discount": "discounts", "subtotal": "net_sales", "shipping": "shipping", "taxes": "taxes",
         "total": "total_sales", "refunded": "refunded_amount"}


def shopify_columns(path: Path, header: Header) -> dict[str, str]:
    """Canonical name -> the file's header of each column the metrics need."""
    return resolve_columns(path, header, "shopify_orders", SHOPIFY_COLUMNS, SHOPIFY_REQUIRED)


def scan_shopify(path: Path, header: Header, shapes: Shapes | None = None, lossy: bool = True) -> pl.LazyFrame:
    """Only the columns the metrics need (no names, addresses or phones are ever read). With the
    file's ``shapes``, rows whose field count is not the header's are marked in SHAPE."""
    return scan_columns(path, header, shopify_columns(path, header), drop_empty=False, shapes=shapes,
                        every_row=EVERY_ROW, lossy=lossy)  # parse_rows drops empty rows


def read_shopify(
    path: Path, header: Header, pseudonym: Callable[[str], str], line_of: LineFinder, defer_lines: bool = False,
) -> Aggregate:
    """A Shopify export's aggregate (``_read_shopify``), read as strict UTF-8: validating is a
    third cheaper than replacing bad bytes as it goes. A file with a byte that is not UTF-8 deep
    inside (the header sniff saw UTF-8) is read again lossily, each such byte a U+FFFD."""
    try:
        return _read_shopify(path, header, pseudonym, line_of, defer_lines, lossy=False)
    except NotUtf8:
        return _read_shopify(path, header, pseudonym, line_of, defer_lines, lossy=True)


def _read_shopify(
    path: Path, header: Header, pseudonym: Callable[[str], str], line_of: LineFinder, defer_lines: bool,
    lossy: bool,
) -> Aggregate:
    """A Shopify export's aggregate, every record's field count checked. The count (one numpy pass
    over the file) runs in a thread while polars reads and sums, which cannot see a row with an
    extra field (an unquoted comma: read truncated, columns shifted) or a missing one; only when it
    finds such rows (a hand-edited file, rare) is the file read again with them marked, so each is
    rejected (its whole order) at its line instead of counted with shifted values."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        counted = pool.submit(file_shapes, path, header)
        try:
            agg = aggregate_shopify(scan_shopify(path, header, lossy=lossy), pseudonym, line_of, path=path,
                                    defer_lines=defer_lines)
        except NotUtf8:
            raise
        except IngestError as exc:  # the fast path refuses a cut file, and a long row when the header's
            # last column is read: with the count, the cut row is left out and a long row rejected (or read,
            # when every row ends with a separator); any other file error stands (a stray quote, mixed currencies)
            long_row = isinstance(exc, MisshapenRows) and bool(counted.result().fields)
            if cut_shapes(path, header).cut is None and not long_row:
                raise
            agg = None
        shapes = readable(counted.result(), header, shopify_columns(path, header), EVERY_ROW)
    if agg is not None and not shapes.misshapen:  # rows only short of trailing empty fields read as written
        return agg
    return aggregate_shopify(scan_shopify(path, header, shapes, lossy), pseudonym, line_of, path=path,
                             defer_lines=defer_lines, cut=shapes.cut)


def _problems(fmt: MoneyFormat) -> list[Check]:
    """Bad cells decidable row by row (order-level "missing" needs the first row: see below)."""
    qty = pl.col("quantity")
    checks = [shape_check(), *(Check(c, pl.col(c).is_null(), "missing required value") for c in EVERY_ROW)]
    checks += [
        Check("created_at", pl.col("created_at").is_not_null() & ~pl.col("_ts_ok"), BAD_TS),
        Check("created_at", pl.col("_ts_ok") & pl.col("_day").is_null(),
              "not a calendar date (expected YYYY-MM-DD HH:MM:SS ±HHMM)"),
        Check("quantity", pl.col("_qty") < 0, "negative quantity"),
        Check("quantity", qty.is_not_null() & pl.col("_qty").is_null(), "not a whole number"),
    ]
    number = NOT_NUMBER_COMMA if fmt.decimal_comma else NOT_NUMBER
    for c in MONEY_IN:
        checks.append(Check(c, pl.col(c).is_not_null() & pl.col(f"_{c}").is_null(), number))
        if fmt.careful:  # the careful scale holds every value up to MAX_SCALE places: the rest are refused
            places = frac_digits(pl.col(c), fmt.decimal_comma)
            too_fine = (places > fmt.scale).fill_null(False) & pl.col(f"_{c}").is_not_null()
            checks.append(Check(c, too_fine, f"more than {MAX_SCALE} decimal places"))
            # a pasted id or card number: its day's sum would overflow exact decimals (the fast pass
            # reads values of at most 12 bytes, so only the careful one can meet it)
            checks.append(Check(c, too_large(pl.col(c), fmt.decimal_comma), TOO_LARGE))
        if fmt.whole:
            checks.append(Check(c, (pl.col(f"_{c}").cast(pl.Float64) % 1 != 0).fill_null(False), WHOLE_AMOUNT))
    return checks


def _typed(lf: pl.LazyFrame, fmt: MoneyFormat) -> pl.LazyFrame:
    """Every value parsed once; raw strings survive only on rows with a problem."""
    created = pl.col("created_at")
    lf = lf.with_columns(
        created.str.contains(SHOPIFY_TS).alias("_ts_ok"),
        pl.col("quantity").cast(pl.Int64, strict=False).alias("_qty"),
        *(money_decimal(pl.col(c), fmt).alias(f"_{c}") for c in MONEY_IN),
    ).with_columns(
        pl.when(pl.col("_ts_ok")).then(created.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)).alias("_day"),
    )
    problem = pl.any_horizontal(c.mask for c in _problems(fmt))
    odd = _too_long(MONEY_IN) if not fmt.careful else pl.lit(False)
    order_level = pl.col("subtotal").is_not_null()  # first rows: continuation rows leave Subtotal empty
    return lf.select(
        ROW, "name", *(pl.when(order_level).then(pl.col(c)).alias(c) for c in ("email", "currency")),
        "_day", "_qty", *(f"_{c}" for c in MONEY_IN),
        pl.col("cancelled_at").str.contains(r"\S").fill_null(False).alias("_cancelled"),  # a lone space is empty
        *(pl.col(c).is_null().alias(f"_{c}_missing") for c in ("subtotal", "total")),
        problem.alias("_problem"),
        odd.fill_null(False).alias("_odd"),
        *CELLS,
        (problem & (~pl.any_horizontal(pl.col(c).is_not_null() for c in RAW) | _header_again())).alias("_empty"),
    )


CELLS = [c for c in RAW if c not in ("name", "email", "currency")] + ["_ts_ok"]
"""The raw cells only a problem row needs (to report and re-judge it): kept for those rows only."""


def _collect_typed(lf: pl.LazyFrame, fmt: MoneyFormat, path: Path | str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(every row without ``CELLS``, the problem rows with them), from one read of the file. A
    million rows of ten mostly-null string columns cost ~150 MB and their rechunk, for five bad rows."""
    typed = _typed(lf, fmt)
    df, problems = collect_all([typed.select(pl.exclude(CELLS)), typed.filter(pl.col("_problem"))], path)
    return df, problems


def _header_again() -> pl.Expr:
    """The header row again, as when two exports are joined with `cat a.csv b.csv` (a byte-order
    mark may start it): no record, so not an order called `Name` rejected for its date."""
    return pl.col("created_at").str.ends_with(HEADERS["created_at"]).fill_null(False)  # a suffix test: cheap


def _too_long(cols: list[str]) -> pl.Expr:
    """Text longer than 12 bytes (a billion or more), with more than the fast pass's 6 decimal
    places (`0.3333333` is 9 bytes: the cast would round it silently), or with an exponent (the
    cast reads `1e3` as 1000; the careful pass refuses it, as Stripe's does): the file then takes
    the careful pass. Length compares, and one regex over each row's values joined by commas (no
    digit crosses a comma): a regex call per cell cost 3x more than the join."""
    joined = pl.concat_str([pl.col(c) for c in cols], separator=",", ignore_nulls=True)
    too_long = pl.any_horizontal(pl.col(c).str.len_bytes() > FAST_MAX_LEN for c in cols)
    return (too_long.fill_null(False) | joined.str.contains(TOO_FINE)).fill_null(False)


def _careful_format(lf: pl.LazyFrame, path: Path | str, commas: bool, signs: bool = False, whole: bool = False,
                    three: bool = False) -> tuple[pl.LazyFrame, MoneyFormat]:
    """Trimmed values and the scale that holds every money value exactly (second pass, rare).
    ``commas``: some money value failed the dot cast holding a comma, as a European Excel save
    writes (`150,00`, `1.234,56`): the file's values vote once, for the whole file, whether its
    decimal separator is a comma (as Stripe's are read). ``signs``: some failed value has a currency
    mark (`$12.50`). ``whole``: a zero-decimal currency's amounts in thousands groups
    (``_whole_groups``): with no value showing decimals, the group separator votes instead.
    ``three``: the currency has 3 decimals (KWD...): `12,345` is a decimal comma's vote, not a group."""
    lf = lf.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in RAW)
    lf = lf.with_columns(pl.col("quantity").str.replace(WHOLE_FLOAT, "$1"))  # pandas' `2.0` is 2
    lf = _signed_money(lf, path) if signs else lf  # `$12.50`: see _signed_money
    lf = lf.with_columns(_ungrouped_marks(pl.col(c)) for c in MONEY_IN)
    if not commas:
        scales = collect(lf.select(money_scale(pl.col(c)).alias(c) for c in MONEY_IN), path).row(0)
        return lf, MoneyFormat(max(2, *(int(v or 0) for v in scales)), careful=True)
    money = collect(lf.select(MONEY_IN), path)
    values = pl.concat([money[c] for c in MONEY_IN])
    comma, dot = decimal_comma_votes(values, three)
    if whole and not comma + dot:  # `1.500` yen is 1500 (a dot group), `1,500` too (a comma group)
        comma, dot = group_votes(values)
    scales = money.select(money_scale(pl.col(c), comma > dot).alias(c) for c in MONEY_IN).row(0)
    grouped = dot > comma and (_thousands(money) or whole)  # a US-locale spreadsheet save: `1,234.56`
    return lf, MoneyFormat(max(2, *(int(v or 0) for v in scales)), decimal_comma=comma > dot, careful=True,
                           grouped=grouped, whole=whole)


def _currencies(df: pl.DataFrame) -> set[str]:
    """The file's currency codes, lower case (`JPY `, `jpy` are one): the few distinct cells are
    normalized, not the million."""
    return {c.strip().lower() for c in df["currency"].unique().drop_nulls().to_list()} - {""}


def _whole_groups(lf: pl.LazyFrame, df: pl.DataFrame, problems: pl.DataFrame, codes: set[str],
                  path: Path | str) -> bool:
    """Whether the file's currency is zero-decimal (JPY, KRW...) and some amount is written in
    thousands groups (`1,500`, `1.500`), as a spreadsheet's number format saves it: the fast cast
    reads `1.500` yen as 1.5 and refuses `1,500`, where such an amount is only ever whole. Looked
    for (a second scan of the money columns) only in a file whose Currency says so and where the
    fast pass read a fraction or refused a row: a plain yen export is read once."""
    if not codes or not codes <= ZERO_DECIMAL_CURRENCIES:
        return False
    fraction = pl.any_horizontal((pl.col(f"_{c}").cast(pl.Float64) % 1 != 0).any() for c in MONEY_IN)
    if not problems.height and not df.select(fraction.fill_null(False)).item():
        return False
    grouped = pl.any_horizontal(pl.col(c).str.strip_chars().str.contains(g).any()
                                for c in MONEY_IN for g in WHOLE_GROUPS)
    return bool(collect(lf.select(grouped.fill_null(False)), path).item())


def _thousands(money: pl.DataFrame) -> bool:
    """Some value written with dot decimals and comma thousands groups (`1,234.56`, or India's
    `1,23,456.50`), as a spreadsheet's number format saves it: the file's groups are then read
    (`ungrouped`), while a stray `12,50` in a dot file is still that order's bad cell."""
    grouped = r"^[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d?(?:,\d{2})+,\d{3})\.\d+$"
    cols = [c for c in MONEY_IN if money[c].dtype == pl.String]
    found = money.select(pl.col(c).str.strip_chars().str.contains(grouped).any() for c in cols)
    return bool(cols) and any(found.row(0))


GROUP_MARKS = "\u00a0\u202f '\u2019"  # thousands groups a spreadsheet's number format writes besides `.` and `,`
_MARK_GROUPED = rf"^[+-]?\d{{1,3}}(?:[{GROUP_MARKS}]\d{{3}})+(?:[.,]\d+)?$"


def _ungrouped_marks(col: pl.Expr) -> pl.Expr:
    """Money without thousands groups of spaces or apostrophes (`1 234,56` with the no-break space
    a French Excel number format writes, `1'234.50` Swiss), which are never a decimal separator;
    any other value is left as written (`12 50` stays a bad cell)."""
    grouped = col.str.contains(_MARK_GROUPED)
    return pl.when(grouped.fill_null(False)).then(col.str.replace_all(f"[{GROUP_MARKS}]", "")).otherwise(col)


DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "TWD"})
SIGNS: dict[str, frozenset[str]] = {  # a currency format's mark -> the Currency values it may stand for
    "US$": frozenset({"USD"}), "CA$": frozenset({"CAD"}), "C$": frozenset({"CAD"}), "AU$": frozenset({"AUD"}),
    "A$": frozenset({"AUD"}), "NZ$": frozenset({"NZD"}), "HK$": frozenset({"HKD"}), "S$": frozenset({"SGD"}),
    "R$": frozenset({"BRL"}), "$": DOLLARS, "€": frozenset({"EUR"}), "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}), "₹": frozenset({"INR"}), "₩": frozenset({"KRW"}), "zł": frozenset({"PLN"}),
    "kr.": frozenset({"DKK"}), "kr": frozenset({"SEK", "NOK", "DKK"}), "CHF": frozenset({"CHF"}),
}
_SIGN = "|".join(re.escape(m) for m in sorted(SIGNS, key=len, reverse=True)) + r"|\b[A-Z]{3}\b"
_AMOUNT = rf"^[+-]?\d[\d.,{GROUP_MARKS}]*$"


def _without_sign(col: pl.Expr) -> pl.Expr:
    """An amount without the currency mark a spreadsheet's currency format adds (`$1,234.50`,
    `12,50 €`, `-£5.00`, `EUR 12.50`); null where the value has none, or is no amount without it."""
    bare = col.str.replace(rf"\s*(?:{_SIGN})\s*", "").str.strip_chars()
    return pl.when(col.str.contains(_SIGN) & bare.str.contains(_AMOUNT)).then(bare)


def _signed_money(lf: pl.LazyFrame, path: Path | str) -> pl.LazyFrame:
    """Money columns without their currency marks when every mark in the file is one, and it can
    stand for the file's Currency (`$` for USD, CAD...; `€` for EUR; a code for itself): a `€` in a
    USD export, or two marks in one file, leave the values as written, each rejected as not a
    number. Second pass only (``_comma_money`` found a marked value among the bad rows)."""
    marks = pl.concat_list(pl.when(_without_sign(pl.col(c)).is_not_null()).then(pl.col(c).str.extract(
        f"({_SIGN})", 1)) for c in MONEY_IN).explode().drop_nulls().unique()
    currency = pl.col("currency").str.strip_chars().str.to_uppercase().drop_nulls().unique()
    found = collect(lf.select(marks.implode().alias("m"), currency.implode().alias("c")), path).row(0)
    used, named = set(found[0]), set(found[1]) - {""}
    if len(used) != 1 or (named and not SIGNS.get(next(iter(used)), frozenset(used)) & named):
        return lf
    return lf.with_columns(pl.coalesce(_without_sign(pl.col(c)), pl.col(c)).alias(c) for c in MONEY_IN)


def _comma_money(problems: pl.DataFrame) -> tuple[bool, bool, bool]:
    """Whether a problem row has a money value that failed the dot cast holding a comma (`150,00`),
    one holding a space or an apostrophe (`1 234,56`, `1'234.50`), and one with a currency mark
    (`$12.50`): only rows already found bad are looked at, so a dot-decimal file pays nothing."""
    cols = [c for c in MONEY_IN if c in problems.columns and problems[c].dtype == pl.String]
    if not problems.height or not cols:
        return False, False, False
    tests = {"comma": lambda v: v.str.contains(",", literal=True),
             "group": lambda v: v.str.contains(f"[{GROUP_MARKS}]"), "sign": lambda v: _without_sign(v).is_not_null()}
    found = problems.select(
        pl.any_horizontal((pl.col(f"_{c}").is_null() & test(pl.col(c))).any() for c in cols).alias(name)
        for name, test in tests.items()
    ).row(0)
    return bool(found[0]), bool(found[1]), bool(found[2])


WHOLE_FLOAT = r"^(\+?\d+)\.0+$"  # a whole quantity written as a float (pandas writes `2.0` for a column with a gap)


def _padded(problems: pl.DataFrame) -> bool:
    """A problem row whose value only has surrounding spaces or tabs (some exporters start cells
    with a tab, against spreadsheet formula injection), or whose quantity is a whole float
    (`2.0`): worth the careful (trimming) pass."""
    raw = [c for c in RAW if c in problems.columns and problems[c].dtype == pl.String]
    edge = [(pl.col(c) != pl.col(c).str.strip_chars()).any() for c in raw]
    if "quantity" in raw:
        edge.append(pl.col("quantity").str.strip_chars().str.contains(WHOLE_FLOAT).any().alias("_whole_float"))
    return bool(problems.height) and any(problems.select(edge).row(0))


class Parsed(NamedTuple):
    """``parse_rows``' result: the typed rows, the money format read, and the raw ``CELLS`` of the
    rows with a problem (``_row`` and the cells), which ``order_errors`` reports."""

    rows: pl.DataFrame
    fmt: MoneyFormat
    cells: pl.DataFrame


def parse_rows(raw: pl.LazyFrame | pl.DataFrame, path: Path | str = "") -> Parsed:
    """The typed line-item frame, with order key ``_order`` and first-row flag ``_first``.

    Exports list an order's line items on consecutive rows, so the order key is a run number (an
    integer, sorted: fast to group); a file ordered otherwise falls back to grouping by Name.
    """
    lf = with_missing(raw.lazy(), RAW)
    fmt = MoneyFormat(FAST_SCALE, careful=False)  # exact for any value of up to 6 decimals
    df, problems = _collect_typed(lf, fmt, path)
    commas, groups, signs = _comma_money(problems)
    codes = _currencies(df)
    whole = _whole_groups(lf, df, problems, codes, path)
    if df["_odd"].any() or _padded(problems) or commas or groups or signs or whole:
        lf, fmt = _careful_format(lf, path, commas or whole, signs, whole=whole,
                                  three=bool(codes) and codes <= THREE_DECIMAL_CURRENCIES)
        df, problems = _collect_typed(lf, fmt, path)
    if df["_empty"].any():  # an empty row (`,,,` from a spreadsheet) or a repeated header is no record
        df = df.filter(~pl.col("_empty"))
    df = df.drop("_empty").with_columns(_order_key(df["name"].has_nulls(), carry=True))
    new_run = (pl.col(KEY) != pl.col(KEY).shift()).fill_null(True)
    df = df.with_columns(new_run.cum_sum().set_sorted().alias("_order"), new_run.alias("_first"))
    if df.height and (df["_order"][-1] != _distinct_names(df) or _head_not_first(df)):  # re-sorted rows
        df = df.with_columns(_order_key(df["name"].has_nulls(), carry=False).str.strip_chars())  # `#1 ` is `#1`
        df = df.with_columns(pl.col("_order").alias("_run"))  # the run each row was in, in file order
        df = _copies(df.with_columns(_head_row().alias("_first"), pl.col(KEY).alias("_order")))
    return Parsed(df, fmt, problems.select(ROW, *CELLS))


KEY = "_key"  # the order a row belongs to: its Name, or for a row without one, see _order_key
NAMELESS = "\x00"  # starts the key of a row without a Name that is an order of its own


def _order_key(nameless: bool, carry: bool) -> pl.Expr:
    """Name, unless a row has none (a cell deleted by hand): such a row is rejected, and so is the
    order it belongs to. A nameless row with Subtotal is an order of its own (its own key, so each is
    reported); in export order (``carry``) a nameless line item belongs to the order above it, whose
    rows surround it; elsewhere it is its own."""
    name = pl.col("name")
    if not nameless:
        return name.alias(KEY)
    own = pl.lit(NAMELESS) + pl.col(ROW).cast(pl.String)
    if not carry:
        return pl.coalesce(name, own).alias(KEY)
    return pl.when(name.is_null() & ~pl.col("_subtotal_missing")).then(own).otherwise(name).forward_fill() \
        .fill_null(own).alias(KEY)


def shown_order() -> pl.Expr:
    """The order a rejection names: a nameless order row's own key is no name."""
    return pl.when(pl.col(KEY).str.starts_with(NAMELESS)).then(pl.lit("")).otherwise(pl.col(KEY))


COPY_CONFLICT = "the order is listed more than once with different rows (pasted exports?): which is current is unknown"
_ORDER_KEY = ["email", "currency", "_day", "_cancelled", *(f"_{c}" for c in ORDER_MONEY)]
_COPY_KEY = ["email", "currency", "_day", "_qty", *(f"_{c}" for c in MONEY_IN), "_cancelled", "_subtotal_missing"]


def _copies(df: pl.DataFrame) -> pl.DataFrame:
    """An order listed more than once, as when overlapping exports are pasted into one file, has
    several order rows (with Subtotal). Identical copies count once (``_dup`` marks the extra
    copies' rows). Order rows that disagree on order-level values (refunded by the later export)
    mark ``_conflict`` and the order is rejected rather than guessed. In a file where every row has
    Subtotal, the order-level cells were filled down every line (some export apps do): a name's
    rows that agree are one order, all its lines count, unless the file is pasted copies of such a
    layout (see ``_filled_copies``). Only on the grouping-by-name path, which a file in export order
    takes when a name recurs (see ``_head_not_first``)."""
    head = ~pl.col("_subtotal_missing")
    df = df.with_columns(head.sum().over(KEY).alias("_copies"))
    if not df["_subtotal_missing"].any():
        return _filled_copies(df)
    if (df["_copies"].max() or 0) <= 1:  # type: ignore[operator]
        return df.with_columns(_dup=pl.lit(False), _conflict=pl.lit(False))
    same = pl.len().over(KEY, *_COPY_KEY)  # rows equal to this one in its order
    rank = pl.int_range(pl.len()).over(KEY, *_COPY_KEY)
    several = pl.col("_copies") > 1
    split = (same % pl.col("_copies").clip(1) == 0).all().over(KEY)  # k identical copies: counts multiples of k
    agree = pl.struct(_ORDER_KEY).filter(head).n_unique().over(KEY) == 1
    return df.with_columns(
        (several & split & (rank >= same // pl.col("_copies"))).alias("_dup"),
        (several & ~split & ~agree & head).alias("_conflict"),
    )


def _filled_copies(df: pl.DataFrame) -> pl.DataFrame:
    """Copies in a filled-down layout (every row holds the order cells, so every row is an order
    row): two lines with equal quantity and price (SKUs are never read) look alike, so a copy is
    told by where it is. A pasted export repeats whole orders: the name's rows fall in k runs of
    the file, each the same rows; its later runs are copies (``_dup``). A name whose rows disagree
    on the order cells (refunded by the later export) is a conflict. A copy right after its
    original (one run) still reads as one order with twice the lines: nothing tells them apart. A file re-sorted
    by another column splits nearly every multi-line order into runs that differ: the copies are
    then counted only where most names in several runs look copied (else an order whose lines
    are all alike, sorted apart, would lose lines)."""
    runs = pl.col("_run").n_unique().over(KEY)
    same = pl.len().over(KEY, *_COPY_KEY)  # rows equal to this one in its order ...
    in_run = pl.len().over(KEY, "_run", *_COPY_KEY)  # ... and in its run: k copies hold k times as many
    df = df.with_columns(runs.alias("_runs"), (same == in_run * runs).all().over(KEY).alias("_copied"))
    several = df.filter(pl.col("_first") & (pl.col("_runs") > 1)).select(pl.col("_copied").mean()).item()
    pasted = several is not None and several >= 0.5
    agree = pl.struct(_ORDER_KEY).n_unique().over(KEY) == 1
    later = pl.col("_run") != pl.col("_run").min().over(KEY)
    copies = (pl.col("_runs") > 1) & pl.col("_copied") & pl.lit(pasted)
    return df.with_columns(
        (copies & later).alias("_dup"),
        ((pl.len().over(KEY) > 1) & ~agree & pl.col("_first")).alias("_conflict"),
    ).drop("_runs", "_copied")


def _head_not_first(df: pl.DataFrame) -> bool:
    """A run starting on a row without Subtotal: a continuation row sorted before its order's row
    (or an order missing Subtotal, rare: both take the grouping by name, right either way). Or,
    where some rows lack Subtotal (not filled down), more order rows than runs: a pasted copy
    right after its original (an export starting with the previous export's last order)."""
    missing = df["_subtotal_missing"]
    if bool((df["_first"] & missing).any()):
        return True
    return bool(missing.any()) and df.height - int(missing.sum()) > int(df["_order"][-1])


def _head_row() -> pl.Expr:
    """Each name's order row: the first holding Subtotal (order-level fields are on that row only,
    wherever a spreadsheet sort put it); the name's first row when none does (reported missing)."""
    head = ~pl.col("_subtotal_missing")
    first_head = head & (head.cum_sum().over(KEY) == 1)
    return first_head | (~head.any().over(KEY) & pl.col(KEY).is_first_distinct())


def _distinct_names(df: pl.DataFrame) -> int:
    """Distinct hashes of the runs' names: a lower bound of the distinct names (hashing first makes
    the count about 3x cheaper). Equal to the run count, every run is its own order; lower (a name
    in two runs or, rarely, a collision) takes the always-correct grouping by name."""
    return int(df.select(pl.col(KEY).filter(pl.col("_first")).hash().n_unique()).item())


def aggregate_shopify(
    raw: pl.LazyFrame | pl.DataFrame, pseudonym: Callable[[str], str], line_of: LineFinder,
    kind: str = "shopify_orders", path: Path | str = "", defer_lines: bool = False, cut: int | None = None,
) -> Aggregate:
    """Validate, reject whole orders with a bad cell, and sum the rest per store-local day.

    The physical lines of rejected rows are found in a thread started once the sums are done (the
    sums keep both cores busy); with ``defer_lines`` the aggregate is returned at once and
    ``Aggregate.settle`` waits for them: the store settles after its inserts, so the file scan
    runs on the core the single-threaded database writes leave idle.

    ``cut``: the data row the file ends inside (a truncated download): its day is partial, and so
    is the day of the complete rows just before it (``cut_days``): both are left out."""
    absent = set(RAW) - set(raw.collect_schema().names())
    rows, fmt, cells = parse_rows(raw, path)
    errors = order_errors(rows, fmt, cells)
    days, orders, customers, rejected_on = _sums(rows, errors, fmt, pseudonym, path, line_of)
    rejected_days = {d for d in rejected_on if d is not None}
    days, customers = _known(days, absent), None if "email" in absent else customers
    partial = _cut_days(rows, cut)
    if partial:
        days = {d: v for d, v in days.items() if d not in partial}
        customers = None if customers is None else customers.filter(~pl.col("day").is_in(sorted(partial)))
        errors = errors.with_columns(pl.when(pl.col(ROW) == cut).then(
            pl.col("reason") + pl.lit(f"; {_cut_note(partial)}")).otherwise(pl.col("reason")).alias("reason"))
    agg = Aggregate(kind=kind, days=days, rows_read=rows.height, orders_ingested=orders, customers=customers,
                    unknown_days=(rejected_days | partial) - set(days), cut_days=partial,
                    rejected_on=None if None in rejected_on else rejected_days)
    if not errors.height:
        return agg
    pool = ThreadPoolExecutor(max_workers=1)  # started after the sums: polars had both cores until now
    lines = pool.submit(line_of, errors[ROW].to_list())
    pool.shutdown(wait=False)  # the thread ends with its one task
    agg.pending = lambda: rejections(errors, lines.result())
    if not defer_lines:
        agg.settle()
    return agg


def _cut_days(rows: pl.DataFrame, cut: int | None) -> set[date]:
    """The days a cut file holds only part of: the cut order's and that of the last complete rows
    before it (exports sorted newest first are cut in their oldest day, others maybe in their
    newest). An order's day is its first row's, so a cut line item still names its order's day."""
    if cut is None or not rows.height:
        return set()
    before = rows.filter(pl.col(ROW) <= cut)
    if not before.height:
        return set()
    orders = before.filter(pl.col(ROW) == before[ROW].max())["_order"].to_list()
    if cut in before[ROW]:  # the cut row is a record: its order, and the complete row before it
        orders += before.filter(pl.col(ROW) < cut).tail(1)["_order"].to_list()
    firsts = rows.filter(pl.col("_first") & pl.col("_order").is_in(orders))["_day"]
    return set(firsts.drop_nulls().to_list())


def _cut_note(days: set[date]) -> str:
    listed = " and ".join(str(d) for d in sorted(days))
    return (f"{listed} {'is' if len(days) == 1 else 'are'} left out: the file holds only part of "
            f"{'it' if len(days) == 1 else 'them'} (what is stored for {'it' if len(days) == 1 else 'them'} is kept)")


def order_errors(rows: pl.DataFrame, fmt: MoneyFormat, cells: pl.DataFrame) -> pl.DataFrame:
    """Every bad cell of ``parse_rows``' frame (``bad_cells``' columns): the rules that reject an
    order, in one place for ingest and for anyone reading the export the way ingest does (the
    catalog bot's best sellers)."""
    missing = [Check(c, pl.col("_first") & pl.col(f"_{c}_missing"), "missing required value", pl.lit(None, pl.String))
               for c in ("subtotal", "total")]
    if "_conflict" in rows.columns:
        missing.append(Check("name", pl.col("_conflict"), COPY_CONFLICT))
    problems = rows[rows["_problem"].arg_true()].join(cells, on=ROW, how="left")  # a gather: a filter copies all
    parts = [(problems, _problems(fmt)), (rows, missing), *_future(rows)]
    return bad_cells(parts, shown_order(), HEADERS, key="_order")


def _future(rows: pl.DataFrame) -> list[tuple[pl.DataFrame, list[Check]]]:
    """The order rows dated far into the future (``chimera.ingest.future``), shown with their day
    (the raw timestamp is kept only for rows with a problem found while parsing)."""
    check = future_check("created_at", pl.col("_day"), rows["_day"].unique())
    if check is None:
        return []
    typos = rows.filter(pl.col("_first") & check.mask).with_columns(pl.col("_day").cast(pl.String).alias("created_at"))
    return [(typos, [Check(check.column, pl.lit(True), check.reason)])]


NEEDS = {"refunded": ("refunded_amount", "refunded_orders", "net_revenue"), "discount": ("discounts",),
         "shipping": ("shipping",), "taxes": ("taxes",), "cancelled_at": ("cancelled_orders",)}
"""The metrics an export without the column cannot know. Without `Cancelled at` no order reads as
cancelled: orders and the sums count every order placed, but cancelled_orders is missing, not a
made-up 0 (the cancellation rate is then UNKNOWN, not a perfect 0 %)."""


def _known(days: DayMetrics, absent: set[str]) -> DayMetrics:
    """Days without the metrics an export cannot know: an older export without `Refunded Amount`
    says nothing of refunds, so refunded_amount (and net_revenue) are missing, never a made-up 0."""
    unknown = {m for col in absent for m in NEEDS.get(col, ())}
    if not unknown:
        return days
    return {day: {m: v for m, v in values.items() if m not in unknown} for day, values in days.items()}


def _sums(
    rows: pl.DataFrame, errors: pl.DataFrame, fmt: MoneyFormat, pseudonym: Callable[[str], str],
    path: Path | str = "", line_of: LineFinder | None = None,
) -> tuple[DayMetrics, int, pl.DataFrame, set[date | None]]:
    """Per-day metrics, orders ingested, customer-days over the orders without a bad cell, and the
    days of the rejected orders (a day with only rejected orders is not a day without orders; None
    for an order without a readable date).

    On a real store, with about as many distinct customers as orders, hashing emails is the largest
    step: polars-hash does it inside the same parallel plan as the sums."""
    ok = _ok_mask(rows, errors) if errors.height else pl.lit(True)
    lines = _with_order_facts(rows, ok)
    orders = lines.filter(pl.col("_first") & pl.col("ok")).select(
        "day", "cancelled", "email", "currency", *(pl.col(f"_{c}").fill_null(0) for c in ORDER_MONEY),
    )
    kept = ~pl.col("cancelled")
    daily = orders.group_by("day").agg(
        pl.len().alias("orders_placed"),
        kept.sum().alias("orders"),
        pl.col("cancelled").sum().alias("cancelled_orders"),
        *(pl.col(f"_{src}").filter(kept).sum().alias(dst) for src, dst in _SUMS.items()),
        (kept & (pl.col("_refunded") > 0)).sum().alias("refunded_orders"),
    ).with_columns((pl.col("total_sales") - pl.col("refunded_amount")).alias("net_revenue"))
    per_line = lines.filter(pl.col("ok") & ~pl.col("cancelled")).group_by("day").agg(
        pl.col("_qty").sum().alias("units"), (pl.col("_qty") * pl.col("_price")).sum().alias("gross_sales")
    )
    queries = [
        daily.join(per_line, on="day", how="left").sort("day"),
        orders.select(pl.col("currency").str.strip_chars().str.to_uppercase().replace("", None).drop_nulls()
                      .unique().sort()),  # `USD`, `usd` and `USD ` are one currency
        orders.select(pl.len()),
        lines.filter(~pl.col("ok") & pl.col("_first")).select(pl.col("day").unique()),  # null: a bad date
    ]
    hashed = pseudonym.expr(pl.col("email")) if isinstance(pseudonym, Pseudonymizer) else None
    if hashed is not None:  # one parallel plan: the pseudonyms are computed by polars
        customers_q = _customer_orders(orders).select(  # one row per order: the store counts each day's repeats
            "day", hashed.alias("customer"), pl.lit(1, pl.Int64).alias("orders"))
        daily, currencies, count, rejected, customers = pl.collect_all([*queries, customers_q])
    else:  # a salt that is not text: emails hash in Python while the sums run in a polars thread
        per_day = _per_day(_customer_orders(orders), "email").collect()
        with ThreadPoolExecutor(max_workers=1) as pool:  # polars releases the GIL
            sums = pool.submit(pl.collect_all, queries)
            customers = _customers(per_day, pseudonym)
            daily, currencies, count, rejected = sums.result()
    if currencies.height > 1:
        _mixed_currencies(rows, path, line_of)
    return day_metrics(daily, COUNTS, MONEY, fmt.scale), int(count.item()), customers, set(rejected["day"].to_list())


def _ok_mask(rows: pl.DataFrame, errors: pl.DataFrame) -> pl.Expr | pl.Series:
    """False on every row of an order with a bad cell. ``_row`` is sorted, so a binary search finds
    each bad row; with contiguous orders (sorted integer keys) each bad order is a slice of rows,
    cleared in a numpy mask: no per-row lookup in a million rows."""
    bad = rows["_order"].gather(rows[ROW].search_sorted(errors[ROW].unique())).unique()
    if not rows["_order"].flags["SORTED_ASC"]:
        return ~pl.col("_order").is_in(bad.implode())
    keys = rows["_order"]
    mask = np.ones(rows.height, dtype=bool)
    for start, end in zip(keys.search_sorted(bad, "left"), keys.search_sorted(bad, "right"), strict=True):
        mask[start:end] = False
    return pl.Series("ok", mask)


def _with_order_facts(rows: pl.DataFrame, ok: pl.Expr) -> pl.LazyFrame:
    """Each line item with its order's day and cancelled flag (from the order's first row) and ``ok``."""
    cols = ["_first", "email", "currency", "_qty", *(f"_{c}" for c in MONEY_IN)]
    if rows["_order"].flags["SORTED_ASC"]:  # contiguous orders: carry the first row's facts down
        first = pl.col("_first")
        return rows.lazy().select(
            *cols, ok.alias("ok"),
            pl.when(first).then(pl.col("_day")).forward_fill().alias("day"),
            pl.when(first).then(pl.col("_cancelled")).forward_fill().alias("cancelled"),
        )
    facts = rows.lazy().filter(pl.col("_first")).select(
        "_order", pl.col("_day").alias("day"), pl.col("_cancelled").alias("cancelled")
    )
    if "_dup" in rows.columns:  # an order's extra identical copies are not its line items
        ok = ok & ~pl.col("_dup")
    return rows.lazy().select("_order", *cols, ok.alias("ok")).join(facts, on="_order", how="left")


def _mixed_currencies(rows: pl.DataFrame, path: Path | str, line_of: LineFinder | None = None) -> None:
    """IngestError naming each currency with its first order and that order's line (column
    Currency): where to look in the file."""
    first = (
        rows.filter(pl.col("currency").is_not_null())
        .group_by(pl.col("currency").str.strip_chars().str.to_uppercase(), maintain_order=True)
        .agg(pl.col("name").first(), pl.col(ROW).first())
        .filter(pl.col("currency") != "")
        .sort("currency")
    )
    lines = line_of(first[ROW].to_list()) if line_of is not None else {}
    where = ", ".join(f"{c}: order {n}" + (f" at line {lines[r]}" if lines.get(r) else "")
                      for c, n, r in first.iter_rows())
    raise IngestError(
        f"{f'{path}: ' if str(path) else ''}the export mixes currencies (column {HEADERS['currency']}; {where}): "
        "sums would be meaningless; export one currency (store) per file"
    )


def _customer_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    """(day, normalized email) of each non-cancelled order with an email (a blank-looking email is
    no customer). Not grouped: nearly every order is its own customer-day, and the store counts a
    day's repeats while it sorts the day's pseudonyms anyway (a group-by on day and pseudonym cost
    ~0.3 s CPU on a 1M-row export)."""
    email = pl.col("email").str.strip_chars().str.to_lowercase()
    return (
        orders.filter(~pl.col("cancelled") & pl.col("email").is_not_null())
        .select("day", email.alias("email"))
        .filter(pl.col("email") != "")
    )


def _per_day(customer_orders: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """(day, key, orders): one row per customer and day."""
    return customer_orders.group_by("day", key).agg(pl.len().cast(pl.Int64).alias("orders"))


def _customers(per_day: pl.DataFrame, pseudonym: Callable[[str], str]) -> pl.DataFrame:
    """(day, customer pseudonym, orders): each distinct email is hashed once; emails stop here.
    Unsorted: the store orders what it writes."""
    emails = per_day["email"].unique()
    hashed = pl.Series("customer", [pseudonym(e) for e in emails.to_list()], dtype=pl.String)
    mapping = pl.DataFrame({"email": emails, "customer": hashed})
    return per_day.join(mapping, on="email").select("day", "customer", "orders")


__all__ = ["aggregate_shopify", "order_errors", "parse_rows", "read_shopify", "scan_shopify"]
