"""LLM-backed narration (when a model is configured); returns None to keep the offline text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.commander import Commander, Narrative
    from agents.context import CycleContext
    from chimera.db.models import Job


def model_narrative(cmd: Commander, ctx: CycleContext, job: Job, result: dict[str, Any],
                    offline_text: str) -> Narrative | None:
    return None
