"""QA pass 7 on plays and jobs: a cycle whose failed play step was resolved by a resume says so
(who, why, when) while still reading that it failed; an outbox asset whose record is rolled back
leaves no orphan file.

The story is the demo's pricing_test of tests/test_failed_run_followups.py, on SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from chimera.changesets import Asset, Change, ChangeSet, get_adapter, recorded
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, CycleRun, Job, PlayRun
from chimera.errors import DecisionError
from chimera.jobs.resolved import FAILED_JOBS, RESOLVED, Resolution
from tests.test_failed_run_followups import _failed_at, demo_sqlite  # noqa: F401 - fixture
from tests.test_job_step_failures import PRICE_DAY, PRICES, Demo, _steps
from tests.test_play_revert import _run


@pytest.fixture
def shop_id(chimera_home: Path) -> int:
    from chimera.clients import add_client

    return add_client("shop").company_id


def _cycle(run_id: str) -> CycleRun:
    """The cycle run as stored now (the session does not expire it on commit)."""
    with session_scope() as s:
        return s.get_one(CycleRun, run_id)


def test_a_cycle_whose_failed_step_was_resumed_and_succeeded_says_it_was_resolved(
        demo_sqlite: Demo, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Was: the cycle read ``failed`` for ever, its summary naming the failed step, with no word that
    a resume ran that step again and the play completed. And the run, which applied nothing before
    the resume, was dated its cycle's day: its after-window began days before the prices changed."""
    from chimera.plays.pause import pause, resume
    from graphs.service import resume_cycle

    put_back = _failed_at(demo_sqlite, monkeypatch, PRICES, "price API down")
    run_id = demo_sqlite.pending["pricing_test"]
    prices, _copy = _steps(run_id)
    failed = _cycle(demo_sqlite.cycle_run)
    history = [{"id": prices.id, "type": prices.type, "error": "RuntimeError: price API down"}]
    assert failed.status == "failed" and failed.summary[FAILED_JOBS] == history

    pause(run_id, "alice", "price API down", on=PRICE_DAY)  # still down: a resume that fails again resolves nothing
    resume_cycle(resume(run_id, "alice", "try again", on=PRICE_DAY).cycle_run_id)
    assert RESOLVED not in _cycle(demo_sqlite.cycle_run).summary

    put_back()
    back = PRICE_DAY + timedelta(days=4)
    pause(run_id, "alice", "still down", on=PRICE_DAY + timedelta(days=1))
    resume_cycle(resume(run_id, "bob", "API back", on=back).cycle_run_id)
    run = _run(run_id)
    assert (run.status, run.executed_on) == ("executed", back)  # applied on the resume's day, not the cycle's
    with session_scope() as s:
        evidence = s.exec(select(Job).where(Job.play_run_id == run_id, Job.type == "LOG_EVIDENCE")).one()
    delay = get_client("demo").configs.play("pricing_test").evidence.delay_days
    assert evidence.run_after == back + timedelta(days=delay)
    after = _cycle(demo_sqlite.cycle_run)
    assert after.status == "failed" and after.summary[FAILED_JOBS] == history  # the history stays honest
    resolved = Resolution.model_validate(after.summary[RESOLVED])
    [job] = resolved.jobs
    succeeded = _steps(run_id)[0].updated_at
    assert (job.id, job.error, job.by, job.why, job.play_run_id, job.play) == \
        (prices.id, "RuntimeError: price API down", "bob", "API back", run_id, "pricing_test")
    assert resolved.all and resolved.still_failed == [] and resolved.by == ["bob"]
    assert resolved.at == job.succeeded_at and job.succeeded_at.replace(tzinfo=None) == succeeded.replace(tzinfo=None)
    assert resolved.text.startswith(f"failed, then resolved: job {prices.id} {prices.type} (RuntimeError: price API "
                                    f"down) succeeded ")
    assert resolved.text.endswith(f" after bob resumed play run {run_id} (pricing_test): API back")


# --------------------------------------------------------------------------- the outbox: no orphan asset


def _price_table(filename: str = "p-price-table.csv") -> ChangeSet:
    return ChangeSet(bot="shopify_bot", action="update_prices", summary="s",
                     changes=[Change(target="product:A-1", field="price", before="10.00", after="11.00")],
                     asset=Asset(filename=filename, content="sku,price_before,price_after\nA-1,10.00,11.00\n"))


def _outbox(client: str) -> list[str]:
    from chimera import settings

    folder = settings.outbox_dir(client)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_asset_whose_record_is_rolled_back_leaves_no_outbox_file(shop_id: int) -> None:
    """Was: the price table stayed in the outbox after the step's transaction failed, named by no
    record: a person would upload prices that no play applied, and nothing could revert them."""
    adapter = get_adapter()
    with pytest.raises(RuntimeError), session_scope() as s:
        written = adapter.apply(s, shop_id, "shop", "k:1", _price_table(), None)
        assert Path(written.asset_path).exists()  # written before the commit: a failed write drops the record
        raise RuntimeError("the step's save failed")
    assert _outbox("shop") == []
    with session_scope() as s:
        assert recorded(s, "k:1") is None

    with session_scope() as s:  # the same key again, committed: the asset stays
        kept = adapter.apply(s, shop_id, "shop", "k:1", _price_table(), None)
    assert _outbox("shop") == [Path(kept.asset_path).name]
    with pytest.raises(RuntimeError), session_scope() as s:  # a rolled-back re-run leaves the committed asset
        again = adapter.apply(s, shop_id, "shop", "k:1", _price_table(), None)
        other = adapter.apply(s, shop_id, "shop", "k:2", _price_table("other.csv"), None)
        assert not again.applied and other.applied
        raise RuntimeError("the commit failed")
    assert _outbox("shop") == [Path(kept.asset_path).name]



# --------------------------------------------------------------------------- two bundles, one revert


DAY = date(2026, 6, 1)


def _applied_run(ctx: ClientContext, play_id: str, cs: ChangeSet, day: date, key: str) -> str:
    """An executed run of ``play_id`` whose one step applied ``cs`` on ``day`` (at noon UTC)."""
    with session_scope() as s:
        run = PlayRun(company_id=ctx.company_id, play_id=play_id, as_of=day, status="executed", executed_on=day)
        s.add(run)
        s.flush()
        job = Job(company_id=ctx.company_id, play_run_id=run.id, correlation_id=run.correlation_id,
                  type="EXECUTE_PLAY_COMMERCE", owner="commerce_commander_ai", bot=cs.bot, action=cs.action,
                  status="succeeded", idempotency_key=key)
        s.add(job)
        s.flush()
        s.add(AppliedChange(company_id=ctx.company_id, idempotency_key=key, job_id=job.id, bot=cs.bot,
                            action=cs.action, changeset=cs.model_dump(mode="json"),
                            applied_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC)))
        return run.id


def _bundle(tmp_path: Path, pair: tuple[str, str]) -> ChangeSet:
    """create_bundle's ChangeSet on an export where ``pair`` is bought together most."""
    from tests.test_bots_unseen_qa5 import _run as run_bot
    from tests.test_bots_unseen_qa5 import _shop

    a, b = pair
    folder = tmp_path / "-".join(pair)
    folder.mkdir(exist_ok=True)
    shop = _shop(folder, [(f"#{i}", [(a, 1, "10.00", f"Item {a}"), (b, 1, "20.00", f"Item {b}")]) for i in range(3)])
    return run_bot(shop, "shopify_bot", "create_bundle", {"products": "top_co_purchased_pairs_90d"}, "bundle_offer")


def test_a_later_bundle_of_other_products_does_not_block_the_revert_of_an_earlier_one(
        chimera_home: Path, tmp_path: Path) -> None:
    """Was: every bundle's change named ``bundle:new``, so a second bundle_offer run (other products)
    read as changing the first run's bundle again: reverting the first was refused until the second
    was reverted, though it never touched that bundle."""
    from chimera.clients import add_client
    from tests.test_play_revert_overlap import _revert

    ctx = add_client("shop")
    first, second, again = _bundle(tmp_path, ("A", "B")), _bundle(tmp_path, ("C", "D")), _bundle(tmp_path, ("A", "B"))
    assert [c.target for c in first.changes] == ["bundle:product:A+product:B"]
    assert [c.target for c in second.changes] == ["bundle:product:C+product:D"]
    earlier = _applied_run(ctx, "bundle_offer", first, DAY, "k-1")
    _applied_run(ctx, "bundle_offer", second, DAY + timedelta(days=30), "k-2")
    undone = _revert(ctx, earlier, DAY + timedelta(days=31))
    assert [r.changes[0].target for r in undone.reverted] == ["bundle:product:A+product:B"]

    same = _applied_run(ctx, "bundle_offer", first, DAY + timedelta(days=40), "k-3")
    _applied_run(ctx, "bundle_offer", again, DAY + timedelta(days=70), "k-4")
    with pytest.raises(DecisionError, match="changed bundle:product:A\\+product:B price again later"):
        _revert(ctx, same, DAY + timedelta(days=71))  # the same items bundled again: the same bundle


# --------------------------------------------------------------------------- the day a resumed run applied


def _resumed_run(company_id: int, applied_at: datetime, resumed_at: datetime) -> str:
    """A run of a cycle of DAY, resumed on DAY + 6 at ``resumed_at`` (after a pause on DAY + 1),
    whose step 1 applied its change at ``applied_at`` and whose step 2 is running."""
    def rec(on: date, at: datetime) -> dict[str, str]:
        return {"on": on.isoformat(), "who": "bob", "why": "API back", "at": at.isoformat()}

    with session_scope() as s:
        cycle = CycleRun(company_id=company_id, as_of=DAY, status="completed")
        s.add(cycle)
        s.flush()
        run = PlayRun(company_id=company_id, play_id="pricing_test", as_of=DAY, status="executing", run_id=cycle.id,
                      rationale={"pause_history": [{"pause": rec(DAY + timedelta(days=1), resumed_at),
                                                    "resume": rec(DAY + timedelta(days=6), resumed_at)}]})
        s.add(run)
        s.flush()
        for step, status in enumerate(("succeeded", "running")):
            s.add(Job(company_id=company_id, play_run_id=run.id, run_id=cycle.id, type="EXECUTE_PLAY_COMMERCE",
                      owner="o", bot="bot", action=f"a{step}", step=step, status=status,
                      idempotency_key=f"{run.id}:{step}"))
        s.flush()
        first = s.exec(select(Job).where(Job.play_run_id == run.id, Job.step == 0)).one()
        s.add(AppliedChange(company_id=company_id, idempotency_key=f"k{run.id}", job_id=first.id, bot="bot",
                            action="a0", applied_at=applied_at))
        return run.id


@pytest.mark.parametrize(("applied_after_resume", "days"), [(True, 6), (False, 0)])
def test_a_failed_run_is_dated_the_day_its_first_change_took_effect(shop_id: int, applied_after_resume: bool,
                                                                     days: int) -> None:
    """Was: always its cycle's day; a step applied at a resume a week on was measured from the cycle's
    day, a week before it changed anything. A change applied before the pause keeps the cycle's day."""
    from chimera.jobs.queue import fail

    resumed_at = datetime(2026, 6, 7, 9, tzinfo=UTC)
    applied_at = resumed_at + timedelta(minutes=1 if applied_after_resume else -60 * 24 * 5)
    run_id = _resumed_run(shop_id, applied_at, resumed_at)
    with session_scope() as s:
        fail(s.exec(select(Job).where(Job.play_run_id == run_id, Job.step == 1)).one(), "copy down", s, permanent=True)
    run = _run(run_id)
    assert (run.status, run.executed_on) == ("failed", DAY + timedelta(days=days))


@pytest.mark.parametrize(("applied_after_resume", "days"), [(True, 6), (False, 0)])
def test_a_run_paused_after_its_first_step_applied_is_measured_while_paused(
        shop_id: int, applied_after_resume: bool, days: int) -> None:
    """Was: a run paused with its first step applied (a cycle that stopped between two steps) had no
    execution day: the change stood, and no evidence measured it until someone resumed the run."""
    from chimera.clients import get_client
    from chimera.plays.pause import pause_play_run

    resumed_at = datetime(2026, 6, 7, 9, tzinfo=UTC)
    applied_at = resumed_at + timedelta(minutes=1 if applied_after_resume else -60 * 24 * 5)
    run_id = _resumed_run(shop_id, applied_at, resumed_at)
    with session_scope() as s:
        paused = pause_play_run(s, get_client("shop"), s.get_one(PlayRun, run_id), "carol", "margin",
                                on=DAY + timedelta(days=7))
    run = _run(run_id)
    assert (paused.status, paused.kept) == ("paused", 1)
    assert (run.status, run.executed_on) == ("paused", DAY + timedelta(days=days))
