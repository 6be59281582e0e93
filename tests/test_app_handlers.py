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


async def test_chat_start_keeps_the_welcome_screen_with_starters_and_the_backend(app, shop) -> None:
    ui = FakeUI("alice")
    await app.on_chat_start()
    assert ui.texts() == [], "an empty thread keeps Chainlit's welcome screen (profile + starters)"
    settings = ui.emitter.set_chat_settings.call_args.args[0]
    assert settings["client"] == shop
    profiles = await app.chat_profiles()
    root = Path(app.__file__).parent
    for profile in profiles:
        assert "offline (no model configured)" in profile.markdown_description
        assert (root / profile.icon.lstrip("/")).exists(), "the icon makes Chainlit show the description"
        assert [st.label for st in profile.starters][:2] == ["Run the weekly cycle", "Today's checks"]


async def test_chat_start_with_pending_plays_welcomes_with_backend_and_client(app, shop) -> None:
    from graphs.service import run_cycle

    await __import__("asyncio").to_thread(run_cycle, shop)
    ui = FakeUI("alice")
    await app.on_chat_start()
    assert "offline (no model configured)" in ui.text()
    assert f"Client: **{shop}**" in ui.text()
    assert ui.actions(), "pending plays come back with their buttons"


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


@pytest.mark.parametrize("text, kind, extra", [
    ("Run the weekly cycle", "cycle", {}),
    ("Today's checks", "daily", {}),
    ("KPI status", "kpis", {}),
    ("Why was winback_email suggested?", "why", {"play_id": "winback_email"}),
    ("Show evidence", "evidence", {}),
    ("Show conversion rate", "chart", {"kpi_id": "conversion_rate"}),
    ("how should we price bundles?", "question", {}),
])
def test_parse_intent(text: str, kind: str, extra: dict[str, str]) -> None:
    from graphs.chat import parse_intent

    intent = parse_intent(text)
    assert intent.kind == kind
    for key, value in extra.items():
        assert getattr(intent, key) == value


@pytest.mark.parametrize("text, commander", [
    ("should we raise prices?", "commerce_commander_ai"),
    ("traffic from email is down", "growth_commander_ai"),
    ("refunds on one product", "product_commander_ai"),
    ("is the data fresh after ingest?", "infra_commander_ai"),
    ("what is the ROI of the last play", "evidence_commander_ai"),
])
def test_route_by_keywords_and_profile(text: str, commander: str) -> None:
    from graphs.chat import COMMAND_CENTER, profiles, route

    assert route(text, COMMAND_CENTER) == commander
    growth = next(p for p in profiles() if p.commander == "growth_commander_ai")
    assert route(text, growth.name) == "growth_commander_ai"  # a commander profile always answers itself


def _chat_tables(url: str) -> None:
    import asyncio
    import uuid

    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.user import User

    from chimera.chat_history import ensure_chat_schema

    async def roundtrip() -> None:
        ui = FakeUI("alice")
        ui.emitter.session.has_first_interaction = True  # else chainlit queues writes until a message
        tid, sid = str(uuid.uuid4()), str(uuid.uuid4())
        layer = SQLAlchemyDataLayer(conninfo=ensure_chat_schema(url))
        ensure_chat_schema(url)  # idempotent
        user = await layer.create_user(User(identifier="alice", metadata={"role": "approver"}))
        assert user is not None
        await layer.update_thread(tid, name="cycle", user_id=user.id, metadata={"client": "demo"})
        await layer.create_step({"id": sid, "threadId": tid, "name": "x", "type": "tool", "output": "ok",
                                 "streaming": False, "defaultOpen": False, "autoCollapse": False, "icon": "",
                                 "command": None, "modes": {}})
        thread = await layer.get_thread(tid)
        assert thread is not None and thread["userIdentifier"] == "alice"
        assert [s["output"] for s in thread["steps"]] == ["ok"]
        await layer.engine.dispose()

    asyncio.run(roundtrip())


def test_chat_history_schema_sqlite(chimera_home: Path) -> None:
    from chimera.chat_history import chat_database_url

    url = chat_database_url()
    assert url == f"sqlite+aiosqlite:///{chimera_home / 'chat.db'}"
    _chat_tables(url)


@pytest.mark.postgres
def test_chat_history_schema_postgres(pg_url: str) -> None:
    from chimera.chat_history import chat_database_url

    url = chat_database_url()
    assert url.startswith("postgresql+psycopg://")
    _chat_tables(url)


def test_chat_command_keeps_one_secret(chimera_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chimera.cli.cmd_chat import auth_secret, chat_command

    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    first = auth_secret()
    assert len(first) >= 32 and auth_secret() == first
    path = chimera_home / ".chimera" / "chainlit_auth_secret"
    assert path.stat().st_mode & 0o777 == 0o600
    cmd = chat_command("127.0.0.1", 8123, True)
    assert cmd[1:4] == ["-m", "chainlit", "run"] and cmd[-1] == "--headless" and "8123" in cmd
