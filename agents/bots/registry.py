"""Bot action registry: ``(bot, action) -> function(BotContext) -> ChangeSet``."""

from __future__ import annotations

from collections.abc import Callable

from chimera.changesets import ChangeSet

ACTIONS: dict[tuple[str, str], Callable] = {}


def register(bot: str, action: str) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        ACTIONS[(bot, action)] = fn
        return fn

    return deco


def lookup(bot: str, action: str) -> Callable[..., ChangeSet] | None:
    from agents.bots import copy_bot, fiverr_bot, shopify_bot  # noqa: F401 - registers actions

    return ACTIONS.get((bot, action))
