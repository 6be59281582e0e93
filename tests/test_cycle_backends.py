"""One cycle body against both backends: SQLite file + SQLite checkpointer, and the real Postgres
for the data layer and the LangGraph checkpointer alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, Decision
from graphs.checkpoint import checkpointer
from graphs.service import decide, run_cycle
from tests.cycle_fixtures import AS_OF, make_client


@pytest.fixture(params=["sqlite", "postgres"])
def backend_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    else:
        request.getfixturevalue("chimera_home")
    from chimera import settings

    return make_client(settings.home(), tmp_path_factory.getbasetemp(), name="shop")


def test_cycle_decide_and_resume_on_each_backend(backend_client: str) -> None:
    outcome = run_cycle(backend_client, as_of=AS_OF)
    assert outcome.status == "awaiting_decisions" and outcome.pending
    with checkpointer() as saver:
        config = {"configurable": {"thread_id": f"cycle:{backend_client}:{outcome.run_id}"}}
        assert saver.get_tuple(config) is not None, "the cycle's thread is checkpointed on this backend"
    first = outcome.pending[0]
    after = decide(first.play_run_id, "approve", who="alice")
    assert any(j["play_run_id"] == first.play_run_id and j["status"] == "succeeded" for j in after.jobs)
    with session_scope() as s:
        assert [d.who for d in s.exec(select(Decision))] == ["alice"]
        assert s.exec(select(AppliedChange)).all()


def test_postgres_checkpointer_is_chosen_by_the_database_url(pg_url: str) -> None:
    with checkpointer() as saver:
        assert type(saver).__name__ == "PostgresSaver"


def test_sqlite_checkpointer_lives_in_chimera_home(chimera_home: Path) -> None:
    with checkpointer() as saver:
        assert type(saver).__name__ == "SqliteSaver"
    assert (chimera_home / "checkpoints.db").exists()


def test_two_tabs_deciding_the_same_play_at_once_record_one_decision(backend_client: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from chimera.errors import DecisionError

    outcome = run_cycle(backend_client, as_of=AS_OF)
    target = outcome.pending[0].play_run_id

    def tab(kind: str, who: str) -> str:
        try:
            decide(target, kind, who=who, why="from a tab")
            return "ok"
        except DecisionError as exc:
            return f"refused: {exc}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda args: tab(*args), [("approve", "alice"), ("reject", "bob")]))
    assert sorted(r.split(":")[0] for r in results) == ["ok", "refused"], results
    with session_scope() as s:
        assert len(s.exec(select(Decision).where(Decision.play_run_id == target)).all()) == 1
        keys = [a.idempotency_key for a in s.exec(select(AppliedChange))]
        assert len(keys) == len(set(keys))
