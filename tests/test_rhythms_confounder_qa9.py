"""The monthly case study names every kind of confounder a record can carry with its prefix."""

from __future__ import annotations

from chimera.rhythms import _confounder


def test_a_price_change_reads_as_prices_in_the_case_study() -> None:
    c = {"kind": "price_change", "what": "unit_price", "first_day": "2026-03-02", "last_day": "2026-03-02"}
    assert _confounder(c) == "prices unit_price, 2026-03-02..2026-03-02"
    assert _confounder({"kind": "data_gap", "what": "sessions"}) == "gap in sessions"
