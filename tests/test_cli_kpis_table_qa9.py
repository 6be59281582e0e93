"""`chimera kpis` prints values and thresholds as the notes and the report do: a value just short of
a threshold is never shown on it, and a hand-set threshold finer than the display is shown as set.
Evidence's table names a price change made outside the play."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rich.console import Console

from chimera.cli import cmd_kpis
from chimera.cli.cmd_evidence import confounder_summary
from chimera.kpi.models import KPIReport, KPIResult


def _rendered(value: str, warning: str) -> str:
    k = KPIResult(id="conversion_rate", label="Conversion", unit="percent", direction="higher_is_better",
                  status="OK", value=Decimal(value), target=Decimal("0.025"), warning=Decimal(warning),
                  critical=Decimal("0.015"), window="7d", data_through=date(2026, 10, 27), note="n")
    report = KPIReport(client="shop", as_of=date(2026, 10, 27), kpis=[k])
    console = Console(width=200, record=True)
    console.print(cmd_kpis._table(report, "USD"))
    return console.export_text()


def test_a_value_just_inside_a_threshold_is_not_shown_on_it(monkeypatch) -> None:
    monkeypatch.setattr(cmd_kpis.out, "width", 200)  # the wide table, with its thresholds column
    text = _rendered("0.018003", "0.018")
    assert "1.8003%" in text and "2.50% / 1.80% / 1.50%" in text  # was: '1.80%' beside warning 1.80%
    fine = _rendered("0.018431", "0.01843")
    assert "1.843%" in fine and "1.8431%" in fine  # was: warning '1.84%' and value '1.84%'


def test_a_price_change_confounder_is_named_in_the_evidence_table() -> None:
    assert confounder_summary([{"kind": "price_change", "what": "unit_price"}]) == "prices unit_price"
