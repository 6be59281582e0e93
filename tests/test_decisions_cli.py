"""Decisions as a person makes them from the CLI: override parameters checked against the play's
steps and recorded with what they changed, a person (not 'cli') as who, an identical repeat that
says nothing new was recorded, no play logged on a day that has not happened, the demo's override
real and described, readable progress lines, and sum KPIs' evidence read as means per day."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import insert
from sqlmodel import select

from chimera.cli import _register
from chimera.cli.app import run
from chimera.config.loader import load_config_set
from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import Decision, MetricPoint, PlayRun
from chimera.errors import DecisionError

_register()
CONFIGS = load_config_set(Path(__file__).resolve().parents[1] / "configs")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def chimera(*args: str) -> Run:
    """The CLI in process, as the executable runs it (``run()``), both streams captured."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["chimera", *args]), redirect_stdout(out), redirect_stderr(err):
        code = run()
    return Run(code, out.getvalue(), err.getvalue())


def _in_home(home: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("CHIMERA_HOME", str(home))
    mp.setenv("CHIMERA_LLM", "offline")
    mp.delenv("CHIMERA_DATABASE_URL", raising=False)
    dispose_all()


@dataclass
class Seeded:
    home: Path
    as_of: date
    pending: dict[str, str]
    """play id -> play run id of the cycle's suggestions."""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The demo client and one weekly cycle a week before its data ends, awaiting decisions."""
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("decisions-home")
        _in_home(home, mp)
        _ctx, info = ensure_demo_client()
        outcome = run_cycle("demo", as_of=info.as_of - timedelta(days=7))
        yield Seeded(home, info.as_of, {p.play_id: p.play_run_id for p in outcome.pending})
        dispose_all()


@pytest.fixture
def home(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    _in_home(seeded.home, monkeypatch)
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    return seeded


def _pending(home: Seeded, play: str) -> str:
    """The seeded cycle's suggestion of ``play`` (the demo data is fixed: the same three every time)."""
    assert play in home.pending, f"the cycle did not suggest {play} (suggested: {sorted(home.pending)})"
    return home.pending[play]


def _state(play_run_id: str) -> tuple[Decision | None, PlayRun]:
    with session_scope() as s:
        decision = s.exec(select(Decision).where(Decision.play_run_id == play_run_id)).first()
        run_row = s.get(PlayRun, play_run_id)
        assert run_row is not None
        for row in (decision, run_row):
            if row is not None:
                s.expunge(row)
        return decision, run_row


def _one_line(result: Run) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code != 0 and result.stdout == "" and len(lines) == 1, (result.code, result.stderr[-1500:])
    return lines[0]


# --- 1. override parameters: checked against the steps, recorded with what changed -----------------


def test_unknown_override_params_are_refused_naming_the_key_and_the_accepted_ones(home: Seeded) -> None:
    play_run_id = _pending(home, "checkout_friction_audit")
    line = _one_line(chimera("override", play_run_id, "--reason", "r", "--params",
                             '{"remove_feilds": ["company"], "bogus": "x"}'))
    assert "'remove_feilds' (did you mean 'remove_fields'?)" in line and "'bogus'" in line, line
    assert "remove_fields" in line.split("accept")[1] and "enable_express_pay" in line, line
    decision, run_row = _state(play_run_id)
    assert decision is None and run_row.status == "suggested", "nothing recorded"
    assert "override_params" not in (run_row.rationale or {})


def test_override_params_are_stored_with_what_they_changed(home: Seeded) -> None:
    play_run_id = _pending(home, "checkout_friction_audit")
    result = chimera("override", play_run_id, "--reason", "one field first", "--who", "alice",
                     "--params", '{"remove_fields": ["company"]}')
    assert result.code == 0, result.stderr[-2000:]
    assert (f"override recorded for {play_run_id} by alice: shopify_bot.simplify_checkout_settings "
            "remove_fields ['company', 'address_line_2_required', 'phone_required'] -> ['company']") \
        in " ".join(result.stdout.split())
    decision, run_row = _state(play_run_id)
    assert decision is not None and (decision.kind, decision.who, decision.why) == \
        ("override", "alice", "one field first")
    assert run_row.rationale["override_params"] == {"remove_fields": ["company"]}
    assert run_row.rationale["override_changes"] == [{
        "step": "shopify_bot.simplify_checkout_settings", "param": "remove_fields",
        "before": ["company", "address_line_2_required", "phone_required"], "after": ["company"]}]


def test_step_and_action_params_are_accepted_and_changes_named() -> None:
    from agents.decisions import check_params, override_changes

    check_params(CONFIGS, "pricing_test", {"change_pct": 5, "tone": "calm"})  # step and action params
    with pytest.raises(DecisionError, match=r"'chnage_pct' \(did you mean 'change_pct'\?\)"):
        check_params(CONFIGS, "pricing_test", {"chnage_pct": 5})
    changes = override_changes(CONFIGS, "pricing_test", {"change_pct": 5})
    assert changes == [{"step": "shopify_bot.update_prices", "param": "change_pct", "before": 10, "after": 5}]


def test_override_params_reach_only_the_steps_that_accept_them() -> None:
    from agents.decisions import params_per_step

    # checkout_friction_audit: step 0 copy_bot.draft_faq, step 1 shopify_bot.simplify_checkout_settings
    assert params_per_step(CONFIGS, "checkout_friction_audit", {"remove_fields": ["company"]}) == \
        {0: {}, 1: {"remove_fields": ["company"]}}
    # pricing_test: tone only in the copy step, products in both
    assert params_per_step(CONFIGS, "pricing_test", {"tone": "calm", "products": "all"}) == \
        {0: {"products": "all"}, 1: {"tone": "calm", "products": "all"}}
    # free_shipping_threshold: audience is no step's value, but copy_bot.draft_copy accepts it (agents.yml)
    assert params_per_step(CONFIGS, "free_shipping_threshold", {"audience": "returning"}) == \
        {0: {}, 1: {"audience": "returning"}}


# --- 3. who is a person; 4. an identical repeat says nothing new was recorded ------------------------


def test_approve_records_the_os_user_and_a_repeat_says_it_was_already_approved(home: Seeded) -> None:
    play_run_id = _pending(home, "loyalty_nudge")
    first = chimera("approve", play_run_id)
    assert first.code == 0 and f"approve recorded for {play_run_id} by os-user" in first.stdout, first.stderr
    decision, _ = _state(play_run_id)
    assert decision is not None and decision.who == "os-user"
    again = chimera("approve", play_run_id)
    assert again.code == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert f"play run {play_run_id} was already approved by os-user at {decision.at:%Y-%m-%d %H:%M}" in said
    assert "nothing new recorded" in said and "approve recorded" not in said
    with session_scope() as s:
        assert len(s.exec(select(Decision).where(Decision.play_run_id == play_run_id)).all()) == 1


def test_reject_records_the_os_user_unless_who_is_given(home: Seeded) -> None:
    play_run_id = _pending(home, "winback_email")
    result = chimera("reject", play_run_id, "--reason", "not this week")
    assert result.code == 0 and "by os-user" in result.stdout, result.stderr
    decision, _ = _state(play_run_id)
    assert decision is not None and decision.who == "os-user"


def test_person_is_the_name_given_else_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.decisions import person

    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    assert (person(None), person(""), person(" bob ")) == ("os-user", "os-user", "bob")

    def no_user() -> str:
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", no_user)
    with pytest.raises(DecisionError, match="pass --who"):
        person(None)


def test_clear_review_records_the_os_user_unless_who_is_given(chimera_home: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from chimera.clients import add_client
    from chimera.db.models import Play

    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    ctx = add_client("reviewed")
    with session_scope() as s:
        s.add_all([Play(company_id=ctx.company_id, play_id=p, under_review=True, review_reason="failed twice")
                   for p in ("pricing_test", "bundle_offer")])
    first = chimera("play", "clear-review", "pricing_test", "--client", "reviewed", "--reason", "new prices")
    assert first.code == 0 and "cleared for reviewed by os-user" in first.stdout, first.stderr
    chimera("play", "clear-review", "bundle_offer", "--client", "reviewed", "--reason", "r", "--who", "carol")
    with session_scope() as s:
        who = {p.play_id: p.record["reviews"][-1]["cleared_by"] for p in s.exec(select(Play))}
    assert who == {"pricing_test": "os-user", "bundle_offer": "carol"}


# --- 6. progress lines say something true ------------------------------------------------------


@pytest.mark.parametrize(("event", "line"), [
    ({"node": "human_decision", "status": "waiting"},
     "human_decision: waiting for a person to approve, override or reject a suggested play"),
    ({"node": "human_decision", "play_run_id": "abc", "decision": "approve", "who": "alice"},
     "human_decision: approve of play run abc by alice"),
    ({"node": "infra_commander_ai", "job": 1, "type": "INGEST_METRICS", "status": "succeeded"},
     "infra_commander_ai: INGEST_METRICS succeeded"),
])
def test_progress_lines_are_readable(event: dict[str, Any], line: str) -> None:
    from chimera.cli.cmd_cycle import progress_line

    assert progress_line(event) == line


# --- 3 and 5. chimera play log: who, and no day that has not happened ------------------------------


@pytest.fixture
def logged_client(chimera_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A client whose data runs ten days past today's clock (a generated store can)."""
    from chimera.clients import add_client

    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    ctx = add_client("shop")
    today = datetime.now(UTC).date()  # the store clock (client.yml timezone: UTC)
    rows = [{"company_id": ctx.company_id, "metric": "orders", "day": today + timedelta(days=d),
             "source": "shopify", "value": "10"} for d in range(-30, 11)]
    with session_scope() as s:
        s.execute(insert(MetricPoint), rows)
    return ctx, today


def test_play_log_refuses_a_day_after_today_and_the_newest_data(logged_client) -> None:
    ctx, today = logged_client
    late = today + timedelta(days=11)
    line = _one_line(chimera("play", "log", "pricing_test", "--client", ctx.name, "--executed-on", late.isoformat()))
    assert f"--executed-on {late}" in line and "has not happened yet" in line and str(today) in line, line
    assert str(today + timedelta(days=10)) in line, "names the newest data day"
    with session_scope() as s:
        assert not s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id)).all()
    for day in (today - timedelta(days=20), today + timedelta(days=10)):  # history, and the newest data day
        result = chimera("play", "log", "pricing_test", "--client", ctx.name, "--executed-on", day.isoformat())
        assert result.code == 0, result.stderr


def test_play_log_records_who_ran_it(logged_client) -> None:
    ctx, today = logged_client
    day = (today - timedelta(days=5)).isoformat()
    result = chimera("play", "log", "pricing_test", "--client", ctx.name, "--executed-on", day)
    assert result.code == 0 and "by os-user" in result.stdout, result.stderr
    chimera("play", "log", "bundle_offer", "--client", ctx.name, "--executed-on", day, "--who", "carol")
    with session_scope() as s:
        who = {r.play_id: s.exec(select(Decision.who).where(Decision.play_run_id == r.id)).one()
               for r in s.exec(select(PlayRun).where(PlayRun.company_id == ctx.company_id))}
    assert who == {"pricing_test": "os-user", "bundle_offer": "carol"}


# --- 7. sum KPIs' evidence is a mean per day, and says so -----------------------------------------


def test_sum_kpi_evidence_reads_per_day_and_ratio_kpis_do_not(chimera_home: Path) -> None:
    from chimera.clients import add_client
    from chimera.evidence import log_evidence, log_manual_play
    from chimera.evidence.record import record_json, shown_values

    ctx = add_client("sums")
    start, executed = date(2026, 5, 1), date(2026, 7, 1)
    base = {"total_sales": 1000, "refunded_amount": 20, "net_sales": 980, "orders": 40}
    rows = [{"company_id": ctx.company_id, "metric": m, "day": start + timedelta(days=d), "source": "shopify",
             "value": str(v + (d % 7))} for d in range(100) for m, v in base.items()]
    with session_scope() as s:
        s.execute(insert(MetricPoint), rows)
        run_row = log_manual_play(s, ctx, "pricing_test", executed, kpis=["net_revenue", "orders", "aov"])
        records = {r.kpi: record_json(r) for r in log_evidence(s, ctx, run_row, start + timedelta(days=99))}
    for kpi in ("net_revenue", "orders"):
        e = records[kpi]
        assert f"{kpi} {e['before']} per day over " in e["reason"], e["reason"]
        assert f" vs {e['after']} per day over " in e["reason"], e["reason"]
        assert all(v.endswith(" per day") for v in shown_values(e))
    aov = records["aov"]
    assert "per day" not in aov["reason"] and f"aov {aov['before']} over " in aov["reason"], aov["reason"]
    assert not any(v.endswith("per day") for v in shown_values(aov))


# --- 2. the demo's override is real and says what it changed ----------------------------------


def test_demo_override_is_a_smaller_change_the_play_accepts() -> None:
    from agents.decisions import override_changes
    from chimera.cli.cmd_demo import smaller_change

    assert smaller_change(CONFIGS, "checkout_friction_audit") == {"remove_fields": ["company"]}
    assert smaller_change(CONFIGS, "pricing_test") == {"change_pct": 5}
    for play in CONFIGS.plays.plays:
        params = smaller_change(CONFIGS, play.id)
        assert not params or override_changes(CONFIGS, play.id, params), play.id


def test_demo_policy_override_changes_the_step_and_says_exactly_what(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from chimera.cli.cmd_cycle import print_progress
    from chimera.cli.cmd_demo import _decide_per_policy
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    _in_home(tmp_path, monkeypatch)
    ctx, info = ensure_demo_client()
    outcome = run_cycle("demo", as_of=info.as_of - timedelta(days=7), on_event=print_progress)
    progress = capsys.readouterr().err
    assert "None" not in progress and "human_decision: waiting for a person to approve, override or reject" \
        in progress, progress
    approved = next((p for p in outcome.pending if p.reversible), None)
    target = next(p for p in outcome.pending if p is not approved)  # the policy's override
    after = _decide_per_policy(outcome, ctx.configs)
    said = " ".join(capsys.readouterr().out.split())
    assert "drafts only" not in said
    _, run_row = _state(target.play_run_id)
    (change,) = run_row.rationale["override_changes"]
    assert f"overrode {target.play_id} ({target.play_run_id}): {change['step']} {change['param']} " \
           f"{change['before']} -> {change['after']}; reason recorded" in said
    bot, action = change["step"].split(".")
    job = next(j for j in after.jobs if j["play_run_id"] == target.play_run_id and j["action"] == action)
    asset = next((tmp_path / "outbox" / "demo").glob(f"{target.play_run_id}-*{action}*"))
    assert job["bot"] == bot and f"- {change['param']}: {change['after']}" in asset.read_text()
