"""Benchmark: how often the evidence judge claims a move that did not happen, and finds one that did.

Seeded stores from the project's generator (``chimera.demo.generator``, ~60 orders a day, weekly
pattern, 22 weeks of history before the play) are judged on two-KPI plays:
  - no effect: pricing_test (aov, net_revenue), free_shipping_threshold (aov, conversion_rate),
    checkout on (conversion_rate, orders), each on a Monday and a Thursday;
  - no effect with slow demand swings (the same stores, orders and sales times a slowly wandering
    factor, as campaigns and news do): days are no longer independent, the placebo's job;
  - a real effect: prices +10 % (aov, net_revenue), conversion +15 % (conversion_rate).
"before" is the former rule (interval excludes 0 and beats 90 % of up to 14 placebo dates, each KPI
alone); "after" is the judge as shipped (noise and placebo tests, Holm over the play's KPIs).
Run: python benchmarks/evidence_calibration.py [--stores N]   (about 80 s of one core at the default 30)
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chimera.demo import generator
from chimera.evidence import stats
from chimera.evidence.models import Judgement

START = date(2025, 1, 6)  # a Monday
DAYS, PLAY_DAY, WINDOW = 212, 154, 28
FORMULAS = {"aov": "net_sales / orders", "net_revenue": "total_sales - refunded_amount",
            "conversion_rate": "orders / sessions", "orders": "orders"}
NULL_PLAYS = [("aov", "net_revenue"), ("aov", "conversion_rate"), ("conversion_rate", "orders")]
MOVED = ("moved_up", "moved_down")


def _store(seed: int, events: generator.DemoEvents) -> dict:
    """The generator's truth as daily series; its export files are not needed here, so writing them
    is skipped (2/3 of its time; a ``write=False`` option in the generator would be cleaner)."""
    saved = generator._write_shopify, generator._write, generator.stripe_rows
    generator._write_shopify, generator._write = (lambda *a, **k: []), (lambda *a, **k: None)
    generator.stripe_rows = lambda *a, **k: []
    try:
        store = generator.generate_store(Path(tempfile.mkdtemp(prefix="evcal-")), start=START, days=DAYS,
                                         seed=seed, events=events, malformed=0)
    finally:
        generator._write_shopify, generator._write, generator.stripe_rows = saved
    out: dict = {}
    for data in (store.truth.shopify, store.truth.analytics):
        for day, metrics in data.items():
            for metric, value in metrics.items():
                out.setdefault(metric, {})[day] = value
    return out


def _swings(series: dict, seed: int, rho: float = 0.93, sd: float = 0.03) -> dict:
    """Orders and sales times exp(AR(1)): demand that wanders for weeks (sd ~8 %), sessions untouched."""
    rng = np.random.default_rng(seed)
    out, level = {m: dict(v) for m, v in series.items()}, 0.0
    for day in sorted(series["orders"]):
        level = rho * level + rng.normal(0, sd)
        factor = math.exp(level)
        for metric in ("orders", "net_sales", "total_sales", "refunded_amount"):
            if day in out[metric]:
                out[metric][day] = Decimal(round(float(out[metric][day]) * factor, 0 if metric == "orders" else 2))
    return out


def _old(series: dict, kpi: str, executed: date, as_of: date) -> str:
    est = stats.estimate(FORMULAS[kpi], series, executed, as_of, window_days=WINDOW, weekday_balanced=False)
    plac = stats.placebo(FORMULAS[kpi], series, executed, WINDOW, est.effect_pct, max_dates=14)
    claimed = est.interval_excludes_zero and plac.enough and (plac.share_beaten or 0) >= 0.9
    return ("moved_up" if (est.effect_pct or 0) > 0 else "moved_down") if claimed else "other"


def _new(series: dict, kpis: tuple[str, ...], executed: date, as_of: date) -> dict[str, Judgement]:
    judges = {}
    for kpi in kpis:
        est = stats.estimate(FORMULAS[kpi], series, executed, as_of, window_days=WINDOW)
        plac = stats.placebo(FORMULAS[kpi], series, executed, WINDOW, est.effect_pct)
        judges[kpi] = partial(stats.judge, est, plac, as_of=as_of)
    return stats.judge_together(judges)


def _plays(series: dict, plays: list[tuple[str, ...]], executed: date) -> tuple[list[dict], list[dict]]:
    """Verdicts per play under the former rule and the current one."""
    as_of = executed + timedelta(days=WINDOW + 2)
    old_by_kpi = {k: _old(series, k, executed, as_of) for k in {k for p in plays for k in p}}
    old = [{k: old_by_kpi[k] for k in play} for play in plays]
    new = [{k: j.verdict for k, j in _new(series, play, executed, as_of).items()} for play in plays]
    return old, new


def _rate(values: list[bool]) -> str:
    return f"{100 * sum(values) / max(len(values), 1):5.1f} %"


def main(stores: int = 30) -> None:
    t0 = time.perf_counter()
    weekly = generator.WeeklySeasonality()
    tally: dict[str, dict[str, list[bool]]] = {"before": {}, "after": {}}

    def count(label: str, verdicts: tuple[list[dict], list[dict]], hits: Callable[[dict], list[bool]]) -> None:
        """Add each play's hits (one per play, or one per KPI) under ``label``, before and after."""
        for key, runs in zip(("before", "after"), verdicts, strict=True):
            tally[key].setdefault(label, []).extend(h for v in runs for h in hits(v))

    for seed in range(stores):
        series = _store(1000 + seed, generator.DemoEvents(weekly=weekly))
        for name, data in (("no effect", series), ("no effect, demand swings", _swings(series, seed))):
            for offset in (PLAY_DAY, PLAY_DAY + 3):
                verdicts = _plays(data, NULL_PLAYS, START + timedelta(days=offset))
                count(f"{name}: plays with a KPI claimed moved", verdicts,
                      lambda v: [any(x in MOVED for x in v.values())])
                count(f"{name}: KPIs claimed moved", verdicts, lambda v: [x in MOVED for x in v.values()])
    executed = START + timedelta(days=PLAY_DAY)
    for seed in range(stores):
        rise = generator.PriceTest(day=PLAY_DAY, factor=Decimal("1.10"))
        verdicts = _plays(_store(2000 + seed, generator.DemoEvents(weekly=weekly, price_test=rise)),
                          [("aov", "net_revenue")], executed)
        count("prices +10 %: aov moved_up", verdicts, lambda v: [v["aov"] == "moved_up"])
        count("prices +10 %: net_revenue moved_up", verdicts, lambda v: [v["net_revenue"] == "moved_up"])
        lift = generator.ConversionDrop(day=PLAY_DAY, relative_change=0.15)
        verdicts = _plays(_store(3000 + seed, generator.DemoEvents(weekly=weekly, conversion_drop=lift)),
                          [("aov", "conversion_rate")], executed)
        count("conversion +15 %: conversion_rate moved_up", verdicts, lambda v: [v["conversion_rate"] == "moved_up"])
        count("conversion +15 %: aov (unmoved) claimed", verdicts, lambda v: [v["aov"] in MOVED])
    width = max(len(k) for k in tally["after"])
    print(f"evidence calibration: {stores} seeded stores per scenario, {WINDOW}-day windows, "
          f"{PLAY_DAY // 7} weeks of history, alpha 0.05")
    print(f"{'':{width}}  before    after")
    for label in tally["after"]:
        print(f"{label:{width}}  {_rate(tally['before'][label])}  {_rate(tally['after'][label])}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=30)
    main(parser.parse_args().stores)
