"""The data layer on SQLite and on the real Postgres: migrations, every table, relations, and
client isolation (no command reads another client's data by accident)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from typer.testing import CliRunner

from chimera.cli import _register, app
from chimera.clients import add_client, get_client, list_clients
from chimera.db.engine import get_engine, session_scope
from chimera.db.migrations import LATEST
from chimera.db.models import (
    KPI,
    AppliedChange,
    ConfigChange,
    CustomerDay,
    CycleRun,
    Decision,
    EvidenceRecord,
    IncomeStream,
    IngestRun,
    Job,
    KPIStatus,
    MetricPoint,
    Play,
    PlayRun,
    SQLModel,
    User,
    encode_customers,
)
from chimera.errors import ClientError
from chimera.metrics import load_series

_register()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue("pg_url" if request.param == "postgres" else "chimera_home")
    return request.param


def test_migrations_create_every_table_once(backend: str) -> None:
    engine = get_engine()
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT MAX(version) FROM schemaversion")).scalar() == LATEST
    from chimera.db import migrations

    migrations._migrated.clear()
    get_engine()  # applying again changes nothing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM schemaversion")).scalar() == LATEST


def test_a_version_1_database_keeps_its_customer_days(backend: str) -> None:
    """Migration 2 folds the old one-row-per-customer layout into one JSON row per day."""
    from chimera.db import migrations

    cid = add_client("acme").company_id
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE customerday"))
        conn.execute(text(
            "CREATE TABLE customerday (id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL, source VARCHAR NOT NULL,"
            " day DATE NOT NULL, customer VARCHAR NOT NULL, orders INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO customerday (id, company_id, source, day, customer, orders) VALUES "
                          "(1, :c, 'shopify_orders', '2026-11-01', 'b2', 1), "
                          "(2, :c, 'shopify_orders', '2026-11-01', 'a1', 2), "
                          "(3, :c, 'shopify_orders', '2026-11-02', 'a1', 1)"), {"c": cid})
        conn.execute(text("DELETE FROM schemaversion WHERE version > 1"))
    migrations._migrated.clear()
    get_engine()
    with session_scope() as s:
        rows = s.exec(select(CustomerDay).order_by(CustomerDay.day)).all()
        assert [(r.company_id, r.day, r.counts()) for r in rows] == [
            (cid, date(2026, 11, 1), {"a1": 2, "b2": 1}), (cid, date(2026, 11, 2), {"a1": 1})]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT MAX(version) FROM schemaversion")).scalar() == LATEST


def test_a_version_2_database_keeps_its_customers_matching_new_pseudonyms(backend: str) -> None:
    """Migration 3 cuts stored full HMAC digests to the 16-hex prefix the code now computes: a
    customer ingested before the upgrade is the same customer after it (repeat-purchase rate)."""
    import hashlib
    import hmac

    from chimera.db import migrations
    from chimera.ingest.pseudonymize import client_salt, pseudonymizer

    cid = add_client("acme").company_id
    full = hmac.new(client_salt("acme"), b"kai@example.com", hashlib.sha256).hexdigest()
    twin = full[:16] + "f" * 48  # a (rare) second digest with the same prefix: its orders add up
    with session_scope() as s:
        s.add(CustomerDay(company_id=cid, source="shopify_orders", day=date(2026, 11, 1),
                          orders_by_customer=encode_customers({full: 2, twin: 1, "c" * 64: 1})))
        s.add(CustomerDay(company_id=cid, source="shopify_orders", day=date(2026, 11, 2),
                          orders_by_customer=encode_customers({full: 1})))
    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM schemaversion WHERE version > 2"))
    migrations._migrated.clear()
    get_engine()
    with session_scope() as s:
        rows = s.exec(select(CustomerDay).order_by(CustomerDay.day)).all()
        assert [r.counts() for r in rows] == [{full[:16]: 3, "c" * 16: 1}, {full[:16]: 1}]
    assert pseudonymizer("acme")(" Kai@Example.com") == full[:16]


def test_every_table_round_trips_with_its_relations(backend: str) -> None:
    ctx = add_client("acme")
    cid = ctx.company_id
    with session_scope() as s:
        run = CycleRun(company_id=cid, as_of=date(2026, 11, 1))
        ingest = IngestRun(company_id=cid, source="shopify", file_name="o.csv", fingerprint="f" * 64,
                           rejected=[{"line": 2, "column": "Total", "value": "N/A"}])
        s.add_all([run, ingest, IncomeStream(company_id=cid, kind="shopify", name="store"),
                   KPI(company_id=cid, kpi_id="aov", config_hash="h", definition={"formula": "net_sales / orders"}),
                   CustomerDay(company_id=cid, source="shopify", day=date(2026, 11, 1),
                               orders_by_customer=encode_customers({"abc": 2})),
                   Play(company_id=cid, play_id="pricing_test", record={"runs": 1}),
                   ConfigChange(company_id=cid, file="kpis.yml", sha256="x", reason="r", expected_effect="e",
                                date=date(2026, 11, 1), owner="o"),
                   User(name="alice", password_hash="scrypt$...", role="approver", clients=["acme"])])
        s.flush()
        s.add(MetricPoint(company_id=cid, metric="net_sales", day=date(2026, 11, 1), source="shopify",
                          value="1234.50", ingest_run_id=ingest.id))
        s.add(KPIStatus(company_id=cid, run_id=run.id, kpi_id="aov", as_of=run.as_of, status="OK", value="41.20"))
        play_run = PlayRun(company_id=cid, run_id=run.id, play_id="pricing_test", as_of=run.as_of)
        s.add(play_run)
        s.flush()
        s.add_all([Decision(company_id=cid, play_run_id=play_run.id, kind="approve", who="alice"),
                   Job(company_id=cid, play_run_id=play_run.id, type="EXECUTE_PLAY_COMMERCE", owner="c",
                       idempotency_key=f"{play_run.id}:0", params={"change_pct": 10}),
                   EvidenceRecord(company_id=cid, play_run_id=play_run.id, play_id="pricing_test",
                                  correlation_id=play_run.correlation_id, kpi="aov", executed_on=run.as_of),
                   AppliedChange(company_id=cid, idempotency_key=f"{play_run.id}:0", bot="shopify_bot",
                                 action="update_prices", changeset={"summary": "x"})])
    with session_scope() as s:
        assert s.exec(select(MetricPoint)).one().value == "1234.50"
        assert s.exec(select(IngestRun)).one().rejected[0]["column"] == "Total"
        job = s.exec(select(Job)).one()
        assert job.params == {"change_pct": 10} and job.created_at.tzinfo is not None
        pr = s.exec(select(PlayRun)).one()
        assert s.exec(select(EvidenceRecord)).one().correlation_id == pr.correlation_id
    with pytest.raises(IntegrityError), session_scope() as s:  # one decision per play run
        s.add(Decision(company_id=cid, play_run_id=pr.id, kind="reject", who="bob"))
    with pytest.raises(IntegrityError), session_scope() as s:  # one value per metric, day and source
        s.add(MetricPoint(company_id=cid, metric="net_sales", day=date(2026, 11, 1), source="shopify", value="1"))


def test_clients_are_isolated(backend: str) -> None:
    a, b = add_client("alpha"), add_client("beta")
    with session_scope() as s:
        for ctx, value in ((a, "100.00"), (b, "999.00")):
            s.add(MetricPoint(company_id=ctx.company_id, metric="net_sales", day=date(2026, 11, 1),
                              source="shopify", value=value))
    with session_scope() as s:
        assert load_series(s, a.company_id, ["net_sales"]) == {"net_sales": {date(2026, 11, 1): Decimal("100.00")}}
    assert list_clients() == ["alpha", "beta"]
    assert a.folder != b.folder and (a.folder / "kpis.yml").exists() and (b.folder / "kpis.yml").exists()
    with pytest.raises(ClientError, match="not granted"):
        get_client("beta", allowed=["alpha"])
    with pytest.raises(ClientError, match="already exists"):
        add_client("alpha")
    with pytest.raises(ClientError, match="did you mean 'alpha'"):
        get_client("alpah")
    result = CliRunner().invoke(app, ["client", "list", "--json"])
    assert result.exit_code == 0 and '"alpha"' in result.output and '"beta"' in result.output


def test_bad_client_names_are_refused(chimera_home) -> None:
    for name in ("Bad Name", "../escape", ""):
        with pytest.raises(ClientError):
            add_client(name)
