"""Threshold status with two-day confirmation and recovery thresholds, replayed from the series.

A status is raised only when its threshold was passed on the window end AND the day before (like
Prometheus ``for:``); once raised it clears only when the value is back past the recovery threshold
(like Datadog's ``warning_recovery``). The state is rebuilt from ``LOOKBACK_DAYS`` of raw values
every time, never read from stored statuses, so an ``--as-of`` replay gives the same answer.
A status raised before the replay starts and still held only by its recovery threshold is not
seen: the replay covers a quarter (``LOOKBACK_DAYS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from chimera.config.models import KPI
from chimera.kpi.window import KPIWindows

LEVELS = ("OK", "WARNING", "CRITICAL")
LOOKBACK_DAYS = 91
"""Days the state machine is replayed over: a status held by its recovery threshold stays held for
a quarter without a fresh breach (at 28 days a KPI stuck between critical and critical recovery
went CRITICAL -> WARNING on the 28th day with no change in its data); like the anomaly check's
``CHAIN_WEEKS``, a level that outlasts a quarter is the new normal. Within ``history_days``."""


def worse(spec: KPI, value: Decimal, threshold: Decimal) -> bool:
    """Is ``value`` strictly on the bad side of ``threshold`` in the KPI's direction?"""
    return value < threshold if spec.direction == "higher_is_better" else value > threshold


def breach_level(spec: KPI, value: Decimal) -> int:
    """0 OK, 1 WARNING, 2 CRITICAL by the raise thresholds on this value alone."""
    if worse(spec, value, spec.critical):
        return 2
    return 1 if worse(spec, value, spec.warning) else 0


def recovery(spec: KPI, level: int) -> Decimal:
    """The value a raised level must get back past to clear (default: its raise threshold)."""
    if level >= 2:
        return spec.critical if spec.critical_recovery is None else spec.critical_recovery
    return spec.warning if spec.warning_recovery is None else spec.warning_recovery


def held_level(spec: KPI, state: int, value: Decimal) -> int:
    """The level a raised state keeps while the value has not recovered past the recovery threshold."""
    if state >= 2 and worse(spec, value, recovery(spec, 2)):
        return 2
    if state >= 1 and worse(spec, value, recovery(spec, 1)):
        return 1
    return 0


@dataclass(frozen=True)
class ThresholdState:
    level: int
    """Confirmed level on the last day (0 OK, 1 WARNING, 2 CRITICAL)."""
    raw: int
    """Breach level of the last day's value alone."""
    held: bool
    """The level is kept by a recovery threshold, not by a fresh breach."""


def threshold_state(windows: KPIWindows, end: date) -> ThresholdState | None:
    """Replay the state machine over the ``LOOKBACK_DAYS`` window ends up to ``end``.

    A day without a value (missing data, small denominator) is skipped, not a reset: the state and
    the last raw level carry over the gap, so a KPI still past its threshold after a gap stays
    raised (a reset read OK for the first day after every gap: CRITICAL, UNKNOWN, OK, CRITICAL).
    None when ``end`` itself has no value.
    """
    spec = windows.spec
    state, prev_raw, raw, held = 0, None, 0, False
    for i in range(LOOKBACK_DAYS - 1, -1, -1):
        w = windows.at(end - timedelta(days=i))
        if not w.ok or w.value is None:
            continue
        raw = breach_level(spec, w.value)
        confirmed = min(raw, prev_raw) if prev_raw is not None else 0
        kept = held_level(spec, state, w.value)
        state, held = max(confirmed, kept), kept > confirmed
        prev_raw = raw
    last = windows.at(end)
    if not last.ok:
        return None
    return ThresholdState(state, raw, held)
