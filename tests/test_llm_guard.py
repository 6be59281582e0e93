"""The truth guard: sourced figures pass in any usual format, invented ones never do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import BaseModel

from chimera.llm import ScriptedChatModel, UsageTracker, check_numbers, guarded_narrative

AS_OF = "2026-11-01"


def test_formats_people_use_are_accepted() -> None:
    outputs = [{"net_revenue": "10528.00", "conversion_rate": 0.0169, "change_pct": -12.3, "as_of": AS_OF}]
    text = (
        "1. Net revenue was $10,528.00 (about $10.5k), conversion 1.69 % (1.7%), down 12% to 2026-11-01.\n"
        "2) In November 1, 2026 the top 3 plays were reviewed; 2026 so far."
    )
    assert check_numbers(text, outputs).model_dump() == {"ok": True, "offending": []}


def test_invented_figures_and_dates_are_named() -> None:
    outputs = [{"net_revenue": "10528.00", "as_of": AS_OF}]
    result = check_numbers("Revenue hit $10,900 on 2026-11-02 (November 3), best since 2019.", outputs)
    assert not result.ok
    assert result.offending == ["2026-11-02", "November 3", "$10,900", "2019"]


def test_outputs_are_walked_in_any_shape() -> None:
    class Status(BaseModel):
        kpi: str
        value: Decimal
        data_through: dt.date

    outputs = [
        Status(kpi="aov", value=Decimal("41.25"), data_through=dt.date(2026, 10, 31)),
        ToolMessage(content='{"sessions": 1204}', tool_call_id="call_0"),
        {"2026-10-30": {"orders": 17}},
        "refund rate 3.5%",
    ]
    assert check_numbers("AOV $41.25 through 2026-10-31; 1,204 sessions, 17 orders on 2026-10-30; 3.5%.", outputs).ok
    assert not check_numbers("AOV $41.30", outputs).ok


def test_words_with_digits_are_not_figures() -> None:
    assert check_numbers("Run gpt-4o-mini on Q3 for the 2nd time, window 28d.", []).ok


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999.99"), places=2)
fraction = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=4)
MONEY_FORMATS = [
    lambda v: f"{v:,.2f}",
    lambda v: f"${v:,.2f}",
    lambda v: f"-${v:,.2f}",
    lambda v: f"{v}",
    lambda v: f"{round(v):,}",
    lambda v: f"down {v:.1f}%",
    lambda v: f"${v / 1000:.1f}k" if v >= 1000 else f"{v:.2f}",
]
FRACTION_FORMATS = [
    lambda f: f"{f * 100:.2f}%",
    lambda f: f"{f * 100:.1f} %",
    lambda f: f"{f}",
    lambda f: f"{f * 100:.0f}%",
]


@settings(deadline=None)
@given(
    st.lists(money, min_size=1, max_size=6),
    st.lists(fraction, min_size=1, max_size=4),
    st.data(),
)
def test_sourced_figures_in_any_format_are_accepted(amounts, fractions, data) -> None:
    outputs = [{"metrics": {f"m{i}": str(a) for i, a in enumerate(amounts)}}, {"rates": [float(f) for f in fractions]}]
    figures = [data.draw(st.sampled_from(MONEY_FORMATS))(data.draw(st.sampled_from(amounts)))]
    figures.append(data.draw(st.sampled_from(FRACTION_FORMATS))(data.draw(st.sampled_from(fractions))))
    text = f"This week: {figures[0]} in sales, and a rate of {figures[1]}."
    result = check_numbers(text, outputs)
    assert result.ok, (text, result.offending)


INVENTED_FORMATS = [lambda n: f"{n:,}", lambda n: f"${n:,}.00", lambda n: f"{n}%", lambda n: f"down -{n}"]


def _far_from_all(n: int, values: list[float]) -> bool:
    return all(min(abs(n - v), abs(n - 100 * v)) > 1 for v in values)


@settings(suppress_health_check=[HealthCheck.filter_too_much], deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=10_000_000),
    st.sampled_from(INVENTED_FORMATS),
)
def test_invented_figures_are_always_rejected(values, invented, fmt) -> None:
    date_parts = [2026, 11, 1]  # an ISO date in the outputs contributes its parts
    assume(_far_from_all(invented, values + date_parts))
    outputs = [{"values": values, "as_of": AS_OF}]
    text = f"Sales reached {fmt(invented)} this week."
    result = check_numbers(text, outputs)
    assert not result.ok and len(result.offending) == 1, (text, result)


@settings(deadline=None, max_examples=50)
@given(st.integers(min_value=10_001, max_value=10_000_000))
def test_a_model_that_invents_is_caught_every_time(invented) -> None:
    outputs = [{"net_revenue": "10000.00"}]
    model = ScriptedChatModel(responses=[AIMessage(content=f"Net revenue was ${invented:,}.")])
    usage = UsageTracker("fake")
    story = guarded_narrative(model, [HumanMessage(content="Summarise")], outputs, "offline text", usage=usage)
    assert (story.source, story.text, story.guard_rejections) == ("offline", "offline text", 2)
    assert f"${invented:,}" in story.note
    assert usage.summary()["guard_rejections"] == 2 and usage.summary()["calls"] == 2
    # the retry named the offending figure to the model
    assert f"${invented:,}" in model.requests[1][-1].content


def test_no_model_means_offline_and_says_so() -> None:
    story = guarded_narrative(None, [], [], "templated text")
    assert (story.source, story.note) == ("offline", "offline (no model configured)")
