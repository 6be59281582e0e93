"""The durable job queue: claim with a lease, complete, fail and retry, requeue stuck jobs, run with
retries; two sessions never claim the same job (SQLite and the real Postgres)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from chimera.db.engine import get_engine
from chimera.db.models import Company, Job, utcnow
from chimera.errors import ChimeraError, DecisionError
from chimera.jobs import queue
from chimera.jobs.queue import (
    await_approval,
    claim_next,
    complete,
    enqueue,
    fail,
    list_jobs,
    requeue_stuck,
    run_job,
)


def _company(session: Session, name: str = "acme") -> int:
    company = Company(name=name)
    session.add(company)
    session.commit()
    return company.id


@pytest.fixture(params=["sqlite", "postgres"])
def db(request) -> Iterator[str]:
    """The same test body on a SQLite file and on the real Postgres (skips when none answers)."""
    if request.param == "sqlite":
        request.getfixturevalue("chimera_home")
        yield "sqlite"
    else:
        request.getfixturevalue("pg_url")
        yield "postgres"


@pytest.fixture
def session(db) -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as s:
        yield s


def _jobs(session: Session, cid: int, n: int, type: str = "EXECUTE_PLAY_COMMERCE", **kw) -> list[Job]:
    return [enqueue(session, cid, type, "commerce_commander_ai", idempotency_key=f"k{type}{i}", **kw)
            for i in range(n)]


def test_enqueue_is_idempotent_by_key(session: Session) -> None:
    cid = _company(session)
    first = enqueue(session, cid, "LOG_EVIDENCE", "evidence_commander_ai", idempotency_key="run1:evidence")
    again = enqueue(session, cid, "LOG_EVIDENCE", "evidence_commander_ai", idempotency_key="run1:evidence")
    assert first.id == again.id and len(list_jobs(session, cid)) == 1


def test_claim_sets_lease_and_attempts_then_complete(session: Session) -> None:
    cid = _company(session)
    other = _company(session, "other")
    jobs = _jobs(session, cid, 2)
    _jobs(session, other, 1, type="LOG_EVIDENCE")
    now = utcnow()
    job = claim_next(session, cid, lease_seconds=60, now=now)
    assert job is not None and job.id == jobs[0].id  # oldest first
    assert job.status == "running" and job.attempts == 1
    assert job.lease_until == now + timedelta(seconds=60)
    assert claim_next(session, cid, types=["LOG_EVIDENCE"]) is None  # other company's job is not ours
    done = complete(job, {"asset": "outbox/x.md"})
    assert done.status == "succeeded" and done.result == {"asset": "outbox/x.md"} and done.lease_until is None
    assert [j.status for j in list_jobs(session, cid)] == ["succeeded", "queued"]
    assert [j.id for j in list_jobs(session, cid, status="queued")] == [jobs[1].id]


def test_types_filter_and_parked_jobs_are_not_claimed(session: Session) -> None:
    cid = _company(session)
    parked = _jobs(session, cid, 1)[0]
    await_approval(parked)
    later = enqueue(session, cid, "LOG_EVIDENCE", "evidence_commander_ai", idempotency_key="later",
                    run_after=(utcnow() + timedelta(days=28)).date())
    wanted = enqueue(session, cid, "INGEST_METRICS", "infra_commander_ai", idempotency_key="ingest")
    assert claim_next(session, cid, types=["EXECUTE_PLAY_COMMERCE", "LOG_EVIDENCE"]) is None
    assert claim_next(session, cid).id == wanted.id
    assert claim_next(session, cid, now=utcnow() + timedelta(days=29)).id == later.id


def test_fail_requeues_until_attempts_run_out(session: Session) -> None:
    cid = _company(session)
    job = _jobs(session, cid, 1, max_attempts=2)[0]
    first = claim_next(session, cid)
    assert fail(first, RuntimeError("timeout")).status == "queued"
    assert first.error == "RuntimeError: timeout"
    second = claim_next(session, cid)
    assert second.id == job.id and second.attempts == 2
    assert fail(second, "timeout again").status == "failed"
    assert claim_next(session, cid) is None


def test_requeue_stuck_counts_the_attempt(session: Session) -> None:
    cid = _company(session)
    _jobs(session, cid, 2, max_attempts=2)
    now = utcnow()
    a = claim_next(session, cid, lease_seconds=30, now=now)
    b = claim_next(session, cid, lease_seconds=3600, now=now)
    assert requeue_stuck(session, now + timedelta(seconds=10)) == []  # leases still valid
    touched = requeue_stuck(session, now + timedelta(seconds=60))
    assert [(j.id, j.status, j.attempts) for j in touched] == [(a.id, "queued", 1)]
    assert "lease expired" in touched[0].error
    session.refresh(b)
    assert b.status == "running"
    again = claim_next(session, cid, lease_seconds=30, now=now + timedelta(seconds=61))
    assert again.id == a.id and again.attempts == 2
    exhausted = requeue_stuck(session, now + timedelta(seconds=200), company_id=cid)
    assert [(j.id, j.status) for j in exhausted] == [(a.id, "failed")]


def test_run_job_retries_transient_errors_and_records_attempts(session: Session) -> None:
    cid = _company(session)
    job = _jobs(session, cid, 1, max_attempts=3)[0]
    calls: list[int] = []

    def flaky(j: Job) -> dict:
        calls.append(j.attempts)
        if len(calls) < 3:
            raise ConnectionError("store API reset")
        return {"ok": True}

    claimed = claim_next(session, cid)
    assert claimed.id == job.id
    done = run_job(claimed.id, flaky, session, wait_seconds=0)
    assert done.status == "succeeded" and done.result == {"ok": True}
    assert calls == [1, 2, 3] and done.attempts == 3
    assert run_job(done.id, flaky, session, wait_seconds=0).status == "succeeded"
    assert len(calls) == 3  # a finished job is not run again


def test_run_job_exhausts_retries_or_stops_on_a_user_error(session: Session) -> None:
    cid = _company(session)
    transient, permanent, parked = _jobs(session, cid, 3, max_attempts=2)
    calls: list[str] = []

    def always(j: Job) -> dict:
        calls.append("t")
        raise TimeoutError("model slow")

    def bad_config(j: Job) -> dict:
        calls.append("p")
        raise ChimeraError("plays.yml:3: job_plan: unknown bot")

    failed = run_job(transient.id, always, session, wait_seconds=0)
    assert failed.status == "failed" and failed.attempts == 2 and "TimeoutError" in failed.error
    stopped = run_job(permanent.id, bad_config, session, wait_seconds=0)
    assert stopped.status == "failed" and stopped.attempts == 1 and "unknown bot" in stopped.error
    assert calls == ["t", "t", "p"]
    await_approval(parked)
    with pytest.raises(DecisionError):
        run_job(parked.id, always, session, wait_seconds=0)


def test_stale_candidate_loses_the_guarded_update(session: Session, monkeypatch) -> None:
    """A worker that read the queue before another claimed the job must not claim it too."""
    cid = _company(session)
    first, second = _jobs(session, cid, 2)
    with Session(get_engine(), expire_on_commit=False) as other:
        assert claim_next(other, cid).id == first.id
    monkeypatch.setattr(queue, "_candidates", lambda *a, **k: [first.id, second.id])
    got = claim_next(session, cid)
    assert got.id == second.id and got.attempts == 1
    session.refresh(first)
    assert first.attempts == 1  # the loser did not touch it


def test_concurrent_workers_claim_each_job_once(session: Session) -> None:
    cid = _company(session)
    jobs = _jobs(session, cid, 24)
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with Session(get_engine(), expire_on_commit=False) as s:
                while (job := claim_next(s, cid)) is not None:
                    with lock:
                        claimed.append(job.id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(claimed) == sorted(j.id for j in jobs)  # every job once, none twice
    assert {j.attempts for j in list_jobs(session, cid)} == {1}


@pytest.mark.postgres
def test_postgres_skips_a_row_locked_by_another_worker(pg_url) -> None:
    with Session(get_engine(), expire_on_commit=False) as a, Session(get_engine(), expire_on_commit=False) as b:
        cid = _company(a)
        first, second = _jobs(a, cid, 2)
        a.execute(text("SELECT id FROM job WHERE id = :i FOR UPDATE"), {"i": first.id})  # held, uncommitted
        got = claim_next(b, cid)
        assert got is not None and got.id == second.id
        a.rollback()
        assert claim_next(b, cid).id == first.id


def test_naive_times_are_read_as_utc(session: Session) -> None:
    cid = _company(session)
    _jobs(session, cid, 1)
    naive = utcnow().replace(tzinfo=None)
    job = claim_next(session, cid, lease_seconds=5, now=naive)
    assert job.lease_until == (naive + timedelta(seconds=5)).replace(tzinfo=job.lease_until.tzinfo)
    assert [j.id for j in requeue_stuck(session, naive + timedelta(seconds=6))] == [job.id]


def test_run_job_claims_a_queued_job_itself_and_only_once(session: Session, monkeypatch) -> None:
    cid = _company(session)
    job = _jobs(session, cid, 1)[0]
    seen: list[tuple[str, int]] = []
    done = run_job(job.id, lambda j: seen.append((j.status, j.attempts)) or {"n": 1}, session, wait_seconds=0)
    assert seen == [("running", 1)] and done.status == "succeeded"
    second = _jobs(session, cid, 1, type="LOG_EVIDENCE")[0]
    real_take = queue._take

    def another_worker_first(s: Session, job_id: int, *args) -> bool:
        with Session(get_engine(), expire_on_commit=False) as other:  # claims it and commits first
            assert real_take(other, job_id, *args)
            other.commit()
        return real_take(s, job_id, *args)

    monkeypatch.setattr(queue, "_take", another_worker_first)
    lost = run_job(second.id, lambda j: seen.append(("again", 0)) or {}, session, wait_seconds=0)
    assert lost.status == "running" and lost.attempts == 1 and len(seen) == 1  # not run by the loser
