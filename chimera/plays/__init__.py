"""Plays: evaluate triggers, suggest and rank plays, keep failing plays under review; pause, revert and
scale them (``pause``, ``revert``, ``scale``)."""

from chimera.plays.models import (
    KPIValue,
    KPIView,
    ParamChange,
    ScaleOutcome,
    Suggestions,
    SuggestState,
    SuppressedPlay,
    TriggeredPlay,
    TriggerResult,
    kpi_view,
    kpi_views,
)
from chimera.plays.rank import is_reversible, suggest_plays
from chimera.plays.review import clear_review, play_states, record_verdict, suggest_state
from chimera.plays.trigger import evaluate_trigger

__all__ = [
    "KPIValue",
    "KPIView",
    "ParamChange",
    "ScaleOutcome",
    "SuggestState",
    "Suggestions",
    "SuppressedPlay",
    "TriggerResult",
    "TriggeredPlay",
    "clear_review",
    "evaluate_trigger",
    "is_reversible",
    "kpi_view",
    "kpi_views",
    "play_states",
    "record_verdict",
    "suggest_plays",
    "suggest_state",
]
