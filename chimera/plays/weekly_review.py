"""The weekly review of plays (manual §4.7, §6.2): for each executed play run whose evidence has a
verdict, continue, stop (revert or pause) or keep watching, by a fixed rule over its verdicts.

Why a rule and not a model: the recommendation is a number-backed decision a person acts on; the
same evidence must always give the same advice, and the figures shown are the evidence records' own.

The rule, over the run's evidence KPIs (a verdict read in the KPI's direction; first match wins):
1. some KPI moved the wrong way and none the right way -> stop: revert (undo what hurt);
2. some KPI moved the right way and another the wrong way -> keep watching: a trade-off a person weighs;
3. some KPI moved the right way -> continue (an executed run may also be scaled: ``option``);
4. every judged KPI shows no detectable change, none left pending or unclear -> stop: pause (keep
   what is done, spend no more effort on it);
5. otherwise (inconclusive, confounded or still pending) -> keep watching.

A run that failed part way (a step failed for good, the steps after it skipped, what the earlier
ones applied measured) is reviewed on the evidence of what it applied, and the advice says so: which
step failed, and that the play as approved never ran whole. Its evidence hurt: revert (rule 1). No
change: pause it (keep what it applied, do not re-run the rest) or revert. Otherwise: resume it once
the cause is fixed (a pause and a resume re-run the failed step, then the skipped ones) or revert
what it applied. The evidence's word stays the manual's (§6.2: continue / stop; §4.7: pause); only
what carries it out changes, since the run is neither executed nor stopped.

A scaled run (``chimera play scale``) is reviewed on its own evidence, judged from its own execution
day; the review names the run it scales (``scaled_from``) and, on the original, the scale
(``scaled_by``). An original whose scale ran is not offered the scale again: the scaled run is the one
to judge and scale next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

Reading = Literal["right", "wrong", "flat", "unclear", "pending"]
Recommendation = Literal["continue", "stop", "keep_watching"]
RIGHT_WAY = {"moved_up": "higher_is_better", "moved_down": "lower_is_better"}
RULES = {
    1: "a KPI moved the wrong way and none the right way: stop and revert",
    2: "one KPI moved the right way and another the wrong way: keep watching, a person weighs the trade-off",
    3: "a KPI moved the right way and none the wrong way: continue",
    4: "no detectable change on any evidence KPI: stop and pause (keep what is done)",
    5: "not enough to decide yet (inconclusive, confounded or pending): keep watching",
}


class Figure(BaseModel):
    """One evidence KPI of the run, as its record says it, with how the rule read it."""

    kpi: str
    verdict: str
    reading: Reading
    effect_pct: float | None = None
    ci_low_pct: float | None = None
    ci_high_pct: float | None = None
    before: str | None = None
    after: str | None = None


class PlayReview(BaseModel):
    """The recommendation for one executed play run, the rule that gave it and the figures behind it."""

    play_run_id: str
    play: str
    executed_on: str
    status: str
    """The run's status on the review's day: executed, failed (part way), paused or reverted."""
    recommendation: Recommendation
    action: Literal["revert", "pause", ""] = ""
    """For ``stop``: which stop the rule advises."""
    rule: int
    rule_text: str
    figures: list[Figure]
    next_step: str = ""
    """The command that carries the recommendation out, when it is not done already."""
    option: str = ""
    """Another command a person may choose: for an executed run that worked (continue), scaling it
    (``chimera play scale RUN --reason R``: a larger run of the play, suggested for a decision)."""
    scaled_from: str = ""
    """For a scaled run: ``play run X (executed D)``, the run it scales."""
    scaled_by: str = ""
    """For a run that was scaled: ``play run Y (status, executed D)``, its newest scale."""
    advice: str = ""
    """The advice in the run's state: the evidence's for an executed run; a paused one's ``resume`` /
    ``revert`` / ``keep paused``; a reverted one's ``reverted on D by W; the evidence says ...``; a
    failed one's ``resume`` / ``revert`` / ``pause`` naming the step that failed."""


def reading(verdict: str, direction: str | None) -> Reading:
    """A verdict in the KPI's direction: ``moved_up`` on a lower-is-better KPI is the wrong way."""
    if verdict in RIGHT_WAY:
        return "right" if direction is None or RIGHT_WAY[verdict] == direction else "wrong"
    if verdict in ("moved", "moved_good"):
        return "right"
    if verdict == "moved_bad":
        return "wrong"
    if verdict == "no_detectable_change":
        return "flat"
    return "pending" if verdict == "pending" else "unclear"


def rule_for(readings: list[Reading]) -> int:
    """The first rule of the module docstring that the readings meet."""
    seen = set(readings)
    if "wrong" in seen:
        return 2 if "right" in seen else 1
    if "right" in seen:
        return 3
    return 4 if seen == {"flat"} else 5


OUTCOME: dict[int, tuple[Recommendation, Literal["revert", "pause", ""]]] = {
    1: ("stop", "revert"), 2: ("keep_watching", ""), 3: ("continue", ""), 4: ("stop", "pause"),
    5: ("keep_watching", ""),
}


class ScaleLink(BaseModel):
    """How a reviewed run is linked by ``chimera play scale`` (``chimera.plays.scale.scale_links``)."""

    scaled_from: str = ""
    scaled_by: str = ""
    scale_ran: bool = False
    """Whether the scale (``scaled_by``) was approved and ran: then the original is not scaled again."""


def review_plays(evidence: list[Mapping[str, Any]], directions: Mapping[str, str],
                 statuses: Mapping[str, str], stops: Mapping[str, str] | None = None,
                 scales: Mapping[str, ScaleLink] | None = None,
                 failures: Mapping[str, str] | None = None) -> list[PlayReview]:
    """One review per play run with at least one verdict that is not ``pending``, newest run first.

    ``evidence``: entries of ``chimera evidence --json``; ``directions``: KPI id -> direction;
    ``statuses``: play run id -> its status on the review's day (to say whether the advice is carried
    out already); ``stops``: play run id -> ``reverted on D by W`` / ``paused on D by W`` for those;
    ``scales``: play run id -> how a scale links it to another run (``chimera.plays.scale.scale_links``);
    ``failures``: play run id -> the step that failed for good (``chimera.plays.pause.failed_part``),
    for a run that failed part way."""
    runs: dict[str, list[Mapping[str, Any]]] = {}
    for entry in evidence:
        if entry.get("play_run_id"):
            runs.setdefault(str(entry["play_run_id"]), []).append(entry)
    reviews = [_review(run_id, entries, directions, statuses.get(run_id, "executed"), (stops or {}).get(run_id, ""),
                       (scales or {}).get(run_id) or ScaleLink(), (failures or {}).get(run_id, ""))
               for run_id, entries in runs.items() if any(e.get("verdict") != "pending" for e in entries)]
    return sorted(reviews, key=lambda r: (r.executed_on, r.play_run_id), reverse=True)


def _review(run_id: str, entries: list[Mapping[str, Any]], directions: Mapping[str, str], status: str,
            stop: str, link: ScaleLink, failure: str = "") -> PlayReview:
    figures = [Figure(kpi=str(e["kpi"]), verdict=str(e["verdict"]),
                      reading=reading(str(e["verdict"]), directions.get(str(e["kpi"]))),
                      effect_pct=e.get("effect_pct"), ci_low_pct=e.get("ci_low_pct"), ci_high_pct=e.get("ci_high_pct"),
                      before=e.get("before"), after=e.get("after"))
               for e in sorted(entries, key=lambda e: str(e["kpi"]))]
    rule = rule_for([f.reading for f in figures])
    recommendation, action = OUTCOME[rule]
    first = entries[0]
    return PlayReview(play_run_id=run_id, play=str(first["play"]), executed_on=str(first["executed_on"]),
                      status=status, recommendation=recommendation, action=action, rule=rule, rule_text=RULES[rule],
                      figures=figures, next_step=_next_step(run_id, recommendation, action, status),
                      option="" if link.scale_ran else scale_option(run_id, recommendation, status),
                      scaled_from=link.scaled_from, scaled_by=link.scaled_by,
                      advice=_advice(recommendation, action, status, stop, failure))


def _said(recommendation: str, action: str) -> str:
    return recommendation.replace("_", " ") + (f" ({action})" if action else "")


def _advice(recommendation: str, action: str, status: str, stop: str, failure: str = "") -> str:
    """What to do with the run as it stands: a stopped run is not told to ``continue`` (QA), nor one
    that failed part way (the play as approved never ran whole)."""
    said = _said(recommendation, action)
    if status == "failed":
        return _failed_advice(recommendation, action, said, failure)
    if status == "reverted":
        then = "; resume it if it should run again" if recommendation == "continue" else ""
        return f"{stop or 'reverted'}; the evidence says {said}{then}"
    if status == "paused":
        what = "resume" if recommendation == "continue" else "revert" if action == "revert" else "keep paused"
        if failure:  # paused after a step failed for good: a resume re-runs it
            what += " once the cause of the failure is fixed" if what == "resume" else ""
            return f"{what} ({stop or 'paused'}; {_failed_part(failure)}; the evidence says {said})"
        return f"{what} ({stop or 'paused'}; the evidence says {said})"
    return said


FAILED_PART = "the run failed part way"


def _failed_part(failure: str) -> str:
    """Which step failed, or where to see it when the caller did not say."""
    return (f"{FAILED_PART}: {failure}" if failure else
            f"{FAILED_PART}: a step failed for good and the steps after it were skipped (chimera jobs names it)")


def _failed_advice(recommendation: str, action: str, said: str, failure: str) -> str:
    """A failed run's advice: its evidence judges only what the steps before the failure applied."""
    part = f"{_failed_part(failure)}; the evidence of what it applied says {said}"
    if action == "revert":
        return f"revert ({part})"
    if action == "pause":
        return f"pause it, keeping what it applied without re-running the rest, or revert it ({part})"
    return (f"resume it once the cause of the failure is fixed (a pause, then a resume, runs the failed step "
            f"and the skipped ones), or revert what it applied ({part})")


def _next_step(run_id: str, recommendation: str, action: str, status: str) -> str:
    """The command that carries the advice out, or "" when it is done already (or nothing to do)."""
    if status == "failed":
        return _failed_next_step(run_id, recommendation, action)
    if recommendation == "stop" and action == "revert" and status in ("executed", "paused"):
        return f"chimera play revert {run_id} --reason R"
    if recommendation == "stop" and action == "pause" and status == "executed":
        return f"chimera play pause {run_id} --reason R"
    if recommendation == "continue" and status in ("paused", "reverted"):
        return f"chimera play resume {run_id} --reason R"
    return ""


def _failed_next_step(run_id: str, recommendation: str, action: str) -> str:
    """A failed run: revert it, pause it, or (evidence that it worked) pause and, the cause fixed, resume it."""
    if action == "revert":
        return f"chimera play revert {run_id} --reason R"
    if action == "pause":
        return f"chimera play pause {run_id} --reason R"
    if recommendation == "continue":
        return (f"chimera play pause {run_id} --reason R, then once the cause is fixed "
                f"chimera play resume {run_id} --reason R")
    return ""


def scale_option(run_id: str, recommendation: str, status: str) -> str:
    """``chimera play scale RUN --reason R`` beside "continue" for an executed run that worked ("" otherwise)."""
    return f"chimera play scale {run_id} --reason R" if recommendation == "continue" and status == "executed" else ""


def figure_text(f: Figure) -> str:
    """``conversion_rate moved_down (wrong way): effect -4.1 %, 95 % interval [-6.0, -2.2] %``."""
    parts = [f"{f.kpi} {f.verdict} ({f.reading.replace('right', 'right way').replace('wrong', 'wrong way')})"]
    if f.effect_pct is not None:
        interval = (f", 95 % interval [{f.ci_low_pct:+.1f}, {f.ci_high_pct:+.1f}] %"
                    if f.ci_low_pct is not None and f.ci_high_pct is not None else "")
        parts.append(f"effect {f.effect_pct:+.1f} %{interval}")
    return ": ".join(parts)


def review_line(r: PlayReview) -> str:
    """One line per reviewed run for the CLI: the advice, the rule and the figures behind it."""
    advice = r.advice or _said(r.recommendation, r.action)
    step = f"; next: {r.next_step}" if r.next_step else ""
    step += f"; or scale it: {r.option}" if r.option else ""
    step += f"; scaled by {r.scaled_by}" if r.scaled_by else ""
    scaled = f", a scale of {r.scaled_from}" if r.scaled_from else ""
    return (f"{r.play} (play run {r.play_run_id}, executed {r.executed_on}, {r.status}{scaled}): {advice}: "
            f"rule {r.rule}, {r.rule_text}; " + "; ".join(figure_text(f) for f in r.figures) + step)
