"""Explanations that do not mislead (manual §7.1, §7.4): a status raised by the anomaly check is not
told as a threshold breach; plays that triggered but were held back are named with why, in the
narrative, the CLI, the cycle JSON and the report; a play rejected before says so when it returns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

import chimera.cli.cmd_cycle  # noqa: F401 - registers the command
from agents.offline import narrate
from chimera.cli.app import app
from chimera.cli.render import cycle_document, stored_extras
from chimera.clients import get_client
from chimera.config.loader import ConfigSet
from chimera.config.models import KPI, AgentsConfig, Bot, BotAction, Commander, KPIsConfig, PlayPolicy, PlaysConfig
from chimera.db.engine import get_engine, session_scope
from chimera.db.models import Company, Decision, EvidenceRecord, Job, PlayRun
from chimera.kpi.evaluate import evaluate_series
from chimera.kpi.formula import Series
from chimera.kpi.models import KPIResult
from chimera.plays.rank import held_back, previous_decisions, suggest_plays
from chimera.plays.trigger import status_cause
from chimera.report.data import collect
from chimera.report.html import render_report
from graphs.service import decide, run_cycle
from tests.cycle_fixtures import AS_OF, shop  # noqa: F401 - fixture

START = date(2026, 1, 5)
DROP = 42
"""Six steady weeks of 500 orders a day, then 300 (2,100 a week vs 3,500): far above every threshold,
far below the baseline."""


def orders_spec() -> KPI:
    return KPI(id="orders", label="Orders", unit="count", direction="higher_is_better", formula="orders",
               window="7d", target=Decimal(100), warning=Decimal(80), critical=Decimal(50), owner="x",
               anomaly=True)


def orders_series(days: int) -> Series:
    return {"orders": {START + timedelta(days=i): Decimal(500 if i < DROP else 300) for i in range(days)}}


def anomalous_orders() -> KPIResult:
    """A real evaluator result: CRITICAL by the anomaly check, OK by the thresholds."""
    result = evaluate_series(orders_spec(), orders_series(DROP + 10), START + timedelta(days=DROP + 9))
    assert result.status == "CRITICAL" and result.threshold_status == "OK", result.note
    return result


def configs(plays: list[dict], policy: PlayPolicy | None = None) -> ConfigSet:
    agents = AgentsConfig(
        commanders=[Commander(id="commerce_commander_ai", label="C", role="r",
                              handles=["SUGGEST_PLAYS", "EXECUTE_PLAY_COMMERCE"])],
        bots=[Bot(id="copy_bot", label="Copy", role="r",
                  actions=[BotAction(name="draft_copy", description="d", reversible=True)])])
    full = [{"label": p["id"].title(), "description": "d", "owner": "commerce_commander_ai", "impact": 3,
             "effort": 2, "evidence": {"kpis": ["orders"]},
             "job_plan": [{"type": "EXECUTE_PLAY_COMMERCE", "bot": "copy_bot", "action": "draft_copy"}], **p}
            for p in plays]
    return ConfigSet(folder=Path("."), agents=agents, kpis=KPIsConfig(kpis=[orders_spec()]),
                     plays=PlaysConfig(policy=policy or PlayPolicy(), plays=full))


CRITICAL_ORDERS = {"kpi": "orders", "status": ["CRITICAL"]}


# --------------------------------------------------------------------------- F5: by anomaly


def test_a_status_from_the_anomaly_check_is_explained_by_the_anomaly() -> None:
    kpi = anomalous_orders()
    (play,) = suggest_plays(configs([{"id": "rescue", "trigger": CRITICAL_ORDERS}]), {"orders": kpi}, None)
    (clause,) = play.trigger
    assert clause.startswith("orders is CRITICAL by anomaly (2,100: ")
    assert "critical 50 not crossed" in clause and "vs critical" not in clause
    phrase = clause.split(": ", 1)[1].split("; critical")[0]
    assert phrase.endswith("sd below its 4-week baseline 3,500 (-40.0%)")
    assert phrase in kpi.note, "the reason quotes the evaluator's own words, never a recomputed figure"


def test_the_stored_kpi_status_row_explains_the_same_way() -> None:
    """A KPIStatus row keeps the anomaly and threshold status in ``details``: same cause, same text."""
    kpi = anomalous_orders()
    stored = {"kpi_id": "orders", "status": kpi.status, "value": str(kpi.value), "target": "100", "warning": "80",
              "critical": "50", "note": kpi.note, "unit": "count",
              "details": kpi.model_dump(mode="json", include={"anomaly", "threshold_status"})}
    cause = status_cause(stored)
    assert cause.by_anomaly and cause.threshold_status == "OK" and cause.anomaly_level == "CRITICAL"
    assert cause.baseline == kpi.anomaly.baseline and cause.sd_score == kpi.anomaly.sd_score
    cs = configs([{"id": "rescue", "trigger": CRITICAL_ORDERS}])
    from_row = suggest_plays(cs, {"orders": stored}, None)[0].trigger
    assert from_row == suggest_plays(cs, {"orders": kpi}, None)[0].trigger


def test_thresholds_that_explain_the_status_keep_the_threshold_wording() -> None:
    spec = orders_spec().model_copy(update={"critical": Decimal(2800), "warning": Decimal(3000),
                                            "target": Decimal(3300)})
    kpi = evaluate_series(spec, orders_series(DROP + 10), START + timedelta(days=DROP + 9))
    assert kpi.threshold_status == "CRITICAL"
    (play,) = suggest_plays(configs([{"id": "rescue", "trigger": CRITICAL_ORDERS}]), {"orders": kpi}, None)
    assert play.trigger == ["orders is CRITICAL (2,100 vs critical 2,800)"]


def test_an_anomaly_above_a_lower_threshold_level_names_both() -> None:
    """WARNING by thresholds, CRITICAL by anomaly: the clause says which threshold did hold."""
    spec = orders_spec().model_copy(update={"warning": Decimal(2200), "target": Decimal(3300)})
    kpi = evaluate_series(spec, orders_series(DROP + 10), START + timedelta(days=DROP + 9))
    assert (kpi.status, kpi.threshold_status) == ("CRITICAL", "WARNING")
    (play,) = suggest_plays(configs([{"id": "rescue", "trigger": CRITICAL_ORDERS}]), {"orders": kpi}, None)
    assert "CRITICAL by anomaly" in play.reason
    assert play.reason.endswith("critical 50 not crossed; thresholds alone: WARNING (warning 2,200))")


# --------------------------------------------------------------------------- F4: held back, unit


def test_held_back_lists_triggered_plays_only_with_why() -> None:
    cs = configs([{"id": f"p{i}", "trigger": CRITICAL_ORDERS} for i in range(3)]
                 + [{"id": "quiet", "trigger": {"kpi": "orders", "status": ["WARNING"]}}],
                 PlayPolicy(max_active_plays=2))
    state = {"active": 1, "active_plays": ["p0"], "under_way": {"p0": "already under way: executing"},
             "rejected": {"quiet": "rejected by carol"}}
    result = suggest_plays(cs, {"orders": anomalous_orders()}, None, state)
    assert [p.play_id for p in result] == ["p1"]
    not_selected = [p.model_dump(mode="json") for p in [*result.over_cap, *result.suppressed]]
    held = {h["play"]: h for h in held_back(not_selected)}
    assert set(held) == {"p0", "p2"}, "quiet did not trigger: its rejection is no hold-back"
    assert held["p2"]["kind"] == "over_cap"
    assert held["p2"]["why_held"] == "over the cap of 2 active plays (1 already active: p0)"
    assert held["p2"]["trigger"] and held["p2"]["trigger"][0].startswith("orders is CRITICAL by anomaly")
    assert held["p0"] == {"play": "p0", "label": "P0", "kind": "already_active",
                         "why_held": "already under way: executing", "trigger": []}


def test_offline_narrative_names_held_back_plays() -> None:
    over = {"play_id": "refresh", "label": "Refresh", "selected": False, "rank": 2,
            "note": "over the cap of 3 active plays (3 already active: a, b, c)", "trigger": ["x"]}
    active = {"play_id": "a", "label": "A", "kind": "already_active", "reason": "already under way: approved",
              "would_fire": True}
    unknown = {"play_id": "u", "label": "U", "kind": "unknown_kpi", "reason": "depends on UNKNOWN KPI",
               "would_fire": None}
    text = narrate("Commerce", "SUGGEST_PLAYS", {"plays": [], "not_selected": [over, active, unknown]})
    assert "no play triggered" not in text
    assert "2 play(s) triggered, none suggested: held back: refresh (over the cap of 3 active plays " in text
    assert "a (already under way: approved)" in text and " u (" not in text
    some = narrate("Commerce", "SUGGEST_PLAYS", {"plays": [{"rank": 1, "play_id": "p", "reason": "r"}],
                                                 "not_selected": [over]})
    assert "1 play(s) suggested: #1 p (r); 1 more triggered but held back: refresh (" in some
    quiet = narrate("Commerce", "SUGGEST_PLAYS", {"plays": [], "not_selected": [unknown]})
    assert quiet.endswith("no play triggered: nothing in the KPI statuses calls for action.")


# --------------------------------------------------------------------------- F4 + F13: a real cycle


@pytest.fixture
def capped(shop: str) -> tuple[str, object, object]:  # noqa: F811 - fixture
    """A cap of one filled by an approved play: the same day's next cycle holds every trigger back."""
    plays_yml = get_client(shop).folder / "plays.yml"
    plays_yml.write_text(plays_yml.read_text("utf-8").replace("max_active_plays: 3", "max_active_plays: 1"), "utf-8")
    first = run_cycle(shop, as_of=AS_OF)
    (only,) = first.pending
    decide(only.play_run_id, "approve", who="alice")
    return shop, first, run_cycle(shop, as_of=AS_OF)


def test_a_full_cap_is_told_in_the_narrative_json_and_report(capped) -> None:
    client, first, again = capped
    assert again.plays == []
    approved = first.pending[0].play_id
    doc = cycle_document(again)
    held = {h["play"]: h for h in doc["held_back"]}
    assert held[approved]["kind"] == "already_active" and "not judged yet" in held[approved]["why_held"]
    narrative = next(n["text"] for n in again.narratives if n["type"] == "SUGGEST_PLAYS")
    assert "no play triggered" not in narrative
    assert f"{len(held)} play(s) triggered, none suggested: held back: " in narrative
    assert all(h in narrative for h in held)
    data = collect(get_client(client), AS_OF)
    assert data.held_back == doc["held_back"]
    html = render_report(get_client(client), AS_OF)
    assert "triggered no play" not in html and "Triggered, held back" in html
    assert f"suggested no play: {len(held)} play(s) triggered and were held back" in html


def test_cycle_json_plays_carry_sops_and_kpi_values_and_held_back(capped) -> None:
    client, first, _ = capped
    with session_scope() as s:
        explanation = s.get(PlayRun, first.pending[0].play_run_id).explanation
    play = next(p for p in cycle_document(first)["plays"] if p["id"] == first.pending[0].play_run_id)
    assert {"id", "play", "rank", "reason", "trigger", "evidence_kpis", "decision"} <= set(play)
    assert play["sops"] == explanation["sops"] and play["sops"]
    assert play["kpi_values"] == explanation["kpi_values"] and play["kpi_values"]
    assert all(isinstance(v["value"], str) for v in play["kpi_values"].values()), "numbers as strings"
    cli = CliRunner().invoke(app, ["cycle", "--client", client, "--as-of", AS_OF.isoformat(), "--json"])
    assert cli.exit_code == 0, cli.output
    assert '"held_back": [' in cli.stdout and '"already_active"' in cli.stdout
    text = CliRunner().invoke(app, ["cycle", "--client", client, "--as-of", AS_OF.isoformat()])
    assert "play(s) triggered but held back:" in text.stdout
    over = stored_extras(first).held_back
    assert over and all(h["kind"] == "over_cap" and h["why_held"] == "over the cap of 1 active plays"
                        and h["trigger"] for h in over), "a first cycle's extra plays wait over its cap of one"


# --------------------------------------------------------------------------- F14: a rejected play returns


def test_a_play_rejected_before_says_so_when_it_triggers_again(chimera_home: Path) -> None:
    engine = get_engine()
    with Session(engine) as s:
        company = Company(name="c")
        s.add(company)
        s.flush()
        executed = PlayRun(company_id=company.id, play_id="rescue", as_of=date(2026, 3, 2), status="executed",
                           executed_on=date(2026, 3, 2))
        rejected = PlayRun(company_id=company.id, play_id="rescue", as_of=date(2026, 4, 6), status="rejected")
        s.add_all([executed, rejected])
        s.flush()
        s.add(EvidenceRecord(company_id=company.id, play_run_id=executed.id, play_id="rescue",
                             correlation_id=executed.correlation_id, kpi="orders", executed_on=date(2026, 3, 2),
                             verdict="confounded"))
        s.add(Decision(company_id=company.id, play_run_id=rejected.id, kind="reject", who="carol",
                       why="prices already raised", at=datetime(2026, 4, 6, 9, 30, tzinfo=UTC)))
        s.commit()
        history = previous_decisions(s, company.id, date(2026, 4, 13))
        assert previous_decisions(s, company.id, date(2026, 4, 6)) == {}, "a replay sees only earlier days"
        assert s.exec(select(Job)).first() is None
    assert history["rescue"] == (
        f"rejected by carol for the cycle of 2026-04-06 (decided 2026-04-06 09:30 UTC, play run {rejected.id}): "
        f"prices already raised; its last run, executed 2026-03-02, was judged confounded on orders")
    cs = configs([{"id": "rescue", "trigger": CRITICAL_ORDERS}])
    (play,) = suggest_plays(cs, {"orders": anomalous_orders()}, None, None, history)
    assert play.reason.startswith("orders is CRITICAL by anomaly")
    assert play.reason.endswith(f". Previously: {history['rescue']}")
    assert play.trigger == suggest_plays(cs, {"orders": anomalous_orders()}, None)[0].trigger
