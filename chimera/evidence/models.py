"""Contracts of the evidence step: verdicts, confounders and the statistics behind a verdict.

Pydantic models so the same shapes travel to the database (``EvidenceRecord.details``), the CLI JSON
and the commanders' tools without anyone re-deriving them.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

METHOD = "before/after, no control group"
Verdict = Literal["moved_up", "moved_down", "no_detectable_change", "inconclusive", "confounded", "pending"]
VERDICTS: tuple[str, ...] = (
    "moved_up", "moved_down", "no_detectable_change", "inconclusive", "confounded", "pending",
)
FINAL_VERDICTS = frozenset(VERDICTS) - {"pending"}
ConfounderKind = Literal["overlapping_play", "driver_anomaly", "data_gap", "price_change"]


class Confounder(BaseModel):
    """Something other than the play that may have moved the KPI inside its windows."""

    model_config = ConfigDict(frozen=True)

    kind: ConfounderKind
    """overlapping_play, driver_anomaly (a driver KPI was anomalous), data_gap (missing days) or
    price_change (the store's unit prices stepped inside the windows, not by this play)."""
    what: str
    """The other play's id, the driver KPI's id, the metric with missing days, or ``unit_price``."""
    first_day: date
    """First day concerned inside the windows."""
    last_day: date
    """Last day concerned inside the windows."""
    days: int
    """How many days are concerned."""
    note: str
    """One line for people, with the numbers."""

    def as_json(self) -> dict:
        return self.model_dump(mode="json")


class PlaceboResult(BaseModel):
    """The same estimate at fake execution dates before the real one (whose windows end before it)."""

    dates: list[date] = []
    """Fake execution dates actually used (all their windows complete)."""
    effects_pct: list[float] = []
    """Effect at each fake date, in percent."""
    share_beaten: float | None = None
    """Share of placebo |effects| strictly smaller than the real |effect| (None without placebos)."""
    enough: bool = False
    """Whether there were enough fake dates (``min_dates``) to judge at all."""
    z_scores: list[float] = []
    """Each placebo effect (on the log scale) over its own day-to-day noise: near N(0, 1) when the
    KPI's history moves only by noise, wider when it drifts, has runs or shifts."""
    spread: float | None = None
    """Root mean square of ``z_scores``: how many times the noise the KPI's own history moves
    anyway (None without placebos)."""
    dof: float | None = None
    """Effective number of independent placebos (overlapping windows share days), the degrees of
    freedom of ``spread``."""


class EffectEstimate(BaseModel):
    """Before/after of one KPI around one execution date, with a bootstrap interval."""

    executed_on: date
    window_days: int
    before_start: date
    before_end: date
    after_start: date
    after_end: date
    before: float | None = None
    """KPI over the before window (ratio KPIs: ratio of sums; level KPIs: mean per day)."""
    before_compared_start: date | None = None
    """Set while the after-window is partial for a KPI whose value grows with its window's length
    (the repeat share): ``before`` is then over this day..``before_end``, as many days as seen after
    the play, since 8 days hold fewer repeat customers than 45 whatever the play did."""
    after: float | None = None
    """KPI over the after window (days available so far when the window is not over)."""
    effect_pct: float | None = None
    ci_low_pct: float | None = None
    ci_high_pct: float | None = None
    missing_before: list[date] = []
    """Days of the before window on which a metric of the KPI is missing."""
    missing_after: list[date] = []
    """Days of the after window (up to as-of) on which a metric of the KPI is missing."""
    after_days_available: int = 0
    """Days of the after window that are on or before as-of."""
    gap_metrics: list[str] = []
    """Metrics of the KPI missing on some day of the windows (up to as-of)."""
    absent_metrics: list[str] = []
    """Metrics of the KPI with no data at all in the windows (a source never ingested)."""
    first_data_day: date | None = None
    """First day on which every metric of the KPI has data (None: never)."""
    before_denominator: float | None = None
    """Ratio KPIs: the denominator summed over the before window's days with data."""
    after_denominator: float | None = None
    """Ratio KPIs: the denominator summed over the after window's days seen so far."""
    se_log: float | None = None
    """Standard error of log(after / before) from day-to-day noise (at least the counting noise of
    a counted KPI): the unit the placebo dates are measured in too."""
    weekday_balanced: bool = False
    """A window whose length is no whole number of weeks: each weekday weighs the same in before and
    after, or a window with one more Saturday would read as a change."""
    counted: bool = False
    """The KPI counts events (every metric a whole number): its interval was widened to at least the
    counting (Poisson / binomial) noise, which the bootstrap underestimates on small counts."""
    draws: int = 0
    seed: int = 0

    @property
    def after_complete(self) -> bool:
        return self.after_days_available >= self.window_days

    @property
    def complete(self) -> bool:
        """Both windows fully observed, no missing day."""
        return self.after_complete and not self.missing_before and not self.missing_after

    @property
    def interval_excludes_zero(self) -> bool:
        lo, hi = self.ci_low_pct, self.ci_high_pct
        return lo is not None and hi is not None and (lo > 0 or hi < 0)


class Judgement(BaseModel):
    """The verdict on one KPI of one play run, and why."""

    verdict: Verdict
    reason: str
    """One line for people: what decided the verdict, with the numbers."""
    p_value: float | None = None
    """Two-sided p of this KPI alone: the larger of the noise test and the placebo test."""
    p_adjusted: float | None = None
    """``p_value`` corrected (Holm) over the play run's KPIs; a move is claimed only below ALPHA."""
    family: int = 1
    """How many KPIs of the play run the correction counted."""


class KPITest(BaseModel):
    """The significance of one KPI's change, before and after the correction over a play's KPIs."""

    p_noise: float | None = None
    """Two-sided p of the change against day-to-day noise (normal on the log ratio)."""
    p_placebo: float | None = None
    """Two-sided p against the placebo dates' spread (Student t with the placebos' ``dof``)."""
    p_value: float | None = None
    """max(p_noise, p_placebo): a claim needs both."""
