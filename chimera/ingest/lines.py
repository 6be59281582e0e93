"""Physical line numbers of CSV records, computed only for the few rows that are rejected.

A quoted field may hold newlines (Shopify ``Notes``), so record *n* is not line *n + 1*. A newline
ends a record when an even number of quote characters precede it (``""`` escapes keep the
parity). The file is scanned in chunks with numpy, each a window mapped from the page cache (see
``chimera.ingest.mapped``), and the scan stops at the last record asked for.

Most quoted fields hold no newline (``""``, a name with a comma), so a chunk is judged from its
quotes: only the bytes inside non-empty quoted fields are searched for newlines, and newline
positions are listed only in a chunk holding a wanted record. A chunk that is mostly quoted text
takes the direct scan (every newline's quote parity).
(Counting records per chunk while hashing, ahead of knowing any bad row, was measured: it costs a
clean file ~0.3 s CPU beside the polars parse and gains nothing when rows are bad.)

A UTF-16 file (Excel's "Unicode Text") is scanned as its UTF-8 transcoding: its code units hold
`"` and newline bytes inside other characters (`™` is 0x22 0x21), so its raw bytes mislead.

``record_shapes`` finds the records whose number of fields differs from the header's (an unquoted
comma shifts every later column; an unquoted line break splits a record; a download cut mid-row
ends the file inside one). It only runs when polars reported a ragged line or the cheap whole-file
tally (``shape_tally``: fields outside quotes against records) does not add up.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import re
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from chimera.ingest.mapped import windows

CHUNK = 8 << 20
BLOCK = 256 << 10  # a chunk is compared block by block into one scratch mask that stays in cache
QUOTED_SHARE = 0.25  # above this share of bytes inside quotes, the direct scan is cheaper
_QUOTE, _NL = ord('"'), ord("\n")


SEP_DIRECTIVE = re.compile(r'^\s*"?sep=([,;\t])"?[,;\t]*\s*$', re.IGNORECASE)
"""Excel's separator directive (`sep=;`), a file's first line when someone made Excel split its
columns (a European Excel reads commas as one column otherwise); a sheet re-saved with it in its
first cell writes it followed by the row's empty cells (`sep=;;;`)."""


def header_offset(path: Path, encoding: str = "utf-8") -> int:
    """Number of physical lines before the header (GA4 exports start with ``#`` comment lines; a
    first line ``sep=;`` is Excel's directive, no header), read as text in the file's encoding:
    after a UTF-8 byte-order mark, and in UTF-16, where a line's bytes do not start with ``#``."""
    skipped = 0
    with path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding, errors="replace", newline="") as fh:
        for line in fh:
            directive = not skipped and SEP_DIRECTIVE.match(line) is not None
            if line.strip() and not line.lstrip().startswith("#") and not directive:
                return skipped
            skipped += 1
    return skipped


@dataclass(frozen=True)
class Mark:
    """Where a chunk of ``FileBytes.chunks`` starts: record-ending newlines and all newlines
    before it, and whether it starts inside quotes."""

    ends: int
    lines: int
    in_quotes: bool


_MARKS: dict[tuple[object, ...], tuple[Mark, ...]] = {}
"""The chunk marks of the files ``shape_tally`` read lately, by path, header offset, size and time."""
_REMEMBERED = 8


def _file_key(source: FileBytes) -> tuple[object, ...]:
    st = source.path.stat()
    return str(source.path.resolve()), source.base, source.utf16, st.st_size, st.st_mtime_ns, CHUNK


def _remember(source: FileBytes, marks: tuple[Mark, ...]) -> None:
    while len(_MARKS) >= _REMEMBERED:
        _MARKS.pop(next(iter(_MARKS)))
    _MARKS[_file_key(source)] = marks


def physical_lines(path: Path, rows: list[int], skip_lines: int = 0) -> dict[int, int]:
    """Map 0-based data-row indexes (header excluded) to 1-based physical lines of the file.

    ``skip_lines`` physical lines precede the header. The header is record 0, data row ``i``
    is record ``i + 1`` and starts one line after the ``i + 1``-th record-ending newline.
    When the field-count pass (``shape_tally``) has read the same file, unchanged, its chunk
    marks let only the chunks holding a wanted row be scanned: a rejected row near the end of a
    450 MB export otherwise cost a whole pass (~0.3 s CPU).
    """
    wanted = sorted(set(rows))
    if not wanted:
        return {}
    out: dict[int, int] = {}
    ends_seen = 0  # record-ending newlines seen so far (after the skipped lines)
    lines_seen = 0  # all newlines seen so far (after the skipped lines)
    in_quotes = False
    pending = iter(wanted)
    target: int | None = next(pending)
    scratch = np.empty(min(BLOCK, CHUNK), dtype=bool)
    source = FileBytes(path, skip_lines)
    marks = _MARKS.get(_file_key(source), ())
    with closing(source.chunks()) as chunks:
        for i, (_start, arr) in enumerate(chunks):
            if target is None:
                break
            if i + 1 < len(marks) and target >= marks[i + 1].ends:  # the wanted row is further on
                ends_seen, lines_seen, in_quotes = marks[i + 1].ends, marks[i + 1].lines, marks[i + 1].in_quotes
                continue
            n_lines, n_ends, ends_of, in_quotes_after, _ = _scan(arr, in_quotes, scratch)
            if target < ends_seen + n_ends:
                ends = ends_of()
                while target is not None and target < ends_seen + n_ends:
                    out[target] = skip_lines + lines_seen + int(ends[target - ends_seen]) + 2
                    target = next(pending, None)
            ends_seen += n_ends
            lines_seen += n_lines
            in_quotes = in_quotes_after
    return out


def _tally(arr: np.ndarray, scratch: np.ndarray, sep: int | None = None) -> tuple[np.ndarray, int, int]:
    """Positions of a chunk's quotes, its number of newlines (and of ``sep`` bytes, when given), one
    cache-sized block at a time: the compares read the block while it is in cache and write no
    chunk-sized mask (allocating and faulting in a fresh 8 MB mask per compare cost more than the compares)."""
    parts: list[np.ndarray] = []
    n_lines = n_seps = 0
    step = len(scratch)
    for start in range(0, len(arr), step):
        block = arr[start:start + step]
        mask = scratch[:len(block)]
        np.equal(block, _QUOTE, out=mask)
        found = np.flatnonzero(mask)
        if len(found):
            parts.append(found + start)
        np.equal(block, _NL, out=mask)
        n_lines += int(np.count_nonzero(mask))
        if sep is not None:
            np.equal(block, sep, out=mask)
            n_seps += int(np.count_nonzero(mask))
    quotes = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    return quotes, n_lines, n_seps


def _scan(
    arr: np.ndarray, in_quotes: bool, scratch: np.ndarray, sep: int | None = None
) -> tuple[int, int, Callable[[], np.ndarray], bool, int]:
    """Newlines in a chunk, how many end a record, a function listing the ordinals (among the
    chunk's newlines) of those that do (called only for a chunk holding a wanted record), whether
    the chunk ends inside quotes, and (with ``sep``) how many separators lie outside quotes."""
    quotes, n_lines, n_seps = _tally(arr, scratch, sep)
    after = (len(quotes) + int(in_quotes)) % 2 == 1
    bounds = np.concatenate(([-1], quotes)) if in_quotes else quotes
    opens, closes = bounds[0::2], bounds[1::2]
    if len(opens) > len(closes):  # a field still open at the chunk's end
        closes = np.append(closes, len(arr))
    inside = closes - opens - 1
    keep = inside > 0
    starts, lengths = opens[keep] + 1, inside[keep]
    total = int(lengths.sum())
    if total > QUOTED_SHARE * len(arr):
        nl = np.flatnonzero(arr == _NL)
        ends = _direct_ends(nl, quotes, in_quotes)
        seps = len(_direct_ends(np.flatnonzero(arr == sep), quotes, in_quotes)) if sep is not None else 0
        return len(nl), len(ends), lambda: ends, after, seps
    first = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    idx = first + np.arange(total)  # every byte inside a non-empty quoted field
    inside = arr[idx]
    quoted = idx[inside == _NL]
    seps = n_seps - int(np.count_nonzero(inside == sep)) if sep is not None else 0

    def ends_of() -> np.ndarray:
        nl = np.flatnonzero(arr == _NL)
        return np.delete(np.arange(len(nl)), np.searchsorted(nl, quoted))

    return n_lines, n_lines - len(quoted), ends_of, after, seps


def _direct_ends(nl: np.ndarray, quotes: np.ndarray, in_quotes: bool) -> np.ndarray:
    """Ordinals of the given positions (newlines, separators) outside quotes, from the parity of
    the quotes before each: for chunks that are mostly quoted text."""
    before = np.searchsorted(quotes, nl) + int(in_quotes)  # quotes before each newline
    return np.flatnonzero((before & 1) == 0)


def _skip(fh: BinaryIO, n: int) -> None:
    for _ in range(n):
        fh.readline()


class FileBytes:
    """A file's bytes after ``skip_lines`` lines, in chunks with their offsets: windows mapped from
    the page cache, or, for UTF-16, its UTF-8 transcoding in memory (see the module's docstring)."""

    def __init__(self, path: Path, skip_lines: int = 0) -> None:
        self.path = path
        with path.open("rb") as fh:
            self.utf16 = fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
            fh.seek(0)
            _skip(fh, 0 if self.utf16 else skip_lines)
            self.base = fh.tell()  # where the header starts (for UTF-16: in the transcoding)
        self._data: bytes | None = None
        if self.utf16:
            text = path.read_bytes().decode("utf-16", errors="replace").encode("utf-8")
            for _ in range(skip_lines):
                self.base = text.find(b"\n", self.base) + 1 or len(text)
            self._data = text

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._data is not None:
            data = np.frombuffer(self._data, dtype=np.uint8)[self.base:]
            for start in range(0, len(data), CHUNK):
                yield start, data[start:start + CHUNK]
            return
        with self.path.open("rb") as fh:
            for start, arr in enumerate_windows(fh, self.base):
                yield start, arr

    def view(self) -> bytes | mmap.mmap:
        """All the bytes at once (mapped, for a file), to slice at ``base`` + offset: few, scattered reads."""
        if self._data is not None:
            return self._data
        with self.path.open("rb") as fh:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if self.path.stat().st_size else b""


def enumerate_windows(fh: BinaryIO, base: int) -> Iterator[tuple[int, np.ndarray]]:
    """``windows`` from ``base`` with each one's offset from ``base``."""
    pos = 0
    for arr in windows(fh, base, CHUNK):
        yield pos, arr
        pos += len(arr)


# --------------------------------------------------------------------------- record shapes


@dataclass(frozen=True)
class Shapes:
    """Data records (0-based, header excluded) whose field count is not the header's ``width``."""

    width: int
    fields: dict[int, int] = field(default_factory=dict)
    """Data row -> its number of fields, for the rows that differ (blank lines are no records)."""
    cut: int | None = None
    """The last data row, when the file ends inside it: a short unterminated last line, or inside quotes."""
    open_tail: list[str] | None = None
    """The fields of a last record the file ends inside quotes of (polars cannot read it; csv can)."""
    records: int = 0
    """Data records in the file (counted only when some shape differs)."""
    trimmed: frozenset[int] = frozenset()
    """Short rows of ``fields`` that only lack trailing empty fields: the file's writer leaves them
    out (no record of the file ends with an empty field), so the cells written are in place and the
    rest are empty (see ``_trimmed``)."""
    padded: int = 0
    """Empty fields the writer adds after every data record's last (a separator ending each row,
    not the header): rows of ``width + padded`` fields whose extra ones are empty (``_padded``)."""
    headers: dict[int, int] = field(default_factory=dict)
    """Misshapen rows starting with the header's first name: another export's header (two joined
    with `cat`, with other columns) -> its field count."""

    @property
    def too_many(self) -> bool:
        return any(n > self.width for n in self.fields.values())

    @property
    def misshapen(self) -> dict[int, int]:
        """``fields`` without the ``trimmed`` and ``padded`` rows: the rows whose cells cannot be trusted."""
        if not self.trimmed and not self.padded:
            return self.fields
        padded = self.width + self.padded if self.padded else None
        return {row: n for row, n in self.fields.items() if row not in self.trimmed and n != padded}


def shape_tally(source: FileBytes, sep: str) -> tuple[int, int, bool, bool]:
    """(separators outside quotes, records, whether the file ends inside quotes, whether its last
    line is unterminated) in one numpy pass (~0.1 s per 450 MB): a file whose every record has the
    header's field count has ``(width - 1) * records`` separators."""
    scratch = np.empty(min(BLOCK, CHUNK), dtype=bool)
    seps = ends = lines = 0
    in_quotes, last = False, _NL
    marks = [Mark(0, 0, False)]
    for _start, arr in source.chunks():
        n_lines, n_ends, _, in_quotes, n_seps = _scan(arr, in_quotes, scratch, ord(sep))
        seps, ends, lines = seps + n_seps, ends + n_ends, lines + n_lines
        marks.append(Mark(ends, lines, in_quotes))
        last = int(arr[-1]) if len(arr) else last
    _remember(source, tuple(marks))  # for physical_lines
    unterminated = last != _NL
    return seps, ends + int(unterminated), in_quotes, unterminated


def record_shapes(path: Path, width: int, sep: str = ",", skip_lines: int = 0, encoding: str = "utf-8") -> Shapes:
    """The records whose field count is not ``width`` (the header's). A quick tally first: a
    well-formed file costs one numpy pass; the exact count runs only when the tally does not add up."""
    source = FileBytes(path, skip_lines)
    seps, records, open_end, unterminated = shape_tally(source, sep)
    if not open_end and seps == (width - 1) * records:
        return Shapes(width)
    per_record, record_end = _field_counts(source, sep, unterminated or open_end)
    shapes = _shapes(source, per_record, record_end, width, sep)
    last = shapes.records - 1
    if open_end and last >= 0:  # polars cannot read a record the file ends inside quotes of; csv can
        fields = {**shapes.fields, last: int(per_record[-1])}
        raw = bytes(source.view()[source.base + int(record_end[-2]) + 1:])
        text = raw.decode("utf-8" if source.utf16 else encoding, errors="replace")
        tail = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), [])
        if tail and "\n" in tail[-1] and tail[-1].count(sep) >= width - 1:  # it swallowed whole records:
            return shapes  # a stray quote, not a cut (polars refuses the file; the error names the quote)
        shapes = Shapes(width, fields, last, tail, shapes.records)
    elif unterminated and shapes.fields.get(last, width) < width:  # a download cut mid-line
        shapes = Shapes(width, shapes.fields, last, None, shapes.records)
    tails = _Tails(source, record_end, sep)
    padded = _padded(tails, shapes, per_record)
    if padded:
        return replace(shapes, padded=padded)
    trimmed = _trimmed(tails, shapes)
    return replace(shapes, trimmed=trimmed) if trimmed else shapes


class _Tails:
    """The data records' last bytes and first fields, for the few files whose shapes differ."""

    def __init__(self, source: FileBytes, record_end: np.ndarray, sep: str) -> None:
        self.sep = sep
        self.data = source.view()
        self.raw = np.frombuffer(self.data, dtype=np.uint8)
        self.starts = record_end[:-1].astype(np.int64) + source.base + 1  # data records: after the header's end
        ends = record_end[1:].astype(np.int64) + source.base  # at their newline (or the file's end)
        self.ends = ends - (self.raw[ends - 1] == ord("\r")) if len(ends) else ends  # CRLF: before the CR

    def back(self, k: int) -> np.ndarray:
        """Each record's k-th byte from its end (0 where it is shorter)."""
        at = self.ends - k
        return np.where(at >= self.starts, self.raw[np.maximum(at, 0)], 0)

    def empty_ends(self, k: int = 1) -> np.ndarray:
        """Whether each record ends with ``k`` empty fields (separators, or a last `""`)."""
        sep = ord(self.sep)
        last_quoted = (self.back(1) == _QUOTE) & (self.back(2) == _QUOTE) & (
            (self.back(3) == sep) | (self.ends - 2 == self.starts))
        empty = (self.back(1) == sep) | (last_quoted if k == 1 else False)
        for j in range(2, k + 1):
            empty = empty & (self.back(j) == sep)
        return empty

    def first_field(self, row: int) -> bytes:
        """A data row's bytes up to its first separator."""
        return bytes(self.data[int(self.starts[row]):int(self.ends[row])]).split(self.sep.encode(), 1)[0]


def _padded(tails: _Tails, shapes: Shapes, per_record: np.ndarray) -> int:
    """k when the writer ends every data row with k more separators than the header has (some
    scripts write `value,` per field): no data record has the header's field count, and those of
    the usual count, ``width + k``, all end with k empty fields; 0 otherwise. A row of another count
    (an unquoted comma) stays misshapen, and so does every long row of a file whose other rows
    have the header's count (its last empty field may be a shifted one)."""
    counts = list(shapes.fields.values())
    if not counts or shapes.cut is not None or bool((per_record[1:] == shapes.width).any()):
        return 0
    k = max(set(counts), key=counts.count) - shapes.width
    if k <= 0:
        return 0
    rows = [row for row, n in shapes.fields.items() if n == shapes.width + k]
    return k if bool(tails.empty_ends(k)[rows].all()) else 0


def _trimmed(tails: _Tails, shapes: Shapes) -> frozenset[int]:
    """The short rows written by a writer that leaves out a row's trailing empty fields (some
    scripts, apps and spreadsheet saves do: a continuation row then stops at its last value): the
    cells it has are in place, the rest are empty. Such a file has no record ending with an empty
    field (a separator before its newline); one that has any keeps every short row misshapen (a
    row that lost cells). A short row that, with one or two neighbouring rows, could rebuild one
    record (field counts adding up to the header's, as the parts of a record split by an
    unquoted line break do; not rows each starting alike, as an order's line items do) stays
    misshapen, and so does a cut last row. A numpy look at each record's last bytes; only run
    for a file with short rows."""
    short = sorted(row for row, n in shapes.fields.items() if n < shapes.width and row != shapes.cut)
    if not short or not len(tails.ends):
        return frozenset()
    if bool(tails.empty_ends().any()):  # the writer keeps empty fields: a short row lost cells
        return frozenset()

    def count(row: int) -> int:
        return shapes.fields.get(row, shapes.width)

    split = set()
    for row in short:  # two or three neighbouring parts of one record split by a line break ...
        for parts in (2, 3):
            for first in range(max(row - parts + 1, 0), min(row, shapes.records - parts) + 1):
                rows = range(first, first + parts)
                alike = len({tails.first_field(r) for r in rows}) == 1  # ... not rows each starting alike
                if sum(count(r) for r in rows) - (parts - 1) == shapes.width and not alike:  # (an order's lines)
                    split.update(r for r in rows if r in shapes.fields)
    return frozenset(row for row in short if row not in split)


def _field_counts(source: FileBytes, sep: str, unended: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every record's field count and end offset (header first), vectorized per chunk: the
    separators outside quotes between record-ending newlines. ``unended``: the last record has none."""
    counts: list[np.ndarray] = []
    bounds: list[np.ndarray] = []
    carry, in_quotes, total = 0, False, 0
    for start, arr in source.chunks():
        quotes = np.flatnonzero(arr == _QUOTE)
        seps, ends = (pos[((np.searchsorted(quotes, pos) + int(in_quotes)) & 1) == 0]
                      for pos in (np.flatnonzero(arr == ord(sep)), np.flatnonzero(arr == _NL)))
        before = np.searchsorted(seps, ends)
        if len(ends):
            per = np.diff(before, prepend=0)
            per[0] += carry
            counts.append(per)
            bounds.append(ends + start)
            carry = len(seps) - int(before[-1])
        else:
            carry += len(seps)
        in_quotes = (len(quotes) + int(in_quotes)) % 2 == 1
        total = start + len(arr)
    if unended:
        counts.append(np.array([carry]))
        bounds.append(np.array([total]))
    empty = np.empty(0, dtype=np.intp)
    return (np.concatenate(counts) + 1 if counts else empty), (np.concatenate(bounds) if bounds else empty)


def _shapes(source: FileBytes, per_record: np.ndarray, record_end: np.ndarray, width: int, sep: str) -> Shapes:
    """The data rows whose count differs, except blank lines (polars reads them as empty rows, which
    are no records)."""
    data = source.view()
    fields: dict[int, int] = {}
    headers: dict[int, int] = {}
    names = _first_field(bytes(data[source.base:source.base + int(record_end[0])]) if len(record_end) else b"", sep)
    for record in np.flatnonzero(per_record != width).tolist():
        if not record:
            continue  # the header
        text = bytes(data[source.base + int(record_end[record - 1]) + 1:source.base + int(record_end[record])])
        if _has_value(text, sep):  # a blank line is no record
            fields[record - 1] = int(per_record[record])
            if names and _first_field(text, sep) == names:
                headers[record - 1] = int(per_record[record])
    return Shapes(width, fields, records=max(len(per_record) - 1, 0), headers=headers)


def _first_field(record: bytes, sep: str) -> str:
    """A record's first field as the csv module reads it, without a byte-order mark or padding."""
    text = record.decode("utf-8", errors="replace")
    row = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), [""])
    return (row[0] if row else "").lstrip("\ufeff").strip()


def _has_value(record: bytes, sep: str) -> bool:
    """Whether a record holds any non-blank field (polars reads a blank line as an empty row)."""
    text = record.decode("utf-8", errors="replace")
    return any(f.strip() for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep) for f in row)
