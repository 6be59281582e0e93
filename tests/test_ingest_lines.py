"""Physical line numbers (and the file hash) when records, quoted spans and wanted rows straddle
chunk boundaries."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.ingest import lines
from chimera.ingest.lines import physical_lines, scan_file

cell = st.text(alphabet=st.sampled_from(list('ab,"\n x')), max_size=8)


def _starts(text: str) -> list[int]:
    """The physical line on which each data record starts, according to the csv module."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    starts, line = [], 2
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=30),
    chunk=st.integers(1, 40), pick=st.data(),
)
def test_lines_across_chunk_boundaries(tmp_path_factory, rows, chunk, pick) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows([["h1", "h2", "h3"], *rows])
    path = Path(tmp_path_factory.mktemp("csv")) / "f.csv"
    path.write_bytes(buf.getvalue().encode())
    wanted = pick.draw(st.lists(st.integers(0, len(rows) - 1), max_size=4))
    starts = _starts(buf.getvalue())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "CHUNK", chunk)
        got = physical_lines(path, wanted)
        scanned = scan_file(path)
    assert got == {i: starts[i] for i in wanted}
    assert scanned.lines(wanted) == got  # counted per chunk while hashing, resolved later
    assert scanned.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=2, max_size=2), min_size=1, max_size=12),
    comments=st.integers(0, 3), chunk=st.integers(1, 30),
)
def test_file_scan_after_comment_lines(tmp_path_factory, rows, comments, chunk) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["h1", "h2"], *rows])
    text = "".join(f"# note {i}\n" for i in range(comments)) + buf.getvalue()
    path = Path(tmp_path_factory.mktemp("csv")) / "f.csv"
    path.write_bytes(text.encode())
    every = list(range(len(rows)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "CHUNK", chunk)
        scanned = scan_file(path, comments)
        assert scanned.lines(every) == {i: comments + line for i, line in enumerate(_starts(buf.getvalue()))}
        assert scanned.sha256 == hashlib.sha256(text.encode()).hexdigest()
