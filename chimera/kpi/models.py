"""Contracts of KPI evaluation: one judged KPI, a report of all of them, a day's state, a calibration.

Values are exact decimals; the JSON shapes (``to_json``) are the CLI contract of DESIGN.md §7, with
every number as a string so no reader turns money into a float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]
Level = Literal["OK", "WARNING", "CRITICAL"]
UnknownReason = Literal["no_data", "stale", "missing", "denominator", "zero", "history"]


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Anomaly(BaseModel):
    """The KPI against its own baseline (median of previous weekly windows of the same length)."""

    model_config = ConfigDict(frozen=True)

    flagged: bool
    """True when the anomaly was raised on two consecutive days and has not recovered yet (``level``
    is then WARNING or CRITICAL)."""
    level: Level
    """Confirmed anomaly level (bad direction only), kept while the recovery rules still hold."""
    raw_level: Level = "OK"
    """Level on the window end alone, before the two-day confirmation."""
    baseline: Decimal
    """Median of the baseline windows."""
    weeks: int
    """How many weekly windows the baseline used."""
    sd_score: Decimal
    """(value - baseline) / scale; negative below the baseline."""
    change_pct: Decimal | None
    """(value - baseline) / baseline in percent (None when the baseline is zero: any other value is an
    unbounded change, which passes the change rule)."""


class KPIResult(BaseModel):
    """One KPI judged at one as-of date, with the numbers behind the status."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    unit: str
    direction: str
    status: Status
    value: Decimal | None
    """The formula over the window ending ``data_through`` (None when UNKNOWN without a value)."""
    target: Decimal
    warning: Decimal
    critical: Decimal
    window: str
    data_through: date | None
    """End of the evaluated window: the newest day every metric of the formula has data for."""
    note: str
    """One line with the numbers (value, threshold passed, anomaly score) or the UNKNOWN reason."""
    anomaly: Anomaly | None = None
    previous_value: Decimal | None = None
    """The same formula over the window just before (for week-over-week change)."""
    threshold_status: Level | None = None
    """Status from the thresholds alone (with recovery and two-day confirmation)."""
    unknown_reason: UnknownReason | None = None

    def to_json(self) -> dict:
        """The DESIGN.md §7 shape of one KPI (numbers as strings)."""
        return {
            "id": self.id,
            "status": self.status,
            "value": _s(self.value),
            "target": _s(self.target),
            "warning": _s(self.warning),
            "critical": _s(self.critical),
            "window": self.window,
            "data_through": self.data_through.isoformat() if self.data_through else None,
            "note": self.note,
        }


class KPIReport(BaseModel):
    """Every KPI of one client at one as-of date."""

    client: str
    as_of: date
    run_id: str | None = None
    kpis: list[KPIResult]
    as_of_note: str = ""
    """Why the default as-of is not the newest day with data (that day was still in progress)."""

    def by_id(self, kpi_id: str) -> KPIResult:
        return next(k for k in self.kpis if k.id == kpi_id)

    def to_json(self) -> dict:
        """``{"client", "as_of", "kpis": [...]}`` exactly as ``chimera kpis --json`` prints it."""
        kpis = [k.to_json() for k in self.kpis]
        note = {"as_of_note": self.as_of_note} if self.as_of_note else {}
        return {"client": self.client, "as_of": self.as_of.isoformat(), **note, "kpis": kpis}


class DayState(BaseModel):
    """A KPI's judgement on one day, cheap to compute over a range (evidence windows)."""

    model_config = ConfigDict(frozen=True)

    day: date
    status: Status
    value: Decimal | None
    threshold_status: Level | None
    anomaly_level: Level | None
    """Confirmed anomaly level (two consecutive days); None when not computable or disabled."""
    anomaly_raw_level: Level | None
    unknown_reason: UnknownReason | None = None

    @property
    def anomalous(self) -> bool:
        return self.anomaly_level not in (None, "OK")


class Proposal(BaseModel):
    """Calibrated thresholds for one KPI from its recent weekly values (manual §6.3, §10.3)."""

    kpi: str
    unit: str
    direction: str
    enough_history: bool
    reason: str
    """Why these numbers, or why none (too little history)."""
    weekly_values: list[Decimal] = []
    current: dict[str, Decimal | None] = {}
    """target, warning, critical, warning_recovery, critical_recovery as configured now."""
    proposed: dict[str, Decimal] = {}
    """The same keys with the calibrated values; empty when nothing would change (too little history,
    no variation, thresholds that would collapse or never fire, or the configured ones already)."""

    def to_json(self) -> dict:
        return {
            "kpi": self.kpi,
            "enough_history": self.enough_history,
            "reason": self.reason,
            "weekly_values": [str(v) for v in self.weekly_values],
            "current": {k: _s(v) for k, v in self.current.items()},
            "proposed": {k: str(v) for k, v in self.proposed.items()},
        }
