"""``chimera jobs --client NAME [--status S] [--json]`` over a client with a hand-written config set."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session
from typer.testing import CliRunner

import chimera.cli.cmd_jobs  # noqa: F401 - registers the command
from chimera import settings
from chimera.cli.app import app
from chimera.config.loader import CYCLE_JOB_TYPES
from chimera.config.models import KPI, AgentsConfig, Bot, BotAction, Commander, KPIsConfig, PlaysConfig
from chimera.db.engine import get_engine
from chimera.db.models import Company
from chimera.errors import ChimeraError, ClientError
from chimera.jobs.queue import claim_next, enqueue


def write_client(name: str) -> Path:
    folder = settings.client_dir(name)
    folder.mkdir(parents=True)
    agents = AgentsConfig(
        commanders=[Commander(id="commerce_commander_ai", label="C", role="r",  # the weekly cycle's jobs too
                              handles=["EXECUTE_PLAY_COMMERCE", *CYCLE_JOB_TYPES])],
        bots=[Bot(id="copy_bot", label="Copy", role="r",
                  actions=[BotAction(name="draft_copy", description="d", reversible=True)])])
    kpis = KPIsConfig(kpis=[KPI(id="aov", label="AOV", unit="currency", direction="higher_is_better",
                                formula="net_sales / orders", target=Decimal(50), warning=Decimal(40),
                                critical=Decimal(30), owner="commerce_commander_ai")])
    plays = PlaysConfig.model_validate({"plays": [{
        "id": "bundle", "label": "Bundle", "description": "d", "owner": "commerce_commander_ai", "impact": 3,
        "effort": 2, "trigger": {"kpi": "aov", "below": 40}, "evidence": {"kpis": ["aov"]},
        "job_plan": [{"type": "EXECUTE_PLAY_COMMERCE", "bot": "copy_bot", "action": "draft_copy"}]}]})
    for fname, model in (("agents.yml", agents), ("kpis.yml", kpis), ("plays.yml", plays)):
        data = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        (folder / fname).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture
def client(chimera_home) -> int:
    write_client("acme")
    with Session(get_engine(), expire_on_commit=False) as s:
        company = Company(name="acme")
        s.add(company)
        s.commit()
        for i in range(3):
            enqueue(s, company.id, "EXECUTE_PLAY_COMMERCE", "commerce_commander_ai", bot="copy_bot",
                    action="draft_copy", idempotency_key=f"run:{i}", correlation_id="corr1")
        claim_next(s, company.id)
        return company.id


def test_jobs_json_lists_every_job_and_filters_by_status(client: int) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["jobs", "--client", "acme", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["client"] == "acme" and len(doc["jobs"]) == 3
    first = doc["jobs"][0]
    assert {"id", "type", "owner", "bot", "action", "status", "attempts", "correlation_id"} <= set(first)
    assert (first["status"], first["attempts"], first["correlation_id"]) == ("running", 1, "corr1")
    queued = json.loads(runner.invoke(app, ["jobs", "--client", "acme", "--status", "queued", "--json"]).stdout)
    assert [j["status"] for j in queued["jobs"]] == ["queued", "queued"]


def test_jobs_table_and_errors(client: int) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["jobs", "--client", "acme"])
    assert table.exit_code == 0 and "EXECUTE_" in table.stdout
    assert table.stdout.count("running") == 1 and table.stdout.count("queued") == 2
    bad = runner.invoke(app, ["jobs", "--client", "acme", "--status", "queud"])
    assert isinstance(bad.exception, ChimeraError) and "did you mean 'queued'" in str(bad.exception)
    unknown = runner.invoke(app, ["jobs", "--client", "nope"])
    assert isinstance(unknown.exception, ClientError)
