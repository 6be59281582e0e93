"""Web analytics daily rows (GA4 report export or GA4 API names) -> sessions, users, ga_* metrics.

A date absent from the file is missing data, never zero: no row is invented for it, and an
empty cell leaves that one metric absent for the day. Several rows for one date (an export split
by channel) are summed, except users: a person who came through two channels is in both rows, so
their sum is no count of the day's users, and a split day's users are missing rather than
overcounted. A totals row (`Total`, `Grand total`, or an empty date first or last, as
Universal Analytics and Looker Studio write one) and a pasted copy of the header are no records.
Locale is decided once per file: decimal comma or point, dd/mm or mm/dd, thousands groups.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import (
    ANALYTICS_COLUMNS,
    ANALYTICS_ENGLISH,
    ANALYTICS_EXPECTED,
    ANALYTICS_KNOWN,
    ANALYTICS_LOCAL,
    ANALYTICS_LOCAL_NAMES,
    ANALYTICS_REQUIRED,
    Header,
    resolve_columns,
)
from chimera.ingest.frame import Check, LineFinder, bad_cells, read_columns, reject_required, rejections, shape_check
from chimera.ingest.future import future_check
from chimera.ingest.models import Aggregate, DayMetrics
from chimera.ingest.parsing import (
    COUNT,
    MAX_SCALE,
    TOO_LARGE,
    decimal_comma_votes,
    dot_decimal,
    ga_day,
    is_bad_money,
    money_decimal,
    money_format,
    slash_day_first,
    too_large,
    totals_row,
    ungrouped,
    whole_count,
    without_currency,
)

METRIC_OF = {"sessions": "sessions", "users": "users", "transactions": "ga_transactions",
             "key_events": "ga_key_events", "revenue": "ga_revenue"}
COUNT_COLS = ["sessions", "users", "transactions", "key_events"]
LEAD = "_lead"  # the file's first column: where a comment line's text lands
DIM = "_dim"  # prefix of a dimension column (any column that is not a metric or the date)
# A figure, not a dimension value: `0.6523`, `60.0%`, `$1,234.56`, `00:01:12` (UA durations), `< 0.01%`.
FIGURE = (r"^[<>]?\s*[+-]?(?:(?:US|CA|AU|A|C|R)?\$|€|£|¥|￥|₹|₩)?[\d.,\s\u00a0]*\d[\d.,\s\u00a0]*%?$"
          r"|^\d+:\d{2}(?::\d{2})?$")
NUMERIC_DIMENSION = r"(?i)hour|minute|week|month|year|nth|day of|dayof|cohort"  # numbered, yet a dimension
# What Looker Studio, BigQuery and scripts write for no figure, in an optional metric's cell: that
# metric is missing for the day. Sessions, the one every day needs, are refused instead (as `n/a` is);
# so is `-`: Excel's accounting format shows a zero that way.
NO_VALUE = ["null", "(not set)", "none", "nan"]
DASHES = ["-", "\u2013", "\u2014", "$-", "$ -", "€-", "€ -", "- €", "-€"]
OTHER_ROW = ("GA4 lumped the rows past the report's row limit into one '(other)' row: its figures belong "
             "to no one day, so the days' sums leave them out; export the date with fewer or no other dimensions")
COPY_CONFLICT = ("the date is listed more than once with different figures and nothing (such as a channel "
                 "column) tells the rows apart (pasted exports?): which is current is unknown")


def read_analytics(path: Path, header: Header) -> tuple[pl.DataFrame, dict[str, str]]:
    """The metric columns, plus the report's other columns (its dimensions, e.g. a channel) as
    ``_dim<i>``: they tell a report split by channel (rows summed) from a pasted copy (counted once)."""
    cols = resolve_columns(path, header, "analytics_daily", ANALYTICS_COLUMNS, ANALYTICS_REQUIRED)
    names = [c for c in header.columns if c and header.columns.count(c) == 1 and c not in cols.values()]
    dims = {f"{DIM}{i}": name for i, name in enumerate(names)}
    df = _records(first_table(read_columns(path, header, {**cols, **dims, LEAD: header.columns[0]})), cols["date"])
    figures = _figure_columns(df, dims)
    _check_localized(path, header, cols, [dims[c] for c in figures])
    return df.drop(figures), cols


def _records(df: pl.DataFrame, date_header: str) -> pl.DataFrame:
    """Rows that are days: not a totals row, not the header again (two exports pasted together)."""
    date = pl.col("date").str.strip_chars()
    again = (date.str.to_lowercase() == date_header.lower()).fill_null(False)
    return df.filter(~totals_row(date, date.is_null(), df.height) & ~again)


def _figure_columns(df: pl.DataFrame, dims: dict[str, str]) -> list[str]:
    """The other columns that hold figures (engaged sessions, a rate, a duration) rather than
    dimension values: they are dropped, as rows differing only in them are one day's revised copies."""
    return [c for c, name in dims.items()
            if not _numbered_dimension(name) and df[c].drop_nulls().str.strip_chars().str.contains(FIGURE).all()]


def _check_localized(path: Path, header: Header, cols: dict[str, str], figures: list[str]) -> None:
    """IngestError when a report in another language holds figure columns we cannot name while a
    metric we read is missing: one of them may be that metric (`Käufe`, `Revenus...`), and skipping
    it would turn a known figure into missing data without a word."""
    missing = [key for key in ANALYTICS_EXPECTED if key not in cols]
    figures = [f for f in figures if f.lower() not in ANALYTICS_KNOWN]
    localized = any(c.lower() in ANALYTICS_LOCAL_NAMES for c in cols.values()) or not all(f.isascii() for f in figures)
    if not (missing and figures and localized):
        return
    raise IngestError(
        f"{path}: line {header.skip_lines + 1}: the column(s) {', '.join(figures)} hold figures but are not "
        f"names we know, and no column was found for {'; '.join(_names(key) for key in missing)}. "
        "Rename the column that holds it to one of these names (or delete the columns you do not want "
        "read) and ingest again"
    )


def _names(key: str) -> str:
    """A metric and the header names it is recognised by, English and local."""
    local = ANALYTICS_LOCAL.get(key, ())
    return (f"{key} (English: {', '.join(ANALYTICS_ENGLISH[key][:5])}; "
            f"local: {', '.join(local) if local else 'none known'})")


def _numbered_dimension(name: str) -> bool:
    return re.search(NUMERIC_DIMENSION, name) is not None


def first_table(df: pl.DataFrame) -> pl.DataFrame:
    """The rows before the first `#` line: a GA4 export appends other tables (other columns under
    their own header) after comment lines; read as more rows, their values would land in this
    table's columns."""
    end = df[LEAD].str.strip_chars().str.starts_with("#").arg_true()
    return (df.head(int(end[0])) if len(end) else df).drop(LEAD)


def aggregate_analytics(
    df: pl.DataFrame, line_of: LineFinder, headers: dict[str, str] | None = None, kind: str = "analytics_daily",
    european: bool = False,
) -> Aggregate:
    """Per-day metrics. ``european``: the file is `;`-separated, as Excel saves CSV where the decimal
    separator is a comma; it decides the locale when the values themselves do not."""
    present = [c for c in METRIC_OF if c in df.columns]
    df = df.with_columns(pl.when(pl.col(c).str.strip_chars().str.to_lowercase().is_in(NO_VALUE)).then(None)
                         .otherwise(pl.col(c)).alias(c) for c in present if c != "sessions")  # no figure: missing
    comma = _decimal_comma(df, present, european)  # saved by Excel in a European locale: `1040,50`
    day_first = slash_day_first(df["date"], comma)
    if "revenue" in present:  # `revenue` stays as written (rejections show it); `_revenue` is dot-decimal
        bare = without_currency(pl.col("revenue"))
        df = df.with_columns((dot_decimal(bare) if comma else ungrouped(bare)).alias("_revenue"))
        # GA writes float noise (2081.9199999999): rounded to 6 places, not cut
        noisy = pl.col("_revenue").str.contains(rf"^\s*[+-]?\d+\.\d{{{MAX_SCALE + 1},}}\s*$")
        rounded = pl.col("_revenue").str.strip_chars().cast(pl.Decimal(38, MAX_SCALE), strict=False).cast(pl.String)
        df = df.with_columns(pl.when(noisy).then(rounded).otherwise(pl.col("_revenue")).alias("_revenue"))
    fmt = money_format(df, ["_revenue"])
    lumped = (pl.col("date").str.strip_chars().str.to_lowercase() == "(other)").fill_null(False)
    checks = [
        shape_check(),
        *reject_required(["date"]),
        Check("date", pl.col("date").is_not_null() & ga_day(pl.col("date"), day_first).is_null() & ~lumped,
              "not a date like 20260405 or 2026-04-05"),
        Check("date", lumped, OTHER_ROW),
    ]
    day = ga_day(pl.col("date"), day_first)
    checks += [c for c in [future_check("date", day, df.select(day.unique()).to_series())] if c]
    for c in (c for c in COUNT_COLS if c in present):
        negative = pl.col(c).str.contains(r"^\s*-\s*\d")
        checks += [Check(c, negative, "a count is never negative"),
                   Check(c, too_large(whole_count(pl.col(c))), TOO_LARGE),
                   Check(c, pl.col(c).is_not_null() & ~negative & ~whole_count(pl.col(c)).str.contains(COUNT),
                         "not a whole number")]
    if "revenue" in present:
        example = "12,34" if comma else "12.34"
        dash = pl.col("revenue").str.strip_chars().is_in(DASHES).fill_null(False)
        checks += [Check("revenue", is_bad_money(pl.col("_revenue"), fmt) & ~dash,
                         f"not a number (expected e.g. {example})"),
                   Check("revenue", too_large(pl.col("_revenue")), TOO_LARGE),
                   Check("revenue", dash, "a dash is a zero in Excel's accounting format, or no figure: "
                                          "write 0, or leave the cell empty if the day's revenue is unknown")]
    copies = _copies(df, present)
    if copies is not None:
        checks.append(Check("date", copies, COPY_CONFLICT))
    errors = bad_cells([(df, checks)], "date", {**{k: k for k in METRIC_OF}, **(headers or {})})
    good = df.filter(~pl.col("_row").is_in(errors["_row"].implode()))
    if copies is not None:  # every row of a rejected date goes (errors name it once); a copy counts once
        rejected = errors["order"].implode()
        good = good.filter(~pl.col("date").is_in(rejected)).unique([*_row_key(df), *present], keep="first",
                                                                   maintain_order=True)
    values = {c: whole_count(pl.col(c)).cast(pl.Int64, strict=False) for c in COUNT_COLS if c in present}
    if "revenue" in present:
        values["revenue"] = money_decimal(pl.col("_revenue"), fmt)
    daily = good.group_by(ga_day(pl.col("date"), day_first).alias("day")).agg(
        *(v.sum().alias(c) for c, v in values.items()),
        *(v.count().alias(f"{c}__n") for c, v in values.items()),
        pl.len().alias("_rows"),
    )
    if "users" in values:  # users do not add up across a split day's rows (see the module's docstring)
        daily = daily.with_columns(pl.when(pl.col("_rows") > 1).then(0).otherwise(pl.col("users__n"))
                                   .alias("users__n"))
    days = _days(daily.sort("day"), list(values))
    rejected_days = set(df.filter(pl.col("_row").is_in(errors["_row"].implode()))
                        .select(ga_day(pl.col("date"), day_first).drop_nulls().unique()).to_series().to_list())
    partial = rejected_days & set(days)  # a day split by channel (country...) with one part unread
    return Aggregate(
        kind=kind,
        days={d: v for d, v in days.items() if d not in partial},
        rows_read=df.height,
        orders_ingested=good.height,
        rejected=rejections(errors, line_of),
        fill_zero=False,
        unknown_days=rejected_days,
        left_out=dict.fromkeys(sorted(partial), PARTIAL_DAY),
    )


PARTIAL_DAY = ("a row of this day was rejected while others were read (a report split by channel, country...): "
               "its figures would be only part of the day's; what is stored for it is kept")


def _row_key(df: pl.DataFrame) -> list[str]:
    """What names a row: its date and its dimension values (a channel, a country...)."""
    return ["date", *(c for c in df.columns if c.startswith(DIM))]


def _copies(df: pl.DataFrame, metrics: list[str]) -> pl.Expr | None:
    """None when no date and dimensions repeat; else the mask of rows whose date and dimensions
    repeat with other figures (two exports pasted into one file, one of them older)."""
    key = _row_key(df)
    if not df.select(pl.struct(key).is_duplicated().any()).item():
        return None
    return pl.col("date").is_not_null() & (pl.struct(metrics).n_unique().over(key) > 1)


def _decimal_comma(df: pl.DataFrame, present: list[str], default: bool) -> bool:
    """Whether the file writes a decimal comma: its revenue values vote, and so do its counts'
    thousands groups (`1.234` sessions is a European file, `1,234` an English one); ``default`` on a tie."""
    comma, dot = decimal_comma_votes(df.select(without_currency(pl.col("revenue")))["revenue"]) \
        if "revenue" in present else (0, 0)
    for c in (c for c in COUNT_COLS if c in present):
        counts = df[c].drop_nulls().str.strip_chars()
        comma += int(counts.str.contains(r"^\d{1,3}(\.\d{3})+$").sum())
        dot += int(counts.str.contains(r"^\d{1,3}(,\d{3})+$").sum())
    return default if comma == dot else comma > dot


def _days(daily: pl.DataFrame, cols: list[str]) -> DayMetrics:
    out: DayMetrics = {}
    for row in daily.iter_rows(named=True):
        values = {
            METRIC_OF[c]: row[c] if c == "revenue" else int(row[c])
            for c in cols
            if row[f"{c}__n"]  # an empty cell is missing, not zero
        }
        if values:
            out[row["day"]] = values
    return out
