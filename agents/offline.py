"""The offline commander backend: deterministic narratives templated from tool outputs.

It needs no API key and says so: every text it writes is labelled "offline". Every number in it
comes from the tool output it was given, so it also serves as the fallback when a model fails.
"""

from __future__ import annotations

from typing import Any

from chimera.plays.rank import held_back, held_back_text

LABEL = "offline narrative (no model configured)"
AS_OF_LEAD = "Judged the day before the newest data"  # then the as-of note: why that day is left out
NOT_NARRATED = "templated: this job type is not narrated by a model"


def label(reason: str | None = None) -> str:
    """``LABEL`` when no model is configured; otherwise the real reason the offline text is shown
    (``offline narrative: model unavailable after 3 attempts: ...``)."""
    if reason is None or reason == "no model configured":
        return LABEL
    return f"offline narrative: {reason}"


def _kpi_line(k: dict[str, Any]) -> str:
    return f"{k.get('id')}: {k.get('status')} — {k.get('note', '')}".strip()


def narrate(commander_label: str, job_type: str, result: dict[str, Any], reason: str | None = None) -> str:
    """One short paragraph for a job's result, from the result alone, labelled with why it is offline."""
    fn = _TEMPLATES.get(job_type) or (_execute if job_type.startswith("EXECUTE_PLAY_") else _generic)
    return f"[{label(reason)}] {commander_label}: {fn(result)}"


def _ingest(r: dict[str, Any]) -> str:
    parts = [f"{s.get('file')}: {s.get('rows_read')} rows, {s.get('rejected')} rejected, days "
             f"{s.get('first_day')}..{s.get('last_day')}" for s in r.get("sources", [])]
    return "ingested " + ("; ".join(parts) if parts else "nothing (no sources configured in client.yml)") + "."


def _evaluate(r: dict[str, Any]) -> str:
    kpis = r.get("kpis", [])
    counts: dict[str, int] = {}
    for k in kpis:
        counts[k["status"]] = counts.get(k["status"], 0) + 1
    worst = [k for k in kpis if k["status"] in ("CRITICAL", "WARNING")]
    head = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    detail = " ".join(_kpi_line(k) + "." for k in worst[:4])
    note = f" {AS_OF_LEAD}: {r['as_of_note']}." if r.get("as_of_note") else ""
    return f"evaluated {len(kpis)} KPIs ({head}).{note} {detail}".strip()


def _suggest(r: dict[str, Any]) -> str:
    """The suggested plays, then the triggered ones held back and why: "no play triggered" is said
    only when none did (a full cap or a rejection is not "nothing calls for action")."""
    plays = r.get("plays", [])
    held = held_back(r.get("not_selected") or [])
    if not plays and not held:
        return "no play triggered: nothing in the KPI statuses calls for action."
    held_text = f"held back: {held_back_text(held)}" if held else ""
    if not plays:
        return f"{len(held)} play(s) triggered, none suggested: {held_text}."
    lines = [f"#{p.get('rank')} {p.get('play_id')} ({p.get('reason')})" for p in plays]
    more = f"; {len(held)} more triggered but {held_text}" if held else ""
    dry = all(p.get("status") == "silent" for p in plays)  # a --silent run or a replay of an older day
    said = "would be suggested (silent run or replay: nothing to decide)" if dry else "suggested"
    return f"{len(plays)} play(s) {said}: " + "; ".join(lines) + more + "."


def _plan(r: dict[str, Any]) -> str:
    jobs = r.get("jobs", [])
    return f"planned {len(jobs)} job(s) for play run {r.get('play_run')}: " + ", ".join(
        f"{j['bot']}.{j['action']}" for j in jobs) + "."


def _execute(r: dict[str, Any]) -> str:
    cs = r.get("changeset", {})
    state = "applied (dry run)" if r.get("applied") else "already applied before: not applied twice"
    rev = "reversible" if cs.get("reversible") else "NOT reversible"
    return f"{cs.get('bot')}.{cs.get('action')}: {cs.get('summary')}; {state}, {rev}; asset {r.get('asset') or 'none'}."


def _evidence(r: dict[str, Any]) -> str:
    recs = r.get("evidence", [])
    if not recs:
        return "no executed play to judge yet."
    return "evidence (before/after, no control group): " + "; ".join(_evidence_line(e) for e in recs) + "."


def _evidence_line(e: dict[str, Any]) -> str:
    """One record with its reason and confounders in words: a bare verdict cannot be checked."""
    reason = (e.get("details") or {}).get("reason")
    confounders = ", ".join(f"{c.get('kind')} {c.get('what')}" + (f" ({c['note']})" if c.get("note") else "")
                            for c in e.get("confounders") or [])
    return (f"{e.get('play_id')} on {e.get('kpi')}: {e.get('verdict')}" + (f" ({reason})" if reason else "")
            + (f", confounders: {confounders}" if confounders else ""))


def _train(r: dict[str, Any]) -> str:
    return (f"re-indexed {r.get('sop_files', 0)} SOP file(s); refreshed the record of "
            f"{len(r.get('play_records', {}))} play(s) from evidence.")


def _generic(r: dict[str, Any]) -> str:
    return f"done ({', '.join(sorted(r)) or 'no output'})."


_TEMPLATES = {
    "INGEST_METRICS": _ingest, "EVALUATE_KPIS": _evaluate, "SUGGEST_PLAYS": _suggest,
    "PLAN_JOB_QUEUE_FOR_PLAY": _plan, "LOG_EVIDENCE": _evidence, "TRAIN_AGENT": _train,
}
