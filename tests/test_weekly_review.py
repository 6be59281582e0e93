"""The weekly review's rule (manual §4.7, §6.2): the same evidence always gives the same advice,
read in each KPI's direction, with the figures behind it and the command that carries it out."""

from __future__ import annotations

from typing import Any

import pytest

from chimera.plays.weekly_review import RULES, figure_text, review_line, review_plays

DIRECTIONS = {"conversion_rate": "higher_is_better", "aov": "higher_is_better", "refund_rate": "lower_is_better"}


def entry(run: str, kpi: str, verdict: str, effect: float | None = None, executed_on: str = "2026-10-18"
          ) -> dict[str, Any]:
    low, high = (effect - 2, effect + 2) if effect is not None else (None, None)
    return {"play_run_id": run, "play": f"play_{run}", "executed_on": executed_on, "kpi": kpi, "verdict": verdict,
            "effect_pct": effect, "ci_low_pct": low, "ci_high_pct": high, "before": "1", "after": "2"}


@pytest.mark.parametrize(("verdicts", "rule", "advice", "action"), [
    ({"conversion_rate": "moved_down"}, 1, "stop", "revert"),
    ({"refund_rate": "moved_up", "aov": "no_detectable_change"}, 1, "stop", "revert"),  # up is wrong there
    ({"conversion_rate": "moved_up", "refund_rate": "moved_up"}, 2, "keep_watching", ""),
    ({"refund_rate": "moved_down", "aov": "inconclusive"}, 3, "continue", ""),
    ({"conversion_rate": "no_detectable_change", "aov": "no_detectable_change"}, 4, "stop", "pause"),
    ({"conversion_rate": "no_detectable_change", "aov": "pending"}, 5, "keep_watching", ""),
    ({"conversion_rate": "confounded"}, 5, "keep_watching", ""),
])
def test_each_rule(verdicts: dict[str, str], rule: int, advice: str, action: str) -> None:
    [review] = review_plays([entry("r1", k, v, 3.0) for k, v in verdicts.items()], DIRECTIONS, {})
    assert (review.rule, review.recommendation, review.action, review.rule_text) == (rule, advice, action, RULES[rule])
    assert [f.kpi for f in review.figures] == sorted(verdicts)  # every figure behind it, in a fixed order


def test_runs_only_pending_are_left_out_and_the_newest_comes_first() -> None:
    evidence = [entry("old", "aov", "moved_up", 5.0, "2026-09-01"), entry("new", "aov", "moved_down", -4.0),
                entry("wait", "aov", "pending")]
    reviews = review_plays(evidence, DIRECTIONS, {"old": "executed", "new": "executed"})
    assert [r.play_run_id for r in reviews] == ["new", "old"]
    assert review_plays(list(reversed(evidence)), DIRECTIONS, {"old": "executed", "new": "executed"}) == reviews


def test_the_next_step_is_the_command_unless_done_already() -> None:
    hurt, flat, good = entry("a", "aov", "moved_down", -4.0), entry("b", "aov", "no_detectable_change"), \
        entry("c", "aov", "moved_up", 4.0)
    steps = {r.play_run_id: r.next_step for r in review_plays(
        [hurt, flat, good], DIRECTIONS, {"a": "executed", "b": "executed", "c": "paused"})}
    assert steps == {"a": "chimera play revert a --reason R", "b": "chimera play pause b --reason R",
                     "c": "chimera play resume c --reason R"}
    done = {r.play_run_id: r.next_step for r in review_plays(
        [hurt, flat, good], DIRECTIONS, {"a": "reverted", "b": "paused", "c": "executed"})}
    assert done == {"a": "", "b": "", "c": ""}


def test_the_line_shows_the_rule_and_the_records_figures() -> None:
    [review] = review_plays([entry("r1", "conversion_rate", "moved_down", -4.1)], DIRECTIONS, {"r1": "executed"})
    assert figure_text(review.figures[0]) == \
        "conversion_rate moved_down (wrong way): effect -4.1 %, 95 % interval [-6.1, -2.1] %"
    line = review_line(review)
    assert line.startswith("play_r1 (play run r1, executed 2026-10-18, executed): stop (revert): rule 1, ")
    assert line.endswith("; next: chimera play revert r1 --reason R")
