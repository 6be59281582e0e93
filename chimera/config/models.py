"""Pydantic models for ``agents.yml``, ``kpis.yml`` and ``plays.yml`` (extra keys are refused).

Each field's docstring is exported into the JSON Schema so editors can explain it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from chimera.kpi.formula import parse_formula

JOB_TYPE_RE = r"^[A-Z][A-Z0-9_]*$"
ID_RE = r"^[a-z][a-z0-9_]*$"
WINDOW_RE = r"^[1-9][0-9]*d$"
MAX_WINDOW_DAYS = 730
"""Longest window a KPI or a change condition may read (two years; longer ones overflow no calendar
but judge nothing a person can act on)."""
MAX_DIGITS = 15
MAX_NUMBER = Decimal(10) ** MAX_DIGITS
"""Thresholds and bounds stay below this in absolute value: 1e400 is a typo, and Decimal arithmetic at
28 digits cannot show it to the cent (the KPI table would crash formatting it)."""


def _bounded(value: Decimal) -> Decimal:
    if value.copy_abs() >= MAX_NUMBER:  # copy_abs: abs() of 1e999999999 overflows the context
        raise ValueError("too large: numbers here stay below 1e15 in absolute value")
    return value


def _window_ok(value: str) -> str:
    if int(value[:-1]) > MAX_WINDOW_DAYS:
        raise ValueError(f"a window reads at most {MAX_WINDOW_DAYS} days ({MAX_WINDOW_DAYS}d)")
    return value


def _days_ok(value: int) -> int:
    if value > MAX_WINDOW_DAYS:
        raise ValueError(f"at most {MAX_WINDOW_DAYS} days")
    return value


# --------------------------------------------------------------------------- the same bounds in JSON Schema
# The validators above are Python; the exported schema (configs/schema/, for editors and users' own
# validation) says the same with patterns and limits, so a value the loader refuses for a bound is
# refused there too (tests/test_schema_limits.py).


def _digit_class(low: int, high: int) -> str:
    return str(low) if low == high else f"[{low}-{high}]"


def _rest(count: int) -> str:
    return "" if count == 0 else r"\d" if count == 1 else rf"\d{{{count}}}"


def upto_re(limit: int) -> str:
    r"""A regex for the whole numbers 1..``limit`` written without leading zeros (730:
    ``[1-9]\d?|[1-6]\d\d|7[0-2]\d|730``, as alternatives of one group)."""
    text = str(limit)
    alts = [rf"[1-9]\d{{0,{len(text) - 2}}}"] if len(text) > 1 else []
    for i, ch in enumerate(text):
        low = 1 if i == 0 else 0
        if int(ch) > low:
            alts.append(text[:i] + _digit_class(low, int(ch) - 1) + _rest(len(text) - i - 1))
    return "(?:" + "|".join([*alts, text]) + ")"


def over_re(limit: int) -> str:
    r"""A regex for the whole numbers above ``limit`` written without leading zeros (15:
    ``[1-9]\d{2,}|[2-9]\d|1[6-9]``, as alternatives of one group)."""
    text = str(limit)
    alts = [rf"[1-9]\d{{{len(text)},}}"]
    for i, ch in enumerate(text):
        if int(ch) < 9:
            alts.append(text[:i] + _digit_class(int(ch) + 1, 9) + _rest(len(text) - i - 1))
    return "(?:" + "|".join(alts) + ")"


def _mantissa(digits: int) -> str:
    """Decimal digits with at most ``digits`` before the point (leading zeros aside): ``0.5``, ``.5``, ``12.``."""
    if digits <= 0:
        return r"0*(?:\.\d+|0(?:\.\d*)?)"
    return r"0*(?:\.\d+|\d" + (rf"{{1,{digits}}}" if digits > 1 else "") + r"(?:\.\d*)?)"


def _exponent(e: int) -> str:
    if e == 0:
        return r"(?:[eE][+-]?0+)?"
    return rf"[eE]\+?0*{e}" if e > 0 else rf"[eE]-0*{-e}"


def decimal_text_re(digits: int = MAX_DIGITS) -> str:
    """A regex for the text of a number below ``10**digits`` in absolute value, as the loader reads a
    Decimal from a string (surrounding spaces, a sign, ``.5``, ``5.``, ``1e3``: PyYAML leaves ``1e3``
    a string). A number of n digits before the point and exponent E is below it when n + E <= digits;
    each E within +-digits is one alternative, and zero takes any exponent. Refused here though the
    loader would take them: a non-zero mantissa below 1 with E above ``digits`` (``0.01e16``), more
    than ``2 * digits + 1`` digits before the point with E below ``-digits``, and ``_`` between digits."""
    alts = [_mantissa(digits - e) + _exponent(e) for e in range(digits, -digits - 1, -1)]
    alts.append(_mantissa(2 * digits + 1) + rf"[eE]-0*{over_re(digits)}")
    alts.append(r"0*(?:\.0+|0(?:\.0*)?)[eE][+-]?\d+")
    return r"^\s*[+-]?(?:" + "|".join(alts) + r")\s*$"


DECIMAL_TEXT_RE = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
"""Any decimal text (of any size): what the loader reads as a number in a job step's params."""
TOO_LARGE = f"a number below 1e{MAX_DIGITS} in absolute value"
NUMBER_SCHEMA: dict[str, Any] = {"anyOf": [
    {"type": "number", "exclusiveMinimum": -(10**MAX_DIGITS), "exclusiveMaximum": 10**MAX_DIGITS},
    {"type": "string", "pattern": decimal_text_re(), "patternErrorMessage": TOO_LARGE},
]}
"""A ``Number`` in JSON Schema (``patternErrorMessage``: the message editors show instead of the pattern)."""
WINDOW_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^{upto_re(MAX_WINDOW_DAYS)}d$",
                                 "patternErrorMessage": f"a whole number of days from 1 to {MAX_WINDOW_DAYS}, like 7d"}


Number = Annotated[Decimal, AfterValidator(_bounded), WithJsonSchema(NUMBER_SCHEMA)]
Window = Annotated[str, Field(pattern=WINDOW_RE), AfterValidator(_window_ok), WithJsonSchema(WINDOW_SCHEMA)]
Days = Annotated[int, Field(ge=0), AfterValidator(_days_ok), Field(json_schema_extra={"maximum": MAX_WINDOW_DAYS})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


# --------------------------------------------------------------------------- agents.yml


class ModelOverride(Strict):
    backend: Literal["offline", "openai", "openai-compatible", "fake"] | None = None
    """Backend for this commander only; default: CHIMERA_LLM."""
    name: str | None = None
    """Model name for this commander (e.g. gpt-4o-mini, qwen2.5:7b-instruct)."""


class Commander(Strict):
    id: str = Field(pattern=ID_RE)
    """Stable id, e.g. commerce_commander_ai."""
    label: str
    """Name shown to people."""
    handles: list[Annotated[str, Field(pattern=JOB_TYPE_RE)]] = Field(min_length=1)
    """Job types this commander processes (INGEST_METRICS, SUGGEST_PLAYS, EXECUTE_PLAY_COMMERCE, ...)."""
    role: str
    """Responsibility in one or two sentences; goes into the system prompt."""
    libraries: list[str] = []
    """SOP library folders under libraries/ this commander may cite."""
    values: list[str] = []
    """Decision principles; go into the system prompt."""
    model: ModelOverride | None = None
    """Optional per-commander model override."""
    icon: str = ""
    """Optional emoji or icon name for the chat profile."""


class BotAction(Strict):
    name: str = Field(pattern=ID_RE)
    """Action id used by job plans (e.g. draft_copy, update_prices)."""
    description: str
    """What the action produces or changes."""
    reversible: bool
    """Whether applying it can be undone by the adapter."""
    params: list[str] = []
    """Parameters the action accepts."""


class Bot(Strict):
    id: str = Field(pattern=ID_RE)
    """Bot id, e.g. copy_bot."""
    label: str
    """Name shown to people."""
    role: str
    """What the bot does."""
    actions: list[BotAction] = Field(min_length=1)
    """Actions this bot offers."""


class AgentsConfig(Strict):
    commanders: list[Commander] = Field(min_length=1)
    """Commander agents (manual §3.1)."""
    bots: list[Bot] = []
    """Execution bots (manual §3.2)."""


# --------------------------------------------------------------------------- kpis.yml

_FORMULA_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[a-z][a-z0-9_]*)|(?P<op>[-+*/()]))")


def formula_metrics(formula: str) -> list[str]:
    """Base metric names used by a formula (numbers and operators excluded)."""
    return [m.group("name") for m in _FORMULA_TOKEN.finditer(formula) if m.group("name")]


class KPI(Strict):
    id: str = Field(pattern=ID_RE)
    """Stable KPI id used by triggers and evidence."""
    label: str
    """Name shown to people."""
    unit: Literal["currency", "percent", "count", "ratio"]
    """How values are displayed; percent KPIs are stored as fractions (0.024 = 2.4 %)."""
    direction: Literal["higher_is_better", "lower_is_better"]
    """Which way is good."""
    formula: str
    """Base metrics combined with + - * / ( ); each metric is summed over the window first
    (``orders / sessions``). The special formula ``repeat_purchase_rate`` uses pseudonymized customers."""
    window: Window = "7d"
    """Trailing window the formula is evaluated over."""
    target: Number
    """Where the KPI should be."""
    warning: Number
    """Threshold that raises WARNING (in the bad direction)."""
    critical: Number
    """Threshold that raises CRITICAL (further in the bad direction)."""
    warning_recovery: Number | None = None
    """Value the KPI must get back to before a WARNING clears (default: the warning threshold)."""
    critical_recovery: Number | None = None
    """Value the KPI must get back to before a CRITICAL clears (default: the critical threshold)."""
    max_staleness_days: Days = 2
    """Newest data older than this many days before as-of gives UNKNOWN."""
    min_denominator: Number = Decimal(0)
    """Below this denominator over the window the KPI is UNKNOWN (too little data)."""
    anomaly: bool = True
    """Also compare with the KPI's own 4-week baseline (weekly seasonality)."""
    owner: str
    """Commander responsible for this KPI."""
    drivers: list[str] = []
    """KPIs that drive this one (revenue is driven by sessions and conversion): an anomaly in a
    driver during an evidence window marks a play's evidence on this KPI as confounded."""
    description: str = ""
    """Why the KPI matters."""

    @field_validator("formula")
    @classmethod
    def _formula_ok(cls, value: str) -> str:
        """Parsed as the evaluator will (a FormulaError says what is wrong where); metric names are
        checked against the base metrics by the loader."""
        parse_formula(value)  # raises FormulaError, a ValueError pydantic reports on this field
        if not formula_metrics(value):
            raise ValueError(f"formula {value!r} must combine metric names with + - * / and parentheses")
        return value

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> KPI:
        t, w, c = self.target, self.warning, self.critical
        ok = (c <= w <= t) if self.direction == "higher_is_better" else (t <= w <= c)
        if not ok:
            order = "critical <= warning <= target" if self.direction == "higher_is_better" else (
                "target <= warning <= critical"
            )
            raise ValueError(f"thresholds out of order for {self.direction}: need {order}, got "
                             f"target={t}, warning={w}, critical={c}")
        return self


class KPIsConfig(Strict):
    kpis: list[KPI] = Field(min_length=1)
    """The KPIs this client watches."""


# --------------------------------------------------------------------------- plays.yml (triggers)

Status = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]


class StatusCondition(Strict):
    kpi: str
    """KPI id."""
    status: list[Status] = Field(min_length=1)
    """Fires when the KPI's status is one of these."""


class BelowCondition(Strict):
    kpi: str
    """KPI id."""
    below: Number
    """Fires when the KPI value is strictly below this."""


class AboveCondition(Strict):
    kpi: str
    """KPI id."""
    above: Number
    """Fires when the KPI value is strictly above this."""


class ChangeBelowCondition(Strict):
    kpi: str
    """KPI id."""
    change_pct_below: Number
    """Fires when the KPI changed by less than this percentage vs the previous window."""
    over: Window = "7d"
    """Window compared with the window before it."""


class ChangeAboveCondition(Strict):
    kpi: str
    """KPI id."""
    change_pct_above: Number
    """Fires when the KPI changed by more than this percentage vs the previous window."""
    over: Window = "7d"
    """Window compared with the window before it."""


class AnomalyCondition(Strict):
    kpi: str
    """KPI id."""
    anomaly: Literal[True]
    """Fires when the KPI is flagged anomalous against its own baseline."""


Condition = (
    StatusCondition | BelowCondition | AboveCondition | ChangeBelowCondition | ChangeAboveCondition
    | AnomalyCondition
)


class AllOf(Strict):
    all: list[Trigger] = Field(min_length=1)
    """Fires when every clause fires."""


class AnyOf(Strict):
    any: list[Trigger] = Field(min_length=1)
    """Fires when at least one clause fires."""


class NotOf(Strict):
    not_: Trigger = Field(alias="not")
    """Fires when the clause does not fire."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _trigger_kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return "invalid"
    for key, kind in (
        ("all", "AllOf"), ("any", "AnyOf"), ("not", "NotOf"), ("status", "StatusCondition"),
        ("below", "BelowCondition"), ("above", "AboveCondition"),
        ("change_pct_below", "ChangeBelowCondition"), ("change_pct_above", "ChangeAboveCondition"),
        ("anomaly", "AnomalyCondition"),
    ):
        if key in value:
            return kind
    return "invalid"


from pydantic import Discriminator, Tag  # noqa: E402

Trigger = Annotated[
    Annotated[AllOf, Tag("AllOf")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[NotOf, Tag("NotOf")]
    | Annotated[StatusCondition, Tag("StatusCondition")]
    | Annotated[BelowCondition, Tag("BelowCondition")]
    | Annotated[AboveCondition, Tag("AboveCondition")]
    | Annotated[ChangeBelowCondition, Tag("ChangeBelowCondition")]
    | Annotated[ChangeAboveCondition, Tag("ChangeAboveCondition")]
    | Annotated[AnomalyCondition, Tag("AnomalyCondition")],
    Discriminator(
        _trigger_kind,
        custom_error_type="invalid_trigger",
        custom_error_message=(
            "a trigger is one of all / any / not, or a condition {kpi, status | below | above | "
            "change_pct_below | change_pct_above | anomaly}"
        ),
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def trigger_kpis(trigger: Any) -> list[str]:
    """Every KPI id a trigger reads, in order."""
    if isinstance(trigger, AllOf):
        return [k for t in trigger.all for k in trigger_kpis(t)]
    if isinstance(trigger, AnyOf):
        return [k for t in trigger.any for k in trigger_kpis(t)]
    if isinstance(trigger, NotOf):
        return trigger_kpis(trigger.not_)
    return [trigger.kpi]


# --------------------------------------------------------------------------- plays.yml (plays)


class JobStep(Strict):
    type: str = Field(pattern=JOB_TYPE_RE)
    """Job type, e.g. EXECUTE_PLAY_COMMERCE; must be handled by some commander."""
    bot: str
    """Bot that produces the ChangeSet."""
    action: str
    """One of the bot's actions."""
    params: dict[str, Any] = {}
    """Step parameters (channel, constraints, percentages...)."""
    description: str = ""
    """What this step does, for people."""


class Evidence(Strict):
    kpis: list[str] = Field(min_length=1)
    """KPIs whose before/after is judged after the play runs."""
    delay_days: int = Field(default=28, ge=1, le=180)
    """Days to wait after execution before judging."""


class Play(Strict):
    id: str = Field(pattern=ID_RE)
    """Stable play id."""
    label: str
    """Name shown to people."""
    description: str
    """What the play is and why it works."""
    owner: str
    """Commander that owns the play."""
    trigger: Trigger
    """When the play is suggested (data only: all / any / not over KPI conditions)."""
    kpis: list[str] = []
    """KPIs the play depends on besides those in its trigger; UNKNOWN on any of them suppresses it."""
    impact: int = Field(ge=1, le=5)
    """Expected impact, 1 (small) to 5 (large)."""
    effort: int = Field(ge=1, le=5)
    """Effort to run, 1 (trivial) to 5 (large)."""
    financial: bool = True
    """Does the play move money directly (financial impact first, manual §8.2)."""
    evidence: Evidence
    """How its effect is judged."""
    job_plan: list[JobStep] = Field(min_length=1)
    """Typed steps expanded into Job rows when the play is approved."""
    sops: list[str] = []
    """SOP files (library/file.md) the play relies on."""


class PlayPolicy(Strict):
    max_active_plays: int = Field(default=3, ge=1, le=20)
    """At most this many plays active (suggested or executing) per client."""
    review_after_failures: int = Field(default=2, ge=1)
    """A play that failed to move its KPIs this many times goes 'under review'."""
    auto_approve: list[str] = []
    """Plays safe to approve without a person (only fully reversible ones are honoured)."""
    revert_hold_days: int = Field(default=28, ge=0, le=366)
    """Days a reverted play is not suggested again (from its revert day) unless a person resumes it."""
    scale_factor: float = Field(default=1.5, gt=1, le=10)
    """``chimera play scale`` grows each scalable step parameter by this factor (a whole number stays
    whole, rounded half up), never past the step's ``max_<param>`` cap."""
    scale_params: list[str] = ["count", "change_pct", "discount_pct", "daily_budget"]
    """The numeric step parameters a scale grows (a step parameter with a ``max_<param>`` cap grows too)."""


class PlaysConfig(Strict):
    policy: PlayPolicy = PlayPolicy()
    """Ranking cap, review rule and approval policy."""
    plays: list[Play] = Field(min_length=1)
    """The play library."""
