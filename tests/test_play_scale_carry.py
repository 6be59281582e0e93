"""An undecided scale waits in the next cycle (graphs.service.supersede): a scale is a person's
request that no trigger suggests again, so superseding it with last week's suggestions made it
vanish at the next cycle without a word (QA of play scale over weekly cycles)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from chimera.db.engine import session_scope
from chimera.db.models import CycleRun, PlayRun
from graphs import chat
from graphs.service import pending_decisions, supersede
from tests.test_chat_review import AS_OF, shop  # noqa: F401 - fixture
from tests.test_chat_scale import live  # noqa: F401 - fixture


def test_an_undecided_scale_moves_into_the_next_cycle_and_the_rest_is_superseded(live: dict[str, Any]) -> None:  # noqa: F811
    outcome = chat.scale_play(live["runs"]["bundle_offer"], "alice", "bundles sell")
    with session_scope() as s:
        other = PlayRun(company_id=live["ctx"].company_id, run_id=live["cycle"], play_id="pricing_test", as_of=AS_OF,
                        status="suggested")
        s.add(other)
        s.flush()
        other_id = other.id
        nxt = CycleRun(company_id=live["ctx"].company_id, as_of=AS_OF + timedelta(days=7), status="running")
        s.add(nxt)
        s.flush()
        supersede(s, live["ctx"], nxt)
        next_id = nxt.id
    with session_scope() as s:
        scaled, replaced = s.get(PlayRun, outcome.play_run_id), s.get(PlayRun, other_id)
        assert (scaled.status, scaled.run_id, scaled.as_of) == ("suggested", next_id, AS_OF + timedelta(days=7))
        assert scaled.rationale["carried_from"] == [live["cycle"]]
        assert scaled.rationale["scale"]["why"] == "bundles sell", "the person's record stays"
        assert (replaced.status, replaced.rationale["superseded_by"]) == ("superseded", next_id)
        assert s.exec(select(PlayRun).where(PlayRun.id == outcome.play_run_id)).one().explanation["scaled_from"]
    assert outcome.play_run_id in {p.play_run_id for p in pending_decisions("shop")}, "still awaiting its decision"


def test_an_override_of_a_scaled_run_starts_from_the_scaled_params(live: dict[str, Any]) -> None:  # noqa: F811
    """Was: overriding a scaled run recorded 'discount_pct 10 -> 12' (plays.yml's 10, not the 15 the
    scale suggested) and its job's description still said '(scaled: discount_pct 10 -> 15)' while
    the job ran 12."""
    from agents.decisions import override_changes
    from chimera.planner import plan_play_run
    from chimera.plays.scale import step_params

    outcome = chat.scale_play(live["runs"]["bundle_offer"], "alice", "bundles sell")
    configs = live["ctx"].configs
    with session_scope() as s:
        run = s.get(PlayRun, outcome.play_run_id)
        [change] = [c for c in outcome.changes if c.param == "discount_pct"]
        assert (change.before, change.after) == (10, 15)
        said = override_changes(configs, "bundle_offer", {"discount_pct": 12}, step_params(run))
        assert said == [{"step": change.name, "param": "discount_pct", "before": 15, "after": 12}]
        [job] = [j for j in plan_play_run(s, configs, run, {change.step - 1: {"discount_pct": 12}})
                 if j.step == change.step - 1]
        assert job.params["discount_pct"] == 12
        assert job.params["description"].endswith("(overridden: discount_pct 10 -> 12)"), job.params["description"]
