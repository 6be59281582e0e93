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
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from chimera.ingest.mapped import windows

CHUNK = 8 << 20
BLOCK = 256 << 10  # a chunk is compared block by block into one scratch mask that stays in cache
QUOTED_SHARE = 0.25  # above this share of bytes inside quotes, the direct scan is cheaper
_QUOTE, _NL = ord('"'), ord("\n")


def header_offset(path: Path, encoding: str = "utf-8") -> int:
    """Number of physical lines before the header (GA4 exports start with ``#`` comment lines),
    read as text in the file's encoding: after a UTF-8 byte-order mark, and in UTF-16, where a
    line's bytes do not start with ``#``."""
    skipped = 0
    with path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding, errors="replace", newline="") as fh:
        for line in fh:
            if line.strip() and not line.lstrip().startswith("#"):
                return skipped
            skipped += 1
    return skipped


def physical_lines(path: Path, rows: list[int], skip_lines: int = 0) -> dict[int, int]:
    """Map 0-based data-row indexes (header excluded) to 1-based physical lines of the file.

    ``skip_lines`` physical lines precede the header. The header is record 0, data row ``i``
    is record ``i + 1`` and starts one line after the ``i + 1``-th record-ending newline.
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
    with path.open("rb") as fh:
        _skip(fh, skip_lines)
        for arr in windows(fh, size=CHUNK):
            if target is None:
                break
            n_lines, n_ends, ends_of, in_quotes_after = _scan(arr, in_quotes, scratch)
            if target < ends_seen + n_ends:
                ends = ends_of()
                while target is not None and target < ends_seen + n_ends:
                    out[target] = skip_lines + lines_seen + int(ends[target - ends_seen]) + 2
                    target = next(pending, None)
            ends_seen += n_ends
            lines_seen += n_lines
            in_quotes = in_quotes_after
    return out


def _tally(arr: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, int]:
    """Positions of a chunk's quotes and its number of newlines, one cache-sized block at a time:
    both compares read the block while it is in cache and write no chunk-sized mask (allocating
    and faulting in a fresh 8 MB mask per compare cost more than the compares)."""
    parts: list[np.ndarray] = []
    n_lines = 0
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
    quotes = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    return quotes, n_lines


def _scan(
    arr: np.ndarray, in_quotes: bool, scratch: np.ndarray
) -> tuple[int, int, Callable[[], np.ndarray], bool]:
    """Newlines in a chunk, how many end a record, a function listing the ordinals (among the
    chunk's newlines) of those that do (called only for a chunk holding a wanted record), and
    whether the chunk ends inside quotes."""
    quotes, n_lines = _tally(arr, scratch)
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
        return len(nl), len(ends), lambda: ends, after
    first = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    idx = first + np.arange(total)  # every byte inside a non-empty quoted field
    quoted = idx[arr[idx] == _NL]

    def ends_of() -> np.ndarray:
        nl = np.flatnonzero(arr == _NL)
        return np.delete(np.arange(len(nl)), np.searchsorted(nl, quoted))

    return n_lines, n_lines - len(quoted), ends_of, after


def _direct_ends(nl: np.ndarray, quotes: np.ndarray, in_quotes: bool) -> np.ndarray:
    """Every newline's parity of quotes before it: for chunks that are mostly quoted text."""
    before = np.searchsorted(quotes, nl) + int(in_quotes)  # quotes before each newline
    return np.flatnonzero((before & 1) == 0)


def _skip(fh: BinaryIO, n: int) -> None:
    for _ in range(n):
        fh.readline()
