"""Model economy: calls, tokens and cost per commander and per cycle, and the cycle's budget.

One ``UsageTracker`` per cycle. Attach it as a LangChain callback (``config={"callbacks": [t],
"metadata": {"commander": name}}``) or call ``add(...)``. Cost comes from ``configs/models.yml``;
a model missing there costs 0 and is flagged. Once the budget is spent, ``allow_call()`` is False
and the remaining narratives are written offline, saying "model budget reached". Likewise once a
call has exhausted its retries on a down or hanging server (``trip``): the cycle's other calls would
each wait out the same timeouts, so they are written offline at once, saying why (a circuit breaker
for this process only; the next process of the cycle tries the model again).

A call is priced by the model name the server answers with (a dated snapshot of the family asked
for), else by the name it was asked with: a proxy or router answers "openai/gpt-4o", an Azure
deployment its own name, and such a call cost $0 and never reached the cost budget.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from pydantic import BaseModel

from chimera.llm.fake import estimate_tokens
from chimera.llm.models import Budget, ModelsConfig, load_models_config

__all__ = ["CommanderUsage", "UsageTracker"]


class CommanderUsage(BaseModel):
    """Totals for one commander (or ``"-"`` when the caller did not say)."""

    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


def _count(value: Any) -> int:
    """A token count as a server sent it; null, text or a negative number count as 0 (never a crash)."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _usage_of(response: LLMResult) -> tuple[int, int, str | None]:
    """Prompt and completion tokens and the model name, from message usage or ``llm_output``."""
    prompt = completion = 0
    model = (response.llm_output or {}).get("model_name")
    for gens in response.generations:
        for gen in gens:
            msg = getattr(gen, "message", None)
            meta = getattr(msg, "usage_metadata", None) or {}
            prompt += _count(meta.get("input_tokens"))
            completion += _count(meta.get("output_tokens"))
            model = model or (getattr(msg, "response_metadata", None) or {}).get("model_name")
    if not prompt and not completion:
        token_usage = (response.llm_output or {}).get("token_usage") or {}
        prompt, completion = _count(token_usage.get("prompt_tokens")), _count(token_usage.get("completion_tokens"))
    return prompt, completion, model


def _estimated_completion(response: LLMResult) -> int:
    messages = [gen.message for gens in response.generations for gen in gens if getattr(gen, "message", None)]
    return estimate_tokens(messages) if messages else 0


class UsageTracker(BaseCallbackHandler):
    """Counts one cycle's model use and enforces its budget. Thread-safe."""

    def __init__(
        self,
        backend: str = "offline",
        *,
        budget: Budget | None = None,
        config: ModelsConfig | None = None,
        default_model: str | None = None,
    ) -> None:
        self.config = config or load_models_config()
        self.budget = budget or self.config.budget
        self.backend, self.default_model = backend, default_model
        self.by_commander: dict[str, CommanderUsage] = {}
        self.unpriced: set[str] = set()
        self.guard_rejections = 0
        self.budget_refusals = 0
        self._pending: dict[UUID, tuple[str, int, str | None]] = {}
        self.tripped: str | None = None
        self._lock = threading.Lock()

    # -- callback side ---------------------------------------------------------------------------
    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any) -> None:
        metadata = kwargs.get("metadata") or {}
        prompt = sum(estimate_tokens(batch) for batch in (messages or []))
        params = kwargs.get("invocation_params") or {}
        asked = params.get("model") or params.get("model_name")
        with self._lock:
            self._pending[run_id] = (str(metadata.get("commander") or "-"), prompt,
                                     asked if isinstance(asked, str) else None)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            commander, estimated_prompt, asked = self._pending.pop(run_id, ("-", 0, None))
        prompt, completion, model = _usage_of(response)
        # a server that reports no (or an unreadable) usage still spends the budget
        prompt = prompt or estimated_prompt
        completion = completion or _estimated_completion(response)
        self.add(commander, prompt_tokens=prompt, completion_tokens=completion, model=model, asked=asked)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A failed attempt is a call too (a provider may bill it); its tokens are unknown."""
        with self._lock:
            commander, _, _ = self._pending.pop(run_id, ("-", 0, None))
            row = self.by_commander.setdefault(commander, CommanderUsage())
            row.calls += 1
            row.failed_calls += 1

    # -- explicit side ---------------------------------------------------------------------------
    def add(
        self,
        commander: str = "-",
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        model: str | None = None,
        asked: str | None = None,
    ) -> float:
        """Count one call; returns its cost in US dollars. ``model`` is the name the server answered
        with, ``asked`` the one requested: the first with a price prices the call."""
        model = model or asked or self.default_model
        price = next((p for p in map(self.config.price_of, (model, asked, self.default_model)) if p is not None),
                     None)
        cost = 0.0
        if price is None:
            self.unpriced.add(model or "(unnamed)")
        else:
            cost = (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000
        with self._lock:
            row = self.by_commander.setdefault(commander, CommanderUsage())
            row.calls += 1
            row.prompt_tokens += prompt_tokens
            row.completion_tokens += completion_tokens
            row.cost += cost
        return cost

    def add_guard_rejections(self, n: int = 1) -> None:
        with self._lock:
            self.guard_rejections += n

    # -- totals and budget -----------------------------------------------------------------------
    def _total(self, field: str) -> float:
        return sum(getattr(row, field) for row in self.by_commander.values())

    @property
    def total_tokens(self) -> int:
        return int(self._total("prompt_tokens") + self._total("completion_tokens"))

    @property
    def cost(self) -> float:
        return self._total("cost")

    def trip(self, reason: str) -> None:
        """Stop calling the model for the rest of this process's cycle: it kept failing (``reason``)."""
        with self._lock:
            self.tripped = self.tripped or reason

    def budget_reason(self) -> str | None:
        """Why no further call is allowed this cycle, or None while within budget."""
        if self.tripped:
            return f"model not called again this cycle after: {self.tripped}"
        b = self.budget
        if b.max_tokens_per_cycle is not None and self.total_tokens >= b.max_tokens_per_cycle:
            used, cap = self.total_tokens, b.max_tokens_per_cycle
            return f"model budget reached: {used} of {cap} tokens used this cycle"
        if b.max_cost_per_cycle is not None and self.cost >= b.max_cost_per_cycle:
            return f"model budget reached: ${self.cost:.4f} of ${b.max_cost_per_cycle:.2f} spent this cycle"
        return None

    def allow_call(self) -> bool:
        """False once the cycle's token or cost budget is spent (the refusal is counted)."""
        if self.budget_reason() is None:
            return True
        with self._lock:
            self.budget_refusals += 1
        return False

    def summary(self) -> dict[str, Any]:
        """The DESIGN.md §7 ``model`` object of the cycle JSON."""
        return {
            "backend": self.backend,
            "calls": int(self._total("calls")),
            "prompt_tokens": int(self._total("prompt_tokens")),
            "completion_tokens": int(self._total("completion_tokens")),
            "cost": round(self.cost, 6),
            "guard_rejections": self.guard_rejections,
        }

    def details(self) -> dict[str, Any]:
        """``summary()`` plus per-commander totals, unpriced models and the budget state."""
        return {
            **self.summary(),
            "by_commander": {k: v.model_dump() for k, v in sorted(self.by_commander.items())},
            "unpriced_models": sorted(self.unpriced),
            "budget": self.budget.model_dump(),
            "failed_calls": int(self._total("failed_calls")),
            "budget_reached": None if self.tripped else self.budget_reason(),
            "budget_refusals": self.budget_refusals,
            "model_unavailable": self.tripped,
        }
