"""The trigger language: examples with exact explanations, and hypothesis laws over random trees."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chimera.config.models import (
    AboveCondition,
    AllOf,
    AnomalyCondition,
    AnyOf,
    BelowCondition,
    ChangeAboveCondition,
    ChangeBelowCondition,
    NotOf,
    PlaysConfig,
    StatusCondition,
)
from chimera.plays.models import KPIView, kpi_view
from chimera.plays.trigger import evaluate_trigger

KPI_IDS = ["conversion_rate", "aov", "net_revenue", "sessions"]


def view(kpi: str, status: str, value: str | None, **kw) -> KPIView:
    return KPIView(id=kpi, status=status, value=None if value is None else Decimal(value), **kw)


def test_status_clause_explains_value_and_threshold() -> None:
    kpis = {"conversion_rate": view("conversion_rate", "WARNING", "0.0169", target=Decimal("0.025"),
                                    warning=Decimal("0.018"), critical=Decimal("0.012"), unit="percent")}
    result = evaluate_trigger(StatusCondition(kpi="conversion_rate", status=["WARNING", "CRITICAL"]), kpis)
    assert result.fired and result.outcome == "true"
    assert result.clauses == ["conversion_rate is WARNING (1.69% vs warning 1.80%)"]
    assert result.kpi_values["conversion_rate"].warning == Decimal("0.018")
    assert result.urgency_label == "WARNING conversion_rate"


def test_change_clause_uses_the_change_function() -> None:
    calls = []

    def change(kpi: str, days: int) -> Decimal:
        calls.append((kpi, days))
        return Decimal("-18.2")

    kpis = {"net_revenue": view("net_revenue", "OK", "1000")}
    result = evaluate_trigger(ChangeBelowCondition(kpi="net_revenue", change_pct_below=Decimal(-15), over="7d"),
                              kpis, change)
    assert result.fired
    assert result.clauses == ["net_revenue changed -18.2% over 7d (< -15%)"]
    assert calls == [("net_revenue", 7)]
    above = evaluate_trigger(ChangeAboveCondition(kpi="net_revenue", change_pct_above=Decimal(5), over="14d"),
                             kpis, change)
    assert not above.fired and above.outcome == "false"
    assert calls[-1] == ("net_revenue", 14)


def test_missing_change_is_unknown_and_not_of_it_does_not_fire() -> None:
    kpis = {"net_revenue": view("net_revenue", "OK", "1000")}
    cond = ChangeBelowCondition(kpi="net_revenue", change_pct_below=Decimal(-15))
    assert evaluate_trigger(cond, kpis, lambda k, d: None).outcome == "unknown"
    assert evaluate_trigger(NotOf(**{"not": cond}), kpis, lambda k, d: None).fired is False
    assert evaluate_trigger(cond, kpis, None).outcome == "unknown"


def test_unknown_kpi_and_missing_kpi_never_fire_even_under_not() -> None:
    kpis = {"aov": view("aov", "UNKNOWN", None)}
    for cond in (BelowCondition(kpi="aov", below=Decimal(40)), BelowCondition(kpi="absent", below=Decimal(1)),
                 StatusCondition(kpi="aov", status=["UNKNOWN"])):
        assert evaluate_trigger(cond, kpis).fired is False
        assert evaluate_trigger(NotOf(**{"not": cond}), kpis).fired is False


def test_any_fires_on_one_true_clause_and_lists_only_it() -> None:
    kpis = {"aov": view("aov", "OK", "38.2"), "sessions": view("sessions", "OK", "900")}
    trig = AnyOf(any=[BelowCondition(kpi="aov", below=Decimal(40)), AboveCondition(kpi="sessions", above=Decimal(1000)),
                      BelowCondition(kpi="conversion_rate", below=Decimal("0.01"))])
    result = evaluate_trigger(trig, kpis)
    assert result.fired
    assert result.clauses == ["aov is 38.20, below 40.00"]


def test_trigger_parsed_from_yaml_shape_and_built_from_a_result_object() -> None:
    plays = PlaysConfig.model_validate({"plays": [{
        "id": "p", "label": "P", "description": "d", "owner": "o", "impact": 1, "effort": 1,
        "trigger": {"all": [{"kpi": "aov", "anomaly": True}, {"not": {"kpi": "aov", "status": ["OK"]}}]},
        "evidence": {"kpis": ["aov"]}, "job_plan": [{"type": "X", "bot": "b", "action": "a"}]}]})
    result_like = SimpleNamespace(
        id="aov", label="AOV", unit="currency", direction="higher_is_better", status="CRITICAL",
        value=Decimal("31"), target=Decimal("50"), warning=Decimal("42"), critical=Decimal("35"), window="28d",
        data_through=None, note="n", previous_value=None,
        anomaly=SimpleNamespace(flagged=True, level="high", baseline=Decimal(48), sd_score=-3.14, change_pct=-35.4))
    result = evaluate_trigger(plays.plays[0].trigger, {"aov": result_like})
    assert result.fired
    assert result.clauses[0] == "aov is anomalous vs its own baseline (high, sd score -3.1, -35.4% vs baseline)"
    assert "aov is CRITICAL, not OK (31.00 vs critical 35.00)" in result.clauses
    assert result.urgency_label == "CRITICAL aov"
    assert kpi_view(result_like).window == "28d"


def test_view_from_the_kpi_evaluators_result() -> None:
    kpi_models = pytest.importorskip("chimera.kpi.models")
    anomaly = kpi_models.Anomaly(flagged=True, level="WARNING", baseline=Decimal("0.024"), weeks=4,
                                 sd_score=Decimal("-2.61"), change_pct=Decimal("-29.6"))
    result = kpi_models.KPIResult(
        id="conversion_rate", label="Conversion", unit="percent", direction="higher_is_better", status="WARNING",
        value=Decimal("0.0169"), target=Decimal("0.025"), warning=Decimal("0.018"), critical=Decimal("0.012"),
        window="7d", data_through=None, note="1.69% < warning 1.80%", anomaly=anomaly)
    view = kpi_view(result)
    assert (view.status, view.value, view.warning, view.unit, view.anomaly) == (
        "WARNING", result.value, result.warning, "percent", True)
    assert view.anomaly_note == "WARNING, sd score -2.6, -29.6% vs baseline"
    fired = evaluate_trigger(AnomalyCondition(kpi="conversion_rate", anomaly=True), {"conversion_rate": result})
    assert fired.fired and fired.urgency_label == "WARNING conversion_rate"


# --------------------------------------------------------------------------- properties

STATUSES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def kpi_views_st(draw) -> dict[str, KPIView]:
    out = {}
    for kpi in KPI_IDS:
        if draw(st.booleans()) and draw(st.booleans()):  # some KPIs are absent from the cycle
            continue
        status = draw(st.sampled_from(STATUSES))
        value = None if status == "UNKNOWN" or draw(st.integers(0, 9)) == 0 else draw(numbers)
        out[kpi] = KPIView(id=kpi, status=status, value=value, warning=draw(numbers), target=draw(numbers),
                           critical=draw(numbers), anomaly=draw(st.booleans()),
                           unit=draw(st.sampled_from(["", "percent", "count", "currency"])))
    return out


kpi_id = st.sampled_from([*KPI_IDS, "missing_kpi"])
leaves = st.one_of(
    st.builds(StatusCondition, kpi=kpi_id, status=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3)),
    st.builds(BelowCondition, kpi=kpi_id, below=numbers),
    st.builds(AboveCondition, kpi=kpi_id, above=numbers),
    st.builds(ChangeBelowCondition, kpi=kpi_id, change_pct_below=numbers,
              over=st.sampled_from(["7d", "14d", "28d"])),
    st.builds(ChangeAboveCondition, kpi=kpi_id, change_pct_above=numbers),
    st.builds(AnomalyCondition, kpi=kpi_id, anomaly=st.just(True)),
)
triggers = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.builds(AllOf, all=st.lists(kids, min_size=1, max_size=3)),
        st.builds(AnyOf, any=st.lists(kids, min_size=1, max_size=3)),
        kids.map(lambda t: NotOf(**{"not": t})),
    ),
    max_leaves=8,
)


@st.composite
def change_fns(draw):
    table = {(k, d): draw(st.one_of(st.none(), numbers)) for k in KPI_IDS for d in (7, 14, 28)}
    return lambda kpi, days: table.get((kpi, days))


@settings(max_examples=100, deadline=None)
@given(triggers, kpi_views_st(), change_fns())
def test_no_exceptions_and_explanation_when_fired(trig, kpis, change) -> None:
    result = evaluate_trigger(trig, kpis, change)
    assert result.fired == (result.outcome == "true")
    if result.fired:
        assert result.clauses and all(isinstance(c, str) and c for c in result.clauses)
        assert set(result.kpi_values) <= set(kpis)
    else:
        assert result.clauses == []


@settings(max_examples=100, deadline=None)
@given(triggers, kpi_views_st(), change_fns())
def test_not_law(trig, kpis, change) -> None:
    inner = evaluate_trigger(trig, kpis, change).outcome
    negated = evaluate_trigger(NotOf(**{"not": trig}), kpis, change).outcome
    assert negated == {"true": "false", "false": "true", "unknown": "unknown"}[inner]
    double = evaluate_trigger(NotOf(**{"not": NotOf(**{"not": trig})}), kpis, change).outcome
    assert double == inner


@settings(max_examples=100, deadline=None)
@given(st.lists(triggers, min_size=1, max_size=4), kpi_views_st(), change_fns())
def test_all_any_laws(parts, kpis, change) -> None:
    outs = [evaluate_trigger(p, kpis, change).outcome for p in parts]
    all_out = evaluate_trigger(AllOf(all=parts), kpis, change).outcome
    any_out = evaluate_trigger(AnyOf(any=parts), kpis, change).outcome
    assert (all_out == "true") == all(o == "true" for o in outs)
    assert (all_out == "false") == any(o == "false" for o in outs)
    assert (any_out == "true") == any(o == "true" for o in outs)
    assert (any_out == "false") == all(o == "false" for o in outs)
    # De Morgan: not(all(x)) == any(not x)
    de_morgan = evaluate_trigger(AnyOf(any=[NotOf(**{"not": p}) for p in parts]), kpis, change).outcome
    assert evaluate_trigger(NotOf(**{"not": AllOf(all=parts)}), kpis, change).outcome == de_morgan


@settings(max_examples=100, deadline=None)
@given(triggers, kpi_views_st(), change_fns())
def test_unknown_never_fires(trig, kpis, change) -> None:
    """Making every KPI UNKNOWN (or dropping it) means nothing fires, whatever the tree."""
    unknown = {k: v.model_copy(update={"status": "UNKNOWN", "value": None}) for k, v in kpis.items()}
    assert evaluate_trigger(trig, unknown, change).fired is False
    assert evaluate_trigger(trig, {}, change).fired is False
    assert evaluate_trigger(NotOf(**{"not": trig}), unknown, change).fired is False
