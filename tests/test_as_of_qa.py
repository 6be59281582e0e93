"""QA of the as-of day and partial data: a cycle of a day after the data is shown, not live; a cut
Shopify export leaves its partial days out; a sparse source never holds back the newest day."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import func, select

from chimera.as_of import DefaultDay, default_as_of, default_day
from chimera.cli.cmd_cycle import _cycle_line
from chimera.clients import ClientContext, add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import MetricPoint
from chimera.ingest import ingest_file
from chimera.ingest.frame import CUT
from chimera.metrics import load_series
from graphs.service import run_cycle
from tests.cycle_fixtures import AS_OF, START

AFTER = AS_OF + timedelta(days=7)


def _newest(shop: str) -> date:
    with session_scope() as s:
        return s.exec(select(func.max(MetricPoint.day)).where(
            MetricPoint.company_id == get_client(shop).company_id)).one()


def test_a_cycle_after_the_newest_data_is_shown_not_live(shop: str) -> None:
    future = run_cycle(shop, as_of=AFTER)
    note = f"data ends {_newest(shop)}: a cycle of {AFTER} judges no new data; it is shown, not live"
    assert future.silent and not future.pending and future.as_of_note == note
    assert note in _cycle_line(shop, future)  # `cycle --all` says it on the client's line
    normal = run_cycle(shop)  # the default day is not a replay of the future cycle
    assert normal.as_of == AS_OF and not normal.silent and "replay" not in normal.as_of_note
    again = run_cycle(shop, as_of=AFTER)
    assert again.silent and again.as_of_note == note


def test_a_cycle_whose_ingest_reaches_its_day_is_live(shop: str) -> None:
    live = run_cycle(shop, as_of=AS_OF)  # a fresh client: nothing stored before the cycle's ingest
    assert not live.silent and live.as_of_note == ""


def test_a_cycle_before_any_data_says_where_the_data_starts(shop: str) -> None:
    early = START - timedelta(days=30)
    outcome = run_cycle(shop, as_of=early)
    assert outcome.as_of_note.startswith(f"data starts {START}: a cycle of {early}")


# --------------------------------------------------------------------------- a cut Shopify export

SHOP = ["Name", "Email", "Created at", "Subtotal", "Total", "Lineitem quantity", "Lineitem price", "Notes"]


def _orders(days: dict[int, int], newest_first: bool = True) -> list[list[str]]:
    """``{day of May: orders}`` as export rows of 10.00 each, newest day first (Shopify's order)."""
    rows, n = [], 0
    for day in sorted(days, reverse=newest_first):
        for hour in range(days[day]):
            n += 1
            rows.append([f"#{n}", f"c{n}@x.com", f"2026-05-{day:02d} {10 + hour:02d}:00:00 -0400", "10.00",
                         "10.00", "1", "10.00", "a note long enough to be cut"])
    return rows


def _write(path: Path, rows: list[list[str]], cut: int = 0) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([SHOP, *rows])
    text = buf.getvalue()
    path.write_text(text[:len(text) - cut] if cut else text)
    return path


def _orders_stored(client: ClientContext) -> dict[date, int]:
    with session_scope() as s:
        return {d: int(v) for d, v in load_series(s, client.company_id, ["orders"]).get("orders", {}).items()}


def test_a_cut_export_leaves_its_partial_day_as_stored(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("cut")
    ingest_file(client, _write(tmp_path / "whole.csv", _orders({1: 5, 2: 4, 3: 3})))
    assert _orders_stored(client)[date(2026, 5, 1)] == 5
    summary = ingest_file(client, _write(tmp_path / "cut.csv", _orders({1: 5, 2: 6, 3: 7}), cut=40))
    # May 1 kept as stored (5 orders), not the 4 complete ones of the cut file
    assert _orders_stored(client) == {date(2026, 5, 1): 5, date(2026, 5, 2): 6, date(2026, 5, 3): 7}
    cut = [r for r in summary.rejected if r.reason.startswith(CUT)]
    assert len(cut) == 1, summary.rejected
    assert "2026-05-01 is left out: the file holds only part of it" in cut[0].reason


def test_a_cut_export_on_a_fresh_client_writes_no_partial_day(chimera_home: Path, tmp_path: Path) -> None:
    client = add_client("fresh")
    ingest_file(client, _write(tmp_path / "cut.csv", _orders({1: 5, 2: 6, 3: 7}), cut=40))
    assert _orders_stored(client) == {date(2026, 5, 2): 6, date(2026, 5, 3): 7}
    oldest_first = _write(tmp_path / "asc.csv", _orders({4: 2, 5: 3}, newest_first=False), cut=40)
    ingest_file(client, oldest_first)  # cut in its newest day: May 5 is left out
    assert max(_orders_stored(client)) == date(2026, 5, 4)


# --------------------------------------------------------------------------- the default day


def _points(client: ClientContext, ends: dict[str, date]) -> None:
    with session_scope() as s:
        for source, end in ends.items():
            for back in range(3):
                s.add(MetricPoint(company_id=client.company_id, metric=f"{source}_orders",
                                  day=end - timedelta(days=back), source=source, value="1"))


def test_a_sparse_source_does_not_hold_back_the_newest_day(chimera_home: Path) -> None:
    client = add_client("gigs")
    end = date(2026, 5, 3)
    _points(client, {"shopify": end, "fiverr": end - timedelta(days=1)})  # no Fiverr order on May 3
    with session_scope() as s:
        assert default_day(s, client.company_id) == DefaultDay(day=end)
    _points(add_client("shop2"), {"shopify": end - timedelta(days=1), "stripe": end})
    with session_scope() as s:  # a dense source a day behind still leaves the newest day out
        assert default_day(s, get_client("shop2").company_id).left_out == end


def test_without_data_the_default_day_is_the_stores_today(chimera_home: Path) -> None:
    client = add_client("empty")
    zone = "Pacific/Pago_Pago"  # UTC-11: its date is behind UTC's most of the day
    with session_scope() as s:
        assert default_as_of(s, client.company_id, zone) == datetime.now(ZoneInfo(zone)).date()
