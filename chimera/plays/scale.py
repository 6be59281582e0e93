"""Scale a play that worked: a new run of the same play with larger step parameters, suggested for
a person to decide (manual §4.7 "continue / scale / pause specific plays").

Why a new run, not a change to the old one: the original's evidence is about what it ran. A new run
has its own jobs, correlation id and evidence, goes through the approval any suggestion goes
through (nothing runs until a person approves it: ``chimera approve|override|reject NEW``), and
counts against ``policy.max_active_plays``.

The rule (deterministic; plays.yml ``policy``):
- which run: an executed run whose weekly review says continue (rule 3: a KPI moved the right way,
  none the wrong way), read from its stored evidence records (``chimera evidence`` and the cycle
  judge and store them). A paused, reverted or failed run, or one whose evidence says anything
  else, is refused saying what to do instead.
- before: what the original ran (each step's job params, an override included); for a step it has
  no job for (a play run by hand), the step's plays.yml params.
- after: each numeric param named in ``policy.scale_params`` or capped by a ``max_<param>`` of its
  step, times ``policy.scale_factor`` (a whole number stays whole, half up), never past that cap
  (held at it, and said so). ``--set STEP.PARAM=VALUE`` sets one (STEP: its number, ``bot.action``
  or ``action``) and is refused past the cap: a cap is raised in plays.yml, logged in the changelog.
  A value that is no finite number, or is (or grows) beyond ``LARGEST`` in size, is refused naming its step.
- where: a suggestion of the newest live cycle (its ``run_id`` and day), ranked after the cycle's
  own; like them, a newer live cycle supersedes it while it is undecided.
- record: the new run's ``PlayRun.rationale["scale"]`` (``from``, ``on``, ``who``, ``why``, ``at``,
  ``factor``, ``changes``, ``evidence`` and ``params``: each step's full params, which the planner
  uses); its explanation says it in one sentence. Its approval is its ``Decision``, as any run's.
- once: the same scale again while its run is pending or under way returns that run
  (``already_scaled``); other params are refused until that run is decided or done. Once that run
  ran (executed, paused, reverted or failed), the original is not scaled again (it would run the same
  larger params twice): the scaled run is the one to judge and scale next. A rejected scale may be
  tried again.
- larger: ``--set`` never shrinks a param nor turns it the other way (count 5 -> 3, a +10 % price
  change -> -10 %): that is another play run, not a scale (override the suggestion to run less).
- when: ``--on`` is no earlier than the day the run's evidence fell due and the live cycle's day; a
  play held back by a pause or a revert (``chimera.plays.holds``) is not scaled until resumed.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, func, or_, select

from chimera.clients import ClientContext
from chimera.config.loader import ConfigSet, suggest
from chimera.db.models import CycleRun, EvidenceRecord, Job, PlayRun, utcnow
from chimera.errors import DecisionError
from chimera.evidence.record import record_json
from chimera.plays.holds import held_stops, stop_record, stop_text
from chimera.plays.models import ParamChange, ScaleOutcome, SuggestState, TriggeredPlay
from chimera.plays.pause import _checked_on
from chimera.plays.rank import active_kpis, is_reversible, overlap_notes
from chimera.plays.revert import on_locked_run
from chimera.plays.review import active_runs, logged_kpis, under_way_reason
from chimera.plays.weekly_review import PlayReview, ScaleLink, figure_text, review_plays

RECORD = "scale"
"""The key of the scale's record in the new run's ``PlayRun.rationale``."""
NOTHING = "; nothing was recorded"
LARGEST = Decimal(2 ** 53)
"""The largest size a step value may have (``--set``, a grown param, an override)."""
WHY_LARGEST = "2^53: no larger whole number is kept exact by every JSON reader"


class SetParam(BaseModel):
    """One ``--set STEP.PARAM=VALUE``, as typed and as read."""

    text: str
    step: str
    param: str
    value: Any


def parse_set(text: str) -> SetParam:
    """``update_prices.count=8`` -> step ``update_prices``, param ``count``, value 8 (JSON, else text)."""
    left, sep, raw = text.partition("=")
    step, dot, param = left.strip().rpartition(".")
    if not sep or not dot or not step or not param.strip() or not raw.strip():
        raise DecisionError(f"--set {text!r}: expected STEP.PARAM=VALUE, e.g. --set update_prices.count=8 "
                            "(STEP: the step's number, bot.action or action)")
    try:
        value = json.loads(raw.strip())
    except ValueError:
        value = raw.strip()
    return SetParam(text=text, step=step, param=param.strip(), value=value)


def scale(play_run_id: str, who: str, why: str | None, on: date | None = None,
          sets: list[str] | None = None) -> ScaleOutcome:
    """Scale play run ``play_run_id`` under the client's play-run lock, in one transaction."""
    wanted = [parse_set(s) for s in sets or []]
    return on_locked_run(play_run_id, why, "scaled",
                         lambda session, client, run, reason: scale_play_run(session, client, run, who, reason,
                                                                             on, wanted))


def scale_play_run(session: Session, client: ClientContext, run: PlayRun, who: str, why: str,
                   on: date | None = None, sets: list[SetParam] | None = None) -> ScaleOutcome:
    """Suggest the scaled run (see the module docstring), or return the one a first scale suggested."""
    evidence = worked(session, client, run)
    params, changes = scaled_params(client.configs, run.play_id, ran_params(session, client.configs, run), sets or [])
    existing = pending_scale(session, run)
    if existing is not None:
        return _again(client, run, existing, params)
    _check_not_scaled(client, run, ran_scale(session, run))
    if all(c.before == c.after for c in changes):
        held = "; ".join(f"step {c.step} {c.name} {c.param} {c.before} ({c.how})" for c in changes)
        then = "the --set values equal what ran: set a larger one" if sets else "pass --set"
        raise DecisionError(f"nothing to scale in play run {run.id} ({run.play_id}): "
                            f"{held or 'no step has a numeric param named in plays.yml policy.scale_params'}; "
                            f"raise a cap in plays.yml (logged with chimera config log) or {then}{NOTHING}")
    _check_room(session, client, run)
    cycle = live_cycle(session, client)
    day = _checked_on(session, client, run, _not_before_due(client, run, cycle, on), run.executed_on,
                      "the execution")
    _check_not_held(session, client, run, day)
    new = _suggest(session, client, run, cycle, _record(client, run, who, why, day, params, changes, evidence))
    return outcome(client, new, already=False)


# --- which run may be scaled ------------------------------------------------------------------------


def worked(session: Session, client: ClientContext, run: PlayRun) -> list[str]:
    """The figures that say the run worked (weekly review rule 3), or one refusal saying what to do instead."""
    if run.status != "executed":
        raise DecisionError(f"play run {run.id} ({run.play_id}) is {run.status}, not executed: only a play that "
                            f"ran and worked can be scaled: {_instead(client, run)}{NOTHING}")
    review = evidence_review(session, client, run)
    if review is None:
        raise DecisionError(f"play run {run.id} ({run.play_id}) has no evidence judged yet: scale it once its "
                            f"evidence says it worked (chimera evidence --client {client.name}){NOTHING}")
    if review.recommendation != "continue":
        said = review.recommendation.replace("_", " ") + (f" ({review.action})" if review.action else "")
        then = f"; instead: {review.next_step}" if review.next_step else \
            f"; scale it once its evidence says continue (chimera evidence --client {client.name})"
        raise DecisionError(f"play run {run.id} ({run.play_id}): its evidence does not say it worked: the weekly "
                            f"review says {said} (rule {review.rule}: {review.rule_text}): "
                            + "; ".join(figure_text(f) for f in review.figures) + f"{then}{NOTHING}")
    return [figure_text(f) for f in review.figures]


def evidence_review(session: Session, client: ClientContext, run: PlayRun) -> PlayReview | None:
    """The weekly review of the run's stored evidence (None before any verdict but ``pending``)."""
    rows = session.exec(select(EvidenceRecord).where(or_(
        EvidenceRecord.play_run_id == run.id, EvidenceRecord.correlation_id == run.correlation_id))).all()
    entries = [{**record_json(r), "play_run_id": run.id} for r in rows]
    directions = {k.id: k.direction for k in client.configs.kpis.kpis}
    reviews = review_plays(entries, directions, {run.id: run.status})
    return reviews[0] if reviews else None


def _instead(client: ClientContext, run: PlayRun) -> str:
    """What to do instead, per status (a stopped run: who stopped it, when and why)."""
    rid, stop = run.id, stop_record(run, run.status)
    said = stop_text(run, stop, run.status) if stop else run.status
    return {
        "suggested": f"it awaits a decision: approve it, or override it with larger params "
                     f"(chimera override {rid} --reason R --params JSON)",
        "approved": "it has not run yet: scale it once it ran and its evidence says it worked",
        "executing": "it is still running: scale it once it ran and its evidence says it worked",
        "paused": f"{said}: resume it first (chimera play resume {rid} --reason R), then scale it once its "
                  "evidence says it worked",
        "reverted": f"{said}: its changes were undone, so there is nothing that worked to scale "
                    f"(chimera play resume {rid} --reason R lets the play be suggested again)",
        "failed": f"a step failed (see chimera jobs --client {client.name}): pause and resume it to run the step "
                  f"again (chimera play pause {rid} --reason R, then chimera play resume {rid} --reason R)",
    }.get(run.status, "it never ran: nothing to scale")


# --- the parameters before and after ----------------------------------------------------------------


def ran_params(session: Session, configs: ConfigSet, run: PlayRun) -> list[tuple[str, dict[str, Any]]]:
    """Per step of the play: ``bot.action`` and the params the run ran it with (its job's, an override
    included); a step it has no job for (run by hand), the plays.yml params."""
    jobs = {j.step: j for j in session.exec(select(Job).where(Job.play_run_id == run.id))
            if j.type.startswith("EXECUTE_PLAY_")}
    steps = []
    for index, step in enumerate(configs.play(run.play_id).job_plan):
        job = jobs.get(index)
        ran = job is not None and (job.bot, job.action) == (step.bot, step.action)
        values = dict(job.params) if job is not None and ran else dict(step.params)
        values.pop("description", None)
        steps.append((f"{step.bot}.{step.action}", values))
    return steps


def number(value: Any) -> Decimal | None:
    """A step value as a number (not a bool, not text such as ``20_per_day``), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def caps(plan: dict[str, Any], ran: dict[str, Any]) -> dict[str, Decimal]:
    """param -> its cap: the lower of the step's ``max_<param>`` in plays.yml and in what ran (an
    override may have lowered it)."""
    found: dict[str, Decimal] = {}
    for values in (plan, ran):
        for key, value in values.items():
            cap = number(value)
            if key.startswith("max_") and len(key) > 4 and cap is not None:
                found[key[4:]] = min(cap, found.get(key[4:], cap))
    return found


def scaled_params(configs: ConfigSet, play_id: str, ran: list[tuple[str, dict[str, Any]]],
                  sets: list[SetParam]) -> tuple[list[dict[str, Any]], list[ParamChange]]:
    """Each step's params for the scaled run, and every scaled or set param with before, after and how."""
    policy, plan = configs.plays.policy, configs.play(play_id).job_plan
    given = _given(play_id, plan, ran, sets)
    params, changes = [], []
    for index, (name, values) in enumerate(ran):
        limits, after = caps(plan[index].params, values), dict(values)
        for key, value in values.items():
            if (index, key) in given:
                after[key] = given[index, key]
                how = "set by --set"
            elif number(value) is not None and not key.startswith("max_") and \
                    (key in policy.scale_params or key in limits):
                after[key], how = grown(value, policy.scale_factor, key, limits.get(key))
                _check_size(f"{play_id} step {index + 1} {name}", key, value, after[key], how)
            else:
                continue
            changes.append(ParamChange(step=index + 1, name=name, param=key, before=value, after=after[key], how=how))
        params.append(after)
    return params, changes


def _check_size(where: str, key: str, value: Any, after: Any, how: str) -> None:
    """A param that ran, or grew, beyond ``LARGEST`` is refused naming its step: stored, it would come
    back as other digits (or as infinity) to whoever reads the scaled run."""
    grew = number(after)
    if grew is None or abs(grew) > LARGEST or abs(number(value) or 0) > LARGEST:
        raise DecisionError(f"{where} {key} {value} cannot be scaled: {how} makes it {after}, beyond {LARGEST} in "
                            f"size ({WHY_LARGEST}); correct the value in plays.yml (logged with chimera config log) "
                            f"or override a new run with a smaller one{NOTHING}")


def grown(value: Any, factor: float, key: str, cap: Decimal | None) -> tuple[Any, str]:
    """``value`` x ``factor`` (whole stays whole, half up; else 2 decimals), held at ``cap`` by size.
    Computed with the digits the value needs (the default 28 made ``1e30`` x 1.5 raise)."""
    before = number(value)
    assert before is not None
    whole = counted(key, value)
    times = f"x{factor:g}"
    with localcontext() as exact:
        exact.prec = max(exact.prec, abs(before.adjusted()) + 40)
        after = (before * Decimal(str(factor))).quantize(Decimal(1) if whole else Decimal("0.01"), ROUND_HALF_UP)
    if cap is None or abs(after) <= cap:
        return _plain(after, whole), times
    if abs(before) >= cap:
        return value, f"at its cap max_{key} {_plain(cap, False):g}"
    return _plain(cap.copy_sign(after), whole), f"{times}, held at its cap max_{key} {_plain(cap, False):g}"


def counted(key: str, value: Any) -> bool:
    """A param that stays a whole number: one plays.yml writes whole, unless it is a percentage
    (``*_pct``): ``change_pct: 10`` is no count, so 5 grows to 7.5 and ``--set change_pct=12.5`` is one."""
    return isinstance(value, int) and not isinstance(value, bool) and not key.endswith("pct")


def _plain(value: Decimal, whole: bool) -> Any:
    """A JSON-friendly number: an int for a whole-number param or a whole value (15, not 15.0), else a float."""
    return int(value) if whole or (value == value.to_integral_value() and abs(value) <= LARGEST) else float(value)


def _given(play_id: str, plan: list[Any], ran: list[tuple[str, dict[str, Any]]],
           sets: list[SetParam]) -> dict[tuple[int, str], Any]:
    """(step index, param) -> the ``--set`` value, each checked: a numeric param of that step, a whole
    number where the param is one, within the step's cap."""
    given: dict[tuple[int, str], Any] = {}
    for s in sets:
        index = _step_index(play_id, ran, s)
        name, values = ran[index]
        where = f"{play_id} step {index + 1} {name}"
        numeric = [k for k, v in values.items() if number(v) is not None and not k.startswith("max_")]
        if s.param not in numeric:
            raise DecisionError(f"--set {s.text}: {where} has no numeric param {s.param!r}{suggest(s.param, numeric)}; "
                                f"it has {', '.join(numeric) or 'none'} (a max_* cap changes in plays.yml, logged with "
                                f"chimera config log){NOTHING}")
        whole, value, raw = counted(s.param, values[s.param]), number(s.value), s.text.partition("=")[2].strip()
        if value is None or (whole and value != value.to_integral_value()):
            kind = "a whole number" if whole else "a number"
            endless = " (" + raw + " is no finite number)" if _endless(s.value) else ""
            raise DecisionError(f"--set {s.text}: {where} {s.param} must be {kind}, like its {values[s.param]} "
                                f"now{endless}{NOTHING}")
        if abs(value) > LARGEST:
            raise DecisionError(f"--set {s.text}: {where} {s.param} {raw} is beyond {LARGEST} in size "
                                f"({WHY_LARGEST}){NOTHING}")
        if (index, s.param) in given:
            raise DecisionError(f"--set {s.text}: {where} {s.param} is set twice; give it once{NOTHING}")
        before = number(values[s.param])
        assert before is not None  # a numeric param
        if before != 0 and (value * before < 0 or abs(value) < abs(before)):
            how = "turn it the other way" if value * before < 0 else "shrink it"
            raise DecisionError(f"--set {s.text}: {where} ran {s.param} {values[s.param]}: {s.value} would {how}; "
                                f"a scale keeps a param's direction and makes it no smaller (for a smaller run, "
                                f"override the suggestion: chimera override ID --reason R --params JSON){NOTHING}")
        cap = caps(plan[index].params, values).get(s.param)
        if cap is not None and abs(value) > cap:
            raise DecisionError(f"--set {s.text}: {where} caps {s.param} at max_{s.param} {_plain(cap, False):g}: "
                                f"{s.value} is beyond the cap; a scale stays within it (raise the cap in plays.yml, "
                                f"logged with chimera config log){NOTHING}")
        given[index, s.param] = _plain(value, whole)
    return given


def _endless(value: Any) -> bool:
    """An infinity or a NaN (``inf``, ``nan``, ``1e400``, which JSON reads as an infinity)."""
    try:
        return not isinstance(value, bool) and not Decimal(str(value)).is_finite()
    except (InvalidOperation, ValueError):
        return False


def _step_index(play_id: str, ran: list[tuple[str, dict[str, Any]]], s: SetParam) -> int:
    """The step ``--set`` names: its 1-based number, its ``bot.action`` or its action."""
    names = [n for n, _ in ran]
    if s.step.isdigit() and 1 <= int(s.step) <= len(names):
        return int(s.step) - 1
    matches = [i for i, n in enumerate(names) if s.step in (n, n.partition(".")[2])]
    if len(matches) == 1:
        return matches[0]
    steps = ", ".join(f"{i + 1} {n}" for i, n in enumerate(names))
    if matches:
        raise DecisionError(f"--set {s.text}: {play_id} has {len(matches)} steps {s.step!r}: name one by its "
                            f"number ({steps}){NOTHING}")
    options = [*names, *(n.partition(".")[2] for n in names)]
    raise DecisionError(f"--set {s.text}: {play_id} has no step {s.step!r}{suggest(s.step, options)}; "
                        f"its steps: {steps}{NOTHING}")


def describe(changes: list[ParamChange]) -> str:
    """``step 1 shopify_bot.update_prices count 5 -> 8 (x1.5)``, joined by ``; ``."""
    return "; ".join(f"step {c.step} {c.name} {c.param} {c.before} -> {c.after} ({c.how})" for c in changes)


# --- once, room under the cap, where it goes ----------------------------------------------------------


def ran_scale(session: Session, run: PlayRun) -> PlayRun | None:
    """The newest scale of ``run`` that was approved and ran (executed, paused, reverted or failed) and
    is no longer active (its evidence judged, or stopped); a rejected or superseded scale is none."""
    runs = session.exec(select(PlayRun).where(
        PlayRun.company_id == run.company_id, PlayRun.play_id == run.play_id,
        col(PlayRun.status).in_(("executed", "paused", "reverted", "failed")),
    ).order_by(col(PlayRun.created_at).desc())).all()
    return next((r for r in runs if scaled_from(r) == run.id), None)


def _check_not_scaled(client: ClientContext, run: PlayRun, done: PlayRun | None) -> None:
    """The original of a scale that ran is not scaled again: the same larger run would run twice."""
    if done is None:
        return
    record = done.rationale[RECORD]
    changes = describe([ParamChange.model_validate(c) for c in record.get("changes") or []])
    if done.status == "executed":
        then = f"judge that run and scale it once its evidence says it worked (chimera play scale {done.id} --reason R)"
    elif done.status == "reverted" and (stop := stop_record(done, done.status)):
        then = (f"the larger run was {stop_text(done, stop, 'reverted')}; chimera play resume {done.id} --reason R "
                "lifts its hold so the play may be suggested again")
    else:
        then = _instead(client, done)
    raise DecisionError(f"play run {run.id} ({run.play_id}) was already scaled by {record.get('who')} on "
                        f"{record.get('on')} and that run ran: play run {done.id} (executed "
                        f"{done.executed_on or 'never'}, now {done.status}) with {changes}; scaling play run "
                        f"{run.id} again would run the same larger params twice: {then}{NOTHING}")


def _not_before_due(client: ClientContext, run: PlayRun, cycle: CycleRun, on: date | None) -> date | None:
    """``on`` unless it is before the run's evidence fell due or the live cycle the scaled run joins."""
    if on is None or run.executed_on is None:
        return on
    delay = client.configs.play(run.play_id).evidence.delay_days
    since = max(run.executed_on + timedelta(days=delay), cycle.as_of)
    if on < since:
        raise DecisionError(f"--on {on} is before play run {run.id} ({run.play_id}) could be scaled: its evidence fell "
                            f"due on {run.executed_on + timedelta(days=delay)} (executed {run.executed_on}, "
                            f"+{delay} days) and the scaled run joins the cycle of {cycle.as_of}; pass --on with the "
                            f"day it is scaled, {since} or later{NOTHING}")
    return on


def _check_not_held(session: Session, client: ClientContext, run: PlayRun, day: date) -> None:
    """A play held back by a pause or revert of one of its runs is not suggested by a scale either."""
    hold = held_stops(session, client.company_id, day,
                      hold_days=client.configs.plays.policy.revert_hold_days).get(run.play_id)
    if hold is not None:
        raise DecisionError(f"{run.play_id} is held back ({hold.kind}): {hold.why}; a scale of play run {run.id} is "
                            f"a suggestion like any and waits for the hold to end{NOTHING}")


def pending_scale(session: Session, run: PlayRun) -> PlayRun | None:
    """The run a scale of ``run`` suggested while it is pending or under way (it counts as active)."""
    return next((r for r in reversed(active_runs(session, run.company_id))
                 if r.play_id == run.play_id and scaled_from(r) == run.id), None)


def scaled_from(run: PlayRun) -> str | None:
    """The run this one scales (None for a run that is no scale)."""
    record = (run.rationale or {}).get(RECORD)
    return str(record["from"]) if isinstance(record, dict) and record.get("from") else None


def _again(client: ClientContext, run: PlayRun, existing: PlayRun, params: list[dict[str, Any]]) -> ScaleOutcome:
    """The same scale again returns its run; other params are refused while it is pending or under way."""
    record = existing.rationale[RECORD]
    if record.get("params") == json.loads(json.dumps(params)):
        return outcome(client, existing, already=True)
    doing = "awaits a decision: reject it (chimera reject " + existing.id + " --reason R) to scale with other params" \
        if existing.status == "suggested" else "is under way: scale again once it is done"
    raise DecisionError(f"play run {run.id} ({run.play_id}) was already scaled by {record.get('who')} on "
                        f"{record.get('on')}: play run {existing.id} ({existing.status}) with "
                        f"{describe([ParamChange.model_validate(c) for c in record.get('changes') or []])}; "
                        f"it {doing}{NOTHING}")


def _check_room(session: Session, client: ClientContext, run: PlayRun) -> None:
    """One run of a play at a time, and no more active plays than ``policy.max_active_plays``."""
    active = active_runs(session, client.company_id)
    same = [r for r in active if r.play_id == run.play_id]
    if same:
        raise DecisionError(f"{run.play_id} is {under_way_reason(same[-1])}: one run of a play at a time; decide or "
                            f"finish that run before scaling play run {run.id}{NOTHING}")
    cap = client.configs.plays.policy.max_active_plays
    if len(active) >= cap:
        listed = ", ".join(f"{r.play_id} (play run {r.id}, {r.status})" for r in active)
        raise DecisionError(f"{len(active)} plays are active and plays.yml policy.max_active_plays is {cap}: "
                            f"{listed}; decide, pause or finish one before scaling {run.play_id}{NOTHING}")


def live_cycle(session: Session, client: ClientContext) -> CycleRun:
    """The newest live cycle: the scaled run is one of its suggestions (silent cycles decide nothing)."""
    cycle = session.exec(select(CycleRun).where(
        CycleRun.company_id == client.company_id, CycleRun.kind == "cycle", col(CycleRun.silent).is_(False),
    ).order_by(col(CycleRun.as_of).desc(), col(CycleRun.created_at).desc())).first()
    if cycle is None:
        raise DecisionError(f"{client.name} has no live cycle to suggest the scaled run in: run one first "
                            f"(chimera cycle --client {client.name}){NOTHING}")
    return cycle


def _record(client: ClientContext, run: PlayRun, who: str, why: str, day: date, params: list[dict[str, Any]],
            changes: list[ParamChange], evidence: list[str]) -> dict[str, Any]:
    return {"from": run.id, "on": day.isoformat(), "who": who, "why": why, "at": utcnow().isoformat(),
            "factor": client.configs.plays.policy.scale_factor,
            "changes": [c.model_dump(mode="json") for c in changes], "evidence": evidence,
            "params": json.loads(json.dumps(params))}


def explanation_text(run_id: str, executed_on: date | None, record: dict[str, Any]) -> str:
    """``scaled from play run X (executed D) on D2 by W because R: step 1 ... 5 -> 8 (x1.5)``."""
    changes = [ParamChange.model_validate(c) for c in record.get("changes") or []]
    return (f"scaled from play run {run_id} (executed {executed_on}) on {record['on']} by {record['who']} because "
            f"{record['why']}: {describe(changes)}")


def _suggest(session: Session, client: ClientContext, run: PlayRun, cycle: CycleRun,
             record: dict[str, Any]) -> PlayRun:
    """The new run: a suggestion of ``cycle``, ranked after its own, explained like them."""
    configs, play = client.configs, client.configs.play(run.play_id)
    last = session.exec(select(func.max(PlayRun.rank)).where(PlayRun.run_id == cycle.id)).one() or 0
    reason = explanation_text(run.id, run.executed_on, record)
    explained = TriggeredPlay(
        play_id=play.id, label=play.label, rank=last + 1, score=0.0, owner=play.owner, reason=reason, trigger=[],
        kpi_values={}, evidence_kpis=list(play.evidence.kpis), delay_days=play.evidence.delay_days,
        why_rank=f"a scale of play run {run.id}, whose evidence says it worked: " + "; ".join(record["evidence"]),
        sops=list(play.sops), reversible=is_reversible(configs, play), auto_approvable=False,
        financial=play.financial, impact=play.impact, effort=play.effort)
    active = active_runs(session, client.company_id)
    state = SuggestState(active_plays=sorted({r.play_id for r in active}), active_kpis=logged_kpis(active))
    overlaps = overlap_notes(explained, [], active_kpis(configs, state))  # a scale is judged like any run
    if overlaps:
        explained = explained.model_copy(update={"overlaps": overlaps,
                                                 "why_rank": "; ".join([explained.why_rank, *overlaps])})
    new = PlayRun(company_id=client.company_id, run_id=cycle.id, play_id=play.id, as_of=cycle.as_of,
                  rank=last + 1, owner=play.owner, status="suggested",
                  explanation={**explained.model_dump(mode="json"), "scaled_from": run.id},
                  rationale={"summary": reason, RECORD: record})
    session.add(new)
    session.flush()
    return new


def outcome(client: ClientContext, new: PlayRun, already: bool) -> ScaleOutcome:
    record = new.rationale[RECORD]
    return ScaleOutcome(
        client=client.name, play=new.play_id, play_run_id=new.id, scaled_from=record["from"], status=new.status,
        cycle_run_id=new.run_id, on=date.fromisoformat(record["on"]), who=record["who"], why=record["why"],
        at=datetime.fromisoformat(record["at"]), factor=record["factor"], already_scaled=already,
        changes=[ParamChange.model_validate(c) for c in record["changes"]], evidence=list(record["evidence"]),
        explanation=str((new.explanation or {}).get("reason") or ""),
        next_step=f"chimera approve {new.id}" if new.status == "suggested" else "")


def scale_links(session: Session, company_id: int, run_ids: list[str]) -> dict[str, ScaleLink]:
    """Play run id -> how a scale links it (for the weekly review): the run a scaled run scales, and
    a scaled run's newest scale that was not rejected or superseded (whether it ran)."""
    runs = {r.id: r for r in session.exec(select(PlayRun).where(PlayRun.company_id == company_id))}
    links: dict[str, ScaleLink] = {}
    for run in sorted(runs.values(), key=lambda r: r.created_at):
        origin = runs.get(scaled_from(run) or "")
        if origin is None or run.status in ("rejected", "superseded"):
            continue
        if run.id in run_ids:
            links.setdefault(run.id, ScaleLink()).scaled_from = f"play run {origin.id} (executed {origin.executed_on})"
        if origin.id in run_ids:
            link = links.setdefault(origin.id, ScaleLink())
            link.scaled_by = f"play run {run.id} ({run.status}" + \
                (f", executed {run.executed_on})" if run.executed_on else ")")
            link.scale_ran = run.status in ("executed", "paused", "reverted", "failed")
    return links


def step_params(run: PlayRun) -> dict[int, dict[str, Any]]:
    """Step index -> the params a scaled run runs that step with (empty for a run that is no scale):
    for the planner, over the step's plays.yml params."""
    record = (run.rationale or {}).get(RECORD)
    params = record.get("params") if isinstance(record, dict) else None
    return {i: dict(p) for i, p in enumerate(params)} if isinstance(params, list) else {}
