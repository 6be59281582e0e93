"""What every commander and tool of one cycle shares: the client, the day, the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chimera.clients import ClientContext


@dataclass
class CycleContext:
    client: ClientContext
    as_of: date
    run_id: str
    silent: bool = False
    who: str = "cli"
    cache: dict[str, Any] = field(default_factory=dict)
