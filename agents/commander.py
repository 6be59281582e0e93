"""Commanders built from agents.yml by one factory; each narrates its jobs' deterministic results.

The decision is never the model's: a commander receives the tool output of a job (already
computed) and explains it. Offline it uses templates; with a model it writes prose that the truth
guard checks against the same tool output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agents import offline
from agents.context import CycleContext
from chimera.config.loader import ConfigSet
from chimera.config.models import Commander as CommanderSpec
from chimera.db.models import Job
from chimera.errors import ChimeraError
from chimera.llm.models import Narrative

log = logging.getLogger(__name__)


@dataclass
class Commander:
    spec: CommanderSpec

    @property
    def id(self) -> str:
        return self.spec.id

    def narrate(self, ctx: CycleContext, job: Job, result: dict[str, Any]) -> Narrative:
        """The model's guarded narrative, or the offline one labelled with the real reason: "no model
        configured" only when none is; otherwise why the configured model's text is not shown."""
        from agents.llm_commander import model_narrative

        text = offline.narrate(self.spec.label, job.type, result)
        try:
            story = model_narrative(self, ctx, job, result, text)
        except ChimeraError:
            raise  # a misconfiguration (a cassette miss) is for a person to fix
        except Exception as exc:  # the cycle never fails on a model: its decisions are already made
            log.exception("model narrative for %s failed", job.type)
            reason = f"model narrative failed: {type(exc).__name__}"
            story = Narrative(text=text, source="offline", note=f"{reason}; offline narrative shown", reason=reason)
        if story is not None and story.source == "model":
            return _with_as_of_note(story, result)
        if story is None:
            return Narrative(text=text, source="offline", note="offline (no model configured)",
                             reason="no model configured")
        reason = story.reason or story.note or "model unavailable"
        return story.model_copy(update={"text": offline.narrate(self.spec.label, job.type, result, reason)})


def _with_as_of_note(story: Narrative, result: dict[str, Any]) -> Narrative:
    """A model's narrative of KPIs judged on the day before the newest data, with the reason added
    when the model left it out: its reader would take yesterday's statuses for today's (the
    offline narrative and every view say it)."""
    note = str(result.get("as_of_note") or "")
    if not note or note in story.text:
        return story
    return story.model_copy(update={"text": f"{story.text.rstrip()}\n\n{offline.AS_OF_LEAD}: {note}."})


def build_commanders(configs: ConfigSet) -> list[Commander]:
    """One commander per agents.yml entry, in file order."""
    return [Commander(spec) for spec in configs.agents.commanders]
