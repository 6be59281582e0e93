"""Shared steps of every file parser: read only the needed columns, collect bad cells, emit days.

All columns are read as strings (no type inference can silently turn `'05428` or `N/A` into
something else); validation is vectorized, one boolean mask per check.

A record whose field count is not the header's (an unquoted comma shifts every later column; an
unquoted line break splits a record; a download cut mid-row) is never read as if it were whole:
given its ``Shapes`` (``lines.record_shapes``), ``scan_columns`` marks it in ``SHAPE`` and
``shape_check`` rejects it (its whole order). Without them (a large Shopify export's fast path,
``shopify.read_shopify``, counts them in a thread while polars reads and re-reads only a file with
such rows) only a file whose last line has no newline is checked, and a cut row is a clear
IngestError naming its line: polars only refuses a row with too many fields when the header's last
column is read, so a misshapen row elsewhere would be read as written (shifted or short).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import polars as pl

from chimera.errors import IngestError
from chimera.ingest.detect import Header, clean_names, read_header
from chimera.ingest.lines import Shapes, physical_lines, record_shapes
from chimera.ingest.models import DayMetrics, Rejection
from chimera.ingest.parsing import units_to_decimal

ROW = "_row"
SHAPE = "_shape"  # why a row's field count differs from the header's; null on every other row
SHAPE_COLUMN = "(whole row)"  # what a rejection names as the column of such a row
CUT = "file ends inside this row (truncated download?)"
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
CENT = Decimal("0.01")
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
LineFinder = Callable[[list[int]], dict[int, int]]


@dataclass(frozen=True)
class Check:
    """A bad-cell rule: rows where ``mask`` is true are rejected with ``reason`` for ``column``
    (``reason`` and the ``value`` shown may be expressions, per row)."""

    column: str
    mask: pl.Expr
    reason: str | pl.Expr
    value: pl.Expr | None = None


def file_shapes(path: Path, header: Header) -> Shapes:
    """The rows whose field count is not the header's (one numpy pass on a well-formed file)."""
    return record_shapes(path, len(header.columns), header.separator, header.skip_lines, header.encoding)


def scan_columns(
    path: Path, header: Header, columns: dict[str, str], *, drop_empty: bool = True, shapes: Shapes | None = None,
    every_row: tuple[str, ...] = (), lossy: bool = True,
) -> pl.LazyFrame:
    """A lazy scan of only the needed columns as strings, renamed to canonical names, with a
    0-based row index and ``SHAPE``; fully empty rows are dropped (they are not records).
    ``drop_empty=False`` leaves that to the caller: filtering a million rows in the scan copies
    every column (~0.3 s CPU), where a caller that flags bad rows anyway finds the empty ones among them.
    ``shapes``: the file's ``file_shapes``, for a caller that rejects ``shape_check``'s rows; without
    them a misshapen row is an IngestError (see the module's docstring). ``every_row``: the
    columns a row left short of its trailing empty cells must still hold (``readable``).
    ``lossy=False`` reads strict UTF-8 (a third faster on a big file): collecting raises ``NotUtf8``
    at a byte that is not UTF-8, and the caller reads again lossily (such a byte becomes U+FFFD)."""
    if shapes is None:
        shapes = readable(cut_shapes(path, header), header, columns, every_row)
        if shapes.misshapen:
            raise IngestError(shape_error(path, header, shapes))
    else:
        shapes = readable(shapes, header, columns, every_row)
    tail = shapes.open_tail is not None
    lf = pl.scan_csv(
        _utf8(path, header), infer_schema=False, separator=header.separator, skip_lines=header.skip_lines,
        row_index_name=ROW,
        encoding="utf8-lossy" if lossy else "utf8", truncate_ragged_lines=shapes.too_many, quote_char='"',
        n_rows=shapes.records - 1 if tail else None,  # the record cut inside its quotes is added below
        glob=False,  # a file named `orders [copy].csv` is that file, not a pattern matching none
        null_values=[""],  # a quoted empty field ("", as tools quoting every field write it) is empty too
        with_column_names=clean_names,  # the names read_header resolved (` Created at ` is `Created at`)
    )
    lf = lf.select(ROW, *(pl.col(col).alias(key) for key, col in columns.items()), _shape_expr(shapes, header))
    if tail:
        lf = pl.concat([lf, _tail_frame(shapes, header, columns)], how="vertical")
    if not drop_empty:
        return lf
    return lf.filter(pl.any_horizontal(*(pl.col(c).is_not_null() for c in columns), pl.col(SHAPE).is_not_null()))


def readable(shapes: Shapes, header: Header, columns: dict[str, str], every_row: tuple[str, ...] = ()) -> Shapes:
    """``shapes`` whose ``trimmed`` rows (short of trailing empty fields only) each reach the
    columns ``every_row`` of them must hold (default: every column read): those values are
    written, in place, and the cells left out are empty. A shorter one stays misshapen (rejected
    with its field count), whatever the reader would make of its missing cells."""
    if not shapes.trimmed:
        return shapes
    needed = [columns[key] for key in every_row if key in columns] or list(columns.values())
    reach = 1 + max((header.columns.index(col) for col in needed), default=0)
    kept = frozenset(row for row in shapes.trimmed if shapes.fields[row] >= reach)
    return shapes if kept == shapes.trimmed else replace(shapes, trimmed=kept)


def cut_shapes(path: Path, header: Header) -> Shapes:
    """Without the full count (a large export's fast path): only a file whose last line has no
    newline is checked (a download cut mid-row)."""
    with path.open("rb") as fh:
        fh.seek(max(path.stat().st_size - 2, 0))
        end = fh.read()
    terminated = end.endswith(b"\n") or (header.encoding == "utf-16" and end in (b"\n\x00", b"\x00\n"))
    return Shapes(len(header.columns)) if terminated else file_shapes(path, header)


def shape_reason(fields: int, width: int, cut: bool, separator: str) -> str:
    """Why a record with ``fields`` fields under a header of ``width`` is rejected."""
    counts = f"{fields} fields, header has {width}"
    if cut:
        return f"{CUT}: {counts}"
    if fields > width:
        return (f"{counts}: a value holds an unquoted {SEPARATOR_NAMES.get(separator, 'separator')}? "
                "(the columns after it shift; quote the value)")
    return f"{counts}: a value holds an unquoted line break, or the row lost cells? (its columns are missing or shift)"


def _reasons(shapes: Shapes, header: Header) -> dict[int, str]:
    """Why each misshapen row is rejected (a row whose writer only left out its trailing empty
    fields is read: ``Shapes.trimmed``). A row after another export's header of its own field
    count (two exports of different versions joined) is said to be one."""
    reasons = {}
    joined = sorted(shapes.headers.items())
    for row, n in shapes.misshapen.items():
        after = [h for h, count in joined if h <= row and count == n]
        reasons[row] = shape_reason(n, shapes.width, row == shapes.cut, header.separator) if not after else (
            f"{n} fields, header has {shapes.width}: "
            + ("another export's header" if after[-1] == row else f"a row under another export's {n}-column header")
            + " in the file (exports with other columns joined?): ingest each export on its own")
    return reasons


def _shape_expr(shapes: Shapes, header: Header) -> pl.Expr:
    if not shapes.misshapen:
        return pl.lit(None, pl.String).alias(SHAPE)
    reasons = _reasons(shapes, header)
    return pl.col(ROW).replace_strict(list(reasons), list(reasons.values()), default=None,
                                      return_dtype=pl.String).alias(SHAPE)


def _tail_frame(shapes: Shapes, header: Header, columns: dict[str, str]) -> pl.LazyFrame:
    """The record the file ends inside quotes of, as the csv module reads it (polars cannot)."""
    fields = shapes.open_tail or []
    names = header.columns
    row = shapes.records - 1

    def value(col: str) -> str | None:
        at = names.index(col)
        return (fields[at] or None) if at < len(fields) else None

    data = {ROW: pl.Series([row], dtype=pl.get_index_type()),
            **{key: pl.Series([value(col)], dtype=pl.String) for key, col in columns.items()},
            SHAPE: pl.Series([_reasons(shapes, header)[row]], dtype=pl.String)}
    return pl.LazyFrame(data)


def shape_check() -> Check:
    """Rejects a row whose field count is not the header's (its values cannot be trusted), showing
    how many fields it has."""
    return Check(SHAPE, pl.col(SHAPE).is_not_null(), pl.col(SHAPE), pl.col(SHAPE).str.extract(r"(\d+ fields)", 1))


def shape_error(path: Path, header: Header, shapes: Shapes, shown: int = 5) -> str:
    """`file: line N: why` for the first misshapen rows (where a reader cannot leave them out)."""
    reasons = _reasons(shapes, header)
    if not reasons and shapes.padded:  # read without the count, where only the count knows they are whole
        return (f"{path}: every data row has {shapes.padded} more empty field(s) than the header names (a "
                "separator ending each row): read it with chimera ingest, or remove the trailing separators")
    first = sorted(reasons)[:shown]
    lines = physical_lines(path, first, header.skip_lines)
    more = f" (and {len(reasons) - shown} more rows)" if len(reasons) > shown else ""
    return f"{path}: " + "; ".join(f"line {lines.get(r, 0)}: {reasons[r]}" for r in first) + more


def _utf8(path: Path, header: Header) -> Path | io.BytesIO:
    """The file, or its UTF-8 transcoding when it is Windows-1252 or UTF-16 (polars reads UTF-8
    only). Each newline is still one `\n` byte in the original, so physical line numbers hold."""
    if header.encoding == "utf-8":
        return path
    return io.BytesIO(path.read_bytes().decode(header.encoding, errors="replace").encode("utf-8"))


class MisshapenRows(IngestError):
    """The reader refused a row with more fields than the header (see ``collect``)."""


class NotUtf8(IngestError):
    """A strict UTF-8 scan (``scan_columns(lossy=False)``) met a byte that is not UTF-8."""


def collect(lf: pl.LazyFrame, path: Path | str = "") -> pl.DataFrame:
    """Run a query with the streaming engine; a CSV the reader cannot parse is an IngestError (at
    the stray quote's line when there is one: the usual cause)."""
    try:
        return lf.collect(engine="streaming")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise _read_error(exc, path) from None


def collect_all(lfs: list[pl.LazyFrame], path: Path | str = "") -> list[pl.DataFrame]:
    """``collect`` of queries sharing their scan (polars reads the file once for all of them)."""
    try:
        return pl.collect_all(lfs, engine="streaming")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise _read_error(exc, path) from None


def _read_error(exc: Exception, path: Path | str) -> IngestError:
    """The IngestError for a failed read of ``path``, saying where and why."""
    readable = bool(str(path)) and Path(path).is_file()
    if "invalid utf-8" in str(exc).lower():
        return NotUtf8(f"{path}: not UTF-8 throughout")
    if readable and "more fields than" in str(exc):  # a row polars would not read: say which and why
        header = read_header(Path(path))
        return MisshapenRows(shape_error(Path(path), header, file_shapes(Path(path), header)))
    where = quote_problem(Path(path)) if readable else None
    if where is not None:
        return IngestError(f"{path}: {where}; quote the whole field and double its quotes")
    return IngestError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}")


def quote_problem(path: Path) -> str | None:
    """`line N: Column: what` for the first quote the CSV grammar does not allow (a quote inside an
    unquoted field, text after a closing quote, a quoted field never closed); None if there is none.
    Run only after the reader failed: a plain scan, line by line, skipping lines without quotes."""
    header = read_header(path)
    sep, names = header.separator, header.columns
    with path.open(encoding="utf-8-sig" if header.encoding == "utf-8" else header.encoding, errors="replace",
                   newline="") as fh:
        lines = iter(enumerate(fh, start=1))
        for _ in range(header.skip_lines):
            next(lines, None)
        opened: tuple[int, int] | None = None  # (line, column) of a quoted field still open
        for number, text in lines:
            if opened is None and '"' not in text:
                continue
            found, opened = _scan_line(text, sep, opened, number)
            if found is not None:
                at, column, what = found
                return f"line {at}: {names[column] if column < len(names) else f'column {column + 1}'}: {what}"
    if opened is not None:
        at, column = opened
        name = names[column] if column < len(names) else f"column {column + 1}"
        return f"line {at}: {name}: a quoted field opened here is never closed"
    return None


def _scan_line(
    text: str, sep: str, opened: tuple[int, int] | None, number: int
) -> tuple[tuple[int, int, str] | None, tuple[int, int] | None]:
    """One physical line of the CSV grammar: (problem, the quoted field still open at its end)."""
    column = opened[1] if opened else 0
    i, n, quoted, start = 0, len(text), opened is not None, 0
    while i < n:
        c = text[i]
        if quoted:
            if c == '"' and text.startswith('""', i):
                i += 2
                continue
            if c == '"':
                quoted = False
                end = i + 1
                if end < n and text[end] not in (sep, "\r", "\n"):
                    value = text[start:_field_end(text, end, sep)]
                    return (number, column, f"text after the closing quote of a field ({value})"), None
        elif c == '"':
            if i != start:
                value = text[start:_field_end(text, i, sep)]
                return (number, column, f"a quote inside a field that does not start with one ({value})"), None
            quoted, opened = True, (number, column)
        elif c == sep:
            column, start = column + 1, i + 1
        i += 1
    return None, (opened if quoted else None)


def _field_end(text: str, i: int, sep: str) -> int:
    ends = [j for j in (text.find(sep, i), text.find("\r", i), text.find("\n", i)) if j >= 0]
    return min(ends, default=len(text))


def read_columns(path: Path, header: Header, columns: dict[str, str]) -> pl.DataFrame:
    """The needed columns of a (small) export, eagerly, with padded values trimmed, and ``SHAPE``
    (each record's field count is checked: the caller rejects ``shape_check``'s rows); a row left
    with no value at all (only spaces: a spreadsheet's blank row) is no record."""
    lf = scan_columns(path, header, columns, shapes=file_shapes(path, header))
    df = strip_padded(collect(lf, path), list(columns))
    return df.filter(pl.any_horizontal(*(pl.col(c).is_not_null() for c in columns), pl.col(SHAPE).is_not_null()))


def strip_padded(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Trim spaces and tabs only in columns that have any (cheap checks; exports rarely pad values)."""
    edge = [pl.any_horizontal(pl.col(c).str.starts_with(pad) | pl.col(c).str.ends_with(pad) for pad in " \t")
            .any().alias(c) for c in columns]
    padded = [c for c, has in df.select(edge).row(0, named=True).items() if has]
    if not padded:
        return df
    return df.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in padded)


def with_missing(df: FrameT, keys: list[str]) -> FrameT:
    """Add absent optional columns as all-null strings (older exports have fewer columns)."""
    names = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    absent = [k for k in keys if k not in names]
    return df.with_columns(pl.lit(None, pl.String).alias(k) for k in absent) if absent else df


def bad_cells(
    parts: list[tuple[pl.DataFrame, list[Check]]], order: str | pl.Expr, headers: dict[str, str],
    key: str | None = None,
) -> pl.DataFrame:
    """One row per bad cell (_row, order, column, value, reason) over frames that share ``_row``;
    the first occurrence per order+column+value (continuation rows repeat the same bad value).
    ``order`` is the column (or expression) naming the order; ``key``, when given, the column
    telling orders apart (two rows without a Name both show order "" yet are two orders)."""
    shown = pl.col(order) if isinstance(order, str) else order
    frames = [  # lazy: each filter touches only the columns it keeps, not the whole frame
        df.lazy().filter(c.mask).select(
            pl.col(ROW),
            pl.col(key or ROW).alias("_key"),
            shown.fill_null("").alias("order"),
            pl.lit(headers.get(c.column, SHAPE_COLUMN if c.column == SHAPE else c.column)).alias("column"),
            (pl.col(c.column) if c.value is None else c.value).fill_null("").alias("value"),
            (c.reason if isinstance(c.reason, pl.Expr) else pl.lit(c.reason)).alias("reason"),
        )
        for df, checks in parts
        for c in checks
    ]
    errors = pl.concat(pl.collect_all(frames)).sort(ROW, maintain_order=True)
    misshapen = errors.filter(pl.col("column") == SHAPE_COLUMN)[ROW].implode()
    if misshapen.list.len().item():  # a misshapen row's cells are shifted or missing: its other errors mislead
        errors = errors.filter(~pl.col(ROW).is_in(misshapen) | (pl.col("column") == SHAPE_COLUMN))
    subset = ["_key" if key else "order", "column", "value"]
    return errors.unique(subset=subset, keep="first", maintain_order=True).drop("_key")


def rejections(errors: pl.DataFrame, line_of: LineFinder | dict[int, int]) -> list[Rejection]:
    """Rejection models; ``line_of`` finds physical lines (or is the mapping, found meanwhile)."""
    lines = line_of if isinstance(line_of, dict) else (line_of(errors[ROW].to_list()) if errors.height else {})
    return [
        Rejection(line=lines.get(r[ROW], 0), column=r["column"], value=r["value"], reason=r["reason"],
                  order=r["order"])
        for r in errors.iter_rows(named=True)
    ]


def day_metrics(daily: pl.DataFrame, counts: list[str], money: list[str], scale: int) -> DayMetrics:
    """``{day: {metric: value}}`` from a per-day frame of integer counts and polars Decimal sums."""
    out: DayMetrics = {}
    for row in daily.iter_rows(named=True):
        values: dict[str, Decimal | int] = {m: int(row[m] or 0) for m in counts if m in row}
        values.update({m: tidy(_exact(row[m] or 0, scale)) for m in money if m in row})
        out[row["day"]] = values
    return out


def tidy(value: Decimal) -> Decimal:
    """Cents when the value is whole cents (1809.000000 -> 1809.00), else every digit it has."""
    cents = value.quantize(CENT)
    return cents if cents == value else value.normalize()


def _exact(value: Decimal | int, scale: int) -> Decimal:
    return value if isinstance(value, Decimal) else units_to_decimal(value, scale)


def reject_required(keys: list[str]) -> list[Check]:
    return [Check(k, pl.col(k).is_null(), "missing required value") for k in keys]
