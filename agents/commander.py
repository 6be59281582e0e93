"""Commanders built from agents.yml by one factory; each narrates its jobs' deterministic results.

The decision is never the model's: a commander receives the tool output of a job (already
computed) and explains it. Offline it uses templates; with a model it writes prose that the truth
guard checks against the same tool output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents import offline
from agents.context import CycleContext
from chimera.config.loader import ConfigSet
from chimera.config.models import Commander as CommanderSpec
from chimera.db.models import Job
from chimera.llm.models import Narrative


@dataclass
class Commander:
    spec: CommanderSpec

    @property
    def id(self) -> str:
        return self.spec.id

    def narrate(self, ctx: CycleContext, job: Job, result: dict[str, Any]) -> Narrative:
        from agents.llm_commander import model_narrative

        text = offline.narrate(self.spec.label, job.type, result)
        return model_narrative(self, ctx, job, result, text) or Narrative(
            text=text, source="offline", note="offline (no model configured)")


def build_commanders(configs: ConfigSet) -> list[Commander]:
    """One commander per agents.yml entry, in file order."""
    return [Commander(spec) for spec in configs.agents.commanders]
