"""What else may have moved a KPI inside a play's windows: other plays, driver anomalies, data gaps.

A naive before/after would credit a play with an unrelated conversion drop (DATA.md); naming the
overlapping causes is what keeps the evidence honest (manual §7, "Truth over Narrative").
"""

from __future__ import annotations

import importlib
import statistics
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from chimera.config.loader import ConfigSet
from chimera.config.models import KPI
from chimera.db.models import PlayRun
from chimera.evidence.models import Confounder
from chimera.kpi.formula import Series, parse_formula, parse_window, window_days, window_sums


def _span(kind: str, what: str, days: list[date], note: str) -> Confounder:
    return Confounder(kind=kind, what=what, first_day=min(days), last_day=max(days), days=len(days),  # type: ignore[arg-type]
                      note=note)


# --------------------------------------------------------------------------- data gaps


def data_gaps(kpi: KPI, series: Series, days: Iterable[date]) -> list[Confounder]:
    """One confounder per metric of the KPI that is missing on some day of the windows."""
    days = list(days)
    out = []
    for metric in parse_formula(kpi.formula).metrics:
        missing = [d for d in days if d not in series.get(metric, {})]
        if missing:
            out.append(_span("data_gap", metric, missing,
                             f"{metric} missing on {len(missing)} day(s) {min(missing)}..{max(missing)}"))
    return out


# --------------------------------------------------------------------------- overlapping plays


def run_kpis(run: PlayRun, configs: ConfigSet) -> list[str]:
    """The KPIs a play run is judged on: those logged with it, else its play's evidence KPIs."""
    logged = (run.explanation or {}).get("evidence_kpis")
    if logged:
        return list(logged)
    try:
        return list(configs.play(run.play_id).evidence.kpis)
    except Exception:  # a play removed from plays.yml since: it still ran, on unknown KPIs
        return []


def overlapping_plays(
    session: Session, run: PlayRun, kpi: KPI, configs: ConfigSet, window: int,
) -> list[Confounder]:
    """Other executed play runs within ``window`` days either side whose KPIs touch this KPI or its
    drivers."""
    assert run.executed_on is not None
    lo, hi = run.executed_on - timedelta(days=window), run.executed_on + timedelta(days=window)
    watched = {kpi.id, *kpi.drivers}
    others = session.exec(
        select(PlayRun).where(
            PlayRun.company_id == run.company_id, PlayRun.id != run.id,
            PlayRun.executed_on >= lo, PlayRun.executed_on <= hi,  # type: ignore[operator]
        )
    ).all()
    out = []
    for other in sorted(others, key=lambda r: (r.executed_on, r.id)):
        shared = sorted(watched & set(run_kpis(other, configs)))
        if shared and other.executed_on is not None:
            out.append(Confounder(
                kind="overlapping_play", what=other.play_id, first_day=other.executed_on,
                last_day=other.executed_on, days=1,
                note=f"play {other.play_id} (run {other.id}) executed {other.executed_on}, "
                     f"also judged on {', '.join(shared)}",
            ))
    return out


# --------------------------------------------------------------------------- driver anomalies


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def _flagged(state: Any) -> bool:
    raw = _get(state, "anomaly")
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    return bool(_get(raw, "flagged", False))


def _day(state: Any, fallback: date) -> date:
    for name in ("day", "as_of", "date"):
        value = _get(state, name)
        if isinstance(value, date):
            return value
    return fallback


def _evaluator_states(spec: KPI, series: Series, start: date, end: date) -> list[Any] | None:
    """Per-day states from ``chimera.kpi.evaluate.daily_states`` when that module exists."""
    try:
        module = importlib.import_module("chimera.kpi.evaluate")
    except ModuleNotFoundError as exc:
        if exc.name not in ("chimera.kpi.evaluate",):
            raise
        return None
    fn = getattr(module, "daily_states", None)
    if fn is None:
        return None
    states = fn(spec, series, start, end)
    return list(states.values()) if isinstance(states, Mapping) else list(states)


def _fallback_flags(spec: KPI, series: Series, start: date, end: date) -> list[date]:
    """Days flagged when the KPI evaluator is not available: the DATA.md rule in short.

    Trailing window vs the median of the 4 previous windows, scored by the spread of those windows
    (rates: at least their binomial standard error); >= 3 sd and >= 10 % in the bad direction, on
    two consecutive days.
    """
    f = parse_formula(spec.formula)
    width = parse_window(spec.window)
    raw: list[tuple[date, bool]] = []
    day = start - timedelta(days=1)
    while day <= end:
        raw.append((day, _window_anomalous(spec, f, series, day, width)))
        day += timedelta(days=1)
    return [d for (d, flag), (_, prev) in zip(raw[1:], raw[:-1], strict=True) if flag and prev]


def _window_anomalous(spec: KPI, f: Any, series: Series, day: date, width: int) -> bool:
    def value(end: date) -> tuple[float | None, float | None]:
        sums, missing = window_sums(series, f.metrics, window_days(end, width))
        if missing:
            return None, None
        v, den = f.evaluate(sums), f.denominator_value(sums)
        return (None if v is None else float(v)), (None if den is None else float(den))

    current, den = value(day)
    base = [value(day - timedelta(days=width * k))[0] for k in range(1, 5)]
    if current is None or den == 0 or any(b is None for b in base):
        return False
    baseline = statistics.median(base)  # type: ignore[type-var]
    if not baseline:
        return False
    change = current / baseline - 1.0
    se = statistics.stdev(base)  # type: ignore[arg-type]
    if f.denominator and 0 < baseline < 1 and den:  # a rate: never tighter than binomial noise
        se = max(se, (baseline * (1 - baseline) / den) ** 0.5)
    bad = change < 0 if spec.direction == "higher_is_better" else change > 0
    return bad and abs(change) >= 0.10 and abs(current - baseline) >= 3 * se


def anomaly_days(spec: KPI, series: Series, start: date, end: date) -> list[date]:
    """Days in ``start..end`` on which the KPI is flagged anomalous against its own baseline."""
    states = _evaluator_states(spec, series, start, end)
    if states is None:
        return _fallback_flags(spec, series, start, end)
    days = [start + timedelta(days=i) for i in range(len(states))]
    return sorted(_day(s, d) for s, d in zip(states, days, strict=False) if _flagged(s))


def driver_anomalies(
    kpi: KPI, configs: ConfigSet, series: Series, start: date, end: date,
) -> list[Confounder]:
    """One confounder per driver KPI flagged anomalous on some day of ``start..end``."""
    by_id = {k.id: k for k in configs.kpis.kpis}
    out = []
    for driver in kpi.drivers:
        spec = by_id.get(driver)
        if spec is None:
            continue
        flagged = [d for d in anomaly_days(spec, series, start, end) if start <= d <= end]
        if flagged:
            out.append(_span("driver_anomaly", driver, flagged,
                             f"driver {driver} anomalous on {len(flagged)} day(s) "
                             f"{min(flagged)}..{max(flagged)}"))
    return out
