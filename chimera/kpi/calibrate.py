"""Calibrate a client's KPI thresholds to its own recent history (manual §6.3 monthly, §10.3 onboarding).

Target = median of the last 8 weekly values (the KPI's own window, ending as-of, as-of - 7, ...);
warning and critical sit 2 and 3 standard deviations of those values away in the bad direction, with
recovery thresholds half a deviation back towards the target. KPIs with fewer than 6 usable weekly
values get no proposal and say why; so do KPIs whose history has no variation (a shop that never had
a refund: 0/0/0 would make one refund CRITICAL) and KPIs whose proposal would not be strictly ordered
in the bad direction after rounding (target, recovery, warning, recovery, critical): they keep the
configured thresholds, and so do KPIs already at the proposed numbers (nothing to write or log).
Applying edits only the numbers in kpis.yml (comments stay), re-validates the whole config set, and
logs the change in the changelog.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path

from sqlmodel import Session

from chimera.clients import ClientContext
from chimera.config.loader import FILES, load_config_set
from chimera.config.models import KPI
from chimera.db.engine import session_scope
from chimera.errors import ConfigError
from chimera.ingest.parsing import minor_unit
from chimera.kpi.fmt import day_ranges, fmt, quantize
from chimera.kpi.formula import Series
from chimera.kpi.models import Proposal
from chimera.kpi.window import Customers, KPIWindows, WindowValue, is_repeat, needed_metrics
from chimera.metrics import load_series

WEEKS = 8
MIN_WEEKS = 6
STEP = {"currency": Decimal("0.01"), "percent": Decimal("0.0001"), "count": Decimal("1"), "ratio": Decimal("0.01")}
KEYS = ("target", "warning", "critical", "warning_recovery", "critical_recovery")


def _round(value: float, unit: str, currency: str = "USD") -> Decimal:
    step = minor_unit(currency) if unit == "currency" else STEP[unit]  # dinars keep their fils, yen is whole
    out = Decimal(str(value)).quantize(step, ROUND_HALF_UP)
    return max(out, Decimal(0)) if unit != "ratio" else out


def _strictly_ordered(proposed: dict[str, Decimal], direction: str) -> bool:
    """target, warning_recovery, warning, critical_recovery, critical strictly in the bad direction.

    Equal or crossed thresholds would make every move past the target a CRITICAL at once (a history
    of all-zero refunds proposed 0/0/0, so one refund read CRITICAL), or contradict the config rule.
    """
    order = [proposed[k] for k in ("target", "warning_recovery", "warning", "critical_recovery", "critical")
             if k in proposed]
    if direction == "higher_is_better":
        order = [-v for v in order]
    return all(a < b for a, b in pairwise(order))


def _reachable(critical: Decimal, spec: KPI) -> bool:
    """Can a value pass ``critical``? A 3-sd threshold of a noisy history lands past the bound a value
    cannot cross (below 0, above 100 %); clamped there it reads as calibrated but never fires (a
    1-5-orders-a-day shop was proposed orders critical 0)."""
    if spec.unit == "ratio":
        return True
    if spec.direction == "higher_is_better":
        return critical > 0
    return spec.unit != "percent" or critical < 1


INCIDENT_MADS = 3.5
"""A weekly value this many robust deviations (1.4826 x the median absolute deviation) from the
median is an incident (a refund spike, an outage): left out of the spread, else one bad week
widens warning and critical so far that a repeat of it would not warn."""


def _without_incidents(values: list[float], median: float) -> tuple[list[float], list[float]]:
    """``values`` without incident weeks, and those weeks; all of them when too few would be left
    for a spread (``MIN_WEEKS``) or the values have no robust spread (mostly one value)."""
    deviations = sorted(abs(v - median) for v in values)
    mid = len(deviations) // 2
    mad = deviations[mid] if len(deviations) % 2 else (deviations[mid - 1] + deviations[mid]) / 2
    limit = INCIDENT_MADS * 1.4826 * mad
    usual = [v for v in values if abs(v - median) <= limit]
    if not mad or len(usual) < MIN_WEEKS:
        return values, []
    return usual, [v for v in values if abs(v - median) > limit]


def _stale(windows: KPIWindows, newest: dict[str, date | None], as_of: date) -> str:
    """Why the KPI's data is too old to calibrate on ("" when it is not): a metric whose data
    ends more than ``max_staleness_days`` before as-of (the KPI is UNKNOWN then, manual §8.1). Its
    last 8 weeks to as-of are mostly missing; the weeks before it stopped are no new baseline (the
    proposal named as-of as the end of weeks that had ended a fortnight before)."""
    spec = windows.spec
    ends = {m: max((d for d in windows.series.get(m, {}) if d <= as_of), default=None)
            for m, d in newest.items() if d is None}
    ended = {m: d for m, d in ends.items() if d is not None}
    if not ended:  # no data at all: the too-few-weeks reason says so
        return ""
    metric, last = min(ended.items(), key=lambda kv: (kv[1], kv[0]))
    return (f"{metric} data ends {last}, {(as_of - last).days} days before {as_of} (max "
            f"{spec.max_staleness_days}): no recent weeks to calibrate on (need {MIN_WEEKS} of the last {WEEKS} "
            f"weekly {spec.window} values); thresholds left as they are")


def _unreadable(windows: KPIWindows, every: list[WindowValue], currency: str) -> str:
    """Why the weekly windows without a value have none: days before the data starts, days missing
    inside it, or a denominator under ``min_denominator`` (a small shop's 28 orders a week read as
    'not complete' although no day was missing)."""
    spec = windows.spec
    absent = [m for m in windows.metrics if windows.first_day(m) is None]
    if absent:  # every window misses them
        return f"no {', '.join(absent)} data in any of them"
    young: dict[str, date] = {}
    holes: dict[str, set[date]] = {}
    young_n = hole_n = thin = zero = 0
    for w in every:
        if w.reason == "missing" and windows.before_data(w.missing):
            young_n += 1
            young.update({m: d for m in w.missing if (d := windows.first_day(m)) is not None})
        elif w.reason == "missing":
            hole_n += 1
            for metric, days in w.missing.items():
                first = windows.first_day(metric)
                holes.setdefault(metric, set()).update(d for d in days if first is None or d >= first)
        thin += w.reason == "denominator"
        zero += w.reason == "zero"
    label = windows.denominator_label or "denominator"
    why = []
    if young_n:
        starts = ", ".join(f"{m} from {d}" for m, d in sorted(young.items()))
        why.append(f"{young_n} reach back before the data starts ({starts})")
    if hole_n:
        gaps = "; ".join(f"{m} missing on {day_ranges(sorted(days))}" for m, days in sorted(holes.items()) if days)
        why.append(f"{hole_n} miss days ({gaps})" if gaps else f"{hole_n} miss days")
    if thin:
        unit = windows.denominator_unit
        why.append(f"{thin} {'has' if thin == 1 else 'have'} {label} below the minimum "
                   f"{fmt(spec.min_denominator, unit, currency)}")
    if zero:
        why.append(f"{zero} {'has' if zero == 1 else 'have'} {label} of zero")
    return ", ".join(why) or "no value"


def propose_for_series(spec: KPI, series: Series, as_of: date, customers: Customers | None = None,
                       currency: str = "USD") -> Proposal:
    """A proposal for one KPI from its last ``WEEKS`` weekly values (pure); money in ``currency``'s
    smallest unit."""
    windows = KPIWindows(spec, series, customers)
    newest = windows.newest(as_of, spec.max_staleness_days + 1)
    current = {k: getattr(spec, k) for k in KEYS}
    base = {"kpi": spec.id, "unit": spec.unit, "direction": spec.direction, "current": current}
    stale = _stale(windows, newest, as_of)
    if stale:
        return Proposal(**base, enough_history=False, reason=stale)
    end = min((d for d in newest.values() if d is not None), default=as_of)
    every = [windows.at(end - timedelta(days=7 * k)) for k in range(WEEKS)]
    values = [w.value for w in every if w.ok and w.value is not None]
    base["weekly_values"] = [quantize(v, spec.unit, currency) for v in values]

    def text(number: Decimal | None) -> str:  # money in the currency's own smallest unit
        return fmt(number, spec.unit, currency)

    if len(values) < MIN_WEEKS:
        return Proposal(**base, enough_history=False, reason=(
            f"only {len(values)} of the last {WEEKS} weekly {spec.window} values to {end} can be read "
            f"(need {MIN_WEEKS}): {_unreadable(windows, every, currency)}; thresholds left as they are"))
    floats = sorted(float(v) for v in values)
    mid = len(floats) // 2
    target = floats[mid] if len(floats) % 2 else (floats[mid - 1] + floats[mid]) / 2
    usual, incidents = _without_incidents(floats, target)
    mean = sum(usual) / len(usual)
    spread = math.sqrt(sum((v - mean) ** 2 for v in usual) / (len(usual) - 1))
    configured = "/".join(text(getattr(spec, k)) for k in ("target", "warning", "critical"))
    if floats[0] == floats[-1]:
        return Proposal(**base, enough_history=True, reason=(
            f"history has no variation (all {text(values[0])}): keeping configured {configured}"))
    sd = max(spread, abs(target) * 0.02)
    sign = -1 if spec.direction == "higher_is_better" else 1
    proposed = {
        "target": _round(target, spec.unit, currency),
        "warning": _round(target + sign * 2 * sd, spec.unit, currency),
        "critical": _round(target + sign * 3 * sd, spec.unit, currency),
    }
    if spec.warning_recovery is not None:
        proposed["warning_recovery"] = _round(target + sign * 1.5 * sd, spec.unit, currency)
    if spec.critical_recovery is not None:
        proposed["critical_recovery"] = _round(target + sign * 2.5 * sd, spec.unit, currency)
    if spec.unit == "percent":
        proposed = {k: min(v, Decimal(1)) for k, v in proposed.items()}
    if not _reachable(proposed["critical"], spec):
        side, bound = ("below", "0") if spec.direction == "higher_is_better" else ("above", "100%")
        return Proposal(**base, enough_history=True, reason=(
            f"critical 3 sd {side} the median {text(proposed['target'])} (spread "
            f"{text(_round(sd, spec.unit, currency))}) would be at or {side} {bound}, which no "
            f"{spec.window} value passes, so it could never be raised: the history varies too much; keeping configured "
            f"{configured}"))
    if not _strictly_ordered(proposed, spec.direction):
        shown = "/".join(text(proposed[k]) for k in ("target", "warning", "critical"))
        return Proposal(**base, enough_history=True, reason=(
            f"thresholds from the history collapse or cross ({shown} after rounding and clamping, median "
            f"{text(_round(target, spec.unit, currency))}, "
            f"spread {text(_round(sd, spec.unit, currency))}): "
            f"keeping configured {configured}"))
    reason = (f"median of {len(values)} weekly values to {end} {text(proposed['target'])}, spread "
              f"{text(_round(sd, spec.unit, currency))}: warning at 2 sd, critical at 3 sd")
    if incidents:
        shown = ", ".join(text(_round(v, spec.unit, currency)) for v in incidents)
        reason += (f" (spread without {len(incidents)} incident week(s) more than {INCIDENT_MADS} robust "
                   f"deviations from the median: {shown})")
    if all(value == current[key] for key, value in proposed.items()):  # a second run on the same weeks
        same = f"{reason}; these are the configured thresholds already (keeping configured {configured})"
        return Proposal(**base, enough_history=True, reason=same)
    return Proposal(**base, enough_history=True, reason=reason, proposed=proposed)


def propose_calibration(client: ClientContext, as_of: date | None = None, session: Session | None = None
                        ) -> list[Proposal]:
    """One proposal per KPI of ``client`` (those with too little history say so)."""
    from chimera.kpi.evaluate import judged_day, load_customers

    if session is None:
        with session_scope() as own:
            return propose_calibration(client, as_of, own)
    specs = list(client.configs.kpis.kpis)
    as_of = as_of or judged_day(session, client)
    longest = max(KPIWindows(s, {}).days for s in specs)
    start = as_of - timedelta(days=7 * WEEKS + longest)
    metrics = sorted({m for s in specs for m in needed_metrics(s)})
    series = load_series(session, client.company_id, metrics, start=start, end=as_of)
    customers = load_customers(session, client.company_id, start, as_of) if any(map(is_repeat, specs)) else None
    return [propose_for_series(s, series, as_of, customers, client.config.currency) for s in specs]


def _set_value(lines: list[str], line_no: int, key: str, value: Decimal) -> bool:
    """Replace ``key: <number>`` on 1-based ``line_no`` keeping indentation and comments."""
    pattern = re.compile(rf"(\b{key}:\s*)([-+0-9.eE]+)")
    line = lines[line_no - 1]
    new, count = pattern.subn(lambda m: f"{m.group(1)}{value}", line, count=1)
    lines[line_no - 1] = new
    return count == 1


def apply_calibration(client: ClientContext, proposals: list[Proposal], owner: str, reason: str,
                      on: date | None = None) -> list[str]:
    """Write the proposed numbers into the client's kpis.yml, re-validate, and log the change.

    Returns the KPI ids changed. On a validation failure the file is restored and ConfigError raised.
    """
    from chimera.config.changelog import log_change

    folder: Path = client.folder
    path = folder / FILES["kpis"]
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    line_map = client.configs.lines.get("kpis") or load_config_set(folder).lines["kpis"]
    index = {k.id: i for i, k in enumerate(client.configs.kpis.kpis)}
    changed: list[str] = []
    for p in proposals:
        if not p.enough_history or p.kpi not in index or not p.proposed:
            continue
        for key, value in p.proposed.items():
            line_no = line_map.get(("kpis", index[p.kpi], key))
            if line_no is None or not _set_value(lines, line_no, key, value):
                raise ConfigError(f"{path.name}: kpis[{index[p.kpi]}] ({p.kpi}): cannot find a numeric "
                                  f"'{key}:' to update; edit it by hand to {value}")
        changed.append(p.kpi)
    if not changed:
        return []
    path.write_text("".join(lines), encoding="utf-8")
    try:
        load_config_set(folder)
    except ConfigError as exc:
        path.write_text(original, encoding="utf-8")
        raise ConfigError([f"{path.name}: calibrated thresholds were not written back:", *exc.problems]) from None
    effect = f"thresholds of {', '.join(changed)} follow the last {WEEKS} weeks; fewer stale alerts"
    log_change(folder, FILES["kpis"], reason, effect, owner, on, company_id=client.company_id)
    return changed
