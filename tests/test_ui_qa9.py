"""QA9: the command center as a shop operator uses it, through the Chainlit handlers (TESTING.md
layer 4: a fake session and emitter, the real services and database).

- A failure (the database down, an unexpected error) is one clear chat line, never Chainlit's error
  box with an exception's raw text (a SQLAlchemy error's SQL and parameters) or a bare crash.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import chainlit as cl
import pytest
from sqlalchemy.exc import OperationalError

from chimera.db.engine import dispose_all
from tests.test_app_handlers import FakeUI, app, decisions, message, shop  # noqa: F401 - fixtures


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def task_statuses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each TaskList status as sent, in order: the progress a long-running action shows."""
    sent: list[str] = []
    real = cl.TaskList.send

    async def send(self: cl.TaskList) -> None:
        sent.append(self.status)
        await real(self)

    monkeypatch.setattr(cl.TaskList, "send", send)
    return sent


async def test_the_database_down_is_one_clear_line_in_every_handler(
    app, shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    ui = FakeUI("alice")
    await app.on_chat_start()
    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/test")
    dispose_all()
    await app.on_chat_start()
    await app.on_message(message("KPI status"))
    response = await app.on_approve(cl.Action(name="approve", payload={"play_run_id": "0123456789ab"}))
    assert response is None, "Chainlit sends an action callback's return value as JSON"
    await app.on_settings_update({"client": "another-shop"})
    texts = ui.texts()
    assert len(texts) == 4 and all(t.startswith("⚠️ the database cannot be reached") for t in texts), texts
    assert not any("s3cret" in t for t in texts)
    assert "Traceback" not in caplog.text


async def test_an_unexpected_error_says_what_failed_without_its_sql(
    app, shop, task_statuses: list[str], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    caplog: pytest.LogCaptureFixture) -> None:
    def locked(*_a, **_k):
        raise OperationalError("UPDATE job SET status=? WHERE job.id = ?", ("running", "secret-id"),
                               Exception("database is locked"))

    monkeypatch.setattr("graphs.service.run_cycle", locked)
    ui = FakeUI("alice")
    await app.on_chat_start()
    await app.on_message(message("Run the weekly cycle"))
    text = ui.text()
    assert "⚠️ Answering your message failed (database is locked)" in text and "server log" in text
    assert "UPDATE job" not in text and "secret-id" not in text and "sqlalche.me" not in text
    assert task_statuses[-1] == "Failed", "the progress list says the run failed"
    assert "answering your message failed" in caplog.text, "the full error is logged for the admin"


# --------------------------------------------------------------------------- starting a chat: no client


async def test_a_fresh_install_says_how_to_add_a_client_not_to_ask_an_admin(app, chimera_home: Path) -> None:  # noqa: F811
    ui = FakeUI("alice")  # granted every client (no list): the first user of a fresh install
    await app.on_chat_start()
    await app.on_message(message("KPI status"))
    assert len(ui.texts()) == 2
    assert all("No client is set up yet" in t and "`chimera demo`" in t and "chimera client add" in t
               for t in ui.texts())
    assert "ask an admin" not in ui.text()


async def test_a_user_granted_no_existing_client_is_told_to_ask_an_admin(
    app, shop, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("CHIMERA_USERS", "bob:bob-pass-1:approver:other-shop")
    ui = FakeUI("bob")
    await app.on_chat_start()
    await app.on_message(message("KPI status"))
    assert len(ui.texts()) == 2 and all("No client is granted to you (ask an admin" in t for t in ui.texts())
    assert ui.emitter.set_chat_settings.call_count == 0, "no client picker without a client"


async def test_a_resumed_thread_whose_client_is_no_longer_granted_answers_nothing_of_it(
    app, shop, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    ui = FakeUI("bob", sid="s-revoked")
    cl.user_session.set("client", shop)  # Chainlit restores the thread's metadata into the session
    monkeypatch.setenv("CHIMERA_USERS", "bob:bob-pass-1:approver:other-shop")
    await app.on_chat_resume({"id": "thread-s-revoked", "metadata": {"client": shop}})
    await app.on_message(message("KPI status"))
    assert len(ui.texts()) == 2 and all("No client is granted to you" in t for t in ui.texts()), ui.texts()


# --------------------------------------------------------------------------- several clients: picking one


@pytest.fixture
def two_shops(shop: str) -> tuple[str, str]:  # noqa: F811
    """Two demo clients, each with a cycle awaiting decisions."""
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    other = ensure_demo_client("zeta")[0].name
    for name in (shop, other):
        run_cycle(name)
    return shop, other


def _offered(ui: FakeUI) -> list[str]:
    return [a["payload"]["play_run_id"] for a in ui.actions() if a["name"] == "approve"]


async def test_picking_a_client_offers_its_plays_once_and_answers_about_it(app, two_shops) -> None:  # noqa: F811
    from graphs.service import pending_decisions

    first, second = two_shops
    ui = FakeUI("alice", sid="s-two")
    await app.on_chat_start()
    settings = ui.emitter.set_chat_settings.call_args.args[0]
    assert settings["client"] == first
    assert f"Client: **{first}**" in ui.text()
    assert _offered(ui) == [p.play_run_id for p in pending_decisions(first)]

    await app.on_settings_update({"client": second})
    assert f"Client switched to **{second}**" in ui.text()
    assert _offered(ui)[-len(pending_decisions(second)):] == [p.play_run_id for p in pending_decisions(second)]
    before = (len(ui.texts()), len(ui.actions()))
    await app.on_settings_update({"client": second})  # the settings panel confirmed without a change
    assert (len(ui.texts()), len(ui.actions())) == before, "no second set of buttons for the same plays"

    await app.on_message(message("Today's checks"))
    assert f"Today's checks for {second}" in ui.texts()[-1]
    picked = pending_decisions(second)[0].play_run_id
    await app.on_approve(cl.Action(name="approve", payload={"play_run_id": picked}))
    assert ("approve", "alice") in [(d.kind, d.who) for d in decisions()]


async def test_a_client_not_granted_is_refused_by_name_and_the_current_one_kept(
    app, two_shops, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    first, second = two_shops
    monkeypatch.setenv("CHIMERA_USERS", f"bob:bob-pass-1:approver:{first}")
    ui = FakeUI("bob", sid="s-bob")
    await app.on_chat_start()
    await app.on_settings_update({"client": second})  # a forged settings event
    assert f"Client **{second}** is not granted to you: still on **{first}**" in ui.text()
    assert cl.user_session.get("client") == first


# --------------------------------------------------------------------------- the model backend, as shown


@pytest.mark.parametrize("env, label, why", [
    ({}, "offline (no model configured)", None),
    ({"CHIMERA_LLM": "openai"}, "offline (openai selected but not configured)", "needs OPENAI_API_KEY"),
    ({"CHIMERA_LLM": "gpt4"}, "offline (model backend misconfigured)", "expected one of"),
])
async def test_the_welcome_screen_says_the_backend_and_why_it_is_offline(
    app, shop, env: dict[str, str], label: str, why: str | None, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ui = FakeUI("alice", sid="s-backend")
    await app.on_chat_start()
    assert ui.texts() == [], "an empty thread keeps the welcome screen: the profile is where it is said"
    for profile in await app.chat_profiles():
        assert f"Model backend — **{label}**" in profile.markdown_description
        assert why is None or why in profile.markdown_description
    await app.on_message(message("KPI status"))
    assert ui.texts()[-1].startswith(f"_Offline ({label[len('offline ('):-1]}): answered from the tools._")


# --------------------------------------------------------------------------- uploads: names and progress


def _upload(folder: Path, name: str, data: bytes):
    """A file as Chainlit hands it over: stored under a uuid in the session's folder, sent as ``name``."""
    from unittest.mock import Mock

    path = folder / ".files" / "session-1" / "0f2c9d4e-5b1a-4c3e-9f7d-2a6b8c1d3e4f.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    element = Mock(path=str(path))
    element.name = name  # Mock(name=...) would name the mock, not the file
    return element


async def test_an_upload_is_ingested_and_logged_under_the_name_it_was_sent_with(
    app, shop, chimera_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from sqlmodel import select

    import chimera.ingest.service as service
    from chimera.db.engine import session_scope
    from chimera.db.models import IngestRun

    export = (chimera_home / "configs" / "clients" / shop / "exports" / "analytics_daily.csv").read_bytes()
    name = "Analytics März – Woche 48 😀.csv"
    element = _upload(tmp_path, name, export)
    ui = FakeUI("alice", sid="s-upload")
    await app.on_chat_start()
    steps_when_read: list[list[str]] = []
    real = service.ingest_file

    def ingest_file(*args, **kwargs):
        steps_when_read.append(ui.step_names())
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "ingest_file", ingest_file)
    await app.on_message(message("this week's analytics", [element]))
    assert steps_when_read == [[f"Ingesting {name}"]], "the step shows while the file is read"
    assert f"**Ingested `{name}`** as `analytics_daily`" in ui.text()
    with session_scope() as s:
        assert [r.file_name for r in s.exec(select(IngestRun))] == [name]
    assert sorted(p.name for p in Path(element.path).parent.iterdir()) == [Path(element.path).name], \
        "the named link is removed; Chainlit removes the upload with its session"


async def test_an_upload_that_is_no_export_names_the_file_not_the_servers_path(
    app, shop, tmp_path: Path  # noqa: F811
) -> None:
    element = _upload(tmp_path, "logo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    ui = FakeUI("alice", sid="s-upload-bad")
    await app.on_chat_start()
    await app.on_message(message("", [element]))
    said = "⚠️ `logo.csv` was not ingested: logo.csv: line 1: not a known export"
    assert any(t.startswith(said) for t in ui.texts()), ui.texts()
    assert ".files" not in ui.text() and str(tmp_path) not in ui.text()


# --------------------------------------------------------------------------- deciding through the buttons


@pytest.fixture
def cycled(shop: str) -> dict[str, str]:  # noqa: F811
    """The demo shop's cycle awaiting decisions: play id -> play run id."""
    from graphs.service import pending_decisions, run_cycle

    run_cycle(shop)
    return {p.play_id: p.play_run_id for p in pending_decisions(shop)}


def _removed(ui: FakeUI) -> set[str]:
    return {c.args[1]["payload"]["play_run_id"] for c in ui.emitter.emit.call_args_list if c.args[0] == "remove_action"}


async def test_override_changes_what_the_play_does_and_a_misspelt_parameter_keeps_the_buttons(
    app, cycled: dict[str, str]  # noqa: F811
) -> None:
    from chimera.db.engine import session_scope
    from chimera.db.models import PlayRun

    run_id = cycled["winback_email"]
    ui = FakeUI("alice", sid="s-override")
    await app.on_chat_start()
    ui.emitter.send_ask_user.return_value = {"output": "varaints=3: two subject lines are too few"}
    await app.on_override(cl.Action(name="override", payload={"play_run_id": run_id}))
    prompt = ui.emitter.send_ask_user.call_args.args[0]["output"]
    assert "`variants`" in prompt and "without any, it runs as suggested" in prompt
    assert "no step parameter 'varaints' (did you mean 'variants'?)" in ui.text()
    assert "its buttons stay" in ui.text() and decisions() == [] and run_id not in _removed(ui)

    why = "variants=3 — two subject lines are too few for a list this cold"
    ui.emitter.send_ask_user.return_value = {"output": why}
    await app.on_override(cl.Action(name="override", payload={"play_run_id": run_id}))
    assert "**override** recorded" in ui.text() and run_id in _removed(ui)
    assert [(d.kind, d.who, d.why) for d in decisions()] == [("override", "alice", why)]
    with session_scope() as s:
        run = s.get(PlayRun, run_id)
        assert run is not None and run.rationale["override_params"] == {"variants": 3}


def test_override_params_are_read_from_the_reason(app) -> None:  # noqa: F811
    override_params = app.override_params
    assert override_params("halve the discount first") is None
    assert override_params("see https://shop.example/?utm_source=mail, it converts") is None
    assert override_params('variants=3, tone="calm and short"; offer=none.') == \
        {"variants": 3, "tone": "calm and short", "offer": "none"}
    assert override_params("change_pct = -2.5 since the holiday week") == {"change_pct": -2.5}
    assert override_params("channels=[email, sms] both") == {"channels": ["email", "sms"]}


async def test_approve_shows_its_progress_and_reject_records_a_non_ascii_reason(
    app, cycled: dict[str, str], task_statuses: list[str]  # noqa: F811
) -> None:
    approve_id, reject_id = cycled["checkout_friction_audit"], cycled["loyalty_nudge"]
    ui = FakeUI("alice", sid="s-decide")
    await app.on_chat_start()
    steps_before = len(ui.step_names())
    await app.on_approve(cl.Action(name="approve", payload={"play_run_id": approve_id}))
    assert any("PLAN_JOB_QUEUE_FOR_PLAY" in n for n in ui.step_names()[steps_before:]), "one step per job"
    assert task_statuses[0] == "Running…" and task_statuses[-1] == "Awaiting decisions", task_statuses

    why = "Zu früh: erst nach dem Black-Friday-Wochenende 🛍️ — 先に在庫を確認"
    ui.emitter.send_ask_user.return_value = {"output": f"  {why}\n"}
    await app.on_reject(cl.Action(name="reject", payload={"play_run_id": reject_id}))
    assert f"**reject** recorded for `loyalty_nudge` (play run `{reject_id}`) by **alice** — reason: {why}" in ui.text()
    assert ("reject", "alice", why) in [(d.kind, d.who, d.why) for d in decisions()]
    assert {approve_id, reject_id} <= _removed(ui)


# --------------------------------------------------------------------------- a model server that is down


async def test_a_model_server_that_is_down_gets_the_offline_answer_saying_so(
    app, shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    monkeypatch.delenv("CHIMERA_LLM")
    port = _closed_port()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    ui = FakeUI("alice", sid="s-model-down")
    await app.on_chat_start()
    profile = (await app.chat_profiles())[0].markdown_description
    assert f"openai-compatible gpt-4o-mini at 127.0.0.1:{port}" in profile
    await app.on_message(message("how should we price bundles?"))
    reply = ui.texts()[-1]
    assert reply.startswith("_Offline: answered from the tools; the model (openai-compatible")
    assert "model unavailable after" in reply and "offline answer shown" in reply
    assert "**Commerce Commander** on “how should we price bundles?”" in reply
    await app.on_message(message("Run the weekly cycle"))
    assert "model unavailable" in ui.text() and ui.actions(), "the cycle still offers its plays"
    assert "Traceback" not in caplog.text and not any(t.startswith("⚠️") for t in ui.texts())


# --------------------------------------------------------------------------- non-ASCII and odd input


@pytest.mark.parametrize("text, said", [
    ("Show conversion rate 📈", "Conversion rate"),
    ("KPI status\u200b", "KPI status as of"),  # a zero-width space pasted with the text
    ("\u00a0KPI\u00a0status", " for shop**"),  # no-break spaces; the table names its client
    ("Wie ist die Konversionsrate? 📈", "on “Wie ist die Konversionsrate? 📈”"),
    ("Как дела с конверсией?", "on “Как дела с конверсией?”"),  # was: the help text (no a-z words)
    ("转化率怎么样？", "on “转化率怎么样？”"),
    ("ＫＰＩ ｓｔａｔｕｓ", "KPI status as of"),  # full-width letters (NFKC)
    ("Wie läuft \u202eder Umsatz\u0000?", "on “Wie läuft der Umsatz ?”"),  # no control characters echoed
    ("why was café_promo suggested?", "There is no play `café_promo`"),
    ("   ", "Ask me about **shop**"),
])
async def test_non_ascii_and_odd_messages_get_a_tool_answer(app, shop, text: str, said: str) -> None:  # noqa: F811
    ui = FakeUI("victor", sid="s-unicode")
    await app.on_chat_start()
    await app.on_message(message(text))
    reply = ui.texts()[-1]
    assert reply.startswith("_Offline (no model configured): answered from the tools._"), reply
    assert said in reply, reply


# --------------------------------------------------------------------------- resuming a chat from history


async def test_a_resumed_thread_keeps_its_client_and_reoffers_what_is_still_pending(app, two_shops) -> None:  # noqa: F811
    from graphs.service import pending_decisions

    first, second = two_shops
    ui = FakeUI("alice", sid="s-resume")
    cl.user_session.set("client", second)  # Chainlit puts the thread's metadata back into the session
    old = {"id": "s-old", "type": "assistant_message", "output": "an earlier answer"}
    thread = {"id": "thread-s-resume", "metadata": {"client": second}, "steps": [old]}
    await app.on_chat_resume(thread)
    assert ui.emitter.set_chat_settings.call_args.args[0]["client"] == second
    assert f"Welcome back, **alice** (approver). Client: **{second}**" in ui.text()
    assert _offered(ui) == [p.play_run_id for p in pending_decisions(second)]
    assert not set(_offered(ui)) & {p.play_run_id for p in pending_decisions(first)}
    # Chainlit then sends the browser this thread, which replaces what is on screen: what the resume
    # sent must be in it, or the browser wipes it (tests/e2e/test_resume_qa9.py sees it there)
    shown = [step["output"] for step in thread["steps"]]
    assert shown[0] == "an earlier answer" and shown[1].startswith("Welcome back, **alice**")
    assert shown[2:] == [t for t in ui.texts() if t.startswith("### #")]
    assert {a["forId"] for a in ui.actions()} == {step["id"] for step in thread["steps"][2:]}


async def test_a_resume_that_fails_says_so_in_the_thread_the_browser_shows(
    app, shop, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    FakeUI("alice", sid="s-resume-down")
    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{_closed_port()}/test")
    dispose_all()
    thread: dict = {"id": "thread-s-resume-down", "metadata": {}, "steps": None}
    await app.on_chat_resume(thread)
    assert [s["output"][:40] for s in thread["steps"]] == ["⚠️ the database cannot be reached (postg"]


# --------------------------------------------------------------------------- long runs: progress and Stop


async def test_the_stop_button_says_the_run_goes_on_on_the_server(app, task_statuses: list[str]) -> None:  # noqa: F811
    import threading

    ui = FakeUI("alice", sid="s-stop")
    release, finished = threading.Event(), threading.Event()

    def long_run(on_event) -> str:
        on_event({"node": "commerce_commander_ai", "type": "EXECUTE_PLAY_COMMERCE", "job": 7, "status": "done"})
        release.wait(10)
        finished.set()
        return "done"

    following = asyncio.ensure_future(app._stream(long_run))
    for _ in range(200):
        if ui.step_names():
            break
        await asyncio.sleep(0.01)
    assert ui.step_names() == ["commerce_commander_ai · EXECUTE_PLAY_COMMERCE #7"], "each job shows as it ends"
    following.cancel()  # what Chainlit does on Stop
    with pytest.raises(asyncio.CancelledError):
        await following
    assert task_statuses[-1] == "Stopped following: it goes on on the server"
    said = [t for t in ui.texts() if t.startswith("⏹")]
    assert len(said) == 1 and "it goes on on the server" in said[0] and "Reload the page" in said[0]
    release.set()
    assert await asyncio.to_thread(finished.wait, 10), "the run went on after the Stop"


async def test_a_play_offered_again_keeps_one_set_of_buttons(app, cycled: dict[str, str]) -> None:  # noqa: F811
    ui = FakeUI("alice", sid="s-again")
    await app.on_chat_start()  # the pending plays, offered with their buttons
    await app.on_message(message("Run the weekly cycle"))  # the same run: the same plays offered again
    offers = [a for a in ui.actions() if a["name"] == "approve"]
    assert [a["payload"]["play_run_id"] for a in offers] == 2 * list(cycled.values())
    first_offer = {a["forId"] for a in offers[:len(cycled)]}
    removed = {c.args[1]["forId"] for c in ui.emitter.emit.call_args_list if c.args[0] == "remove_action"}
    assert first_offer and first_offer <= removed, "the first cards lose their buttons to the new ones"
    await app.on_approve(cl.Action(name="approve", payload={"play_run_id": cycled["winback_email"]}))
    assert "**approve** recorded" in ui.text()


# --------------------------------------------------------------------------- chat history unavailable


async def test_a_chat_history_database_that_is_down_turns_history_off_and_says_so(
    app, shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    monkeypatch.setenv("CHIMERA_CHAT_DATABASE_URL", f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/chat")
    assert app._open_history() is None, "no data layer: Chainlit runs without history instead of failing logins"
    description = (await app.chat_profiles())[0].markdown_description
    assert "Chat history is **off**: its database cannot be opened (connection failed:" in description
    assert "s3cret" not in description and "s3cret" not in caplog.text
    monkeypatch.delenv("CHIMERA_CHAT_DATABASE_URL")
    layer = app._open_history()  # back once it answers (Chainlit asks again after a restart)
    assert layer is not None and "Chat history" not in (await app.chat_profiles())[0].markdown_description
    await layer.engine.dispose()


async def test_a_broken_client_config_names_its_file_by_path(app, shop) -> None:  # noqa: F811
    """Was: '⚠️ kpis.yml:N: ...', every client's kpis.yml; the CLI names the client's own file."""
    from chimera.clients import get_client

    ui = FakeUI("alice", sid="s-broken")
    await app.on_chat_start()
    path = get_client(shop).folder / "kpis.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("target:", "target: [", 1) + "\n", encoding="utf-8")
    await app.on_message(message("KPI status"))
    said = ui.texts()[-1]
    assert said.startswith("⚠️") and f"configs/clients/{shop}/kpis.yml:" in said, said
