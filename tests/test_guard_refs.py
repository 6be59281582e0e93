"""The guard on a KPI said to be above, below, meeting or missing its target or a threshold
(chimera.llm.guard_refs): no figure is wrong in "AOV hit its target" when AOV is 44.56 against 45, so
only the comparison can be checked. Was: every such false sentence was shown."""

from __future__ import annotations

import pytest

from chimera.llm.guard import check_numbers
from chimera.llm.guard_refs import RefClaim, judge_ref_claim, ref_claims

KPIS = [{"kpis": [
    {"id": "net_revenue", "label": "Net revenue (weekly)", "unit": "currency", "status": "OK", "value": "16017.93",
     "target": "5000", "warning": "4000", "critical": "3000", "window": "7d",
     "note": "net_revenue 16,017.93 over 7d to 2026-04-26, at or above target 5,000.00"},
    {"id": "conversion_rate", "label": "Conversion rate", "unit": "percent", "status": "WARNING", "value": "0.0169",
     "target": "0.025", "warning": "0.018", "critical": "0.012", "window": "7d",
     "note": "conversion_rate 1.69% over 7d to 2026-04-26, below warning 1.80%"},
    {"id": "aov", "label": "Average order value", "unit": "currency", "status": "OK", "value": "44.56",
     "target": "45", "warning": "38", "critical": "30", "window": "7d", "note": "aov 44.56 over 7d to 2026-04-26"},
    {"id": "failed_payment_rate", "label": "Failed payment rate", "unit": "percent", "status": "OK",
     "value": "0.050505", "target": "0.03", "warning": "0.06", "critical": "0.1", "window": "7d",
     "note": "failed_payment_rate 5.05% over 7d to 2026-04-26, above target 3.00%, below warning 6.00%"},
    {"id": "fiverr_response_rate", "label": "Fiverr response rate", "unit": "percent", "status": "OK",
     "value": "0.954545", "target": "0.95", "warning": "0.9", "critical": "0.8", "window": "90d",
     "note": "fiverr_response_rate 95.45% over 90d to 2026-04-26, at or above target 95.00%"},
    {"id": "refund_rate_orders", "label": "Refund rate", "unit": "percent", "status": "WARNING", "value": "0.025",
     "target": "0.02", "warning": "0.024", "critical": "0.04", "window": "28d",
     "note": "refund_rate_orders 2.50% over 28d to 2026-04-26, above warning 2.40%"},
], "as_of": "2026-04-26"}]


@pytest.mark.parametrize("text", [
    "AOV hit its target of $45.",
    "AOV met its target.",
    "Net revenue missed its $5,000 target.",
    "Conversion rate is above its warning threshold.",
    "Conversion rate is 1.69%, which is above target.",
    "Net revenue fell below its target.",
    "Conversion rate is under target, while net revenue is under target too.",
    "The refund rate met its target.",  # lower is better: 2.50% is above the 2.00% target
    "The refund rate is below its target.",
    "Conversion did not fall below the warning threshold.",
    "Refund rate is within target and under the warning level.",
    # a percent KPI whose note says "above target 3.00%": 0.0505 is not below 3
    "Failed payment rate is below its 3.00% target.",
    "Failed payment rate met its target.",
    "Fiverr response rate fell short of its target.",
])
def test_a_false_comparison_with_a_target_or_threshold_is_refused(text: str) -> None:
    result = check_numbers(text, KPIS)
    assert not result.ok and any("against its" in o for o in result.offending), (text, result.offending)


@pytest.mark.parametrize("text", [
    "Net revenue is well above its $5,000 target.",
    "Net revenue beat its target; it has exceeded the target for the week.",
    "Conversion rate is below its warning threshold of 1.80% and short of the 2.5% target.",
    "AOV is just under its $45 target but above the warning level.",
    "AOV missed its target by a hair.",
    "AOV did not hit its target.",
    "Conversion rate (1.69%) is below the warning threshold (1.80%) but above critical.",
    "Net revenue is above target but conversion is below target.",
    "The refund rate missed its target and is above the warning line.",
    "The refund rate is above its target.",
    "Failed payment rate is above its 3.00% target but below the 6.00% warning level.",
    "Fiverr response rate met its target.",
    # conditions, plans and advice say nothing of now
    "If conversion falls below the critical threshold, pause the price test.",
    "To get AOV above target, bundle products.",
    "Keep conversion above the warning threshold.",
    "AOV should stay above its warning level.",
])
def test_a_true_comparison_or_advice_passes(text: str) -> None:
    result = check_numbers(text, KPIS)
    assert result.ok, (text, result.offending)


def test_only_the_clause_names_the_kpi_compared() -> None:
    said = "Net revenue is above target, but conversion rate hit its target."
    assert check_numbers(said, KPIS).offending == [
        "conversion_rate hit its target (the tool outputs say 0.0169 against its target 0.025)"]


def _claim(relation: str, negated: bool = False) -> RefClaim:
    return RefClaim(phrase=relation, start=0, end=0, ref="target", relation=relation, negated=negated)


@pytest.mark.parametrize(("relation", "negated", "value", "ref", "direction", "holds"), [
    ("above", False, 10, 10, 1, True),  # equal contradicts neither above nor below
    ("below", False, 10, 10, 1, True),
    ("above", True, 10, 10, 1, True),
    ("above", False, 9, 10, 1, False),
    ("met", False, 10, 10, -1, True),  # lower is better: meeting is at or below
    ("met", False, 11, 10, -1, False),
    ("missed", False, 11, 10, -1, True),
    ("missed", True, 11, 10, -1, False),  # "did not miss" while it did
    ("met", False, 11, 10, 0, None),  # no direction: not judged
    ("above", False, 11, 10, 0, True),  # numbers need no direction
])
def test_judge_ref_claim(relation: str, negated: bool, value: float, ref: float, direction: int,
                         holds: bool | None) -> None:
    assert judge_ref_claim(_claim(relation, negated), [value], [ref], direction) is holds
    assert judge_ref_claim(_claim(relation, negated), [], [ref], direction) is None


def test_ref_claims_reads_the_relation_and_the_reference() -> None:
    [claim] = ref_claims("Conversion has not reached its critical level yet")
    assert (claim.relation, claim.ref, claim.negated) == ("met", "critical", True)
    assert ref_claims("Aim to keep the refund rate under target") == []
    assert ref_claims("revenue over the target audience grew") == []


CHANGES = [{"kpis": [
    {"id": "net_revenue", "unit": "currency", "status": "CRITICAL", "value": "16017.93", "target": "5000",
     "anomaly": {"baseline": "22984.98", "weeks": 4, "sd_score": "-5.1", "change_pct": "-30.3"}},
    {"id": "conversion_rate", "unit": "percent", "status": "WARNING", "value": "0.0169", "target": "0.025",
     "anomaly": {"baseline": "0.0241", "weeks": 4, "sd_score": "-4.6", "change_pct": "-29.9"}},
]}]


@pytest.mark.parametrize(("text", "ok"), [
    ("Net revenue fell 30.3% against its baseline.", True),
    ("Net revenue is down 30.3% while conversion is down 29.9%.", True),
    ("Net revenue dropped 29.9%.", False),  # conversion's change said of a money KPI
    ("Conversion rate fell 30.3%.", False),
])
def test_a_change_in_percent_is_the_named_kpis_own(text: str, ok: bool) -> None:
    """Was: a percent change was checked against the KPI only when the KPI itself was a percent, so
    conversion's -29.9 % passed as net revenue's fall."""
    result = check_numbers(text, CHANGES)
    assert result.ok is ok, result.offending
