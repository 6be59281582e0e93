"""Execution bots (manual §3.2). Each returns a ChangeSet; none touches the outside world.

A bot is a module registering action functions by name; ``agents.yml`` names the bot and action.
An action without a dedicated function gets a brief: a ChangeSet whose asset is a task sheet for a
person, so every configured action yields something reviewable and nothing is silently skipped.
"""

from __future__ import annotations

from agents.bots.base import BotContext, run_action
from agents.bots.registry import ACTIONS, register

__all__ = ["ACTIONS", "BotContext", "register", "run_action"]
