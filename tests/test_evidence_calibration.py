"""Calibration of the evidence judge: the placebo test, the correction over a play's KPIs, the
weekday balance and repeat_purchase_rate, on seeded synthetic series (fast numpy shops; the
generator-store figures are in benchmarks/evidence_calibration.py)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

import numpy as np
import pytest
from sqlalchemy import insert

from chimera.evidence import calibration, repeat, stats
from chimera.evidence.models import EffectEstimate, PlaceboResult

START = date(2025, 1, 6)  # a Monday
WEEKLY = [0.94, 0.91, 0.93, 0.97, 1.04, 1.14, 1.07]
KPIS = {"aov": "net_sales / orders", "orders": "orders"}
MOVED = ("moved_up", "moved_down")


def _shop(seed: int, days: int = 196, aov_lift: float = 0.0, on: int = 154, swings: float = 0.0) -> dict:
    """~60 orders a day with a weekly pattern; demand times exp(AR(1)) of daily sd ``swings`` (slow
    ups and downs: days no longer independent); net sales x (1 + ``aov_lift``) from day ``on``."""
    rng = np.random.default_rng(seed)
    series: dict = {"orders": {}, "net_sales": {}}
    level = 0.0
    for i in range(days):
        d = START + timedelta(days=i)
        level = 0.93 * level + rng.normal(0, swings) if swings else 0.0
        orders = int(rng.poisson(60 * WEEKLY[i % 7] * math.exp(level)))
        sales = rng.normal(40.0, 12.0, size=orders).clip(5).sum() * (1 + (aov_lift if i >= on else 0.0))
        series["orders"][d], series["net_sales"][d] = Decimal(orders), Decimal(f"{sales:.2f}")
    return series


def _play(series: dict, executed: date, **old) -> dict[str, str]:
    """Both KPIs of a play judged together as LOG_EVIDENCE does (or each alone by the former rule)."""
    as_of = executed + timedelta(days=30)
    judges = {}
    for kpi, formula in KPIS.items():
        est = stats.estimate(formula, series, executed, as_of, draws=400)
        if old:
            plac = stats.placebo(formula, series, executed, real_effect_pct=est.effect_pct, max_dates=14)
            judges[kpi] = est.interval_excludes_zero and plac.enough and plac.share_beaten >= 0.9
            continue
        plac = stats.placebo(formula, series, executed, real_effect_pct=est.effect_pct)
        judges[kpi] = partial(stats.judge, est, plac, as_of=as_of)
    if old:
        return {k: "moved_up" if v else "other" for k, v in judges.items()}
    return {k: j.verdict for k, j in stats.judge_together(judges).items()}


def test_student_t_holm_and_placebo_dof_match_the_tables() -> None:
    assert calibration.student_p(2.5706, 5) == pytest.approx(0.05, abs=1e-4)
    assert calibration.student_p(12.706, 1) == pytest.approx(0.05, abs=1e-4)
    assert calibration.student_p(1.96, 1e6) == pytest.approx(calibration.normal_p(1.96), abs=1e-5)
    assert calibration.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
    weekly = [date(2025, 6, 2) - timedelta(days=7 * k) for k in range(15)]
    assert 5 < calibration.placebo_dof(weekly, 28) < 7, "15 overlapping weekly placebos are ~6 independent ones"
    apart = [date(2025, 6, 2) - timedelta(days=56 * k) for k in range(4)]
    assert calibration.placebo_dof(apart, 28) == pytest.approx(4)


def test_no_effect_with_demand_swings_is_rarely_claimed() -> None:
    """40 seeded no-effect shops whose demand wanders for weeks: the former rule claimed a move on
    about a third of the plays; held to the placebo spread and Holm, at most a few percent."""
    executed = START + timedelta(days=154)
    shops = [_shop(500 + s, swings=0.03) for s in range(40)]
    new = [_play(shop, executed) for shop in shops]
    old = [_play(shop, executed, old=True) for shop in shops]
    claimed_new = sum(any(v in MOVED for v in play.values()) for play in new)
    claimed_old = sum(any(v in MOVED for v in play.values()) for play in old)
    assert claimed_new <= 3, (claimed_new, new)
    assert claimed_old >= 3 * max(claimed_new, 2), (claimed_old, claimed_new)


def test_a_real_rise_is_still_claimed_with_its_p_value() -> None:
    executed = START + timedelta(days=154)
    series = _shop(7, aov_lift=0.15)
    as_of = executed + timedelta(days=30)
    est = stats.estimate(KPIS["aov"], series, executed, as_of)
    plac = stats.placebo(KPIS["aov"], series, executed, real_effect_pct=est.effect_pct)
    judged = stats.judge(est, plac, as_of=as_of)
    assert judged.verdict == "moved_up", judged.reason
    assert judged.p_value is not None and judged.p_value < 0.01 and "placebo dates (same weekdays)" in judged.reason
    assert plac.enough and plac.dof is not None and plac.spread is not None and len(plac.z_scores) == len(plac.dates)


def _significant(effect_pct: float, p_target: float) -> tuple[EffectEstimate, PlaceboResult]:
    """An estimate whose change has two-sided p ``p_target`` against noise, with quiet placebos."""
    z = -calibration_inverse(p_target)
    est = EffectEstimate(executed_on=START, window_days=28, before_start=START - timedelta(days=28),
                         before_end=START - timedelta(days=1), after_start=START,
                         after_end=START + timedelta(days=27), before=1.0, after=1 + effect_pct / 100,
                         effect_pct=effect_pct, ci_low_pct=0.5, ci_high_pct=2 * effect_pct,
                         after_days_available=28, se_log=math.log1p(effect_pct / 100) / z)
    plac = PlaceboResult(dates=[START - timedelta(days=28 + 7 * k) for k in range(10)], effects_pct=[0.0] * 10,
                         enough=True, spread=0.3, dof=40.0, share_beaten=1.0)
    return est, plac


def calibration_inverse(p: float) -> float:
    """z with normal_p(z) == p (bisection; the test needs no scipy either)."""
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if calibration.normal_p(mid) > p else (lo, mid)
    return -lo


def test_two_kpis_of_a_play_are_corrected_together_and_the_reason_says_so() -> None:
    """p 0.03 and 0.04: each alone is a move; as one play's two KPIs (Holm) neither is."""
    a, b = _significant(6.0, 0.03), _significant(5.0, 0.04)
    as_of = START + timedelta(days=30)
    alone = stats.judge(*a, as_of=as_of)
    assert alone.verdict == "moved_up" and alone.family == 1 and "Holm" not in alone.reason
    together = stats.judge_together({"aov": partial(stats.judge, *a, as_of=as_of),
                                     "net_revenue": partial(stats.judge, *b, as_of=as_of)})
    for judged in together.values():
        assert judged.verdict == "inconclusive", judged.reason
        assert judged.family == 2 and "after Holm over the play's 2 KPIs" in judged.reason
    assert together["aov"].p_adjusted == pytest.approx(0.06, abs=1e-3)


def test_a_window_of_no_whole_weeks_weighs_each_weekday_alike() -> None:
    """A pure weekly pattern, nothing else: a 30-day window has one more Monday and Tuesday in one
    window than the other, which read as a change until each weekday weighs the same."""
    series = {"orders": {START + timedelta(days=i): Decimal(int(100 * WEEKLY[i % 7])) for i in range(200)}}
    executed = START + timedelta(days=150)
    plain = stats.estimate("orders", series, executed, executed + timedelta(days=40), window_days=30,
                           weekday_balanced=False)
    balanced = stats.estimate("orders", series, executed, executed + timedelta(days=40), window_days=30)
    assert abs(plain.effect_pct) > 0.2 and balanced.effect_pct == 0.0 and balanced.weekday_balanced
    whole = stats.estimate("orders", series, executed, executed + timedelta(days=40))
    assert not whole.weekday_balanced and whole.effect_pct == 0.0


def _customers(days: int, on: int, seed: int = 3) -> dict:
    """~40 buyers a day; a buyer orders again within days with probability 0.1, 0.3 from day ``on``."""
    rng = np.random.default_rng(seed)
    out: dict = {}
    for i in range(days):
        for n in range(int(rng.poisson(40))):
            who = f"c{i}-{n}"
            out.setdefault(START + timedelta(days=i), {})[who] = 1
            if rng.random() < (0.3 if i >= on else 0.1):
                again = START + timedelta(days=i + int(rng.integers(1, 6)))
                out.setdefault(again, {})[who] = out.get(again, {}).get(who, 0) + 1
    return out


def test_repeat_purchase_rate_is_judged_on_the_windows() -> None:
    customers = _customers(200, on=154)
    presence = {START + timedelta(days=i): 1 for i in range(200)}
    executed, as_of = START + timedelta(days=154), START + timedelta(days=185)
    est = repeat.estimate(customers, presence, executed, as_of)
    plac = repeat.placebo(customers, presence, executed, real_effect_pct=est.effect_pct)
    judged = stats.judge(est, plac, as_of=as_of)
    assert judged.verdict == "moved_up" and est.effect_pct > 50, judged.reason
    quiet = repeat.estimate(customers, presence, executed - timedelta(days=56), executed - timedelta(days=20))
    calm = repeat.placebo(customers, presence, executed - timedelta(days=56), real_effect_pct=quiet.effect_pct)
    assert stats.judge(quiet, calm, as_of=executed - timedelta(days=20)).verdict not in MOVED


def test_the_record_judges_repeat_purchase_rate_from_customer_pseudonyms(chimera_home) -> None:
    """With per-day customer pseudonyms stored (as ingest writes them), LOG_EVIDENCE judges the
    repeat rate on the windows and says how; the correction over the play's KPIs is in its test."""
    from chimera.clients import add_client
    from chimera.db.engine import session_scope
    from chimera.db.models import CustomerDay, MetricPoint, encode_customers
    from chimera.evidence import log_evidence, log_manual_play

    ctx = add_client("loyal")
    customers = _customers(200, on=154)
    with session_scope() as s:
        s.execute(insert(MetricPoint), [
            {"company_id": ctx.company_id, "metric": m, "day": START + timedelta(days=i), "source": "shopify",
             "value": str(v)} for i in range(200) for m, v in (("orders", 40), ("total_sales", 2000),
                                                               ("refunded_amount", 0))])
        s.execute(insert(CustomerDay), [{"company_id": ctx.company_id, "source": "shopify", "day": d,
                                         "orders_by_customer": encode_customers(c)} for d, c in customers.items()])
    with session_scope() as s:
        run = log_manual_play(s, ctx, "winback_email", START + timedelta(days=154))
        records = {r.kpi: r for r in log_evidence(s, ctx, run, START + timedelta(days=190))}
    rec = records["repeat_purchase_rate"]
    assert rec.verdict == "moved_up", rec.details["reason"]
    assert rec.details["value_kind"] == "repeat share" and "not the KPI's 90-day window" in rec.details["reason"]
    assert rec.details["test"]["p_value"] is not None and rec.details["test"]["alpha"] == 0.05
    assert not [c for c in rec.confounders if c["what"] == "repeat_purchase_rate"]
