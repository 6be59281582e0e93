"""Scaling a play that worked from the chat (manual §4.7 "continue / scale / pause"): a Scale button
beside Pause for a run the weekly review says worked, offered to people who decide plays only and
re-checked on the click; a required reason; the chat user recorded as who; the new linked run a
suggestion offered with the approve / override / reject buttons; a refusal in the one line the scale
function says; the same click again showing the same pending run.

The store is tests/test_chat_review.py's (rows, no exports) plus one live cycle for the scaled run
to join: bundle_offer lifted aov (continue: scalable), pricing_test hurt conversion (stop)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import chainlit as cl
import pytest
from sqlmodel import select

from chimera.db.engine import session_scope
from chimera.db.models import CycleRun, PlayRun
from chimera.plays.models import ParamChange, ScaleOutcome
from chimera.plays.scale import scaled_from
from graphs import chat
from graphs.ui_models import scale_markdown
from tests.test_app_handlers import FakeUI, app, message  # noqa: F401 - fixture
from tests.test_chat_review import AS_OF, shop  # noqa: F401 - fixture


@pytest.fixture
def live(shop: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """The shop with a live cycle of AS_OF: the cycle a scaled run is suggested in."""
    with session_scope() as s:
        cycle = CycleRun(company_id=shop["ctx"].company_id, as_of=AS_OF, status="completed")
        s.add(cycle)
        s.flush()
        shop["cycle"] = cycle.id
    return shop


def _scales_of(run_id: str) -> list[PlayRun]:
    with session_scope() as s:
        runs = [r for r in s.exec(select(PlayRun)) if scaled_from(r) == run_id]
        s.expunge_all()
        return runs


def _click(ui: FakeUI, run_id: str, reason: str | None) -> cl.Action:
    ui.emitter.send_ask_user.return_value = {"output": reason} if reason is not None else None
    return cl.Action(name="scale", payload={"play_run_id": run_id})


def _offered(ui: FakeUI) -> set[tuple[str, str]]:
    return {(a["name"], a["payload"]["play_run_id"]) for a in ui.actions()}


def _removed(ui: FakeUI) -> list[tuple[str, str]]:
    return [(c.args[1]["name"], c.args[1]["payload"]["play_run_id"]) for c in ui.emitter.emit.call_args_list
            if c.args[0] == "remove_action"]


# -- the button: worked executed runs only, deciders only -------------------------------------------------

def test_the_review_offers_scale_beside_pause_only_for_a_run_that_worked(shop: dict[str, Any]) -> None:  # noqa: F811
    runs = shop["runs"]
    reply = chat.answer(shop["ctx"], "evidence_commander_ai", "weekly review", as_of=AS_OF)
    offers = [(a.kind, a.play_run_id) for a in reply.actions]
    assert offers.index(("scale", runs["bundle_offer"])) == offers.index(("pause", runs["bundle_offer"])) + 1
    scaled = {run for kind, run in offers if kind == "scale"}
    assert scaled == {runs["bundle_offer"]}, "pricing_test (stop), a paused or a reverted run: no scale"
    assert [a.label for a in reply.actions if a.kind == "scale"] == ["Scale bundle_offer"]
    stops = chat.answer(shop["ctx"], "evidence_commander_ai", "what is paused?", as_of=AS_OF)
    assert all(a.kind != "scale" for a in stops.actions), "the list of stops offers no scale"


async def test_only_people_who_decide_get_the_scale_button(app, live: dict[str, Any]) -> None:  # noqa: F811
    run_id = live["runs"]["bundle_offer"]
    viewer = FakeUI("victor", sid="s-victor")
    await app.on_chat_start()
    await app.on_message(message("Weekly review"))
    assert "or scale it: `chimera play scale" in viewer.text() and viewer.actions() == []
    approver = FakeUI("alice", sid="s-alice")
    await app.on_chat_start()
    await app.on_message(message("Weekly review"))
    scale = [a for a in approver.actions() if a["name"] == "scale"]
    assert [(a["payload"]["play_run_id"], a["label"], a["icon"]) for a in scale] == \
        [(run_id, "Scale bundle_offer", "trending-up")]


# -- a scale from the chat ---------------------------------------------------------------------------------

async def test_a_scale_records_the_chat_user_and_why_and_offers_the_new_run_for_a_decision(
        app, live: dict[str, Any]) -> None:  # noqa: F811
    run_id = live["runs"]["bundle_offer"]
    ui = FakeUI("alice")
    await app.on_chat_start()
    await app.on_scale(_click(ui, run_id, "bundles sell: make the **discount** bigger"))
    [new] = _scales_of(run_id)
    record = new.rationale["scale"]
    assert (new.status, new.run_id, new.play_id, new.as_of) == ("suggested", live["cycle"], "bundle_offer", AS_OF)
    assert (record["who"], record["why"], record["from"]) == ("alice", "bundles sell: make the **discount** bigger",
                                                              run_id)
    assert new.explanation["scaled_from"] == run_id
    text = ui.texts()[-1]
    assert f"**scale** recorded for `bundle_offer` play run `{run_id}`" in text and "by **alice**" in text
    assert "reason: bundles sell: make the \\*\\*discount\\*\\* bigger" in text, "a person's words stay inert"
    assert f"play run `{new.id}` suggested" in text
    assert "- step 1 shopify_bot.create_bundle discount_pct: 10 -> 15 (x1.5)" in text
    assert "- worked: aov moved_up (right way): effect +6.3 %" in text
    assert f"Next: nothing runs until a person decides play run `{new.id}`: approve, override or reject it " \
           "with the buttons below." in text
    assert {("approve", new.id), ("override", new.id), ("reject", new.id)} <= _offered(ui)
    assert _removed(ui) == [("scale", run_id)], "the clicked Scale button goes, as a pause's does"
    from graphs.service import pending_decisions

    assert new.id in {p.play_run_id for p in pending_decisions("shop")}, "offered again after a reload"


async def test_the_same_click_again_shows_the_same_pending_run(app, live: dict[str, Any]) -> None:  # noqa: F811
    run_id = live["runs"]["bundle_offer"]
    ui = FakeUI("alice")
    await app.on_chat_start()
    await app.on_scale(_click(ui, run_id, "bundles sell"))
    await app.on_scale(_click(ui, run_id, "a second click"))
    [new] = _scales_of(run_id)
    text = ui.texts()[-1]
    assert f"`bundle_offer` play run `{run_id}` was already scaled on" in text
    assert f"by **alice** — “bundles sell”: play run `{new.id}` (suggested); nothing suggested twice" in text
    assert new.rationale["scale"]["why"] == "bundles sell", "the first scale's who and why stay"
    assert [a["payload"]["play_run_id"] for a in ui.actions() if a["name"] == "approve"] == [new.id, new.id]
    assert _removed(ui) == [("scale", run_id), ("scale", run_id), ("approve", new.id), ("override", new.id),
                            ("reject", new.id)], "the first offer's decision buttons move to the newest message"


# -- refusals: one line, nothing recorded ------------------------------------------------------------------

def _warning(ui: FakeUI) -> str:
    text = ui.texts()[-1]
    assert text.startswith("⚠️ ") and "\n" not in text, text
    return text


async def test_a_run_whose_evidence_says_stop_is_refused_in_one_line(app, live: dict[str, Any]) -> None:  # noqa: F811
    run_id = live["runs"]["pricing_test"]
    ui = FakeUI("alice")
    await app.on_scale(_click(ui, run_id, "forged: it has no button"))
    text = _warning(ui)
    assert f"play run {run_id} (pricing_test): its evidence does not say it worked" in text
    assert text.endswith("nothing was recorded") and _scales_of(run_id) == []
    paused = live["runs"]["discount_hygiene"]
    await app.on_scale(_click(ui, paused, "try"))
    assert "is paused, not executed" in _warning(ui) and "resume it first" in _warning(ui)


async def test_a_full_cap_of_active_plays_is_refused_in_one_line(app, live: dict[str, Any]) -> None:  # noqa: F811
    with session_scope() as s:
        for play in ("pricing_test", "discount_hygiene", "free_shipping_threshold"):
            s.add(PlayRun(company_id=live["ctx"].company_id, run_id=live["cycle"], play_id=play, as_of=AS_OF,
                          status="suggested"))
    run_id = live["runs"]["bundle_offer"]
    ui = FakeUI("alice")
    await app.on_scale(_click(ui, run_id, "bundles sell"))
    assert "3 plays are active and plays.yml policy.max_active_plays is 3" in _warning(ui)
    assert _scales_of(run_id) == []


async def test_a_viewer_a_missing_reason_or_another_client_records_nothing(
        app, live: dict[str, Any]) -> None:  # noqa: F811
    run_id = live["runs"]["bundle_offer"]
    viewer = FakeUI("victor", sid="s-victor")
    await app.on_scale(_click(viewer, run_id, "forged"))
    assert "viewer" in viewer.text() and "Nothing was recorded" in viewer.text()
    ui = FakeUI("alice", sid="s-alice")
    await app.on_scale(_click(ui, run_id, None))
    assert "No reason given: the scale was not recorded." in ui.text()
    from chimera.errors import ClientError

    with pytest.raises(ClientError, match="not granted"):
        chat.scale_play(run_id, "alice", "bundles sell", allowed=["other"])
    assert _scales_of(run_id) == []


# -- the text -----------------------------------------------------------------------------------------------

def test_the_scale_text_says_held_at_its_cap_and_the_commands_without_buttons() -> None:
    o = ScaleOutcome(
        client="shop", play="pricing_test", play_run_id="new1", scaled_from="old1", status="suggested",
        cycle_run_id="c1", on=date(2026, 10, 20), who="bob <b>", why="[see](http://x.example)",
        at=datetime(2026, 10, 20, 9, tzinfo=UTC), factor=1.5, already_scaled=False,
        changes=[ParamChange(step=1, name="shopify_bot.update_prices", param="change_pct", before=8, after=10,
                             how="x1.5, held at its cap max_change_pct 10"),
                 ParamChange(step=1, name="shopify_bot.update_prices", param="count", before=5, after=8, how="x1.5")],
        evidence=["aov moved_up (right way): effect +6.3 %"], explanation="", next_step="chimera approve new1")
    text = scale_markdown(o)
    assert "- step 1 shopify_bot.update_prices change_pct: 8 -> 10 (x1.5, held at its cap max_change_pct 10)" in text
    assert "- step 1 shopify_bot.update_prices count: 5 -> 8 (x1.5)" in text
    assert "by **bob \\<b\\>** — reason: \\[see\\](`http://x.example`)" in text
    assert "(`chimera approve new1`, `chimera override new1 --reason R --params JSON`, " \
           "`chimera reject new1 --reason R`)" in text
    under_way = scale_markdown(o.model_copy(update={"already_scaled": True, "status": "approved"}), buttons=True)
    assert "play run `new1` (approved); nothing suggested twice" in under_way
    assert "Play run `new1` is approved: it was decided already; nothing to decide." in under_way

