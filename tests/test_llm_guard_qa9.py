"""QA9: the model client's rate-limit waits (``retry-after-ms``) and the guard's reading of figures
written in ways earlier passes did not cover (ratio KPIs in either scale, French space-grouped counts,
``pct``). Servers are local (tests/fake_openai_server.py), never the internet."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage

from chimera.llm import UsageTracker, guarded_narrative
from chimera.llm.guard import check_numbers
from chimera.llm.retry import _retry_after
from tests.fake_openai_server import FakeOpenAI

HONEST = "Net revenue is $16,017.93."
FACTS = [{"kpi": "net_revenue", "unit": "currency", "value": 16017.93, "status": "OK"}]


def _rate_limited(headers: dict[str, str]) -> openai.RateLimitError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(429, headers=headers, request=request)
    return openai.RateLimitError("rate limited", response=response, body=None)


# -- retry-after-ms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "wait"), [
    ({"retry-after-ms": "1500"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise one wins, as the openai SDK reads it
    ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),  # an unreadable ms header falls back to seconds
    ({"retry-after-ms": "-5", "retry-after": "3"}, 3.0),
    ({"retry-after-ms": "nan"}, None),
    ({"retry-after": "-1"}, None),
    ({}, None),
])
def test_retry_after_ms_is_read_before_retry_after(headers: dict[str, str], wait: float | None) -> None:
    assert _retry_after(_rate_limited(headers)) == wait


def test_retry_after_as_an_http_date_is_a_wait() -> None:
    """RFC 9110 allows a date; it was read as no wait at all (float() failed)."""
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = _retry_after(_rate_limited({"retry-after": later}))
    assert wait is not None and 25 <= wait <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert _retry_after(_rate_limited({"retry-after": past})) == 0.0


def _point_at(monkeypatch: pytest.MonkeyPatch, base_url: str, cap: str) -> None:
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", cap)
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", "5")


def _narrate() -> Any:
    from chimera.llm import get_chat_model

    return guarded_narrative(get_chat_model(), [HumanMessage("Summarise")], FACTS, "OFFLINE",
                             usage=UsageTracker("openai-compatible"))


def test_a_short_retry_after_ms_is_waited_before_asking_again(fake_openai: FakeOpenAI,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the header ignored, the retry sent at once (backoff 0) and refused again by the server."""
    _point_at(monkeypatch, fake_openai.base_url, cap="5")
    fake_openai.push({"status": 429, "headers": {"retry-after-ms": "800"}}, {"text": HONEST})
    started = time.monotonic()
    result = _narrate()
    assert (result.source, result.text) == ("model", HONEST)
    assert time.monotonic() - started >= 0.75, "asked again before the server's retry-after-ms"
    assert len(fake_openai.requests) == 2


def test_a_retry_after_ms_longer_than_the_cap_is_not_waited_on(fake_openai: FakeOpenAI,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _point_at(monkeypatch, fake_openai.base_url, cap="2")
    fake_openai.push({"status": 429, "headers": {"retry-after-ms": "60000"}}, {"text": "never asked"})
    started = time.monotonic()
    result = _narrate()
    assert result.source == "offline" and len(fake_openai.requests) == 1
    assert "asks to wait 60 s" in (result.reason or "")
    assert time.monotonic() - started < 2
    fake_openai.steps.clear()


# -- percent written as "pct", "pp", "percentage points" ----------------------------------------------------------

RATE_KPI = [{"kpis": [{"id": "refund_rate", "label": "Refund rate", "unit": "percent", "value": 0.0169,
                       "status": "OK"}]}]
CHANGE = [{"kpi": "conversion_rate", "change_pp": -12, "note": "conversion fell 12 pp week over week"}]


@pytest.mark.parametrize("answer", [
    "Refund rate is 1.69 pct.", "Refund rate: 1.69pct.", "Refund rate is 1.7 PCT.",
])
def test_pct_is_a_percent(answer: str) -> None:
    """Was: "1.69 pct" read as a plain 1.69, refused for a rate kept as the fraction 0.0169."""
    assert check_numbers(answer, RATE_KPI).ok


@pytest.mark.parametrize("answer", ["Conversion fell 12 pp.", "Conversion fell 12 percentage points.",
                                    "Conversion fell 12 percentage-points."])
def test_spaced_percentage_points_are_a_percent(answer: str) -> None:
    """Was: "12 pp" with a space read as a plain count 12, never sourced by a change in points."""
    assert check_numbers(answer, CHANGE).ok


@pytest.mark.parametrize("answer", [
    "Refund rate is 2.69 pct.", "Refund rate is 169 pct.", "Conversion fell 13 pp.",
    "Conversion fell 12.5 percentage points.",
])
def test_invented_pct_and_points_are_refused(answer: str) -> None:
    assert not check_numbers(answer, RATE_KPI + CHANGE).ok


def test_a_rise_in_pp_against_a_fall_is_refused() -> None:
    result = check_numbers("Conversion rose 12 pp.", CHANGE)
    assert not result.ok and "written as a rise" in result.offending[0]


# -- thousands grouped by spaces (French, SI) -------------------------------------------------------------------

ORDERS = [{"kpis": [{"id": "orders", "label": "Orders", "unit": "count", "value": 1234, "status": "OK"},
                    {"id": "net_revenue", "label": "Net revenue", "unit": "currency", "value": 16017.93,
                     "status": "OK"}]}]


@pytest.mark.parametrize("answer", [
    "Il y a eu 1 234 commandes cette semaine.",  # a plain space: the tool outputs hold 1234
    "Il y a eu 1\u202f234 commandes.",  # narrow no-break space (French typography)
    "Il y a eu 1\u00a0234 commandes.",
    "1 234 commandes pour un chiffre d'affaires net de 16 017,93 €.",
    "Les commandes : 1 234 ; le chiffre d'affaires net : 16\u202f017,93\u00a0€.",
])
def test_space_grouped_counts_are_one_number(answer: str) -> None:
    """Was: "1 234 commandes" read as the figures 1 and 234 and refused (only money or decimals joined)."""
    assert check_numbers(answer, ORDERS).ok


@pytest.mark.parametrize("answer", [
    "Il y a eu 1 235 commandes.", "Il y a eu 1\u202f243 commandes.",
    "1 243 commandes pour un chiffre d'affaires net de 16 017,93 €.",  # joined by the text's own grouping
])
def test_invented_space_grouped_counts_are_refused(answer: str) -> None:
    assert not check_numbers(answer, ORDERS).ok


def test_two_numbers_side_by_side_stay_two_when_nothing_says_they_are_one() -> None:
    """"7 100" in English prose with no space-grouping anywhere and no 7,100 in the outputs is two
    numbers: both must be sourced."""
    facts = [{"orders": 7, "sessions": 100}]
    assert check_numbers("Top 7 100-session days.", facts).ok
    assert check_numbers("Top 7 100-session days.", [{"orders": 7, "sessions": 101}]).offending == ["100"]


# -- a `ratio` KPI in either scale ------------------------------------------------------------------------------


def _ratio_kpis(scale: float) -> list[dict[str, Any]]:
    """Two `ratio` KPIs as a fraction (scale 1: 0.0169) or already in percent (scale 100: 1.69)."""
    return [{"kpis": [
        {"id": "refund_rate", "label": "Refund rate", "unit": "ratio", "value": round(0.0169 * scale, 6),
         "target": round(0.02 * scale, 6), "status": "OK", "direction": "lower_is_better"},
        {"id": "conversion_rate", "label": "Conversion rate", "unit": "ratio", "value": round(0.0231 * scale, 6),
         "target": round(0.025 * scale, 6), "status": "WARNING", "direction": "higher_is_better"}]}]


@pytest.mark.parametrize("scale", [1, 100])
@pytest.mark.parametrize("answer", [
    "Refund rate is 1.69%.", "Refund rate is 1.7 %.", "Refund rate is 0.0169.", "Refund rate is 1.69.",
    "Refund rate is 0.017.", "Refund rate: 1.69 pct, below its 2% target.",
    "Conversion rate is 0.0231 against a target of 0.025.", "Conversion rate is 2.31 (target 2.50).",
])
def test_a_ratio_kpi_may_be_written_in_either_scale(scale: float, answer: str) -> None:
    """Was: "0.0169" refused for a ratio given as 1.69 and "1.69" for one given as 0.0169: `ratio`
    says nothing of the scale, so a model reading it either way wrote the same figure."""
    assert check_numbers(answer, _ratio_kpis(scale)).ok


@pytest.mark.parametrize("scale", [1, 100])
@pytest.mark.parametrize("answer", [
    "Refund rate is 1.96%.", "Refund rate is 0.0196.", "Refund rate is 1.96.", "Refund rate is 16.9%.",
    "Refund rate is 0.169.", "Refund rate is 0.0231.",  # conversion's value, said of refunds
    "Conversion rate is 1.69%.", "Refund rate is 2.00%.", "Refund rate is 3%.", "Refund rate is $1.69.",
])
def test_an_invented_or_misattributed_ratio_is_refused(scale: float, answer: str) -> None:
    assert not check_numbers(answer, _ratio_kpis(scale)).ok


# -- a comparison with a target in a clause after a dash or "but" ---------------------------------------------


@pytest.mark.parametrize("answer", [
    "Refund rate is 1.69% — above its 2% target.",
    "Refund rate is 1.69% – above its target.",
    "Refund rate: 1.69%; conversion rate 2.31% — well above its target.",
    "Conversion rate rose to 2.31%, but it is still above its 2.5% target.",
])
def test_a_false_comparison_after_a_dash_is_refused(answer: str) -> None:
    """Was: the clause after an em dash (or ", but") named no KPI, so "above its target" was judged of
    nothing and passed although the refund rate (1.69%) is below its 2% target."""
    result = check_numbers(answer, _ratio_kpis(1))
    assert not result.ok and any("target" in p for p in result.offending)


@pytest.mark.parametrize("answer", [
    "Refund rate is 1.69% — below its 2% target.",
    "Conversion rate is 2.31% — short of its 2.5% target.",
    "Conversion rate rose to 2.31%, but it is still below its 2.5% target.",
    "Conversion rate is 2.31% — the refund rate is below its target.",
    "Refund rate is 1.69% — conversion rate, though, is below target.",
])
def test_a_true_comparison_after_a_dash_passes(answer: str) -> None:
    assert check_numbers(answer, _ratio_kpis(1)).ok


# -- a range around a sourced value ------------------------------------------------------------------------------

WEEK = [
    {"id": "net_revenue", "status": "OK", "value": "16017.93", "target": "15000.00", "window": "7d",
     "data_through": "2026-04-26", "label": "Net revenue (7d)", "unit": "currency", "direction": "higher_is_better"},
    {"id": "orders", "status": "OK", "value": "1234", "target": "1100", "window": "7d", "data_through": "2026-04-26",
     "label": "Orders (7d)", "unit": "count", "direction": "higher_is_better"},
    {"id": "conversion_rate", "status": "WARNING", "value": "0.0169", "target": "0.025", "warning": "0.02",
     "window": "7d", "data_through": "2026-04-26", "label": "Conversion rate (7d)", "unit": "percent",
     "direction": "higher_is_better", "previous_value": "0.0212"},
    {"id": "refund_rate", "status": "CRITICAL", "value": "0.0612", "target": "0.02", "critical": "0.06",
     "window": "28d", "data_through": "2026-04-26", "label": "Refund rate (28d)", "unit": "percent",
     "direction": "lower_is_better"},
]


@pytest.mark.parametrize("answer", [
    "Orders landed between 1,200 and 1,300.",
    "Orders came in between 1200 and 1300 this week, and net revenue between $15,000 and $17,000.",
    "Net revenue landed between $15k and $17k.",
    "Conversion is somewhere between 1.5 and 2%.",
    "Refund rate is between 6% and 6.5%, above the critical line.",
])
def test_a_tight_range_around_a_sourced_value_passes(answer: str) -> None:
    """Was: both ends refused although the range is a rounding of the tool's value (1,234 orders)."""
    assert check_numbers(answer, WEEK).ok, check_numbers(answer, WEEK).offending


@pytest.mark.parametrize("answer", [
    "Orders landed between 1,300 and 1,400.",  # the value is outside
    "Orders came in between 1,000 and 2,000.",  # too wide to be a rounding
    "Conversion is between 6% and 6.5%.",  # the refund rate's range, said of conversion
    "Conversion rose between 20% and 25%.",  # nothing in it
    "Net revenue landed between 15k and 17k orders.",  # revenue's range as a count
    "Orders landed between 1,240 and 1,300.",
])
def test_a_range_not_around_a_sourced_value_is_refused(answer: str) -> None:
    assert not check_numbers(answer, WEEK).ok


# -- a move between two figures goes their way --------------------------------------------------------------------

WEEK_PREVIOUS = [{**k, "previous_value": p} for k, p in zip(WEEK, ["14235.10", "1187", "0.0212", "0.0388"],
                                                              strict=True)]


@pytest.mark.parametrize("answer", [
    "Orders fell from 1,187 to 1,234 week over week.",
    "1,234 orders, down from 1,187.",
    "Orders: 1,234 (down from 1,187).",
    "Conversion rose from 2.12% to 1.69%.",
    "Net revenue is $16,017.93, down from $14,235.10 last week.",
    "Net revenue dropped sharply from $14,235.10 → $16,017.93.",
])
def test_a_move_against_its_own_figures_is_refused(answer: str) -> None:
    """Was ok: both figures are the tool's, so "fell from 1,187 to 1,234" passed though it rose."""
    result = check_numbers(answer, WEEK_PREVIOUS)
    assert not result.ok and any("the figures written go" in p for p in result.offending)


@pytest.mark.parametrize("answer", [
    "Orders rose from 1,187 to 1,234 week over week.",
    "Orders rose slightly from 1,187 to 1,234.",
    "1,234 orders, up from 1,187.",
    "Conversion dropped from 2.12% to 1.69%.",
    "Net revenue is $16,017.93, up from $14,235.10 last week.",
    "If conversion fell from 2.12% to 1.69% again, we would act.",  # a condition claims nothing
    "Conversion is down, from 2.12% to 1.69%.",
])
def test_a_move_with_its_figures_passes(answer: str) -> None:
    assert check_numbers(answer, WEEK_PREVIOUS).ok, check_numbers(answer, WEEK_PREVIOUS).offending


# -- a KPI's level written as a change ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "Conversion rose 1.69%.", "Refund rate rose 6.12%.", "Conversion dropped 2.12%.", "Conversion down 1.69%.",
    "Refunds saw a 6.12% increase.",
])
def test_a_level_written_as_a_change_is_refused(answer: str) -> None:
    """Was ok: a KPI's value (1.69%) or last week's (2.12%) is no change, yet "rose 1.69%" passed because
    a level was no evidence against a direction."""
    result = check_numbers(answer, WEEK_PREVIOUS)
    assert not result.ok and "not a change" in result.offending[0]


@pytest.mark.parametrize("answer", [
    "Conversion fell to 1.69%.", "Conversion is down at 1.69%.", "Refunds are up, at 6.12%.",
    "Refund rate climbed to 6.12% from 3.88%.", "Conversion is 1.69%, down from 2.12%.",
    "A 1.69% conversion rate, down sharply.", "Conversion: 1.69% (down).",
    "| Conversion | 1.69% | down |",
])
def test_a_level_beside_a_direction_word_passes(answer: str) -> None:
    assert check_numbers(answer, WEEK_PREVIOUS).ok, check_numbers(answer, WEEK_PREVIOUS).offending


def test_a_change_the_outputs_give_may_carry_its_direction() -> None:
    outputs = [*WEEK_PREVIOUS, {"play": "winback_email", "kpi": "net_revenue", "effect_pct": 23.67,
                                "verdict": "moved_up", "before": "1850.20", "after": "2288.13"}]
    assert check_numbers("The winback email lifted net revenue 23.67%.", outputs).ok
    growth = [{"id": "revenue_growth", "unit": "percent", "value": "0.0512", "status": "OK"}]
    assert check_numbers("Revenue growth is up 5.12%.", growth).ok  # a growth KPI's value is a change


# -- a calendar week by its number ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "## Weekly summary — week 17\nNet revenue: **$16,017.93**",  # 2026-04-20..26 is ISO week 17
    "In W17 net revenue was $16,017.93.", "KW 17: Umsatz 16.017,93 €", "Week 17 of 2026: $16,017.93",
])
def test_the_iso_week_of_the_outputs_days_is_a_name(answer: str) -> None:
    """Was: "week 17" refused as an invented figure 17 although it names the outputs' own week."""
    assert check_numbers(answer, WEEK).ok, check_numbers(answer, WEEK).offending


@pytest.mark.parametrize("answer", ["Week 18: $16,017.93", "Week 17 of 2025: $16,017.93",
                                    "In week 3 orders were 1,234."])
def test_a_week_the_outputs_do_not_cover_is_refused(answer: str) -> None:
    assert not check_numbers(answer, WEEK).ok


# -- percentage points against a relative change ----------------------------------------------------------------

ANOMALY = [{"id": "conversion_rate", "unit": "percent", "value": "0.0169", "status": "WARNING",
            "anomaly": {"level": "WARNING", "baseline": "0.0221", "change_pct": "-23.4", "sd_score": "-2.3"},
            "note": "conversion_rate 1.69% over 7d, below warning 2.00%; 23.4% below its 8-week baseline 2.21%"}]
POINTS_CHANGE = [{"kpi": "conversion_rate", "change_pp": -0.52, "note": "conversion fell 0.52 pp"}]


@pytest.mark.parametrize("answer", ["Conversion fell 23.4 percentage points.",
                                    "Conversion fell 23.4 pp below its baseline."])
def test_a_relative_change_written_in_points_is_refused(answer: str) -> None:
    """Was ok: "pp" read like "%", so a 23.4% fall of a 2.21% rate passed as a fall of 23.4 points."""
    result = check_numbers(answer, ANOMALY)
    assert not result.ok and "relative change" in result.offending[0]


@pytest.mark.parametrize(("answer", "outputs"), [
    ("Conversion fell 23.4%.", ANOMALY), ("Conversion is 23.4% below its baseline of 2.21%.", ANOMALY),
    ("Conversion fell 0.52 pp.", POINTS_CHANGE), ("Conversion fell 0.52 percentage points.", POINTS_CHANGE),
])
def test_a_change_in_its_own_terms_passes(answer: str, outputs: list[Any]) -> None:
    assert check_numbers(answer, outputs).ok


def test_points_of_a_money_change_read_as_percent() -> None:
    """Revenue has no percentage points: "fell 12.4pp" of a -12.4% revenue change can only mean 12.4%."""
    assert check_numbers("Revenue fell 12.4pp.", [{"kpi": "net_revenue", "value": "1234.50", "change_pct": -12.4}]).ok


# -- dates written with slashes -----------------------------------------------------------------------------------

SERIES_OUT = [*WEEK, {"2026-04-24": "2310.00", "2026-04-25": "3245.76", "2026-04-26": "1711.82"}]


@pytest.mark.parametrize("answer", [
    "Revenue peaked on 25/04/2026 at $3,245.76.", "Revenue peaked on 4/25 at $3,245.76.",
    "On 04/25/2026 revenue was $3,245.76.", "On 4/25/26 revenue was $3,245.76.",
])
def test_a_slashed_date_of_the_outputs_passes(answer: str) -> None:
    """Was: "4/25" read as the figures 4 and 25, refused although it is the outputs' day."""
    assert check_numbers(answer, SERIES_OUT).ok, check_numbers(answer, SERIES_OUT).offending


@pytest.mark.parametrize("answer", ["Revenue peaked on 27/04/2026 at $3,245.76.",
                                    "On 04/28/2026 revenue was $3,245.76.", "On 4/28 revenue was $3,245.76."])
def test_a_slashed_date_the_outputs_lack_is_refused(answer: str) -> None:
    assert not check_numbers(answer, SERIES_OUT).ok


# -- a bare decimal said of a money KPI; a rate's scale only when its unit leaves it open ---------------------------


def test_a_bare_decimal_said_of_a_money_kpi_is_its_own() -> None:
    """Was ok: "AOV is 1.69" passed on conversion's 1.69% (a plain decimal may show a rate), although
    AOV is money and 1.69 none of its figures."""
    aov = {"id": "aov", "unit": "currency", "value": "12.98", "status": "OK"}
    outputs = [{**k, "note": "conversion_rate 1.69% over 7d"} if k["id"] == "conversion_rate" else k for k in WEEK]
    result = check_numbers("AOV is 1.69.", [*outputs, aov])
    assert not result.ok and "not a aov figure" in result.offending[0]
    assert check_numbers("AOV is 12.98.", [{"id": "aov", "unit": "currency", "value": "12.98", "status": "OK"}]).ok


def test_an_undeclared_rate_keeps_its_scale() -> None:
    """A value under a *_rate key with no unit is a fraction as ever: "1.69" bare is not it (only a
    declared ``ratio`` leaves the scale open)."""
    assert not check_numbers("AOV is 1.69.", [{"conversion_rate": 0.0169, "aov": 12.98}]).ok
    assert check_numbers("Conversion is 1.69%.", [{"conversion_rate": 0.0169, "aov": 12.98}]).ok


# -- a day written in words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "ok"), [
    ("The best day was April twenty-fifth, at $3,245.76.", True),
    ("The best day was the twenty-fifth of April, at $3,245.76.", True),
    ("On April the twenty fifth revenue was $3,245.76.", True),
    ("For the first time, orders hit 1,234.", True),
    ("The best day was April twenty-seventh, at $3,245.76.", False),  # a day the outputs lack
    ("It was the first of May.", False),
])
def test_a_day_in_words_is_a_date(answer: str, ok: bool) -> None:
    """Was: "April twenty-fifth" read as the invented figure twenty, and any such day never checked."""
    assert check_numbers(answer, SERIES_OUT).ok is ok


# -- a table's past column, a list of references ------------------------------------------------------------------

TABLE = """| Metric | This week | Last week | Status |
|---|---:|---:|---|
| Net revenue | $16,017.93 | $14,235.10 | OK |
| Orders | 1,234 | 1,187 | OK |
| Conversion | 1.69% | 2.12% | WARNING |

Revenue and orders are above target ($15,000.00 and 1,100)."""


def test_a_last_week_column_and_a_list_of_targets_pass() -> None:
    """Was: each cell under "Last week" refused as not the KPI's figure (the row says no "last"), and
    1,100 in "above target ($15,000.00 and 1,100)" read as orders' value instead of its target."""
    outputs = [{**k, "target": t} for k, t in zip(WEEK_PREVIOUS, ["15000.00", "1100", "0.025", "0.02"], strict=True)]
    assert check_numbers(TABLE, outputs).ok, check_numbers(TABLE, outputs).offending
    wrong = TABLE.replace("$14,235.10", "$14,325.10")
    assert check_numbers(wrong, outputs).offending == ["$14,325.10"]
    swapped = TABLE.replace("| 1,234 | 1,187 |", "| 1,187 | 1,187 |")
    assert not check_numbers(swapped, outputs).ok  # last week's value as this week's
