"""Shared steps of every file parser: read only the needed columns, collect bad cells, emit days.

All columns are read as strings (no type inference can silently turn `'05428` or `N/A` into
something else); validation is vectorized, one boolean mask per check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import Header
from chimera.ingest.models import DayMetrics, Rejection
from chimera.ingest.parsing import units_to_decimal

ROW = "_row"
LineFinder = Callable[[list[int]], dict[int, int]]


@dataclass(frozen=True)
class Check:
    """A bad-cell rule: rows where ``mask`` is true are rejected with ``reason`` for ``column``."""

    column: str
    mask: pl.Expr
    reason: str


def read_columns(path: Path, header: Header, columns: dict[str, str], decimal_comma: bool = False) -> pl.DataFrame:
    """The file's needed columns as strings, renamed to canonical names, with a 0-based row index."""
    wanted = list(dict.fromkeys(columns.values()))
    try:
        df = pl.read_csv(
            path,
            columns=wanted,
            infer_schema=False,
            skip_lines=header.skip_lines,
            row_index_name=ROW,
            encoding="utf8-lossy",
            truncate_ragged_lines=True,
            quote_char='"',
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise IngestError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    df = df.rename({v: k for k, v in columns.items() if v in df.columns and v != k}, strict=False)
    for key, col in columns.items():  # one file column may serve two canonical names
        if key not in df.columns:
            df = df.with_columns(pl.col(_canonical(columns, col)).alias(key))
    df = df.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in columns)
    return df.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in columns))


def _canonical(columns: dict[str, str], file_col: str) -> str:
    return next(k for k, v in columns.items() if v == file_col)


def with_missing(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Add absent optional columns as all-null strings (older exports have fewer columns)."""
    absent = [k for k in keys if k not in df.columns]
    return df.with_columns(pl.lit(None, pl.String).alias(k) for k in absent) if absent else df


def bad_cells(df: pl.DataFrame, checks: list[Check], order: str, headers: dict[str, str]) -> pl.DataFrame:
    """One row per bad cell (_row, order, column, value, reason), first occurrence per order+column+value."""
    frames = [
        df.filter(c.mask).select(
            pl.col(ROW),
            pl.col(order).fill_null("").alias("order"),
            pl.lit(headers.get(c.column, c.column)).alias("column"),
            pl.col(c.column).fill_null("").alias("value"),
            pl.lit(c.reason).alias("reason"),
        )
        for c in checks
    ]
    if not frames:
        return pl.DataFrame(schema={ROW: pl.UInt32, "order": pl.String, "column": pl.String,
                                    "value": pl.String, "reason": pl.String})
    errors = pl.concat(frames).sort(ROW)
    return errors.unique(subset=["order", "column", "value"], keep="first", maintain_order=True)


def rejections(errors: pl.DataFrame, line_of: LineFinder) -> list[Rejection]:
    lines = line_of(errors[ROW].to_list()) if errors.height else {}
    return [
        Rejection(line=lines.get(r[ROW], 0), column=r["column"], value=r["value"], reason=r["reason"],
                  order=r["order"])
        for r in errors.iter_rows(named=True)
    ]


def day_metrics(daily: pl.DataFrame, counts: list[str], money: list[str], scale: int) -> DayMetrics:
    """``{day: {metric: value}}`` from a per-day frame of integer counts and money units."""
    out: DayMetrics = {}
    for row in daily.iter_rows(named=True):
        values: dict[str, Decimal | int] = {m: int(row[m] or 0) for m in counts if m in row}
        values.update({m: units_to_decimal(row[m] or 0, scale) for m in money if m in row})
        out[row["day"]] = values
    return out


def common_scale(df: pl.DataFrame, columns: list[str], pattern_scale: Callable[[pl.Expr], pl.Expr]) -> int:
    """One money scale (decimal places) for all columns, so products and sums line up."""
    present = [c for c in columns if c in df.columns]
    if not present or df.height == 0:
        return 2
    values = df.select(pattern_scale(pl.col(c)).alias(c) for c in present).row(0)
    return max(2, *(int(v or 0) for v in values))


def reject_required(df: pl.DataFrame, keys: list[str]) -> list[Check]:
    return [Check(k, pl.col(k).is_null(), "missing required value") for k in keys]
