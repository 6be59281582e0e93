"""Benchmark: model calls and prompt tokens of one weekly cycle on the demo client.

A counting fake model stands in for every commander. Printed next to a naive baseline that would
send all metrics and all SOPs with every job, as a ratio. Targets: at most one call per commander
involved plus one per triggered play, under 4,000 prompt tokens per call, <= 0.25 of the baseline.
Run: python benchmarks/llm_economy.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    os.environ["CHIMERA_HOME"] = tempfile.mkdtemp(prefix="chimera-economy-")
    os.environ.pop("CHIMERA_DATABASE_URL", None)
    os.environ["CHIMERA_LLM"] = "fake"
    from langchain_core.messages import HumanMessage, SystemMessage
    from sqlmodel import select

    import agents.llm_commander as llm
    from chimera import settings
    from chimera.db.engine import session_scope
    from chimera.db.models import MetricPoint
    from chimera.demo.demo_client import ensure_demo_client
    from chimera.llm.fake import CountingFakeModel, estimate_tokens
    from graphs.service import run_cycle

    model = CountingFakeModel()
    llm.get_chat_model = lambda *a, **k: model  # every commander talks to the counting model
    ctx, info = ensure_demo_client()
    outcome = run_cycle(ctx.name, as_of=info.as_of, silent=True)
    involved = {j["owner"] for j in outcome.jobs} | {p["owner"] for p in outcome.plays}
    calls = len(model.calls)
    per_call = [c["prompt_tokens"] for c in model.calls]
    allowed = len(involved) + len(outcome.plays)

    with session_scope() as s:
        metrics = [(m.metric, str(m.day), m.value) for m in s.exec(
            select(MetricPoint).where(MetricPoint.company_id == ctx.company_id))]
    sops = "\n\n".join(p.read_text() for p in sorted(settings.LIBRARIES_DIR.rglob("*.md")))
    naive_context = json.dumps(metrics) + "\n" + sops
    naive_jobs = list(outcome.jobs) + [{"type": "RATIONALE", "play": p["play"]} for p in outcome.plays]
    baseline = sum(estimate_tokens([SystemMessage("You are a commander."),
                                    HumanMessage(naive_context + json.dumps(job, default=str))])
                   for job in naive_jobs)
    ours = model.total_prompt_tokens
    print(f"cycle {outcome.run_id}: {len(outcome.jobs)} jobs, {len(outcome.plays)} triggered plays, "
          f"{len(involved)} commanders involved")
    print(f"model calls: {calls} (allowed: {allowed} = commanders involved + triggered plays)")
    print(f"prompt tokens: total {ours}, largest call {max(per_call, default=0)} (target < 4,000 per call)")
    print(f"naive baseline (all metrics + all SOPs with every job): {baseline} prompt tokens")
    print(f"ratio ours / baseline: {ours / baseline:.3f} (target <= 0.25)")


if __name__ == "__main__":
    main()
