"""The weekly review and the pauses and reverts in the chat (manual §4.7, §6.2): asked in everyday words,
answered offline from the tools (advice, rule and evidence figures from ``chimera.plays.weekly_review``,
who / when / why / still held back from ``chimera.plays.holds``), given to a model as tools whose honest
answers pass the truth guard, a reused cycle said to be the same run, and pause / resume buttons that
record the chat user and their reason.

The store is built from rows (no exports, no cycle): three executed runs with stored evidence and one
earlier run paused, so each test takes a fraction of a second."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from sqlmodel import select

from agents.tools import Toolbox
from chimera.clients import ClientContext, add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import EvidenceRecord, PlayRun
from chimera.llm.fake import ScriptedChatModel
from chimera.llm.guard import check_numbers
from chimera.plays.weekly_review import RULES
from graphs import chat
from graphs.models import CycleOutcome
from graphs.ui_models import outcome_markdown

AS_OF = date(2026, 10, 18)
EXECUTED = date(2026, 9, 1)
PAUSED_ON = date(2026, 10, 2)
REVERTED_ON = date(2026, 10, 5)


def _run(ctx: ClientContext, play: str, status: str, rationale: dict[str, Any] | None = None) -> str:
    with session_scope() as s:
        run = PlayRun(company_id=ctx.company_id, play_id=play, as_of=EXECUTED, status=status,
                      executed_on=EXECUTED, rationale=rationale or {})
        s.add(run)
        s.flush()
        return run.id


def _evidence(ctx: ClientContext, run_id: str, play: str, kpi: str, verdict: str, effect: float | None,
              before: str, after: str) -> None:
    with session_scope() as s:
        correlation = s.get(PlayRun, run_id).correlation_id  # type: ignore[union-attr]
        s.add(EvidenceRecord(company_id=ctx.company_id, play_run_id=run_id, play_id=play, correlation_id=correlation,
                             kpi=kpi, executed_on=EXECUTED, as_of=EXECUTED + timedelta(days=28), before=before,
                             after=after, effect_pct=effect, ci_low_pct=None if effect is None else effect - 2,
                             ci_high_pct=None if effect is None else effect + 2, verdict=verdict,
                             details={"unit": ctx.configs.kpi(kpi).unit, "reason": "test"}))


def _stop(key: str, who: str, why: str, on: date) -> dict[str, Any]:
    return {key: {"on": on.isoformat(), "who": who, "why": why, "at": datetime(2026, 10, 2, 9, tzinfo=UTC).isoformat(),
                  "was": "executed", "held_jobs": []}}


@pytest.fixture
def shop(chimera_home: Path) -> dict[str, Any]:
    """pricing_test hurt conversion (stop: revert), bundle_offer lifted aov (continue), discount_hygiene
    changed nothing (stop: pause) and was paused by bob; free_shipping_threshold was reverted by carol."""
    ctx = add_client("shop")
    runs = {"pricing_test": _run(ctx, "pricing_test", "executed"),
            "bundle_offer": _run(ctx, "bundle_offer", "executed"),
            "discount_hygiene": _run(ctx, "discount_hygiene", "paused",
                                     _stop("pause", "bob", "margin too thin to keep discounting", PAUSED_ON)),
            "free_shipping_threshold": _run(ctx, "free_shipping_threshold", "reverted",
                                            _stop("revert", "carol", "shipping costs ran over", REVERTED_ON))}
    _evidence(ctx, runs["pricing_test"], "pricing_test", "conversion_rate", "moved_down", -4.1, "0.0231", "0.0219")
    _evidence(ctx, runs["bundle_offer"], "bundle_offer", "aov", "moved_up", 6.3, "41.20", "43.80")
    _evidence(ctx, runs["discount_hygiene"], "discount_hygiene", "discount_rate", "no_detectable_change", 0.4,
              "0.0810", "0.0805")
    return {"ctx": get_client("shop"), "runs": runs}


def _body(text: str) -> str:
    return text.split("\n\n", 1)[1] if text.startswith("_Offline") else text


def _ask(shop: dict[str, Any], text: str) -> Any:
    return chat.answer(shop["ctx"], "evidence_commander_ai", text, as_of=AS_OF)


def _block(text: str, play: str) -> str:
    """A play's entry of a reply: its line and the lines indented under it."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"- **`{play}`**"))
    end = next((i for i in range(at + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return "\n".join(lines[at:end])


# -- 1. everyday words reach the review and the stops ---------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("Weekly review", "review"), ("what should we continue or stop?", "review"),
    ("Which plays should we stop?", "review"), ("should we pause the price test?", "review"),
    ("show the weekly review of plays", "review"),
    ("which plays are paused or reverted?", "stops"), ("what's paused?", "stops"), ("list reverts", "stops"),
    ("Run the weekly cycle", "cycle"), ("Show evidence", "evidence"), ("Why was this play suggested?", "why"),
    ("how many product reviews did we get?", "question"),
])
def test_everyday_words_reach_the_review_or_the_stops(text: str, kind: str) -> None:
    assert chat.parse_intent(text).kind == kind


def test_the_review_names_a_play_it_is_asked_about_and_evidence_answers_it() -> None:
    intent = chat.parse_intent("should we continue pricing_test?")
    assert (intent.kind, intent.play_id) == ("review", "pricing_test")
    assert chat.route("weekly review", None) == chat.route("what is paused?", None) == "evidence_commander_ai"
    assert chat.route("how many product reviews?", None) == "product_commander_ai"


# -- 2. offline answers from the tools --------------------------------------------------------------------

def test_weekly_review_offline_gives_each_runs_advice_rule_and_figures(shop: dict[str, Any]) -> None:
    reply = _ask(shop, "What should we continue or stop?")
    assert reply.offline and reply.intent == "review"
    assert reply.text.startswith("_Offline (no model configured): answered from the tools._")  # said once
    text, runs = _body(reply.text), shop["runs"]
    pricing = _block(text, "pricing_test")
    assert "now executed: **stop (revert)**" in pricing and f"rule 1: {RULES[1]}" in pricing
    assert "conversion_rate moved_down (wrong way): effect -4.1 %, 95 % interval [-6.1, -2.1] %" in pricing
    assert "(before 2.31%, after 2.19%)" in pricing  # a percent KPI's stored fraction, shown as a percent
    assert f"`chimera play revert {runs['pricing_test']} --reason R`" in pricing
    assert f"rule 3: {RULES[3]}" in _block(text, "bundle_offer") and "**continue**" in _block(text, "bundle_offer")
    assert f"or scale it: `chimera play scale {runs['bundle_offer']} --reason R`" in _block(text, "bundle_offer")
    assert "scale" not in pricing, "only a play that worked is offered a scale"
    hygiene = _block(text, "discount_hygiene")
    assert f"rule 4: {RULES[4]}" in hygiene and "now paused: **keep paused (paused on" in hygiene
    assert "the evidence says stop (pause))**" in hygiene  # the advice as the run stands, then the evidence's
    assert "next:" not in hygiene, "a paused run's advice is carried out already"
    assert "no model gives it" in text and "**Paused and reverted plays**" in text
    tb = Toolbox(shop["ctx"], as_of=AS_OF)
    body, facts = chat._body(shop["ctx"], tb, chat._spec(shop["ctx"], "evidence_commander_ai"),
                             chat.Intent(kind="review"), "weekly review")[:2]
    assert body == text and check_numbers(body, facts).ok, "every figure shown is in the tool output"


def test_stops_offline_say_who_when_why_and_whether_they_still_hold(shop: dict[str, Any]) -> None:
    reply = _ask(shop, "which plays are paused or reverted?")
    text, runs = _body(reply.text), shop["runs"]
    assert reply.intent == "stops" and "Weekly review" not in text
    paused = _block(text, "discount_hygiene")
    assert f"play run `{runs['discount_hygiene']}`: paused on {PAUSED_ON} by **bob**" in paused
    assert "why: “margin too thin to keep discounting”" in paused
    reverted = _block(text, "free_shipping_threshold")
    assert f"reverted on {REVERTED_ON} by **carol** — why: “shipping costs ran over”" in reverted
    assert f"still held back: yes, until {REVERTED_ON + timedelta(days=28)} or a resume" in reverted
    assert "28 days (plays.yml `policy.revert_hold_days`)" in text
    later = chat.answer(shop["ctx"], "evidence_commander_ai", "what is reverted?", as_of=date(2026, 11, 20))
    assert "still held back: no: its hold ended on 2026-11-02" in _block(later.text, "free_shipping_threshold")


def test_a_pause_in_force_is_said_to_hold_the_play_back(shop: dict[str, Any]) -> None:
    reply = _ask(shop, "what is paused?")
    assert "still held back: yes, until a person resumes it" in _block(reply.text, "discount_hygiene")
    assert ("resume", shop["runs"]["discount_hygiene"]) in {(a.kind, a.play_run_id) for a in reply.actions}


def test_a_resume_is_said_with_who_and_why_and_no_longer_holds(shop: dict[str, Any]) -> None:
    run_id = shop["runs"]["discount_hygiene"]
    with session_scope() as s:
        run = s.get(PlayRun, run_id)
        run.rationale = {**run.rationale, "resume": {"on": "2026-10-09", "who": "dana", "why": "margin is back"}}
        s.add(run)
    line = _block(_ask(shop, "what is paused?").text, "discount_hygiene")
    assert "still held back: no: resumed on 2026-10-09 by dana (margin is back)" in line


def test_a_person_written_reason_cannot_add_markdown(shop: dict[str, Any]) -> None:
    with session_scope() as s:
        run = s.get(PlayRun, shop["runs"]["discount_hygiene"])
        run.rationale = _stop("pause", "bob", "see [here](http://x.example) | **approved**", PAUSED_ON)
        s.add(run)
    text = _ask(shop, "what is paused?").text
    assert "[here](http" not in text and "\\| \\*\\*approved\\*\\*" in text


def test_no_review_and_no_stops_are_said_plainly(chimera_home: Path) -> None:
    ctx = add_client("empty")
    text = chat.answer(ctx, "evidence_commander_ai", "weekly review").text
    assert "No executed play has a verdict yet: nothing to continue or stop." in text
    assert "None: no play has been paused or reverted." in text
    assert chat.answer(ctx, "evidence_commander_ai", "weekly review").actions == []


def test_one_play_asked_about_is_the_one_reviewed(shop: dict[str, Any]) -> None:
    text = _ask(shop, "should we keep watching bundle_offer?").text
    assert "`bundle_offer`" in text and "`pricing_test`" not in text and "`discount_hygiene`" not in text


def test_the_review_offers_pause_for_runs_under_way_and_resume_for_holds(shop: dict[str, Any]) -> None:
    runs = shop["runs"]
    review = _ask(shop, "weekly review")
    offered = {(a.kind, a.play_run_id) for a in review.actions}
    assert offered >= {("pause", runs["pricing_test"]), ("pause", runs["bundle_offer"]),
                       ("resume", runs["free_shipping_threshold"])}
    assert ("pause", runs["discount_hygiene"]) not in offered, "a paused run is not offered a pause"
    later = chat.answer(shop["ctx"], "evidence_commander_ai", "what is reverted?", as_of=date(2026, 11, 20))
    assert runs["free_shipping_threshold"] not in {a.play_run_id for a in later.actions}, "its hold has ended"
    assert [a.label for a in review.actions if a.play_run_id == runs["pricing_test"]] == ["Pause pricing_test"]


# -- 3. a model reads the same tools; the guard checks its answer -----------------------------------------

def _model_answer(monkeypatch: pytest.MonkeyPatch, ctx: ClientContext, tool: str, text: str,
                  question: str = "Tell me how our plays are doing") -> Any:
    monkeypatch.setenv("CHIMERA_LLM", "fake")
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[{"name": tool, "args": {}, "id": "c1"}]), AIMessage(content=text)])
    monkeypatch.setattr("agents.llm_commander.get_chat_model", lambda *a, **k: model)
    return chat.answer(ctx, "evidence_commander_ai", question), model


HONEST_REVIEW = (
    "The weekly review advises to stop pricing_test and revert it (rule 1): conversion_rate moved_down, an effect "
    "of -4.1 % with a 95 % interval of -6.1 to -2.1 %, from 2.31% to 2.19%. The price test did not work. "
    "Continue bundle_offer (rule 3): aov moved_up by 6.3 %, from $41.20 to $43.80; the bundle offer worked. "
    "discount_hygiene showed no detectable change on discount_rate, so rule 4 says stop and pause; bob paused it "
    "on 2026-10-02 because the margin was too thin, and it stays held back until a person resumes it.")
HONEST_STOPS = (
    "Two plays are stopped. Bob paused discount_hygiene on 2026-10-02 (margin too thin to keep discounting); it is "
    "held back until someone resumes it. Carol reverted free_shipping_threshold on 2026-10-05 because shipping "
    "costs ran over; a revert holds a play back for 28 days, until 2026-11-02.")


def test_the_model_gets_both_tools_and_an_honest_review_answer_passes_the_guard(
        shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    reply, model = _model_answer(monkeypatch, shop["ctx"], "weekly_review", HONEST_REVIEW)
    assert not reply.offline, reply.text
    assert "rule 1" in reply.text and "did not work" in reply.text
    tools = {t["function"]["name"] for t in model.bound_tools}
    assert {"weekly_review", "paused_or_reverted"} <= tools
    assert "weekly_review" in model.requests[0][-1].content, "the chat prompt points the model at the review tool"


def test_an_honest_answer_about_pauses_and_reverts_passes_the_guard(
        shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    reply, _model = _model_answer(monkeypatch, shop["ctx"], "paused_or_reverted", HONEST_STOPS)
    assert not reply.offline, reply.text
    assert "Carol reverted" in reply.text


@pytest.mark.parametrize("lie", [
    "The discount hygiene play worked.",  # a verdict said against the evidence (no detectable change)
    "pricing_test worked: conversion_rate rose 4.1 %.",  # the wrong direction
    "Bob paused discount_hygiene on 2026-10-03.",  # a day no output has
    "A revert holds a play back for 30 days.",  # a figure no output has
])
def test_a_false_answer_about_the_review_falls_back_to_the_offline_text(
        shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch, lie: str) -> None:
    tool = "paused_or_reverted" if "revert" in lie.lower() or "paused" in lie else "weekly_review"
    reply, _model = _model_answer(monkeypatch, shop["ctx"], tool, lie)
    assert reply.offline and "not in the tool outputs" in reply.text, reply.text
    assert reply.text.startswith("_Offline: answered from the tools; the model (") and \
        "was not used for this answer._" in reply.text.splitlines()[0]


def test_with_a_model_the_review_intent_stays_the_tools_own_text(
        shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    reply, model = _model_answer(monkeypatch, shop["ctx"], "weekly_review", "Everything is great, continue all.",
                                 question="weekly review")
    assert not reply.offline and model.requests == [], "no model writes the advice"
    assert "stop (revert)" in reply.text and "Everything is great" not in reply.text


# -- 4. a reused cycle says so ---------------------------------------------------------------------------

def test_a_reused_cycle_says_it_is_the_same_run() -> None:
    o = CycleOutcome(client="shop", as_of=date(2026, 10, 18), run_id="run-1", status="completed", silent=False,
                     kpis=[], plays=[], jobs=[], model={"backend": "offline"}, pending=[], narratives=[],
                     ran_at=datetime(2026, 10, 19, 7, 30, tzinfo=UTC))
    assert "Same run as before" not in outcome_markdown(o)
    text = outcome_markdown(o.model_copy(update={"reused": True}))
    assert "_Same run as before: cycle run run-1 of 2026-10-18 ran at 2026-10-19 07:30 UTC;" in text
    assert "nothing was run or written again._" in text


# -- 5. pause and resume from the chat record the chat user and why --------------------------------------

def test_pause_and_resume_record_who_and_why_on_granted_clients_only(shop: dict[str, Any]) -> None:
    from chimera.errors import ClientError, DecisionError

    run_id = shop["runs"]["bundle_offer"]
    with pytest.raises(ClientError, match="not granted"):
        chat.pause_or_resume(run_id, "pause", "alice", "cash is tight", allowed=["other"])
    paused = chat.pause_or_resume(run_id, "pause", "alice", "cash is tight", allowed=["shop"])
    assert (paused.who, paused.why, paused.status) == ("alice", "cash is tight", "paused")
    stops = Toolbox(shop["ctx"]).paused_or_reverted("bundle_offer")["stopped"]
    assert [(s["kind"], s["who"], s["why"]) for s in stops] == [("paused", "alice", "cash is tight")]
    resumed = chat.pause_or_resume(run_id, "resume", "alice", "cash is back", allowed=None)
    assert (resumed.who, resumed.why, resumed.of, resumed.status) == ("alice", "cash is back", "pause", "executed")
    with pytest.raises(DecisionError, match="nothing to resume"):
        chat.pause_or_resume(shop["runs"]["pricing_test"], "resume", "alice", "why not", allowed=None)
    with session_scope() as s:
        assert s.exec(select(PlayRun).where(PlayRun.id == run_id)).one().rationale["resume"]["who"] == "alice"


def test_pause_resume_and_decision_texts_and_their_follow_up_buttons() -> None:
    from chimera.plays.pause import HeldJob, PauseOutcome, ResumeOutcome
    from graphs.ui_models import decision_actions, follow_up_actions, pause_markdown, resume_markdown

    step = HeldJob(id=7, type="EXECUTE_PLAY_X", step=1, bot="copy", action="draft", status="cancelled")
    at = datetime(2026, 10, 20, 9, tzinfo=UTC)
    paused = PauseOutcome(client="shop", play_run_id="r1", play="pricing_test", status="paused", was="executing",
                          on=date(2026, 10, 20), who="alice", why="stock ran out", at=at, already_paused=False,
                          held=[step], running=[], kept=1, cycle_run_id="c1")
    text = pause_markdown(paused)
    assert "**pause** recorded for `pricing_test` (play run `r1`) on 2026-10-20 by **alice** — reason: stock ran out" \
        in text and "- held: step 1 copy.draft (job #7): not run until the play is resumed" in text
    assert "- kept: 1 change(s) already applied" in text
    assert [(a.kind, a.play_run_id) for a in follow_up_actions(paused)] == [("resume", "r1")]
    resumed = ResumeOutcome(client="shop", play_run_id="r1", play="pricing_test", status="executing", of="pause",
                            on=date(2026, 10, 21), who="alice", why="stock is back", at=at, already_resumed=False,
                            requeued=[step.model_copy(update={"status": "queued"})], cycle_run_id="c1")
    text = resume_markdown(resumed)
    assert "- step 1 copy.draft (job #7): queued" in text and "cycle run `c1` goes on" in text
    assert [(a.kind, a.play_run_id) for a in follow_up_actions(resumed)] == [("pause", "r1")]
    skipped = step.model_copy(update={"step": 2, "id": 8, "skipped_for": 7})
    assert "- held: step 2 copy.draft (job #8): skipped: runs once job #7 succeeds, after the play is resumed" \
        in pause_markdown(paused.model_copy(update={"held": [step, skipped]}))
    assert "- step 2 copy.draft (job #8): skipped: runs once job #7 succeeds" \
        in resume_markdown(resumed.model_copy(update={"requeued": [skipped]}))
    lifted = resumed.model_copy(update={"of": "revert", "status": "reverted", "requeued": []})
    assert resume_markdown(lifted).startswith("**revert hold lifted** for `pricing_test`")
    assert follow_up_actions(lifted) == []
    o = CycleOutcome(client="shop", as_of=AS_OF, run_id="c1", status="completed", silent=False, kpis=[],
                     plays=[{"id": "r1", "play": "pricing_test", "status": "executed"},
                            {"id": "r2", "play": "bundle_offer", "status": "rejected"}],
                     jobs=[], model={}, pending=[], narratives=[])
    assert [a.label for a in decision_actions("r1", o)] == ["Pause pricing_test"]
    assert decision_actions("r2", o) == []
