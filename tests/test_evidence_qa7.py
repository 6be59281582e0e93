"""QA pass 7 on evidence: a play run executed long before a run's windows but reverted inside them
confounds its evidence (its change held on the days before the revert and not after), named with
the revert's day; one reverted before the windows, or after the day judged, does not.

The store is tests/test_evidence_unseen.py's generated price_up store (prices +20 % on PLAY_DAY)."""

from __future__ import annotations

from datetime import date, timedelta

from chimera.db.engine import session_scope
from chimera.db.models import PlayRun
from chimera.demo.generator import GeneratedStore
from chimera.evidence import evidence_report, log_manual_play
from tests.test_evidence_unseen import PLAY_DAY, _client, _day, home, price_up  # noqa: F401 - fixtures


def _reverted(ctx, play: str, executed: date, on: date) -> str:  # type: ignore[no-untyped-def]
    """A run of ``play`` logged by hand on ``executed`` and reverted ``on``, judged on aov."""
    with session_scope() as s:
        run = log_manual_play(s, ctx, play, executed, kpis=["aov"])
        run.status = "reverted"
        run.rationale = {**run.rationale, "revert": {"on": on.isoformat(), "who": "alice", "why": "x",
                                                     "at": "2026-01-01T00:00:00+00:00", "was": "executed"}}
        s.add(run)
        return run.id


def _confounders(ctx, as_of: date) -> list[dict]:  # type: ignore[no-untyped-def]
    report = evidence_report(ctx, as_of, persist=False)
    return next(e for e in report["evidence"] if e["play"] == "pricing_test")["confounders"]


def test_a_run_reverted_inside_the_windows_confounds_the_evidence(price_up: GeneratedStore) -> None:  # noqa: F811
    """Was: only runs executed inside the windows were named; a bundle live for months and undone in
    the middle of the price test's after-window moved AOV there, unnamed, and the verdict credited
    the price test with it."""
    ctx = _client("undone", price_up)
    executed = _day(PLAY_DAY)
    with session_scope() as s:
        log_manual_play(s, ctx, "pricing_test", executed, kpis=["aov"])
    undone = executed + timedelta(days=5)
    bundle = _reverted(ctx, "bundle_offer", executed - timedelta(days=90), undone)
    _reverted(ctx, "free_shipping_threshold", executed - timedelta(days=90), executed - timedelta(days=40))
    assert _confounders(ctx, executed + timedelta(days=3)) == []  # a replay before the revert does not know it

    found = _confounders(ctx, executed + timedelta(days=35))
    assert [(c["kind"], c["what"], c["first_day"], c["last_day"]) for c in found] == \
        [("overlapping_play", "bundle_offer", str(undone), str(undone))]  # the shipping revert was before the windows
    assert found[0]["note"] == (f"play bundle_offer (run {bundle}) executed {executed - timedelta(days=90)} and "
                                f"reverted {undone}, inside the windows, also judged on aov")
    report = evidence_report(ctx, executed + timedelta(days=35), persist=False)
    [record] = [e for e in report["evidence"] if e["play"] == "pricing_test"]
    assert record["verdict"] == "confounded" and "bundle_offer" in record["reason"]
    with session_scope() as s:
        assert s.get_one(PlayRun, bundle).status == "reverted"
