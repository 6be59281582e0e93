"""LLM-backed narration for the jobs where prose helps a person, guarded by the truth check.

Economy by design: a model writes the KPI summary (EVALUATE_KPIS), the suggestion summary
(SUGGEST_PLAYS) and one rationale per triggered play; mechanical jobs (ingest, planning, execution)
keep their templated text. Facts are chosen by the graph and passed in; the model only writes.
Without a model (the default) everything here returns the offline text.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from agents.offline import NOT_NARRATED
from agents.prompting import render, system_prompt
from chimera.db.engine import session_scope
from chimera.db.models import CycleRun
from chimera.errors import ProviderError
from chimera.llm.guard import (
    EMPTY_NUDGE,
    EMPTY_REPLY,
    ONLY_REASONING,
    TOOL_CALL_AS_TEXT,
    check_numbers,
    guarded_narrative,
)
from chimera.llm.models import Narrative
from chimera.llm.provider import get_chat_model, resolve_backend
from chimera.llm.usage import CommanderUsage, UsageTracker

if TYPE_CHECKING:
    from agents.commander import Commander
    from agents.context import CycleContext
    from chimera.db.models import Job

MODEL_JOBS = {"EVALUATE_KPIS", "SUGGEST_PLAYS"}


class Rationale(BaseModel):
    """A commander's structured rationale for one recommended play."""

    summary: str
    why: str = ""
    metrics_cited: list[str] = []
    sops_cited: list[str] = []
    caveats: list[str] = []
    source: str = "offline"
    note: str = ""


def _currency(client: Any) -> str:
    """The client's ISO currency code for the prompt ("" for a client without a loaded config)."""
    return str(getattr(getattr(client, "config", None), "currency", "") or "")


def tracker(ctx: CycleContext) -> UsageTracker:
    """The cycle's usage tracker, seeded from what earlier processes of this cycle recorded."""
    if "usage" not in ctx.cache:
        t = UsageTracker(backend=resolve_backend())
        with session_scope() as s:
            run = s.get(CycleRun, ctx.run_id)
            stored = (run.model_usage or {}) if run else {}
        for name, row in (stored.get("by_commander") or {}).items():
            t.by_commander[name] = CommanderUsage(**row)
        t.guard_rejections = int(stored.get("guard_rejections", 0))
        ctx.cache["usage"] = t
    return ctx.cache["usage"]


def save_usage(session: Any, ctx: CycleContext) -> None:
    """Store the cycle's usage on its CycleRun, in the caller's transaction (no second writer)."""
    t = ctx.cache.get("usage")
    if t is None:
        return
    run = session.get(CycleRun, ctx.run_id)
    if run is not None:
        run.model_usage = t.details()
        session.add(run)


def _label_backend(ctx: CycleContext, cmd_model: Any) -> None:
    """Say which backend actually spoke (a per-commander override may differ from CHIMERA_LLM)."""
    t = tracker(ctx)
    used = (cmd_model.backend if cmd_model and cmd_model.backend else None) or resolve_backend()
    if t.backend in ("offline", used):
        t.backend = used
    elif used not in t.backend.split("+"):
        t.backend = f"{t.backend}+{used}"


NO_MODEL = "no model configured"


def _model_and_reason(cmd_model: Any) -> tuple[Any, str]:
    """The commander's model and ``""``, or None and why not: ``no model configured``, or the
    misconfiguration (the cycle never fails because of a model; ProviderError never holds a key)."""
    backend = cmd_model.backend if cmd_model else None
    name = cmd_model.name if cmd_model else None
    try:
        model = get_chat_model(backend, name)
    except ProviderError as exc:
        return None, f"model backend misconfigured: {exc}"
    return model, ("" if model is not None else NO_MODEL)


def _model_for(cmd_model: Any) -> Any:
    """The commander's model, or None (offline) — also when the backend is misconfigured."""
    return _model_and_reason(cmd_model)[0]


def _offline_story(offline_text: str, reason: str) -> Narrative:
    note = {NO_MODEL: "offline (no model configured)", NOT_NARRATED: NOT_NARRATED}.get(
        reason, f"{reason}; offline narrative shown")
    return Narrative(text=offline_text, source="offline", note=note, reason=reason)


def model_narrative(cmd: Commander, ctx: CycleContext, job: Job, result: dict[str, Any],
                    offline_text: str) -> Narrative | None:
    """The model's guarded summary of a job result, or the offline text with the reason; None when
    no model is configured at all."""
    if job.type not in MODEL_JOBS:
        try:
            configured = resolve_backend(cmd.spec.model.backend if cmd.spec.model else None) != "offline"
        except ProviderError:
            configured = True
        return _offline_story(offline_text, NOT_NARRATED) if configured else None
    model, reason = _model_and_reason(cmd.spec.model)
    if model is None:
        return None if reason == NO_MODEL else _offline_story(offline_text, reason)
    _label_backend(ctx, cmd.spec.model)
    facts = json.dumps(_compact(result), default=str)
    messages = [SystemMessage(system_prompt(cmd.spec, ctx.client.name, _currency(ctx.client))),
                HumanMessage(render("job_summary", job_type=job.type, facts=facts))]
    usage = tracker(ctx)
    # the guard reads the very JSON the prompt carried: a hidden field (a previous value, a baseline)
    # must not vouch for a figure the model was never shown
    return guarded_narrative(model, messages, [facts], offline_text, usage=usage, commander=cmd.id)


def _compact(result: dict[str, Any]) -> dict[str, Any]:
    """Only what a person needs, to keep prompts small (economy: < 4,000 tokens a call). A KPI keeps
    its unit, so the model and the guard read 0.0179 as the rate it is; a play its status."""
    if "kpis" in result:
        return {"kpis": [{k: v for k, v in kpi.items() if k in ("id", "unit", "status", "value", "note")}
                         for kpi in result["kpis"]]}
    if "plays" in result:
        keys = ("play_id", "status", "rank", "reason", "why_rank")
        return {"plays": [{k: p.get(k) for k in keys if k in p} for p in result["plays"]]}
    return result


SOP_NOTE = ("SOP excerpts are guidance to cite by file; their figures are not this business's numbers: "
            "quote none of them.")


def without_sop_text(value: Any) -> Any:
    """``value`` with each SOP hit cut to its file and title: what the guard may read. SOP text informs
    the model, but anyone can add an SOP, so its figures must never vouch for a KPI value or amount."""
    if isinstance(value, dict):
        if "file" in value and "excerpt" in value:
            return {k: value[k] for k in ("file", "title") if k in value}
        return {k: without_sop_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_sop_text(v) for v in value]
    return value


PEOPLE_KEYS = frozenset({"why"})
"""Where a person's own words stand (why a play was paused, reverted, resumed or decided so)."""


def _people_words(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in PEOPLE_KEYS and isinstance(v, str) and v.strip():
                found.add(v.strip())
            else:
                _people_words(v, found)
    elif isinstance(value, list | tuple):
        for v in value:
            _people_words(v, found)
    return found


def _without_words(value: Any, words: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: "" if k in PEOPLE_KEYS and isinstance(v, str) else _without_words(v, words)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_words(v, words) for v in value]
    if isinstance(value, str):
        for said in words:
            value = value.replace(said, "")
        return value
    return value


def guard_sources(value: Any) -> Any:
    """What of a tool output may vouch for a model's figure or claim: no SOP text (``without_sop_text``)
    and no person's typed reason, also where another text quotes it (a hold's ``held_back``). Anyone who
    may pause a play may type 'net sales are $99,999; the bundle was approved' as the reason; the model
    still reads it, but it sources no figure and no decision."""
    value = without_sop_text(value)
    return _without_words(value, sorted(_people_words(value, set()), key=len, reverse=True))


def offline_rationale(explanation: dict[str, Any]) -> Rationale:
    """The templated rationale: the deterministic explanation, said plainly."""
    kpis = list((explanation.get("kpi_values") or {}).keys())
    return Rationale(
        summary=f"{explanation.get('label', explanation.get('play_id'))}: {explanation.get('reason', '')}",
        why="; ".join(explanation.get("trigger", [])) or explanation.get("reason", ""),
        metrics_cited=kpis, sops_cited=list(explanation.get("sops", [])),
        caveats=["before/after evidence only: no control group"],
        source="offline", note="offline (no model configured)",
    )


def play_rationale(cmd: Commander | None, ctx: CycleContext, explanation: dict[str, Any],
                   sop_hits: list[dict[str, Any]]) -> Rationale:
    """One model call per triggered play; the JSON it writes is checked figure by figure."""
    fallback = offline_rationale(explanation)
    model, reason = _model_and_reason(cmd.spec.model) if cmd else (None, NO_MODEL)
    if model is None or cmd is None:
        return fallback if reason == NO_MODEL else fallback.model_copy(
            update={"note": f"{reason}; offline rationale shown"})
    _label_backend(ctx, cmd.spec.model)
    play = {k: explanation.get(k) for k in ("play_id", "label", "reason", "trigger", "kpi_values",
                                             "why_rank", "evidence_kpis", "reversible")}
    prompt_facts = {"play": play, "sops": sop_hits, **({"sops_note": SOP_NOTE} if sop_hits else {})}
    facts = guard_sources(prompt_facts)  # what may source a figure: never an SOP's text
    messages = [SystemMessage(system_prompt(cmd.spec, ctx.client.name, _currency(ctx.client))),
                HumanMessage(render("play_rationale", play_id=explanation.get("play_id"),
                                    play_label=explanation.get("label"), facts=json.dumps(prompt_facts, default=str)))]
    offline_json = fallback.model_dump_json(include={"summary", "why", "metrics_cited", "sops_cited", "caveats"})
    usage = tracker(ctx)
    narrative = guarded_narrative(model, messages, [facts], offline_json, usage=usage, commander=cmd.id)
    if narrative.source != "model":
        return fallback.model_copy(update={"note": narrative.note or fallback.note})
    data = _rationale_object(narrative.text)
    if isinstance(data, str):
        return fallback.model_copy(update={"note": f"{data}; offline rationale shown"})
    try:
        rationale = Rationale.model_validate({**data, "source": "model"})
    except ValueError:
        return fallback.model_copy(update={"note": "model rationale was not valid JSON; offline rationale shown"})
    if not check_numbers(" ".join([rationale.summary, rationale.why, *rationale.caveats]), [facts]).ok:
        return fallback.model_copy(update={"note": "model rationale cited figures not in the facts"})
    return _only_given_sops(rationale, sop_hits)


_MODEL_FIELDS = ("summary", "why", "metrics_cited", "sops_cited", "caveats")  # never "note" or "source"


def _rationale_object(text: str) -> dict[str, Any] | str:
    """The rationale fields of the JSON object in ``text`` (bare, fenced or after a line of prose),
    or why there is none. ``note`` and ``source`` are the system's to write, not the model's."""
    candidates = [_strip_fences(text), text[text.find("{"): text.rfind("}") + 1]]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            return "model rationale was not a JSON object"
        return {k: v for k, v in data.items() if k in _MODEL_FIELDS}
    return "model rationale was not valid JSON"


def _only_given_sops(rationale: Rationale, sop_hits: list[dict[str, Any]]) -> Rationale:
    """Keep the SOP citations the model was given (the search hits); drop the others, saying so."""
    given = {str(h.get("file")) for h in sop_hits}
    kept = [f for f in dict.fromkeys(rationale.sops_cited) if f in given]
    dropped = [f for f in rationale.sops_cited if f not in given]
    if not dropped:
        return rationale.model_copy(update={"sops_cited": kept})
    note = "dropped SOP citations the model was not given: " + ", ".join(dict.fromkeys(dropped))
    return rationale.model_copy(update={"sops_cited": kept, "note": "; ".join(filter(None, [rationale.note, note]))})


_FENCED = re.compile(r"```[\w-]*\s*\n(.*?)```", re.DOTALL)


def _strip_fences(text: str) -> str:
    """The first fenced block's body (```json ... ```), wherever it stands, else the text."""
    fenced = _FENCED.search(text)
    return (fenced[1] if fenced else text).strip()


class Answer(BaseModel):
    """A commander's answer to a person: the text, where it came from, and the tools it read."""

    text: str
    source: str
    commander: str
    tools_called: list[str] = []
    note: str = ""
    guard_rejections: int = 0


MAX_TOOL_CALLS_PER_REPLY = 8
"""A reply asking for hundreds of tool calls (a looping small model) must not run them all."""


def _is_error_result(result: Any) -> bool:
    """A tool's error result ({"error": ...}) may repeat the model's own arguments: no source."""
    return isinstance(result, dict) and set(result) == {"error"}


def _with_call_ids(reply: Any, round_no: int) -> Any:
    """Give each tool call an id of its own: some local servers omit it, others number every reply's
    calls alike (two ``call_0``); a tool answer naming a shared id answers none of them for sure."""
    ids = [call.get("id") for call in reply.tool_calls]
    if all(ids) and len(set(ids)) == len(ids):
        return reply
    seen: set[str] = set()
    calls = []
    for n, call in enumerate(reply.tool_calls):
        given = call.get("id")
        calls.append({**call, "id": given if given and given not in seen else f"call_{round_no}_{n}"})
        seen.add(calls[-1]["id"])
    return reply.model_copy(update={"tool_calls": calls})


def ask_commander(cmd_spec: Any, toolbox: Any, question: str, offline_text: str, *, model: Any = None,
                  usage: UsageTracker | None = None, max_rounds: int = 4, facts: list[Any] | None = None) -> Answer:
    """Let the commander's model call the read-only tools, then answer; every figure it writes must
    come from those tool outputs (else one correction, then the offline answer, said so). Calls written
    as text (``<tool_call>{...}``) are run like real ones. An empty, refused, cut-off, oversized or
    unreadable reply, or no answer within ``max_rounds``, gives the offline answer with that reason."""
    from langchain_core.messages import ToolMessage

    from chimera.llm.guard import answer_text, reply_problem
    from chimera.llm.retry import ModelUnavailable, invoke_with_retries
    from chimera.llm.text_tools import text_tool_calls

    reason = ""
    if model is None:
        model, reason = _model_and_reason(cmd_spec.model)
    offline = Answer(text=offline_text, source="offline", commander=cmd_spec.id, note="offline (no model configured)")
    if model is None:
        return offline if reason in ("", NO_MODEL) else offline.model_copy(
            update={"note": f"{reason}; offline answer shown"})
    bound = model.bind_tools(toolbox.as_tools())
    prompt = system_prompt(cmd_spec, toolbox.client.name, _currency(toolbox.client))
    messages: list[Any] = [SystemMessage(prompt), HumanMessage(question)]
    outputs: list[Any] = guard_sources(list(facts or []))  # facts given in the question are sources
    called: list[str] = []
    rejections = 0
    config = {"metadata": {"commander": cmd_spec.id}, **({"callbacks": [usage]} if usage else {})}

    def _fallback(note: str) -> Answer:
        return offline.model_copy(update={"note": f"{note}; offline answer shown", "tools_called": called,
                                          "guard_rejections": rejections})

    nudged = False
    for round_no in range(max_rounds):
        if usage is not None and not usage.allow_call():
            return _fallback(usage.budget_reason() or "model budget reached")
        try:
            reply = invoke_with_retries(bound, messages, config=config)
        except ModelUnavailable as exc:
            if usage is not None and exc.ends_cycle_use:
                usage.trip(exc.reason)
            return _fallback(exc.reason)
        reply = _with_call_ids(reply, round_no)
        messages.append(reply)
        if reply.tool_calls:
            for n, call in enumerate(reply.tool_calls):
                result = _run_call(toolbox, call["name"], call.get("args") or {}, n, outputs, called)
                messages.append(ToolMessage(json.dumps(result, default=str), tool_call_id=call["id"]))
            continue
        text = answer_text(reply)
        written = text_tool_calls(text)
        if written:  # a small local model wrote its calls as text: run them, answer in a user turn
            results = [{"tool": c.name, "arguments": c.args,
                        "result": _run_call(toolbox, c.name, c.args, n, outputs, called)}
                       for n, c in enumerate(written)]
            messages.append(HumanMessage(TEXT_CALL_RESULTS + json.dumps(results, default=str)))
            continue
        problem = reply_problem(reply, text, outputs)
        if problem in NUDGES and not nudged:  # small and reasoning models stop without an answer now, or
            nudged = True  # write a call no JSON reads; and then: asked once more, they answer
            messages.append(HumanMessage(NUDGES[problem]))
            continue
        if problem:
            return _fallback(problem)
        verdict = check_numbers(text, outputs)
        if verdict.ok:
            return Answer(text=text, source="model", commander=cmd_spec.id, tools_called=called,
                          guard_rejections=rejections)
        rejections += 1
        if usage is not None:
            usage.add_guard_rejections()
        if rejections >= 2:
            return _fallback("model answer contained figures or claims not in the tool outputs")
        messages.append(HumanMessage(
            "These figures or claims are not supported by the tool outputs: " + ", ".join(verdict.offending)
            + ". Answer again using only figures, statuses and verdicts from the tool outputs, or none."))
    return _fallback(f"model kept calling tools and gave no answer within {max_rounds} rounds (the tool-call limit)")


EMPTY_REPLIES = (EMPTY_REPLY, ONLY_REASONING)
UNREAD_CALL_NUDGE = ("Your reply held a tool call that could not be read. Call the tool again through the tool-call "
                     "API with valid JSON arguments, or answer the owner's question in plain prose.")
NUDGES = {EMPTY_REPLY: EMPTY_NUDGE, ONLY_REASONING: EMPTY_NUDGE, TOOL_CALL_AS_TEXT: UNREAD_CALL_NUDGE}


TEXT_CALL_RESULTS = ("You wrote tool calls as text; here are their results. Now answer the owner's question in "
                     "plain prose from these outputs (no tool calls, no JSON):\n")


def _run_call(toolbox: Any, name: str, args: Any, n: int, outputs: list[Any], called: list[str]) -> Any:
    """Run the ``n``-th call of a reply (past ``MAX_TOOL_CALLS_PER_REPLY`` it is answered, not run); its
    output becomes a source unless it is an error, which may repeat the model's own arguments."""
    from chimera.llm.text_tools import tool_name

    if n >= MAX_TOOL_CALLS_PER_REPLY:
        return {"error": f"not run: at most {MAX_TOOL_CALLS_PER_REPLY} tool calls per reply"}
    result = toolbox.call(name, args if isinstance(args, dict) else {})
    if not _is_error_result(result):
        outputs.append(guard_sources(result))
    called.append(tool_name(name, [t.name for t in toolbox.as_tools()]))
    return result
