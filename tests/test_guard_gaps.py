"""The guard's QA gaps: a KPI's target said as its value, a figure said of "refunds" that belongs to
another KPI, a weekday or relative day no date in the tool outputs backs, and a multiplier of a
named figure ("3x the target", "half of last week") the values do not give. Each refusal is checked
beside honest answers that must still be shown (a target quoted as a target, the right weekday, a
multiplier computed right)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from chimera.llm.fake import ScriptedChatModel
from chimera.llm.guard import check_numbers, guarded_narrative


def _kpi(kpi: str, unit: str, status: str, value: str, target: str, baseline: str, previous: str,
         warning: str = "", direction: str = "higher_is_better") -> dict[str, Any]:
    """One KPI as EVALUATE_KPIS stores it (the shape the cycle's guard reads)."""
    return {"id": kpi, "label": kpi.replace("_", " ").capitalize(), "unit": unit, "direction": direction,
            "status": status, "value": value, "target": target, "warning": warning or None, "window": "7d",
            "data_through": "2026-04-26", "anomaly": {"level": status, "baseline": baseline, "weeks": 4},
            "previous_value": previous}


# the week of Monday 2026-04-20 to Sunday 2026-04-26, as the cycle's EVALUATE_KPIS result carries it
EVALUATE = {"as_of": "2026-04-26", "kpis": [
    _kpi("net_revenue", "currency", "OK", "18220.33", "5000", "21161.43", "17849.46", warning="4000"),
    _kpi("orders", "count", "CRITICAL", "330", "100", "460.50", "347", warning="80"),
    _kpi("sessions", "count", "OK", "18387", "4000", "18839", "18934"),
    _kpi("aov", "currency", "OK", "55.21", "50", "52.40", "51.44"),
    _kpi("conversion_rate", "percent", "CRITICAL", "0.017947", "0.025", "0.023901", "0.018327", warning="0.02"),
    _kpi("repeat_purchase_rate", "percent", "CRITICAL", "0.1427", "0.25", "0.2473", "0.2100"),
    _kpi("failed_payment_rate", "percent", "OK", "0.050505", "0.06", "0.031778", "0.025890",
         direction="lower_is_better"),
    _kpi("refund_rate_orders", "percent", "WARNING", "0.0412", "0.03", "0.0281", "0.0350",
         direction="lower_is_better") | {"label": "Refund rate (orders)"},
    _kpi("refund_rate_amount", "percent", "OK", "0.0287", "0.03", "0.0264", "0.0301",
         direction="lower_is_better") | {"label": "Refund rate (amount)"},
]}
# the chat's metric_series("refunded_amount") over that week: one value per day, no metric name
REFUNDED_SERIES = {"2026-04-20": "51.10", "2026-04-21": "48.00", "2026-04-22": "39.90", "2026-04-23": "61.75",
                   "2026-04-24": "70.30", "2026-04-25": "142.50", "2026-04-26": "64.00"}
# the week before (Monday 13 to Sunday 19): its Saturday is 2026-04-18
EARLIER_SERIES = {"2026-04-13": "44.00", "2026-04-14": "52.25", "2026-04-15": "47.10", "2026-04-16": "58.00",
                  "2026-04-17": "66.40", "2026-04-18": "120.00", "2026-04-19": "71.30"}
# the compact facts a job narrative's prompt carries: the target only in the note's prose
COMPACT = json.dumps({"kpis": [
    {"id": "net_revenue", "unit": "currency", "status": "OK", "value": "16017.93",
     "note": "net_revenue 16,017.93 over 7d to 2026-04-26, at or above target 5,000.00; 5.1 sd below its "
             "4-week baseline 22,984.98 (-30.3%)"},
    {"id": "orders", "unit": "count", "status": "CRITICAL", "value": "42",
     "note": "orders 42 over 7d to 2026-04-26, below critical 60; 5.8 sd below its 4-week baseline 433.5 (-32.9%)"},
]})


def _refused(text: str, facts: list[Any]) -> list[str]:
    verdict = check_numbers(text, facts)
    assert not verdict.ok, f"{text!r} passed the guard"
    return verdict.offending


def _passes(text: str, facts: list[Any]) -> None:
    verdict = check_numbers(text, facts)
    assert verdict.ok, f"{text!r} refused: {verdict.offending}"


def _shown(text: str, facts: list[Any]) -> bool:
    """Whether a narrative would show ``text`` as the model's (same reply twice: no correction helps)."""
    model = ScriptedChatModel(responses=[AIMessage(content=text), AIMessage(content=text)])
    return guarded_narrative(model, [HumanMessage("x")], facts, "OFFLINE").source == "model"


# -- 1: a target said as the current value ---------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Net revenue was $5,000 this week.",
    "Revenue came in at $5,000.00 for the week.",
    "You made $5k in net revenue this week.",
    "This week brought in $5,000 of revenue, so the store is healthy.",
    "Orders: 100 this week.",
    "You had 4,000 sessions this week.",
    "Conversion rate stands at 2.5%.",
    "Orders were 80, so the alert fired.",  # the warning threshold said as the value
    "You made $5,000 this week.",  # no KPI named: $5,000 is only ever a target
])
def test_a_target_or_threshold_said_as_the_value_is_refused(text: str) -> None:
    offending = _refused(text, [EVALUATE])
    assert any("target" in o or "threshold" in o for o in offending), offending
    assert not _shown(text, [EVALUATE])


@pytest.mark.parametrize("text", [
    "Net revenue is $18,220.33, well above the $5,000 target.",
    "Net revenue ($18,220.33) cleared its target of $5,000.",
    "The weekly target for net revenue is $5,000; you made $18,220.33.",
    "Orders (330) beat the target of 100 but sit below the 4-week baseline of 460.5.",
    "Conversion is 1.79% against a 2.5% goal.",
    "Conversion at 1.79% is below its 2.5% target and under the 2% warning threshold.",
    "Your revenue goal is $5,000 a week.",
    "Sessions came to 18,387 versus 4,000 targeted.",
])
def test_a_target_quoted_as_a_target_is_shown(text: str) -> None:
    _passes(text, [EVALUATE])
    assert _shown(text, [EVALUATE])


def test_a_target_in_a_notes_prose_is_a_target_too() -> None:
    _refused("Net revenue was $5,000 this week.", [COMPACT])
    _refused("Orders came in at 60.", [COMPACT])  # the critical threshold
    _passes("Net revenue is $16,017.93, comfortably above the $5,000 target.", [COMPACT])
    _passes("Orders are 42, below the critical line of 60.", [COMPACT])


def test_a_value_equal_to_its_target_may_be_said_as_the_value() -> None:
    on_target = {"kpis": [{"id": "orders", "unit": "count", "status": "OK", "value": "100", "target": "100"}]}
    _passes("Orders were 100 this week, right on target.", [on_target])
    _passes("You had 100 orders.", [on_target])


# -- 2: "refunds" names two KPIs --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Refunds were 14.27% of orders this week.",  # repeat purchase rate
    "Refunds ran at 1.79%.",  # conversion rate
    "The refund rate was 5.05%.",  # failed payment rate
    "Refunds cost you $55.21 this week.",  # AOV: no refund amount at all
    "Refunds came to $18,220.33.",  # net revenue
    "Refunds rose to 3.0%.",  # the refund target, said as the value ("3%" would round from 2.87%)
])
def test_a_figure_said_of_refunds_that_is_another_kpis_is_refused(text: str) -> None:
    _refused(text, [EVALUATE])
    assert not _shown(text, [EVALUATE])


@pytest.mark.parametrize("text", [
    "Refunds were 4.12% of orders and 2.87% of sales.",
    "Refunds ran at 4.1% of orders, above the 3% target.",
    "By amount, refunds were 2.9% of sales.",
    "The refund rate is 4.12%, up from 3.5% last week.",
    "Refunds are at WARNING (4.12% of orders).",
])
def test_a_refund_figure_of_either_refund_kpi_is_shown(text: str) -> None:
    _passes(text, [EVALUATE])


def test_money_said_of_refunds_must_be_a_refund_amount() -> None:
    with_amount = [EVALUATE, {"metrics": {"refunded_amount": "477.55", "refunded_orders": 14}}]
    _passes("Refunds cost you $477.55 this week, 2.87% of sales.", with_amount)
    _passes("14 refunds this week, $477.55 in all.", with_amount)
    _refused("Refunds cost you $55.21 this week.", with_amount)
    # a day of the refunded-amount series (the series names no metric) may be quoted
    _passes("Refunds peaked at $142.50 on Saturday, April 25.", [EVALUATE, REFUNDED_SERIES])


def test_a_refund_status_is_one_of_the_refund_kpis() -> None:
    _refused("Refunds are CRITICAL this week.", [EVALUATE])
    _passes("The refund rate is at WARNING.", [EVALUATE])


# -- 3: weekdays and relative days ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "facts"), [
    ("Refunds spiked last Saturday.", [EVALUATE]),  # the KPIs carry one day: Sunday 2026-04-26
    ("Revenue dipped on Saturday.", [EVALUATE]),
    ("Saturday's refunds were the worst of the week.", [EVALUATE]),
    ("Refunds peaked at $142.50 on Friday, April 25.", [EVALUATE, REFUNDED_SERIES]),  # April 25 is a Saturday
    ("Refunds peaked at $142.50 on 2026-04-25 (a Friday).", [EVALUATE, REFUNDED_SERIES]),
    ("On Thursday 2026-04-25 refunds reached $142.50.", [EVALUATE, REFUNDED_SERIES]),
    ("Last Saturday refunds reached $120.00.", [EVALUATE, EARLIER_SERIES]),  # that is the Saturday before
    ("Refunds reached $64.00 two days ago.", [EVALUATE]),
    ("Refunds were $64.00 3 days ago.", [EVALUATE]),
    ("Yesterday refunds jumped.", [{"net_revenue": "18220.33"}]),  # no day at all in the outputs
    ("Orders dropped on Wednesday.", [{"kpis": EVALUATE["kpis"]}, {"2026-04-25": "142.50", "2026-04-26": "64.00"}]),
])
def test_a_weekday_or_relative_day_the_dates_do_not_back_is_refused(text: str, facts: list[Any]) -> None:
    _refused(text, facts)
    assert not _shown(text, facts)


@pytest.mark.parametrize(("text", "facts"), [
    ("Refunds peaked at $142.50 on Saturday, April 25.", [EVALUATE, REFUNDED_SERIES]),
    ("Last Saturday refunds reached $142.50, the highest day of the week.", [EVALUATE, REFUNDED_SERIES]),
    ("On Saturday (2026-04-25) refunds were $142.50; on Sunday they were $64.00.", [EVALUATE, REFUNDED_SERIES]),
    ("Refunds were $64.00 yesterday (Sunday, 26 April).", [EVALUATE, REFUNDED_SERIES]),
    ("Refunds were $142.50 the day before yesterday.", [EVALUATE, REFUNDED_SERIES]),
    ("Refunds were $70.30 3 days ago.", [EVALUATE, REFUNDED_SERIES]),
    ("The data runs through Sunday, 2026-04-26.", [EVALUATE]),
    ("The week ended on Sunday with net revenue at $18,220.33.", [EVALUATE]),
    ("Send the win-back email next Monday.", [EVALUATE]),
    ("I would review refunds again on Monday.", [EVALUATE]),
    ("Orders tend to be higher on Saturdays.", [EVALUATE]),
    ("Black Friday is months away; conversion is 1.79% now.", [EVALUATE]),
])
def test_a_weekday_the_dates_back_or_advice_is_shown(text: str, facts: list[Any]) -> None:
    _passes(text, facts)


def test_a_weekday_named_in_the_outputs_prose_may_be_repeated() -> None:
    note = {"note": "refunds spiked last Saturday after the courier delay", "as_of": "2026-04-26"}
    _passes("Refunds spiked last Saturday, after the courier delay.", [note])


# -- 4: multipliers of a named figure -----------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Net revenue is 3x the target.",  # 18,220.33 / 5,000 = 3.64
    "Net revenue came in at twice its $5,000 target.",
    "Orders are at 5 times the target.",  # 3.3
    "Sessions were double last week.",  # 18,387 / 18,934
    "Orders were half of last week.",  # 330 / 347
    "Conversion is half the target.",  # 0.72
    "Net revenue is 1.5x the 4-week baseline.",  # 0.86
    "Orders ran at three times the warning threshold.",  # 330 / 80 = 4.1
])
def test_a_multiplier_of_a_named_figure_the_values_do_not_give_is_refused(text: str) -> None:
    _refused(text, [EVALUATE])
    assert not _shown(text, [EVALUATE])


@pytest.mark.parametrize("text", [
    "Net revenue is 3.6x the $5,000 target.",
    "Net revenue is more than three times the target.",
    "Net revenue is almost 4x its target.",
    "Orders are 3.3 times the target of 100.",
    "Sessions are roughly 4.6x their target.",
    "Conversion is about 72% of its target.",
    "Orders are at about 72% of their 4-week baseline.",
    "Orders are over four times the warning threshold.",
])
def test_a_multiplier_computed_from_the_values_is_shown(text: str) -> None:
    _passes(text, [EVALUATE])
    assert _shown(text, [EVALUATE])


def test_half_or_twice_last_week_holds_when_the_values_say_so() -> None:
    halved = {"kpis": [{"id": "orders", "unit": "count", "status": "CRITICAL", "value": "330",
                        "previous_value": "660", "target": "100"}]}
    _passes("Orders were half of last week.", [halved])
    _refused("Orders were twice last week.", [halved])
    _refused("Orders are 2x the target.", [halved])


def test_a_multiplier_of_a_figure_the_outputs_lack_is_refused() -> None:
    no_target = {"kpis": [{"id": "orders", "unit": "count", "status": "OK", "value": "330"}]}
    _refused("Orders are 3x the target.", [no_target])


# -- honest answers around the new checks ------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "This week (Monday to Sunday) net revenue was $18,220.33.",
    "The refund alert fired twice last week.",
    "| KPI | value | target |\n|---|---|---|\n| Net revenue | $18,220.33 | $5,000 |\n| Orders | 330 | 100 |",
    "Orders fell from 460.5, their 4-week baseline, to 330.",
    "Net revenue: $18,220.33; $5,000 (the target) was passed early in the week.",
])
def test_honest_answers_near_the_new_checks_are_shown(text: str) -> None:
    _passes(text, [EVALUATE])


def test_a_table_column_says_which_figure_is_the_target() -> None:
    swapped = "| KPI | value | target |\n|---|---|---|\n| Net revenue | $5,000 | $18,220.33 |"
    offending = _refused(swapped, [EVALUATE])
    assert any("$5,000" in o and "target" in o for o in offending), offending


def test_a_status_word_before_a_number_in_a_note_is_no_threshold() -> None:
    """ "CRITICAL for 1 day (needs 2)": the 1 is a count of days, not the critical threshold."""
    note = {"kpis": [{"id": "net_sales", "unit": "currency", "status": "WARNING", "value": "12966.07",
                      "note": "net_sales 12,966.07 over 7d to 2026-04-26, CRITICAL for 1 day (needs 2)"}]}
    _passes("Net sales have been CRITICAL for 1 day; the status needs 2 to change.", [note])
