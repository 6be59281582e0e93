"""Operating rhythms (manual §6): the daily check and the monthly review, from stored facts only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from chimera.as_of import SPARSE, default_day, store_zone
from chimera.clients import ClientContext
from chimera.db.engine import session_scope
from chimera.db.models import Decision, EvidenceRecord, IngestRun, Job, MetricPoint, Play, PlayRun
from chimera.jobs.queue import requeue_stuck


class SourceFreshness(BaseModel):
    source: str
    last_day: date | None
    last_ingest: datetime | None
    days_behind: int | None
    ok: bool
    current_on: date | None = None
    """For a source with rows only on days with activity (``SPARSE``: Fiverr), the store-local day its
    current export was first ingested, when after ``last_day``: the export was current then, so the
    days since ``last_day`` had no order and ``days_behind`` counts from this day."""


class DailyReport(BaseModel):
    client: str
    today: date
    freshness: list[SourceFreshness]
    critical: list[dict[str, Any]]
    stuck_jobs_requeued: list[dict[str, Any]]
    failed_ingests: list[dict[str, Any]]
    ok: bool
    failed_play_jobs: list[dict[str, Any]] = []
    """Steps of plays under way (approved, executing, failed or paused) that failed for good, with
    their error: the play stalls there until a person pauses and resumes it (or reverts it)."""
    as_of_note: str = ""
    """Why the KPIs are of the day before the newest data (it was in progress at its ingest)."""

    def to_json(self) -> dict[str, Any]:
        """The ``chimera daily --json`` document: ``as_of_note``, ``failed_play_jobs`` and a source's
        ``current_on`` only when there are."""
        exclude: dict[str, Any] = {k: True for k in ("as_of_note", "failed_play_jobs") if not getattr(self, k)}
        plain = {i: {"current_on"} for i, f in enumerate(self.freshness) if f.current_on is None}
        return self.model_dump(mode="json", exclude=exclude | ({"freshness": plain} if plain else {}))


def expected_sources(client: ClientContext) -> set[str]:
    """The sources client.yml says data comes from: its exports and its API pulls."""
    from chimera.ingest.models import SOURCE_OF_KIND

    kinds = {src.kind for src in client.config.sources}
    kinds |= {"shopify_orders"} if client.config.connectors.shopify else set()
    kinds |= {"stripe_payments"} if client.config.connectors.stripe else set()
    return {SOURCE_OF_KIND[k] for k in kinds}


def _allowances(session: Session, client: ClientContext) -> dict[str, int]:
    """Days each source may be behind today: the largest ``max_staleness_days`` among the KPIs that
    read its metrics (a Shopify export is not given the 7 days the Fiverr KPIs allow), plus one for
    the day the KPIs are judged before today; for a source no KPI reads, the largest of any KPI."""
    from chimera.kpi.window import needed_metrics

    kpis = client.configs.kpis.kpis
    default = max((k.max_staleness_days for k in kpis), default=2) + 1
    reads = [(set(needed_metrics(k)), k.max_staleness_days) for k in kpis]
    metrics: dict[str, set[str]] = {}
    for source, metric in session.exec(select(MetricPoint.source, MetricPoint.metric).where(
            MetricPoint.company_id == client.company_id).distinct()).all():
        metrics.setdefault(source, set()).add(metric)
    return {source: max((days for names, days in reads if names & mine), default=default - 1) + 1
            for source, mine in metrics.items()}


def _freshness(session: Session, client: ClientContext, today: date, replay: bool = False) -> list[SourceFreshness]:
    """Each source's newest day and how far behind ``today`` it is (``_allowances``): every source with
    data and every source client.yml names, so an export never ingested reads as not OK instead of not
    at all. A replay (``--today`` given) reads only the data of ``today`` or before: a check as of a
    day before the data began finds none, not the newest day of data that came later. A ``SPARSE``
    source is behind from the day its current export came (``_export_day``), not from its last order."""
    days = select(MetricPoint.source, func.max(MetricPoint.day)).where(MetricPoint.company_id == client.company_id)
    if replay:
        days = days.where(MetricPoint.day <= today)  # type: ignore[operator]
    newest = dict(session.exec(days.group_by(MetricPoint.source)).all())
    last_ingest = dict(session.exec(select(IngestRun.source, func.max(IngestRun.created_at)).where(
        IngestRun.company_id == client.company_id).group_by(IngestRun.source)).all())
    allowed = _allowances(session, client)
    out = []
    for source in sorted(set(allowed) | expected_sources(client)):
        last_day = newest.get(source)
        current = _export_day(session, client, source, last_day, today) if source in SPARSE and last_day else None
        current = current if current and last_day and current > last_day else None
        upto = current or last_day
        behind = max(0, (today - upto).days) if upto else None  # data dated ahead of the clock is not behind
        out.append(SourceFreshness(source=source, last_day=last_day, last_ingest=last_ingest.get(source),
                                   days_behind=behind, ok=behind is not None and behind <= allowed.get(source, 0),
                                   current_on=current))
    return out


def _export_day(session: Session, client: ClientContext, source: str, last_day: date, today: date) -> date | None:
    """The store-local day the export holding ``source``'s newest data (``last_day``) was first ingested,
    on or before ``today``. An order export lists every order up to when it was taken, so a gig quiet
    since ``last_day`` is current up to then; a backfill ending earlier says nothing of later days, and
    the same bytes ingested again by a later cycle are no newer (as ``chimera.as_of`` reads them).
    None when no ingest of ``today`` or before holds that day (a replay before the export came)."""
    zone = store_zone(client.config.timezone)
    runs = session.exec(select(IngestRun.fingerprint, IngestRun.created_at).where(
        IngestRun.company_id == client.company_id, IngestRun.source == source, IngestRun.status == "succeeded",
        IngestRun.first_day <= last_day, IngestRun.last_day >= last_day,  # type: ignore[operator]
    ).order_by(IngestRun.created_at, IngestRun.id)).all()  # type: ignore[arg-type]
    taken = [(fingerprint, (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).date())
             for fingerprint, at in runs]
    taken = [(fingerprint, day) for fingerprint, day in taken if day <= today]
    if not taken:
        return None
    current = taken[-1][0]
    return next(day for fingerprint, day in taken if fingerprint == current)


def daily_check(client: ClientContext, today: date | None = None, now: datetime | None = None) -> DailyReport:
    """Ingestion freshness, CRITICAL KPIs and stuck jobs (re-queued) for one client."""
    from chimera.kpi.evaluate import evaluate_kpis

    now, given = now or datetime.now(UTC), today
    with session_scope() as s:
        today, judged, note = _checked_days(s, client, given, now)
        fresh = _freshness(s, client, today, replay=given is not None)
        stuck = requeue_stuck(s, now=now, company_id=client.company_id)
        stuck_json = [{"id": j.id, "type": j.type, "status": j.status, "attempts": j.attempts} for j in stuck]
        failed = [{"id": r.id, "source": r.source, "file": r.file_name} for r in s.exec(
            select(IngestRun).where(IngestRun.company_id == client.company_id, IngestRun.status != "succeeded"))]
        failed += _failed_ingest_job(s, client)
        failed_steps = failed_play_jobs(s, client.company_id)
    report = evaluate_kpis(client, as_of=judged, store=False)
    critical = [k.model_dump(mode="json", include={"id", "status", "value", "note"})
                for k in report.kpis if k.status == "CRITICAL"]
    ok = all(f.ok for f in fresh) and bool(fresh) and not critical and not stuck and not failed and not failed_steps
    return DailyReport(client=client.name, today=today, freshness=fresh, critical=critical,
                       stuck_jobs_requeued=stuck_json, failed_ingests=failed, ok=ok, as_of_note=note,
                       failed_play_jobs=failed_steps)


def failed_play_jobs(session: Session, company_id: int) -> list[dict[str, Any]]:
    """Each failed step of a play still under way, with its error and what to do (manual §6.1: did
    the jobs run?). A run done with (executed, reverted) is not listed again every day."""
    rows = session.exec(select(Job, PlayRun).join(PlayRun, PlayRun.id == Job.play_run_id).where(  # type: ignore[arg-type]
        Job.company_id == company_id, Job.status == "failed",
        PlayRun.status.in_(("approved", "executing", "failed", "paused")),  # type: ignore[attr-defined]
    ).order_by(Job.id)).all()  # type: ignore[arg-type]
    return [{"id": j.id, "type": j.type, "step": j.step + 1, "play": r.play_id, "play_run_id": r.id,
             "error": j.error.splitlines()[0] if j.error else "failed",
             "fix": f"chimera play pause {r.id} --reason R, then chimera play resume {r.id} --reason R "
                    f"re-runs it (or chimera play revert {r.id} --reason R)"} for j, r in rows]


def _failed_ingest_job(session: Session, client: ClientContext) -> list[dict[str, Any]]:
    """The newest cycle's INGEST_METRICS job when it failed, or each export it could not read (the
    cycle went on without them): a missing or unreadable export never gets as far as an ingest
    run, yet ingestion did not complete (manual §6.1)."""
    job = session.exec(select(Job).where(Job.company_id == client.company_id, Job.type == "INGEST_METRICS")
                       .order_by(Job.created_at.desc(), Job.id.desc())).first()  # type: ignore[attr-defined,union-attr]
    if job is None:
        return []
    if job.status != "failed":
        return [{"id": job.id, "source": f.get("kind", ""), "file": f.get("file", ""), "error": f.get("error", ""),
                 "cycle": job.run_id} for f in (job.result or {}).get("failed", [])]
    error = job.error.splitlines()[0] if job.error else "failed"
    return [{"id": job.id, "source": "INGEST_METRICS job", "file": "", "error": error, "cycle": job.run_id}]


def _checked_days(session: Session, client: ClientContext, today: date | None,
                  now: datetime) -> tuple[date, date, str]:
    """The day checked as, the day whose KPIs are judged and the as-of note. Given ``today``, the
    day before it is judged. Else today is the store's own date (client.yml ``timezone``), so an
    export that stopped arriving reads as behind (manual §6.1: ingestion completed?), and the
    KPIs are judged on the commands' default day (a morning export's partial day would read as
    a crash and call for plays)."""
    if today is not None:
        return today, today - timedelta(days=1), ""
    local = now.astimezone(store_zone(client.config.timezone)).date()
    default = default_day(session, client.company_id, client.config.timezone)
    if default.day is None:
        return local, local - timedelta(days=1), ""
    return local, default.day, default.note


class MonthlyReview(BaseModel):
    client: str
    as_of: date
    target_changes: list[dict[str, Any]]
    plays_to_retire: list[dict[str, Any]]
    plays_to_add: list[dict[str, Any]]
    case_study: str


def monthly_review(client: ClientContext, as_of: date) -> MonthlyReview:
    """Suggested target changes, plays to retire or add, and a markdown case study (manual §6.3)."""
    from chimera.kpi.calibrate import propose_calibration
    from chimera.kpi.evaluate import evaluate_kpis

    proposals = [p.model_dump(mode="json") for p in propose_calibration(client, as_of)]
    kpis = evaluate_kpis(client, as_of=as_of, store=False).kpis
    evidence, flagged = _evidence_as_of(client, as_of)
    with session_scope() as s:
        runs = s.exec(select(PlayRun).where(PlayRun.company_id == client.company_id,
                                            PlayRun.as_of >= month_start(as_of),
                                            PlayRun.as_of <= as_of,  # type: ignore[operator]
                                            PlayRun.status != "silent")  # a dry run's: nobody could decide it
                      .order_by(PlayRun.as_of, PlayRun.created_at, PlayRun.id)).all()  # type: ignore[arg-type]
        decisions = {d.play_run_id: d for d in s.exec(select(Decision).where(Decision.company_id == client.company_id))}
        retire = _plays_to_retire(client, evidence, flagged)
        add = _plays_to_add(client, kpis, flagged)
        study = _case_study(client.name, as_of, kpis, runs, evidence, decisions)
    return MonthlyReview(client=client.name, as_of=as_of, target_changes=proposals, plays_to_retire=retire,
                         plays_to_add=add, case_study=study)


def _evidence_as_of(client: ClientContext, as_of: date) -> tuple[list[EvidenceRecord], set[str]]:
    """Every executed run's evidence judged as of ``as_of``, written nowhere: a review of an earlier
    month reads what was known then (no run executed later, no window ending later), and the
    stored records stay the newest judgement (as ``chimera evidence --as-of`` does). With it, the
    plays under review once that evidence is counted (a run judged only now counts as a cycle
    would count it), read before the judgement is rolled back."""
    from chimera.evidence.record import refresh_evidence

    with session_scope() as s:
        rows = [EvidenceRecord.model_validate(r.model_dump()) for r in refresh_evidence(s, client, as_of)]
        flagged = set(s.exec(select(Play.play_id).where(Play.company_id == client.company_id,
                                                        col(Play.under_review).is_(True))).all())
        s.rollback()
    return sorted(rows, key=lambda e: (e.executed_on, e.play_id, e.correlation_id, e.kpi)), flagged


def run_outcomes(records: list[EvidenceRecord], client: ClientContext) -> dict[str, list[tuple[str, str]]]:
    """play_id -> [(correlation_id, "moved" | "failed")], one per run, oldest first: the verdict a
    play's review counts (``chimera.evidence.record``): a run whose KPIs are all judged, a good move
    on any of them wins, then a bad move or no change; a run only inconclusive or confounded, or
    with a KPI still pending, says nothing about the play yet."""
    from chimera.evidence.record import FINAL_VERDICTS, _play_outcome
    from chimera.plays.review import classify_verdict

    by_id = {k.id: k for k in client.configs.kpis.kpis}
    by_run: dict[tuple[str, str], list[EvidenceRecord]] = {}
    for rec in sorted(records, key=lambda e: (e.executed_on, e.id or 0)):
        by_run.setdefault((rec.play_id, rec.correlation_id), []).append(rec)
    out: dict[str, list[tuple[str, str]]] = {}
    for (play_id, corr), rows in by_run.items():
        if any(r.verdict not in FINAL_VERDICTS for r in rows):
            continue
        outcome = classify_verdict(*_play_outcome(rows, by_id))
        if outcome != "neutral":
            out.setdefault(play_id, []).append((corr, outcome))
    return out


def _plays_to_retire(client: ClientContext, evidence: list[EvidenceRecord], flagged: set[str]) -> list[dict[str, Any]]:
    """Plays of the library under review (manual §8.3) whose runs judged as of the review failed to
    move their KPIs at least the policy's number of times, with those counts: a play with no
    evidence yet, or only inconclusive or confounded evidence, is never proposed for retirement,
    nor is one retired from plays.yml already."""
    limit = client.configs.plays.policy.review_after_failures
    outcomes = run_outcomes(evidence, client)
    out = []
    for play in client.configs.plays.plays:
        runs = outcomes.get(play.id, [])
        failed = sum(1 for _corr, o in runs if o == "failed")
        if play.id in flagged and failed >= limit:
            out.append({"play": play.id, "record": {"runs": len(runs), "moved": len(runs) - failed, "failed": failed},
                        "reason": f"failed to move its KPIs in {failed} of {len(runs)} judged runs "
                                  f"(review after {limit}); review its evidence, then clear, redesign or retire it"})
    return out


def _plays_to_add(client: ClientContext, kpis: list[Any], flagged: set[str]) -> list[dict[str, Any]]:
    """KPIs in WARNING or CRITICAL that no play can answer: no trigger reads them (a play's ``kpis``
    are what it needs, not what sets it off), or every play whose trigger does is under review, so
    none of them is suggested (manual §8.3)."""
    from chimera.config.models import trigger_kpis

    readers: dict[str, list[str]] = {}
    for play in client.configs.plays.plays:
        for kpi in dict.fromkeys(trigger_kpis(play.trigger)):
            readers.setdefault(kpi, []).append(play.id)
    out = []
    for k in kpis:
        if k.status not in ("WARNING", "CRITICAL"):
            continue
        plays = readers.get(k.id, [])
        why = ("no play's trigger reads it" if not plays else
               f"every play whose trigger reads it is under review ({', '.join(plays)})"
               if all(p in flagged for p in plays) else "")
        if why:
            out.append({"kpi": k.id, "status": k.status, "reason": f"{k.id} is {k.status} and {why}"})
    return out


def _confounder(c: dict[str, Any]) -> str:
    """`driver conversion_rate, 2026-03-02..2026-03-08` (a stored Confounder), readable in the case study."""
    what = {"overlapping_play": "play", "driver_anomaly": "driver", "data_gap": "gap in",
            "price_change": "prices"}.get(c.get("kind", ""), "")
    days = f", {c['first_day']}..{c['last_day']}" if c.get("first_day") else ""
    return f"{what} {c.get('what', '')}{days}".strip()


def month_start(as_of: date) -> date:
    """The first day of the month a review on ``as_of`` covers: the day after the same date a month
    before, or the 1st when ``as_of`` ends its month. Reviews a month apart then cover adjoining days
    (Sep 30 and Oct 31: Sep 1..30 and Oct 1..31), where the 31 days before each counted Sep 30 twice."""
    first = as_of.replace(day=1)
    if (as_of + timedelta(days=1)).day == 1:
        return first
    before = first - timedelta(days=1)
    return before.replace(day=min(as_of.day, before.day)) + timedelta(days=1)


def _case_study(client: str, as_of: date, kpis: list[Any], runs: list[PlayRun], evidence: list[EvidenceRecord],
                decisions: dict[str, Decision]) -> str:
    problems = [f"- {k.id}: {k.status} — {k.note}" for k in kpis if k.status in ("WARNING", "CRITICAL")]
    nothing = ("- no KPI in WARNING or CRITICAL" if any(k.status != "UNKNOWN" for k in kpis)
               else "- no KPI could be judged (every one UNKNOWN: no data, or too little)")
    attempted = []
    for r in runs:
        d = decisions.get(r.id)
        attempted.append(f"- {r.play_id} (suggested {r.as_of}, {r.status}"
                         + (f", {d.kind} by {d.who}" + (f": {d.why}" if d.why else "") if d else "") + ")")
    results = [f"- {e.play_id} on {e.kpi}: {e.verdict}"
               + (f", effect {e.effect_pct:+.1f}% (95% interval {e.ci_low_pct:+.1f}..{e.ci_high_pct:+.1f})"
                  if e.effect_pct is not None and e.ci_low_pct is not None and e.ci_high_pct is not None else "")
               + (f"; confounders: {'; '.join(map(_confounder, e.confounders))}" if e.confounders else "")
               + (f". {reason}" if (reason := (e.details or {}).get("reason")) else "")
               for e in evidence]
    return "\n".join([
        f"# Case study: {client}, month to {as_of} ({month_start(as_of)}..{as_of})", "",
        "## Problems", *(problems or [nothing]), "",
        "## Plays attempted", *(attempted or ["- none this month"]), "",
        "## Results (before/after, no control group)", *(results or ["- no evidence yet"]), "",
    ])

