"""Physical line numbers of CSV records, computed only for the few rows that are rejected.

A quoted field may hold newlines (Shopify ``Notes``), so record *n* is not line *n + 1*. A newline
ends a record when an even number of quote characters precede it (``""`` escapes keep the
parity). The file is scanned in chunks with numpy, and the scan stops at the last record asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHUNK = 8 << 20
_QUOTE, _NL = ord('"'), ord("\n")


def header_offset(path: Path) -> int:
    """Number of physical lines before the header (GA4 exports start with ``#`` comment lines)."""
    skipped = 0
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip() and not raw.lstrip().startswith(b"#"):
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
    target = next(pending)
    with path.open("rb") as fh:
        _skip(fh, skip_lines)
        while target is not None:
            buf = fh.read(CHUNK)
            if not buf:
                break
            arr = np.frombuffer(buf, dtype=np.uint8)
            nl = np.flatnonzero(arr == _NL)
            quotes = np.flatnonzero(arr == _QUOTE)
            before = np.searchsorted(quotes, nl)  # quotes in this chunk before each newline
            parity = (before + int(in_quotes)) % 2 == 0
            ends = np.flatnonzero(parity)  # indexes into nl of record-ending newlines
            while target is not None and target < ends_seen + len(ends):
                nl_index = int(ends[target - ends_seen])
                out[target] = skip_lines + lines_seen + nl_index + 2
                target = next(pending, None)
            ends_seen += len(ends)
            lines_seen += len(nl)
            in_quotes = (len(quotes) + int(in_quotes)) % 2 == 1
    return out


def _skip(fh, n: int) -> None:
    for _ in range(n):
        fh.readline()
