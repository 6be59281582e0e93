"""LOG_EVIDENCE (manual §4.6): one EvidenceRecord per evidence KPI of an executed play run.

Records are keyed by (company, correlation_id, kpi), so re-running the step refreshes them and never
duplicates. The correlation_id ties each record to its play run, its decision and its jobs. Final
verdicts feed the play's review record (manual §8.3) once per play run.

A failed run whose earlier steps applied changes is judged too (manual §7: the real impact, even of a
play that went wrong), and its evidence says it ran in part, naming each step not applied
(``ran_in_part``). Its verdict is not counted on the play's review record: §8.3 puts a play under
review when it "triggers but never moves the needle", a judgement of the play as planned, and half
of its job plan is not that play (the copy for repriced pages without the repricing), so neither a
failure of the play nor a success of it. Once a resume applies the rest, the run is whole again and
its final verdict counts as any other.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, func, select

from chimera.as_of import default_day, not_happened, store_zone
from chimera.clients import ClientContext
from chimera.config.loader import suggest
from chimera.config.models import KPI
from chimera.db.engine import session_scope
from chimera.db.models import Decision, EvidenceRecord, Job, MetricPoint, PlayRun, utcnow
from chimera.errors import ClientError, ConfigError, DecisionError
from chimera.evidence import calibration, repeat, stats
from chimera.evidence.confounders import (
    changes_prices,
    data_gaps,
    driver_anomalies,
    driver_gaps,
    overlapping_plays,
    price_change,
    run_kpis,
)
from chimera.evidence.models import (
    FINAL_VERDICTS,
    METHOD,
    Confounder,
    EffectEstimate,
    Judgement,
    KPITest,
    PlaceboResult,
)
from chimera.jobs.queue import SKIPPED_FOR, is_execution_step
from chimera.kpi.evaluate import load_customers
from chimera.kpi.fmt import fmt_stored, money_step
from chimera.kpi.formula import Formula, parse_formula, parse_window
from chimera.kpi.window import REPEAT_PRESENCE_METRIC, is_repeat
from chimera.metrics import load_series

DEFAULT_DELAY = 28
_PLACES = {"currency": 2, "count": 2, "percent": 6, "ratio": 4}


def _money_places(currency: str) -> int:
    """The places of ``currency``'s smallest unit (3 for dinars): a dinar mean per day keeps its fils."""
    step = money_step(currency)
    exponent = step.as_tuple().exponent if step is not None else -2
    return -exponent if isinstance(exponent, int) else 2


def _delay(client: ClientContext, run: PlayRun) -> int:
    """The delay recorded with the run (what was promised when it was decided), else plays.yml's."""
    logged = (run.explanation or {}).get("delay_days")
    if isinstance(logged, int) and logged > 0:
        return logged
    try:
        return client.configs.play(run.play_id).evidence.delay_days
    except ConfigError:  # the play left plays.yml since it ran: judge it on the default delay
        return DEFAULT_DELAY


def _links(session: Session, run: PlayRun) -> dict[str, Any]:
    """The decision and jobs that share the run's correlation id (manual §4.6)."""
    decision = session.exec(select(Decision).where(Decision.play_run_id == run.id)).first()
    jobs = session.exec(
        select(Job.id, Job.type, Job.status).where(
            Job.company_id == run.company_id, Job.correlation_id == run.correlation_id
        ).order_by(Job.id)  # type: ignore[arg-type]
    ).all()
    return {
        "play_run_id": run.id,
        "decision": None if decision is None else {
            "id": decision.id, "kind": decision.kind, "who": decision.who, "why": decision.why},
        "jobs": [{"id": j, "type": t, "status": s} for j, t, s in jobs],
    }


def ran_in_part(session: Session, run: PlayRun) -> dict[str, Any] | None:
    """The steps of ``run``'s job plan not applied, from its jobs' statuses now, or None when every
    step succeeded (or the run has no step: a play logged by hand): ``{"text": "ran in part: step 2
    copy_bot.draft_product_descriptions failed, step 3 ... skipped", "steps": [...],
    "counted_on_review": false}``. A step is ``skipped`` when cancelled because an earlier one failed
    for good (``chimera.jobs.queue.skip_after_failure``); any other status is said as it is."""
    query = select(Job).where(Job.play_run_id == run.id).order_by(col(Job.step), col(Job.id))
    jobs = session.exec(query).all()
    latest = {j.step: j for j in jobs if is_execution_step(j)}  # a step's newest job says how it ended
    steps = [{"step": j.step + 1, "job": j.id, "bot": j.bot, "action": j.action, "status": _step_status(j)}
             for j in latest.values() if j.status != "succeeded"]
    if not steps:
        return None
    said = ", ".join(f"step {s['step']} {s['bot']}.{s['action']} {s['status']}" for s in steps)
    return {"text": f"ran in part: {said}", "steps": steps, "counted_on_review": False}


def _step_status(job: Job) -> str:
    skipped = job.status == "cancelled" and SKIPPED_FOR in (job.result or {})
    return "skipped" if skipped else job.status


def _in_part(details: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """A record's details saying the run ran in part: in its reason, read wherever the verdict is."""
    return {**details, "ran_in_part": part,
            "reason": f"{details.get('reason', '')} (the play {part['text']}: only what its other steps applied "
                      "is judged, and the verdict is not counted on the play's review record)"}


def _upsert(session: Session, run: PlayRun, kpi: str) -> EvidenceRecord:
    row = session.exec(select(EvidenceRecord).where(
        EvidenceRecord.company_id == run.company_id,
        EvidenceRecord.correlation_id == run.correlation_id,
        EvidenceRecord.kpi == kpi,
    )).first()
    if row is None:
        assert run.executed_on is not None
        row = EvidenceRecord(company_id=run.company_id, play_run_id=run.id, play_id=run.play_id,
                             correlation_id=run.correlation_id, kpi=kpi, executed_on=run.executed_on)
    return row


def _unjudged(verdict: str, reason: str) -> dict[str, Any]:
    """A record without numbers, saying why (the KPI left kpis.yml, or this method cannot read it)."""
    return {"before": None, "after": None, "effect_pct": None, "ci_low_pct": None, "ci_high_pct": None,
            "verdict": verdict, "confounders": [], "details": {"reason": reason}}


def _compared(spec: KPI, est: EffectEstimate, before: str | None, after: str | None, per_day: bool,
              currency: str | None = None) -> str:
    """Which windows and values were compared, so a reader can check the verdict by hand (a
    percent KPI also in percent, as the KPI table shows it, beside the stored fraction). A sum KPI
    is compared as its mean per day, which says so: beside the KPI table's window totals a bare
    number reads as the window's total."""
    def shown(value: str | None) -> str:
        if value is None:
            return "n/a"
        text = shown_value(value, spec.unit, currency) + (f" ({value})" if spec.unit == "percent" else "")
        return f"{text} per day" if per_day else text

    if est.before_compared_start is not None:  # a partial after-window against as many days before it
        seen_end = est.after_start + timedelta(days=est.after_days_available - 1)
        return (f"{spec.id} {shown(before)} {_span(est.before_compared_start, est.before_end)} vs {shown(after)} "
                f"{_span(est.after_start, seen_end)}, as many days before the play as seen after it")
    return (f"{spec.id} {shown(before)} over {est.before_start}..{est.before_end} vs "
            f"{shown(after)} over {est.after_start}..{est.after_end}")


def _span(first: date, last: date) -> str:
    return f"on {first}" if first == last else f"over {first}..{last}"


@dataclass
class _Measured:
    """One KPI's numbers before its verdict: the verdict waits for the play's other KPIs (Holm)."""

    spec: KPI
    est: EffectEstimate
    plac: PlaceboResult
    others: list[Confounder]
    thin: str | None
    seen_on: date
    exported: date | None
    value_kind: str
    gap_spec: KPI
    """The KPI whose metrics are checked for gaps (repeat purchase rate: the store's orders)."""

    def judge(self, p_adjusted: float | None = None, family: int = 1) -> Judgement:
        return stats.judge(self.est, self.plac, self.others, as_of=self.seen_on, thin=self.thin,
                           p_adjusted=p_adjusted, family=family)


def _measure(
    session: Session, client: ClientContext, run: PlayRun, spec: KPI, series: Any, as_of: date, window: int,
) -> _Measured | dict[str, Any]:
    """The estimate, placebo dates, confounders and thin-data check of one KPI of the run (or,
    for a KPI this method cannot read, its record saying why)."""
    assert run.executed_on is not None
    exported = newest_exported(session, client)
    seen_on = min(as_of, exported) if exported else as_of  # days not exported yet are not seen yet
    if is_repeat(spec):
        start = min(series.get(REPEAT_PRESENCE_METRIC) or {run.executed_on: None})
        customers = load_customers(session, client.company_id, start, seen_on)
        presence = {d: v for d, v in (series.get(REPEAT_PRESENCE_METRIC) or {}).items() if d <= seen_on}
        if presence and not customers:
            return _unjudged("inconclusive", (
                f"not judged: {spec.id} counts customers who order twice, and no customer pseudonyms were "
                f"ingested for this store (only daily totals): nothing to count them from"))
        est = repeat.estimate(customers, presence, run.executed_on, seen_on, window)
        plac = repeat.placebo(customers, presence, run.executed_on, window, est.effect_pct)
        gap_spec, kind, label = spec.model_copy(update={"formula": REPEAT_PRESENCE_METRIC}), "repeat share", "customers"
    else:
        est = stats.estimate(spec.formula, series, run.executed_on, seen_on, window_days=window)
        plac = stats.placebo(spec.formula, series, run.executed_on, window_days=window,
                             real_effect_pct=est.effect_pct)
        rate = parse_formula(spec.formula).ratio  # `x / y * 100` is the rate x / y; `net_sales / 7` a daily mean
        denominator = Formula("", rate.right).metrics if rate is not None and not rate.offset else []
        gap_spec, label = spec, " + ".join(denominator)
        kind = "ratio of sums" if denominator else "mean per day"
    seen_end = min(est.after_end, as_of)
    own = run_kpis(run, client.configs)
    others: list[Confounder] = [
        *overlapping_plays(session, run, spec, client.configs, window, as_of),
        *driver_anomalies(spec, client.configs, series, est.before_start, seen_end, own),
        *price_change(spec, series, _days(est.before_start, est.before_end), _days(est.after_start, seen_end),
                      own=changes_prices(session, run, client.configs)),
    ]
    thin = stats.thin_data(est, float(spec.min_denominator), parse_window(spec.window), label)
    return _Measured(spec, est, plac, others, thin, seen_on, exported, kind, gap_spec)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _judged_fields(
    m: _Measured, judgement: Judgement, client: ClientContext, run: PlayRun, series: Any, as_of: date, window: int,
) -> dict[str, Any]:
    assert run.executed_on is not None
    spec, est, plac = m.spec, m.est, m.plac
    pending = judgement.verdict == "pending"  # partial after-window: no effect, and late data is no gap
    if pending:
        judgement.reason = _pending_reason(est, run.executed_on + timedelta(days=window), m.exported, as_of)
    seen_end = min(est.after_end, as_of)
    days = [est.before_start + timedelta(days=i) for i in range((seen_end - est.before_start).days + 1)]
    own = run_kpis(run, client.configs)
    gaps = [*data_gaps(m.gap_spec, series, days, arrived_only=pending),
            *driver_gaps(m.gap_spec, client.configs, series, days, own, arrived_only=pending)]
    currency = client.config.currency
    places = _PLACES.get(spec.unit, 4)
    if spec.unit == "currency":  # a dinar's mean per day keeps its fils
        places = max(places, _money_places(currency))
    before, after = stats.as_decimal(est.before, places), stats.as_decimal(est.after, places)
    how = ""
    if m.value_kind == "repeat share":
        how = f" ({repeat.HOW.format(n=window if est.before_compared_start is None else est.after_days_available)})"
    elif est.weekday_balanced:
        how = " (each weekday weighted alike: the windows are no whole number of weeks)"
    holes = stats.not_compared(est)  # a window with holes is not compared: no effect, no p
    measured = not pending and not holes
    test = KPITest() if holes else calibration.test(est, plac)
    return {
        "before": before,
        "after": after,
        "effect_pct": round(est.effect_pct, 2) if measured and est.effect_pct is not None else None,
        "ci_low_pct": round(est.ci_low_pct, 2) if measured and est.ci_low_pct is not None else None,
        "ci_high_pct": round(est.ci_high_pct, 2) if measured and est.ci_high_pct is not None else None,
        "verdict": judgement.verdict,
        "confounders": [c.as_json() for c in [*gaps, *m.others]],
        "details": {
            "reason": f"{_compared(spec, est, before, after, m.value_kind == 'mean per day', currency)}{how}"
                      f"{' so far' if pending else ''}: {judgement.reason}",
            "unit": spec.unit,
            "direction": spec.direction,
            "window_days": window,
            "before_window": [str(est.before_start), str(est.before_end)],
            "after_window": [str(est.after_start), str(est.after_end)],
            "after_days_seen": est.after_days_available,
            **({"before_compared": [str(est.before_compared_start), str(est.before_end)]}
               if est.before_compared_start is not None else {}),
            "value_kind": m.value_kind,
            "weekday_balanced": est.weekday_balanced,
            "bootstrap": {"draws": est.draws, "seed": est.seed, "level": 0.95},
            "placebo": {
                "dates": [str(d) for d in plac.dates],
                "effects_pct": [round(e, 2) for e in plac.effects_pct],
                "share_beaten": plac.share_beaten,
                "enough": plac.enough,
                "spread": None if plac.spread is None else round(plac.spread, 3),
                "dof": None if plac.dof is None else round(plac.dof, 2),
            },
            "test": {
                "p_noise": _rounded(test.p_noise), "p_placebo": _rounded(test.p_placebo),
                "p_value": _rounded(judgement.p_value), "p_adjusted": _rounded(judgement.p_adjusted),
                "family": judgement.family, "alpha": calibration.ALPHA,
                "correction": "Holm over the run's KPIs that reach the statistics",
            },
        },
    }


def _rounded(p: float | None) -> float | None:
    return None if p is None else round(p, 6)


def newest_exported(session: Session, client: ClientContext) -> date | None:
    """The newest day any export of the client reaches: days after it are not exported yet, which
    is no data gap and no reason for a final verdict (an as-of ahead of the data, F8)."""
    return session.exec(select(func.max(MetricPoint.day)).where(MetricPoint.company_id == client.company_id)).one()


def _pending_reason(est: EffectEstimate, due: date, exported: date | None, as_of: date) -> str:
    """Why a record is still pending, and the day it is judged: the rule (``as_of >= executed_on +
    delay``, the day after the after-window's last day) and the words agree, also on that last day."""
    window = f"after-window {est.after_start}..{est.after_end}"
    seen = f"{est.after_days_available}/{est.window_days} days seen"
    if est.after_complete:
        return f"{window} complete ({seen}); judged from {due}, {est.window_days} days after the play ran"
    if exported is not None and exported < min(as_of, est.after_end):
        return f"{window} not over yet ({seen}: data exported through {exported}, later days not yet); due {due}"
    return f"{window} not over yet ({seen}); due {due}"


def log_evidence(
    session: Session, client: ClientContext, play_run: PlayRun, as_of: date,
) -> list[EvidenceRecord]:
    """Write or refresh the evidence of one executed play run as seen on ``as_of``.

    The verdict stays ``pending`` until ``as_of >= executed_on + delay_days`` and the exports reach
    the after-window's end; only data up to ``as_of`` is read, so a replay on history gives what was
    knowable then. A record judged on a later day is newer knowledge: an earlier day's judgement
    (a replay) is computed and returned but neither stored nor counted on the play's record.
    """
    if play_run.company_id != client.company_id:
        raise ClientError(f"play run {play_run.id} belongs to another client than {client.name!r}")
    if play_run.executed_on is None:
        raise DecisionError(
            f"play run {play_run.id} ({play_run.play_id}) has not been executed: no evidence yet")
    planned = _delay(client, play_run)
    cut = _reverted(play_run, as_of)
    window = planned if cut is None else min(planned, (cut - play_run.executed_on).days)
    series = load_series(session, client.company_id, end=as_of)
    links = _links(session, play_run)
    by_id = {k.id: k for k in client.configs.kpis.kpis}
    stored = [_upsert(session, play_run, kpi) for kpi in run_kpis(play_run, client.configs)]
    keep = not any(r.as_of is not None and r.as_of > as_of for r in stored)
    same_day = f"reverted on {cut}, the day it ran: no day of the play to judge"
    fields = _fields(session, client, play_run, by_id, [r.kpi for r in stored], series, as_of, window) \
        if window > 0 else {r.kpi: _unjudged("inconclusive", same_day) for r in stored}
    part = ran_in_part(session, play_run)
    rows = []
    for row in stored:
        if not keep:  # a replay: shown from a copy, the newer judgement stays what is stored
            row = EvidenceRecord.model_validate(row.model_dump())
        mine = fields[row.kpi]
        if cut is not None:
            mine["details"] = {**mine["details"], "reverted_on": str(cut), "planned_window_days": planned,
                               "reason": f"{mine['details'].get('reason', '')} (after-window cut at the revert "
                                         f"on {cut}: {max(window, 0)} of {planned} days)"}
        if part is not None:
            mine["details"] = _in_part(mine["details"], part)
        recorded = (row.details or {}).get("review_recorded")
        for name, value in mine.items():
            setattr(row, name, value)
        row.details = {**mine["details"], **links, **({"review_recorded": recorded} if recorded else {})}
        row.as_of, row.method, row.updated_at = as_of, METHOD, utcnow()
        if keep:
            session.add(row)
        rows.append(row)
    if keep:
        session.flush()
        _record_review(session, client, play_run, rows, by_id)
    return rows


def _reverted(run: PlayRun, as_of: date) -> date | None:
    """The day a person reverted the run, when known on ``as_of`` (a replay of an earlier day did
    not know of it): days from then on are no longer the play's doing, so its after-window (and
    the before-window, kept as long) ends the day before and it is judged on that day."""
    from chimera.plays.revert import reverted_on

    cut = reverted_on(run)
    return cut if cut is not None and cut <= as_of else None


def _fields(session: Session, client: ClientContext, run: PlayRun, by_id: dict[str, KPI], kpis: list[str],
            series: Any, as_of: date, window: int) -> dict[str, dict[str, Any]]:
    """Each KPI's judgement of the run, judged together (the correction over its KPIs); a KPI gone
    from kpis.yml gets no numbers, and says so."""
    measured: dict[str, _Measured] = {}
    out: dict[str, dict[str, Any]] = {}
    for kpi in kpis:
        spec = by_id.get(kpi)
        got = _unjudged("inconclusive", f"KPI {kpi!r} is no longer in kpis.yml") if spec is None else \
            _measure(session, client, run, spec, series, as_of, window)
        if isinstance(got, _Measured):
            measured[kpi] = got
        else:
            out[kpi] = got
    for kpi, judgement in stats.judge_together({k: m.judge for k, m in measured.items()}).items():
        out[kpi] = _judged_fields(measured[kpi], judgement, client, run, series, as_of, window)
    return out


def _play_outcome(rows: list[EvidenceRecord], by_id: dict[str, KPI]) -> tuple[str, str | None]:
    """One verdict per play run for its review record: a good move wins, then a bad move, then no
    change; only inconclusive / confounded KPIs say nothing."""
    from chimera.plays.review import classify_verdict

    graded = [(r.verdict, by_id[r.kpi].direction if r.kpi in by_id else None) for r in rows]
    for wanted in ("moved", "failed"):
        for verdict, direction in graded:
            if classify_verdict(verdict, direction) == wanted:
                return verdict, direction
    return (graded[0] if graded else ("inconclusive", None))


def _record_review(
    session: Session, client: ClientContext, run: PlayRun, rows: list[EvidenceRecord], by_id: dict[str, KPI],
) -> None:
    """Count the play run's final verdict once on the play's record (manual §8.3); not the verdict of
    a run that ran in part (the module's docstring says why)."""
    if not rows or any(r.verdict not in FINAL_VERDICTS for r in rows):
        return
    if any((r.details or {}).get("ran_in_part") for r in rows):
        return
    if any((r.details or {}).get("review_recorded") for r in rows):
        return
    try:
        review = importlib.import_module("chimera.plays.review")
    except ModuleNotFoundError as exc:
        if exc.name != "chimera.plays.review":
            raise
        return
    verdict, direction = _play_outcome(rows, by_id)
    review.record_verdict(session, client.company_id, run.play_id, verdict,
                          client.configs.plays.policy.review_after_failures, direction=direction)
    for r in rows:
        r.details = {**(r.details or {}), "review_recorded": verdict}
        session.add(r)
    session.flush()


def log_manual_play(
    session: Session, client: ClientContext, play_id: str, executed_on: date,
    kpis: list[str] | None = None, note: str | None = None, who: str | None = None, by: str = "cli",
) -> PlayRun:
    """Record a play a person ran by hand, so its evidence is judged like any other.

    Logging the same play on the same day again updates that run, never adds one (``manual_run``
    tells which): what is given replaces what was stored, what is not (``None``: its KPIs, note,
    who ran it) is kept, and the update is added to the run's ``updates`` (when, ``by`` whom, what
    changed): a re-log to fix a note no longer reset the KPIs to the play's defaults or made the
    person fixing it the one who ran it. ``who`` ran the play (default ``by``, who logs it).
    """
    play = client.configs.play(play_id)
    _check_has_run(session, client, executed_on)
    known = [k.id for k in client.configs.kpis.kpis]
    for kpi in kpis or []:
        if kpi not in known:
            raise ConfigError(f"{client.folder / 'kpis.yml'}: --kpis: unknown KPI {kpi!r}"
                              f"{suggest(kpi, known)}; expected one of {', '.join(known)}")
    run = manual_run(session, client, play_id, executed_on)
    stored = dict(run.explanation or {}) if run is not None else {}
    chosen = list(dict.fromkeys(kpis)) if kpis else list(stored.get("evidence_kpis") or play.evidence.kpis)
    note = str(stored.get("note") or "") if note is None else note
    who = who or str(stored.get("who") or by)
    explanation = {"reason": "run by hand and logged", "evidence_kpis": chosen, "note": note, "who": who,
                   "delay_days": play.evidence.delay_days,
                   "details": {"evidence_kpis": chosen, "delay_days": play.evidence.delay_days}}
    if run is not None:
        changed = [k for k, key in (("kpis", "evidence_kpis"), ("note", "note"), ("who", "who"))
                   if stored.get(key) != explanation[key]]
        update = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "by": by, "changed": changed}
        explanation["updates"] = [*stored.get("updates", []), update]
    if run is None:
        run = PlayRun(company_id=client.company_id, play_id=play_id, as_of=executed_on, owner=play.owner,
                      status="executed", executed_on=executed_on, source="manual", explanation=explanation)
        session.add(run)
        session.flush()
        session.add(Decision(company_id=client.company_id, play_run_id=run.id, kind="manual", who=who,
                             why=note or "run by hand", correlation_id=run.correlation_id))
    else:
        run.explanation = explanation
        session.add(run)
    session.flush()
    return run


def manual_run(session: Session, client: ClientContext, play_id: str, executed_on: date) -> PlayRun | None:
    """The run of ``play_id`` already logged by hand for ``executed_on``, if any (a re-log updates it)."""
    return session.exec(select(PlayRun).where(
        PlayRun.company_id == client.company_id, PlayRun.play_id == play_id,
        PlayRun.executed_on == executed_on, PlayRun.source == "manual",
    )).first()


def _check_has_run(session: Session, client: ClientContext, executed_on: date) -> None:
    """Refuse a day after both today (the store's clock) and the client's newest data: a play is
    logged once it ran, and its evidence would judge days that do not exist (``not_happened``,
    the rule every ``--as-of`` follows too)."""
    why = not_happened(session, client.company_id, client.name, executed_on, "--executed-on",
                       zone=store_zone(client.config.timezone), advice="log a play once it has run")
    if why:
        raise DecisionError(why)


def last_data_day(session: Session, client: ClientContext) -> date | None:
    """The default as-of: the newest day with complete data (replayable, not 'today'; a day still
    in progress when it was ingested is left out, see ``chimera.as_of``); None without data."""
    return default_day(session, client.company_id, client.config.timezone).day


def refresh_evidence(session: Session, client: ClientContext, as_of: date) -> list[EvidenceRecord]:
    """``log_evidence`` for every play run of the client executed on or before ``as_of``."""
    runs = session.exec(select(PlayRun).where(
        PlayRun.company_id == client.company_id, PlayRun.executed_on <= as_of,  # type: ignore[operator]
    ).order_by(PlayRun.executed_on, PlayRun.created_at)).all()  # type: ignore[arg-type]
    return [rec for run in runs for rec in log_evidence(session, client, run, as_of)]


def record_json(row: EvidenceRecord) -> dict[str, Any]:
    """One entry of the ``chimera evidence --json`` list (DESIGN.md §7)."""
    return {
        "play": row.play_id, "executed_on": str(row.executed_on), "kpi": row.kpi,
        "before": row.before, "after": row.after, "effect_pct": row.effect_pct,
        "ci_low_pct": row.ci_low_pct, "ci_high_pct": row.ci_high_pct, "verdict": row.verdict,
        "confounders": list(row.confounders or []), "method": row.method or METHOD,
        "play_run_id": row.play_run_id, "correlation_id": row.correlation_id,
        "reason": (row.details or {}).get("reason", ""),
        "unit": (row.details or {}).get("unit"),  # how to show before/after (a percent KPI is stored as a fraction)
        "value_kind": (row.details or {}).get("value_kind"),  # a sum KPI's before/after is a mean per day
        # a pending record's after-window so far: its figures are days, not a change yet
        "after_days_seen": (row.details or {}).get("after_days_seen"),
        "window_days": (row.details or {}).get("window_days"),
        # the run's steps not applied (a step failed for good, the later ones skipped), else null
        "ran_in_part": (row.details or {}).get("ran_in_part"),
    }


def per_day(entry: dict[str, Any], key: str) -> str:
    """" per day" after a sum KPI's ``key`` value (before/after): it is a mean per day, and bare it
    reads as the window's total beside the KPI table's totals."""
    return " per day" if entry.get("value_kind") == "mean per day" and entry.get(key) is not None else ""


def so_far(entry: dict[str, Any]) -> str:
    """A pending entry's after-window so far ("8/45 days so far"), shown where a final verdict shows
    its change: a partial window's figures are no change yet; "" for any other entry."""
    seen, window = entry.get("after_days_seen"), entry.get("window_days")
    if entry.get("verdict") != "pending" or seen is None or not window:
        return ""
    return f"{seen}/{window} days so far"


def shown_value(value: str | None, unit: str | None, currency: str | None = None) -> str:
    """An evidence before or after as people read it, the same figure in the table, the chat and
    the reason: a percent as the KPI table shows it, money in ``currency``'s smallest unit when given
    (whole yen), anything else at the places it is stored with (money to the cent, a count's mean
    per day to 2 decimals), thousands grouped. The KPI table's rounding of counts read 210.21 ->
    210.00 as "210.2 -> 210" beside a reason saying 210.21."""
    if unit == "percent" or value in (None, "") or (unit == "currency" and money_step(currency) is not None):
        return fmt_stored(value, unit, currency)
    try:
        return f"{Decimal(str(value)):,}"
    except InvalidOperation:
        return str(value)


def shown_values(entry: dict[str, Any], currency: str | None = None) -> tuple[str, str]:
    """An evidence entry's before and after as people read them (``shown_value``, money in
    ``currency``'s smallest unit), a sum KPI's marked "per day"."""
    unit = entry.get("unit")
    before, after = (shown_value(entry.get(k), unit, currency) + per_day(entry, k) for k in ("before", "after"))
    return before, after


def evidence_report(client: ClientContext, as_of: date | None = None, refresh: bool = True,
                    persist: bool | None = None) -> dict[str, Any]:
    """``{"client", "as_of", "evidence": [...]}``; refreshes every executed run's evidence first.

    The stored records are the newest judgement: a replay of an earlier day (``as_of`` before the
    day they were judged on) is computed and shown but not written, or the report and the next
    cycle would read a month-old "pending" for a verdict already known. ``persist`` forces either
    way (a report computes its own day's evidence and never writes)."""
    with session_scope() as session:
        as_of = as_of or last_data_day(session, client) or datetime.now(UTC).date()
        if not refresh:
            rows = list(session.exec(select(EvidenceRecord).where(
                EvidenceRecord.company_id == client.company_id, EvidenceRecord.executed_on <= as_of)))
            return _report_json(client, as_of, rows)
        judged = session.exec(select(func.max(EvidenceRecord.as_of)).where(
            EvidenceRecord.company_id == client.company_id)).one()
        keep = persist if persist is not None else (judged is None or as_of >= judged)
        report = _report_json(client, as_of, refresh_evidence(session, client, as_of))
        if not keep:
            session.rollback()  # shown, not stored: the newest judgement stays what the database holds
        return report


def _report_json(client: ClientContext, as_of: date, rows: list[EvidenceRecord]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (r.executed_on, r.play_id, r.correlation_id, r.kpi))
    return {"client": client.name, "as_of": str(as_of), "evidence": [record_json(r) for r in rows]}
