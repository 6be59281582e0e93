"""Chainlit handlers without a browser (TESTING.md layer 4): a fake websocket session and emitter,
the real cycle service on generated data, the real database."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest
from sqlmodel import select

from chimera.db.engine import session_scope
from chimera.db.models import Decision

USERS = "alice:alice-pass:approver,victor:victor-pass:viewer"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHIMERA_CHAT_HISTORY", "off")  # no data layer: the emitter mock sees everything
    monkeypatch.setenv("CHIMERA_USERS", USERS)
    return importlib.import_module("app")


@pytest.fixture
def shop(chimera_home: Path) -> str:
    """The bundled demo client: its story triggers several plays on the newest data."""
    from chimera.demo.demo_client import ensure_demo_client

    ctx, _info = ensure_demo_client("shop")
    return ctx.name


class FakeUI:
    """A Chainlit context for one session; records what the handlers send."""

    def __init__(self, user: str, profile: str = "Command Center", sid: str = "s-1"):
        import chainlit as cl
        from chainlit.context import ChainlitContext, context_var
        from chainlit.emitter import BaseChainlitEmitter
        from chainlit.session import WebsocketSession

        session = Mock(spec=WebsocketSession)
        session.id, session.thread_id, session.user = sid, f"thread-{sid}", cl.User(identifier=user)
        session.user_env, session.chat_settings, session.files, session.chat_profile = {}, {}, {}, profile
        session.client_type, session.emit = "webapp", AsyncMock()
        emitter = Mock(spec=BaseChainlitEmitter)
        for name, fn in inspect.getmembers(BaseChainlitEmitter, inspect.isfunction):
            if inspect.iscoroutinefunction(fn):
                setattr(emitter, name, AsyncMock())
        emitter.set_chat_settings = Mock()  # ChainlitEmitter's is sync (the base declares it async)
        emitter.session = session
        self.emitter = emitter
        context_var.set(ChainlitContext(session, emitter=emitter))

    def texts(self) -> list[str]:
        calls = self.emitter.send_step.call_args_list + self.emitter.update_step.call_args_list
        return [c.args[0].get("output", "") or "" for c in calls]

    def text(self) -> str:
        return "\n".join(self.texts())

    def step_names(self) -> list[str]:
        return [c.args[0].get("name", "") for c in self.emitter.send_step.call_args_list]

    def actions(self) -> list[dict[str, Any]]:
        return [c.args[1] for c in self.emitter.emit.call_args_list if c.args[0] == "action"]


def message(content: str, elements: list[Any] | None = None):
    import chainlit as cl

    return cl.Message(content=content, author="user", type="user_message", elements=elements or [])


def decisions() -> list[Decision]:
    with session_scope() as s:
        return list(s.exec(select(Decision)))


async def test_chat_start_shows_backend_and_client(app, shop) -> None:
    ui = FakeUI("alice")
    await app.on_chat_start()
    assert "offline (no model configured)" in ui.text()
    assert f"Client: **{shop}**" in ui.text()
    settings = ui.emitter.set_chat_settings.call_args.args[0]
    assert settings["client"] == shop


async def test_intents_answer_from_tools(app, shop) -> None:
    ui = FakeUI("victor")
    await app.on_chat_start()
    await app.on_message(message("KPI status"))
    assert "KPI status as of" in ui.text() and "Offline" in ui.text()
    await app.on_message(message("Show conversion rate"))
    assert "Conversion rate" in ui.text()
    await app.on_message(message("Today's checks"))
    assert "Today's checks for shop" in ui.text()
    await app.on_message(message("Show evidence"))
    assert "No evidence records yet" in ui.text()


async def test_cycle_viewer_refused_approver_recorded(app, shop) -> None:
    ui = FakeUI("alice", sid="s-alice")
    await app.on_chat_start()
    await app.on_message(message("Run the weekly cycle"))
    names = ui.step_names()
    assert any("SUGGEST_PLAYS" in n for n in names) and any("INGEST_METRICS" in n for n in names)
    assert "Why it triggered" in ui.text() and "KPI values vs thresholds" in ui.text()
    offered = ui.actions()
    run_ids = list(dict.fromkeys(a["payload"]["play_run_id"] for a in offered))
    assert {a["name"] for a in offered} == {"approve", "override", "reject"} and len(run_ids) >= 2

    import chainlit as cl

    viewer = FakeUI("victor", sid="s-victor")
    await app.on_approve(cl.Action(name="approve", payload={"play_run_id": run_ids[0]}))  # a forged click
    assert "viewer" in viewer.text() and "Nothing was recorded" in viewer.text()
    assert decisions() == []

    ui = FakeUI("alice", sid="s-alice")
    await app.on_approve(cl.Action(name="approve", payload={"play_run_id": run_ids[0]}))
    assert "**approve** recorded" in ui.text()
    assert [(d.kind, d.who) for d in decisions()] == [("approve", "alice")]
    removed = [c for c in ui.emitter.emit.call_args_list if c.args[0] == "remove_action"]
    assert {c.args[1]["payload"]["play_run_id"] for c in removed} == {run_ids[0]}

    ui.emitter.send_ask_user.return_value = {"output": "halve the discount first"}
    await app.on_override(cl.Action(name="override", payload={"play_run_id": run_ids[1]}))
    assert "**override** recorded" in ui.text()
    assert ("override", "alice", "halve the discount first") in [(d.kind, d.who, d.why) for d in decisions()]

    ui.emitter.send_ask_user.return_value = {"output": "changed my mind"}
    await app.on_reject(cl.Action(name="reject", payload={"play_run_id": run_ids[0]}))
    assert "already decided" in ui.text()
    assert len(decisions()) == 2

    ui.emitter.send_ask_user.return_value = None  # no reason given: nothing recorded
    if len(run_ids) > 2:
        await app.on_reject(cl.Action(name="reject", payload={"play_run_id": run_ids[2]}))
        assert "No reason given" in ui.text() and len(decisions()) == 2

    fresh = FakeUI("alice", sid="s-reload")  # a new tab re-offers only what is still pending
    await app.on_chat_start()
    assert {a["payload"]["play_run_id"] for a in fresh.actions()} == set(run_ids[2:])


async def test_csv_upload_lists_rejected_lines(app, shop, chimera_home: Path, tmp_path: Path) -> None:
    src = (chimera_home / "configs" / "clients" / shop / "exports" / "analytics_daily.csv").read_text().splitlines()
    header, rows = src[0], src[1:6]
    col = next(i for i, c in enumerate(header.split(",")) if "session" in c.lower())
    bad = rows[2].split(",")
    bad[col] = "n/a?"
    rows[2] = ",".join(bad)
    path = tmp_path / "upload.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    ui = FakeUI("alice")
    await app.on_chat_start()
    element = Mock(path=str(path))
    element.name = "upload.csv"  # Mock(name=...) would name the mock, not the file
    await app.on_message(message("new export", [element]))
    text = ui.text()
    assert "Ingested `upload.csv`" in text and "1 rejected" in text
    assert "| 4 |" in text  # header is line 1, the third data row is line 4


async def test_new_sop_is_cited_by_next_answer(app, shop, chimera_home: Path) -> None:
    from chimera.clients import get_client
    from graphs.chat import answer

    ctx = get_client(shop)
    folder = chimera_home / "libraries" / "product"
    folder.mkdir(parents=True)
    (folder / "zebra-packaging.md").write_text(
        "# Zebra packaging\n\n## When\n\nUse zebra packaging when parcels arrive crushed.\n", encoding="utf-8")
    reply = answer(ctx, "product_commander_ai", "what about zebra packaging for crushed parcels?")
    assert "product/zebra-packaging.md" in reply.sops_cited
    assert reply.offline and "Offline" in reply.text
