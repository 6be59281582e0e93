"""Contracts of the model layer: which backend is active, guard verdicts, narratives, prices.

Kept in one small module so the UI, the CLI and the graphs can import the types without pulling
in an HTTP client.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chimera import settings
from chimera.errors import ConfigError

Backend = Literal["offline", "openai", "openai-compatible", "fake"]
BACKENDS: tuple[str, ...] = ("offline", "openai", "openai-compatible", "fake")


class BackendInfo(BaseModel):
    """What the UI and the CLI show about the active model backend. Never holds a key."""

    backend: Backend
    model: str | None = None
    base_url: str | None = Field(None, description="host[:port] only, never a path or credentials")
    offline: bool
    label: str
    problem: str | None = Field(None, description="why a selected backend cannot be used, if it cannot")


class GuardResult(BaseModel):
    """The truth guard's verdict on one model text."""

    ok: bool
    offending: list[str] = Field(default_factory=list, description="figures as written in the text")


class Narrative(BaseModel):
    """A commander's prose, and where it came from (a model, or the offline template)."""

    text: str
    source: Literal["model", "offline"]
    guard_rejections: int = 0
    note: str | None = None
    reason: str | None = Field(
        None, description="why the offline text is shown, in short and without any figure a model wrote"
    )


class Price(BaseModel):
    """US dollars per 1M tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="USD per 1M prompt tokens")
    output: float = Field(ge=0, description="USD per 1M completion tokens")


class Budget(BaseModel):
    """Per-cycle ceiling on model use; past it narratives go offline."""

    model_config = ConfigDict(extra="forbid")

    max_tokens_per_cycle: int | None = Field(60000, ge=0, description="prompt + completion tokens")
    max_cost_per_cycle: float | None = Field(0.50, ge=0, description="US dollars")


class ModelsConfig(BaseModel):
    """``configs/models.yml``: the price table and the per-cycle budget defaults."""

    model_config = ConfigDict(extra="forbid")

    prices: dict[str, Price] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)

    def price_of(self, model: str | None) -> Price | None:
        """Exact name, else the longest listed prefix (dated snapshots share their family's price); a
        router's ``provider/name`` (``openai/gpt-4o``) is priced as its name when the whole is not listed."""
        if not model:
            return None
        for name in dict.fromkeys([model, model.rsplit("/", 1)[-1]]):
            if name in self.prices:
                return self.prices[name]
            prefixes = [listed for listed in self.prices if name.startswith(listed)]
            if prefixes:
                return self.prices[max(prefixes, key=len)]
        return None


def load_models_config(path: Path | None = None) -> ModelsConfig:
    """Read and validate ``configs/models.yml`` (errors name the file, line and field)."""
    path = path or settings.BASE_CONFIG_DIR / "models.yml"
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return _load(path, mtime).model_copy(deep=True)


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime: int) -> ModelsConfig:
    """Parsed once per file version: one tracker per cycle should not re-read YAML every time."""
    from chimera.config.loader import _validate

    cfg, _lines, problems = _validate(ModelsConfig, path)
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg
