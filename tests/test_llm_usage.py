"""Model economy: cost from the price table, unpriced models flagged, the per-cycle budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from chimera.errors import ConfigError
from chimera.llm import Budget, ScriptedChatModel, UsageTracker, guarded_narrative, load_models_config

ASK = [HumanMessage(content="Summarise the week")]


def test_cost_comes_from_the_price_table() -> None:
    cfg = load_models_config()
    name = next(n for n, p in cfg.prices.items() if p.input > 0)
    price = cfg.prices[name]
    usage = UsageTracker("openai", config=cfg)
    usage.add("growth_commander_ai", prompt_tokens=12_000, completion_tokens=3_000, model=f"{name}-2099-01-01")
    expected = (12_000 * price.input + 3_000 * price.output) / 1_000_000
    assert usage.summary() == {
        "backend": "openai",
        "calls": 1,
        "prompt_tokens": 12_000,
        "completion_tokens": 3_000,
        "cost": round(expected, 6),
        "guard_rejections": 0,
    }
    assert usage.details()["unpriced_models"] == []


def test_unknown_model_costs_nothing_and_is_flagged() -> None:
    usage = UsageTracker("openai-compatible")
    usage.add(prompt_tokens=500, completion_tokens=100, model="my-local-llama")
    assert usage.summary()["cost"] == 0
    assert usage.details()["unpriced_models"] == ["my-local-llama"]


def test_callback_counts_per_commander() -> None:
    usage = UsageTracker("fake")
    model = ScriptedChatModel(responses=[AIMessage(content="No figures here.")])
    for commander in ("growth_commander_ai", "growth_commander_ai", "infra_commander_ai"):
        guarded_narrative(model, ASK, [], "offline", usage=usage, commander=commander)
    per = usage.details()["by_commander"]
    assert {k: v["calls"] for k, v in per.items()} == {"growth_commander_ai": 2, "infra_commander_ai": 1}
    assert usage.summary()["prompt_tokens"] == sum(v["prompt_tokens"] for v in per.values()) > 0


def test_budget_cut_off_sends_remaining_narratives_offline() -> None:
    model = ScriptedChatModel(responses=[AIMessage(content="All steady.")])
    usage = UsageTracker("fake", budget=Budget(max_tokens_per_cycle=1, max_cost_per_cycle=None))
    first = guarded_narrative(model, ASK, [], "offline one", usage=usage, commander="a")
    second = guarded_narrative(model, ASK, [], "offline two", usage=usage, commander="b")
    assert first.source == "model"
    assert (second.source, second.text) == ("offline", "offline two")
    assert "model budget reached" in second.note
    assert len(model.requests) == 1
    assert usage.details()["budget_refusals"] == 1 and usage.details()["budget_reached"]


def test_cost_budget_also_stops_calls() -> None:
    usage = UsageTracker("openai", budget=Budget(max_tokens_per_cycle=None, max_cost_per_cycle=0.0001))
    assert usage.allow_call()
    usage.add(prompt_tokens=1_000_000, completion_tokens=0, model="gpt-4o-mini")
    assert not usage.allow_call()
    assert "spent this cycle" in usage.budget_reason()


def test_bad_models_yml_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "models.yml"
    bad.write_text("prices:\n  gpt-x: {input: 1.0, outptu: 2.0}\nbudget: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_models_config(bad)
    assert "models.yml:2" in str(err.value) and "outptu" in str(err.value)
