"""Reverting a run whose targets a later run still in force changed again: its before values would
overwrite that run's change (QA of play scale: reverting the original price test re-priced the five
products its scale, still running, had priced again). Refused in one line naming the later run,
nothing recorded; reverted newest first, each run puts back what the one before it left."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chimera.changesets import Asset, Change, ChangeSet
from chimera.clients import ClientContext, add_client
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, Job, PlayRun
from chimera.errors import DecisionError
from chimera.plays.revert import revert_play_run

DAY = date(2026, 10, 1)


def _executed(ctx: ClientContext, prices: dict[str, tuple[str, str]], day: date, key: str) -> str:
    """An executed pricing_test run that applied ``sku -> (before, after)`` on ``day``."""
    rows = ["sku,price_before,price_after", *(f"{sku},{b},{a}" for sku, (b, a) in prices.items())]
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary=f"change {len(prices)} prices",
                   changes=[Change(target=f"product:{sku}", field="price", before=b, after=a)
                            for sku, (b, a) in prices.items()],
                   asset=Asset(filename="pricing_test-price-table.csv", content="\n".join(rows) + "\n"))
    with session_scope() as s:
        run = PlayRun(company_id=ctx.company_id, play_id="pricing_test", as_of=day, status="executed",
                      executed_on=day)
        s.add(run)
        s.flush()
        job = Job(company_id=ctx.company_id, play_run_id=run.id, correlation_id=run.correlation_id,
                  type="EXECUTE_PLAY_COMMERCE", owner="commerce_commander_ai", bot="shopify_bot",
                  action="update_prices", step=0, status="succeeded", idempotency_key=key)
        s.add(job)
        s.flush()
        s.add(AppliedChange(company_id=ctx.company_id, idempotency_key=key, job_id=job.id, bot="shopify_bot",
                            action="update_prices", changeset=cs.model_dump(mode="json"),
                            applied_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC)))
        return run.id


def _revert(ctx: ClientContext, run_id: str, on: date):
    with session_scope() as s:
        run = s.get(PlayRun, run_id)
        return revert_play_run(s, ctx, run, "alice", "stock ran out", on)


def test_a_change_a_later_run_made_again_is_left_to_a_person_until_that_run_is_reverted(chimera_home) -> None:
    ctx = add_client("shop")
    original = _executed(ctx, {"A": ("10.00", "11.00"), "B": ("20.00", "22.00")}, DAY, "k-original")
    scaled = _executed(ctx, {"A": ("11.00", "11.50"), "C": ("30.00", "31.50")}, DAY + timedelta(days=28), "k-scale")
    with pytest.raises(DecisionError) as refused:
        _revert(ctx, original, DAY + timedelta(days=30))
    said = str(refused.value)
    assert f"play run {scaled} (pricing_test, executed) changed product:A price again later" in said
    assert f"revert that run first (chimera play revert {scaled} --reason R), then this one" in said
    assert said.endswith("nothing was recorded") and "\n" not in said
    with session_scope() as s:
        assert s.get(PlayRun, original).status == "executed"
    later = _revert(ctx, scaled, DAY + timedelta(days=30))
    assert [c.after for r in later.reverted for c in r.changes] == ["11.00", "30.00"], "the scale's before values"
    first = _revert(ctx, original, DAY + timedelta(days=31))
    assert [c.after for r in first.reverted for c in r.changes] == ["10.00", "20.00"] and first.by_hand == []


def test_an_unrelated_later_run_does_not_block_a_revert(chimera_home) -> None:
    ctx = add_client("shop")
    original = _executed(ctx, {"A": ("10.00", "11.00")}, DAY, "k-original")
    _executed(ctx, {"B": ("20.00", "22.00")}, DAY + timedelta(days=3), "k-other")
    done = _revert(ctx, original, DAY + timedelta(days=5))
    assert [c.after for r in done.reverted for c in r.changes] == ["10.00"]
