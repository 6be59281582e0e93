"""QA8: a job type the weekly cycle runs that no commander handles is refused by the config check at its
line, and a job queued with no owner (or for a commander since removed) is routed by agents.yml as it is
now instead of stopping the cycle with a traceback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agents.context import CycleContext
from agents.jobs import cycle_job
from chimera import settings
from chimera.clients import add_client, get_client
from chimera.config.loader import load_config_set
from chimera.db.engine import session_scope
from chimera.db.models import Job, PlayRun
from chimera.errors import ConfigError
from graphs.cycle import routed_owner
from tests.test_report_config_qa8 import _base_copy

INFRA = "handles: [INGEST_METRICS, TRAIN_AGENT]"


def _patch(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text


def _line(text: str, needle: str) -> int:
    return next(no for no, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_misspelt_cycle_job_type_in_handles_is_named_at_its_line(tmp_path: Path) -> None:
    folder = _base_copy(tmp_path)
    text = _patch(folder / "agents.yml", INFRA, "handles: [INGEST_METRIC, TRAIN_AGENT]")
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=settings.LIBRARIES_DIR)
    [problem] = info.value.problems
    assert problem.startswith(f"agents.yml:{_line(text, 'INGEST_METRIC,')}: commanders.")
    assert ".handles.0: no commander handles 'INGEST_METRICS', which every weekly cycle runs" in problem
    assert "did you mean 'INGEST_METRICS'?" in problem


def test_a_cycle_job_type_no_commander_handles_is_refused(tmp_path: Path) -> None:
    folder = _base_copy(tmp_path)
    text = _patch(folder / "agents.yml", INFRA, "handles: [TRAIN_AGENT]")
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=settings.LIBRARIES_DIR)
    [problem] = info.value.problems
    assert problem == (f"agents.yml:{_line(text, 'commanders:')}: commanders: no commander handles 'INGEST_METRICS', "
                       "which every weekly cycle runs; add it to one commander's handles")


@pytest.fixture
def shop(chimera_home: Path) -> str:
    add_client("routed")
    return "routed"


def _job(ctx: CycleContext, job_type: str, owner: str, play_run_id: str | None = None) -> int:
    with session_scope() as s:
        job = Job(company_id=ctx.client.company_id, type=job_type, owner=owner, run_id=ctx.run_id,
                  play_run_id=play_run_id, idempotency_key=f"{ctx.run_id}:{job_type}:{owner}")
        s.add(job)
        s.flush()
        assert job.id is not None
        return job.id


def _route(ctx: CycleContext, job_id: int) -> str:
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return routed_owner(s, ctx, job)


def _stored_owner(job_id: int) -> str:
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.owner


def test_a_job_without_a_known_owner_is_routed_by_agents_yml_now(shop: str) -> None:
    ctx = CycleContext(client=get_client(shop), as_of=date(2026, 11, 1), run_id="r1")
    for owner in ("", "retired_commander_ai"):
        job_id = _job(ctx, "INGEST_METRICS", owner)
        assert _route(ctx, job_id) == "infra_commander_ai" == _stored_owner(job_id)
    kept = _job(ctx, "EVALUATE_KPIS", "evidence_commander_ai")
    assert _route(ctx, kept) == "evidence_commander_ai"


def test_a_type_no_commander_handles_is_one_clear_error(shop: str) -> None:
    ctx = CycleContext(client=get_client(shop), as_of=date(2026, 11, 1), run_id="r2")
    job_id = _job(ctx, "EXECUTE_PLAY_NOWHERE", "")
    with pytest.raises(ConfigError) as info:
        _route(ctx, job_id)
    assert str(info.value).startswith("agents.yml: commanders.handles: no commander handles job type "
                                      "'EXECUTE_PLAY_NOWHERE'")


def test_planning_a_play_no_commander_plans_falls_to_the_plays_owner(shop: str) -> None:
    client = get_client(shop)
    agents = client.folder / "agents.yml"
    text = agents.read_text(encoding="utf-8").replace("PLAN_JOB_QUEUE_FOR_PLAY, ", "")
    agents.write_text(text, encoding="utf-8")
    ctx = CycleContext(client=get_client(shop), as_of=date(2026, 11, 1), run_id="r3")
    assert ctx.client.configs.owners_of("PLAN_JOB_QUEUE_FOR_PLAY") == []
    play = ctx.client.configs.play("checkout_friction_audit")
    with session_scope() as s:
        run = PlayRun(company_id=ctx.client.company_id, play_id=play.id, as_of=ctx.as_of)
        s.add(run)
        s.flush()
        run_id = run.id
        job = cycle_job(s, ctx, "PLAN_JOB_QUEUE_FOR_PLAY", play_run_id=run_id, play_owner=play.owner)
        assert job.owner == play.owner
    stale = _job(ctx, "PLAN_JOB_QUEUE_FOR_PLAY", "", play_run_id=run_id)
    assert _route(ctx, stale) == play.owner


def test_a_play_type_unhandled_through_a_handles_typo_points_at_agents_yml(tmp_path: Path) -> None:
    folder = _base_copy(tmp_path)
    _patch(folder / "agents.yml", "handles: [EXECUTE_PLAY_PRODUCT]", "handles: [EXECUTE_PLAY_PRODUKT]")
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=settings.LIBRARIES_DIR)
    plays_text = (folder / "plays.yml").read_text(encoding="utf-8")
    lines = [no for no, line in enumerate(plays_text.splitlines(), start=1) if "type: EXECUTE_PLAY_PRODUCT" in line]
    assert [int(p.split(":")[1]) for p in info.value.problems] == lines
    assert all(p.endswith("no agent handles job type 'EXECUTE_PLAY_PRODUCT'; agents.yml handles "
                          "'EXECUTE_PLAY_PRODUKT', which no play uses: a typo there? (write EXECUTE_PLAY_PRODUCT "
                          "in that commander's handles)") for p in info.value.problems)


def test_a_play_type_typo_still_suggests_the_handled_type(tmp_path: Path) -> None:
    folder = _base_copy(tmp_path)
    text = (folder / "plays.yml").read_text(encoding="utf-8")
    (folder / "plays.yml").write_text(text.replace("type: EXECUTE_PLAY_PRODUCT", "type: EXECUTE_PLAY_PRODUKT", 1),
                                      encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=settings.LIBRARIES_DIR)
    [problem] = info.value.problems
    assert problem.endswith("no agent handles job type 'EXECUTE_PLAY_PRODUKT' (did you mean 'EXECUTE_PLAY_PRODUCT'?)")
