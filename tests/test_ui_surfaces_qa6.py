"""QA6: facts the core learned today, shown where people read them.

- The play panel (``chimera cycle``) and the decision card (chat, Chainlit) name each step that
  cannot be undone and why: they said only "not fully reversible" / "NO — at least one step cannot
  be undone", and a person approving had to guess which change was beyond taking back.
- The cycle's text names a play step skipped after an earlier step failed for good (it printed only
  the failed job: the skipped step looked as if it had run).
- The evidence of a failed run that applied changes says the play ran in part, naming the steps not
  applied, in its reason and in ``ran_in_part``; its verdict is not counted on the play's review record.
- The chat's daily check shows a quiet Fiverr gig's "last day" as ``chimera daily`` does, with the
  day its export came: a bare last order twelve days back read beside "0 days behind" as a contradiction.

The demo client (the project's own generator) suggests checkout_friction_audit and pricing_test on
the days the tests imported below name."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from sqlmodel import select

from agents.bots.base import NOT_REVERSIBLE, irreversible_steps
from chimera.cli.render import play_panel, print_outcome
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, Job, Play
from graphs.models import PendingDecision
from graphs.ui_models import pending_markdown
from tests.test_cycle_irreversible_named import PLAY as CHECKOUT
from tests.test_cycle_irreversible_named import Suggested, home, suggested  # noqa: F401 - fixtures
from tests.test_decisions_cli import chimera
from tests.test_job_step_failures import (
    COPY,
    PRICE_DAY,
    PRICES,
    Demo,
    _hand_made,
    _raising,
    _reject_the_others,
    _steps,
)
from tests.test_model_text_display import _play
from tests.test_rhythms_fiverr_quiet import _client, _fiverr, _ingest_at

IRREVERSIBLE = "step 2 shopify_bot.simplify_checkout_settings: Removes optional checkout fields"


def _terminal(renderable: object, width: int = 100) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(renderable)
    return out.getvalue()


def _words(text: str) -> str:
    """Text with its line breaks and panel borders as single spaces (a panel wraps long lines)."""
    return " ".join(text.replace("│", " ").split())


# --------------------------------------------------------------------------- irreversible steps, named


def _pending(seen: Suggested) -> list[PendingDecision]:
    """The cycle's pending decisions as the service builds them (``graphs.service.outcome``)."""
    from graphs.service import outcome

    return outcome(seen.doc["run_id"]).pending


def _listed() -> list[PendingDecision]:
    """The same from ``graphs.service.pending_decisions`` (what the chat and Chainlit show)."""
    from graphs.service import pending_decisions

    return pending_decisions("demo")


def _checkout(pending: list[PendingDecision]) -> PendingDecision:
    return next(p for p in pending if p.play_id == CHECKOUT)


def test_every_pending_decision_carries_its_irreversible_steps(home: Suggested) -> None:  # noqa: F811
    from chimera.clients import get_client

    configs, built, listed = get_client("demo").configs, _pending(home), _listed()
    assert [p.play_run_id for p in listed] == [p.play_run_id for p in built] == home.doc["pending"]
    assert all(p.irreversible_steps == irreversible_steps(configs, p.play_id) for p in [*built, *listed])
    steps = _checkout(listed).irreversible_steps
    assert [(s.step, s.bot, s.action) for s in steps or []] == [(2, "shopify_bot", "simplify_checkout_settings")]
    assert any(p.irreversible_steps == [] and p.reversible for p in built), "a reversible play names none"


def test_the_play_panel_names_the_step_that_cannot_be_undone(home: Suggested) -> None:  # noqa: F811
    pending = _pending(home)
    panel = _words(_terminal(play_panel(_checkout(pending).model_dump(mode="json"))))
    assert "not fully reversible: these steps cannot be undone:" in panel
    assert f"{IRREVERSIBLE} and enables express payment methods; it {NOT_REVERSIBLE}" in panel
    said = _words(home.text)  # chimera cycle prints the panel so
    assert f"these steps cannot be undone: {IRREVERSIBLE}" in said, home.text
    other = next(p for p in pending if p.reversible and not p.irreversible_steps)
    shown = _words(_terminal(play_panel(other.model_dump(mode="json"))))
    assert "; reversible" in shown and "cannot be undone" not in shown


def test_the_decision_card_lists_the_steps_as_a_list_of_their_own(home: Suggested) -> None:  # noqa: F811
    listed = _listed()
    card = pending_markdown(_checkout(listed))
    fields = card.splitlines()
    at = fields.index("**Reversible:** NO — these steps cannot be undone:")
    assert fields[at + 1].startswith("- step 2 `shopify_bot.simplify_checkout_settings`: Removes optional")
    assert NOT_REVERSIBLE in fields[at + 1]
    html = MarkdownIt("commonmark").render(card)
    item = next(i.split("</li>", 1)[0] for i in html.split("<li>") if i.startswith("step 2 "))
    assert item.startswith("step 2 <code>shopify_bot.simplify_checkout_settings</code>: Removes optional")
    assert "Rank:" not in item and "<p><strong>Rank:</strong>" in html, "the rank is no part of the list"
    other = next(p for p in listed if p.reversible and not p.irreversible_steps)
    assert "**Reversible:** yes" in pending_markdown(other).splitlines()


def _card(reversible: bool, steps: list | None) -> PendingDecision:
    fields = {k: v for k, v in _play("fine", reversible=reversible).items() if k in PendingDecision.model_fields}
    return PendingDecision(client="demo", run_id="r", as_of=date(2026, 11, 30), score=1.0, trigger=["t"],
                           irreversible_steps=steps, **fields)


def test_a_card_says_why_no_step_is_named() -> None:
    """Configs changed since the play was suggested ([]), or not readable (None: the card as before)."""
    changed, unknown = _card(False, []), _card(False, None)
    assert "**Reversible:** NO when suggested; its steps as configured now can all be undone (agents.yml or " \
           "plays.yml changed since)" in pending_markdown(changed).splitlines()
    assert "**Reversible:** NO — at least one step cannot be undone" in pending_markdown(unknown).splitlines()
    assert "when suggested; its steps as configured now can all be undone" in \
        _words(_terminal(play_panel(changed.model_dump(mode="json"))))
    plain = _words(_terminal(play_panel(unknown.model_dump(mode="json"))))
    assert "; not fully reversible" in plain and "when suggested" not in plain


def test_a_step_named_since_the_suggestion_is_shown_though_it_was_reversible() -> None:
    """The bots mark their ChangeSets by agents.yml as it is now: that is what approving applies."""
    from agents.bots.base import IrreversibleStep

    step = IrreversibleStep(step=1, bot="email_bot", action="send [now]", why="cannot be undone once sent")
    card = _card(True, [step])
    assert "- step 1 `email_bot.send [now]`: cannot be undone once sent" in pending_markdown(card)
    assert "step 1 email_bot.send [now]: cannot be undone once sent" in \
        _words(_terminal(play_panel(card.model_dump(mode="json"))))


# --------------------------------------------------------------------------- a failed play: skipped steps, evidence


@pytest.fixture
def demo(chimera_home: Path, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """The demo client after its cycle of PRICE_DAY, awaiting decisions (SQLite: the step failures
    themselves are tested on Postgres too, in tests/test_job_step_failures.py)."""
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    monkeypatch.setenv("CHIMERA_LLM", "offline")
    ensure_demo_client()
    outcome = run_cycle("demo", as_of=PRICE_DAY)
    return Demo({p.play_id: p.play_run_id for p in outcome.pending}, outcome.run_id)


def test_the_cycle_text_names_a_skipped_step_and_why(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    _raising(monkeypatch, PRICES, RuntimeError("price API down"))
    run_id = demo.pending["pricing_test"]
    approved = chimera("approve", run_id, "--who", "alice")
    assert approved.code == 0, approved.stderr
    prices, copy = _steps(run_id)
    said = _words(approved.stdout)
    assert f"job {prices.id} {prices.type} failed: RuntimeError: price API down" in said
    assert (f"job {copy.id} {copy.type} copy_bot.draft_product_descriptions cancelled: skipped: step 1 "
            f"shopify_bot.update_prices (job {prices.id}) failed for good") in said, approved.stdout


def test_a_held_step_is_not_called_skipped() -> None:
    """Only a step cancelled after a failure is printed: one a person's pause held is not an error."""
    from types import SimpleNamespace

    jobs = [{"id": 7, "type": "EXECUTE_PLAY_GROWTH", "status": "cancelled", "bot": "email_bot", "action": "send",
             "error": "held: play run paused by al on 2026-11-30: why"},
            {"id": 8, "type": "EXECUTE_PLAY_GROWTH", "status": "cancelled", "bot": "", "action": "",
             "error": "skipped: step 1 a.b (job 6) failed for good"}]
    outcome = SimpleNamespace(kpis=[], narratives=[], plays=[], pending=[], jobs=jobs, run_id="r1", status="failed",
                              model={"backend": "offline"}, client="", as_of=date(2026, 11, 30), data_problems=[])
    out = io.StringIO()
    print_outcome(Console(file=out, width=200, color_system=None), outcome)
    assert "job 7" not in out.getvalue()
    assert "job 8 EXECUTE_PLAY_GROWTH cancelled: skipped: step 1 a.b (job 6) failed for good" in out.getvalue()


def _records(run_id: str, as_of: date) -> list[dict]:
    from chimera.clients import get_client
    from chimera.evidence.record import evidence_report

    return [e for e in evidence_report(get_client("demo"), as_of=as_of)["evidence"] if e["play_run_id"] == run_id]


def _review_runs(play_id: str) -> int:
    with session_scope() as s:
        row = s.exec(select(Play).where(Play.play_id == play_id)).first()
        return int((row.record or {}).get("runs", 0)) if row is not None else 0


def test_a_failed_runs_evidence_says_it_ran_in_part_and_is_not_counted(
        demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    from chimera.clients import get_client

    put_back = _raising(monkeypatch, COPY, RuntimeError("copy service exploded"))
    run_id = demo.pending["pricing_test"]
    assert chimera("approve", run_id, "--who", "alice").code == 0
    _reject_the_others(demo)
    copy = _steps(run_id)[1]
    judged = PRICE_DAY + timedelta(days=get_client("demo").configs.play("pricing_test").evidence.delay_days + 2)
    records = _records(run_id, judged)
    assert records and all(e["verdict"] != "pending" for e in records), "final verdicts: they would count"
    part = {"text": "ran in part: step 2 copy_bot.draft_product_descriptions failed", "counted_on_review": False,
            "steps": [{"step": 2, "job": copy.id, "bot": COPY[0], "action": COPY[1], "status": "failed"}]}
    assert all(e["ran_in_part"] == part for e in records)
    assert all(f"(the play {part['text']}: only what its other steps applied is judged, and the verdict is not "
               "counted on the play's review record)" in e["reason"] for e in records)
    assert _review_runs("pricing_test") == 0
    shown = chimera("evidence", "--client", "demo", "--as-of", judged.isoformat())
    assert shown.code == 0 and "ran in part: step 2 copy_bot.draft_product_descriptions failed" in \
        _words(shown.stdout), shown.stdout

    put_back()  # the copy service is back: a pause and a resume apply the rest, and the run is whole
    from chimera.plays.pause import pause

    pause(run_id, "alice", "copy service down", on=PRICE_DAY)
    resumed = chimera("play", "resume", run_id, "--reason", "back", "--who", "alice", "--on", PRICE_DAY.isoformat())
    assert resumed.code == 0, resumed.stderr
    whole = _records(run_id, judged)
    assert whole and all(e["ran_in_part"] is None and "ran in part" not in e["reason"] for e in whole)
    assert _review_runs("pricing_test") == 1, "the whole run's final verdict counts, once"


def test_ran_in_part_names_the_failed_and_the_skipped_steps(chimera_home: Path) -> None:
    from chimera.clients import add_client
    from chimera.db.models import PlayRun
    from chimera.evidence.record import ran_in_part
    from chimera.jobs.queue import fail

    shop = add_client("shop").company_id
    run_id = _hand_made(shop, ("succeeded", "running", "queued"))
    with session_scope() as s:
        s.add(AppliedChange(company_id=shop, idempotency_key="k0", job_id=_steps(run_id)[0].id, bot="bot", action="a0"))
    with session_scope() as s:
        fail(s.get(Job, _steps(run_id)[1].id), "adapter down", s, permanent=True)
    with session_scope() as s:
        part = ran_in_part(s, s.get(PlayRun, run_id))
    assert part is not None and part["text"] == "ran in part: step 2 bot.a1 failed, step 3 bot.a2 skipped"
    assert [(p["step"], p["status"]) for p in part["steps"]] == [(2, "failed"), (3, "skipped")]
    whole = _hand_made(shop, ("succeeded", "succeeded"))
    with session_scope() as s:
        assert ran_in_part(s, s.get(PlayRun, whole)) is None


# --------------------------------------------------------------------------- the chat's daily check


def test_the_chat_daily_shows_a_quiet_gigs_last_day_with_its_export_day(chimera_home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve days without an order, the export ingested this morning (the real clock: the chat asks
    for today's checks): 0 days behind, and the row says from which day."""
    from graphs.chat import answer

    monkeypatch.setenv("CHIMERA_LLM", "offline")
    ctx = _client("quiet", "fiverr_orders")
    now = datetime.now(UTC)
    last = now.date() - timedelta(days=12)
    _ingest_at(ctx, _fiverr(ctx, last - timedelta(days=30), last), now - timedelta(seconds=1))
    reply = answer(ctx, ctx.configs.agents.commanders[0].id, "Today's checks")
    assert reply.intent == "daily"
    row = next(line for line in reply.text.splitlines() if line.startswith("| fiverr |"))
    assert row == f"| fiverr | {last} (quiet to {now.date()}) | 0 | yes |", reply.text
