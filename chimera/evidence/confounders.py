"""What else may have moved a KPI inside a play's windows: other plays, driver anomalies, data gaps.

A naive before/after would credit a play with an unrelated conversion drop (DATA.md); naming the
overlapping causes is what keeps the evidence honest (manual §7, "Truth over Narrative").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlmodel import Session, select

from chimera.config.loader import ConfigSet
from chimera.config.models import KPI
from chimera.db.models import PlayRun
from chimera.evidence.models import Confounder
from chimera.kpi.evaluate import daily_states
from chimera.kpi.formula import Series, parse_formula
from chimera.kpi.window import needed_metrics


def _span(kind: str, what: str, days: list[date], note: str) -> Confounder:
    return Confounder(kind=kind, what=what, first_day=min(days), last_day=max(days), days=len(days),  # type: ignore[arg-type]
                      note=note)


# --------------------------------------------------------------------------- data gaps


def _missing(series: Series, metric: str, days: list[date], arrived_only: bool) -> list[date]:
    """Days of ``days`` without ``metric``; with ``arrived_only``, not those after its newest day:
    while a play's after-window is still running, data that has not arrived yet is no gap."""
    known = series.get(metric, {})
    missing = [d for d in days if d not in known]
    if arrived_only and known:
        newest = max(known)
        missing = [d for d in missing if d <= newest]
    return missing


def data_gaps(kpi: KPI, series: Series, days: Iterable[date], arrived_only: bool = False) -> list[Confounder]:
    """One confounder per metric of the KPI that is missing on some day of the windows."""
    days = list(days)
    out = []
    for metric in parse_formula(kpi.formula).metrics:
        missing = _missing(series, metric, days, arrived_only)
        if missing:
            out.append(_span("data_gap", metric, missing,
                             f"{metric} missing on {len(missing)} day(s) {min(missing)}..{max(missing)}"))
    return out


def driver_gaps(
    kpi: KPI, configs: ConfigSet, series: Series, days: Iterable[date], own: Iterable[str] = (),
    arrived_only: bool = False,
) -> list[Confounder]:
    """Metrics of the KPI's drivers (not its own, not the run's own evidence KPIs) missing on some day
    of the windows: on those days an anomaly of that driver could not be seen, so it is named."""
    by_id = {k.id: k for k in configs.kpis.kpis}
    skip, mine = set(own), set(parse_formula(kpi.formula).metrics)
    readers: dict[str, list[str]] = {}
    for driver in kpi.drivers:
        if driver in by_id and driver not in skip:
            for metric in needed_metrics(by_id[driver]):
                if metric not in mine:
                    readers.setdefault(metric, []).append(driver)
    days = list(days)
    out = []
    for metric, drivers in readers.items():
        missing = _missing(series, metric, days, arrived_only)
        if missing:
            out.append(_span("data_gap", metric, missing,
                             f"{metric} missing on {len(missing)} day(s) {min(missing)}..{max(missing)}: "
                             f"driver {', '.join(drivers)} unchecked there"))
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
    session: Session, run: PlayRun, kpi: KPI, configs: ConfigSet, window: int, as_of: date | None = None,
) -> list[Confounder]:
    """Other play runs executed in ``executed_on - window + 1 .. executed_on + window - 1`` (a play
    then shifts the before or the after window) and by ``as_of`` (a replay must not see later plays),
    whose KPIs touch this KPI or its drivers. One executed on the before window's first day is in
    force on every day of both windows, so it shifts neither: a play scaled on the day its original's
    evidence fell due runs exactly one window after it, and was confounded by it every time.

    A run executed before those days but reverted inside them (by ``as_of``) shifts them too: its
    change was in force on the days before its revert and not after, as a play executed that day
    would be the other way round (``reverted_in``)."""
    assert run.executed_on is not None
    lo, hi = run.executed_on - timedelta(days=window - 1), run.executed_on + timedelta(days=window - 1)
    if as_of is not None:
        hi = min(hi, as_of)
    watched = {kpi.id, *kpi.drivers}
    others = session.exec(
        select(PlayRun).where(
            PlayRun.company_id == run.company_id, PlayRun.id != run.id,
            PlayRun.executed_on <= hi,  # type: ignore[operator]
        )
    ).all()
    out = []
    for other in sorted(others, key=lambda r: (r.executed_on, r.id)):
        shared = sorted(watched & set(run_kpis(other, configs)))
        if not shared or other.executed_on is None:
            continue
        also = f"also judged on {', '.join(shared)}"
        if other.executed_on >= lo:
            out.append(Confounder(
                kind="overlapping_play", what=other.play_id, first_day=other.executed_on,
                last_day=other.executed_on, days=1,
                note=f"play {other.play_id} (run {other.id}) executed {other.executed_on}, {also}",
            ))
        elif (undone := reverted_in(other, lo, hi)) is not None:
            out.append(Confounder(
                kind="overlapping_play", what=other.play_id, first_day=undone, last_day=undone, days=1,
                note=f"play {other.play_id} (run {other.id}) executed {other.executed_on} and reverted "
                     f"{undone}, inside the windows, {also}",
            ))
    return out


def reverted_in(run: PlayRun, lo: date, hi: date) -> date | None:
    """The day ``run`` was reverted when it lies in ``lo..hi`` (else None): from it on, its change no
    longer holds (``chimera.plays.revert.reverted_on``)."""
    from chimera.plays.revert import reverted_on

    day = reverted_on(run)
    return day if day is not None and lo <= day <= hi else None


# --------------------------------------------------------------------------- driver anomalies


def anomaly_days(spec: KPI, series: Series, start: date, end: date) -> list[date]:
    """Days in ``start..end`` on which the KPI evaluator confirms an anomaly (DATA.md rule: 4-week
    baseline, two consecutive days, bad direction only)."""
    return sorted(d for d, state in daily_states(spec, series, start, end).items() if state.anomalous)


def _mirrored(spec: KPI) -> KPI:
    """The same KPI read the other way round, so the evaluator's bad-direction rule finds rises of a
    higher-is-better KPI (and drops of a lower-is-better one)."""
    other = "lower_is_better" if spec.direction == "higher_is_better" else "higher_is_better"
    return spec.model_copy(update={"direction": other})


def _moved(spec: KPI) -> tuple[str, str]:
    """Words for (the bad-direction move, the good-direction move) of a KPI."""
    return ("low", "high") if spec.direction == "higher_is_better" else ("high", "low")


def driver_anomalies(
    kpi: KPI, configs: ConfigSet, series: Series, start: date, end: date, own: Iterable[str] = (),
) -> list[Confounder]:
    """One confounder per driver KPI anomalous, in either direction, on some day of ``start..end``.

    Both directions: an unrelated conversion jump would otherwise be credited to the play as a
    revenue rise. Drivers in ``own`` (the run's own evidence KPIs, i.e. the play's intended
    mechanism, like a price test's AOV behind its revenue) are not confounders of it.
    """
    by_id = {k.id: k for k in configs.kpis.kpis}
    skip = set(own)
    out = []
    for driver in kpi.drivers:
        spec = by_id.get(driver)
        if spec is None or driver in skip:
            continue
        words = _moved(spec)
        for variant, word in ((spec, words[0]), (_mirrored(spec), words[1])):
            flagged = [d for d in anomaly_days(variant, series, start, end) if start <= d <= end]
            if flagged:
                out.append(_span("driver_anomaly", driver, flagged,
                                 f"driver {driver} anomalously {word} on {len(flagged)} day(s) "
                                 f"{min(flagged)}..{max(flagged)}"))
    return out
