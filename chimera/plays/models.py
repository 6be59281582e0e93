"""Contracts of the play layer: the KPI view triggers read, what suggesting plays returns, and what
scaling a play that worked returns (``chimera play scale --json``).

The KPI view is deliberately small and built from *any* object with the usual attributes, so the
trigger language does not depend on how KPIs are evaluated (``chimera.kpi``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ChangeFn = Callable[[str, int], Decimal | None]
"""``change_pct(kpi_id, days)``: percent change of the KPI over ``days`` vs the window before."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KPIView(_Model):
    """What a trigger may read about one KPI in this cycle."""

    id: str
    status: Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"] = "UNKNOWN"
    value: Decimal | None = None
    target: Decimal | None = None
    warning: Decimal | None = None
    critical: Decimal | None = None
    window: str = "7d"
    anomaly: bool = False
    """Flagged against its own baseline."""
    anomaly_note: str = ""
    """E.g. ``sd score -3.1 vs 4-week baseline``."""
    unit: str = ""
    """currency / percent / count / ratio: only used to format numbers in explanations."""
    note: str = ""

    @property
    def known(self) -> bool:
        """UNKNOWN status or a missing value: nothing may fire on it."""
        return self.status != "UNKNOWN" and self.value is not None


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _anomaly(raw: Any) -> tuple[bool, str]:
    """An anomaly given as a bool, a dict or an object with ``flagged`` (and maybe sd_score)."""
    if raw is None or isinstance(raw, bool):
        return bool(raw), ""
    flagged = bool(_get(raw, "flagged", False))
    parts = []
    if (level := _get(raw, "level")) not in (None, "OK"):
        parts.append(f"{level}")
    if (sd := _get(raw, "sd_score")) is not None:
        parts.append(f"sd score {Decimal(str(sd)):.1f}")
    if (pct := _get(raw, "change_pct")) is not None:
        parts.append(f"{Decimal(str(pct)):+.1f}% vs baseline")
    return flagged, ", ".join(parts)


def kpi_view(obj: Any) -> KPIView:
    """A ``KPIView`` from a KPIResult, a KPIStatus-like row, a dict or a KPIView."""
    if isinstance(obj, KPIView):
        return obj
    flagged, note = _anomaly(_get(obj, "anomaly"))
    status = _get(obj, "status", "UNKNOWN") or "UNKNOWN"
    status = str(getattr(status, "value", status)).upper()  # a str Enum or a plain string
    return KPIView(
        id=str(_get(obj, "id", None) or _get(obj, "kpi_id", "")),
        status=status if status in ("OK", "WARNING", "CRITICAL") else "UNKNOWN",
        value=_dec(_get(obj, "value")),
        target=_dec(_get(obj, "target")),
        warning=_dec(_get(obj, "warning")),
        critical=_dec(_get(obj, "critical")),
        window=str(_get(obj, "window", "7d") or "7d"),
        anomaly=flagged,
        anomaly_note=note,
        unit=str(_get(obj, "unit", "") or ""),
        note=str(_get(obj, "note", "") or ""),
    )


def kpi_views(kpis: Mapping[str, Any] | list[Any]) -> dict[str, KPIView]:
    """Views keyed by KPI id, from a mapping or a list of KPI results."""
    if isinstance(kpis, Mapping):  # the key wins over a missing or different id attribute
        return {key: kpi_view(v).model_copy(update={"id": key}) for key, v in kpis.items()}
    return {view.id: view for view in map(kpi_view, kpis)}


class KPIValue(_Model):
    """The numbers behind a trigger clause, for people and for the rationale."""

    status: str
    value: Decimal | None
    target: Decimal | None = None
    warning: Decimal | None = None
    critical: Decimal | None = None
    window: str = "7d"
    unit: str = ""


class TriggerResult(_Model):
    """Whether a trigger fired, the clauses that made it fire, and the KPI values behind them."""

    fired: bool
    outcome: Literal["true", "false", "unknown"]
    """Three-valued: a clause on an UNKNOWN KPI is unknown, and ``not unknown`` is unknown."""
    clauses: list[str] = []
    kpi_values: dict[str, KPIValue] = {}
    urgency: float = 0.0
    """Highest urgency among the fired clauses' KPIs: CRITICAL 3 > WARNING 2 > anomaly 1 > plain 0.5."""
    urgency_label: str = ""
    """E.g. ``CRITICAL conversion_rate``."""


class TriggeredPlay(_Model):
    """A play whose trigger fired this cycle, ranked and explained (manual §7.4)."""

    play_id: str
    label: str
    rank: int
    score: float
    owner: str
    reason: str
    """One line: why it fired."""
    trigger: list[str]
    """The fired clauses, as text."""
    kpi_values: dict[str, KPIValue]
    evidence_kpis: list[str]
    delay_days: int
    why_rank: str
    """E.g. ``impact 4, effort 2, CRITICAL conversion_rate, financial``."""
    sops: list[str] = []
    reversible: bool
    """Every job-plan action is reversible per the bots in agents.yml."""
    auto_approvable: bool
    """In policy.auto_approve AND reversible."""
    financial: bool = True
    impact: int = 0
    effort: int = 0
    selected: bool = True
    """False when over the cap of active plays."""
    note: str = ""
    """Why not selected (over the cap), else empty."""
    overlaps: list[str] = []
    """Plays judged on one of its evidence KPIs that run in the same weeks: a higher-ranked play
    of this cycle or a run still under way (``chimera.plays.rank.overlap_notes``). Run together,
    neither one's evidence can be told apart from the other's (both come back ``confounded``)."""


class SuppressedPlay(_Model):
    """A play that was not triggered for a reason a person should see."""

    play_id: str
    label: str
    kind: Literal["unknown_kpi", "under_review", "already_active", "rejected", "paused", "reverted"]
    reason: str
    would_fire: bool | None = None
    """For plays under review, already active, rejected, paused or reverted: whether the trigger fired anyway."""


class SuggestState(_Model):
    """What the ranking needs from the database: reviews, active plays, past verdicts."""

    under_review: dict[str, str] = {}
    """play_id -> reason."""
    active: int = 0
    """PlayRuns that count against the cap: suggested, approved, executing, or executed and not judged."""
    active_plays: list[str] = []
    """Play ids of those active runs (not suggested again while active)."""
    under_way: dict[str, str] = {}
    """play_id -> what its active run is doing, for the reason it is held back."""
    active_kpis: dict[str, list[str]] = {}
    """play_id -> the KPIs its active run is judged on (as logged with the run), for the overlap
    note of a play judged on the same KPIs; a play missing here is read from plays.yml."""
    rejected: dict[str, str] = {}
    """play_id -> who rejected it and why, while that rejection still holds it back."""
    paused: dict[str, str] = {}
    """play_id -> who paused it, when and why, until a person resumes it (``holds``)."""
    reverted: dict[str, str] = {}
    """play_id -> who reverted it, when and why, while the revert still holds it back (``holds``)."""
    records: dict[str, dict[str, int]] = {}
    """play_id -> {"runs": n, "moved": k, "failed": m}."""


class Suggestions(list[TriggeredPlay]):
    """The selected plays, ranked (a list), plus the plays over the cap and the suppressed ones."""

    def __init__(self, selected: list[TriggeredPlay], over_cap: list[TriggeredPlay],
                 suppressed: list[SuppressedPlay], slots: int, cap: int) -> None:
        super().__init__(selected)
        self.over_cap = over_cap
        self.suppressed = suppressed
        self.slots = slots
        self.cap = cap

    @property
    def triggered(self) -> list[TriggeredPlay]:
        """Every triggered play: selected first, then those over the cap."""
        return [*self, *self.over_cap]

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": [p.model_dump(mode="json") for p in self],
            "over_cap": [p.model_dump(mode="json") for p in self.over_cap],
            "suppressed": [p.model_dump(mode="json") for p in self.suppressed],
            "slots": self.slots,
            "cap": self.cap,
        }


class ParamChange(_Model):
    """One step parameter of a scaled run: what the original ran, what the new run will run, and why."""

    step: int
    """1-based, as people count (``Job.step`` is 0-based)."""
    name: str
    """``bot.action`` of the step."""
    param: str
    before: Any = None
    after: Any = None
    how: str
    """``x1.5``, ``held at its cap max_change_pct 10``, ``at its cap ...``, ``set by --set``."""


class ScaleOutcome(_Model):
    """What ``chimera play scale`` did: the new run suggested (or, ``already_scaled``, the one a
    first scale suggested), linked to the run it scales, with the parameters before and after."""

    client: str
    play: str
    play_run_id: str
    """The new run: a suggestion a person approves, overrides or rejects like any other."""
    scaled_from: str
    """The run whose evidence says it worked."""
    status: str
    """The new run's status (``suggested`` until a person decides it)."""
    cycle_run_id: str | None
    """The live cycle the new run belongs to (approving it drives that cycle)."""
    on: date
    who: str
    why: str
    at: datetime
    factor: float
    already_scaled: bool
    changes: list[ParamChange]
    """Every scaled parameter, changed or held at its cap."""
    evidence: list[str]
    """The figures that say the original worked (the weekly review's, rule 3)."""
    explanation: str
    """``scaled from play run X on D by W because R: ...``: the new run's reason, as suggestions show it."""
    next_step: str
