"""QA2: honest answers the guard refused, and a false one it showed. Each honest answer is checked
beside a false variant that must still be refused. Tool outputs have the shapes the chat tools emit
(agents/tools.py: ``kpi_statuses``, ``metric_series``, ``evidence``, ``weekly_review``) and the
demo's values."""

from __future__ import annotations

from typing import Any

import pytest

from chimera.llm.guard import check_numbers

# (id, status, value, target, warning, critical, unit, window, through) as ``kpi_statuses`` lists them
_KPI_ROWS = [
    ("net_revenue", "OK", "18220.33", "5000", "4000", "3000", "currency", "7d", "2026-11-29"),
    ("net_sales", "OK", "14660.70", "4200", "3400", "2500", "currency", "7d", "2026-11-29"),
    ("orders", "CRITICAL", "330", "100", "80", "60", "count", "7d", "2026-11-29"),
    ("aov", "OK", "44.43", "45", "38", "32", "currency", "7d", "2026-11-29"),
    ("sessions", "OK", "18387", "4000", "3000", "2000", "count", "7d", "2026-11-29"),
    ("conversion_rate", "CRITICAL", "0.017947", "0.025", "0.02", "0.015", "percent", "7d", "2026-11-29"),
    ("failed_payment_rate", "OK", "0.050505", "0.03", "0.06", "0.1", "percent", "7d", "2026-11-29"),
    ("cancellation_rate", "OK", "0.020772", "0.01", "0.03", "0.05", "percent", "7d", "2026-11-29"),
    ("repeat_purchase_rate", "CRITICAL", "0.142737", "0.25", "0.18", "0.12", "percent", "90d", "2026-11-29"),
    ("fiverr_completion_rate", "OK", "0.920000", "0.95", "0.9", "0.85", "percent", "60d", "2026-11-28"),
    ("fiverr_on_time_rate", "OK", "0.934783", "0.95", "0.9", "0.85", "percent", "60d", "2026-11-28"),
    ("fiverr_response_rate", "OK", "0.954545", "0.95", "0.9", "0.8", "percent", "90d", "2026-11-28"),
]
KPIS: list[dict[str, Any]] = [
    {"id": i, "status": st, "value": v, "target": t, "warning": w, "critical": c, "window": win,
     "data_through": through, "label": i.replace("_", " ").capitalize(), "unit": u}
    for i, st, v, t, w, c, u, win, through in _KPI_ROWS
]

EVIDENCE = [{
    "play": "pricing_test", "executed_on": "2026-10-21", "kpi": "net_revenue", "before": "3129.40",
    "after": "3155.01", "effect_pct": 0.82, "verdict": "confounded", "unit": "currency",
    "confounders": [
        {"kind": "driver_anomaly", "what": "conversion_rate", "first_day": "2026-11-14", "last_day": "2026-11-17",
         "days": 4, "note": "driver conversion_rate anomalously low on 4 day(s) 2026-11-14..2026-11-17"},
        {"kind": "driver_anomaly", "what": "refund_rate_amount", "first_day": "2026-10-04",
         "last_day": "2026-10-13", "days": 10,
         "note": "driver refund_rate_amount anomalously high on 10 day(s) 2026-10-04..2026-10-13"},
    ],
}]


def _shown(text: str, facts: list[Any]) -> bool:
    return check_numbers(text, facts).ok


# A1: a day range after a month name is two dates, each checked like any other date
@pytest.mark.parametrize("text", [
    "Conversion was anomalously low on 4 days (Nov 14–17).",
    "Conversion was anomalously low on 4 days (Nov 14-17).",
    "Refunds by amount were anomalously high on 10 days (Oct 4–13).",
    "Refunds by amount were anomalously high on 10 days (4–13 October).",
])
def test_a_day_range_after_a_month_is_dates(text: str) -> None:
    assert _shown(text, [EVIDENCE])


@pytest.mark.parametrize("text", [
    "Conversion was anomalously low on 4 days (Nov 14–18).",  # the range ends on another day
    "Conversion was anomalously low on 4 days (Nov 12-17).",
    "Conversion fell -17% (Nov 14).",  # a signed figure after a date is still a figure
])
def test_a_day_range_the_outputs_do_not_give_is_refused(text: str) -> None:
    assert not _shown(text, [EVIDENCE])


# A2: "everything else", "the rest", "apart from X", "except X" cover the KPIs the text has not named
@pytest.mark.parametrize("text", [
    "Three KPIs are CRITICAL: orders, conversion rate and repeat purchase rate. Everything else is OK.",
    "Orders, conversion rate and repeat purchase rate are CRITICAL; the rest are OK.",
    "Apart from orders, conversion rate and repeat purchase rate, all KPIs are OK.",
    "All KPIs are OK except orders, conversion rate and repeat purchase rate.",
    "Nothing is CRITICAL except orders, conversion and repeat purchase rate.",
])
def test_an_exception_leaves_the_named_kpis_out_of_all(text: str) -> None:
    assert _shown(text, [KPIS])


@pytest.mark.parametrize("text", [
    "Two KPIs are CRITICAL: orders and conversion rate. Everything else is OK.",  # repeat purchase left out
    "Apart from orders and conversion rate, all KPIs are OK.",
    "All KPIs are OK except orders and conversion rate.",
    "Orders are CRITICAL and everything else is OK.",
    "Nothing is CRITICAL except orders and conversion.",
    "All KPIs are OK.",
])
def test_an_exception_that_leaves_out_a_critical_kpi_is_refused(text: str) -> None:
    assert not _shown(text, [KPIS])


# A3: a figure right after "X is about" is said of X, even when X names no KPI the outputs know
def test_a_figure_after_an_unnamed_subject_is_not_pinned_to_a_later_kpi() -> None:
    assert _shown("On Fiverr, the completion rate is 92%, a little under the 95% target; on-time delivery is "
                  "about 93.5% and response rate about 95.5%.", [KPIS])


@pytest.mark.parametrize("text", [
    "On-time delivery is about 95.5% and response rate about 93.5%.",  # swapped
    "Response rate is about 93.5%.",
    "On-time delivery is about 93.5% and response rate is 93.5%.",  # the same figure read at each place
])
def test_a_figure_said_of_the_wrong_kpi_is_still_refused(text: str) -> None:
    assert not _shown(text, [KPIS])


# A4: a target quoted after a multiplier word is quoted as a target (its "1%" is not the tail of "2.1%")
@pytest.mark.parametrize("text", [
    "Cancellation rate is about 2.1%, roughly twice the 1% target, though still OK (warning starts at 3%).",
    "Cancellation rate is about 2.1%, roughly twice its 1% target.",
])
def test_a_target_after_a_multiplier_is_quoted_as_a_target(text: str) -> None:
    assert _shown(text, [KPIS])


@pytest.mark.parametrize("text", [
    "Cancellation rate is about 1%, roughly twice the 1% target.",  # the target said as the value
    "Cancellation rate is about 2.1%, roughly three times the 1% target.",  # the ratio is 2.08
])
def test_a_target_as_the_value_or_a_wrong_multiple_is_refused(text: str) -> None:
    assert not _shown(text, [KPIS])


# A5: with ``kpi_statuses`` beside a ``metric_series`` output ({day: value}), a day's value is a daily figure
SERIES = {"2026-11-17": "1899.41", "2026-11-21": "3245.76", "2026-11-28": "2975.41", "2026-11-29": "2904.27"}


@pytest.mark.parametrize("text", [
    "Revenue on Saturday, November 28 was $2,975.41.",
    "Daily net revenue ranged from about $1,899 on Nov 17 to $3,245.76 on Nov 21.",
])
def test_a_series_day_is_a_daily_figure_of_the_kpi(text: str) -> None:
    assert _shown(text, [KPIS, SERIES])


@pytest.mark.parametrize("text", [
    "Revenue on Saturday, November 28 was $2,975.00.",  # no day has it
    "Revenue on Saturday, November 28 was $2,975.41.",  # without the series nothing gives it
])
def test_a_daily_figure_no_series_gives_is_refused(text: str) -> None:
    facts = [KPIS, SERIES] if "2,975.00" in text else [KPIS]
    assert not _shown(text, facts)


# A6: "nothing in the review says stop" claims no advice of stop
REVIEW = {"as_of": "2026-11-29", "review": [{
    "play_run_id": "99ef1926c575", "play": "pricing_test", "executed_on": "2026-10-21", "status": "executed",
    "recommendation": "keep_watching", "action": "", "rule": 5, "advice": "keep watching",
    "label": "Price test on best sellers"}]}


@pytest.mark.parametrize("text", [
    "Nothing in the review says stop: pricing_test is the only play with evidence, and its advice is keep watching.",
    "No one in the review recommends reverting the price test.",
])
def test_a_negated_advice_is_no_claim_of_it(text: str) -> None:
    assert _shown(text, [REVIEW])


@pytest.mark.parametrize("text", [
    "Nothing in the review says continue, and the review says stop pricing_test.",
    "The review says stop: pricing_test is the only play with evidence.",
])
def test_advice_the_review_does_not_give_is_refused(text: str) -> None:
    assert not _shown(text, [REVIEW])


# F21: a named play's rank must be the rank SUGGEST gives it
SUGGEST = {"plays": [
    {"play_id": "checkout_friction_audit", "status": "suggested", "rank": 1, "reason": "conversion_rate is CRITICAL"},
    {"play_id": "winback_email", "status": "suggested", "rank": 2, "reason": "repeat_purchase_rate is CRITICAL"},
    {"play_id": "loyalty_nudge", "status": "suggested", "rank": 3, "reason": "repeat_purchase_rate is low"},
]}


@pytest.mark.parametrize("text", [
    "Checkout friction audit is the top suggestion.",
    "The top suggestion is the checkout friction audit, because conversion is CRITICAL.",
    "Ranked second, win-back email targets lapsed buyers.",
    "Win-back email is ranked #2 and loyalty nudge is ranked third.",
    "The checkout friction audit is the #1 suggestion; winback_email is rank 2.",
    "I'd recommend approving the checkout friction audit first.",
    "If win-back email were ranked first, it would go out today.",
])
def test_a_play_at_its_own_rank_is_shown(text: str) -> None:
    assert _shown(text, [SUGGEST])


@pytest.mark.parametrize("text", [
    "The top suggestion is win-back email, ranked #1.",
    "Win-back email is the highest-ranked suggestion.",
    "Loyalty nudge is ranked 2.",
    "The checkout friction audit is the second suggestion.",
    "Win-back email is #3 on the list.",
])
def test_a_play_at_another_rank_is_refused(text: str) -> None:
    assert not _shown(text, [SUGGEST])


# F8: a series' day value said of a named day must be that day's value
WEEK = {"2026-11-16": "2514.29", "2026-11-17": "1899.41", "2026-11-21": "3245.76", "2026-11-23": "2153.63",
        "2026-11-24": "2252.38", "2026-11-28": "2975.41", "2026-11-29": "2904.27"}


@pytest.mark.parametrize("text", [
    "Revenue peaked at $3,245.76.",  # no day named: any day's value
    "Revenue peaked on Saturday, November 21 at $3,245.76.",
    "Revenue peaked last Tuesday at $2,252.38.",
    "Yesterday (Nov 29) revenue was $2,904.27, a little below Saturday's $2,975.41.",
    "Since Monday (Nov 23) daily revenue has mostly climbed, from $2,153.63 to $2,904.27 on Sunday.",
    "Between Nov 17 and Nov 24 revenue peaked at $3,245.76.",
    "Revenue last Tuesday was far below the $18,220.33 of the week.",  # a KPI's figure, no series day
])
def test_a_series_value_of_the_day_named_is_shown(text: str) -> None:
    assert _shown(text, [KPIS, WEEK])


@pytest.mark.parametrize("text", [
    "Revenue peaked last Tuesday at $3,245.76.",
    "Yesterday revenue was $3,245.76.",  # yesterday: Nov 28 or 29 (data through today or yesterday)
    "On Nov 17 revenue was $2,514.29.",
    "Revenue on Monday, November 23 was $2,252.38.",
])
def test_a_series_value_of_another_day_is_refused(text: str) -> None:
    assert not _shown(text, [KPIS, WEEK])
