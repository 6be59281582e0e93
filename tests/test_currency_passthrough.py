"""Every face passes the client's currency to the money formatters. A yen store's suggested play
said "aov is WARNING (4,312.59 vs warning 4,500.00)" (cycle, chat card), and its monthly target
proposals and evidence before/after (CLI, demo line, model tool) read in cents, while ``chimera
kpis`` read whole yen."""

from __future__ import annotations

import asyncio
import importlib
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chimera.cli.cmd_demo import _evidence_line
from chimera.clients import ClientContext, get_client
from chimera.db.engine import session_scope
from chimera.evidence.record import log_evidence, log_manual_play, record_json
from chimera.kpi.fmt import fmt
from tests.test_cli_contracts import chimera
from tests.test_money_by_currency import GROUPED_CENTS, START, _yen_client

PRICE = Decimal("4312.57")  # a yen AOV with a fraction of a yen: read whole, stored with cents
EXECUTED = START + timedelta(days=98)
JUDGED = EXECUTED + timedelta(days=35)
CENTS = re.compile(r"\d\.\d\d\b")  # any number read to the cent (percents excepted by the callers)


def _yen(value: Any) -> str:
    return fmt(Decimal(str(value)), "currency", "JPY")


def _yen_thresholds(ctx: ClientContext) -> ClientContext:
    """aov's thresholds in yen (the base kpis.yml's are dollars) and pricing_test reading only KPIs
    this store has (a status and a money clause): its AOV of about 4,313 yen is WARNING, the play fires."""
    kpis = ctx.folder / "kpis.yml"
    text = kpis.read_text(encoding="utf-8")
    dollars = ("    target: 45\n    warning: 38\n    critical: 32\n"
               "    warning_recovery: 39.5\n    critical_recovery: 33.5\n")
    assert dollars in text
    kpis.write_text(text.replace(dollars, "    target: 5000\n    warning: 4500\n    critical: 3000\n"
                                          "    warning_recovery: 4600\n    critical_recovery: 3100\n"),
                    encoding="utf-8")
    plays = ctx.folder / "plays.yml"
    text = plays.read_text(encoding="utf-8")
    trigger = ("    trigger:\n      any:\n        - {kpi: aov, status: [WARNING, CRITICAL]}\n        - all:\n"
               "            - {kpi: aov, below: 45}\n            - {kpi: conversion_rate, status: [OK]}\n"
               "    kpis: [orders, conversion_rate]\n")
    assert text.count(trigger) == 1
    yen = ("    trigger:\n      all:\n        - {kpi: aov, status: [WARNING, CRITICAL]}\n"
           "        - {kpi: aov, below: 4800}\n    kpis: [orders]\n")
    plays.write_text(text.replace(trigger, yen), encoding="utf-8")
    return get_client(ctx.name)


@pytest.fixture
def yen_cycle(chimera_home: Path) -> ClientContext:
    """A yen store with no run under way, its AOV WARNING in yen."""
    return _yen_thresholds(_yen_client("yencycle", "JPY", PRICE, Decimal(1), START + timedelta(days=999)))


@pytest.fixture
def yen_evidence(chimera_home: Path) -> tuple[ClientContext, dict[str, Any]]:
    """A yen store whose price test raised its AOV, judged and stored."""
    ctx = _yen_client("yenev", "JPY", PRICE, Decimal("1.2"), EXECUTED)
    with session_scope() as s:
        run = log_manual_play(s, ctx, "pricing_test", EXECUTED, kpis=["aov"])
        (rec,) = [record_json(r) for r in log_evidence(s, ctx, run, JUDGED)]
    assert Decimal(rec["before"]) % 1 and Decimal(rec["after"]) % 1, rec  # stored with cents
    return ctx, rec


# --------------------------------------------------------------------------- suggested plays


def test_the_cycle_s_suggested_play_reads_whole_yen(yen_cycle: ClientContext) -> None:
    from graphs.service import run_cycle

    outcome = run_cycle(yen_cycle.name)
    play = next(p for p in outcome.plays if p["play"] == "pricing_test")
    (pending,) = [p for p in outcome.pending if p.play_id == "pricing_test"]
    aov = pending.kpi_values["aov"]
    assert aov["status"] == "WARNING" and Decimal(aov["value"]) % 1, aov  # its value keeps its cents
    shown = _yen(aov["value"])
    assert play["trigger"] == pending.trigger == [f"aov is WARNING ({shown} vs warning 4,500)",
                                                  f"aov is {shown}, below 4,800"], play
    assert play["reason"] == pending.reason == "; ".join(play["trigger"])
    said = next(n["text"] for n in outcome.narratives if n["type"] == "SUGGEST_PLAYS")
    assert f"aov is {shown}, below 4,800" in said and not CENTS.search(said), said


def test_suggest_plays_reads_money_in_the_currency_given(yen_cycle: ClientContext) -> None:
    from chimera.kpi.evaluate import evaluate_kpis
    from chimera.plays.rank import suggest_plays

    kpis = {k.id: k for k in evaluate_kpis(yen_cycle, store=False).kpis}
    yen = next(p for p in suggest_plays(yen_cycle.configs, kpis, None, currency="JPY") if p.play_id == "pricing_test")
    value = kpis["aov"].value
    assert value is not None and value % 1
    assert f"aov is WARNING ({_yen(value)} vs warning 4,500)" in yen.reason, yen.reason
    plain = next(p for p in suggest_plays(yen_cycle.configs, kpis, None) if p.play_id == "pricing_test")
    assert f"aov is WARNING ({value:,.2f} vs warning 4,500.00)" in plain.reason  # no currency: as before


async def test_the_chat_card_of_a_pending_play_reads_whole_yen(yen_cycle: ClientContext,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from graphs.service import run_cycle
    from tests.test_app_handlers import USERS, FakeUI

    monkeypatch.setenv("CHIMERA_CHAT_HISTORY", "off")  # as test_app_handlers' app fixture
    monkeypatch.setenv("CHIMERA_USERS", USERS)
    app = importlib.import_module("app")
    outcome = await asyncio.to_thread(run_cycle, yen_cycle.name)
    pending = [p for p in outcome.pending if p.play_id == "pricing_test"]
    aov = pending[0].kpi_values["aov"]
    ui = FakeUI("alice")
    await app._offer_pending(yen_cycle.name, None, pending)
    card = ui.text()
    assert f"| {_yen(aov['value'])} | 5,000 | 4,500 | 3,000 |" in card, card
    assert "vs warning 4,500)" in card and not GROUPED_CENTS.search(card), card


# --------------------------------------------------------------------------- monthly review


def test_the_monthly_target_proposals_read_whole_yen(yen_cycle: ClientContext) -> None:
    day = START + timedelta(days=139)
    doc = chimera("monthly", "--client", yen_cycle.name, "--as-of", day.isoformat(), "--json").json()
    aov = next(p for p in doc["target_changes"] if p["kpi"] == "aov")
    assert aov["enough_history"] and aov["proposed"], aov
    text = chimera("monthly", "--client", yen_cycle.name, "--as-of", day.isoformat())
    assert text.code == 0, text.stderr
    table = text.stdout.split("Target changes proposed for")[1].split("# Case study")[0]
    row = next(line for line in table.splitlines() if line.lstrip("│ ").startswith("aov"))
    assert f"5,000 -> {_yen(aov['proposed']['target'])}" in row, table
    assert not GROUPED_CENTS.search(table), table


# --------------------------------------------------------------------------- evidence


def test_chimera_evidence_reads_whole_yen(yen_evidence: tuple[ClientContext, dict[str, Any]]) -> None:
    ctx, rec = yen_evidence
    text = chimera("evidence", "--client", ctx.name, "--as-of", JUDGED.isoformat())
    assert text.code == 0, text.stderr
    table = text.stdout.split("pricing_test (run")[0]  # the reasons under the table say it as record.py does
    assert f"{_yen(rec['before'])} -> {_yen(rec['after'])}" in table, table
    assert not GROUPED_CENTS.search(text.stdout), text.stdout


def test_the_demo_evidence_line_reads_whole_yen(yen_evidence: tuple[ClientContext, dict[str, Any]]) -> None:
    _ctx, rec = yen_evidence
    line = _evidence_line(rec, "JPY")
    assert f": {_yen(rec['before'])} -> {_yen(rec['after'])}, " in line, line


def test_the_model_tool_s_evidence_figures_read_whole_yen(yen_evidence: tuple[ClientContext, dict[str, Any]]) -> None:
    from agents.tools import Toolbox

    ctx, rec = yen_evidence
    review = Toolbox(ctx, as_of=JUDGED).weekly_review("pricing_test")
    (figure,) = [f for r in review["review"] for f in r["figures"] if f["kpi"] == "aov"]
    assert (figure["before_shown"], figure["after_shown"]) == (_yen(rec["before"]), _yen(rec["after"])), figure
