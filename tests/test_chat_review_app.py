"""The weekly review, pauses and resumes and a reused cycle through the Chainlit handlers (TESTING.md
layer 4: a fake session and emitter, the real services on rows built in tests/test_chat_review.py):
the starter, the buttons only people who decide get, who and why recorded from the chat user, and
a re-run that is the same run said to be one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import chainlit as cl
import pytest

from chimera.db.engine import session_scope
from chimera.db.models import PlayRun
from graphs.models import CycleOutcome
from tests.test_app_handlers import FakeUI, app, message  # noqa: F401 - fixture
from tests.test_chat_review import shop  # noqa: F401 - fixture


def _record(run_id: str, key: str) -> dict[str, Any] | None:
    with session_scope() as s:
        run = s.get(PlayRun, run_id)
        assert run is not None
        return (run.rationale or {}).get(key)


def _click(ui: FakeUI, name: str, run_id: str, reason: str | None) -> cl.Action:
    ui.emitter.send_ask_user.return_value = {"output": reason} if reason is not None else None
    return cl.Action(name=name, payload={"play_run_id": run_id})


async def test_weekly_review_is_a_starter_and_its_buttons_go_to_deciders_only(app, shop) -> None:  # noqa: F811
    profiles = await app.chat_profiles()
    assert "Weekly review" in [s.label for s in profiles[0].starters]
    viewer = FakeUI("victor", sid="s-victor")
    await app.on_chat_start()
    await app.on_message(message("Weekly review"))
    assert "Weekly review of plays" in viewer.text() and "rule 1:" in viewer.text()
    assert viewer.actions() == [], "a viewer reads the review but gets no pause / resume button"
    approver = FakeUI("alice", sid="s-alice")
    await app.on_chat_start()
    await app.on_message(message("what should we continue or stop?"))
    offered = {(a["name"], a["payload"]["play_run_id"]) for a in approver.actions()}
    assert ("pause", shop["runs"]["pricing_test"]) in offered and ("pause", shop["runs"]["bundle_offer"]) in offered


async def test_pause_then_resume_from_the_chat_records_the_chat_user_and_why(app, shop) -> None:  # noqa: F811
    run_id = shop["runs"]["bundle_offer"]
    ui = FakeUI("alice")
    await app.on_chat_start()
    await app.on_pause(_click(ui, "pause", run_id, "stock ran out"))
    assert "**pause** recorded for `bundle_offer`" in ui.text() and "by **alice** — reason: stock ran out" in ui.text()
    assert {k: _record(run_id, "pause")[k] for k in ("who", "why")} == {"who": "alice", "why": "stock ran out"}
    assert [(a["name"], a["payload"]["play_run_id"]) for a in ui.actions()] == [("resume", run_id)]
    await app.on_message(message("which plays are paused?"))
    assert "paused on" in ui.text() and "by **alice** — why: “stock ran out”" in ui.text()

    await app.on_resume(_click(ui, "resume", run_id, "stock is back"))
    assert "**resume** recorded for `bundle_offer`" in ui.text() and "reason: stock is back" in ui.text()
    assert {k: _record(run_id, "resume")[k] for k in ("who", "why")} == {"who": "alice", "why": "stock is back"}
    with session_scope() as s:
        assert s.get(PlayRun, run_id).status == "executed"  # type: ignore[union-attr]


async def test_a_viewer_or_a_missing_reason_records_nothing(app, shop) -> None:  # noqa: F811
    run_id = shop["runs"]["pricing_test"]
    viewer = FakeUI("victor", sid="s-victor")
    await app.on_pause(_click(viewer, "pause", run_id, "forged"))  # a forged click
    assert "viewer" in viewer.text() and "Nothing was recorded" in viewer.text()
    ui = FakeUI("alice", sid="s-alice")
    await app.on_pause(_click(ui, "pause", run_id, None))
    assert "No reason given: the pause was not recorded." in ui.text()
    assert _record(run_id, "pause") is None
    await app.on_resume(_click(ui, "resume", run_id, "go on"))  # not paused: said, nothing recorded
    assert "nothing to resume" in ui.text() and _record(run_id, "resume") is None


async def test_a_reused_cycle_run_says_it_is_the_same_run(
        app, shop, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    earlier = CycleOutcome(client="shop", as_of=date(2026, 10, 18), run_id="run-7", status="completed", silent=False,
                           kpis=[], plays=[], jobs=[], model={"backend": "offline"}, pending=[], narratives=[],
                           ran_at=datetime(2026, 10, 19, 7, 30, tzinfo=UTC), reused=True)
    monkeypatch.setattr("graphs.service.run_cycle", lambda *a, **k: earlier)
    statuses: list[str] = []
    real_send = cl.TaskList.send

    async def send(self: cl.TaskList) -> None:
        statuses.append(self.status)
        await real_send(self)

    monkeypatch.setattr(cl.TaskList, "send", send)
    ui = FakeUI("alice")
    await app.on_chat_start()
    await app.on_message(message("Run the weekly cycle"))
    assert "Same run as before: cycle run run-7 of 2026-10-18 ran at 2026-10-19 07:30 UTC" in ui.text()
    assert statuses[-1] == "Same run as before", "the task list does not look like a fresh run"
