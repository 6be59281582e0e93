"""Stripe's `Captured` column re-saved by Excel in the sheet's language (WAHR/FALSCH, VRAI/FAUX,
VERDADERO/FALSO, WAAR/ONWAAR): a paid charge marked WAHR was read as never captured, so its day's
gross and successes were 0 with nothing rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimera.ingest.detect import read_header
from chimera.ingest.lines import physical_lines
from chimera.ingest.stripe import aggregate_stripe, read_stripe

HEADER = "id;Created date (UTC);Amount;Amount Refunded;Currency;Captured;Fee;Status\n"


def _aggregate(path: Path):
    df, headers = read_stripe(path, read_header(path))
    agg = aggregate_stripe(df, lambda rows: physical_lines(path, rows, 0), headers)
    agg.settle()
    return agg


@pytest.mark.parametrize(("yes", "no"), [("WAHR", "FALSCH"), ("VRAI", "FAUX"), ("VERDADERO", "FALSO"),
                                         ("WAAR", "ONWAAR"), ("TRUE", "FALSE")])
def test_captured_in_the_sheets_language_counts_the_charge(tmp_path: Path, yes: str, no: str) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(HEADER + f"ch_1;01.03.2026 10:00;10,00;0,00;eur;{yes};0,50;Paid\n"
                    f"ch_2;01.03.2026 11:00;20,00;0,00;eur;{no};0,00;Failed\n"
                    f"ch_3;02.03.2026 11:00;30,00;30,00;eur;{no};0,00;Refunded\n", encoding="utf-8")
    agg = _aggregate(path)
    assert agg.rejected == []
    first, second = sorted(agg.days)
    assert (str(agg.days[first]["stripe_gross"]), agg.days[first]["stripe_succeeded_payments"]) == ("10.00", 1)
    assert str(agg.days[second]["stripe_refunded"]) == "0.00"  # a hold released, never captured: no refund


def test_a_captured_value_that_is_no_boolean_is_rejected_by_line(tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(HEADER + "ch_1;01.03.2026 10:00;10,00;0,00;eur;maybe;0,50;Paid\n"
                    "ch_2;01.03.2026 11:00;20,00;0,00;eur;true;0,80;Paid\n", encoding="utf-8")
    assert [(r.line, r.column, r.value) for r in _aggregate(path).rejected] == [(2, "Captured", "maybe")]
