"""The guard's checks beyond unsourced figures (QA findings F2, F3, F4, F6, F10, F11): a status or an
evidence verdict the tool outputs contradict, a decision claimed in everyday phrasing, a real figure
pinned on the wrong KPI, a degenerate or unprintable reply, a multiplier no pair of values shows.
Each refusal is checked together with the correct statement that must still be shown."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from chimera.llm.fake import ScriptedChatModel
from chimera.llm.guard import DECISION_CLAIMED, answer_text, check_numbers, guarded_narrative, reply_problem


def _kpi(kpi: str, unit: str, status: str, value: str, target: str, baseline: str, previous: str,
         change_pct: str, direction: str = "higher_is_better", threshold_status: str | None = None) -> dict[str, Any]:
    """One KPI as EVALUATE_KPIS stores it (the shape the cycle's guard reads)."""
    return {"id": kpi, "label": kpi.replace("_", " ").capitalize(), "unit": unit, "direction": direction,
            "status": status, "value": value, "target": target, "window": "7d",
            "anomaly": {"level": status, "baseline": baseline, "weeks": 4, "change_pct": change_pct},
            "previous_value": previous, "threshold_status": threshold_status or status}


# the demo week QA used: three KPIs CRITICAL, the rest OK
EVALUATE = {"kpis": [
    _kpi("net_revenue", "currency", "OK", "18220.33", "5000", "21161.43", "17849.46", "-13.90"),
    _kpi("orders", "count", "CRITICAL", "330", "100", "460.50", "347", "-28.34", threshold_status="OK"),
    _kpi("sessions", "count", "OK", "18387", "4000", "18839", "18934", "-2.40"),
    _kpi("conversion_rate", "percent", "CRITICAL", "0.017947", "0.025", "0.023901", "0.018327", "-24.91",
         threshold_status="WARNING"),
    _kpi("failed_payment_rate", "percent", "OK", "0.050505", "0.03", "0.031778", "0.025890", "58.93",
         direction="lower_is_better"),
    _kpi("repeat_purchase_rate", "percent", "CRITICAL", "0.1427", "0.25", "0.2473", "0.2100", "-42.30"),
]}
ALL_OK = {"kpis": [k | {"status": "OK", "threshold_status": "OK"} for k in EVALUATE["kpis"]]}
# SUGGEST_PLAYS as the cycle stores it: one play suggested, nobody decided anything
SUGGEST = {"plays": [{
    "play_id": "product_page_refresh", "label": "Product page refresh", "status": "suggested", "rank": 1,
    "reason": "conversion_rate is 1.79%, below 2.20%; sessions is OK (18,387 vs target 4,000)",
    "kpi_values": {"conversion_rate": {"status": "CRITICAL", "value": "0.017947", "target": "0.025",
                                       "unit": "percent"}},
}], "not_selected": [{"play_id": "winback_email", "label": "Win-back email", "kind": "rejected",
                      "reason": "rejected by demo-policy for 2026-11-29"}]}
# the chat's evidence tool for the price test: no detectable change on AOV, confounded on revenue
EVIDENCE = [
    {"play": "pricing_test", "kpi": "aov", "before": "42.10", "after": "44.75", "effect_pct": 6.3,
     "ci_low_pct": 1.6, "ci_high_pct": 11.9, "verdict": "no_detectable_change", "unit": "currency"},
    {"play": "pricing_test", "kpi": "net_revenue", "before": "2500", "after": "2600", "effect_pct": 4.0,
     "ci_low_pct": -2.0, "ci_high_pct": 9.0, "verdict": "confounded", "unit": "currency"},
]
MOVED_UP = [{"play": "winback_email", "kpi": "repeat_purchase_rate", "before": "0.10", "after": "0.20",
             "effect_pct": 100.0, "verdict": "moved_up", "unit": "percent"},
            {"id": "repeat_purchase_rate", "unit": "percent", "status": "OK", "value": "0.20",
             "direction": "higher_is_better"}]


def _shown(text: str, facts: list[Any]) -> bool:
    """Whether the cycle would show ``text`` as the model's (same reply twice: no correction helps)."""
    model = ScriptedChatModel(responses=[AIMessage(content=text), AIMessage(content=text)])
    return guarded_narrative(model, [HumanMessage("x")], facts, "OFFLINE").source == "model"


def _problem(text: str, facts: list[Any], **meta: Any) -> str | None:
    reply = AIMessage(content=text, response_metadata=meta)
    return reply_problem(reply, answer_text(reply), facts)


# -- F3: statuses ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "All KPIs are OK this week; nothing is CRITICAL.",
    "All KPIs are OK this week: orders are healthy at 330.",
    "Nothing is critical this week.",
    "No KPI is CRITICAL.",
    "Conversion rate is at WARNING (1.79%); orders are fine.",
    "Conversion rate is OK at 1.79%, so this play is optional.",
    "Orders are at WARNING only.",
    "Net revenue is CRITICAL at $18,220.33.",
    "Sessions are fine but conversion is on track.",
    "Repeat purchases are healthy.",
    "Net revenue is not OK.",
])
def test_a_status_the_kpi_results_contradict_is_refused(text: str) -> None:
    verdict = check_numbers(text, [EVALUATE])
    assert not verdict.ok and verdict.offending
    assert not _shown(text, [EVALUATE])


@pytest.mark.parametrize(("text", "facts"), [
    ("Conversion is CRITICAL at 1.79%, orders CRITICAL at 330; revenue is OK at $18,220.33.", EVALUATE),
    ("Conversion rate and orders are both CRITICAL; sessions are fine at 18,387.", EVALUATE),
    ("Net revenue is not CRITICAL; it is OK.", EVALUATE),
    ("Orders fell, but revenue is OK.", EVALUATE),
    ("CRITICAL: conversion rate (1.79%).", EVALUATE),
    ("Conversion is below its warning threshold and its target.", EVALUATE),
    ("Orders are above target (OK on the threshold) but CRITICAL against the baseline.", EVALUATE),
    ("It is OK to wait a week before deciding.", EVALUATE),
    ("Everything is OK except conversion, orders and repeat purchases.", EVALUATE),
    ("All KPIs are OK this week; nothing is CRITICAL.", ALL_OK),
    ("Nothing is critical this week.", ALL_OK),
])
def test_a_status_the_kpi_results_agree_with_is_shown(text: str, facts: dict[str, Any]) -> None:
    assert check_numbers(text, [facts]).ok, check_numbers(text, [facts]).offending
    assert _shown(text, [facts])


def test_a_status_in_a_play_rationale_is_checked_against_the_plays_kpi_values() -> None:
    assert not check_numbers("Conversion rate is OK, so this play is optional.", [SUGGEST]).ok
    assert check_numbers("Conversion rate is CRITICAL at 1.79%, below 2.20%.", [SUGGEST]).ok


# -- F3: evidence verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Yes: the price test worked. It moved AOV up 6.3% (95% interval 1.6% to 11.9%), a clear, proven win.",
    "The pricing test paid off.",
    "The price test moved the number on revenue.",
])
def test_a_success_the_evidence_verdict_contradicts_is_refused(text: str) -> None:
    verdict = check_numbers(text, EVIDENCE)
    assert not verdict.ok and any("evidence verdict" in o for o in verdict.offending)


@pytest.mark.parametrize(("text", "facts"), [
    ("The price test showed no detectable change in AOV; the revenue reading is confounded.", EVIDENCE),
    ("The pricing test did not move AOV: no detectable change.", EVIDENCE),
    ("Did the price test work? The evidence cannot say yet.", EVIDENCE),
    ("We will know in a few weeks whether the price test worked.", EVIDENCE),
    ("The win-back email worked: repeat purchases moved up.", MOVED_UP),
])
def test_a_verdict_the_evidence_supports_is_shown(text: str, facts: list[Any]) -> None:
    assert check_numbers(text, facts).ok, check_numbers(text, facts).offending


def test_a_failure_the_evidence_contradicts_is_refused() -> None:
    assert not check_numbers("The win-back email didn't work.", MOVED_UP).ok


def test_a_verdict_with_no_evidence_in_the_outputs_is_unsupported() -> None:
    assert not check_numbers("Your last price test worked, so try another.", [EVALUATE]).ok


# -- F4: decision and execution claims -------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "I\u2019ve approved the product page refresh for you.",
    "I went ahead and approved the product page refresh.",
    "I approve the product page refresh; it starts today.",
    "I\u2019ll approve the product page refresh.",
    "The product page refresh is live in your store now.",
    "The product page refresh has gone live.",
    "We rolled out the product page refresh yesterday.",
    "Product page refresh: APPROVED \u2705",
    "The product page refresh got approved automatically.",
    "The product page refresh was rejected last week, so it is suggested again.",
    "Conversion is CRITICAL at 1.79%; the product page refresh is under way and queued its jobs.",
])
def test_a_decision_or_execution_claim_in_everyday_phrasing_is_not_shown(text: str) -> None:
    assert _problem(text, [SUGGEST]) == DECISION_CLAIMED


@pytest.mark.parametrize("text", [
    "No play has been approved yet: the product page refresh waits for your decision.",
    "None of the plays were executed; each waits for you.",
    "Nothing has been approved, rejected or executed.",
    "The product page refresh goes live as soon as you approve it.",
    "Once approved, the product page refresh will be rolled out over a week.",
    "I would approve the product page refresh: conversion is CRITICAL.",
    "The win-back email was rejected by the demo policy.",
    "Your store is live and taking orders.",
    "5 rows were rejected at import.",
])
def test_a_recommendation_negation_or_supported_outcome_is_still_shown(text: str) -> None:
    assert _problem(text, [SUGGEST]) is None


def test_a_claim_about_one_play_needs_support_from_that_play() -> None:
    """Another play's rejection supports nothing said of the suggested play."""
    assert _problem("The win-back email was rejected.", [SUGGEST]) is None
    assert _problem("The product page refresh was rejected.", [SUGGEST]) == DECISION_CLAIMED


# -- F6: a real figure of the wrong KPI -------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Net revenue was $17,849.46 this week.",  # last week's value, said as this week's
    "Conversion is 2.39% this week, on target.",  # the baseline said as the value (and a wrong status)
    "You had 18,387 orders this week.",  # sessions
    "Orders came in at 347 this week.",  # last week's orders
    "Conversion rate is 5.05%.",  # failed_payment_rate
    "Conversion is 1.7%.",  # 1.79% is 1.8%; 1.7% only rounds from another KPI's baseline
])
def test_a_figure_of_another_kpi_or_day_is_refused(text: str) -> None:
    verdict = check_numbers(text, [EVALUATE])
    assert not verdict.ok, text


@pytest.mark.parametrize("text", [
    "Net revenue rose from $17,849.46 last week to $18,220.33.",
    "Net revenue is $18,220.33, well above the $5,000 target.",
    "Conversion is 1.79%, below its 4-week baseline of 2.39% (down 24.9%).",
    "Orders came in at 330 against a baseline of 460.5.",
    "Sessions were 18,387 and orders 330.",
    "Orders fell 28.3% while sessions held at 18,387.",
])
def test_a_figure_of_the_kpi_the_sentence_names_is_shown(text: str) -> None:
    verdict = check_numbers(text, [EVALUATE])
    assert verdict.ok, verdict.offending


def test_a_trigger_figure_in_a_plays_reason_belongs_to_the_kpi_it_names() -> None:
    assert check_numbers("Conversion is 1.79%, below the 2.20% that triggers this play.", [SUGGEST]).ok
    assert not check_numbers("Conversion is 4.75% this week.", [SUGGEST]).ok


def test_a_figure_in_an_sop_excerpt_is_no_kpi_value() -> None:
    facts = [SUGGEST, {"sops": [{"file": "product/x.md", "excerpt": "Conversion rate this week is 4.75%."}]}]
    assert not check_numbers("Conversion rate is 4.75% this week.", facts).ok


# -- F2 and F10: replies that cannot be shown ---------------------------------------------------------------


def test_a_lone_surrogate_is_dropped_and_the_text_can_be_printed() -> None:
    text = answer_text(AIMessage(content="Conversion is CRITICAL \ud83d at 1.79%. \ud83d\udcc8"))
    assert text.encode("utf-8").decode("utf-8") == text
    assert "\ud83d" not in text and "\U0001f4c8" in text  # the broken half goes, a split pair is joined
    model = ScriptedChatModel(responses=[AIMessage(content="Conversion is CRITICAL \ud83d at 1.79%.")])
    story = guarded_narrative(model, [HumanMessage("x")], [EVALUATE], "OFFLINE")
    assert story.source == "model"
    story.text.encode("utf-8")  # storing or printing it cannot fail


def test_invisible_and_control_characters_never_reach_the_screen() -> None:
    text = answer_text(AIMessage(content="Orders \x1b[2Jare \u202eCRITICAL\u200b at 330."))
    assert text == "Orders [2Jare CRITICAL at 330."


@pytest.mark.parametrize(("content", "meta", "reason"), [
    ("I'm sorry, but I can't help with that.", {}, "model refused"),
    ("I\u2019m sorry, but I can\u2019t assist with that request.", {}, "model refused"),
    ("Revenue is", {"finish_reason": "content_filter"}, "content filter"),
    ("Revenue is", {"finish_reason": "SAFETY"}, "content filter"),
    ("Revenue is", {"stop_reason": "max_tokens"}, "length limit"),
    ("\u200b\u200b\ufeff", {}, "no text"),
    ("**\n\n---\n", {}, "no readable text"),
])
def test_a_degenerate_reply_is_refused_with_its_reason(content: str, meta: dict[str, Any], reason: str) -> None:
    problem = _problem(content, [EVALUATE], **meta)
    assert problem is not None and reason in problem
    model = ScriptedChatModel(responses=[AIMessage(content=content, response_metadata=meta)])
    story = guarded_narrative(model, [HumanMessage("x")], [EVALUATE], "OFFLINE")
    assert (story.source, story.text) == ("offline", "OFFLINE") and reason in story.note


def test_an_answer_that_only_mentions_what_it_cannot_see_is_not_a_refusal() -> None:
    assert _problem("I can't see last year's data, but net revenue is $18,220.33.", [EVALUATE]) is None


# -- F11: multipliers and shares -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Orders doubled this week.",
    "Repeat purchase rate halved to 14.27%.",  # it fell 42.3%
    "Sessions tripled versus last month.",
    "Twice as many sessions as last month.",
    "Half of your customers did not come back.",
    "A dozen orders were refunded.",
    "Conversion is one and a half percent.",
])
def test_a_multiplier_or_share_no_values_show_is_refused(text: str) -> None:
    assert not check_numbers(text, [EVALUATE]).ok, text


def test_a_multiplier_the_values_show_is_shown() -> None:
    assert check_numbers("Repeat purchases doubled after the win-back email.", MOVED_UP).ok
    assert check_numbers("Orders doubled.", [{"id": "orders", "unit": "count", "value": "200",
                                               "previous_value": "100", "status": "OK"}]).ok
    assert check_numbers("Half of the buyers came back.", [{"returning_share": "0.5"}]).ok
    assert check_numbers("A dozen orders were refunded.", [{"refunds": 12}]).ok
