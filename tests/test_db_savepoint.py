"""A savepoint stays inside its session's transaction on SQLite too: pysqlite opened no transaction
before a SAVEPOINT, so a job the planner inserted first in a transaction was committed by the
savepoint's RELEASE and survived the rollback of everything around it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from chimera.clients import add_client
from chimera.db.engine import session_scope
from chimera.db.models import Job
from chimera.planner import _insert_once


class Boom(Exception):
    pass


def _job(company_id: int, key: str) -> Job:
    return Job(company_id=company_id, type="EXECUTE_PLAY_COMMERCE", owner="o", idempotency_key=key)


def _keys() -> list[str]:
    with session_scope() as s:
        return [j.idempotency_key for j in s.exec(select(Job))]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("chimera_home" if request.param == "sqlite" else "pg_url")


def test_a_rolled_back_transaction_takes_its_savepointed_job_with_it(backend: str) -> None:
    company = add_client("t").company_id
    with pytest.raises(Boom), session_scope() as s:
        _insert_once(s, _job(company, "k1"))
        raise Boom
    assert _keys() == []


def test_a_committed_transaction_keeps_it_and_a_repeat_returns_it(backend: str) -> None:
    company = add_client("t").company_id
    with session_scope() as s:
        first = _insert_once(s, _job(company, "k1"))
        again = _insert_once(s, _job(company, "k1"))
        assert again.id == first.id
    assert _keys() == ["k1"]
