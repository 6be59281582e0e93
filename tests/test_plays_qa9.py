"""QA 9 of plays: overlapping plays on one KPI, revert after a later change, scale/pause who and why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chimera.changesets import Change, ChangeSet
from chimera.clients import add_client
from chimera.config.models import PlayPolicy
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange, Job, PlayRun
from chimera.plays import SuggestState, suggest_plays
from chimera.plays.revert import revert_play_run
from tests.cycle_fixtures import AS_OF, shop  # noqa: F401 - fixture
from tests.test_play_scale import LAST_DAY, home, story  # noqa: F401 - fixtures
from tests.test_rank import WARN, kpis, make_configs


def _plays(*evidence: list[str]) -> list[dict]:
    return [{"id": f"p{i}", "trigger": WARN, "impact": 5 - i, "effort": 1, "evidence": {"kpis": kpis_}}
            for i, kpis_ in enumerate(evidence)]


def test_two_plays_judged_on_one_kpi_in_one_cycle_say_their_evidence_cannot_be_told_apart() -> None:
    cs = make_configs(_plays(["aov", "conversion_rate"], ["sessions"], ["aov"]), PlayPolicy(max_active_plays=3))
    result = suggest_plays(cs, kpis(), None)
    by_id = {p.play_id: p for p in result}
    assert [p.play_id for p in result] == ["p0", "p1", "p2"]
    assert by_id["p0"].overlaps == [] and by_id["p1"].overlaps == []  # p1 shares no KPI with p0
    [note] = by_id["p2"].overlaps
    assert "judged on aov like p0 (rank 1)" in note and "both confounded" in note
    assert by_id["p2"].why_rank.endswith(note), "shown wherever the rank's explanation is"


def test_a_play_judged_on_the_kpi_of_a_run_still_under_way_says_so() -> None:
    cs = make_configs(_plays(["aov"], ["conversion_rate"]), PlayPolicy(max_active_plays=3))
    state = SuggestState(active=1, active_plays=["p0"], active_kpis={"p0": ["aov"]})
    result = suggest_plays(cs, kpis(), None, state)
    assert [p.play_id for p in result] == ["p1"]
    assert result[0].overlaps == [], "the run under way is judged on aov only"
    logged = SuggestState(active=1, active_plays=["p0"], active_kpis={"p0": ["conversion_rate"]})
    [note] = suggest_plays(cs, kpis(), None, logged)[0].overlaps
    assert "judged on conversion_rate like p0, still under way" in note
    from_yaml = SuggestState(active=1, active_plays=["p0"])  # no KPIs logged with the run: plays.yml's
    assert suggest_plays(cs, kpis(), None, from_yaml)[0].overlaps == []


# --------------------------------------------------------------------------- revert


def _run_with_steps(ctx, day: date, steps: list[tuple[str, str, str]]) -> str:
    """An executed run whose step i applied ``product:<sku> price before -> after`` (``steps[i]``)."""
    with session_scope() as s:
        run = PlayRun(company_id=ctx.company_id, play_id="pricing_test", as_of=day, status="executed",
                      executed_on=day)
        s.add(run)
        s.flush()
        for i, (sku, before, after) in enumerate(steps):
            cs = ChangeSet(bot="shopify_bot", action="update_prices", summary=f"{sku} {before} -> {after}",
                           changes=[Change(target=f"product:{sku}", field="price", before=before, after=after)])
            job = Job(company_id=ctx.company_id, play_run_id=run.id, correlation_id=run.correlation_id,
                      type="EXECUTE_PLAY_COMMERCE", owner="commerce_commander_ai", bot="shopify_bot",
                      action="update_prices", step=i, status="succeeded", idempotency_key=f"k{i}")
            s.add(job)
            s.flush()
            s.add(AppliedChange(company_id=ctx.company_id, idempotency_key=f"k{i}", job_id=job.id,
                                bot="shopify_bot", action="update_prices", changeset=cs.model_dump(mode="json"),
                                applied_at=datetime(day.year, day.month, day.day, 12, i, tzinfo=UTC)))
        return run.id


def test_a_run_that_changed_one_price_twice_is_undone_newest_first(chimera_home) -> None:
    """Was: undone in plan order, so the last undo set the price to the middle value (11.00), not
    the value before the play (10.00); a person following the undo sheets in order ended there."""
    ctx = add_client("shop")
    day = date(2026, 10, 1)
    run_id = _run_with_steps(ctx, day, [("A", "10.00", "11.00"), ("B", "5.00", "6.00"), ("A", "11.00", "12.00")])
    with session_scope() as s:
        done = revert_play_run(s, ctx, s.get(PlayRun, run_id), "alice", "margin fell", day + timedelta(days=3))
    sets = [(c.target, c.before, c.after) for r in done.reverted for c in r.changes]
    assert sets == [("product:A", "12.00", "11.00"), ("product:B", "6.00", "5.00"), ("product:A", "11.00", "10.00")]
    assert [r.reverts for r in done.reverted] == ["k2", "k1", "k0"]


# --------------------------------------------------------------------------- prices in force


def _bot(client, prices: dict, action: str = "update_prices", params: dict | None = None):
    from agents.bots import BotContext

    return BotContext(client=client, bot="shopify_bot", action=action, play_id="pricing_test", play_label="P",
                      params=params or {"products": "top_sellers_by_units_90d", "count": 2, "change_pct": 10,
                                        "max_change_pct": 10}, as_of=AS_OF, prices=prices)


def test_a_price_an_earlier_play_set_after_the_export_is_the_before_of_the_next_change(shop: str) -> None:  # noqa: F811 - the fixture
    """Was: a scale of a price test (or a bundle beside it) priced from the export's last order, so
    its before was the price the original had already changed, and its undo silently put back the
    price from before both plays."""
    from agents.bots import run_action
    from chimera.changesets import InForce
    from chimera.clients import get_client

    client = get_client(shop)
    plain = run_action(_bot(client, {}))
    first, second = plain.changes[:2]
    later = datetime.combine(AS_OF + timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    raised = InForce(value=first.after, at=later)
    priced = run_action(_bot(client, {first.target: raised}))
    got = {c.target: (c.before, c.after) for c in priced.changes}
    assert got[first.target][0] == first.after, "the before is the price in force, the original's after"
    assert got[second.target] == (second.before, second.after), "an untouched product keeps its export price"
    assert "prices as an earlier play set them" in priced.summary
    stale = InForce(value=first.after, at=datetime(2000, 1, 1, tzinfo=UTC))  # an export order came after it
    assert run_action(_bot(client, {first.target: stale})).changes[0].before == first.before
    bundle = run_action(_bot(client, {}, "create_bundle", {"products": "top_co_purchased_pairs_90d",
                                                          "discount_pct": 10}))
    assert bundle.changes[0].after is not None


def test_a_revert_after_a_price_change_run_by_hand_says_to_check_it_first(chimera_home) -> None:
    """Was: reverted silently: the undo sheet set back prices a person had since changed by hand
    (a pricing_test logged with chimera play log), with nothing saying so."""
    from chimera.clients import get_client
    from chimera.evidence.record import log_manual_play

    add_client("shop")
    ctx = get_client("shop")
    day = date(2026, 10, 1)
    run_id = _run_with_steps(ctx, day, [("A", "10.00", "11.00")])
    with session_scope() as s:
        by_hand = log_manual_play(s, ctx, "pricing_test", day + timedelta(days=2), note="raised A again", who="dan")
        log_manual_play(s, ctx, "winback_email", day + timedelta(days=2), note="emails")  # touches no price
        hand_id = by_hand.id
    with session_scope() as s:
        done = revert_play_run(s, ctx, s.get(PlayRun, run_id), "alice", "margin fell", day + timedelta(days=3))
    [check] = done.by_hand
    assert f"pricing_test (play run {hand_id}, run by hand on {day + timedelta(days=2)})" in check.summary
    assert "shopify_bot.update_prices" in check.why and "not recorded" in check.why
    assert [c.after for r in done.reverted for c in r.changes] == ["10.00"], "the undo itself still happens"


# --------------------------------------------------------------------------- scale


def test_a_scaled_run_says_which_runs_under_way_share_its_kpis(home) -> None:  # noqa: F811 - the fixture
    """A scale is suggested beside the cycle's own suggestions: one judged on its KPIs makes both
    records confounded, as for any two plays (was: said for cycle suggestions only)."""
    import json

    from tests.test_decisions_cli import chimera

    assert chimera("reject", home.pending["discount_hygiene"], "--reason", "not now", "--who", "bob").code == 0
    result = chimera("play", "scale", home.worked, "--reason", "aov up", "--who", "bob", "--on", str(LAST_DAY),
                     "--json")
    assert result.code == 0, result.stderr[-2000:]
    with session_scope() as s:
        new = s.get(PlayRun, json.loads(result.stdout)["play_run_id"])
        mine = set(new.explanation["evidence_kpis"])
        runs = {p: s.get(PlayRun, rid) for p, rid in home.pending.items()}
        sharing = sorted(p for p, r in runs.items()
                         if r.status == "suggested" and mine & set(r.explanation["evidence_kpis"]))
        overlaps = new.explanation["overlaps"]
    assert sharing, "the story's cycle suggests a play judged on aov or net_revenue beside the scale"
    assert [o.split(" like ")[1].split(",")[0] for o in overlaps] == sharing
    assert all(o in new.explanation["why_rank"] for o in overlaps)


def test_a_run_logged_by_hand_after_the_revert_is_not_named_when_it_is_asked_again(chimera_home) -> None:
    from chimera.clients import get_client
    from chimera.evidence.record import log_manual_play

    add_client("shop")
    ctx = get_client("shop")
    day = date(2026, 10, 1)
    run_id = _run_with_steps(ctx, day, [("A", "10.00", "11.00")])
    with session_scope() as s:
        assert revert_play_run(s, ctx, s.get(PlayRun, run_id), "alice", "margin", day + timedelta(days=3)).by_hand == []
        log_manual_play(s, ctx, "pricing_test", day + timedelta(days=5), note="after the revert")
    with session_scope() as s:
        again = revert_play_run(s, ctx, s.get(PlayRun, run_id), "alice", "margin", day + timedelta(days=3))
    assert again.already_reverted and again.by_hand == []
