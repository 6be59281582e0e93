"""QA 9 of plays: overlapping plays on one KPI, revert after a later change, scale/pause who and why."""

from __future__ import annotations

from chimera.config.models import PlayPolicy
from chimera.plays import SuggestState, suggest_plays
from tests.test_rank import WARN, kpis, make_configs


def _plays(*evidence: list[str]) -> list[dict]:
    return [{"id": f"p{i}", "trigger": WARN, "impact": 5 - i, "effort": 1, "evidence": {"kpis": kpis_}}
            for i, kpis_ in enumerate(evidence)]


def test_two_plays_judged_on_one_kpi_in_one_cycle_say_their_evidence_cannot_be_told_apart() -> None:
    cs = make_configs(_plays(["aov", "conversion_rate"], ["sessions"], ["aov"]), PlayPolicy(max_active_plays=3))
    result = suggest_plays(cs, kpis(), None)
    by_id = {p.play_id: p for p in result}
    assert [p.play_id for p in result] == ["p0", "p1", "p2"]
    assert by_id["p0"].overlaps == [] and by_id["p1"].overlaps == []  # p1 shares no KPI with p0
    [note] = by_id["p2"].overlaps
    assert "judged on aov like p0 (rank 1)" in note and "both confounded" in note
    assert by_id["p2"].why_rank.endswith(note), "shown wherever the rank's explanation is"


def test_a_play_judged_on_the_kpi_of_a_run_still_under_way_says_so() -> None:
    cs = make_configs(_plays(["aov"], ["conversion_rate"]), PlayPolicy(max_active_plays=3))
    state = SuggestState(active=1, active_plays=["p0"], active_kpis={"p0": ["aov"]})
    result = suggest_plays(cs, kpis(), None, state)
    assert [p.play_id for p in result] == ["p1"]
    assert result[0].overlaps == [], "the run under way is judged on aov only"
    logged = SuggestState(active=1, active_plays=["p0"], active_kpis={"p0": ["conversion_rate"]})
    [note] = suggest_plays(cs, kpis(), None, logged)[0].overlaps
    assert "judged on conversion_rate like p0, still under way" in note
    from_yaml = SuggestState(active=1, active_plays=["p0"])  # no KPIs logged with the run: plays.yml's
    assert suggest_plays(cs, kpis(), None, from_yaml)[0].overlaps == []
