"""SQLModel tables of the data layer (manual §2.1, DESIGN.md §3).

Money and rates are stored as decimal *strings* so sums stay exact on SQLite and Postgres alike.
Every table that holds client data carries ``company_id``; queries always filter on it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    # aware: sqlmodel >= 0.0.50 stores datetime fields as UTCDateTime, which refuses naive values
    return datetime.now(UTC)


def new_id() -> str:
    """12 hex digits, never all decimal digits: a run id said back in the chat is a name, but one
    like `476154091828` reads as a figure no tool gave, and the guard refused the answer naming it."""
    while True:
        value = uuid.uuid4().hex[:12]
        if not value.isdigit():
            return value


def _json(default: Any = None) -> Any:
    factory = (lambda: {}) if default is None else (lambda: list(default))
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class Company(SQLModel, table=True):
    """A client of the operator: one business with its own config set."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    settings: dict = _json()


class IncomeStream(SQLModel, table=True):
    """A source of revenue or traffic for a company (a Shopify store, a Stripe account, a gig)."""

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    kind: str
    name: str
    currency: str = "USD"


class KPI(SQLModel, table=True):
    """A snapshot of a KPI definition as it was when evaluated (so old statuses stay explainable)."""

    __table_args__ = (UniqueConstraint("company_id", "kpi_id", "config_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    kpi_id: str
    config_hash: str
    definition: dict = _json()
    created_at: datetime = Field(default_factory=utcnow)


class MetricPoint(SQLModel, table=True):
    """One base metric for one day from one source, as a decimal string.

    Indexed for each way a cycle reads it, so a query touches only the rows it returns: one
    metric's days, every metric over a window or the newest day (company, day), and one source's
    days that a re-ingest replaces (company, source, day)."""

    __table_args__ = (
        UniqueConstraint("company_id", "metric", "day", "source"),
        Index("ix_metric_company_metric_day", "company_id", "metric", "day"),
        Index("ix_metricpoint_company_day", "company_id", "day"),
        Index("ix_metricpoint_company_source_day", "company_id", "source", "day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id")
    metric: str
    day: date
    source: str
    value: str
    ingest_run_id: int | None = Field(default=None, foreign_key="ingestrun.id")


class CustomerDay(SQLModel, table=True):
    """Orders per pseudonymized customer on one day: enough for repeat-purchase rate, nothing more.

    One row per (company, source, day) holding a JSON object ``{customer: orders}``: an export of
    a million orders writes a few hundred rows, not hundreds of thousands (the insert was most of
    an ingest's database time), and a window is read back with as few rows."""

    __table_args__ = (
        UniqueConstraint("company_id", "source", "day"),
        Index("ix_customerday_company_day", "company_id", "day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id")
    source: str
    day: date
    orders_by_customer: str  # JSON object: pseudonym (hex) -> orders that day

    def counts(self) -> dict[str, int]:
        return decode_customers(self.orders_by_customer)


def decode_customers(blob: str) -> dict[str, int]:
    """``strict=False``: the writer only guarantees keys without quotes or backslashes."""
    return {str(k): int(v) for k, v in json.loads(blob, strict=False).items()}


def encode_customers(counts: dict[str, int]) -> str:
    return json.dumps(dict(sorted(counts.items())), separators=(",", ":"))


class IngestRun(SQLModel, table=True):
    """One ingest of one file or API pull: what was read, rejected and written."""

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    source: str
    file_name: str
    fingerprint: str = Field(index=True)
    status: str = "succeeded"
    rows_read: int = 0
    orders_ingested: int = 0
    metrics_written: int = 0
    rejected: list = _json([])
    first_day: date | None = None
    last_day: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class CycleRun(SQLModel, table=True):
    """One evaluation or weekly cycle of one client; KPI statuses and play runs hang off it."""

    id: str = Field(default_factory=new_id, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    kind: str = "cycle"
    as_of: date
    silent: bool = False
    status: str = "running"
    thread_id: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    model_usage: dict = _json()
    summary: dict = _json()


class KPIStatus(SQLModel, table=True):
    """The judged status of one KPI on one day, with the numbers behind it."""

    __table_args__ = (Index("ix_kpistatus_company_kpi_asof", "company_id", "kpi_id", "as_of"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id")
    run_id: str = Field(foreign_key="cyclerun.id", index=True)
    kpi_id: str
    as_of: date
    status: str
    value: str | None = None
    target: str | None = None
    warning: str | None = None
    critical: str | None = None
    window: str = "7d"
    data_through: date | None = None
    note: str = ""
    details: dict = _json()


class Play(SQLModel, table=True):
    """Per-client state of a play: under review or not, and its record of past verdicts."""

    __table_args__ = (UniqueConstraint("company_id", "play_id"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    play_id: str
    under_review: bool = False
    review_reason: str = ""
    record: dict = _json()
    updated_at: datetime = Field(default_factory=utcnow)


class PlayRun(SQLModel, table=True):
    """A triggered play in one cycle: its explanation, decision state and execution."""

    id: str = Field(default_factory=new_id, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    run_id: str | None = Field(default=None, foreign_key="cyclerun.id", index=True)
    play_id: str
    as_of: date
    rank: int = 0
    score: float = 0.0
    owner: str = ""
    status: str = "suggested"
    correlation_id: str = Field(default_factory=lambda: uuid.uuid4().hex, index=True)
    explanation: dict = _json()
    rationale: dict = _json()
    executed_on: date | None = None
    source: str = "cycle"
    created_at: datetime = Field(default_factory=utcnow)


class Decision(SQLModel, table=True):
    """A human (or policy) decision on a play run: who, when, why. One per play run."""

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    play_run_id: str = Field(foreign_key="playrun.id", unique=True)
    kind: str
    who: str
    why: str = ""
    correlation_id: str = ""
    at: datetime = Field(default_factory=utcnow)


class Job(SQLModel, table=True):
    """A durable, typed unit of work with lease, attempts and an idempotency key.

    The queue asks for one client's jobs in some states (queued, running): (company, status)
    answers that without reading the client's whole job history."""

    __table_args__ = (Index("ix_job_company_status", "company_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    play_run_id: str | None = Field(default=None, foreign_key="playrun.id", index=True)
    run_id: str | None = Field(default=None, index=True)
    correlation_id: str = Field(default="", index=True)
    type: str
    owner: str
    bot: str = ""
    action: str = ""
    step: int = 0
    params: dict = _json()
    status: str = Field(default="queued", index=True)
    attempts: int = 0
    max_attempts: int = 3
    lease_until: datetime | None = None
    idempotency_key: str = Field(unique=True)
    result: dict = _json()
    error: str = ""
    run_after: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AppliedChange(SQLModel, table=True):
    """A ChangeSet applied by an adapter; the unique key makes a second application a no-op."""

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    idempotency_key: str = Field(unique=True)
    job_id: int | None = Field(default=None, foreign_key="job.id")
    bot: str
    action: str
    adapter: str = "dry_run"
    reversible: bool = True
    changeset: dict = _json()
    asset_path: str = ""
    applied_at: datetime = Field(default_factory=utcnow)


class EvidenceRecord(SQLModel, table=True):
    """What a play did to one KPI: before/after, effect, interval, placebo, confounders, verdict."""

    __table_args__ = (UniqueConstraint("company_id", "correlation_id", "kpi"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    play_run_id: str | None = Field(default=None, foreign_key="playrun.id", index=True)
    play_id: str
    correlation_id: str = Field(index=True)
    kpi: str
    executed_on: date
    as_of: date | None = None
    before: str | None = None
    after: str | None = None
    effect_pct: float | None = None
    ci_low_pct: float | None = None
    ci_high_pct: float | None = None
    verdict: str = "pending"
    confounders: list = _json([])
    method: str = "before/after, no control group"
    details: dict = _json()
    updated_at: datetime = Field(default_factory=utcnow)


class ConfigChange(SQLModel, table=True):
    """A logged change to a config file (manual §5 rule): reason, expected effect, date, owner."""

    id: int | None = Field(default=None, primary_key=True)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    file: str
    sha256: str
    reason: str
    expected_effect: str
    date: date
    owner: str
    at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who logs into the command center; password stored as a salted hash only."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    password_hash: str
    role: str = "viewer"
    clients: list = _json([])
    created_at: datetime = Field(default_factory=utcnow)


class SchemaVersion(SQLModel, table=True):
    """Numbered migrations applied to this database."""

    version: int = Field(primary_key=True)
    name: str
    applied_at: datetime = Field(default_factory=utcnow)
