"""Prompt templates from ``prompts/``: a missing variable is an error, never a blank."""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any

from chimera import settings
from chimera.config.models import Commander as CommanderSpec
from chimera.errors import ConfigError


@lru_cache(maxsize=32)
def _template(name: str) -> str:
    path = settings.PROMPTS_DIR / f"{name}.md"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: prompt template not found") from None


def render(name: str, **values: Any) -> str:
    """Fill ``prompts/<name>.md``; refuse to send a prompt with a hole in it."""
    text = _template(name)
    needed = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    missing = sorted(needed - values.keys())
    if missing:
        raise ConfigError(f"prompts/{name}.md: missing variable(s) {', '.join(missing)}")
    return text.format(**values)


def system_prompt(spec: CommanderSpec, client: str, currency: str = "") -> str:
    """The commander's system prompt; ``currency`` (the client's ISO code) is said outright, so a
    model does not write a dollar store's money with a pound sign (the guard refuses it)."""
    money = f"{currency} (the currency the tool outputs name" if currency else "the currency the tool outputs name ("
    money += ", on each money KPI)" if currency else "a money KPI's \"currency\", an ISO code such as USD)"
    return render(
        "commander", id=spec.id, label=spec.label, client=client, role=spec.role, money=money,
        values="\n".join(f"- {v}" for v in spec.values) or "- truth over narrative",
        libraries=", ".join(spec.libraries) or "none",
    )
