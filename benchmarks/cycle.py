"""Benchmark: one offline weekly cycle through the LangGraph graph vs the same work as plain calls.

A client with 40 KPIs, 60 plays and 2 years of daily history. Prints the wall time of each and the
graph's overhead as a ratio (targets: a cycle under 1 s, ratio <= 1.5). Run: python benchmarks/cycle.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(kpis: int = 40, plays: int = 60, days: int = 730, repeats: int = 5) -> None:
    os.environ["CHIMERA_HOME"] = tempfile.mkdtemp(prefix="chimera-bench-")
    os.environ.pop("CHIMERA_DATABASE_URL", None)
    os.environ["CHIMERA_LLM"] = "offline"
    from agents.commander import build_commanders
    from agents.context import CycleContext
    from agents.jobs import handler_for
    from benchmarks._big_client import build
    from chimera.clients import get_client
    from chimera.db.engine import session_scope
    from chimera.db.models import CycleRun, Job
    from graphs.service import run_cycle

    end = date(2026, 10, 31)
    t0 = time.perf_counter()
    build("bench", kpis, plays, days, end)
    client = get_client("bench")
    print(f"client: {len(client.configs.kpis.kpis)} KPIs, {len(client.configs.plays.plays)} plays, "
          f"{days} days of history (built in {time.perf_counter() - t0:.1f} s)")
    commanders = {c.id: c for c in build_commanders(client.configs)}

    def plain(as_of: date) -> None:
        with session_scope() as s:
            run = CycleRun(company_id=client.company_id, as_of=as_of, silent=True, kind="plain")
            s.add(run)
        ctx = CycleContext(client=client, as_of=as_of, run_id=run.id, silent=True)
        for job_type in ("INGEST_METRICS", "EVALUATE_KPIS", "LOG_EVIDENCE", "TRAIN_AGENT", "SUGGEST_PLAYS"):
            with session_scope() as s:
                owner = client.configs.owners_of(job_type)[0]
                job = Job(company_id=client.company_id, type=job_type, owner=owner, run_id=run.id,
                          idempotency_key=f"plain:{run.id}:{job_type}")
                s.add(job)
                s.flush()
                result = handler_for(job_type)(s, ctx, job)
                commanders[owner].narrate(ctx, job, result)
                job.status = "succeeded"

    def graph(as_of: date) -> None:
        outcome = run_cycle("bench", as_of=as_of, silent=True)
        assert outcome.status == "completed", outcome.status

    graph(end - timedelta(days=100))  # warm-up: imports, plotly-free paths, SOP index
    plain(end - timedelta(days=101))
    g, p = [], []
    for i in range(repeats):
        day = end - timedelta(days=i)
        t = time.perf_counter()
        graph(day)
        g.append(time.perf_counter() - t)
        t = time.perf_counter()
        plain(day - timedelta(days=50))
        p.append(time.perf_counter() - t)
    gm, pm = statistics.median(g), statistics.median(p)
    print(f"weekly cycle through the graph: median {gm:.3f} s over {repeats} runs (target < 1 s)")
    print(f"same work as plain function calls: median {pm:.3f} s")
    print(f"graph overhead ratio: {gm / pm:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
