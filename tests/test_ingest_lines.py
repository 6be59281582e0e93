"""Physical line numbers when records, quoted spans and wanted rows straddle chunk boundaries."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.ingest import lines
from chimera.ingest.lines import physical_lines

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
    assert got == {i: starts[i] for i in wanted}

