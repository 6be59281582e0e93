"""What else may have moved a KPI inside a play's windows: other plays, driver anomalies, data gaps,
a change of the store's prices made outside any play.

A naive before/after would credit a play with an unrelated conversion drop (DATA.md); naming the
overlapping causes is what keeps the evidence honest (manual §7, "Truth over Narrative").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import numpy as np
from sqlmodel import Session, col, select

from chimera.config.loader import ConfigSet
from chimera.config.models import KPI
from chimera.db.models import AppliedChange, Job, PlayRun
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


# --------------------------------------------------------------------------- price changes

PRICE_SENSITIVE = frozenset({"total_sales", "net_sales", "gross_sales", "orders", "orders_placed", "units",
                             "discounts"})
"""Base metrics a change of prices moves (what buyers pay, whether and how much they buy)."""
MIN_PRICE_STEP = 0.03
"""A unit-price step smaller than 3 % is left to the statistics: product mix moves it that much."""
PRICE_SD = 3.0
"""...and it must stand 3 standard errors of the days' own unit-price noise clear of no step."""
MIN_PRICE_DAYS = 7


MIX_METRICS = frozenset({"units", "gross_sales"})
"""A play judged on (or watching) a KPI over these aims at the basket (units per order): its own
mechanism moves the mean unit price as a price change would, so the two cannot be told apart."""


def changes_prices(session: Session, run: PlayRun, configs: ConfigSet) -> bool:
    """Whether the run itself moves the store's mean unit price, so that a step in it is no other
    cause: it applied a ``price`` change (products re-priced, a bundle created at its price); or,
    having applied nothing here (run by hand and logged), its plan has a step named for prices
    (``update_prices``); or it aims at the basket mix (its evidence or watched KPIs read units or
    gross sales, as units per order does): an add-on sold or a bundle bought moves the mean unit
    price, which daily totals cannot tell from a price change."""
    jobs = [j for j in session.exec(select(Job.id).where(Job.play_run_id == run.id)).all() if j is not None]
    rows = session.exec(select(AppliedChange).where(col(AppliedChange.job_id).in_(jobs))).all() if jobs else []
    if any(isinstance(c, dict) and c.get("field") == "price"
           for r in rows for c in (r.changeset or {}).get("changes") or []):
        return True
    play = next((p for p in configs.plays.plays if p.id == run.play_id), None)
    if not rows and play is not None and any("price" in step.action.lower() for step in play.job_plan):
        return True
    by_id = {k.id: k for k in configs.kpis.kpis}
    watched = [*run_kpis(run, configs), *(play.kpis if play is not None else [])]
    return any(MIX_METRICS & set(parse_formula(by_id[k].formula).metrics) for k in watched if k in by_id)


def _unit_prices(series: Series, days: Iterable[date]) -> tuple[list[date], np.ndarray, np.ndarray]:
    """Days with sales and units, with each day's gross sales and units."""
    sales, units = series.get("gross_sales", {}), series.get("units", {})
    kept = [d for d in days if d in sales and d in units and sales[d] > 0 and units[d] > 0]
    return (kept, np.array([float(sales[d]) for d in kept], dtype=float),
            np.array([float(units[d]) for d in kept], dtype=float))


def _step_day(days: Sequence[date], logs: np.ndarray) -> date:
    """The first day of the new price level: the split of the days whose two sides differ most,
    in standard errors."""
    best, at = -1.0, days[len(days) // 2]
    for k in range(3, len(days) - 2):
        left, right = logs[:k], logs[k:]
        se = math.sqrt(left.var(ddof=1) / len(left) + right.var(ddof=1) / len(right)) or 1e-12
        t = abs(right.mean() - left.mean()) / se
        if t > best:
            best, at = t, days[k]
    return at


def price_change(kpi: KPI, series: Series, before: Iterable[date], after: Iterable[date],
                 own: bool = False) -> list[Confounder]:
    """The store's mean unit price (gross_sales / units) stepping between the windows, for a KPI
    prices move, when the run does not re-price products itself (``own``): a price raised by hand
    the day a bundle went live would be the bundle's "moved up" AOV otherwise (the reading-evidence
    SOP lists price changes among the confounders). A step is named only when it is at least
    ``MIN_PRICE_STEP`` and ``PRICE_SD`` standard errors of the days' own unit-price noise: product
    mix moves the mean a little every week, and that is no confounder."""
    if own or not set(parse_formula(kpi.formula).metrics) & PRICE_SENSITIVE:
        return []
    b_days, b_sales, b_units = _unit_prices(series, before)
    a_days, a_sales, a_units = _unit_prices(series, after)
    if len(b_days) < MIN_PRICE_DAYS or len(a_days) < MIN_PRICE_DAYS:
        return []
    step = math.log((a_sales.sum() / a_units.sum()) / (b_sales.sum() / b_units.sum()))
    b_logs, a_logs = np.log(b_sales / b_units), np.log(a_sales / a_units)
    se = math.sqrt(b_logs.var(ddof=1) / len(b_logs) + a_logs.var(ddof=1) / len(a_logs))
    if abs(step) < math.log1p(MIN_PRICE_STEP) or abs(step) < PRICE_SD * se:
        return []
    day = _step_day([*b_days, *a_days], np.concatenate([b_logs, a_logs]))
    pct = 100 * math.expm1(step)
    return [Confounder(kind="price_change", what="unit_price", first_day=day, last_day=day, days=1,
                       note=f"mean unit price (gross_sales / units) {pct:+.1f} % after vs before, stepping "
                            f"around {day} ({abs(step) / se:.0f} standard errors of its daily noise): prices "
                            f"changed inside the windows, not by this play")]
