"""CSV injection: text from a store's export (or a model's draft) never reaches a spreadsheet as a
formula, while numbers, a negative one too, stay numbers.

Was: a product named ``=HYPERLINK("http://x","Click")`` or ``@SUM(A1)`` went into the Shopify bot's
price table as written, so Excel, LibreOffice or Sheets would run it when a person opened the table
(or its undo). Every test reads the CSV back as a spreadsheet would get it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agents.bots.sheet import FORMULA_STARTS, csv_text
from chimera.changesets import ChangeSet, DryRunAdapter, inverse
from tests.test_bots_unseen_qa5 import _run, _shop

HOSTILE = {
    "EQ-1": '=HYPERLINK("http://evil.example","Click")',
    "PLUS-2": "+1+cmd|' /C calc'!A0",
    "MINUS-3": "-2+3+cmd|' /C calc'!A0",
    "AT-4": "@SUM(1+1)*cmd|' /C calc'!A0",
    "-5": "Plain mug",  # a SKU is text too: "-5" is no price
}


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _is_live(value: str) -> bool:
    return value.startswith(FORMULA_STARTS)


def _price_table(tmp_path: Path, change_pct: int = 10) -> ChangeSet:
    lines = [(sku, 9 - i, f"{10 + i}.00", name) for i, (sku, name) in enumerate(HOSTILE.items())]
    return _run(_shop(tmp_path, [("#1", lines)]), "shopify_bot", "update_prices",
                {"change_pct": change_pct, "count": 5})


def test_a_formula_in_a_product_name_or_sku_is_text_in_the_price_table(tmp_path: Path) -> None:
    cs = _price_table(tmp_path)
    header, *rows = _rows(cs.asset.content)
    assert header == ["sku", "name", "price_before", "price_after", "units_sold"]
    assert not any(_is_live(value) for row in rows for value in row[:2])
    assert {(sku, name) for sku, name, *_ in rows} == {
        (f"'{sku}" if _is_live(sku) else sku, f"'{name}" if _is_live(name) else name) for sku, name in HOSTILE.items()}
    # the prices and units are numbers as before; each row's change is the one recorded
    by_target = {c.target: c for c in cs.changes}
    for sku, _name, before, after, units in rows:
        change = by_target[f"product:{sku.removeprefix(chr(39))}"]
        assert (before, after) == (change.before, change.after) and Decimal(after) > Decimal(before) > 0
        assert int(units) > 0


def test_the_undo_and_the_outbox_file_keep_the_names_harmless(tmp_path: Path, chimera_home: Path) -> None:
    """The asset as the dry-run adapter writes it to the outbox, and the undo's table, read back."""
    from chimera.clients import add_client
    from chimera.db.engine import session_scope

    cs = _price_table(tmp_path, change_pct=-10)
    company = add_client("shop").company_id
    with session_scope() as s:
        written = Path(DryRunAdapter().apply(s, company, "shop", "job:1", cs, None).asset_path)
    on_disk = _rows(written.read_text(encoding="utf-8"))
    assert on_disk == _rows(cs.asset.content)
    undo = inverse(cs, "job:1")
    swapped = _rows(undo.asset.content)
    assert not any(_is_live(value) for row in swapped[1:] for value in row[:2])
    assert [[*r[:2], r[3], r[2], r[4]] for r in swapped[1:]] == on_disk[1:]  # only the prices swapped
    assert all(Decimal(r[3]) < Decimal(r[2]) for r in on_disk[1:])  # a price cut: lower prices, as numbers
    assert inverse(undo, "revert:job:1").asset == cs.asset  # undoing the undo gives back the same bytes


def test_numbers_stay_numbers_even_negative_and_text_that_looks_like_one_is_text() -> None:
    table = csv_text(["name", "change", "units"], [["Mug", Decimal("-5.00"), -3], ["-5.00", Decimal("0.10"), 2],
                                                   ["@x", None, 0]])
    assert table == "name,change,units\nMug,-5.00,-3\n'-5.00,0.10,2\n'@x,,0\n"
    rows = _rows(table)[1:]
    assert [Decimal(r[1]) for r in rows[:2]] == [Decimal("-5.00"), Decimal("0.10")]  # a spreadsheet's numbers
    assert [int(r[2]) for r in rows] == [-3, 2, 0]


def test_tab_and_carriage_return_starts_are_escaped_and_the_row_stays_whole() -> None:
    table = csv_text(["sku", "name"], [["A", "\t=1+1"], ["B", "\r=1+1"], ["C", "'=already quoted"]])
    assert _rows(table)[1:] == [["A", "'\t=1+1"], ["B", "'\n=1+1"], ["C", "'=already quoted"]]


@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=5), price=st.decimals(allow_nan=False,
                                                                                          allow_infinity=False))
def test_any_text_reads_back_harmless_and_whole_and_any_number_as_written(texts: list[str], price: Decimal) -> None:
    table = csv_text(["text", "price"], [[t, price] for t in texts])
    rows = _rows(table)[1:]
    assert len(rows) == len(texts) and all(len(r) == 2 for r in rows)
    for (cell, number), original in zip(rows, texts, strict=True):
        assert not _is_live(cell)
        flat = original.replace("\r\n", "\n").replace("\r", "\n")
        assert cell == (f"'{flat}" if _is_live(original) else flat)
        assert number == str(price)
