"""The guard reads what an answer says of a play's state, of who stopped it, of the weekly review's advice
and of whether it worked (QA: "winback_email is paused", "pricing_test is live" and "Alice paused it"
passed against outputs that said otherwise; "The bundle offer did not work" passed against a move the
right way). Each false answer is checked with honest ones in varied wording that must still pass.

The outputs are the chat tools' own (``weekly_review``, ``paused_or_reverted``, ``evidence``) over a
store built from rows once per module:
- pricing_test: conversion_rate moved_down (wrong way) -> stop (revert); reverted by bob on 2026-10-05;
- bundle_offer: aov moved_up (right way) -> continue; running;
- discount_hygiene: no detectable change -> stop (pause); paused by bob on 2026-10-02, still held back;
- winback_email: refund_rate_orders moved_down (lower is better: right way) -> continue; paused by carol
  on 2026-10-02, resumed by dana on 2026-10-09: running again;
- free_shipping_threshold: discount_rate moved_up (lower is better: wrong way) -> stop (revert); running.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from agents.tools import Toolbox
from chimera.clients import add_client, get_client
from chimera.llm.guard import check_numbers
from tests.test_chat_review import AS_OF, PAUSED_ON, REVERTED_ON, _evidence, _run, _stop

RESUMED = {"resume": {"on": "2026-10-09", "who": "dana", "why": "refunds are back to normal"}}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The three tools' outputs as a model gets them (built once: the store is rows, no cycle)."""
    from chimera.db.engine import dispose_all

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHIMERA_HOME", str(home))
        mp.delenv("CHIMERA_DATABASE_URL", raising=False)
        dispose_all()
        ctx = add_client("shop")
        runs = {
            "pricing_test": _run(ctx, "pricing_test", "reverted",
                                 _stop("revert", "bob", "conversion fell after the price rise", REVERTED_ON)),
            "bundle_offer": _run(ctx, "bundle_offer", "executed"),
            "discount_hygiene": _run(ctx, "discount_hygiene", "paused",
                                     _stop("pause", "bob", "margin too thin to keep discounting", PAUSED_ON)),
            "winback_email": _run(ctx, "winback_email", "executed",
                                  _stop("pause", "carol", "support queue overloaded", PAUSED_ON) | RESUMED),
            "free_shipping_threshold": _run(ctx, "free_shipping_threshold", "executed"),
        }
        _evidence(ctx, runs["pricing_test"], "pricing_test", "conversion_rate", "moved_down", -4.1, "0.0231",
                  "0.0219")
        _evidence(ctx, runs["bundle_offer"], "bundle_offer", "aov", "moved_up", 6.3, "41.20", "43.80")
        _evidence(ctx, runs["discount_hygiene"], "discount_hygiene", "discount_rate", "no_detectable_change", 0.4,
                  "0.0810", "0.0805")
        _evidence(ctx, runs["winback_email"], "winback_email", "refund_rate_orders", "moved_down", -12.0,
                  "0.0500", "0.0440")
        _evidence(ctx, runs["free_shipping_threshold"], "free_shipping_threshold", "discount_rate", "moved_up", 9.0,
                  "0.0800", "0.0872")
        tb = Toolbox(get_client("shop"), as_of=AS_OF)
        yield {"weekly_review": tb.weekly_review(), "paused_or_reverted": tb.paused_or_reverted(),
               "evidence": tb.evidence()}
        dispose_all()


def _all(outputs: dict[str, Any]) -> list[Any]:
    return [outputs["weekly_review"], outputs["paused_or_reverted"], outputs["evidence"]]


def test_the_store_is_what_the_answers_below_are_judged_against(outputs: dict[str, Any]) -> None:
    review = {r["play"]: (r["recommendation"], r["action"], r["status"]) for r in outputs["weekly_review"]["review"]}
    assert review == {"pricing_test": ("stop", "revert", "reverted"), "bundle_offer": ("continue", "", "executed"),
                      "discount_hygiene": ("stop", "pause", "paused"),
                      "winback_email": ("continue", "", "executed"),
                      "free_shipping_threshold": ("stop", "revert", "executed")}
    stops = {(s["play"], s["kind"], s["who"], s["in_force"]) for s in outputs["paused_or_reverted"]["stopped"]}
    assert stops == {("pricing_test", "reverted", "bob", True), ("discount_hygiene", "paused", "bob", True),
                     ("winback_email", "paused", "carol", False)}


HONEST = [
    # states now and done
    "pricing_test was reverted on 2026-10-05.",
    "The price test has been reverted and is held back until 2026-11-02 or a resume.",
    "pricing_test is no longer running: bob reverted it because conversion fell after the price rise.",
    "discount_hygiene is paused and still held back until a person resumes it.",
    "Discount hygiene remains paused.",
    "discount_hygiene isn't running right now.",
    "winback_email was paused by carol on 2026-10-02 and has since been resumed by dana.",
    "winback_email has been resumed; it is no longer held back.",
    "The win-back email is running again.",
    "winback_email is not paused any more.",
    "bundle_offer is still running.",
    "bundle_offer is live and has not been paused.",
    "free_shipping_threshold is still active, although the review says stop and revert it.",
    "discount_hygiene and pricing_test are paused or reverted.",
    "Bob paused discount_hygiene on 2026-10-02. It is still held back.",
    "Dana resumed winback_email.",
    "pricing_test was rolled back by bob.",
    # the review's advice
    "The review says continue bundle_offer and stop pricing_test.",
    "The weekly review recommends to keep running winback_email (rule 3).",
    "Rule 1 applies to free_shipping_threshold: stop it and revert it.",
    "The review advises to stop discount_hygiene and pause it (rule 4).",
    # worked / did not work, read in the KPI's direction
    "The bundle offer worked: aov moved_up by 6.3 %.",
    "winback_email worked: refund_rate_orders moved_down, the right way for a lower-is-better KPI.",
    "The price test did not work.",
    "free_shipping_threshold did not work: discount_rate moved_up.",
    # advice and rules, not claims about a play's state
    "If we pause pricing_test, its changes stay.",
    "You could revert free_shipping_threshold with chimera play revert.",
    "Paused plays are held back until a person resumes them.",
    "A reverted play is held back for 28 days.",
    "Should we pause bundle_offer?",
    "Once discount_hygiene is resumed, it will be suggested again.",
    "I recommend you keep watching free_shipping_threshold before reverting it.",  # the model's own advice
    "To resume discount_hygiene, run chimera play resume.",
    "Plays that were reverted are held back for 28 days.",
    # markdown and lists as models write them
    "- **pricing_test**: reverted by bob on 2026-10-05 (held back until 2026-11-02).",
    "**Paused:** discount_hygiene (by bob, margin too thin to keep discounting).",
    "Here is the weekly review: continue bundle_offer and winback_email; stop pricing_test (revert) and "
    "discount_hygiene (pause).",
    "pricing_test: stop (revert) — already reverted by bob.",
    "discount_hygiene: paused by bob on 2026-10-02 — still held back.",
    "The paused play, discount_hygiene, stays held back until someone resumes it.",
    "winback_email was paused by carol, then resumed by dana on 2026-10-09, so it is live again.",
    "The price test was reverted, so it is no longer live.",
]


@pytest.mark.parametrize("answer", HONEST)
def test_honest_answers_pass(outputs: dict[str, Any], answer: str) -> None:
    verdict = check_numbers(answer, _all(outputs))
    assert verdict.ok, verdict.offending


FALSE = [
    # paused
    ("winback_email is paused.", "winback_email"),
    ("The win-back email is currently paused.", "winback_email"),
    ("bundle_offer has been paused since 2026-10-02.", "bundle_offer"),
    ("discount_hygiene is no longer paused.", "discount_hygiene"),
    # reverted
    ("bundle_offer was reverted.", "bundle_offer"),
    ("discount_hygiene has been rolled back.", "discount_hygiene"),
    ("pricing_test was not reverted.", "pricing_test"),
    # resumed
    ("discount_hygiene has been resumed.", "discount_hygiene"),
    ("pricing_test was resumed by bob.", "pricing_test"),
    ("Bob paused discount_hygiene on 2026-10-02. It has been resumed.", "discount_hygiene"),
    # running / live / active / executing
    ("The price test is still running.", "pricing_test"),
    ("pricing_test is live.", "pricing_test"),
    ("discount_hygiene is active again.", "discount_hygiene"),
    ("pricing_test is executing.", "pricing_test"),
    ("bundle_offer is no longer running.", "bundle_offer"),
    # held back / stopped
    ("discount_hygiene is no longer held back.", "discount_hygiene"),
    ("winback_email is still held back.", "winback_email"),
    ("bundle_offer is held back until a person resumes it.", "bundle_offer"),
    ("free_shipping_threshold has been stopped.", "free_shipping_threshold"),
    ("bundle_offer is stopped.", "bundle_offer"),
    # who
    ("Alice paused discount_hygiene.", "Alice"),
    ("discount_hygiene was paused by carol.", "carol"),
    ("Bob resumed winback_email on 2026-10-09.", "Bob"),
    ("Carol reverted the price test.", "Carol"),
    ("carol paused free_shipping_threshold.", "carol"),
    ("It was reverted by Alice: pricing_test is held back until 2026-11-02.", "Alice"),
    # the review's advice
    ("The review says continue pricing_test.", "pricing_test"),
    ("The weekly review recommends we keep watching bundle_offer.", "bundle_offer"),
    ("Rule 4 says pause free_shipping_threshold.", "free_shipping_threshold"),
    ("The review advises to stop winback_email.", "winback_email"),
    # worked / did not work against the KPI's direction
    ("The bundle offer did not work.", "did not work"),
    ("free_shipping_threshold worked.", "worked"),
    ("winback_email did not work: refunds moved down.", "did not work"),
    ("pricing_test worked.", "worked"),
]


@pytest.mark.parametrize("answer, named", FALSE)
def test_false_answers_are_refused_with_the_claim_named(outputs: dict[str, Any], answer: str, named: str) -> None:
    verdict = check_numbers(answer, _all(outputs))
    assert not verdict.ok, answer
    assert any(named.lower() in o.lower() for o in verdict.offending), verdict.offending


def test_the_direction_of_a_review_figure_judges_a_verdict_given_by_the_evidence_tool_too(
        outputs: dict[str, Any]) -> None:
    """The evidence records carry no direction; the review's figures do, and the KPI's direction is one."""
    assert not check_numbers("The bundle offer did not work.", _all(outputs)).ok
    assert check_numbers("The bundle offer did not work.", [outputs["evidence"]]).ok, "no direction: no judgement"


def test_a_state_no_output_speaks_to_is_unsupported(outputs: dict[str, Any]) -> None:
    only_evidence = [outputs["evidence"]]
    verdict = check_numbers("pricing_test is paused.", only_evidence)
    assert not verdict.ok and "no such state" in verdict.offending[0]
    assert check_numbers("bundle_offer was executed on 2026-09-01 and is running.", only_evidence).ok
    assert not check_numbers("The review says continue bundle_offer.", only_evidence).ok


def test_a_play_row_of_a_report_says_its_state_too() -> None:
    """A report's (or a cycle's) play rows: the run's status is its state."""
    report = {"plays": [{"play_run_id": "r1", "play_id": "pricing_test", "label": "Price test on best sellers",
                         "status": "reverted", "executed_on": "2026-09-01"},
                        {"play_run_id": "r2", "play_id": "bundle_offer", "status": "executing"}],
              "held_back": [{"play": "discount_hygiene", "label": "Discount hygiene", "kind": "paused",
                             "why_held": "paused by bob on 2026-10-02", "trigger": []}]}
    for lie in ("pricing_test is live.", "The price test is still running.", "bundle_offer is reverted.",
                "discount_hygiene is no longer held back."):
        assert not check_numbers(lie, [report]).ok, lie
    for truth in ("pricing_test was reverted.", "bundle_offer is running.", "discount_hygiene is held back.",
                  "Discount hygiene is paused."):
        assert check_numbers(truth, [report]).ok, truth


def test_the_check_is_fast(outputs: dict[str, Any]) -> None:
    import time

    text = " ".join(HONEST)
    started = time.perf_counter()
    check_numbers(text, _all(outputs))
    assert time.perf_counter() - started < 1.0


def test_date_constants_are_the_shared_fixtures() -> None:
    assert (PAUSED_ON, REVERTED_ON) == (date(2026, 10, 2), date(2026, 10, 5))


def test_a_false_state_falls_back_to_the_offline_text_with_the_claim_named(outputs: dict[str, Any]) -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from chimera.llm.fake import ScriptedChatModel
    from chimera.llm.guard import guarded_narrative

    lie = AIMessage(content="pricing_test is live and the review says continue it.")
    model = ScriptedChatModel(responses=[lie, lie])
    n = guarded_narrative(model, [HumanMessage(content="how are the plays?")], _all(outputs), "offline text")
    assert n.source == "offline" and n.guard_rejections == 2 and "pricing_test is live" in n.note
    truth = AIMessage(content="pricing_test was reverted by bob; the review says stop (revert).")
    n = guarded_narrative(ScriptedChatModel(responses=[truth]), [HumanMessage(content="how are the plays?")],
                          _all(outputs), "offline text")
    assert n.source == "model", n.note
