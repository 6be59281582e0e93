"""``chimera play revert``: an executed play is undone through the adapter that applied it (QA F12).

One demo client (the project's own generator), two live cycles: pricing_test approved on 2026-10-18
(reversible: a price table and a copy draft), checkout_friction_audit approved on 2026-11-22 (its
checkout settings step is not reversible). The revert restores the before prices in an outbox table,
records who, why and the day on the run, applies nothing twice, lists what only a person can undo,
and refuses what it cannot revert in one line, recording nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import col, select

from chimera.changesets import Asset, Change, ChangeSet, inverse, restore_asset
from chimera.db.engine import dispose_all, session_scope
from chimera.db.models import AppliedChange, Decision, Job, PlayRun
from tests.test_decisions_cli import Run, _in_home, chimera

PRICE_DAY = date(2026, 10, 18)
CHECKOUT_DAY = date(2026, 11, 22)


@dataclass
class Executed:
    home: Path
    pricing: str
    checkout: str
    superseded: str
    """A suggestion of the first cycle nobody decided (superseded by the second cycle)."""


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executed]:
    """The demo client with pricing_test and checkout_friction_audit approved and executed."""
    from chimera.demo.demo_client import ensure_demo_client
    from graphs.service import run_cycle

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("revert-home")
        _in_home(home, mp)
        ensure_demo_client()
        first = {p.play_id: p.play_run_id for p in run_cycle("demo", as_of=PRICE_DAY).pending}
        assert chimera("approve", first["pricing_test"], "--who", "alice").code == 0
        second = {p.play_id: p.play_run_id for p in run_cycle("demo", as_of=CHECKOUT_DAY).pending}
        assert chimera("approve", second["checkout_friction_audit"], "--who", "alice").code == 0
        undecided = next(v for k, v in first.items() if k != "pricing_test")
        yield Executed(home, first["pricing_test"], second["checkout_friction_audit"], undecided)
        dispose_all()


@pytest.fixture
def home(executed: Executed, monkeypatch: pytest.MonkeyPatch) -> Executed:
    _in_home(executed.home, monkeypatch)
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    return executed


def _run(play_run_id: str) -> PlayRun:
    with session_scope() as s:
        row = s.get(PlayRun, play_run_id)
        assert row is not None
        s.expunge(row)
        return row


def _applied(play_run_id: str) -> list[AppliedChange]:
    """The run's applied changes and their undos (undo keys: ``revert:<original key>``)."""
    with session_scope() as s:
        jobs = s.exec(select(Job).where(Job.play_run_id == play_run_id)).all()
        keys = [k for j in jobs for k in (j.idempotency_key, f"revert:{j.idempotency_key}")]
        rows = s.exec(select(AppliedChange).where(col(AppliedChange.idempotency_key).in_(keys))).all()
        for r in rows:
            s.expunge(r)
        return sorted(rows, key=lambda r: r.id or 0)


def _table(path: str) -> dict[str, dict[str, str]]:
    return {row["sku"]: row for row in csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8")))}


def _refused(result: Run) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == 1 and result.stdout == "" and len(lines) == 1, (result.code, result.stderr[-1500:])
    assert "Traceback" not in result.stderr
    return lines[0]


# --- the revert itself ----------------------------------------------------------------------------


def test_revert_restores_the_before_prices_and_records_who_why_and_the_day(home: Executed) -> None:
    before = _run(home.pricing)
    assert before.status == "executed" and before.executed_on == PRICE_DAY
    originals = {r.idempotency_key: r for r in _applied(home.pricing)}
    prices = next(r for r in originals.values() if r.action == "update_prices")

    result = chimera("play", "revert", home.pricing, "--reason", "conversion fell", "--who", "bob",
                     "--on", "2026-11-01", "--json")
    assert result.code == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["reverted_on"], doc["who"], doc["why"], doc["already_reverted"]) == \
        ("reverted", "2026-11-01", "bob", "conversion fell", False)
    assert doc["by_hand"] == [] and len(doc["reverted"]) == len(originals) == 2
    assert all(r["applied"] and r["adapter"] == "dry_run" for r in doc["reverted"])

    # the outbox table sets each product back to its price before the play, other columns kept
    undo = next(r for r in doc["reverted"] if r["action"] == "update_prices")
    assert undo["key"] == f"revert:{prices.idempotency_key}" and undo["reverts"] == prices.idempotency_key
    restored, original = _table(undo["asset"]), _table(prices.asset_path)
    assert restored.keys() == original.keys() and len(restored) == 5
    for sku, row in restored.items():
        assert (row["price_before"], row["price_after"]) == \
            (original[sku]["price_after"], original[sku]["price_before"])
        assert (row["name"], row["units_sold"]) == (original[sku]["name"], original[sku]["units_sold"])
    swapped = {c["target"]: (c["before"], c["after"]) for c in undo["changes"]}
    assert swapped == {c["target"]: (c["after"], c["before"]) for c in prices.changeset["changes"]}

    # AppliedChange rows: one undo per original, marked as such, on no job (the job's asset stays the job's)
    rows = {r.idempotency_key: r for r in _applied(home.pricing)}
    undos = [r for k, r in rows.items() if k.startswith("revert:")]
    assert sorted(r.idempotency_key for r in undos) == sorted(f"revert:{k}" for k in originals)
    assert all(r.job_id is None and r.reversible and r.changeset["reverts"] in originals for r in undos)

    # the revert is recorded on the run (Decision holds one row per run: the approval stays as it was)
    run = _run(home.pricing)
    record = run.rationale["revert"]
    assert run.status == "reverted" and run.executed_on == PRICE_DAY
    assert (record["on"], record["who"], record["why"]) == ("2026-11-01", "bob", "conversion fell")
    assert sorted(record["keys"]) == sorted(f"revert:{k}" for k in originals)
    with session_scope() as s:
        decisions = s.exec(select(Decision).where(Decision.play_run_id == home.pricing)).all()
        assert [(d.kind, d.who) for d in decisions] == [("approve", "alice")]

    from chimera.plays.revert import reverted_on
    assert reverted_on(run) == date(2026, 11, 1) and reverted_on(before) is None

    # a second revert applies nothing twice and says it was already reverted (the first record stays)
    mtime = Path(undo["asset"]).stat().st_mtime_ns
    again = chimera("play", "revert", home.pricing, "--reason", "again", "--who", "carol")
    assert again.code == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert (f"play run {home.pricing} (pricing_test) was already reverted on 2026-11-01 by bob "
            "(conversion fell): nothing applied twice") in said
    assert "already undone (dry_run)" in said and "reverted pricing_test" not in said
    assert len(_applied(home.pricing)) == len(rows) and Path(undo["asset"]).stat().st_mtime_ns == mtime
    assert _run(home.pricing).rationale["revert"] == record
    again_json = json.loads(chimera("play", "revert", home.pricing, "--reason", "x", "--json").stdout)
    assert again_json["already_reverted"] is True and not any(r["applied"] for r in again_json["reverted"])


def test_evidence_of_a_reverted_run_stops_at_the_revert(home: Executed) -> None:
    """Days from the revert on are no longer the play's doing: its after-window ends the day before
    (both windows kept as long); a replay of a day before the revert judges the full window."""
    from chimera.clients import get_client
    from chimera.evidence.record import evidence_report

    assert _run(home.pricing).status == "reverted"  # by the test above
    client = get_client("demo")
    entries = [e for e in evidence_report(client, as_of=date(2026, 11, 29), persist=False)["evidence"]
               if e["play_run_id"] == home.pricing]
    assert entries and all("after-window cut at the revert on 2026-11-01" in e["reason"] for e in entries)
    cut = (date(2026, 11, 1) - PRICE_DAY).days
    assert all(f"{cut} of " in e["reason"] for e in entries)
    earlier = [e for e in evidence_report(client, as_of=date(2026, 10, 31), persist=False)["evidence"]
               if e["play_run_id"] == home.pricing]
    assert earlier and not any("revert" in e["reason"] for e in earlier)


def test_a_change_that_is_not_reversible_is_listed_to_do_by_hand(home: Executed) -> None:
    result = chimera("play", "revert", home.checkout, "--reason", "checkout complaints", "--on", "2026-11-29")
    assert result.code == 0, result.stderr[-2000:]
    said = " ".join(result.stdout.split())
    assert f"reverted checkout_friction_audit (play run {home.checkout}) on 2026-11-29 by os-user" in said
    assert ("cannot be undone automatically: do by hand: shopify_bot.simplify_checkout_settings: " in said
            and "not reversible (agents.yml); asset " in said), said
    # a reversible brief (no before/after) gets an undo sheet asking a person to undo what it led to
    assert "undo sheet written (dry_run): copy_bot.draft_faq: no before/after was recorded" in said
    assert "  undone (dry_run): copy_bot.draft_faq" not in result.stdout  # nothing was set back: not "undone"
    assert "evidence: from 2026-11-29 on" in said
    run = _run(home.checkout)
    assert run.status == "reverted" and run.rationale["revert"]["who"] == "os-user"
    by_hand = run.rationale["revert"]["by_hand"]
    assert len(by_hand) == 1 and not any(k.startswith("revert:") for k in by_hand)
    undone = [r.idempotency_key for r in _applied(home.checkout) if r.idempotency_key.startswith("revert:")]
    assert undone == run.rationale["revert"]["keys"] and len(undone) == 1


def test_a_reverted_run_no_longer_counts_against_the_cap(home: Executed) -> None:
    from chimera.plays.review import active_runs

    chimera("play", "revert", home.checkout, "--reason", "stop it", "--on", "2026-11-29")
    run = _run(home.checkout)
    with session_scope() as s:
        assert run.id not in {r.id for r in active_runs(s, run.company_id)}


def test_a_play_run_by_hand_is_reverted_with_the_work_left_to_a_person(home: Executed) -> None:
    logged = chimera("play", "log", "free_shipping_threshold", "--client", "demo", "--executed-on", "2026-11-08",
                     "--note", "free shipping from 55", "--json")
    assert logged.code == 0, logged.stderr
    run_id = json.loads(logged.stdout)["play_run_id"]
    doc = json.loads(chimera("play", "revert", run_id, "--reason", "margin", "--on", "2026-11-15", "--json").stdout)
    assert doc["reverted"] == [] and doc["reverted_on"] == "2026-11-15"
    assert [b["summary"] for b in doc["by_hand"]] == \
        ["free_shipping_threshold run by hand on 2026-11-08: free shipping from 55"]
    assert "undo by hand" in doc["by_hand"][0]["why"] and _run(run_id).status == "reverted"


# --- refusals: one line, exit 1, nothing recorded ---------------------------------------------------


def test_refusals_are_one_line_and_record_nothing(home: Executed) -> None:
    logged = chimera("play", "log", "winback_email", "--client", "demo", "--executed-on", "2026-11-22", "--json")
    manual = json.loads(logged.stdout)["play_run_id"]
    with session_scope() as s:
        rows_before = len(s.exec(select(AppliedChange)).all())
    cases = {
        "--reason is required": ("play", "revert", manual),
        "--reason is required: say why": ("play", "revert", manual, "--reason", "  "),
        "unknown play run 'nope'": ("play", "revert", "nope", "--reason", "r"),
        "is superseded, not executed: only an executed play can be reverted":
            ("play", "revert", home.superseded, "--reason", "r"),
        f"--on 2026-11-21 is before play run {manual} (winback_email) was executed (2026-11-22)":
            ("play", "revert", manual, "--reason", "r", "--on", "2026-11-21"),
        "--on 2031-01-01 has not happened yet": ("play", "revert", manual, "--reason", "r", "--on", "2031-01-01"),
        "--on '2026-13-01': expected a date": ("play", "revert", manual, "--reason", "r", "--on", "2026-13-01"),
    }
    for expected, args in cases.items():
        line = _refused(chimera(*args))
        assert expected in line, (args, line)
    for run_id, status in ((manual, "executed"), (home.superseded, "superseded")):
        run = _run(run_id)
        assert run.status == status and "revert" not in (run.rationale or {}), run_id
    with session_scope() as s:
        assert len(s.exec(select(AppliedChange)).all()) == rows_before


# --- the inverse ChangeSet ------------------------------------------------------------------------


def test_inverse_swaps_before_and_after_and_restores_the_table() -> None:
    table = "sku,name,price_before,price_after\nA,\"Mug, large\",10.00,11.00\n"
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary="raise", changes=[
        Change(target="product:A", field="price", before="10.00", after="11.00")],
        asset=Asset(filename="p-price-table.csv", content=table))
    undo = inverse(cs, "k1")
    assert undo.reverts == "k1" and undo.summary == "undo: raise" and undo.reversible
    assert undo.changes == [Change(target="product:A", field="price", before="11.00", after="10.00")]
    assert undo.asset == Asset(filename="p-price-table.csv",
                               content="sku,name,price_before,price_after\nA,\"Mug, large\",11.00,10.00\n")
    assert ChangeSet.model_validate(json.loads(undo.model_dump_json())) == undo


def test_an_asset_without_before_columns_becomes_a_sheet_of_values_to_set_back() -> None:
    cs = ChangeSet(bot="shopify_bot", action="create_bundle", summary="bundle", changes=[
        Change(target="bundle:new", field="price", before=None, after="30.00"),
        Change(target="checkout", field="fields", before=["a", "b"], after=["a"])],
        asset=Asset(filename="p-bundle.md", content="# Bundle\n"))
    sheet = restore_asset(cs, "k2")
    assert sheet.filename == "p-bundle-revert.md"
    assert "- bundle:new price: 30.00 -> (none: remove it)" in sheet.content
    assert '- checkout fields: ["a"] -> ["a", "b"]' in sheet.content
    assert restore_asset(cs.model_copy(update={"asset": None}), "k2").filename == "shopify_bot-create_bundle-revert.md"
