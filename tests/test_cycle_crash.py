"""SIGKILL the cycle at each node (before and after its commit), re-run the same command, and
check it finishes with no side effect applied twice (subprocess tests of the real CLI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import AppliedChange, Decision, EvidenceRecord, Job, MetricPoint, PlayRun
from tests.cycle_fixtures import AS_OF

pytestmark = pytest.mark.slow
STAGES = ["INGEST_METRICS", "EVALUATE_KPIS", "LOG_EVIDENCE", "TRAIN_AGENT", "SUGGEST_PLAYS"]


def _cli(home: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHIMERA_HOME": str(home)}
    env.pop("CHIMERA_FAULT", None)
    if fault:
        env["CHIMERA_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "chimera.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _counts() -> dict[str, int]:
    dispose_all()
    with session_scope() as s:
        return {
            "metrics": s.exec(select(func.count()).select_from(MetricPoint)).one(),
            "play_runs": s.exec(select(func.count()).select_from(PlayRun)).one(),
            "jobs": s.exec(select(func.count()).select_from(Job)).one(),
            "applied": s.exec(select(func.count()).select_from(AppliedChange)).one(),
            "decisions": s.exec(select(func.count()).select_from(Decision)).one(),
            "evidence": s.exec(select(func.count()).select_from(EvidenceRecord)).one(),
        }


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_killed_at_every_stage_then_rerun_finishes_without_doubles(shop: str, chimera_home: Path, point: str) -> None:
    args = ("cycle", "--client", shop, "--as-of", AS_OF.isoformat(), "--json")
    for stage in STAGES:
        killed = _cli(chimera_home, *args, fault=f"{point}:{stage}")
        assert killed.returncode == -signal.SIGKILL, (stage, killed.stderr[-2000:], killed.stdout[-3000:])
    done = _cli(chimera_home, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "awaiting_decisions"
    before = _counts()
    assert before["play_runs"] == len(outcome["plays"])

    first = outcome["pending"][0]
    approve = ("approve", first, "--who", "alice", "--json")
    for stage in ("PLAN_JOB_QUEUE_FOR_PLAY", "EXECUTE_PLAY_COMMERCE", "EXECUTE_PLAY_GROWTH", "EXECUTE_PLAY_PRODUCT"):
        crashed = _cli(chimera_home, *approve, fault=f"{point}:{stage}")
        assert crashed.returncode in (0, -signal.SIGKILL), crashed.stderr[-2000:]
    final = _cli(chimera_home, *approve)
    assert final.returncode == 0, final.stderr[-2000:]
    after = _counts()
    assert after["metrics"] == before["metrics"]
    assert after["play_runs"] == before["play_runs"]
    assert after["decisions"] == 1
    dispose_all()
    with session_scope() as s:
        executes = s.exec(select(Job).where(Job.play_run_id == first, Job.type.startswith("EXECUTE_PLAY_"))).all()  # type: ignore[attr-defined]
        assert executes and all(j.status == "succeeded" for j in executes)
        keys = [a.idempotency_key for a in s.exec(select(AppliedChange))]
        assert len(keys) == len(set(keys)) == len(executes)
    outbox = list((chimera_home / "outbox" / shop).glob("*"))
    assert len([p for p in outbox if not p.name.endswith(".tmp")]) == len(executes)
