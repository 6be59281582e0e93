"""What a weekly cycle run read, so that re-running a finished one with nothing changed reuses it.

Without this, re-running the cycle of a day whose run already completed opened another run each
time, with its own KPI statuses, jobs and ingest runs (an agency QA saw four runs for one day).
A run keeps the fingerprint of its inputs taken when it opens: each configured export's bytes
(XXH3, as ingest records them), the client's config files' bytes, what people did (decisions,
plays logged by hand, reverts, pauses, cleared reviews) and the newest live cycle a replay names.
When it finishes it adds the data state it leaves (the newest ingest, each evidence record's
verdict and the day it was judged on). A re-run whose inputs fingerprint the same while the data
is as the run left it would compute the same result: that run is returned and nothing is written.
Anything else (a new or changed export, one ingested by hand, a changed config, a decision taken
since the run suggested its plays, evidence judged since) runs anew.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from chimera.clients import ClientContext
from chimera.config.changelog import file_sha256
from chimera.config.loader import FILES
from chimera.db.models import CycleRun, Decision, EvidenceRecord, IngestRun, Play, PlayRun, utcnow
from chimera.plays.holds import PERSON_MARKS

MISSING = "missing"
INPUTS = "inputs"
"""``CycleRun.summary`` key of the inputs taken when the run opened."""
STATE_AT_END = "state_at_end"
"""``CycleRun.summary`` key of ``data_state`` as the run finished (it ingests and logs evidence)."""
FINISHED_AT = "finished_at"
"""``CycleRun.summary`` key of when the run closed (UTC, ISO): the run itself keeps only its start."""


def _digest(rows: list[Any]) -> str:
    """sha256 of the rows' canonical JSON: a short, order-free fingerprint of database state."""
    text = json.dumps(sorted(json.dumps(r, default=str) for r in rows), separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_fingerprints(client: ClientContext) -> dict[str, str]:
    """Each configured export's fingerprint (``missing`` when the file is not there), by kind and path."""
    from chimera.ingest.service import fingerprint_file

    prints = {}
    for src in client.config.sources:
        path = Path(src.path) if Path(src.path).is_absolute() else client.folder / src.path
        prints[f"{src.kind}:{src.path}"] = fingerprint_file(path) if path.is_file() else MISSING
    return prints


def config_hashes(client: ClientContext) -> dict[str, str]:
    """sha256 of each config file the cycle reads (kpis.yml, plays.yml, agents.yml, client.yml)."""
    names = [*FILES.values(), "client.yml"]
    return {n: file_sha256(client.folder / n) if (client.folder / n).is_file() else MISSING for n in names}




def people_state(session: Session, company_id: int) -> str:
    """What people did that a cycle's suggestions read: every decision (a policy's auto-approval
    too), each play logged by hand (its KPIs and note), each run reverted, paused or resumed, and
    each play's review state."""
    decisions = [[d.id, d.play_run_id, d.kind] for d in session.exec(
        select(Decision).where(Decision.company_id == company_id))]
    runs = []
    for r in session.exec(select(PlayRun).where(PlayRun.company_id == company_id)):
        marks = [(r.rationale or {}).get(k) for k in PERSON_MARKS]
        if r.source != "cycle" or any(m is not None for m in marks):
            runs.append([r.id, r.status, r.executed_on, r.explanation if r.source != "cycle" else None, marks])
    reviews = [[p.play_id, p.under_review, p.review_reason, len((p.record or {}).get("reviews", []))]
               for p in session.exec(select(Play).where(Play.company_id == company_id))]
    return _digest([["decisions", *decisions], ["runs", *runs], ["reviews", *reviews]])


def ingest_history(session: Session, company_id: int) -> dict[str, list[str]]:
    """Per source, the fingerprints of the files ingested, in order, a repeat of the file just
    before left out: ingesting the same export again changes no metric (the days are replaced by
    the same values), while any other file, or an older one again, does."""
    history: dict[str, list[str]] = {}
    for source, fingerprint in session.exec(select(IngestRun.source, IngestRun.fingerprint).where(
            IngestRun.company_id == company_id).order_by(col(IngestRun.id))):
        files = history.setdefault(source, [])
        if not files or files[-1] != fingerprint:
            files.append(fingerprint)
    return history


def data_state(session: Session, company_id: int) -> str:
    """What was ingested (an export ingested by hand, outside the configured sources, changes the
    metrics: ``ingest_history``) and every evidence record's verdict and the day it was judged on
    (a re-run of the same day writes the same; evidence the worker judged since changes it)."""
    evidence = session.exec(select(EvidenceRecord).where(EvidenceRecord.company_id == company_id))
    return _digest([["ingests", ingest_history(session, company_id)],
                    *([e.correlation_id, e.kpi, e.verdict, e.as_of] for e in evidence)])


def opening_inputs(session: Session, client: ClientContext, newest_live: str | None) -> dict[str, Any]:
    """The inputs of a cycle run opening now (stored in its summary under ``inputs``)."""
    return {"exports": export_fingerprints(client), "configs": config_hashes(client),
            "people": people_state(session, client.company_id), "newest_live": newest_live}


def mark_finished(session: Session, run_id: str) -> None:
    """Record, as the run closes, the data and evidence state it leaves and when it finished."""
    run = session.get(CycleRun, run_id)
    if run is None or run.status in ("completed", "failed") or INPUTS not in (run.summary or {}):
        return
    run.summary = {**run.summary, STATE_AT_END: data_state(session, run.company_id),
                   FINISHED_AT: utcnow().isoformat()}
    session.add(run)


def reusable_run(session: Session, company_id: int, day: date, silent: bool, auto: bool,
                 inputs: dict[str, Any]) -> CycleRun | None:
    """The newest completed cycle of ``day`` (as silent, started the same way, with or without
    ``--as-of``) when its inputs are ``inputs`` and the data and evidence are as it left them."""
    runs = session.exec(select(CycleRun).where(
        CycleRun.company_id == company_id, CycleRun.kind == "cycle", CycleRun.as_of == day,
        CycleRun.silent == silent,
    ).order_by(col(CycleRun.created_at).desc()))
    newest = next((r for r in runs if bool((r.summary or {}).get("as_of_auto")) == auto), None)
    if newest is None or newest.status != "completed":
        return None
    summary = newest.summary or {}
    if summary.get(INPUTS) != inputs:
        return None
    return newest if summary.get(STATE_AT_END) == data_state(session, company_id) else None
