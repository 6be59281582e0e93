"""The evaluator on the shared sample store: its injected events (read from ground_truth.json) must
show up as the expected statuses, and quiet weeks must not raise CRITICAL."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest

from chimera.config.loader import load_config_set
from chimera.config.models import KPI
from chimera.kpi.evaluate import daily_states, evaluate_series
from chimera.kpi.formula import Series

ANALYTICS = {"sessions": "sessions", "users": "users", "transactions": "ga_transactions", "revenue": "ga_revenue"}
SHOP_AND_TRAFFIC = ("net_revenue", "net_sales", "orders", "aov", "units_per_order", "discount_rate", "sessions",
                    "conversion_rate", "refund_rate_orders", "refund_rate_amount", "cancellation_rate")


def _series(folder: Path) -> Series:
    """Base metrics from expected_daily.csv and analytics_daily.csv (a missing row stays missing)."""
    out: Series = {}
    with open(folder / "expected_daily.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            day = date.fromisoformat(row.pop("date"))
            for metric, value in row.items():
                if metric != "aov" and value != "":
                    out.setdefault(metric, {})[day] = Decimal(value)
    with open(folder / "analytics_daily.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            day = date.fromisoformat(row.pop("date"))
            for column, value in row.items():
                out.setdefault(ANALYTICS[column], {})[day] = Decimal(value)
    return out


@lru_cache(maxsize=1)
def _load(folder: Path) -> tuple[Series, dict, dict[str, KPI]]:
    truths = {t["id"]: t for t in json.loads((folder / "ground_truth.json").read_text())["truths"]}
    specs = {k.id: k for k in load_config_set().kpis.kpis}
    return _series(folder), truths, specs


@pytest.fixture
def store(sample_store: Path) -> tuple[Series, dict, dict[str, KPI]]:
    """The sample's series, its injected events, and the base KPI specs (read once per session)."""
    return _load(sample_store)


def _days(truth: dict) -> tuple[date, date]:
    return date.fromisoformat(truth["start"]), date.fromisoformat(truth["end"])


def test_conversion_drop_goes_warning_or_critical_within_a_week(store):
    series, truths, specs = store
    start, _ = _days(truths["conversion_rate_drop"])
    states = daily_states(specs["conversion_rate"], series, start - timedelta(days=14), start + timedelta(days=7))
    before = [s.status for d, s in states.items() if d < start]
    after = [s.status for d, s in states.items() if d >= start]
    assert "CRITICAL" not in before
    assert any(s in ("WARNING", "CRITICAL") for s in after)
    r = evaluate_series(specs["conversion_rate"], series, start + timedelta(days=7))
    assert r.status == "CRITICAL" and r.anomaly and r.anomaly.flagged
    assert "sd below its" in r.note


def test_analytics_gap_makes_conversion_unknown_and_does_not_flag_shop_kpis(store):
    series, truths, specs = store
    gap_start, gap_end = _days(truths["analytics_data_gap"])
    window = 7
    conv = daily_states(specs["conversion_rate"], series, gap_start, gap_end + timedelta(days=window + 7))
    assert all(s.status not in ("WARNING", "CRITICAL") for s in conv.values())
    covering = [gap_end + timedelta(days=i) for i in range(1, window)]  # windows that contain gap days
    assert all(conv[d].status == "UNKNOWN" and conv[d].unknown_reason == "missing" for d in covering)
    r = evaluate_series(specs["conversion_rate"], series, gap_end + timedelta(days=1))
    assert f"sessions missing on {gap_start}..{gap_end}" in r.note
    for kpi in ("orders", "net_revenue", "net_sales"):
        states = daily_states(specs[kpi], series, gap_start, gap_end + timedelta(days=window + 7))
        assert all(s.status != "UNKNOWN" for s in states.values()), kpi
        assert not any(s.anomalous for s in states.values()), kpi


def test_refund_spike_raises_refund_rate_orders(store):
    series, truths, specs = store
    start, end = _days(truths["refund_rate_spike"])
    states = daily_states(specs["refund_rate_orders"], series, start, end + timedelta(days=3))
    raised = [d for d, s in states.items() if s.status in ("WARNING", "CRITICAL")]
    assert raised and raised[0] <= start + timedelta(days=4)
    assert any(states[d].anomalous for d in raised)
    quiet = daily_states(specs["refund_rate_orders"], series, start - timedelta(days=21), start - timedelta(days=1))
    assert all(s.status == "OK" for s in quiet.values())


def test_no_critical_on_quiet_weeks(store):
    series, truths, specs = store
    events = [_days(t) for t in truths.values() if "start" in t and "end" in t]
    first = min(series["orders"]) + timedelta(days=35)  # enough history for a baseline
    quiet_end = max(start for start, _ in events) - timedelta(days=1)
    for kpi in SHOP_AND_TRAFFIC:
        states = daily_states(specs[kpi], series, first, quiet_end)
        touched = {d for d in states for s, e in events if s <= d <= e + timedelta(days=7)}
        critical = [d for d, s in states.items() if s.status == "CRITICAL" and d not in touched]
        assert not critical, f"{kpi} CRITICAL on quiet days {critical}"
