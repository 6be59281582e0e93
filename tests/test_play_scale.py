"""``chimera play scale``: a play whose evidence says it worked is suggested again, larger (manual §4.7).

One client from the project's own generator with a 30 % price rise on 2026-04-20: pricing_test
approved and executed in the cycle of that day (the others rejected), so its evidence in the cycle
of 2026-05-24 says AOV and revenue moved up (weekly review: continue). That second cycle awaits
decisions on three suggestions (the cap of active plays). The tests run in file order on that one
client, as tests/test_play_pause.py does; the Postgres test runs the same story on its own schema."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import Decision, EvidenceRecord, Job, PlayRun
from tests.test_decisions_cli import _in_home, chimera
from tests.test_play_revert import _refused, _run

START = date(2026, 1, 5)
PRICE_DAY = START + timedelta(days=105)  # 2026-04-20
LAST_DAY = START + timedelta(days=139)  # 2026-05-24


@dataclass
class Story:
    home: Path
    worked: str
    """pricing_test's run: executed on PRICE_DAY, its evidence says continue."""
    pending: dict[str, str]
    """play id -> run id of the second cycle's suggestions."""
    cycle_run: str


def price_test_client(exports: Path, days: int) -> None:
    """Client "shop" on a generated store of ``days`` days from START whose prices rise 30 % on day
    105 (its own exports folder: "generated" is another fixture's store, other events)."""
    from chimera.clients import add_client
    from chimera.demo.generator import DemoEvents, PriceTest, generate_store

    if not exports.exists():
        generate_store(exports, start=START, days=days, seed=4242,
                       events=DemoEvents(price_test=PriceTest(day=105, factor=Decimal("1.30"))))
    ctx = add_client("shop")
    shutil.copytree(exports, ctx.folder / "exports")
    (ctx.folder / "client.yml").write_text(
        "name: shop\nsources:\n  - {kind: shopify_orders, path: exports/orders_export.csv}\n"
        "  - {kind: stripe_payments, path: exports/stripe_payments.csv}\n"
        "  - {kind: analytics_daily, path: exports/analytics_daily.csv}\n", encoding="utf-8")


def _tell_story(root: Path) -> Story:
    """The client, its exports and both cycles (CHIMERA_HOME and the database are set by the caller)."""
    from graphs.service import decide, run_cycle

    price_test_client(root / "scale-story-exports", days=140)
    first = {p.play_id: p.play_run_id for p in run_cycle("shop", as_of=PRICE_DAY).pending}
    for play, run_id in first.items():
        decide(run_id, "approve" if play == "pricing_test" else "reject", who="alice", why="first cycle")
    second = run_cycle("shop", as_of=LAST_DAY)
    return Story(Path(), first["pricing_test"], {p.play_id: p.play_run_id for p in second.pending}, second.run_id)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("scale-home")
        _in_home(home, mp)
        told = _tell_story(tmp_path_factory.getbasetemp())
        told.home = home
        yield told
        dispose_all()


@pytest.fixture
def home(story: Story, monkeypatch: pytest.MonkeyPatch) -> Story:
    _in_home(story.home, monkeypatch)
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    return story


def _runs_of(play: str) -> list[PlayRun]:
    with session_scope() as s:
        rows = s.exec(select(PlayRun).where(PlayRun.play_id == play).order_by(PlayRun.created_at)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def _made_run(company: int, status: str, verdicts: dict[str, str] | None = None) -> str:
    """A hand-made bundle_offer run (a failed run; an executed one with these verdicts)."""
    with session_scope() as s:
        run = PlayRun(company_id=company, play_id="bundle_offer", as_of=PRICE_DAY, status=status,
                      executed_on=PRICE_DAY if status == "executed" else None)
        s.add(run)
        s.flush()
        for kpi, verdict in (verdicts or {}).items():
            s.add(EvidenceRecord(company_id=company, play_run_id=run.id, play_id=run.play_id, kpi=kpi,
                                 correlation_id=run.correlation_id, executed_on=PRICE_DAY, verdict=verdict))
        return run.id


# --- refusals first: one line, exit 1, nothing recorded ---------------------------------------------------


def test_the_story_has_a_play_that_worked(home: Story) -> None:
    from chimera.clients import get_client
    from chimera.plays.scale import evidence_review

    with session_scope() as s:
        run = s.get(PlayRun, home.worked)
        assert run is not None and run.status == "executed" and run.executed_on == PRICE_DAY
        review = evidence_review(s, get_client("shop"), run)
    assert review is not None and review.recommendation == "continue", review
    assert review.option == f"chimera play scale {home.worked} --reason R"
    assert len(home.pending) == 3  # the cap of active plays is full


def test_the_html_reports_review_offers_the_scale(home: Story) -> None:
    from chimera.clients import get_client
    from chimera.report.html import render_report

    html = render_report(get_client("shop"))
    review = html[html.index('<section id="review">'):]
    assert f"or scale it: <code>chimera play scale {home.worked} --reason R</code>" in review


def test_refusals_are_one_line_and_record_nothing(home: Story) -> None:
    worked, suggested = home.worked, home.pending["winback_email"]
    before = len(_runs_of("pricing_test"))
    cases = {
        "--reason is required: say why the play is scaled": ("play", "scale", worked),
        "unknown play run 'nope'": ("play", "scale", "nope", "--reason", "r"),
        f"play run {suggested} (winback_email) is suggested, not executed: only a play that ran and worked can be "
        f"scaled: it awaits a decision: approve it, or override it with larger params (chimera override {suggested}":
            ("play", "scale", suggested, "--reason", "r"),
        "--set 1.change_pct=15: pricing_test step 1 shopify_bot.update_prices caps change_pct at max_change_pct 10: "
        "15 is beyond the cap; a scale stays within it (raise the cap in plays.yml, logged with chimera config log); "
        "nothing was recorded": ("play", "scale", worked, "--reason", "r", "--set", "1.change_pct=15"),
        "--set update_prices.cont=8: pricing_test step 1 shopify_bot.update_prices has no numeric param 'cont' "
        "(did you mean 'count'?); it has count, change_pct":
            ("play", "scale", worked, "--reason", "r", "--set", "update_prices.cont=8"),
        "--set update_prices.count=7.5: pricing_test step 1 shopify_bot.update_prices count must be a whole number":
            ("play", "scale", worked, "--reason", "r", "--set", "update_prices.count=7.5"),
        "--set price.count=8: pricing_test has no step 'price'; its steps: 1 shopify_bot.update_prices, "
        "2 copy_bot.draft_product_descriptions": ("play", "scale", worked, "--reason", "r", "--set", "price.count=8"),
        "--set 'count': expected STEP.PARAM=VALUE": ("play", "scale", worked, "--reason", "r", "--set", "count"),
        "3 plays are active and plays.yml policy.max_active_plays is 3: winback_email (play run":
            ("play", "scale", worked, "--reason", "r"),
    }
    for expected, args in cases.items():
        line = _refused(chimera(*args))
        assert expected in line, (args, line)
    assert len(_runs_of("pricing_test")) == before and _run(worked).status == "executed"
    assert all("scale" not in (r.rationale or {}) for r in _runs_of("pricing_test"))


def test_a_failed_run_or_one_whose_evidence_says_otherwise_is_refused(chimera_home: Path) -> None:
    """Hand-made runs of a client of their own (an unjudged run counts against the story's cap)."""
    from chimera.clients import add_client

    company = add_client("shop").company_id
    failed, flat, unjudged = _made_run(company, "failed"), \
        _made_run(company, "executed", {"aov": "no_detectable_change"}), _made_run(company, "executed")
    cases = {
        f"play run {failed} (bundle_offer) is failed, not executed: only a play that ran and worked can be scaled: "
        f"a step failed (see chimera jobs --client shop): pause and resume it to run the step again "
        f"(chimera play pause {failed} --reason R, then chimera play resume {failed} --reason R)":
            ("play", "scale", failed, "--reason", "r"),
        f"play run {flat} (bundle_offer): its evidence does not say it worked: the weekly review says stop (pause) "
        f"(rule 4: no detectable change on any evidence KPI: stop and pause (keep what is done)): "
        f"aov no_detectable_change (flat); instead: chimera play pause {flat} --reason R; nothing was recorded":
            ("play", "scale", flat, "--reason", "r"),
        f"play run {unjudged} (bundle_offer) has no evidence judged yet: scale it once its evidence says it worked "
        "(chimera evidence --client shop)": ("play", "scale", unjudged, "--reason", "r"),
    }
    for expected, args in cases.items():
        line = _refused(chimera(*args))
        assert expected in line, (args, line)
    with session_scope() as s:
        assert len(s.exec(select(PlayRun)).all()) == 3


# --- the scale ------------------------------------------------------------------------------------------


def test_scaling_suggests_a_linked_run_with_larger_params_held_at_the_cap(home: Story) -> None:
    assert chimera("reject", home.pending["discount_hygiene"], "--reason", "not now", "--who", "bob").code == 0
    result = chimera("play", "scale", home.worked, "--reason", "aov up 27 %", "--who", "bob", "--on",
                     str(LAST_DAY), "--json")
    assert result.code == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    new = doc["play_run_id"]
    assert (doc["client"], doc["play"], doc["scaled_from"], doc["status"], doc["cycle_run_id"]) == \
        ("shop", "pricing_test", home.worked, "suggested", home.cycle_run)
    assert (doc["on"], doc["who"], doc["why"], doc["factor"], doc["already_scaled"]) == \
        (str(LAST_DAY), "bob", "aov up 27 %", 1.5, False)
    assert [(c["step"], c["name"], c["param"], c["before"], c["after"], c["how"]) for c in doc["changes"]] == [
        (1, "shopify_bot.update_prices", "count", 5, 8, "x1.5"),  # 7.5, half up
        (1, "shopify_bot.update_prices", "change_pct", 10, 10, "at its cap max_change_pct 10"),
    ]
    assert [e.split(" (")[0] for e in doc["evidence"]] == ["aov moved_up", "net_revenue moved_up"]
    assert doc["explanation"].startswith(f"scaled from play run {home.worked} (executed {PRICE_DAY}) on {LAST_DAY} "
                                         "by bob because aov up 27 %: step 1 shopify_bot.update_prices count 5 -> 8")
    assert doc["next_step"] == f"chimera approve {new}"

    # the new run: a suggestion of the live cycle, linked, explained, undecided and not planned
    run = _run(new)
    assert (run.status, run.run_id, run.as_of, run.play_id, run.source) == \
        ("suggested", home.cycle_run, LAST_DAY, "pricing_test", "cycle")
    record = run.rationale["scale"]
    assert (record["from"], record["who"], record["why"], record["on"]) == \
        (home.worked, "bob", "aov up 27 %", str(LAST_DAY))
    assert record["params"][0]["count"] == 8 and record["params"][1] == {
        "products": "top_sellers_by_units_90d", "tone": "value_first", "max_words": 180}
    assert run.explanation["scaled_from"] == home.worked and run.explanation["reason"] == doc["explanation"]
    assert run.rationale["summary"] == doc["explanation"] and run.explanation["auto_approvable"] is False
    with session_scope() as s:
        assert s.exec(select(Decision).where(Decision.play_run_id == new)).first() is None
        assert s.exec(select(Job).where(Job.play_run_id == new)).all() == []
    assert _run(home.worked).status == "executed"  # the original is left as it was

    # it waits with the cycle's other suggestions; the text output says what changed and what next
    from graphs.service import pending_decisions
    assert new in [p.play_run_id for p in pending_decisions("shop")]


def test_the_same_scale_again_returns_its_run_and_other_params_are_refused(home: Story) -> None:
    [scaled] = [r for r in _runs_of("pricing_test") if "scale" in (r.rationale or {})]
    again = chimera("play", "scale", home.worked, "--reason", "again", "--who", "carol")
    assert again.code == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert (f"play run {home.worked} (pricing_test) was already scaled on {LAST_DAY} by bob (aov up 27 %): "
            f"play run {scaled.id} (suggested); nothing suggested twice") in said
    assert "step 1 shopify_bot.update_prices count: 5 -> 8 (x1.5)" in said
    assert f"nothing runs until a person decides it: chimera approve {scaled.id}" in said
    doc = json.loads(chimera("play", "scale", home.worked, "--reason", "x", "--json").stdout)
    assert doc["already_scaled"] is True and doc["play_run_id"] == scaled.id and doc["who"] == "bob"
    line = _refused(chimera("play", "scale", home.worked, "--reason", "x", "--set", "update_prices.count=6"))
    assert f"was already scaled by bob on {LAST_DAY}: play run {scaled.id} (suggested)" in line
    assert f"it awaits a decision: reject it (chimera reject {scaled.id} --reason R)" in line
    assert len(_runs_of("pricing_test")) == 2 and _run(scaled.id).rationale == scaled.rationale


def test_approving_the_scaled_run_runs_its_larger_params(home: Story) -> None:
    [scaled] = [r for r in _runs_of("pricing_test") if "scale" in (r.rationale or {})]
    result = chimera("approve", scaled.id, "--who", "carol", "--reason", "go bigger")
    assert result.code == 0, result.stderr[-2000:]
    with session_scope() as s:
        decision = s.exec(select(Decision).where(Decision.play_run_id == scaled.id)).one()
        assert (decision.kind, decision.who, decision.why) == ("approve", "carol", "go bigger")
        steps = s.exec(select(Job).where(Job.play_run_id == scaled.id, Job.type == "EXECUTE_PLAY_COMMERCE")
                       .order_by(Job.step)).all()
        assert [(j.status, j.params.get("count"), j.params.get("change_pct")) for j in steps] == \
            [("succeeded", 8, 10), ("succeeded", None, None)]
        assert "change the price of 8 products by 10%" in steps[0].result["changeset"]["summary"]
        assert steps[0].params["description"].endswith("(scaled: count 5 -> 8)")  # not just "the five best sellers"
        assert "scaled" not in steps[1].params.get("description", "")
    assert _run(scaled.id).status == "executed"


# --- stopped runs are not scaled ---------------------------------------------------------------------------


def test_a_paused_or_reverted_run_is_refused_saying_what_to_do_instead(home: Story) -> None:
    run_id = home.worked
    assert chimera("play", "pause", run_id, "--reason", "stock is low", "--who", "dana", "--on",
                   str(LAST_DAY)).code == 0
    line = _refused(chimera("play", "scale", run_id, "--reason", "r"))
    assert f"play run {run_id} (pricing_test) is paused, not executed" in line
    assert f"paused by dana on {LAST_DAY}" in line and f"(play run {run_id}): stock is low: resume it first " \
        f"(chimera play resume {run_id} --reason R)" in line
    assert chimera("play", "resume", run_id, "--reason", "stock is back", "--on", str(LAST_DAY)).code == 0
    revert = ("play", "revert", run_id, "--reason", "margin", "--who", "erin", "--on", str(LAST_DAY))
    [scaled] = [r for r in _runs_of("pricing_test") if "scale" in (r.rationale or {})]
    line = _refused(chimera(*revert))  # its scale, executed since, re-priced the same products
    assert f"revert that run first (chimera play revert {scaled.id} --reason R), then this one" in line
    assert chimera("play", "revert", scaled.id, "--reason", "margin", "--who", "erin", "--on", str(LAST_DAY)).code == 0
    assert chimera(*revert).code == 0
    line = _refused(chimera("play", "scale", run_id, "--reason", "r"))
    assert "is reverted, not executed" in line and f"reverted by erin on {LAST_DAY}" in line
    assert "its changes were undone, so there is nothing that worked to scale" in line
    assert len(_runs_of("pricing_test")) == 2


# --- the weekly review offers it ---------------------------------------------------------------------------


def test_the_weekly_review_offers_scale_beside_continue_only() -> None:
    from chimera.plays.weekly_review import review_line, review_plays

    def entry(run: str, verdict: str) -> dict[str, object]:
        return {"play_run_id": run, "play": "p", "kpi": "aov", "verdict": verdict, "executed_on": "2026-10-18"}

    reviews = {r.play_run_id: r for r in review_plays(
        [entry("a", "moved_up"), entry("b", "moved_up"), entry("c", "no_detectable_change")],
        {"aov": "higher_is_better"}, {"a": "executed", "b": "paused", "c": "executed"})}
    assert {k: r.option for k, r in reviews.items()} == {"a": "chimera play scale a --reason R", "b": "", "c": ""}
    assert reviews["a"].advice == "continue" and reviews["a"].next_step == ""
    assert review_line(reviews["a"]).endswith("; or scale it: chimera play scale a --reason R")
    assert "scale" not in review_line(reviews["b"]) and "scale" not in review_line(reviews["c"])


def test_the_rule_grows_whole_and_decimal_params_and_holds_them_at_the_cap() -> None:
    from chimera.plays.scale import grown, parse_set

    assert grown(5, 1.5, "count", None) == (8, "x1.5")
    assert grown(1, 1.5, "count", None) == (2, "x1.5")
    assert grown(12.5, 1.5, "change_pct", None) == (18.75, "x1.5")
    assert grown(-8, 1.5, "change_pct", Decimal(10)) == (-10, "x1.5, held at its cap max_change_pct 10")
    assert grown(10, 1.5, "change_pct", Decimal(10)) == (10, "at its cap max_change_pct 10")
    assert parse_set("shopify_bot.update_prices.count=8").model_dump() == \
        {"text": "shopify_bot.update_prices.count=8", "step": "shopify_bot.update_prices", "param": "count", "value": 8}


# --- Postgres -------------------------------------------------------------------------------------------------


def test_scale_on_postgres(pg_url: str, tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    told = _tell_story(tmp_path_factory.getbasetemp())
    assert chimera("reject", told.pending["discount_hygiene"], "--reason", "not now").code == 0
    first = chimera("play", "scale", told.worked, "--reason", "it worked", "--set", "update_prices.count=7", "--json")
    assert first.code == 0, first.stderr[-2000:]
    doc = json.loads(first.stdout)
    assert [(c["param"], c["after"], c["how"]) for c in doc["changes"]] == \
        [("count", 7, "set by --set"), ("change_pct", 10, "at its cap max_change_pct 10")]
    again = json.loads(chimera("play", "scale", told.worked, "--reason", "x", "--set", "update_prices.count=7",
                               "--json").stdout)
    assert again["already_scaled"] is True and again["play_run_id"] == doc["play_run_id"]
    assert chimera("approve", doc["play_run_id"]).code == 0
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.play_run_id == doc["play_run_id"], Job.step == 0,
                                       Job.type == "EXECUTE_PLAY_COMMERCE")).one()
        assert (job.status, job.params["count"]) == ("succeeded", 7)
