"""CSV that a spreadsheet opens as data, never as a formula (OWASP: CSV injection).

Text in a table Chimera writes comes from a store's export or a model's draft: a product named
``=HYPERLINK("http://x","Click")`` or ``@SUM(A1)`` would run as a formula in Excel, LibreOffice or
Sheets. Every CSV a bot writes goes through ``csv_text``: a text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a leading ``'`` (the OWASP mitigation),
and the csv writer quotes and doubles any ``"`` so no cell can break out of its field. Numbers are
passed as numbers (``Decimal``, ``int``) and written as they are: ``-5.00`` stays a number.

It lives in the core because the undo of a bot's table (``chimera.changesets.inverse``) writes the
table again and must make its cells just as safe; the bots import it from ``agents.bots.sheet``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP)."""

Cell = str | int | Decimal | None

NUMBER = re.compile(r"-?\d+(\.\d+)?(E[-+]\d+)?")
"""A cell ``cell`` wrote from an ``int`` or a ``Decimal`` (``str`` of either: ``-5.00``, ``-3``, ``1E+2``)."""


def text_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: ``'`` before a formula start, and its line breaks as
    ``\\n`` (a lone ``\\r`` is left unquoted by the csv writer, whose line ends are ``\\n``, and splits
    the row for every reader). The prefix is decided on the text as given: ``\\r=cmd`` is escaped."""
    safe = f"'{text}" if text.startswith(FORMULA_STARTS) else text
    return safe.replace("\r\n", "\n").replace("\r", "\n")


def cell(value: Cell) -> str | int | Decimal:
    """A number as it is (a negative amount is data, not a formula); anything else as safe text."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return value
    return "" if value is None else text_cell(str(value))


def read_cell(text: str) -> str:
    """A cell read back from a CSV, safe to write again: a number as written (``-5.00`` stays a
    number), any other text through ``text_cell``. A cell ``csv_text`` wrote comes back unchanged
    (its text was escaped already), so re-writing a table it wrote gives back the same bytes; a
    table written before the escaping gets it."""
    return text if NUMBER.fullmatch(text) else text_cell(text)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A whole CSV document (``\\n`` line ends, minimal quoting), every cell through ``cell``.
    ``chimera.changesets.inverse`` reads and writes a table the same way (``csv_document`` of
    ``read_cell``), so undoing its undo gives back the same bytes."""
    return csv_document([[cell(name) for name in header], *([cell(value) for value in row] for row in rows)])


def csv_document(rows: Iterable[Sequence[str | int | Decimal]]) -> str:
    """Rows of cells made safe already, as CSV with ``\\n`` line ends and minimal quoting."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
