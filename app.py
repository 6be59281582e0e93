"""The command center: Chainlit hooks only. Routing and text live in graphs/chat.py and graphs/ui_models.py.

Run with ``chimera chat`` (or ``chainlit run app.py`` with CHAINLIT_AUTH_SECRET set). The cycle
service is synchronous, so it runs in a worker thread; its events come back through an asyncio
queue and become one step per job. Approval buttons are never trusted: each click re-reads the
user's role on the server, and a decision is recorded by graphs.service.decide (once).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

import chainlit as cl
from chainlit.input_widget import Select

from chimera.auth import AuthUser, allowed_clients, authenticate, can_decide, get_user
from chimera.clients import get_client, list_clients
from chimera.config.messages import in_folder
from chimera.db.engine import reason as db_reason
from chimera.errors import ChimeraError, ConfigError, DecisionError
from chimera.llm.provider import backend_info
from chimera.settings import client_dir
from graphs import chat
from graphs.ui_models import (
    PlayAction,
    decision_actions,
    decision_markdown,
    event_output,
    event_title,
    follow_up_actions,
    ingest_markdown,
    outcome_markdown,
    pause_markdown,
    pending_markdown,
    resume_markdown,
    scale_markdown,
)

STARTERS = ["Run the weekly cycle", "Today's checks", "KPI status", "Why was this play suggested?",
            "Show evidence", "Weekly review", "Show conversion rate"]
_OFFERS: dict[str, dict[str, cl.Message]] = {}  # session id -> play run id -> message with the buttons
PLAY_ICONS = {"pause": "pause", "resume": "play", "scale": "trending-up"}
log = logging.getLogger(__name__)


_HISTORY_OFF: dict[str, str] = {}  # "why": the chat history's database could not be opened


def _open_history() -> Any:
    """The chat history, or None when its database cannot be opened: Chainlit calls the data layer
    hook at each request until it returns, so a raise made every login an Internal Server Error
    (nobody could chat). Without history the chat works; the welcome screen says why it is off."""
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    from chimera.chat_history import ensure_chat_schema

    try:
        url = ensure_chat_schema()
    except Exception as exc:  # the driver's error (server down, no such database) or a home not writable
        _HISTORY_OFF["why"] = db_reason(exc) if type(exc).__module__.startswith("sqlalchemy") else str(exc)
        log.warning("chat history is off: its database cannot be opened: %s", _HISTORY_OFF["why"])
        return None
    _HISTORY_OFF.pop("why", None)
    return SQLAlchemyDataLayer(conninfo=url)


if os.environ.get("CHIMERA_CHAT_HISTORY", "on") != "off":
    cl.data_layer(_open_history)


@cl.password_auth_callback
async def auth_callback(username: str, password: str) -> cl.User | None:
    user = await asyncio.to_thread(authenticate, username, password)
    if user is None:
        return None
    return cl.User(identifier=user.name, metadata={"role": user.role, "clients": user.clients})


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None = None, language: str | None = None) -> list[cl.ChatProfile]:
    starters = [cl.Starter(label=s, message=s) for s in STARTERS]
    info = backend_info()  # a misconfigured backend says why here too: an empty thread shows no welcome message
    backend = f"\n\nModel backend — **{info.label}**" + (f": {info.problem}" if info.problem else "")
    if why := _HISTORY_OFF.get("why"):
        backend += (f"\n\nChat history is **off**: its database cannot be opened ({why}). Restart the "
                    "command center once it answers.")
    return [cl.ChatProfile(name=p.name, markdown_description=p.markdown_description + backend, starters=starters,
                           icon=chat.profile_icon(p), default=p.commander is None) for p in chat.profiles()]


async def _failure_said(what: str, call: Awaitable[Any]) -> cl.Message | None:
    """Await ``call``; a failure becomes one chat line (returned): a person's mistake or a known outage
    (ChimeraError: the database down, a broken config) in its own words, anything else as its kind,
    logged in full. Chainlit would show ``str(exc)`` in an error box: a SQLAlchemy error's text is its
    SQL, parameters and a link, and a known outage also went to the server log as a traceback."""
    try:
        await call
        return None
    except ChimeraError as exc:
        log.warning("%s: %s", what, exc)
        said = cl.Message(content=f"⚠️ {_whose(exc)}", author="Command Center")
    except Exception as exc:
        log.exception("%s failed", what)
        detail = db_reason(exc) if type(exc).__module__.startswith("sqlalchemy") else type(exc).__name__
        said = cl.Message(author="Command Center", content=(
            f"⚠️ {what[0].upper() + what[1:]} failed ({detail}). The details are in the server log; "
            "try again, and tell your admin if it keeps failing."))
    await said.send()
    return said


def _whose(exc: ChimeraError) -> ChimeraError:
    """A config error naming the chat's client's files by path (``configs/clients/acme/kpis.yml:21``),
    as the CLI does: ``kpis.yml:21`` is every client's kpis.yml."""
    client = cl.user_session.get("client")
    if not isinstance(exc, ConfigError) or not client:
        return exc
    return ConfigError(in_folder(exc.problems, client_dir(client)))


def _guarded(what: str) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[None]]]:
    """A handler whose failure is one chat line (``_failure_said``). It returns None: Chainlit puts an
    action callback's return value in a JSON reply."""
    def wrap(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(handler)  # Chainlit reads the handler's parameters through __wrapped__
        async def guarded(*args: Any, **kwargs: Any) -> None:
            await _failure_said(what, handler(*args, **kwargs))
        return guarded
    return wrap


def _auth_user() -> AuthUser | None:
    """The logged-in user as defined now (role re-read on the server, never from the browser)."""
    user = cl.user_session.get("user")
    return get_user(user.identifier) if user is not None else None


def _granted(user: AuthUser | None) -> list[str]:
    if user is None:
        return []
    allowed = allowed_clients(user)
    return [c for c in list_clients() if allowed is None or c in allowed]


def _no_client_text(user: AuthUser | None) -> str:
    """Why there is no client to chat about: none set up yet (a fresh install: the admin is told how to
    add one, not to ask an admin), or none granted to this user."""
    if user is not None and allowed_clients(user) is None and not list_clients():
        return ("No client is set up yet. Create one, then reload this page: `chimera demo` adds the demo "
                "client, `chimera client add NAME` your own shop.")
    return "No client is granted to you (ask an admin: `chimera user add NAME --clients ...`)."


async def _start(resumed: bool = False, sent: list[cl.Message] | None = None) -> None:
    """Pick the client and greet; each message sent is also appended to ``sent``."""
    sent = [] if sent is None else sent
    user = _auth_user()
    clients = await asyncio.to_thread(_granted, user)
    info = backend_info()
    if not clients:  # a resumed thread's client (its metadata) may be gone or no longer granted
        cl.user_session.set("client", None)
        sent.append(cl.Message(content=await asyncio.to_thread(_no_client_text, user), author="Command Center"))
        await sent[-1].send()
        return
    current = cl.user_session.get("client")
    client = current if current in clients else clients[0]
    cl.user_session.set("client", client)
    await cl.ChatSettings([Select(id="client", label="Client", values=clients,
                                  initial_index=clients.index(client))]).send()
    from graphs.service import pending_decisions

    pending = await asyncio.to_thread(pending_decisions, client, allowed_clients(user) if user else [])
    if not pending and not resumed:
        return  # an empty thread keeps the welcome screen: profile, model backend and the starters
    role = user.role if user else "viewer"
    sent.append(cl.Message(author="Command Center", content=(
        f"{'Welcome back' if resumed else 'Welcome'}, **{user.name if user else '?'}** ({role}). "
        f"Client: **{client}** · model backend: **{info.label}**"
        + (f" — {info.problem}" if info.problem else "")
        + "\n\nAsk about KPIs, evidence, a play or the *Weekly review*, type *Run the weekly cycle*, or drop a CSV "
          "export here.")))
    await sent[-1].send()
    sent += await _offer_pending(client, user, pending)


@cl.on_chat_start
@_guarded("opening the chat")
async def on_chat_start() -> None:
    await _start()


@cl.on_chat_resume
async def on_chat_resume(thread: dict[str, Any]) -> None:
    """Greet again and re-offer what is pending. Chainlit sends the browser the thread it loaded before
    this ran, and the browser replaces the messages on screen with it: what this sent was wiped (the
    welcome back and every Approve button, stored but shown only at the next visit). They go into that
    thread too (the buttons are kept apart by the browser and come back with their messages)."""
    sent: list[cl.Message] = []
    failed = await _failure_said("resuming the chat", _start(resumed=True, sent=sent))
    thread["steps"] = [*(thread.get("steps") or []), *(m.to_dict() for m in [*sent, *([failed] if failed else [])])]


@cl.on_settings_update
@_guarded("switching the client")
async def on_settings_update(settings: dict[str, Any]) -> None:
    """Switch the client. Chainlit sends every setting when the panel is confirmed: the same client
    again changes nothing (it re-offered each pending play, a second set of buttons per play)."""
    client = settings.get("client")
    if not client or client == cl.user_session.get("client"):
        return
    user = _auth_user()
    if client not in await asyncio.to_thread(_granted, user):
        await cl.Message(content=f"⚠️ Client **{client}** is not granted to you: still on "
                                 f"**{cl.user_session.get('client')}**.", author="Command Center").send()
        return
    cl.user_session.set("client", client)
    await cl.Message(content=f"Client switched to **{client}**.", author="Command Center").send()
    await _offer_pending(client, user)


def _actions(play_run_id: str) -> list[cl.Action]:
    payload = {"play_run_id": play_run_id}
    return [cl.Action(name="approve", payload=payload, label="Approve", icon="check"),
            cl.Action(name="override", payload=payload, label="Override", icon="pencil"),
            cl.Action(name="reject", payload=payload, label="Reject", icon="x")]


def _play_actions(offers: list[PlayAction], user: AuthUser | None) -> list[cl.Action]:
    """Pause / resume / scale buttons, for people who may decide plays (a click is re-checked anyway)."""
    if not can_decide(user):
        return []
    return [cl.Action(name=o.kind, payload={"play_run_id": o.play_run_id}, label=o.label,
                      icon=PLAY_ICONS[o.kind]) for o in offers]


async def _offer_pending(client: str, user: AuthUser | None, pending: list[Any] | None = None) -> list[cl.Message]:
    """One message per play awaiting a decision, with buttons (re-offered after a reload: from the DB)."""
    from graphs.service import pending_decisions

    if pending is None:
        allowed = allowed_clients(user) if user else []
        pending = await asyncio.to_thread(pending_decisions, client, allowed)
    notes = await asyncio.to_thread(chat.cycle_notes, [p.run_id for p in pending if p.run_id])
    currency = await asyncio.to_thread(_currency, client) if pending else None
    sent = []
    for p in pending:
        msg = cl.Message(content=pending_markdown(p, notes.get(p.run_id or "", ""), currency), author=p.owner,
                         actions=_actions(p.play_run_id) if can_decide(user) else [])
        await msg.send()
        await _keep_offer(p.play_run_id, msg)  # a play offered again (the cycle re-run) keeps one set of buttons
        sent.append(msg)
    return sent


def _currency(client: str) -> str:
    """The client's currency (client.yml): a pending play's money reads in its smallest unit (whole
    yen), as ``chimera kpis`` shows it. Its plays were read for this user already: no grant check."""
    return get_client(client).config.currency


async def _stream(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a sync service call in a thread; render each of its events as a step while it runs."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    tasks = cl.TaskList(status="Running…")
    await tasks.send()

    def work() -> Any:
        try:
            return fn(*args, on_event=lambda e: loop.call_soon_threadsafe(queue.put_nowait, e), **kwargs)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    job = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        while (event := await queue.get()) is not None:
            title = event_title(event)
            async with cl.Step(name=title, type="tool") as step:
                step.input = {k: event.get(k) for k in ("node", "job", "type", "play_run_id") if event.get(k)}
                step.output = event_output(event)
            status = cl.TaskStatus.FAILED if event.get("status") == "failed" else (
                cl.TaskStatus.RUNNING if event.get("status") == "waiting" else cl.TaskStatus.DONE)
            await tasks.add_task(cl.Task(title=title, status=status))
            await tasks.send()
        result = await job
    except asyncio.CancelledError:  # the Stop button: the worker thread cannot be stopped, and goes on
        tasks.status = "Stopped following: it goes on on the server"
        await tasks.send()
        await cl.Message(author="Command Center", content=(
            "⏹ Stopped following it here, but it goes on on the server: a run is never cut halfway (a "
            "decision recorded runs its jobs). Reload the page to see where it got to; plays still awaiting "
            "a decision are offered again.")).send()
        raise
    except BaseException:
        tasks.status = "Failed"
        await tasks.send()
        raise
    tasks.status = "Same run as before" if getattr(result, "reused", False) else (
        "Awaiting decisions" if getattr(result, "pending", None) else "Done")
    await tasks.send()
    return result


async def _run_cycle(client: str, user: AuthUser | None) -> None:
    from graphs.service import run_cycle

    allowed = allowed_clients(user) if user else []
    outcome = await _stream(run_cycle, client, who=user.name if user else "chat", allowed=allowed)
    await cl.Message(content=outcome_markdown(outcome), author="Command Center").send()
    await _offer_pending(client, user, outcome.pending)


def _ingest_upload(client: str, allowed: list[str] | None, path: str, name: str) -> str:
    """Ingest an upload under the name it was sent with. Chainlit stores it as ``.files/<session>/<uuid>.csv``:
    that name went into the ingest log (``chimera daily`` listed a failed upload by it) and every error
    began with the server's path. A hard link (a copy across file systems) in a folder of its own carries
    the person's name; the error text names the file as they know it."""
    import shutil
    import uuid
    from pathlib import Path

    from chimera.ingest.service import ingest_file

    ctx = get_client(client, allowed)
    src = Path(path)
    folder = src.parent / f"upload-{uuid.uuid4().hex}"
    base = Path(name.replace("\x00", "")).name
    named = folder / (base if base not in ("", "..") else src.name)
    folder.mkdir()
    try:
        try:
            os.link(src, named)
        except OSError:
            shutil.copyfile(src, named)
        return ingest_markdown(name, ingest_file(ctx, named))
    except ChimeraError as exc:
        text = str(exc).replace(str(named), name).replace(str(src), name)
        return f"⚠️ `{name}` was not ingested: {text}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _ingest(client: str, user: AuthUser | None, files: list[Any]) -> None:
    """Each uploaded export in turn, in a step that shows it is being read until its summary comes."""
    allowed = allowed_clients(user) if user else []
    for f in files:
        async with cl.Step(name=f"Ingesting {f.name}", type="tool") as step:
            text = await asyncio.to_thread(_ingest_upload, client, allowed, f.path, f.name)
            step.output = text.splitlines()[0]
        await cl.Message(content=text, author="infra_commander_ai").send()


@cl.on_message
@_guarded("answering your message")
async def on_message(message: cl.Message) -> None:
    user = _auth_user()
    client = cl.user_session.get("client")
    if not client:
        await cl.Message(content=await asyncio.to_thread(_no_client_text, user), author="Command Center").send()
        return
    files = [e for e in (message.elements or []) if getattr(e, "path", None)]
    if files:
        await _ingest(client, user, files)
        return
    if chat.parse_intent(message.content).kind == "cycle":
        await _run_cycle(client, user)
        return
    commander = chat.route(message.content, cl.user_session.get("chat_profile"))
    ctx = await asyncio.to_thread(get_client, client, allowed_clients(user) if user else [])
    reply = await asyncio.to_thread(chat.safe_answer, ctx, commander, message.content)
    elements: list[Any] = []
    if reply.chart_kpi:
        figure, note = await asyncio.to_thread(chat.kpi_chart, ctx, reply.chart_kpi)
        if figure is not None:
            elements.append(cl.Plotly(name=reply.chart_kpi, figure=figure, display="inline"))
        else:
            reply.text += "\n\n" + note
    await cl.Message(content=reply.text, author=commander, elements=elements,
                     actions=_play_actions(reply.actions, user)).send()


async def _may_decide(user: AuthUser | None) -> bool:
    """True for approvers and admins; a viewer (or a forged action call) is told nothing was recorded."""
    if can_decide(user):
        return True
    await cl.Message(content=f"⛔ {user.name if user else 'This session'} is a viewer: only approvers and "
                             "admins can decide plays. Nothing was recorded.", author="Command Center").send()
    return False


async def _reason(kind: str, play_run_id: str, hint: str = "") -> str:
    """The reason a person gives for ``kind`` (required: recorded with who); "" when none was given."""
    asked = await cl.AskUserMessage(content=f"Why do you {kind} play run `{play_run_id}`? (required){hint}",
                                    timeout=600).send()
    why = ((asked or {}).get("output") or "").strip()
    if not why:
        await cl.Message(content=f"No reason given: the {kind} was not recorded.", author="Command Center").send()
    return why


_PARAM = re.compile(r"""(?<![\w.?&/])([A-Za-z_]\w*)\s*=\s*("[^"]*"|\[[^\]]*\]|[^\s,;]+)""")


def override_params(why: str) -> dict[str, Any] | None:
    """The step parameters an override's reason sets as ``name=value`` (``variants=3``, ``tone="calm"``,
    ``channels=[email, sms]``); None when it sets none (the play runs as suggested). A value reads as
    JSON when it is JSON (numbers, true / false, quoted text), else as the text written. The CLI's
    ``--params``: the Override button ran the play unchanged, an approve with another name."""
    params: dict[str, Any] = {}
    for key, raw in _PARAM.findall(why):
        value = raw if raw.startswith(('"', "[")) else raw.rstrip(".:)")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value.strip("[]").split(",") if value.startswith("[") else value
        if isinstance(params[key], list):
            params[key] = [v.strip() if isinstance(v, str) else v for v in params[key]]
    return params or None


def _step_params(play_run_id: str, allowed: list[str] | None) -> list[str]:
    """The step parameters of the run's play (plays.yml), named in the override prompt; [] if unknown."""
    from chimera.db.engine import session_scope
    from chimera.db.models import PlayRun
    from chimera.plays.revert import client_of_run

    try:
        with session_scope() as s:
            run = s.get(PlayRun, play_run_id)
            play_id = run.play_id if run is not None else ""
        configs = get_client(client_of_run(play_run_id).name, allowed).configs
        return sorted({k for step in configs.play(play_id).job_plan for k in step.params})
    except ChimeraError:
        return []


def _override_hint(names: list[str]) -> str:
    example = f"`{names[0]}=...`" if names else "`name=value`"
    return ("\n\nTo change what it does, write step parameters in the reason as " + example
            + (f" (this play's: {', '.join(f'`{n}`' for n in names)})" if names else "")
            + "; without any, it runs as suggested.")


def _still_pending(play_run_id: str, user: AuthUser) -> bool:
    from graphs.service import pending_decisions

    client = cl.user_session.get("client")
    pending = pending_decisions(client, allowed_clients(user)) if client else []
    return any(p.play_run_id == play_run_id for p in pending)


async def _decide(action: cl.Action, kind: str) -> None:
    user = _auth_user()
    play_run_id = str((action.payload or {}).get("play_run_id", ""))
    if not await _may_decide(user):
        return
    assert user is not None
    why, params = "", None
    hint = _override_hint(await asyncio.to_thread(_step_params, play_run_id, allowed_clients(user))) \
        if kind == "override" else ""
    if kind in ("override", "reject") and not (why := await _reason(kind, play_run_id, hint)):
        return
    if kind == "override":
        params = override_params(why)
    from graphs.service import decide

    try:
        outcome = await _stream(decide, play_run_id, kind, who=user.name, why=why, params=params,
                                allowed=allowed_clients(user))
    except DecisionError as exc:
        if await asyncio.to_thread(_still_pending, play_run_id, user):  # e.g. a parameter its steps lack
            await cl.Message(content=f"⚠️ {exc}. The play still awaits a decision: its buttons stay.",
                             author="Command Center").send()
            return
        await cl.Message(content=f"⚠️ {exc}. (Decided in another tab, or a second click?)",
                         author="Command Center").send()
        await _remove_buttons(play_run_id, action)
        return
    await _remove_buttons(play_run_id, action)
    await cl.Message(content=decision_markdown(play_run_id, kind, user.name, why, outcome), author="Command Center",
                     actions=_play_actions(decision_actions(play_run_id, outcome), user)).send()


async def _pause_or_resume(action: cl.Action, kind: str) -> None:
    """Pause or resume a play run from its button: a decision like approve, so the same role check and
    a required reason; recorded with the chat user as who (``chimera play pause`` / ``resume``)."""
    user = _auth_user()
    play_run_id = str((action.payload or {}).get("play_run_id", ""))
    if not await _may_decide(user) or not (why := await _reason(kind, play_run_id)):
        return
    assert user is not None
    args = (play_run_id, kind, user.name, why, allowed_clients(user))
    try:
        outcome = await (_stream(chat.pause_or_resume, *args) if kind == "resume"
                         else asyncio.to_thread(chat.pause_or_resume, *args))
    except ChimeraError as exc:
        await cl.Message(content=f"⚠️ {exc}", author="Command Center").send()
        return
    await action.remove()
    text = pause_markdown(outcome) if kind == "pause" else resume_markdown(outcome)
    await cl.Message(content=text, author="Command Center",
                     actions=_play_actions(follow_up_actions(outcome), user)).send()


async def _scale(action: cl.Action) -> None:
    """Scale a play that worked from its button: a decision like pause, so the same role check and a
    required reason; the new run is a suggestion offered with the approve / override / reject buttons."""
    user = _auth_user()
    play_run_id = str((action.payload or {}).get("play_run_id", ""))
    if not await _may_decide(user) or not (why := await _reason("scale", play_run_id)):
        return
    assert user is not None
    try:
        outcome = await asyncio.to_thread(chat.scale_play, play_run_id, user.name, why, allowed_clients(user))
    except ChimeraError as exc:
        await cl.Message(content=f"⚠️ {exc}", author="Command Center").send()
        return
    await action.remove()
    pending = outcome.status == "suggested"
    msg = cl.Message(content=scale_markdown(outcome, buttons=pending), author="Command Center",
                     actions=_actions(outcome.play_run_id) if pending else [])
    await msg.send()
    if pending:
        await _keep_offer(outcome.play_run_id, msg)


async def _keep_offer(play_run_id: str, msg: cl.Message) -> None:
    """``msg`` now carries the run's decision buttons (an older offer of the same run loses its own)."""
    offers = _OFFERS.setdefault(cl.context.session.id, {})
    older = offers.get(play_run_id)
    if older is not None and older is not msg:
        await older.remove_actions()
    offers[play_run_id] = msg


async def _remove_buttons(play_run_id: str, action: cl.Action) -> None:
    msg = _OFFERS.get(cl.context.session.id, {}).pop(play_run_id, None)
    if msg is not None:
        await msg.remove_actions()
    else:
        await action.remove()


@cl.action_callback("approve")
@_guarded("the approve")
async def on_approve(action: cl.Action) -> None:
    await _decide(action, "approve")


@cl.action_callback("override")
@_guarded("the override")
async def on_override(action: cl.Action) -> None:
    await _decide(action, "override")


@cl.action_callback("reject")
@_guarded("the reject")
async def on_reject(action: cl.Action) -> None:
    await _decide(action, "reject")


@cl.action_callback("pause")
@_guarded("the pause")
async def on_pause(action: cl.Action) -> None:
    await _pause_or_resume(action, "pause")


@cl.action_callback("resume")
@_guarded("the resume")
async def on_resume(action: cl.Action) -> None:
    await _pause_or_resume(action, "resume")


@cl.action_callback("scale")
@_guarded("the scale")
async def on_scale(action: cl.Action) -> None:
    await _scale(action)
