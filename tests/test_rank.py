"""Suggesting plays: ranking by the manual's priority filter, the cap, UNKNOWN suppression, review."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from chimera.config.loader import ConfigSet
from chimera.config.models import (
    KPI,
    AgentsConfig,
    Bot,
    BotAction,
    Commander,
    KPIsConfig,
    PlayPolicy,
    PlaysConfig,
)
from chimera.db.engine import get_engine
from chimera.db.models import Company, PlayRun
from chimera.errors import DecisionError
from chimera.plays import (
    KPIView,
    SuggestState,
    clear_review,
    play_states,
    record_verdict,
    suggest_plays,
    suggest_state,
)

WARN = {"kpi": "conversion_rate", "status": ["WARNING", "CRITICAL"]}


def make_configs(plays: list[dict], policy: PlayPolicy | None = None) -> ConfigSet:
    """A small hand-written config set (independent of the base YAML files)."""
    agents = AgentsConfig(
        commanders=[Commander(id="commerce_commander_ai", label="C", role="r",
                              handles=["SUGGEST_PLAYS", "EXECUTE_PLAY_COMMERCE"]),
                    Commander(id="growth_commander_ai", label="G", role="r", handles=["EXECUTE_PLAY_GROWTH"])],
        bots=[Bot(id="copy_bot", label="Copy", role="r", actions=[
                  BotAction(name="draft_copy", description="d", reversible=True)]),
              Bot(id="ads_bot", label="Ads", role="r", actions=[
                  BotAction(name="launch_campaign", description="d", reversible=False)])],
    )
    kpis = KPIsConfig(kpis=[
        KPI(id=k, label=k, unit="percent", direction="higher_is_better", formula="orders / sessions",
            target=Decimal("0.03"), warning=Decimal("0.02"), critical=Decimal("0.01"), owner="growth_commander_ai")
        for k in ("conversion_rate", "aov", "sessions")])
    full = [{"label": p["id"].title(), "description": "d", "owner": "commerce_commander_ai",
             "evidence": {"kpis": ["conversion_rate"]},
             "job_plan": [{"type": "EXECUTE_PLAY_COMMERCE", "bot": "copy_bot", "action": "draft_copy"}], **p}
            for p in plays]
    return ConfigSet(folder=Path("."), agents=agents, kpis=kpis,
                     plays=PlaysConfig(policy=policy or PlayPolicy(), plays=full))


def kpis(conv: str = "WARNING", aov: str = "OK", sessions: str = "OK", anomaly: bool = False) -> dict:
    def v(kpi: str, status: str) -> KPIView:
        value = None if status == "UNKNOWN" else Decimal("0.015")
        return KPIView(id=kpi, status=status, value=value, warning=Decimal("0.02"), critical=Decimal("0.01"),
                       target=Decimal("0.03"), unit="percent", anomaly=anomaly and kpi == "sessions")
    return {"conversion_rate": v("conversion_rate", conv), "aov": v("aov", aov), "sessions": v("sessions", sessions)}


def test_financial_first_then_effort_then_impact() -> None:
    cs = make_configs([
        {"id": "brand", "trigger": WARN, "impact": 5, "effort": 1, "financial": False},
        {"id": "heavy", "trigger": WARN, "impact": 3, "effort": 4},
        {"id": "light", "trigger": WARN, "impact": 3, "effort": 1},
        {"id": "big", "trigger": WARN, "impact": 5, "effort": 2},
    ], PlayPolicy(max_active_plays=10))
    result = suggest_plays(cs, kpis(), None)
    order = [p.play_id for p in result]
    assert order[-1] == "brand"  # not financial: after every financial play
    assert order.index("light") < order.index("heavy")  # same impact: less effort wins
    assert order.index("big") < order.index("heavy")
    assert [p.rank for p in result] == list(range(1, len(order) + 1))
    assert all(result[i].score >= result[i + 1].score for i in range(len(order) - 1))
    assert result[0].why_rank.startswith(f"impact {result[0].impact}, effort {result[0].effort}, WARNING")


def test_urgency_critical_beats_warning_beats_anomaly() -> None:
    cs = make_configs([
        {"id": "on_anomaly", "trigger": {"kpi": "sessions", "anomaly": True}, "impact": 3, "effort": 2},
        {"id": "on_aov", "trigger": {"kpi": "aov", "status": ["WARNING", "CRITICAL"]}, "impact": 3, "effort": 2},
        {"id": "on_conv", "trigger": WARN, "impact": 3, "effort": 2},
    ], PlayPolicy(max_active_plays=5))
    order = [p.play_id for p in suggest_plays(cs, kpis(conv="WARNING", aov="CRITICAL", anomaly=True), None)]
    assert order == ["on_aov", "on_conv", "on_anomaly"]


def test_past_failures_rank_a_play_lower() -> None:
    cs = make_configs([{"id": "a", "trigger": WARN, "impact": 3, "effort": 2},
                       {"id": "b", "trigger": WARN, "impact": 3, "effort": 2}])
    state = SuggestState(records={"a": {"runs": 3, "moved": 0, "failed": 3}, "b": {"runs": 2, "moved": 2, "failed": 0}})
    result = suggest_plays(cs, kpis(), None, state)
    assert [p.play_id for p in result] == ["b", "a"]
    assert "record 0/3 moved, 3 failed" in result[1].why_rank
    baseline = suggest_plays(cs, kpis(), None)
    assert [p.play_id for p in baseline] == ["a", "b"]  # without history: plays.yml order breaks the tie


def test_cap_counts_active_plays_and_lists_the_rest() -> None:
    cs = make_configs([{"id": f"p{i}", "trigger": WARN, "impact": 1 + i, "effort": 2} for i in range(4)],
                      PlayPolicy(max_active_plays=3))
    full = suggest_plays(cs, kpis(), None)
    assert len(full) == 3 and len(full.over_cap) == 1
    assert full.over_cap[0].note == "over the cap of 3 active plays"
    assert full.over_cap[0].rank == 4 and not full.over_cap[0].selected
    busy = suggest_plays(cs, kpis(), None, {"active": 2})
    assert len(busy) == 1 and len(busy.over_cap) == 3
    assert busy.over_cap[0].note == "over the cap of 3 active plays (2 already active)"
    assert [p.play_id for p in busy.triggered] == [p.play_id for p in full.triggered]
    assert suggest_plays(cs, kpis(), None, {"active": 5}) == []


def test_unknown_kpi_in_trigger_or_kpis_list_suppresses() -> None:
    cs = make_configs([
        {"id": "on_conv", "trigger": WARN, "impact": 3, "effort": 2},
        {"id": "needs_aov", "trigger": WARN, "kpis": ["aov"], "impact": 3, "effort": 2},
        {"id": "any_with_unknown", "trigger": {"any": [WARN, {"kpi": "sessions", "below": 1}]},
         "impact": 3, "effort": 2},
    ])
    result = suggest_plays(cs, kpis(aov="UNKNOWN", sessions="UNKNOWN"), None)
    assert [p.play_id for p in result] == ["on_conv"]
    reasons = {s.play_id: s for s in result.suppressed}
    assert reasons["needs_aov"].kind == "unknown_kpi" and "aov" in reasons["needs_aov"].reason
    assert "sessions" in reasons["any_with_unknown"].reason
    missing = suggest_plays(cs, {"conversion_rate": kpis()["conversion_rate"]}, None)
    assert "not evaluated this cycle" in {s.play_id: s for s in missing.suppressed}["needs_aov"].reason


def test_reversible_and_auto_approvable() -> None:
    ads_step = {"type": "EXECUTE_PLAY_GROWTH", "bot": "ads_bot", "action": "launch_campaign"}
    cs = make_configs([{"id": "safe", "trigger": WARN, "impact": 2, "effort": 1},
                       {"id": "risky", "trigger": WARN, "impact": 2, "effort": 1, "job_plan": [ads_step]}],
                      PlayPolicy(auto_approve=["safe", "risky"]))
    plays = {p.play_id: p for p in suggest_plays(cs, kpis(), None)}
    assert plays["safe"].reversible and plays["safe"].auto_approvable
    assert not plays["risky"].reversible and not plays["risky"].auto_approvable
    assert plays["safe"].trigger == ["conversion_rate is WARNING (1.50% vs warning 2.00%)"]
    assert plays["safe"].kpi_values["conversion_rate"].status == "WARNING"
    assert plays["safe"].evidence_kpis == ["conversion_rate"] and plays["safe"].delay_days == 28


def test_deterministic_for_same_inputs() -> None:
    cs = make_configs([{"id": f"p{i}", "trigger": WARN, "impact": 1 + i % 3, "effort": 1 + i % 2} for i in range(6)])
    first = suggest_plays(cs, kpis(), None).to_dict()
    assert first == suggest_plays(cs, kpis(), None).to_dict()


# --------------------------------------------------------------------------- under review (DB)


@pytest.fixture
def session(chimera_home) -> Session:
    with Session(get_engine(), expire_on_commit=False) as s:
        company = Company(name="acme")
        s.add(company)
        s.commit()
        yield s


def _company(session: Session) -> int:
    from sqlmodel import select

    return session.exec(select(Company.id)).one()


def test_failures_put_a_play_under_review_then_clear(session: Session) -> None:
    cid = _company(session)
    cs = make_configs([{"id": "promo", "trigger": WARN, "impact": 3, "effort": 2}], PlayPolicy(review_after_failures=2))
    after = cs.plays.policy.review_after_failures
    assert [p.play_id for p in suggest_plays(cs, kpis(), None, suggest_state(session, cid))] == ["promo"]
    record_verdict(session, cid, "promo", "no_detectable_change", after)
    assert not play_states(session, cid)["promo"]["under_review"]
    record_verdict(session, cid, "promo", "moved_down", after, direction="higher_is_better")
    session.commit()
    states = play_states(session, cid)
    assert states["promo"]["under_review"] and states["promo"]["failed"] == 2 and states["promo"]["runs"] == 2
    result = suggest_plays(cs, kpis(), None, suggest_state(session, cid))
    assert list(result) == []
    assert result.suppressed[0].kind == "under_review" and result.suppressed[0].would_fire is True
    assert "failed to move its KPIs 2 times" in result.suppressed[0].reason
    with pytest.raises(DecisionError):
        clear_review(session, cid, "promo", "ops", "   ")
    clear_review(session, cid, "promo", "ops", "trigger tightened")
    session.commit()
    assert [p.play_id for p in suggest_plays(cs, kpis(), None, suggest_state(session, cid))] == ["promo"]
    # failures counted again from zero after clearing
    record_verdict(session, cid, "promo", "no_detectable_change", after)
    assert not play_states(session, cid)["promo"]["under_review"]


def test_good_moves_and_neutral_verdicts_do_not_count_as_failures(session: Session) -> None:
    cid = _company(session)
    for verdict, direction in (("moved_down", "lower_is_better"), ("inconclusive", None), ("confounded", None),
                               ("moved_up", "higher_is_better")):
        record_verdict(session, cid, "p", verdict, 1, direction=direction)
    state = play_states(session, cid)["p"]
    assert (state["runs"], state["moved"], state["failed"], state["under_review"]) == (4, 2, 0, False)


def test_suggest_state_counts_active_runs(session: Session) -> None:
    from datetime import date

    cid = _company(session)
    for play_id, status in (("a", "suggested"), ("b", "executing"), ("c", "done"), ("d", "rejected")):
        session.add(PlayRun(company_id=cid, play_id=play_id, as_of=date(2026, 1, 5), status=status))
    session.commit()
    state = suggest_state(session, cid)
    assert state.active == 2 and state.active_plays == ["a", "b"]
    cs = make_configs([{"id": x, "trigger": WARN, "impact": 3, "effort": 2} for x in "abc"])
    result = suggest_plays(cs, kpis(), None, state)
    assert [p.play_id for p in result] == ["c"]
    assert {s.play_id: s.kind for s in result.suppressed} == {"a": "already_active", "b": "already_active"}
