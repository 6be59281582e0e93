"""Before approval the cycle names the step of a play that cannot be undone, and why.

Was: ``chimera cycle`` said "not fully reversible" for checkout_friction_audit and nothing more: a
person approving it could not tell which of its steps (a FAQ draft, or the checkout settings)
would be beyond undoing, though agents.yml and the bot's ChangeSet know it.

The demo client (the project's own generator) suggests checkout_friction_audit on 2026-11-22."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import col, select

from agents.bots.base import NOT_REVERSIBLE, irreversible_steps
from chimera.config.loader import load_config_set
from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import AppliedChange, Job
from tests.test_decisions_cli import _in_home, chimera

CHECKOUT_DAY = date(2026, 11, 22)
PLAY = "checkout_friction_audit"


@dataclass
class Suggested:
    home: Path
    text: str
    """``chimera cycle`` as a person reads it."""
    doc: dict
    """``chimera cycle --json`` of the same (resumed) cycle."""


@pytest.fixture(scope="module")
def suggested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suggested]:
    from chimera.demo.demo_client import ensure_demo_client

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("irreversible-home")
        _in_home(home, mp)
        ensure_demo_client()
        text = chimera("cycle", "--client", "demo", "--as-of", CHECKOUT_DAY.isoformat())
        assert text.code == 0, text.stderr
        doc = chimera("cycle", "--client", "demo", "--as-of", CHECKOUT_DAY.isoformat(), "--json")
        assert doc.code == 0, doc.stderr
        yield Suggested(home, text.stdout, json.loads(doc.stdout))
        dispose_all()


@pytest.fixture
def home(suggested: Suggested, monkeypatch: pytest.MonkeyPatch) -> Suggested:
    _in_home(suggested.home, monkeypatch)
    return suggested


def _checkout(doc: dict) -> dict:
    return next(p for p in doc["plays"] if p["play"] == PLAY)


def test_the_proposal_names_the_step_that_cannot_be_undone_and_why(home: Suggested) -> None:
    play = _checkout(home.doc)
    assert play["id"] in home.doc["pending"]
    said = " ".join(home.text.split())
    assert f"play #{play['rank']} {PLAY} ({play['id']}) is not fully reversible:" in home.text
    assert ("step 2 shopify_bot.simplify_checkout_settings: Removes optional checkout fields and enables express "
            f"payment methods; it {NOT_REVERSIBLE}") in said
    # every pending play is listed exactly when one of its steps cannot be undone, with each such step
    pending = [p for p in home.doc["plays"] if p["id"] in home.doc["pending"]]
    assert any(not p["irreversible_steps"] for p in pending)
    for p in pending:
        listed = f"{p['play']} ({p['id']}) is not fully reversible:" in home.text
        assert listed == bool(p["irreversible_steps"]), p["play"]
        assert all(f"step {s['step']} {s['bot']}.{s['action']}: " in said for s in p["irreversible_steps"])


def test_the_json_document_carries_the_steps_for_every_play(home: Suggested) -> None:
    steps = _checkout(home.doc)["irreversible_steps"]
    assert [(s["step"], s["bot"], s["action"]) for s in steps] == [(2, "shopify_bot", "simplify_checkout_settings")]
    assert NOT_REVERSIBLE in steps[0]["why"]
    configs = load_config_set()
    assert all(p["irreversible_steps"] == [s.model_dump() for s in irreversible_steps(configs, p["play"])]
               for p in home.doc["plays"])
    assert any(p["irreversible_steps"] == [] for p in home.doc["plays"])


def test_the_approval_request_of_the_paused_cycle_holds_the_steps(home: Suggested) -> None:
    """The cycle's own pause (``interrupt``) asks about the first pending play with its steps."""
    from agents.context import CycleContext
    from chimera.clients import get_client
    from graphs.checkpoint import checkpointer
    from graphs.cycle import build_cycle_graph

    client = get_client("demo")
    ctx = CycleContext(client=client, as_of=CHECKOUT_DAY, run_id=home.doc["run_id"], silent=False)
    with checkpointer() as saver:
        state = build_cycle_graph(ctx, saver).get_state(
            {"configurable": {"thread_id": f"cycle:demo:{home.doc['run_id']}"}})
    asked = state.interrupts[0].value
    assert asked["irreversible_steps"] == [s.model_dump() for s in irreversible_steps(client.configs, asked["play"])]


def test_the_step_named_is_the_one_whose_change_is_recorded_not_reversible(home: Suggested) -> None:
    play = _checkout(home.doc)
    assert chimera("approve", play["id"], "--who", "alice").code == 0
    with session_scope() as s:
        jobs = s.exec(select(Job).where(Job.play_run_id == play["id"], Job.bot != "")).all()
        keys = [j.idempotency_key for j in jobs]
        applied = s.exec(select(AppliedChange).where(col(AppliedChange.idempotency_key).in_(keys))).all()
        not_reversible = [(a.bot, a.action) for a in applied if not a.reversible]
    assert len(applied) == len(jobs) == 2
    assert not_reversible == [(s["bot"], s["action"]) for s in play["irreversible_steps"]]


def test_a_step_agents_yml_does_not_list_is_named_and_a_removed_play_says_nothing() -> None:
    base = load_config_set()
    bots = [b.model_copy(update={"actions": [a for a in b.actions if a.name != "draft_campaign"]})
            for b in base.agents.bots]
    configs = replace(base, agents=base.agents.model_copy(update={"bots": bots}))
    steps = irreversible_steps(configs, "winback_email")
    assert [(s.step, s.action) for s in steps] == [(2, "draft_campaign"), (3, "schedule_campaign")]
    assert "email_bot has no action 'draft_campaign' in agents.yml" in steps[0].why
    assert "(cannot be undone once sent)" in steps[1].text()
    assert irreversible_steps(configs, "no_such_play") == []
