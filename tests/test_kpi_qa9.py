"""KPI notes on a store never seen before (QA pass 9): the UNKNOWN reasons name what is really wrong.

One seeded store from the project's generator (its own seed, start and size, never the sample
store's) is read once per module into the evaluator's series; each test changes a copy of it the way
a real store goes wrong (a quiet week, a day missing inside the data) and reads the note a user gets.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chimera.config.loader import load_config_set
from chimera.config.models import KPI
from chimera.demo.generator import GeneratedStore, generate_store
from chimera.kpi.anomaly import Score
from chimera.kpi.evaluate import _anomaly_phrase, evaluate_series
from chimera.kpi.fmt import fmt_apart, fmt_bound
from chimera.kpi.formula import Series
from tests.test_evidence_unseen import _series


@cache
def specs() -> dict[str, KPI]:
    return {k.id: k for k in load_config_set().kpis.kpis}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeneratedStore:
    return generate_store(tmp_path_factory.mktemp("qa9-kpi"), start=date(2027, 5, 11), days=75, seed=9109,
                          orders_per_day=12, malformed=0)


def series_of(store: GeneratedStore) -> Series:
    """The store's exact per-day metrics (what ingesting its exports stores), as a fresh copy."""
    return _series(store)


def test_a_week_at_zero_without_a_minimum_is_said_as_zero_and_every_window_is_accounted_for(store):
    """A KPI with no ``min_denominator`` (a client's own) over a week without one order: the note
    said '1 has orders below the minimum 0', and of 'only 0 of the 6 weekly windows' named one."""
    spec = specs()["refund_rate_orders"].model_copy(update={"min_denominator": Decimal(0)})
    series = series_of(store)
    first = min(series["orders"])
    as_of = first + timedelta(days=27)  # of the 6 earlier weekly windows, 3 end in the data, 3 before it
    quiet = as_of - timedelta(days=7)
    for i in range(7):  # the week before as-of had no order: every metric of the formula is 0
        for metric in ("orders", "refunded_orders"):
            series[metric][quiet - timedelta(days=i)] = Decimal(0)
    r = evaluate_series(spec, series, as_of)
    assert r.status == "UNKNOWN" and r.unknown_reason == "history", r.note
    assert "below the minimum 0" not in r.note, r.note
    assert r.note.endswith("can be a baseline (3 needed): 1 has orders at zero, 3 reach back before the "
                           "data starts"), r.note
    usable = 6 - 1 - 3
    assert f"only {usable} of the 6 weekly windows before {as_of}" in r.note, r.note


def test_a_window_both_longer_than_the_data_and_with_a_hole_names_the_hole_not_the_days_before(store):
    """A 90-day repeat purchase rate of a 75-day store with one day missing: the note listed 16 days
    before the first order as 'missing' (days nobody can re-ingest) next to the real gap."""
    series = series_of(store)
    first, last = min(series["orders"]), max(series["orders"])
    hole = first + timedelta(days=40)
    del series["orders"][hole]
    r = evaluate_series(specs()["repeat_purchase_rate"], series, last, customers=store.truth.customers)
    assert r.status == "UNKNOWN" and r.unknown_reason == "missing", r.note
    days = (last - first).days + 1
    assert r.note == (f"repeat_purchase_rate UNKNOWN: orders missing on {hole}; orders data starts {first}, "
                      f"only {days} of the 90 days of the 90d window to {last}"), r.note
    assert str(first - timedelta(days=1)) not in r.note


def test_a_hole_alone_and_a_young_store_alone_read_as_before(store):
    """The two plain cases keep their words: a gap lists its days, a young store its start."""
    series = series_of(store)
    last = max(series["sessions"])
    gap = [last - timedelta(days=i) for i in (2, 3)]
    for d in gap:
        del series["sessions"][d]
    r = evaluate_series(specs()["conversion_rate"], series, last)
    assert r.note == f"conversion_rate UNKNOWN: sessions missing on {gap[1]}..{gap[0]}", r.note
    young = evaluate_series(specs()["repeat_purchase_rate"], series_of(store), last,
                            customers=store.truth.customers)
    assert "missing on" not in young.note and f"orders data starts {min(series['orders'])}" in young.note


def _number(text: str) -> Decimal:
    return Decimal(text.rstrip("%").replace(",", ""))


@given(value=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("0.999999"), places=6),
       bound=st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("0.99999"), places=5))
def test_a_percent_never_reads_on_or_across_the_threshold_it_is_judged_against(value, bound):
    """'1.84%, above warning 1.843%' (a value of 0.018431) and '6.00%, below warning 6.00%' (0.059996)
    both read false: the value as shown sits on its own side of the threshold as shown."""
    shown, limit = fmt_apart(value, "percent", [bound]), fmt_bound(bound, "percent")
    assert _number(limit) / 100 == bound  # a hand-set threshold reads as set
    if value != bound:
        assert (_number(shown) > _number(limit)) == (value > bound) and shown != limit, (value, bound, shown)


@pytest.mark.parametrize(("value", "bound", "currency"), [
    ("4312.6", "4313", "JPY"), ("4313.4", "4313", "JPY"), ("1012.3349", "1012.335", "KWD"),
    ("39.6627", "39.663", "USD"), ("39.6633", "39.663", "USD")])
def test_money_never_reads_on_or_across_its_threshold_in_its_currency(value, bound, currency):
    v, b = Decimal(value), Decimal(bound)
    shown, limit = fmt_apart(v, "currency", [b], currency=currency), fmt_bound(b, "currency", currency)
    assert _number(limit) == b
    assert (_number(shown) > _number(limit)) == (v > b) and shown != limit, (shown, limit)


@pytest.mark.parametrize(("sd", "change", "level", "shown"), [
    (-3.96, -25.0, 1, "3.96 sd below its 4-week baseline 400 (-25.0%)"),  # short of CRITICAL's 4 sd
    (-2.97, -12.0, 0, "2.97 sd below its 4-week baseline 400 (-12.0%), held WARNING until under 2 sd or 5%"),
    (-4.04, -25.0, 2, "4.0 sd below its 4-week baseline 400 (-25.0%)"),  # past the bound: 1 decimal
    (3.3, 12.5, 1, "3.3 sd above its 4-week baseline 400 (+12.5%)"),
])
def test_an_sd_short_of_a_rule_never_reads_as_its_bound(sd, change, level, shown):
    """3.96 sd and -25 % (WARNING: CRITICAL needs 4 sd) read '4.0 sd ... (-25.0%)', both of
    CRITICAL's numbers, under a WARNING status."""
    score = Score(level=level, baseline=Decimal(400), weeks=4, sd_score=sd, change_pct=change, hold=max(level, 1))
    phrase = _anomaly_phrase(specs()["orders"], score, max(level, 1), "USD")
    assert phrase == shown
    shown_sd = float(phrase.split(" sd")[0])
    assert all((shown_sd >= bound) == (abs(sd) >= bound) for bound in (2, 3, 4))
