"""A UTF-8 Shopify export with a stray non-UTF-8 byte far past the header sniff: read strictly
first (the fast path), then again lossily, with the same numbers as a clean copy."""

from __future__ import annotations

from pathlib import Path

import pytest

import chimera.ingest.shopify as shopify
from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.ingest import ingest_file
from chimera.ingest.detect import SNIFF_BYTES, read_header
from chimera.metrics import load_series
from tests.test_ingest_variants import SHOPIFY_HEADER, _order, _write


def _export(path: Path, orders: int) -> Path:
    rows = [SHOPIFY_HEADER]
    for i in range(orders):
        rows += _order(f"#{1000 + i}", f"2026-03-{1 + i % 28:02d} 10:00:00 -0500", [(1, "20.00"), (2, "5.50")],
                       email=f"c{i}@example.com", notes="padding " * 8)
    return _write(path, rows)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The ``lossy`` flag of each read of the file."""
    seen: list[bool] = []
    inner = shopify._read_shopify

    def spy(*args, lossy: bool, **kwargs):
        seen.append(lossy)
        return inner(*args, lossy=lossy, **kwargs)

    monkeypatch.setattr(shopify, "_read_shopify", spy)
    return seen


def _series(name: str, path: Path):
    client = add_client(name)
    summary = ingest_file(client, path)
    with session_scope() as s:
        return summary, load_series(s, client.company_id)


def _with_byte(clean: Path, out: Path, marker: bytes, byte: bytes) -> Path:
    data = clean.read_bytes()
    at = data.rindex(marker)  # the last order: far past the sniffed start
    out.write_bytes(data[:at] + marker.replace(b"padding", b"padd" + byte + b"ng", 1) + data[at + len(marker):])
    return out


def test_a_stray_byte_in_an_unread_column_changes_nothing(chimera_home: Path, tmp_path: Path,
                                                          reads: list[bool]) -> None:
    clean = _export(tmp_path / "clean.csv", 1000)
    assert clean.stat().st_size > 2 * SNIFF_BYTES
    dirty = _with_byte(clean, tmp_path / "dirty.csv", b"padding", b"\xe9")  # cp1252 `é` in Notes
    assert read_header(dirty).encoding == "utf-8"
    want, expected = _series("clean", clean)
    assert reads == [False]  # a clean file is read once, strictly
    got, series = _series("dirty", dirty)
    assert reads == [False, False, True]  # the stray byte: read again lossily
    assert series == expected and got.orders_ingested == want.orders_ingested == 1000
    assert got.rejected == [] and got.rows_read == want.rows_read


def test_a_stray_byte_in_an_email_is_read_lossily(chimera_home: Path, tmp_path: Path, reads: list[bool]) -> None:
    clean = _export(tmp_path / "clean.csv", 1000)
    data = clean.read_bytes()
    at = data.rindex(b"c999@example.com")
    dirty = tmp_path / "dirty.csv"
    dirty.write_bytes(data[:at] + b"c999\xe9@example.com" + data[at + len(b"c999@example.com"):])
    _, expected = _series("clean", clean)
    got, series = _series("dirty", dirty)
    assert reads == [False, False, True]
    assert got.orders_ingested == 1000 and got.rejected == []
    assert series == expected  # the daily sums do not read the email


def _collects(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    inner = shopify.collect

    def counting(*args, **kwargs):
        calls.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(shopify, "collect", counting)
    return calls


def test_a_plain_yen_export_is_read_in_one_pass(chimera_home: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a zero-decimal export whose fast read found a fraction or a bad row is scanned again
    for thousands groups (`1.500` yen); a plain one costs what a dollar export costs."""
    def export(name: str, currency: str, price: str) -> Path:
        rows = [SHOPIFY_HEADER]
        for i in range(50):
            rows += _order(f"#{i}", "2026-03-02 10:00:00 +0900", [(1, price)], shipping="0", taxes="0",
                           discount="0", refunded="0", currency=currency, email=f"c{i}@example.com")
        return _write(tmp_path / name, rows)

    calls = _collects(monkeypatch)
    ingest_file(add_client("usd"), export("usd.csv", "USD", "1500.00"))
    dollars = len(calls)
    calls.clear()
    yen = ingest_file(add_client("yen"), export("yen.csv", "JPY", "1500"))
    assert len(calls) == dollars and yen.rejected == []
    calls.clear()
    grouped = ingest_file(add_client("grouped"), export("grouped.csv", "JPY", "1.500"))
    assert len(calls) > dollars and grouped.rejected == []
    with session_scope() as s:
        assert load_series(s, get_client("grouped").company_id)["net_sales"] == \
            load_series(s, get_client("yen").company_id)["net_sales"]
