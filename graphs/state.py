"""The weekly cycle's graph state: small on purpose; the database holds the facts."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class CycleState(TypedDict, total=False):
    client: str
    run_id: str
    job_id: int | None
    next: str
    events: Annotated[list[dict[str, Any]], operator.add]
