"""The truth guard reads a figure's unit and direction: a percent needs a rate, money needs money,
a count needs a count, and "down 12.4%" needs a change that went down. Tool outputs are the ones
the tools really emit (KPI JSON with its unit, notes, play explanations)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chimera.llm.guard import check_numbers

# as `kpi_statuses` and the EVALUATE_KPIS result emit them (numbers as strings, unit beside them)
NET_REVENUE = {
    "id": "net_revenue", "status": "CRITICAL", "value": "16017.93", "target": "5000", "warning": "4000",
    "critical": "3000", "window": "7d", "data_through": "2026-04-26",
    "note": "net_revenue 16,017.93 over 7d to 2026-04-26, at or above target 5,000.00; 5.1 sd below its "
            "4-week baseline 22,984.98 (-30.3%)",
    "anomaly": {"flagged": True, "level": "CRITICAL", "baseline": "22984.98", "weeks": 4, "sd_score": "-5.07",
                "change_pct": "-30.31"},
    "previous_value": "22723.40", "label": "Net revenue (weekly)", "unit": "currency",
}
ORDERS = {
    "id": "orders", "status": "CRITICAL", "value": "42", "target": "100", "warning": "80", "critical": "60",
    "window": "7d", "data_through": "2026-04-26",
    "note": "orders 42 over 7d to 2026-04-26, below critical 60; 5.8 sd below its 4-week baseline 433.5 (-32.9%)",
    "anomaly": {"baseline": "433.50", "weeks": 4, "sd_score": "-5.80", "change_pct": "-32.87"},
    "label": "Orders (weekly)", "unit": "count",
}
CONVERSION = {
    "id": "conversion_rate", "status": "CRITICAL", "value": "0.017912", "target": "0.025", "warning": "0.02",
    "critical": "0.015", "window": "7d", "data_through": "2026-04-26",
    "note": "conversion_rate 1.79% over 7d to 2026-04-26, below warning 2.00%; 6.1 sd below its 4-week "
            "baseline 2.31% (+12.4%)",
    "anomaly": {"baseline": "0.0231", "weeks": 4, "sd_score": "-6.1", "change_pct": "12.4"},
    "label": "Conversion rate", "unit": "percent",
}
KPIS = [NET_REVENUE, ORDERS, CONVERSION]
PLAY = {"play": {"play_id": "winback_email", "reason": "orders changed -17.7% over 14d (< -10%)",
                 "kpi_values": {"orders": {"status": "CRITICAL", "value": "291", "unit": "count"},
                                "repeat_purchase_rate": {"value": "0.216330", "unit": "percent"}},
                 "why_rank": "impact 3, effort 2, CRITICAL orders, financial"}}


def _ok(text: str, outputs: list | None = None) -> bool:
    return check_numbers(text, KPIS if outputs is None else outputs).ok


# -- units --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Conversion is 42%.",  # 42 orders exist, no 42% anywhere
    "Conversion is 42 percent.",
    "Conversion is forty-two percent.",
    "Revenue was $42.",  # a count is no amount of money
    "Orders were 16,018%.",  # money is no percent
    "Orders rose 5.8%.",  # an sd score is no percent
    "Refunds were 4%.",  # "4-week" and "weeks": 4 are counts
])
def test_a_figure_in_the_wrong_unit_is_refused(text: str) -> None:
    assert not _ok(text, [*KPIS, PLAY]), f"{text!r} passed the guard"


def test_numbers_in_tool_prose_keep_their_unit() -> None:
    """ "impact 3" in a rank explanation is a count; "(-17.7%)" a percent; "291" under a count KPI a count."""
    assert not _ok("About 3% of buyers came back.", [PLAY])
    assert not _ok("Revenue was $291.", [PLAY])
    assert _ok("Impact 3, effort 2; 291 orders; orders changed 17.7%.", [PLAY])


@pytest.mark.parametrize("sop", [
    "Test a price 5-10% higher.", "Test a price 5 to 10 percent higher.", "Test a price 5–10 % higher.",
    "Test a price between 5 and 10% higher.",
])
def test_a_percent_range_in_tool_prose_sources_both_ends(sop: str) -> None:
    assert check_numbers("The SOP says to test a price 5% to 10% higher.", [{"excerpt": sop}]).ok


@pytest.mark.parametrize("text", [
    "Net revenue was $16,017.93 (about $16k, 16,018 or 16.0k), down 30.3% on the 4-week baseline "
    "of $22,984.98; 5.1 sd below it.",
    "We had 42 orders over 7 days (forty-two), below the critical 60; the baseline was 433.5.",
    "Conversion was 1.79% (1.8%, about 2%), below the 2% warning and the 2.5% target, up 12.4%.",
    "Conversion was 0.0179 as a fraction, 1.79 percent.",
    "Orders changed -17.7% over 14 days, past the -10% trigger; repeat purchases at 21.63%.",
    "Net revenue: USD 16,017.93, or 16,017.93 dollars.",
])
def test_sourced_figures_in_their_own_unit_pass(text: str) -> None:
    assert check_numbers(text, [*KPIS, PLAY]).offending == []


def test_a_value_whose_unit_is_unknown_still_sources_any_unit() -> None:
    """Tools that give no unit (a metric series, a bare number) keep the old reading: conservative."""
    series = {"2026-04-20": "45", "2026-04-21": "44"}
    assert _ok("45 orders, or 45%, or $45.", [series])
    assert _ok("Growth was 37%.", [{"growth": 0.37}])


@pytest.mark.parametrize(("text", "outputs"), [
    ("We had 42 conversions.", [{"conversion": 42}]),  # a count, whatever its key suggests
    ("We had 42 sales, a rate of 42.", [{"rate": 42, "sales": "42"}]),
    ("The model scored 85%.", [{"score": 0.85}]),  # a fraction under a count word is no count
    ("Elasticity is about 1.2%.", [{"price_elasticity": 1.2}]),  # mentions price, is no money
    ("Fees take 3.46% of sales.", [{"id": "fee_share", "unit": "ratio", "value": "0.0346"}]),
    ("Fees take 3.46%, or $12.50.", [{"fees": {"unit": "%", "value": 3.46}, "cost": {"unit": "USD", "value": 12.5}}]),
])
def test_a_key_that_only_hints_at_a_unit_refuses_nothing_sound(text: str, outputs: list) -> None:
    assert check_numbers(text, outputs).offending == []


# -- direction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Conversion is down 12.4%.", "Conversion fell 12.4%.", "Conversion fell by about 12.4%.",
    "a 12.4% drop in conversion", "A 12.4% decline.", "a 12.4% decrease", "Conversion dropped 12.4%.",
    "Conversion is 12.4% lower.", "Conversion is 12.4% below its baseline.",
])
def test_a_fall_is_refused_when_the_tool_says_the_change_was_up(text: str) -> None:
    verdict = check_numbers(text, KPIS)
    assert not verdict.ok, f"{text!r} passed the guard"
    assert any("12.4%" in o for o in verdict.offending), verdict.offending


@pytest.mark.parametrize("text", [
    "Revenue is up 30.3%.", "Revenue rose 30.3%.", "Revenue grew 30.3%.", "a 30.3% increase in revenue",
    "Orders rose 17.7% over 14 days.", "Revenue is 30.3% above its baseline.",
])
def test_a_rise_is_refused_when_the_tool_says_the_change_was_down(text: str) -> None:
    assert not _ok(text, [*KPIS, PLAY]), f"{text!r} passed the guard"


@pytest.mark.parametrize("text", [
    "Conversion rose 12.4%.", "Conversion is up 12.4%.", "a 12.4% increase", "Revenue fell 30.3%.",
    "Revenue is down 30.3%.", "a 30.3% drop", "Revenue changed 30.3%.", "Conversion moved 12.4%.",
    "12.4% and 30.3%.", "Revenue: 30.3%, conversion: 12.4%.",
    # a direction word about something else, or a level rather than a change
    "Revenue fell, while conversion moved 12.4%.", "Conversion fell to 1.79%.", "Conversion fell from 2.31% to 1.79%.",
    "Conversion is down and 12.4% is its change.", "Revenue is up to 30.3% below baseline.",
])
def test_a_figure_without_a_contrary_direction_word_passes(text: str) -> None:
    assert check_numbers(text, KPIS).offending == []


def test_a_direction_is_only_judged_against_a_signed_change() -> None:
    """A share or a level has no direction: "down 12.4%" of a bare 12.4 is not contradicted."""
    assert _ok("Sales are down 12.4%.", [{"values": [12.4]}])
    assert _ok("Sales are up 12.4%.", [{"note": "sales fell 12.4% this week", "values": [12.4]}])
    assert not _ok("Sales are up 12.4%.", [{"note": "sales fell 12.4% this week"}])
    assert _ok("Sales are down 12.4%.", [{"note": "sales fell 12.4% this week"}])


def test_a_refused_direction_says_why() -> None:
    verdict = check_numbers("Conversion fell 12.4%.", KPIS)
    assert verdict.offending == ["12.4% (written as a fall; the tool outputs say up)"]


# -- properties ---------------------------------------------------------------------------------------

MONEY_FORMATS = [
    lambda v: f"${v:,.2f}", lambda v: f"{v:,.2f}", lambda v: f"USD {v:,.2f}", lambda v: f"{round(v):,}",
    lambda v: f"${v / 1000:.1f}k" if v >= 1000 else f"${v:.2f}", lambda v: f"{v:,.2f} dollars",
]
COUNT_FORMATS = [lambda n: f"{n:,}", lambda n: f"{n} orders", lambda n: f"{n / 1000:.1f}k" if n >= 1000 else f"{n}"]
RATE_FORMATS = [
    lambda f: f"{f * 100:.2f}%", lambda f: f"{f * 100:.1f}%", lambda f: f"{f * 100:.2f} percent",
    lambda f: f"{f * 100:.1f} %", lambda f: f"{f}",
]


def _r(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), ROUND_HALF_UP)


def _kpi(kpi_id: str, unit: str, value: Decimal) -> dict:
    return {"id": kpi_id, "status": "OK", "value": str(value), "window": "7d", "unit": unit, "note": ""}


amounts = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("999999.99"), places=2)
counts = st.integers(min_value=1, max_value=500_000)
rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=6)
changes = st.decimals(min_value=Decimal("-95"), max_value=Decimal("300"), places=2).filter(lambda c: abs(c) >= 1)


@settings(deadline=None)
@given(amounts, counts, rates, changes, st.data())
def test_any_figure_formatted_from_a_tool_value_passes(amount, count, rate, change, data) -> None:
    outputs = [_kpi("net_revenue", "currency", amount), _kpi("orders", "count", count),
               {**_kpi("conversion_rate", "percent", rate), "anomaly": {"change_pct": str(change)}}]
    said = "down" if change < 0 else "up"
    figures = [data.draw(st.sampled_from(MONEY_FORMATS))(amount), data.draw(st.sampled_from(COUNT_FORMATS))(count),
               data.draw(st.sampled_from(RATE_FORMATS))(rate), f"{said} {abs(change):.1f}%", f"{abs(change)}%"]
    text = f"Revenue {figures[0]}; {figures[1]} orders; conversion {figures[2]}, {figures[3]}; change {figures[4]}."
    verdict = check_numbers(text, outputs)
    assert verdict.ok, (text, verdict.offending)


def _far(n: float, values: list[float]) -> bool:
    return all(abs(n - v) > 1 and abs(n - 100 * v) > 1 for v in values)


@settings(deadline=None)
@given(counts, amounts, rates, st.sampled_from([lambda n: f"{n}%", lambda n: f"{n} percent", lambda n: f"{n:,}.0%"]))
def test_a_percent_built_from_a_count_is_refused(count, amount, rate, fmt) -> None:
    assume(_far(count, [float(amount), float(rate)]))
    outputs = [_kpi("orders", "count", Decimal(count)), _kpi("net_revenue", "currency", amount),
               _kpi("conversion_rate", "percent", rate), {"sessions": count}]
    text = f"Conversion reached {fmt(count)}."
    assert check_numbers(text, outputs).offending == [fmt(count)]


@settings(deadline=None)
@given(counts, rates, st.sampled_from([lambda n: f"${n:,}", lambda n: f"USD {n}", lambda n: f"{n} dollars"]))
def test_money_built_from_a_count_or_a_rate_is_refused(count, rate, fmt) -> None:
    assume(_far(count, [float(rate)]))
    outputs = [_kpi("orders", "count", Decimal(count)), _kpi("conversion_rate", "percent", rate)]
    assert not check_numbers(f"Revenue reached {fmt(count)}.", outputs).ok
    pct = _r(rate * 100, "0.01")
    assert not check_numbers(f"Revenue reached ${pct}.", outputs).ok


@settings(deadline=None)
@given(changes, st.sampled_from(["down {}%", "fell {}%", "a {}% drop", "declined by {}%", "a {}% decrease"]),
       st.sampled_from(["up {}%", "rose {}%", "a {}% increase", "grew by {}%", "{}% higher"]))
def test_a_direction_against_the_tools_sign_is_refused(change, fall, rise) -> None:
    outputs = [{**_kpi("conversion_rate", "percent", Decimal("0.0123")), "anomaly": {"change_pct": str(change)}}]
    shown = f"{abs(change):.1f}"
    assume(abs(abs(change) - Decimal("1.23")) > Decimal("0.1"))  # the level 1.23% has no direction
    wrong, right = (rise, fall) if change < 0 else (fall, rise)
    assert not check_numbers(f"Conversion: {wrong.format(shown)}.", outputs).ok
    assert check_numbers(f"Conversion: {right.format(shown)}.", outputs).ok
    assert check_numbers(f"Conversion: {shown}%.", outputs).ok
