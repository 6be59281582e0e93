"""Contracts of the cycle service: the cycle report and a pending decision."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from agents.bots.base import IrreversibleStep, irreversible_steps
from chimera import settings
from chimera.config.loader import ConfigSet, load_config_set
from chimera.db.models import CycleRun, Decision, Job, KPIStatus, PlayRun
from chimera.errors import ChimeraError
from chimera.jobs.resolved import RESOLVED


def client_configs(client: str) -> ConfigSet | None:
    """The configs in ``client``'s folder as they are now (what the bots mark their ChangeSets by), or
    None when there is no such folder or a file is refused (the command reading it says so)."""
    folder = settings.client_dir(client) if client else None
    if folder is None or not folder.is_dir():
        return None
    try:
        return load_config_set(folder)
    except ChimeraError:
        return None


class PendingDecision(BaseModel):
    """A suggested play awaiting a person, with everything needed to decide (manual §7.4)."""

    play_run_id: str
    client: str
    run_id: str | None
    as_of: date
    play_id: str
    label: str
    rank: int
    score: float
    owner: str
    reason: str
    trigger: list[str]
    kpi_values: dict[str, Any]
    why_rank: str
    sops: list[str]
    evidence_kpis: list[str]
    delay_days: int
    reversible: bool
    rationale: dict[str, Any]
    irreversible_steps: list[IrreversibleStep] | None = None
    """Each step that cannot be undone and why, from the client's agents.yml and plays.yml now (as the
    cycle's approval request names them): "not fully reversible" says which step before anyone
    approves. ``[]``: every step can be undone now; None: not known (the configs could not be read)."""

    @classmethod
    def from_run(cls, run: PlayRun, client: str, configs: ConfigSet | None = None) -> PendingDecision:
        """The decision card of ``run``; ``configs`` (the client's, read once by a caller building
        several) name its irreversible steps, read from the client's folder when not given."""
        e = run.explanation or {}
        configs = configs if configs is not None else client_configs(client)
        return cls(
            play_run_id=run.id, client=client, run_id=run.run_id, as_of=run.as_of, play_id=run.play_id,
            label=e.get("label", run.play_id), rank=run.rank, score=run.score, owner=run.owner,
            reason=e.get("reason", ""), trigger=e.get("trigger", []), kpi_values=e.get("kpi_values", {}),
            why_rank=e.get("why_rank", ""), sops=e.get("sops", []), evidence_kpis=e.get("evidence_kpis", []),
            delay_days=e.get("delay_days", 28), reversible=bool(e.get("reversible", False)),
            rationale=run.rationale or {},
            irreversible_steps=irreversible_steps(configs, run.play_id) if configs is not None else None,
        )


def _aware(at: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands it back naive)."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _decision_json(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"kind": d.kind, "who": d.who, "why": d.why, "at": d.at.isoformat()}


def _data_problems(jobs: list[Job]) -> list[dict[str, Any]]:
    """From the INGEST_METRICS job's result: ``{"file", "problem": "not read", "error"}`` per export
    it could not read, ``{"file", "problem": "rows rejected", "rejected": n}`` per export with rejected
    rows (``chimera ingest FILE`` lists each with line, column and reason)."""
    result = next(((j.result or {}) for j in jobs if j.type == "INGEST_METRICS"), {})
    unread = [{"file": f.get("file", ""), "problem": "not read", "error": f.get("error", "")}
              for f in result.get("failed", [])]
    rejected = [{"file": s.get("file", ""), "problem": "rows rejected", "rejected": s["rejected"]}
                for s in result.get("sources", []) if s.get("rejected")]
    return unread + rejected


class CycleOutcome(BaseModel):
    client: str
    as_of: date
    run_id: str
    status: str
    silent: bool
    kpis: list[dict[str, Any]]
    plays: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    model: dict[str, Any]
    pending: list[PendingDecision]
    narratives: list[dict[str, Any]]
    as_of_note: str = ""
    """Why the cycle does not judge the newest day with data (it was in progress at ingest)."""
    data_problems: list[dict[str, Any]] = []
    """Each export the cycle could not read (the cycle went on without it: its KPIs read stale)
    and each export with rejected rows: an agency sees them in the cycle, not only in the database."""
    ran_at: datetime | None = None
    """When the run started (UTC)."""
    resolved: dict[str, Any] | None = None
    """A failed cycle whose failed jobs succeeded since (``chimera.jobs.resolved``): which, when, by
    whose resume. ``status`` stays ``failed``: the history is kept."""
    reused: bool = False
    """A re-run found this completed run with the same exports, configs and decisions: it is that
    run's result, nothing was run or written again (``chimera.jobs.cycle_inputs``). Not in the JSON
    document, which stays the one the run gave (``reused_note`` says it, on stderr)."""

    def reused_note(self) -> str:
        """One line saying the result is an earlier run's, which and when (empty when it ran now)."""
        if not self.reused:
            return ""
        return (f"same run as before: cycle run {self.run_id} of {self.as_of} ran at {self.ran_at_text()}; its "
                "exports, configs, decisions and evidence are unchanged, so nothing was run or written again")

    def ran_at_text(self) -> str:
        return f"{self.ran_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if self.ran_at else "an earlier time"

    @classmethod
    def build(cls, run: CycleRun, client: str, kpis: list[KPIStatus], plays: list[PlayRun],
              decisions: dict[str, Decision], jobs: list[Job]) -> CycleOutcome:
        waiting = [p for p in plays if p.status == "suggested" and p.id not in decisions]
        configs = client_configs(client) if waiting else None  # read once, and only for a card to show
        pending = [PendingDecision.from_run(p, client, configs) for p in waiting]
        usage = {"backend": "offline", "calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0,
                 "guard_rejections": 0} | (run.model_usage or {})
        return cls(
            client=client, as_of=run.as_of, run_id=run.id, silent=run.silent,
            status="awaiting_decisions" if pending else run.status,
            kpis=[{"id": k.kpi_id, "status": k.status, "value": k.value, "target": k.target,
                   "warning": k.warning, "critical": k.critical, "window": k.window,
                   "data_through": k.data_through.isoformat() if k.data_through else None, "note": k.note}
                  for k in kpis],
            plays=[{"id": p.id, "play": p.play_id, "rank": p.rank, "score": p.score, "owner": p.owner,
                    "reason": (p.explanation or {}).get("reason", ""),
                    "trigger": (p.explanation or {}).get("trigger", []),
                    "evidence_kpis": (p.explanation or {}).get("evidence_kpis", []),
                    "status": p.status, "decision": _decision_json(decisions.get(p.id))} for p in plays],
            jobs=[{"id": j.id, "type": j.type, "owner": j.owner, "status": j.status, "bot": j.bot,
                   "action": j.action, "play_run_id": j.play_run_id, "error": j.error} for j in jobs],
            model=usage, pending=pending,
            narratives=[{"job": j.id, "type": j.type, "owner": j.owner, **(j.result or {}).get("narrative", {})}
                        for j in jobs if (j.result or {}).get("narrative")],
            as_of_note=(run.summary or {}).get("as_of_note", ""),
            data_problems=_data_problems(jobs), ran_at=_aware(run.created_at),
            resolved=(run.summary or {}).get(RESOLVED) or None,
        )

    def to_json(self) -> dict[str, Any]:
        """The DESIGN.md §7 `cycle` document. A reused run's is the very document it gave when it ran
        (the same result; the CLI says on stderr that it is the same run, and when it ran)."""
        return {"client": self.client, "as_of": self.as_of.isoformat(), "run_id": self.run_id,
                "status": self.status, "silent": self.silent, "kpis": self.kpis, "plays": self.plays,
                "jobs": self.jobs, "model": self.model,
                "pending": [p.play_run_id for p in self.pending], "data_problems": self.data_problems} | (
                    {"as_of_note": self.as_of_note} if self.as_of_note else {}) | (
                    {"resolved": self.resolved} if self.resolved else {})
