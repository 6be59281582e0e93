"""Judge KPIs: value, status, anomaly and a one-line note (``evaluate_series`` is pure;
``evaluate_kpis`` reads a client's series from the database once and may store the statuses).

The window ends at ``data_through``, the newest day every metric of the formula has data for, as
long as that is at most ``max_staleness_days`` before as-of (analytics often lags a day). Missing
days, stale data, a too-small denominator and (for anomaly-checked KPIs) fewer than 3 weekly windows
of history give UNKNOWN with the reason in the note, never a guess (DATA.md "Judging a KPI").
Final status: the worse of the threshold status and the confirmed anomaly level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, select

from chimera.as_of import default_as_of, default_day, store_zone
from chimera.clients import ClientContext
from chimera.config.models import KPI
from chimera.db.engine import session_scope
from chimera.db.models import CustomerDay, CycleRun, KPIStatus, decode_customers
from chimera.kpi import anomaly as anomaly_mod
from chimera.kpi.fmt import CENTS, FILS, day_ranges, fmt, fmt_apart, fmt_bound, is_fils, money_step, quantize
from chimera.kpi.formula import Series
from chimera.kpi.models import Anomaly, DayState, KPIReport, KPIResult
from chimera.kpi.status import LEVELS, ThresholdState, recovery, threshold_state, worse
from chimera.kpi.window import Customers, KPIWindows, WindowValue, change_pct, is_repeat, needed_metrics
from chimera.metrics import load_series

__all__ = ["change_pct", "daily_states", "evaluate_kpis", "evaluate_series", "history_days"]


def history_days(spec: KPI) -> int:
    """Days before as-of whose data can change this KPI's judgement (the loader's start bound)."""
    return anomaly_mod.history_days(KPIWindows(spec, {}).days) + spec.max_staleness_days


@dataclass(frozen=True)
class Judgement:
    status: str
    reason: str | None
    end: date | None
    current: WindowValue | None = None
    threshold: ThresholdState | None = None
    score: anomaly_mod.Score | None = None
    anomaly_level: int = 0
    detail: str = ""


def judge(windows: KPIWindows, as_of: date, currency: str | None = None) -> Judgement:
    """The status of ``windows.spec`` at ``as_of`` with everything the note needs (money in the
    words of an UNKNOWN in ``currency``'s smallest unit, ``chimera.kpi.fmt``)."""
    spec = windows.spec
    horizon = history_days(spec)
    newest = windows.newest(as_of, horizon)
    absent = [m for m, d in newest.items() if d is None]
    if windows.repeat and not any((windows.customers or {}).values()):
        # an orders export without customer e-mails stores no CustomerDay: that is no data, not
        # 'customers 0 over 90d' under a store with thousands of orders
        absent.append("customer (CustomerDay)")
    if absent:  # older data may exist (a store that stopped long ago): the note says how far it looked
        return Judgement("UNKNOWN", "no_data", None, detail=(
            f"no {', '.join(absent)} data in the {horizon} days to {as_of} (all the history its status and "
            "anomaly check read)"))
    metric, end = min(newest.items(), key=lambda kv: (kv[1], kv[0]))
    assert end is not None
    lag = (as_of - end).days
    if lag > spec.max_staleness_days:
        return Judgement("UNKNOWN", "stale", end, detail=(
            f"{metric} data ends {end}, {lag} days before {as_of} (max {spec.max_staleness_days})"))
    current = windows.at(end)
    if not current.ok:
        return Judgement("UNKNOWN", current.reason, end, current, detail=_unknown_detail(windows, current, currency))
    threshold = threshold_state(windows, end)
    assert threshold is not None
    score, level = None, 0
    if spec.anomaly:
        score, level = anomaly_mod.confirmed(windows, end)
        if score is None:
            detail = _history_detail(windows, end, currency)
            return Judgement("UNKNOWN", "history", end, current, threshold, detail=detail)
    status = LEVELS[max(threshold.level, level)]
    return Judgement(status, None, end, current, threshold, score, level)


def _history_detail(windows: KPIWindows, end: date, currency: str | None = None) -> str:
    """Why there is no baseline: the store is too young, or its earlier weeks have holes or are too
    thin (a store with 20 weeks of history and a month without analytics is not 'new')."""
    need, weeks = anomaly_mod.MIN_BASELINE_WEEKS, anomaly_mod.CANDIDATE_WEEKS
    young = f"fewer than {need} weekly windows of history before {end} for a baseline"
    past = [windows.at(end - timedelta(days=7 * k)) for k in range(1, weeks + 1)]
    whole = sum(w.ok for w in past)
    holes: dict[str, set[date]] = {}
    thin = zero = early = 0
    for w in past:
        if w.reason == "missing" and not windows.before_data(w.missing):
            for metric, days in w.missing.items():
                holes.setdefault(metric, set()).update(d for d in days if d >= (windows.first_day(metric) or d))
        early += w.reason == "missing" and windows.before_data(w.missing)
        thin += w.reason == "denominator"
        zero += w.reason == "zero"
    if not holes and not thin and not zero:
        return young
    label = windows.denominator_label or "denominator"

    def has(n: int) -> str:
        return f"{n} {'has' if n == 1 else 'have'}"

    why = []
    if holes:
        why.append("; ".join(f"{m} missing on {day_ranges(sorted(days))}" for m, days in sorted(holes.items())))
    if thin:
        minimum = fmt(windows.spec.min_denominator, windows.denominator_unit, currency)
        why.append(f"{has(thin)} {label} below the minimum {minimum}")
    if zero:  # no minimum set: a week without one order is no 'below the minimum 0'
        why.append(f"{has(zero)} {label} at zero")
    if early:  # every window is accounted for: 'only 0 of 6' then one reason read as if 5 were fine
        why.append(f"{early} reach{'es' if early == 1 else ''} back before the data starts")
    return (f"only {whole} of the {weeks} weekly windows before {end} can be a baseline ({need} needed): "
            + ", ".join(why))


def _unknown_detail(windows: KPIWindows, current: WindowValue, currency: str | None = None) -> str:
    spec, end = windows.spec, current.end
    if current.reason == "missing" and windows.before_data(current.missing):
        starts = {m: d for m in current.missing if (d := windows.first_day(m)) is not None}
        metric, first = max(starts.items(), key=lambda kv: (kv[1], kv[0]))
        return (f"{metric} data starts {first}, only {(end - first).days + 1} of the {windows.days} days of "
                f"the {spec.window} window to {end}")
    if current.reason == "missing":
        return _missing_detail(windows, current)
    label = windows.denominator_label or "denominator"
    if current.reason == "denominator":
        unit = windows.denominator_unit  # a money denominator reads as money: gross_sales 480.50
        return (f"{label} {fmt(current.denominator, unit, currency)} over {spec.window} to {end}, below the "
                f"minimum {fmt(spec.min_denominator, unit, currency)}")
    return f"{label} is zero over {spec.window} to {end}"


def _missing_detail(windows: KPIWindows, current: WindowValue) -> str:
    """The days to re-ingest: a gap inside the data, not the days before a metric's data starts
    (a 90-day window of a 50-day store with one day missing read 'orders missing on' 41 days, 40
    of them before the store's first order); those are said as the data's start."""
    parts, young = [], []
    for metric, days in current.missing.items():
        first = windows.first_day(metric)
        inside = [d for d in days if first is None or d >= first]
        if first is not None and len(inside) < len(days):
            young.append((metric, first))
        if inside:
            parts.append(f"{metric} missing on {day_ranges(inside)}")
    if young:
        metric, first = max(young, key=lambda mf: (mf[1], mf[0]))
        parts.append(f"{metric} data starts {first}, only {(current.end - first).days + 1} of the "
                     f"{windows.days} days of the {windows.spec.window} window to {current.end}")
    return "; ".join(parts)


def _threshold_phrase(spec: KPI, value: Decimal, ts: ThresholdState, currency: str | None = None) -> str:
    bad, good = ("below", "above") if spec.direction == "higher_is_better" else ("above", "below")

    def f(number: Decimal | None) -> str:
        return fmt_bound(number, spec.unit, currency)

    name = {2: f"critical {f(spec.critical)}", 1: f"warning {f(spec.warning)}"}
    if ts.raw > ts.level:
        pending = f"{bad} {name[ts.raw]} for 1 day (needs 2 to confirm)"
        if not ts.level:
            return pending
        # a WARNING about to escalate: the note still names the threshold the status stands on
        held = replace(ts, raw=ts.level)
        return f"{_threshold_phrase(spec, value, held, currency)}, {pending}"
    if ts.held:
        kind = "critical" if ts.level == 2 else "warning"
        return f"not yet back past {kind} recovery {f(recovery(spec, ts.level))}"
    if ts.level == 1 and value == spec.critical:  # exactly on critical: raised only past it
        return f"{bad} {name[1]}, at critical {f(spec.critical)} (CRITICAL only past it)"
    if ts.level:
        return f"{bad} {name[ts.level]}"
    if value == spec.warning and spec.warning != spec.target:  # not 'below warning 80' for 80
        return f"{bad} target {f(spec.target)}, at warning {f(spec.warning)} (WARNING only past it)"
    if worse(spec, value, spec.target):
        return f"{bad} target {f(spec.target)}, {good} warning {f(spec.warning)}"
    return f"at or {good} target {f(spec.target)}"


_CHANGE_BOUNDS = frozenset(r[2] for r in (*anomaly_mod.RULES, *anomaly_mod.HOLD_RULES))
_SD_BOUNDS = frozenset(r[1] for r in (*anomaly_mod.RULES, *anomaly_mod.HOLD_RULES))


def _short_of(number: float, bounds: frozenset[float], sign: str = "") -> str:
    """``number`` to 1 decimal, with more when that would round it up onto a rule's bound it has not
    reached: a -19.96 % drop scored WARNING read '(-20.0%)', the CRITICAL rule's number, under a
    WARNING; it reads '(-19.96%)'. The sd alike: 3.96 sd scored WARNING is '3.96 sd', not '4.0 sd'."""
    for places in (1, 2, 3, 4):
        text = f"{number:{sign}.{places}f}"
        if abs(float(text)) not in bounds or abs(number) >= abs(float(text)):
            return text
    return text


def shown_sd(sd_score: float) -> str:
    """An sd score's size as notes show it (``_short_of``: never rounded onto a rule's bound)."""
    return _short_of(abs(sd_score), _SD_BOUNDS)


def shown_change(change_pct: float) -> str:
    """A relative change as notes show it, signed (``_short_of``)."""
    return _short_of(change_pct, _CHANGE_BOUNDS, "+")


def _anomaly_phrase(spec: KPI, score: anomaly_mod.Score, level: int, currency: str | None = None) -> str:
    side = "below" if score.sd_score < 0 else "above"
    if score.change_pct is not None:
        change = f" ({_short_of(score.change_pct, _CHANGE_BOUNDS, '+')}%)"
    else:  # from a zero baseline the relative change is unbounded
        change = f" ({'up' if score.sd_score > 0 else 'down'} from 0)" if score.sd_score else ""
    if level == 0:
        tail = " for 1 day (needs 2)"
    elif level > score.level:  # kept by the recovery rules, not by a fresh breach
        _, min_sd, min_chg = next(r for r in anomaly_mod.HOLD_RULES if r[0] == level)
        tail = f", held {LEVELS[level]} until under {min_sd:g} sd or {min_chg:g}%"
    elif level < score.level:  # about to escalate
        tail = f", {LEVELS[score.level]} for 1 day (needs 2)"
    else:
        tail = ""
    return (f"{_short_of(abs(score.sd_score), _SD_BOUNDS)} sd {side} its {score.weeks}-week baseline "
            f"{fmt(score.baseline, spec.unit, currency)}{change}{tail}")


def _money(windows: KPIWindows, j: Judgement, value: Decimal | None, currency: str | None = None) -> Decimal | None:
    """A currency value in the store's precision: that of ``currency`` when given (fils for dinars,
    cents otherwise: a yen AOV's text is whole yen, its value keeps cents); without one, fils only
    for a sum whose value has them, cents for everything else. A USD AOV of 826.50 / 20 orders is
    41.33, not '41.325', and a median of two weekly sums 1,086.635 reads 1,086.64."""
    if windows.spec.unit != "currency" or value is None:
        return value
    if money_step(currency) is not None:
        return quantize(value, "currency", currency)
    exact = j.current.value if j.current is not None else None
    if not windows.is_ratio and exact is not None and is_fils(exact):
        return value.quantize(FILS, ROUND_HALF_UP)
    return value.quantize(CENTS, ROUND_HALF_UP)


def _note(windows: KPIWindows, j: Judgement, currency: str | None = None) -> str:
    spec = windows.spec
    if j.current is None or j.current.value is None or j.threshold is None:
        return f"{spec.id} UNKNOWN: {j.detail}"
    bounds = [spec.target, spec.warning, spec.critical, spec.warning_recovery, spec.critical_recovery]
    shown = fmt(_money(windows, j, j.current.value, currency), spec.unit, currency)
    value = fmt_apart(j.current.value, spec.unit, bounds, shown, currency)
    head = f"{spec.id} {value} over {spec.window} to {j.end}"
    if j.status == "UNKNOWN":
        return f"{head}; UNKNOWN: {j.detail}"
    parts = [f"{head}, {_threshold_phrase(spec, j.current.value, j.threshold, currency)}"]
    if j.score is not None and (j.score.level > 0 or j.anomaly_level > 0):
        score = replace(j.score, baseline=_money(windows, j, j.score.baseline, currency) or j.score.baseline)
        parts.append(_anomaly_phrase(spec, score, j.anomaly_level, currency))
    return "; ".join(parts)


def _anomaly_model(windows: KPIWindows, j: Judgement, currency: str | None = None) -> Anomaly | None:
    spec, s = windows.spec, j.score
    if s is None:
        return None
    return Anomaly(
        flagged=j.anomaly_level > 0,
        level=LEVELS[j.anomaly_level],  # type: ignore[arg-type]
        raw_level=LEVELS[s.level],  # type: ignore[arg-type]
        baseline=quantize(_money(windows, j, s.baseline, currency), spec.unit, currency) or Decimal(0),
        weeks=s.weeks,
        sd_score=Decimal(f"{s.sd_score:.2f}"),
        change_pct=None if s.change_pct is None else Decimal(f"{s.change_pct:.2f}"),
    )


def _result(windows: KPIWindows, j: Judgement, currency: str | None = None) -> KPIResult:
    spec = windows.spec
    previous = windows.at(j.end - timedelta(days=windows.days)) if j.end else None
    return KPIResult(
        id=spec.id, label=spec.label, unit=spec.unit, direction=spec.direction,
        status=j.status,  # type: ignore[arg-type]
        value=_reported(windows, j, j.current.value if j.current else None, currency),
        target=spec.target, warning=spec.warning, critical=spec.critical, window=spec.window,
        data_through=j.end, note=_note(windows, j, currency), anomaly=_anomaly_model(windows, j, currency),
        previous_value=_reported(windows, j, previous.value if previous and previous.ok else None, currency),
        threshold_status=LEVELS[j.threshold.level] if j.threshold else None,  # type: ignore[arg-type]
        unknown_reason=j.reason,  # type: ignore[arg-type]
    )


def _reported(windows: KPIWindows, j: Judgement, value: Decimal | None, currency: str | None) -> Decimal | None:
    """A window value as stored and shown in JSON (``quantize`` of its ``_money``)."""
    return quantize(_money(windows, j, value, currency), windows.spec.unit, currency)


def evaluate_series(spec: KPI, series: Series, as_of: date, customers: Customers | None = None,
                    currency: str | None = None) -> KPIResult:
    """Judge ``spec`` on ``series`` (``{metric: {day: Decimal}}``) at ``as_of``.

    ``customers`` (``{day: {customer: orders}}``) feeds the special ``repeat_purchase_rate`` formula;
    ``currency`` (the client's) says how money reads in the note.
    """
    windows = KPIWindows(spec, series, customers)
    return _result(windows, judge(windows, as_of, currency), currency)


def daily_states(spec: KPI, series: Series, start: date, end: date, customers: Customers | None = None,
                 currency: str | None = None) -> dict[date, DayState]:
    """The judgement of every day in ``[start, end]`` (each day as its own as-of), sharing window sums.

    Evidence uses it to find anomalies in driver KPIs inside before/after windows.
    """
    windows = KPIWindows(spec, series, customers)
    out: dict[date, DayState] = {}
    for i in range((end - start).days + 1):
        day = start + timedelta(days=i)
        j = judge(windows, day, currency)
        out[day] = DayState(
            day=day,
            status=j.status,  # type: ignore[arg-type]
            value=_reported(windows, j, j.current.value if j.current else None, currency),
            threshold_status=LEVELS[j.threshold.level] if j.threshold else None,  # type: ignore[arg-type]
            anomaly_level=LEVELS[j.anomaly_level] if j.score else None,  # type: ignore[arg-type]
            anomaly_raw_level=LEVELS[j.score.level] if j.score else None,  # type: ignore[arg-type]
            unknown_reason=j.reason,  # type: ignore[arg-type]
        )
    return out


# --------------------------------------------------------------------------- database-backed


def evaluate_kpis(client: ClientContext, as_of: date | None = None, run_id: str | None = None,
                  session: Session | None = None, store: bool | None = None) -> KPIReport:
    """Every KPI of ``client`` at ``as_of`` (default: the newest day with any data).

    Reads the series once (from as-of minus the longest history any KPI needs). With ``run_id``
    (or ``store=True``, which creates a ``CycleRun(kind="evaluation")``) the results are stored as
    KPIStatus rows of that run; ``store=False`` never writes. The same data gives the same report.
    """
    if session is None:
        with session_scope() as own:
            return evaluate_kpis(client, as_of, run_id, own, store)
    specs = list(client.configs.kpis.kpis)
    note = ""
    if as_of is None:
        default = default_day(session, client.company_id, client.config.timezone)
        # no data at all: the store's today (the UTC date is yesterday in Tonga's morning)
        as_of, note = default.day or datetime.now(store_zone(client.config.timezone)).date(), default.note
    start = as_of - timedelta(days=max((history_days(s) for s in specs), default=0))
    metrics = sorted({m for s in specs for m in needed_metrics(s)})
    series = load_series(session, client.company_id, metrics, start=start, end=as_of)
    customers = load_customers(session, client.company_id, start, as_of) if any(map(is_repeat, specs)) else None
    results = [evaluate_series(s, series, as_of, customers, client.config.currency) for s in specs]
    if store is None:
        store = run_id is not None
    if store:
        run_id = _store(session, client.company_id, as_of, results, run_id)
    return KPIReport(client=client.name, as_of=as_of, run_id=run_id, kpis=results, as_of_note=note)


def judged_day(session: Session, client: ClientContext) -> date:
    """The default as-of: the newest day with complete data (see ``chimera.as_of``); today
    (UTC) when there is none."""
    return default_as_of(session, client.company_id, client.config.timezone)


def load_customers(session: Session, company_id: int, start: date, end: date) -> Customers:
    """``{day: {customer: orders}}`` from CustomerDay rows (pseudonymized customers only)."""
    query = select(CustomerDay.day, CustomerDay.orders_by_customer).where(
        CustomerDay.company_id == company_id, CustomerDay.day >= start, CustomerDay.day <= end)
    out: Customers = {}
    for day, blob in session.exec(query):
        bucket = out.setdefault(day, {})
        for customer, orders in decode_customers(blob).items():
            bucket[customer] = bucket.get(customer, 0) + orders
    return out


def _store(session: Session, company_id: int, as_of: date, results: list[KPIResult], run_id: str | None) -> str:
    if run_id is None:
        run = CycleRun(company_id=company_id, kind="evaluation", as_of=as_of, status="succeeded")
        session.add(run)
        session.flush()
        run_id = run.id
    for r in results:
        session.add(KPIStatus(
            company_id=company_id, run_id=run_id, kpi_id=r.id, as_of=as_of, status=r.status,
            value=_str(r.value), target=_str(r.target), warning=_str(r.warning), critical=_str(r.critical),
            window=r.window, data_through=r.data_through, note=r.note,
            details=r.model_dump(mode="json", include={
                "label", "unit", "direction", "anomaly", "previous_value", "threshold_status", "unknown_reason"}),
        ))
    session.flush()
    return run_id


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
