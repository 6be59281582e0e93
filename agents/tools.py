"""Read-only deterministic tools, one interface for the offline backend and LLM commanders.

Every tool returns JSON-able data computed by the core; a model may read it and cite it, never
change anything. The only "propose" tool previews a ChangeSet that still needs a decision.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from langchain_core.tools import StructuredTool
from sqlmodel import select

from chimera.clients import ClientContext
from chimera.db.engine import session_scope
from chimera.db.models import EvidenceRecord, PlayRun
from chimera.errors import ChimeraError
from chimera.llm.provider import redact_secrets
from chimera.llm.text_tools import tool_name
from chimera.metrics import load_series
from chimera.sop.index import search
from chimera.sop.models import SopHit
from chimera.sop.safety import sanitize_for_prompt

log = logging.getLogger(__name__)


def sop_fact(hit: SopHit) -> dict[str, Any]:
    """One search hit as a model reads it: where to cite it and its text quoted as untrusted."""
    return {"file": hit.file, "heading": hit.heading, "title": hit.title, "line": hit.line,
            "excerpt": sanitize_for_prompt(hit.excerpt, hit.file)}


def _signed(change: Decimal, places: int) -> str:
    """``change`` at ``places`` decimals, with no "-0.0" for a change that rounds to nothing."""
    text = f"{change:.{places}f}"  # as the chat's comparison rounds it
    return text.lstrip("-") if not Decimal(text) else text


def week_over_week(value: Decimal | None, before: Decimal | None, unit: str) -> dict[str, str | None]:
    """A KPI's value over the window just before and its change to now: ``change_vs_previous_pct``
    relative, in % of the earlier value (1 decimal; the chat's comparison gives the same), and for a
    percent KPI (kept as a fraction) ``change_vs_previous_pp`` in percentage points (2 decimals: 1.79%
    from 2.31% is -0.52 pp, -22.5 %). None where a window lacks data or the earlier value is 0."""
    out: dict[str, str | None] = {"previous_value": None if before is None else str(before)}
    if value is None or before is None:
        return out | {"change_vs_previous_pct": None}
    now, then = Decimal(value), Decimal(before)
    out["change_vs_previous_pct"] = _signed((now - then) / abs(then) * 100, 1) if then else None
    if unit == "percent":
        out["change_vs_previous_pp"] = _signed((now - then) * 100, 2)
    return out


class Toolbox:
    """The tools of one client as of one day, for one commander's libraries."""

    def __init__(self, client: ClientContext, as_of: date | None = None, libraries: list[str] | None = None):
        self.client, self.libraries = client, libraries
        self._as_of, self._as_of_note = as_of, ""

    @property
    def as_of(self) -> date:
        """The day given, else the commands' default (``last_data_day``: a day still in progress
        at its ingest is left out), so the chat and the CLI judge the same day."""
        if self._as_of is None:
            from chimera.as_of import default_day

            with session_scope() as s:
                default = default_day(s, self.client.company_id, self.client.config.timezone)
            self._as_of = default.day or datetime.now(UTC).date()
            self._as_of_note = default.note
        return self._as_of

    @property
    def as_of_note(self) -> str:
        """Why the default as-of is the day before the newest data; empty for a given day or whole data."""
        _ = self.as_of
        return self._as_of_note

    def kpi_statuses(self, kpi_ids: list[str] | None = None, previous: bool = False) -> list[dict[str, Any]]:
        """Status, value, thresholds and note of the client's KPIs (all, or the ids given). Each
        carries ``as_of_note`` when the newest day was left out, so whoever reads one KPI learns
        why its day is not the newest (the list shape stays the same for every caller).
        ``previous``: also ``previous_value``, the KPI over the window just before (None when
        that window lacks data), for "this week against last week", and the change to it worked
        out here (``week_over_week``), as a model may quote a change but never compute one. A money KPI names its
        ``currency`` (ISO code): its value alone does not say dollars or pounds, and the guard
        refuses an amount written in another one."""
        from chimera.kpi.evaluate import evaluate_kpis

        report = evaluate_kpis(self.client, as_of=self.as_of, store=False)
        note = {"as_of_note": self.as_of_note} if self.as_of_note else {}
        money = {"currency": self.client.config.currency}
        return [k.to_json() | {"label": k.label, "unit": k.unit} | (money if k.unit == "currency" else {}) | note
                | (week_over_week(k.value, k.previous_value, k.unit) if previous else {})
                for k in report.kpis if not kpi_ids or k.id in kpi_ids]

    @property
    def _money(self) -> str:
        """The client's ISO currency code, carried by every output holding money: the guard refuses an
        amount written in another currency's sign (``chimera.llm.guard_currency``)."""
        return self.client.config.currency

    def metric_series(self, metric: str, days: int = 28) -> dict[str, str]:
        """Daily values of one base metric over the last ``days`` days (missing days are absent)."""
        with session_scope() as s:
            series = load_series(s, self.client.company_id, [metric], self.as_of - timedelta(days=days - 1),
                                 self.as_of)
        return {d.isoformat(): str(v) for d, v in sorted(series.get(metric, {}).items())}

    def explain_play(self, play_id: str) -> dict[str, Any]:
        """The play's definition (with its trigger rule) and its latest suggestion's explanation
        (trigger, numbers, rank). A run logged by hand is no suggestion: ``latest`` stays empty
        until a cycle suggests the play, so nobody reads "why suggested" into a manual run."""
        play = self.client.configs.play(play_id)
        with session_scope() as s:
            run = s.exec(select(PlayRun).where(PlayRun.company_id == self.client.company_id,
                                               PlayRun.play_id == play_id, PlayRun.source == "cycle")
                         .order_by(PlayRun.created_at.desc())  # type: ignore[attr-defined]
                         ).first()
            explanation = dict(run.explanation) if run else {}
            run_id = run.run_id if run else None
        return {"play": play.id, "label": play.label, "description": play.description, "owner": play.owner,
                "impact": play.impact, "effort": play.effort, "sops": list(play.sops),
                "trigger_rule": play.trigger.model_dump(mode="json", by_alias=True),
                "evidence_kpis": list(play.evidence.kpis), "latest": explanation, "run_id": run_id,
                "currency": self._money}

    def evidence(self, play_id: str | None = None) -> list[dict[str, Any]]:
        """Evidence records (before/after, no control group) of executed plays."""
        from chimera.evidence.record import record_json

        with session_scope() as s:
            rows = s.exec(select(EvidenceRecord).where(EvidenceRecord.company_id == self.client.company_id)).all()
            return [record_json(r) | {"currency": self._money} for r in rows if play_id in (None, r.play_id)]

    def sop_search(self, query: str, library: str | None = None) -> list[dict[str, Any]]:
        """The best SOP sections for a question, with file and heading to cite (text is quoted, untrusted)."""
        return [sop_fact(h) for h in self.sop_hits(query, library)]

    def sop_hits(self, query: str, library: str | None = None) -> list[SopHit]:
        """The same sections unwrapped, for a person's citation only: a model gets ``sop_search``,
        whose quoting markers would be noise on a screen (not a tool, never given to a model)."""
        libs = [library] if library else self.libraries
        return search(query, libraries=libs or None, limit=3)

    def propose_play(self, play_id: str) -> dict[str, Any]:
        """Preview the ChangeSets a play's job plan would produce. A proposal only: nothing is applied or
        recorded; a person decides in the cycle (approve / override / reject)."""
        from agents.bots import BotContext, run_action
        from chimera.changesets import in_force

        play = self.client.configs.play(play_id)
        latest = self.explain_play(play_id)["latest"]
        with session_scope() as s:  # the prices in force, as execution prices from (agents.jobs._apply)
            prices = in_force(s, self.client.company_id, "price")
        changesets = []
        for step in play.job_plan:
            ctx = BotContext(client=self.client, bot=step.bot, action=step.action, play_id=play.id,
                             play_label=play.label, params=dict(step.params), as_of=self.as_of,
                             explanation=latest, sops=list(play.sops), prices=prices)
            cs = run_action(ctx)
            changesets.append(cs.model_dump(mode="json", exclude={"asset"}) | {
                "asset_preview": (cs.asset.content[:600] if cs.asset else "")})
        return {"play": play.id, "status": "proposal: needs a decision", "changesets": changesets,
                "currency": self._money}

    def weekly_review(self, play_id: str | None = None) -> dict[str, Any]:
        """The weekly review of executed plays (all, or one play id), as ``chimera report`` gives it:
        continue / stop / keep watching per play run with an evidence verdict, by a fixed rule (no
        model's advice), with the rule and the evidence figures behind it; then every pause and revert
        (who, when, why, whether it still holds the play back). Evidence as last judged and stored."""
        from chimera.plays.weekly_review import RULES

        evidence, review, stops = self._review_and_stops(play_id)
        shown = {(e["play_run_id"], e["kpi"]): e for e in evidence}
        return {"as_of": self.as_of.isoformat(), "currency": self._money,
                "rules": {str(n): t for n, t in RULES.items()},
                "review": [self._review_entry(r, shown) for r in review], **self._stops_json(stops)}

    def paused_or_reverted(self, play_id: str | None = None) -> dict[str, Any]:
        """Every pause and revert of the client's plays (all, or one play id), newest first: who, when,
        why, and whether it still holds the play back from suggestions (and until when)."""
        return {"as_of": self.as_of.isoformat(), **self._stops_json(self._review_and_stops(play_id)[2])}

    def _review_and_stops(self, play_id: str | None) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
        """The evidence read, and the report's weekly review of it and the pauses and reverts to as-of
        (the stored records of runs executed by as-of: what ``evidence`` and the cycle show)."""
        from chimera.evidence.record import evidence_report
        from chimera.report.data import weekly_review

        evidence = [e for e in evidence_report(self.client, self.as_of, refresh=False)["evidence"]
                    if play_id in (None, e["play"])]
        review, stops = weekly_review(self.client, self.as_of, evidence)
        return evidence, review, [s for s in stops if play_id in (None, s.play)]

    def _label(self, play_id: str) -> dict[str, str]:
        play = next((p for p in self.client.configs.plays.plays if p.id == play_id), None)
        return {"label": play.label} if play else {}

    def _review_entry(self, r: Any, evidence: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
        """One review with each figure naming its play, unit and direction (whose verdict it is, 0.0231
        is a rate, which way is right), its words as the report says them and its before/after as
        ``evidence`` shows them (money in the client's currency's smallest unit: whole yen)."""
        from chimera.evidence.record import shown_values
        from chimera.plays.weekly_review import figure_text

        directions = {k.id: k.direction for k in self.client.configs.kpis.kpis}
        figures = []
        for f in r.figures:
            record = evidence.get((r.play_run_id, f.kpi), {})
            entry = f.model_dump(mode="json") | {"play": r.play, "unit": record.get("unit"), "direction":
                                                 directions.get(f.kpi), "value_kind": record.get("value_kind")}
            before, after = shown_values(entry, self.client.config.currency)
            figures.append(entry | {"text": figure_text(f), "before_shown": before, "after_shown": after})
        advice = r.advice or r.recommendation.replace("_", " ") + (f" ({r.action})" if r.action else "")
        return r.model_dump(mode="json") | self._label(r.play) | {"advice": advice, "figures": figures}

    def _stops_json(self, stops: list[Any]) -> dict[str, Any]:
        from chimera.plays.holds import hold_text

        return {"revert_hold_days": self.client.configs.plays.policy.revert_hold_days,
                "stopped": [s.model_dump(mode="json") | self._label(s.play) | {"held_back": hold_text(s)}
                            for s in stops]}

    def as_tools(self) -> list[StructuredTool]:
        """The same functions as LangChain tools, for a model to call (read-only, plus a proposal)."""
        return [StructuredTool.from_function(fn) for fn in (
            self.kpi_statuses, self.metric_series, self.explain_play, self.evidence, self.sop_search,
            self.propose_play, self.weekly_review, self.paused_or_reverted)]

    def call(self, name: str, args: dict[str, Any]) -> Any:
        """Run a tool by name (a model's tool call); unknown names are an error result, not an exception.
        A name written with a namespace or in another case (as some chat templates emit it) is that tool."""
        tools = {t.name: t for t in self.as_tools()}
        fn = tools.get(tool_name(name, list(tools)))  # "functions.kpi_statuses", "KPI_Statuses" mean it
        if fn is None:  # the names it may use, so a model can correct itself
            return {"error": f"no tool {name!r}; the tools are: {', '.join(tools)}"}
        try:
            return fn.invoke(args)
        except (ChimeraError, ValueError, LookupError, TypeError) as exc:  # bad arguments: back to the model as data
            return {"error": redact_secrets(f"{type(exc).__name__}: {exc}")}
        except Exception as exc:  # the database, a file: its text may hold a connection URL; it stays here
            log.warning("tool %s failed: %s", fn.name, redact_secrets(f"{type(exc).__name__}: {exc}"))
            return {"error": f"the tool {fn.name} failed ({type(exc).__name__}); the details are in the log"}
