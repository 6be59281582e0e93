"""Money is the client's currency: the KPI tool names it, and the guard refuses an amount written in
another one ("£16,017.93" of a dollar store), while the store's own sign or code, or none, passes."""

from __future__ import annotations

from typing import Any

import pytest

from agents.prompting import system_prompt
from agents.tools import Toolbox
from chimera.clients import get_client
from chimera.ingest import ingest_file
from chimera.llm.guard import check_numbers
from chimera.llm.guard_currency import client_currencies


def _outputs(currency: str | None) -> list[Any]:
    """``kpi_statuses`` as a model receives it: a money KPI naming its currency, and a rate."""
    money = {"id": "net_revenue", "status": "OK", "value": "16017.93", "target": "15000.00", "unit": "currency",
             "label": "Net revenue", "window": "7d"} | ({"currency": currency} if currency else {})
    rate = {"id": "conversion_rate", "status": "OK", "value": "0.0179", "unit": "percent", "label": "Conversion rate"}
    return [[money, rate]]


@pytest.mark.parametrize("written", ["£16,017.93", "€16,017.93", "EUR 16,017.93", "16,017.93 EUR", "¥16,017.93",
                                     "16.017,93 €", "16,017.93 euros", "C$16,017.93", "GBP 16k"])
def test_an_amount_in_another_currency_is_refused_for_a_usd_store(written: str) -> None:
    verdict = check_numbers(f"Net revenue was {written} this week.", _outputs("USD"))
    assert not verdict.ok
    assert any("USD" in o for o in verdict.offending), verdict.offending


@pytest.mark.parametrize("written", ["$16,017.93", "US$16,017.93", "USD 16,017.93", "16,017.93 USD", "16,017.93",
                                     "$16.0k", "16,017.93 dollars"])
def test_the_store_currency_or_no_mark_passes_for_a_usd_store(written: str) -> None:
    verdict = check_numbers(f"Net revenue was {written}, above its $15,000.00 target; conversion was 1.79%.",
                            _outputs("USD"))
    assert verdict.ok, verdict.offending


def test_the_sign_is_judged_by_the_store_currency() -> None:
    """A euro store's "€" and "EUR" pass and its "$" is refused; "$" passes for any dollar (CAD)."""
    eur = _outputs("EUR")
    assert check_numbers("Net revenue was €16,017.93 (16.017,93 EUR).", eur).ok
    assert not check_numbers("Net revenue was $16,017.93.", eur).ok
    assert check_numbers("Net revenue was $16,017.93.", _outputs("CAD")).ok
    assert not check_numbers("Net revenue was US$16,017.93.", _outputs("CAD")).ok
    assert check_numbers("Net revenue was ¥16,018.", _outputs("JPY")).ok


def test_outputs_naming_no_currency_judge_no_sign() -> None:
    """Older outputs (or a tool without money) say no currency: the sign is not judged, as before."""
    assert client_currencies(_outputs(None)) == set()
    assert check_numbers("Net revenue was £16,017.93.", _outputs(None)).ok


def test_a_wrong_currency_is_refused_even_in_a_tool_message_text() -> None:
    """A ToolMessage carries its output as JSON text; its currency is read from it too."""
    import json

    from langchain_core.messages import ToolMessage

    msg = ToolMessage(content=json.dumps(_outputs("USD")[0]), tool_call_id="c1")
    assert client_currencies([msg]) == {"USD"}
    assert not check_numbers("Net revenue was £16,017.93.", [msg]).ok


def test_kpi_statuses_name_the_client_currency_on_money_kpis(shop: str) -> None:
    ctx = get_client(shop)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    kpis = Toolbox(ctx).call("kpi_statuses", {})  # what a commander's model receives
    money = [k for k in kpis if k["unit"] == "currency"]
    assert money and all(k["currency"] == "USD" for k in money)
    assert all("currency" not in k for k in kpis if k["unit"] != "currency")
    k = next(k for k in money if k["value"] is not None)
    assert check_numbers(f"{k['label']} was ${float(k['value']):,.2f}.", [kpis]).ok
    verdict = check_numbers(f"{k['label']} was £{float(k['value']):,.2f}.", [kpis])
    assert not verdict.ok and "not £" in verdict.offending[-1]


def test_a_euro_client_kpis_say_eur(shop: str) -> None:
    ctx = get_client(shop)
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text(encoding="utf-8") + "currency: EUR\n", encoding="utf-8")
    kpis = Toolbox(get_client(shop)).kpi_statuses()
    assert {k.get("currency") for k in kpis if k["unit"] == "currency"} == {"EUR"}


def test_the_commander_prompt_tells_the_model_the_currency_rule(shop: str) -> None:
    spec = get_client(shop).configs.agents.commanders[0]
    prompt = system_prompt(spec, shop)
    assert "currency" in prompt and "never another currency's sign" in prompt
    said = system_prompt(spec, shop, "JPY")  # the client's own code, said outright
    assert "Money is in JPY (the currency the tool outputs name, on each money KPI)." in said


def test_week_over_week_is_worked_out_for_the_model() -> None:
    """The change to last week, relative and (for a percent KPI) in points; none without a base."""
    from decimal import Decimal

    from agents.tools import week_over_week

    rate = week_over_week(Decimal("0.0179"), Decimal("0.0231"), "percent")
    assert rate == {"previous_value": "0.0231", "change_vs_previous_pct": "-22.5", "change_vs_previous_pp": "-0.52"}
    money = week_over_week(Decimal("16017.93"), Decimal("15000.00"), "currency")
    assert money == {"previous_value": "15000.00", "change_vs_previous_pct": "6.8"}
    assert week_over_week(Decimal("5"), Decimal("0"), "count")["change_vs_previous_pct"] is None
    assert week_over_week(None, Decimal("5"), "count")["change_vs_previous_pct"] is None
    assert week_over_week(Decimal("1.0001"), Decimal("1"), "ratio")["change_vs_previous_pct"] == "0.0"


def test_kpi_statuses_with_previous_give_the_change_and_the_guard_takes_it(shop: str) -> None:
    ctx = get_client(shop)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    kpis = Toolbox(ctx).call("kpi_statuses", {"previous": True})
    rates = [k for k in kpis if k["unit"] == "percent" and k.get("change_vs_previous_pp")
             and float(k["change_vs_previous_pp"])]
    assert rates, kpis
    k = rates[0]
    now, then = float(k["value"]), float(k["previous_value"])
    assert float(k["change_vs_previous_pct"]) == pytest.approx((now - then) / abs(then) * 100, abs=0.051)
    assert float(k["change_vs_previous_pp"]) == pytest.approx((now - then) * 100, abs=0.0051)
    way, wrong = ("up", "down") if now > then else ("down", "up")
    pct, pp = k["change_vs_previous_pct"].lstrip("-"), k["change_vs_previous_pp"].lstrip("-")
    said = f"{k['label']} is {way} {pct}% on last week ({way} {pp} pp)."
    assert check_numbers(said, [kpis]).ok, check_numbers(said, [kpis]).offending
    assert not check_numbers(f"{k['label']} is {wrong} {pct}% on last week.", [kpis]).ok
    assert all("change_vs_previous_pp" not in k for k in kpis if k["unit"] != "percent")
    assert all("change_vs_previous_pct" not in k for k in Toolbox(ctx).kpi_statuses())  # only when asked


def test_every_tool_output_holding_money_names_the_currency(shop: str) -> None:
    """Was: only kpi_statuses did, so an answer citing a play's explanation, its preview, the
    weekly review or evidence alone could write a dollar store's money with a pound sign."""
    ctx = get_client(shop)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    tb = Toolbox(ctx)
    for name, args in (("explain_play", {"play_id": "pricing_test"}), ("propose_play", {"play_id": "pricing_test"}),
                       ("weekly_review", {})):
        out = tb.call(name, args)
        assert out["currency"] == "USD", name
        preview = out.get("changesets") or []
        price = next((c["after"] for cs in preview for c in cs["changes"] if c.get("after")), None)
        if name == "propose_play":  # a price the preview sets, said in another currency, is refused
            assert price is not None, preview
            assert check_numbers(f"The new price would be ${price}.", [out]).ok
            assert not check_numbers(f"The new price would be £{price}.", [out]).ok
    assert all(r["currency"] == "USD" for r in tb.evidence())
