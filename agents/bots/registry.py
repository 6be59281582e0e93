"""Bot action registry: ``(bot, action) -> function(BotContext) -> ChangeSet``, with the step
parameters each function reads.

The declared parameters are the contract between plays.yml, an override and the bot: a decision
accepts exactly these keys for a step (``agents.decisions``), and a bot can only read a declared one
(``BotContext.param``), so a key that is accepted is a key that changes the ChangeSet.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.bots.params import Check
from chimera.changesets import ChangeSet

ACTIONS: dict[tuple[str, str], Callable] = {}
READS: dict[tuple[str, str], dict[str, Check]] = {}


def register(bot: str, action: str, reads: dict[str, Check]) -> Callable[[Callable], Callable]:
    """Register an action with the parameters it reads (name -> value check)."""
    def deco(fn: Callable) -> Callable:
        ACTIONS[(bot, action)] = fn
        READS[(bot, action)] = dict(reads)
        return fn

    return deco


def _load() -> None:
    from agents.bots import copy_bot, fiverr_bot, shopify_bot  # noqa: F401 - registers actions


def lookup(bot: str, action: str) -> Callable[..., ChangeSet] | None:
    _load()
    return ACTIONS.get((bot, action))


def reads(bot: str, action: str) -> dict[str, Check] | None:
    """The parameters a dedicated function reads, or None for an action without one: its brief is a
    task sheet listing every parameter for a person, who reads them all."""
    _load()
    return READS.get((bot, action))
