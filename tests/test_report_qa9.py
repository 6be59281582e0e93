"""The weekly report's numbers on a store never seen before (QA pass 9): a value just inside a
threshold is never shown on it, and a hand-set threshold is shown as set, in the table, the chart
and the note alike.

One seeded store from the project's generator (its own seed, start and size) per module; the
client's thresholds are set from its own judged value, so the test holds for any seed."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

from chimera.clients import get_client
from chimera.demo.generator import GeneratedStore, generate_store
from chimera.kpi.evaluate import evaluate_kpis
from chimera.kpi.fmt import fmt, fmt_bound
from chimera.report import render_report
from tests.test_report_unseen_qa5 import _client

GRID = Decimal("0.0001")
"""A percent KPI reads in hundredths of a percent."""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GeneratedStore:
    return generate_store(tmp_path_factory.mktemp("qa9-report"), start=date(2027, 3, 8), days=45, seed=9207,
                          orders_per_day=30, malformed=0)


def _row(page: str, kpi: str) -> list[str]:
    """The cells of ``kpi``'s row of the KPI table, as the reader sees them."""
    row = re.search(rf'<tr class="row-\w+" id="kpi-{kpi}">(.*?)</tr>', page, re.S)
    assert row, kpi
    return [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def _visible_text(page: str) -> str:
    """What a reader sees: the page without scripts and styles, tags and entities."""
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


def _chart(page: str, kpi: str) -> list[dict]:
    found = re.search(rf'Plotly\.newPlot\(\s*"trend-{kpi}",\s*(\[.*?\]),\s*\{{', page, re.S)
    assert found, kpi
    return json.loads(found.group(1))


def _set_thresholds(ctx, kpi: str, **levels: Decimal) -> None:
    path = ctx.folder / "kpis.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    item = next(k for k in doc["kpis"] if k["id"] == kpi)
    item.update({k: float(v) for k, v in levels.items()})
    for key in ("warning_recovery", "critical_recovery", "min_denominator"):
        item.pop(key, None)
    item["anomaly"] = False  # the threshold alone decides: the test reads the threshold's words
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def test_a_value_just_inside_a_threshold_and_a_hand_set_threshold_read_honestly(
        chimera_home: Path, store: GeneratedStore) -> None:
    ctx = _client("qa9-round", store, ("shopify_orders", "analytics_daily"))
    value = next(k.value for k in evaluate_kpis(ctx, store=False).kpis if k.id == "conversion_rate")
    assert value is not None
    on_grid = value.quantize(GRID, ROUND_HALF_UP)
    if on_grid == value:  # a value exactly on the display grid cannot be 'just inside' it
        pytest.skip("value on the display grid")
    # a warning the value rounds onto (it is just above or just below it), a target set by hand
    # finer than the display (1 in the third decimal of a percent), the critical far below
    target = on_grid + Decimal("0.00305")
    _set_thresholds(ctx, "conversion_rate", target=target, warning=on_grid, critical=on_grid - Decimal("0.005"))
    ctx = get_client(ctx.name)
    result = next(k for k in evaluate_kpis(ctx, store=False).kpis if k.id == "conversion_rate")
    expected = "OK" if value > on_grid else "WARNING"
    assert result.status == expected, result.note

    page = render_report(ctx)
    leaked = re.findall(r".{40}\b(?:None|NaN|nan|undefined|null|Infinity|inf)\b.{40}", _visible_text(page))
    assert not leaked, leaked  # 'Paused and reverted plays: None.' read as a value that failed to load
    cells = _row(page, "conversion_rate")
    shown, target_cell, warning_cell = cells[2], cells[3], cells[4]
    assert warning_cell == fmt(on_grid, "percent")
    assert shown != warning_cell, cells  # not '2.37%' beside a warning of 2.37% it is on one side of
    assert (Decimal(shown.rstrip("%")) / 100 > on_grid) == (value > on_grid), cells
    assert target_cell == fmt_bound(target, "percent") and target_cell != fmt(target, "percent"), cells
    assert Decimal(target_cell.rstrip("%")) / 100 == target  # shown as set, to the third decimal

    traces = _chart(page, "conversion_rate")
    line = next(t for t in traces if t["name"].startswith("Conversion rate ("))
    assert line["customdata"][-1] == shown  # the hover reads as the table
    levels = {t["name"]: t["customdata"][0] for t in traces if t["name"] in ("target", "warning", "critical")}
    assert levels["target"] == target_cell and levels["warning"] == warning_cell

    side = "above" if value > on_grid else "below"
    assert f" {side} warning {warning_cell}" in result.note or f"{side} target" in result.note, result.note
    assert result.note.startswith(f"conversion_rate {shown} over 7d"), result.note
    if value < on_grid:
        assert result.note.endswith(f"below warning {warning_cell}"), result.note
    else:
        assert f"below target {target_cell}, above warning {warning_cell}" in result.note, result.note


def test_a_rates_anomaly_band_never_reaches_below_zero(store: GeneratedStore) -> None:
    """A refund rate of about 1 % over ~280 orders a week has a 3-sd band of about ±3 points: the
    chart drew it down to -1.7 %, a rate no store can have. It stops at 0; the line and the upper edge
    stay the evaluator's."""
    from chimera.report.charts import trend_points
    from tests.test_kpi_qa9 import series_of, specs

    series = series_of(store)
    days = sorted(series["orders"])
    for i, day in enumerate(days):  # about one refund in a hundred orders, unevenly
        series["refunded_orders"][day] = Decimal(1 if i % 3 == 0 else 0)
    spec = specs()["refund_rate_orders"]
    points = trend_points(spec, series, days[28], days[-1])
    banded = [p for p in points if p.band_low is not None]
    assert banded, "no day with a baseline"
    assert all(p.band_low >= 0 for p in banded), [p.band_low for p in banded]
    assert any(p.band_low == 0 for p in banded)  # the band did reach past 0 here
    assert all(p.band_high > p.baseline for p in banded if p.baseline)
