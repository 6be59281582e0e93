"""Physical line numbers: across chunk boundaries, and stored with the run when found while writing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.db.models import IngestRun
from chimera.ingest import Rejection, ingest_file, lines
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


def _written(tmp_path_factory, rows: list[list[str]]) -> tuple[Path, str]:
    """A CSV of ``rows`` under a 3-column header, as the csv module writes it, and its text."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows([["h1", "h2", "h3"], *rows])
    path = Path(tmp_path_factory.mktemp("csv")) / "f.csv"
    path.write_bytes(buf.getvalue().encode())
    return path, buf.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=30),
    chunk=st.integers(1, 40), block=st.integers(1, 9), pick=st.data(),
    share=st.sampled_from([0.0, 0.25, 1.0]),
)
def test_lines_across_chunk_boundaries(tmp_path_factory, rows, chunk, block, pick, share) -> None:
    """Both ways of judging a chunk (from its quoted fields, or every newline's parity), each
    compared in cache-sized blocks, agree with the csv module wherever chunk and block boundaries fall."""
    path, text = _written(tmp_path_factory, rows)
    wanted = pick.draw(st.lists(st.integers(0, len(rows) - 1), max_size=4))
    starts = _starts(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "CHUNK", chunk)
        mp.setattr(lines, "QUOTED_SHARE", share)
        mp.setattr(lines, "BLOCK", block)
        got = physical_lines(path, wanted)
    assert got == {i: starts[i] for i in wanted}


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=30),
    chunk=st.integers(1, 40), pick=st.data(),
)
def test_lines_after_the_field_count_skip_to_the_chunks_holding_the_rows(tmp_path_factory, rows, chunk, pick) -> None:
    """After the field-count pass (``shape_tally``) read the file, ``physical_lines`` scans only
    the chunks holding the wanted rows, from the pass's marks: the lines still agree with the csv
    module, and no chunk before the first wanted one is scanned."""
    path, text = _written(tmp_path_factory, rows)
    wanted = pick.draw(st.lists(st.integers(0, len(rows) - 1), max_size=4))
    starts = _starts(text)
    scanned: list[int] = []
    real_scan = lines._scan
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "CHUNK", chunk)
        lines.shape_tally(lines.FileBytes(path), ",")
        mp.setattr(lines, "_scan", lambda arr, *a, **k: scanned.append(len(arr)) or real_scan(arr, *a, **k))
        got = physical_lines(path, wanted)
    assert got == {i: starts[i] for i in wanted}
    if wanted:
        first = sum(len(line) + 1 for line in text.split("\n")[:starts[min(wanted)] - 1])
        assert sum(scanned) <= len(text) - (first // chunk) * chunk  # the chunks before it: skipped


def test_stored_run_has_the_rejections_found_while_writing(chimera_home: Path, sample_store: Path) -> None:
    """ingest_file locates rejected rows' lines while the database rows are written; the stored
    run must still hold every rejection with its physical line, exactly as summarized."""
    client = add_client("t")
    summary = ingest_file(client, sample_store / "orders_export.csv")
    truth = list(csv.DictReader((sample_store / "malformed_rows.csv").open()))
    with session_scope() as s:
        run = s.get(IngestRun, summary.ingest_run_id)
        assert run is not None
        stored = [Rejection(**r) for r in run.rejected]
    assert stored == summary.rejected
    assert [r.line for r in stored] == [int(t["line_number"]) for t in truth]


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=70_000), start=st.integers(0, 70_000), size=st.integers(1, 20_000))
def test_mapped_windows_are_the_file_bytes_from_any_start(tmp_path_factory, data: bytes, start: int, size: int) -> None:
    """Windows start on any byte (mappings must start on a page boundary: the offset is inside)."""
    from chimera.ingest.mapped import windows

    path = Path(tmp_path_factory.mktemp("bin")) / "f.bin"
    path.write_bytes(data)
    with path.open("rb") as fh:
        got = [w.tobytes() for w in windows(fh, start, size)]
    assert b"".join(got) == data[start:] and all(0 < len(w) <= size for w in got)
