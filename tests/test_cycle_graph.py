"""The weekly cycle graph: nodes from agents.yml, routing by handles, interrupts, decisions, replay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from agents.context import CycleContext
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, Decision, Job, PlayRun
from chimera.errors import DecisionError
from graphs.cycle import HUMAN, build_cycle_graph
from graphs.service import decide, pending_decisions, run_cycle
from tests.cycle_fixtures import AS_OF

SNAPSHOT = Path(__file__).parent / "snapshots" / "cycle_graph.mmd"


def _graph(client: str):
    ctx = get_client(client)
    return build_cycle_graph(CycleContext(client=ctx, as_of=AS_OF, run_id="x"))


def test_graph_has_one_node_per_commander_and_matches_snapshot(shop: str) -> None:
    graph = _graph(shop)
    commanders = [c.id for c in get_client(shop).configs.agents.commanders]
    assert set(commanders) | {"router", HUMAN} <= set(graph.nodes)
    assert graph.get_graph().draw_mermaid() == SNAPSHOT.read_text(encoding="utf-8")


def test_a_new_commander_in_agents_yml_gets_its_node(shop: str) -> None:
    folder = get_client(shop).folder
    data = yaml.safe_load((folder / "agents.yml").read_text())
    data["commanders"].append({"id": "support_commander_ai", "label": "Support Commander",
                               "handles": ["EXECUTE_PLAY_SUPPORT"], "role": "Owns customer support plays.",
                               "libraries": [], "values": ["Be kind"]})
    (folder / "agents.yml").write_text(yaml.safe_dump(data))
    assert "support_commander_ai" in _graph(shop).nodes


def test_cycle_routes_each_job_to_a_commander_that_handles_it(shop: str) -> None:
    outcome = run_cycle(shop, as_of=AS_OF)
    configs = get_client(shop).configs
    handles = {c.id: set(c.handles) for c in configs.agents.commanders}
    assert outcome.jobs, "the cycle ran no job"
    for job in outcome.jobs:
        assert job["type"] in handles[job["owner"]], job
    assert [j["type"] for j in outcome.jobs[:5]] == [
        "INGEST_METRICS", "EVALUATE_KPIS", "LOG_EVIDENCE", "TRAIN_AGENT", "SUGGEST_PLAYS"]
    assert len(outcome.kpis) == len(configs.kpis.kpis)


def test_cycle_waits_for_people_and_each_decision_resumes_it(shop: str) -> None:
    outcome = run_cycle(shop, as_of=AS_OF)
    assert outcome.status == "awaiting_decisions"
    pending = outcome.pending
    assert len(pending) >= 2, "the generated store should trigger at least two plays"
    with session_scope() as s:
        assert not s.exec(select(Job).where(Job.type.startswith("EXECUTE_PLAY_"))).all()  # type: ignore[attr-defined]

    first = pending[0]
    second = next(p for p in pending if p.play_id == "winback_email")  # 3 steps, 2 of them take a segment
    assert second is not first
    after = decide(first.play_run_id, "approve", who="alice")
    executed = [j for j in after.jobs if j["play_run_id"] == first.play_run_id and j["type"].startswith("EXECUTE")]
    assert executed and all(j["status"] == "succeeded" for j in executed)
    with pytest.raises(DecisionError, match="already decided") as refused:
        decide(first.play_run_id, "reject", who="bob", why="changed my mind")
    assert f"chimera play revert {first.play_run_id} --reason" in str(refused.value)  # what can still be done
    decide(first.play_run_id, "approve", who="alice")  # a double click: resumes, applies nothing twice

    with pytest.raises(DecisionError, match="needs a reason"):
        decide(second.play_run_id, "override", who="bob", why="")
    with pytest.raises(DecisionError, match="JSON object"):
        decide(second.play_run_id, "override", who="bob", why="x", params=[5])  # type: ignore[arg-type]
    with pytest.raises(DecisionError, match="winback_email has no step parameter 'change_pct'"):
        decide(second.play_run_id, "override", who="bob", why="x", params={"change_pct": 5})
    assert second.play_run_id in {p.play_run_id for p in pending_decisions(shop)}, "nothing recorded"
    narrower = {"segment": "lapsed_120_180d"}
    decide(second.play_run_id, "override", who="bob", why="smaller change first", params=narrower)
    # the same person changing the params or the reason is not a double click: refused, not dropped
    with pytest.raises(DecisionError, match="recorded once"):
        decide(second.play_run_id, "override", who="bob", why="smaller change first", params={"segment": "all"})
    with pytest.raises(DecisionError, match="recorded once"):
        decide(second.play_run_id, "override", who="bob", why="another reason", params=narrower)
    decide(second.play_run_id, "override", who="bob", why="smaller change first", params=narrower)
    for rest in pending_decisions(shop):
        decide(rest.play_run_id, "reject", who="carol", why="not this week")

    with session_scope() as s:
        decisions = {d.play_run_id: d for d in s.exec(select(Decision))}
        assert decisions[first.play_run_id].who == "alice"
        assert decisions[second.play_run_id].kind == "override"
        assert decisions[second.play_run_id].why == "smaller change first"
        overridden = s.exec(select(Job).where(Job.play_run_id == second.play_run_id,
                                              Job.type.startswith("EXECUTE_PLAY_"))).all()  # type: ignore[attr-defined]
        segments = {j.action: j.params.get("segment") for j in overridden}
        assert segments == {"draft_copy": None, "draft_campaign": "lapsed_120_180d",
                            "schedule_campaign": "lapsed_120_180d"}, "only the steps that take a segment"
        applied = s.exec(select(AppliedChange)).all()
        execute_jobs = s.exec(select(Job).where(Job.type.startswith("EXECUTE_PLAY_"))).all()  # type: ignore[attr-defined]
        assert len(applied) == len(execute_jobs) == len({a.idempotency_key for a in applied})
        rejected = s.exec(select(PlayRun).where(PlayRun.status == "rejected")).all()
        assert all(not s.exec(select(Job).where(Job.play_run_id == r.id)).all() for r in rejected)
    assert pending_decisions(shop) == []


def test_silent_cycle_suggests_but_executes_nothing(shop: str) -> None:
    outcome = run_cycle(shop, as_of=AS_OF, silent=True)
    assert outcome.status == "completed"
    assert outcome.pending == []
    assert outcome.plays, "a silent cycle still shows what it would suggest"
    assert all(p["status"] == "silent" for p in outcome.plays)
    assert not [j for j in outcome.jobs if j["type"].startswith(("PLAN", "EXECUTE"))]
    with pytest.raises(DecisionError, match="silent"):
        decide(outcome.plays[0]["id"], "approve", who="alice")


def test_rerunning_the_same_cycle_resumes_it(shop: str) -> None:
    first = run_cycle(shop, as_of=AS_OF)
    again = run_cycle(shop, as_of=AS_OF)
    assert again.run_id == first.run_id
    assert [p["id"] for p in again.plays] == [p["id"] for p in first.plays]
    assert len(again.jobs) == len(first.jobs)


def test_a_cycle_without_as_of_judges_the_newest_day_its_exports_reach(shop: str) -> None:
    from sqlmodel import func

    from chimera.db.models import MetricPoint

    outcome = run_cycle(shop)  # nothing ingested yet: the day is only known after INGEST_METRICS
    with session_scope() as s:
        ends = dict(s.exec(select(MetricPoint.source, func.max(MetricPoint.day)).group_by(MetricPoint.source)).all())
    # Stripe's UTC days reach one day past the store's: that day is a few hours of one source, left out
    newest = min(ends.values()) if max(ends.values()) - min(ends.values()) == timedelta(days=1) else max(ends.values())
    assert outcome.as_of == newest >= AS_OF
    assert (outcome.as_of_note != "") == (newest != max(ends.values())), outcome.as_of_note
    judged = [k for k in outcome.kpis if k["status"] != "UNKNOWN"]
    assert judged and all(k["data_through"] <= newest.isoformat() for k in judged)
    assert run_cycle(shop).run_id == outcome.run_id, "the same command resumes the same cycle"
