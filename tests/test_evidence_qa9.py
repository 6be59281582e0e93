"""QA 9 of evidence: untracked price changes, analytics gaps and thin data inside a play's windows.

Stores come from the project's seeded generator with the event placed relative to the play, so
nothing here depends on a sample's dates or numbers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from chimera.clients import ClientContext, add_client
from chimera.db.engine import session_scope
from chimera.demo.generator import AnalyticsGap, DemoEvents, PriceTest, generate_store
from chimera.evidence.record import log_evidence, log_manual_play
from chimera.ingest.service import ingest_file

START = date(2026, 1, 5)
DAYS = 210
PLAY_DAY = 170  # a play needs 8 placebo weeks of history and its 28 days after
_STORES: dict[tuple, Path] = {}


def _store(tmp: Path, events: DemoEvents, orders_per_day: float = 60) -> Path:
    key = (events.model_dump_json(), orders_per_day)
    if key not in _STORES:
        out = tmp / f"store{len(_STORES)}"
        generate_store(out, start=START, days=DAYS, seed=9, events=events, orders_per_day=orders_per_day)
        _STORES[key] = out
    return _STORES[key]


def _client(folder: Path) -> ClientContext:
    ctx = add_client("qa9")
    for name in ("orders_export.csv", "stripe_payments.csv", "analytics_daily.csv"):
        ingest_file(ctx, folder / name)
    return ctx


def _judged(ctx: ClientContext, play: str, day: date) -> dict:
    with session_scope() as s:
        run = log_manual_play(s, ctx, play, day, note="qa9")
        return {r.kpi: (r.verdict, list(r.confounders or []), r.details) for r in
                log_evidence(s, ctx, run, day + timedelta(days=35))}


@pytest.fixture
def priced_by_hand(chimera_home: Path, tmp_path_factory: pytest.TempPathFactory) -> ClientContext:
    """A store whose prices rose 10 % on the play's day, by a person, outside any play."""
    return _client(_store(tmp_path_factory.getbasetemp(), DemoEvents(price_test=PriceTest(day=PLAY_DAY))))


def test_a_price_change_made_by_hand_on_the_play_day_confounds_its_evidence(priced_by_hand: ClientContext) -> None:
    """Was: the product pages' refresh was judged on a conversion rate whose prices had risen 10 %
    the same day, by hand, with no confounder named."""
    day = START + timedelta(days=PLAY_DAY)
    verdict, confounders, details = _judged(priced_by_hand, "product_page_refresh", day)["conversion_rate"]
    assert verdict == "confounded", details["reason"]
    [price] = [c for c in confounders if c["kind"] == "price_change"]
    assert price["what"] == "unit_price" and "not by this play" in price["note"]
    assert abs(date.fromisoformat(price["first_day"]) - day) <= timedelta(days=7), price


@pytest.mark.parametrize("play", ["pricing_test", "bundle_offer"])
def test_a_play_that_moves_unit_prices_itself_is_not_confounded_by_them(priced_by_hand: ClientContext,
                                                                        play: str) -> None:
    """A price test re-prices; a bundle (judged on units per order) changes the basket: either moves
    the mean unit price as its own mechanism."""
    records = _judged(priced_by_hand, play, START + timedelta(days=PLAY_DAY))
    assert not [c for _, cs, _ in records.values() for c in cs if c["kind"] == "price_change"]
    if play == "pricing_test":
        assert records["aov"][0] == "moved_up", records["aov"][2]["reason"]


def test_a_quiet_store_names_no_price_change(chimera_home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ctx = _client(_store(tmp_path_factory.getbasetemp(), DemoEvents()))
    records = _judged(ctx, "product_page_refresh", START + timedelta(days=PLAY_DAY))
    assert not [c for _, cs, _ in records.values() for c in cs if c["kind"] == "price_change"]


def test_an_analytics_gap_in_the_after_window_gives_no_effect(chimera_home: Path,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    events = DemoEvents(analytics_gap=AnalyticsGap(day=PLAY_DAY + 10, days=3))
    ctx = _client(_store(tmp_path_factory.getbasetemp(), events))
    verdict, confounders, details = _judged(ctx, "product_page_refresh", START + timedelta(days=PLAY_DAY))[
        "conversion_rate"]
    assert verdict == "inconclusive" and [c["what"] for c in confounders if c["kind"] == "data_gap"] == ["sessions"]
    assert "not compared" in details["reason"]


def test_a_tiny_store_is_never_told_its_play_moved_a_kpi(chimera_home: Path,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    ctx = _client(_store(tmp_path_factory.getbasetemp(), DemoEvents(), orders_per_day=1.5))
    records = _judged(ctx, "free_shipping_threshold", START + timedelta(days=PLAY_DAY))
    assert {v for v, _, _ in records.values()} <= {"inconclusive"}, {k: d["reason"] for k, (_, _, d) in records.items()}


def test_a_before_window_at_zero_says_so_rather_than_that_the_kpi_cannot_be_computed() -> None:
    """Was: "the KPI cannot be computed on one window" beside a before of 0.00 % and an after of 3.85 %."""
    from chimera.evidence.models import EffectEstimate, PlaceboResult
    from chimera.evidence.stats import judge

    day = date(2026, 6, 22)
    est = EffectEstimate(executed_on=day, window_days=14, before_start=day - timedelta(days=14),
                         before_end=day - timedelta(days=1), after_start=day, after_end=day + timedelta(days=13),
                         before=0.0, after=0.038, after_days_available=14, after_complete=True)
    got = judge(est, PlaceboResult(), as_of=day + timedelta(days=20))
    assert got.verdict == "inconclusive" and "before-window's value is 0" in got.reason
