"""The cheaper odd-money check (one regex per row) must flag exactly what a check per cell flags."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.ingest.shopify import FAST_MAX_LEN, MONEY_IN, TOO_FINE, _too_long

money = st.one_of(
    st.none(),
    st.from_regex(r"[+-]?\d{0,4}(\.\d{0,9})?([eE][+-]?\d)?", fullmatch=True),
    st.text(alphabet=st.sampled_from(list("0123456789.,eE -x")), max_size=14),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.lists(money, min_size=len(MONEY_IN), max_size=len(MONEY_IN)), min_size=1, max_size=20))
def test_odd_money_check_matches_the_per_cell_check(values) -> None:
    """One regex over a row's values joined by commas flags exactly the rows a regex per cell flags."""
    df = pl.DataFrame([dict(zip(MONEY_IN, row, strict=True)) for row in values],
                      schema=dict.fromkeys(MONEY_IN, pl.String))
    got = df.select(_too_long(MONEY_IN).alias("odd"))["odd"].to_list()
    pattern = re.compile(TOO_FINE)
    want = [any(v is not None and (len(v.encode()) > FAST_MAX_LEN or pattern.search(v) is not None) for v in row)
            for row in values]
    assert got == want
