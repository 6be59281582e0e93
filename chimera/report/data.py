"""Everything the HTML report shows, read once and read-only (nothing is stored or refreshed).

KPIs are judged with ``evaluate_kpis(store=False)``, trends with the same evaluator per day, plays
and decisions come from the latest cycle run on or before as-of, evidence is judged on the
report's own day and never written (``evidence_report(persist=False)``): opening a report never
changes what the next cycle sees.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from chimera.as_of import behind_note, default_day
from chimera.clients import ClientContext
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, CycleRun, Decision, Job, PlayRun
from chimera.evidence.models import METHOD
from chimera.evidence.record import evidence_report
from chimera.jobs.resolved import RESOLVED
from chimera.kpi.evaluate import evaluate_kpis
from chimera.kpi.models import KPIReport
from chimera.plays.holds import Stop, status_on, stop_record, stopped_runs
from chimera.plays.pause import failed_part
from chimera.plays.rank import held_back
from chimera.plays.scale import scale_links
from chimera.plays.weekly_review import PlayReview, review_plays
from chimera.report.charts import TrendPoint, load_kpi_data, trend_points

KEY_KPIS = ("net_revenue", "conversion_rate", "aov")
"""Always charted (when configured), whatever their status."""
TREND_DAYS = 90


class JobRow(BaseModel):
    id: int | None
    type: str
    bot: str
    action: str
    status: str
    asset: str = ""
    """Path of the asset the adapter wrote (price table, brief), when any."""
    error: str = ""


class PlayRow(BaseModel):
    """One play of the cycle with its explanation, the decision on it and what was executed."""

    play_run_id: str
    play_id: str
    label: str
    rank: int
    status: str
    owner: str
    reason: str
    trigger: list[str]
    why_rank: str = ""
    sops: list[str] = []
    """The SOPs the play relied on (its stored explanation)."""
    rationale: str = ""
    decision: dict[str, str] | None = None
    """kind, who, why, at."""
    executed_on: date | None = None
    jobs: list[JobRow] = []


class CycleInfo(BaseModel):
    run_id: str
    as_of: date
    status: str
    silent: bool
    backend: str
    usage: dict = {}
    """Model calls, tokens, cost and truth-guard rejections of the cycle (DESIGN.md §7 ``model``)."""
    resolved: str = ""
    """A failed cycle whose failed jobs succeeded since: what became of them (``chimera.jobs.resolved``)."""
    narratives: list[dict[str, str]] = []
    """What each commander said about the cycle's steps (owner, type, source, text, note), in job
    order: the model's words when it was used, else the offline template (the cycle's ``narratives``)."""


class ReportData(BaseModel):
    client: str
    label: str
    currency: str
    as_of: date
    kpis: KPIReport
    trends: dict[str, list[TrendPoint]]
    """KPI id -> daily points, for the charted KPIs in table order."""
    cycle: CycleInfo | None
    plays: list[PlayRow]
    held_back: list[dict[str, Any]] = []
    """Plays of the cycle that triggered but were not suggested (``chimera.plays.rank.held_back``)."""
    evidence: list[dict[str, Any]]
    review: list[PlayReview] = []
    """Continue / stop / keep watching per executed run with a verdict (``weekly_review``)."""
    stopped: list[Stop] = []
    """Pauses and reverts recorded by as-of: who, when, why, and whether each still holds."""
    method: str = METHOD
    as_of_note: str = ""
    """Why the default as-of is the day before the newest data (it was in progress at its ingest)."""
    behind_note: str = ""
    """When the default as-of (the newest data) is days before the store's today: the exports were
    not refreshed, and the report must not read as this week's (``chimera.as_of.behind_note``)."""
    no_data: bool = False
    """Nothing has been ingested for the client: every KPI is UNKNOWN for want of any data."""


def charted_kpis(report: KPIReport) -> list[str]:
    """KPIs in WARNING/CRITICAL plus the key ones, in kpis.yml order."""
    return [k.id for k in report.kpis if k.status in ("WARNING", "CRITICAL") or k.id in KEY_KPIS]


def latest_cycle(session: Session, company_id: int, as_of: date) -> CycleRun | None:
    """The newest weekly cycle on or before ``as_of`` (evaluation-only runs have no plays); of that
    day's runs, the newest live one: a ``--silent`` run (a test of data and logic, manual §10) held
    the plays already suggested back and decides nothing, so shown it would hide those plays and
    the decisions taken on them since. A later live run of the day is the day's answer (its held-back
    plays say why), and a silent run is shown only when the day has no live one."""
    newest = session.exec(select(CycleRun).where(
        CycleRun.company_id == company_id, CycleRun.kind == "cycle", CycleRun.as_of <= as_of,
    ).order_by(col(CycleRun.as_of).desc(), col(CycleRun.created_at).desc()).limit(1)).first()
    if newest is None or not newest.silent:
        return newest
    live = session.exec(select(CycleRun).where(
        CycleRun.company_id == company_id, CycleRun.kind == "cycle", CycleRun.as_of == newest.as_of,
        col(CycleRun.silent).is_(False),
    ).order_by(col(CycleRun.created_at).desc())).first()
    return live or newest


def _plays(session: Session, run: CycleRun) -> list[PlayRow]:
    runs = session.exec(select(PlayRun).where(PlayRun.company_id == run.company_id, PlayRun.run_id == run.id)
                        .order_by(col(PlayRun.rank), col(PlayRun.created_at))).all()
    ids = [r.id for r in runs]
    decisions = {d.play_run_id: d for d in session.exec(
        select(Decision).where(col(Decision.play_run_id).in_(ids)))} if ids else {}
    jobs = session.exec(select(Job).where(col(Job.play_run_id).in_(ids)).order_by(col(Job.id))).all() if ids else []
    assets = {a.job_id: a.asset_path for a in session.exec(
        select(AppliedChange).where(col(AppliedChange.job_id).in_([j.id for j in jobs])))} if jobs else {}
    rows = []
    for r in runs:
        e, d = r.explanation or {}, decisions.get(r.id)
        rows.append(PlayRow(
            play_run_id=r.id, play_id=r.play_id, label=str(e.get("label") or r.play_id), rank=r.rank,
            status=r.status, owner=r.owner, reason=str(e.get("reason", "")),
            trigger=[str(t) for t in e.get("trigger", [])], why_rank=str(e.get("why_rank", "")),
            sops=[str(x) for x in e.get("sops") or []],
            rationale=str((r.rationale or {}).get("summary", "")), executed_on=r.executed_on,
            decision=None if d is None else {"kind": d.kind, "who": d.who, "why": d.why,
                                             "at": d.at.strftime("%Y-%m-%d %H:%M")},
            jobs=[JobRow(id=j.id, type=j.type, bot=j.bot, action=j.action, status=j.status, error=j.error,
                         asset=assets.get(j.id) or str((j.result or {}).get("asset") or ""))
                  for j in jobs if j.play_run_id == r.id],
        ))
    return rows


def _narratives(session: Session, run: CycleRun) -> list[dict[str, str]]:
    """The cycle's narratives as ``chimera cycle`` prints them (``CycleOutcome.narratives``)."""
    jobs = session.exec(select(Job).where(Job.company_id == run.company_id, Job.run_id == run.id)
                        .order_by(col(Job.id))).all()
    return [{"owner": j.owner, "type": j.type, **{k: str(n.get(k) or "") for k in ("source", "text", "note")}}
            for j in jobs if isinstance(n := (j.result or {}).get("narrative"), dict)]


def _held_back(session: Session, run: CycleRun) -> list[dict[str, Any]]:
    """The cycle's triggered plays that were held back, from its SUGGEST_PLAYS job's result."""
    job = session.exec(select(Job).where(Job.company_id == run.company_id, Job.run_id == run.id,
                                         Job.type == "SUGGEST_PLAYS").order_by(col(Job.id).desc())).first()
    return held_back(list(((job.result if job else None) or {}).get("not_selected") or []))


def collect(client: ClientContext, as_of: date | None = None, days: int = TREND_DAYS) -> ReportData:
    """Read everything the report shows for ``client`` at ``as_of`` (default: the newest data day)."""
    with session_scope() as session:
        note = behind = ""
        default = default_day(session, client.company_id, client.config.timezone)
        if as_of is None:
            as_of, note = default.day or datetime.now(UTC).date(), default.note
            behind = behind_note(client, as_of) if default.day is not None else ""
        kpis = evaluate_kpis(client, as_of, session=session, store=False)
        specs = {k.id: k for k in client.configs.kpis.kpis}
        charted = [specs[k] for k in charted_kpis(kpis) if k in specs]
        start = as_of - timedelta(days=days - 1)
        series, customers = load_kpi_data(session, client, charted, start, as_of)
        trends = {s.id: trend_points(s, series, start, as_of, customers, client.config.currency) for s in charted}
        run = latest_cycle(session, client.company_id, as_of)
        cycle = plays = None
        held: list[dict[str, Any]] = []
        if run is not None:
            usage = run.model_usage or {}
            cycle = CycleInfo(run_id=run.id, as_of=run.as_of, status=run.status, silent=run.silent,
                              backend=str(usage.get("backend") or "offline"),
                              usage={k: usage.get(k, 0) for k in ("calls", "prompt_tokens", "completion_tokens",
                                                                  "cost", "guard_rejections")},
                              narratives=_narratives(session, run),
                              resolved=str(((run.summary or {}).get(RESOLVED) or {}).get("text") or ""))
            plays = _plays(session, run)
            held = _held_back(session, run)
    evidence = evidence_report(client, as_of, persist=False)["evidence"]  # judged on the report's day, not stored
    review, stopped = weekly_review(client, as_of, evidence)
    return ReportData(client=client.name, label=client.config.label or client.name,
                      currency=client.config.currency, as_of=as_of, kpis=kpis, trends=trends, cycle=cycle,
                      plays=plays or [], held_back=held, evidence=evidence, review=review, stopped=stopped,
                      as_of_note=note, behind_note=behind, no_data=default.day is None)


def weekly_review(client: ClientContext, as_of: date, evidence: list[dict[str, Any]]
                   ) -> tuple[list[PlayReview], list[Stop]]:
    """The weekly review of the evidence shown (manual §6.2) and the pauses and reverts to date; a
    run that failed part way (or was paused since) is told which step failed, not to look it up."""
    directions = {k.id: k.direction for k in client.configs.kpis.kpis}
    ids = sorted({str(e["play_run_id"]) for e in evidence if e.get("play_run_id")})
    with session_scope() as session:
        newest = default_day(session, client.company_id, client.config.timezone).day
        live = newest is None or as_of >= newest
        upto = date.max if live else as_of  # a live report: pauses and reverts of today too, as stopped_runs
        runs = session.exec(select(PlayRun).where(col(PlayRun.id).in_(ids))).all() if ids else []
        statuses = {r.id: status_on(r, upto) for r in runs}  # as it was on the report's day, not now
        stops = {r.id: f"{statuses[r.id]} on {rec.get('on')} by {rec.get('who') or 'unknown'}"
                 for r in runs if (rec := stop_record(r, statuses[r.id])) is not None}
        stopped = stopped_runs(session, client.company_id, as_of, live=live,
                               hold_days=client.configs.plays.policy.revert_hold_days)
        scales = scale_links(session, client.company_id, ids)  # a scaled run and its original, linked
        failures = {r.id: part for r in runs if statuses[r.id] in ("failed", "paused")
                    and (part := failed_part(session, r))}  # the step that failed for good, named
    return review_plays(evidence, directions, statuses, stops, scales, failures), stopped
