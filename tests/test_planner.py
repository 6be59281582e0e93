"""Planning a play run into Job rows: owners from agents.yml handles, ties by the play owner, idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from chimera.config.loader import ConfigSet
from chimera.config.models import KPI, AgentsConfig, Bot, BotAction, Commander, KPIsConfig, PlaysConfig
from chimera.db.engine import get_engine
from chimera.db.models import Company, Job, PlayRun
from chimera.errors import ConfigError
from chimera.planner import PLAN_JOB_TYPE, enqueue_plan_job, plan_play_run, resolve_owner


def make_configs(owner: str = "growth_commander_ai", extra_type: str | None = None) -> ConfigSet:
    both = ["EXECUTE_PLAY_COMMERCE", "PLAN_JOB_QUEUE_FOR_PLAY"]
    agents = AgentsConfig(
        commanders=[
            Commander(id="commerce_commander_ai", label="C", role="r", handles=both),
            Commander(id="growth_commander_ai", label="G", role="r", handles=[*both, "EXECUTE_PLAY_GROWTH"]),
            Commander(id="product_commander_ai", label="P", role="r", handles=["EXECUTE_PLAY_PRODUCT"]),
        ],
        bots=[Bot(id="copy_bot", label="Copy", role="r", actions=[
            BotAction(name="draft_copy", description="d", reversible=True, params=["channel"])])],
    )
    kpis = KPIsConfig(kpis=[KPI(id="aov", label="AOV", unit="currency", direction="higher_is_better",
                                formula="net_sales / orders", target=Decimal(50), warning=Decimal(40),
                                critical=Decimal(30), owner="commerce_commander_ai")])
    steps = [
        {"type": "EXECUTE_PLAY_COMMERCE", "bot": "copy_bot", "action": "draft_copy", "params": {"channel": "email"},
         "description": "Draft the offer"},
        {"type": "EXECUTE_PLAY_GROWTH", "bot": "copy_bot", "action": "draft_copy"},
        {"type": "EXECUTE_PLAY_PRODUCT", "bot": "copy_bot", "action": "draft_copy", "params": {"n": 2}},
    ]
    if extra_type:
        steps.append({"type": extra_type, "bot": "copy_bot", "action": "draft_copy"})
    plays = PlaysConfig.model_validate({"plays": [{
        "id": "bundle", "label": "Bundle", "description": "d", "owner": owner, "impact": 3, "effort": 2,
        "trigger": {"kpi": "aov", "below": 40}, "evidence": {"kpis": ["aov"]}, "job_plan": steps}]})
    return ConfigSet(folder=Path("."), agents=agents, kpis=kpis, plays=plays)


@pytest.fixture
def run(chimera_home) -> tuple[Session, PlayRun]:
    with Session(get_engine(), expire_on_commit=False) as s:
        company = Company(name="acme")
        s.add(company)
        s.commit()
        play_run = PlayRun(company_id=company.id, play_id="bundle", as_of=date(2026, 1, 5), status="approved")
        s.add(play_run)
        s.commit()
        yield s, play_run


def test_one_job_per_step_with_owners_from_handles(run) -> None:
    session, play_run = run
    configs = make_configs(owner="growth_commander_ai")
    jobs = plan_play_run(session, configs, play_run)
    session.commit()
    steps = configs.play("bundle").job_plan
    assert [j.step for j in jobs] == list(range(len(steps)))
    assert [j.type for j in jobs] == [s.type for s in steps]
    for job, step in zip(jobs, steps, strict=True):
        owners = configs.owners_of(step.type)
        assert job.owner in owners
        assert job.owner == ("growth_commander_ai" if "growth_commander_ai" in owners else owners[0])
        assert job.idempotency_key == f"{play_run.id}:{job.step}:{step.type}"
        assert job.correlation_id == play_run.correlation_id and job.play_run_id == play_run.id
        assert job.status == "queued" and (job.bot, job.action) == (step.bot, step.action)
        assert {k: job.params[k] for k in step.params} == step.params
    assert jobs[0].params["description"] == steps[0].description


def test_tie_goes_to_the_play_owner_else_the_first_handler(run) -> None:
    session, play_run = run
    commerce_owned = plan_play_run(session, make_configs(owner="commerce_commander_ai"), play_run)
    assert commerce_owned[0].owner == "commerce_commander_ai"
    configs = make_configs(owner="product_commander_ai")  # owner handles none of the shared types
    assert resolve_owner(configs, "EXECUTE_PLAY_COMMERCE", "product_commander_ai") == \
        configs.owners_of("EXECUTE_PLAY_COMMERCE")[0]
    assert resolve_owner(configs, "EXECUTE_PLAY_COMMERCE", "growth_commander_ai") == "growth_commander_ai"


def test_planning_twice_adds_nothing(run) -> None:
    session, play_run = run
    configs = make_configs()
    first = plan_play_run(session, configs, play_run)
    session.commit()
    again = plan_play_run(session, configs, play_run)
    session.commit()
    assert [j.id for j in first] == [j.id for j in again]
    count = len(session.exec(select(Job).where(Job.play_run_id == play_run.id)).all())
    assert count == len(configs.play("bundle").job_plan)
    plan = enqueue_plan_job(session, configs, play_run)
    assert enqueue_plan_job(session, configs, play_run).id == plan.id
    assert plan.type == PLAN_JOB_TYPE and plan.owner == "growth_commander_ai"


def test_planning_from_a_second_session_adds_nothing(run) -> None:
    session, play_run = run
    configs = make_configs()
    first = plan_play_run(session, configs, play_run)
    session.commit()
    with Session(get_engine(), expire_on_commit=False) as other:
        again = plan_play_run(other, configs, other.get(PlayRun, play_run.id))
        other.commit()
    assert sorted(j.id for j in again) == sorted(j.id for j in first)


def test_unhandled_job_type_is_a_config_error(run) -> None:
    session, play_run = run
    with pytest.raises(ConfigError, match="no commander handles job type 'EXECUTE_PLAY_INFRA'"):
        plan_play_run(session, make_configs(extra_type="EXECUTE_PLAY_INFRA"), play_run)
