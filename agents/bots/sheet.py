"""CSV that a spreadsheet opens as data, never as a formula: the bots' name for ``chimera.sheet``.

The escaping lives in the core, since the undo of a bot's table (``chimera.changesets.inverse``)
writes its cells again and the core imports nothing from ``agents``; bots keep importing it here.
"""

from __future__ import annotations

from chimera.sheet import FORMULA_STARTS, Cell, cell, csv_text, read_cell, text_cell

__all__ = ["FORMULA_STARTS", "Cell", "cell", "csv_text", "read_cell", "text_cell"]
