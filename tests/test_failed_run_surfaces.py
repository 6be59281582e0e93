"""A play run that failed part way, as the report and the play commands show it: the weekly review of
``chimera report`` (HTML and ``--json``) names the step that failed and says what to do, as the review
itself does (``failed_part``); a resume whose failed step fails again says the skipped step waits for
it, not for a decision that is not pending.

The story is the demo's pricing_test (step 1 shopify_bot.update_prices, step 2
copy_bot.draft_product_descriptions) of tests/test_failed_run_followups.py, on SQLite."""

from __future__ import annotations

import json
from datetime import date, timedelta
from html import escape
from pathlib import Path

import pytest

from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import PlayRun
from chimera.plays.pause import failed_part
from tests.test_decisions_cli import chimera
from tests.test_failed_run_followups import _failed_at, demo_sqlite  # noqa: F401 - fixture
from tests.test_job_step_failures import COPY, PRICE_DAY, PRICES, Demo, _steps


def _judged_day() -> date:
    """A day on which the pricing_test run's evidence has a verdict (its delay passed)."""
    return PRICE_DAY + timedelta(days=get_client("demo").configs.play("pricing_test").evidence.delay_days + 2)


def _report(tmp_path: Path, day: date) -> tuple[dict, str]:
    """``chimera report --json`` of the demo on ``day``: its JSON document and the HTML it wrote."""
    run = chimera("report", "--client", "demo", "--out", str(tmp_path / "r.html"), "--as-of", day.isoformat(),
                  "--json")
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    return doc, Path(doc["path"]).read_text(encoding="utf-8")


def test_the_report_names_the_failed_step_and_the_advice(demo_sqlite: Demo, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                                        tmp_path: Path) -> None:
    """Was: the review said "a step failed for good ... (chimera jobs names it)", and the HTML showed
    the evidence's word alone ("continue") for a run that never ran whole."""
    from chimera.plays.pause import pause

    _failed_at(demo_sqlite, monkeypatch, COPY, "copy service exploded")
    run_id = demo_sqlite.pending["pricing_test"]
    with session_scope() as s:
        failure = failed_part(s, s.get(PlayRun, run_id))
    assert failure.startswith(f"step 2 copy_bot.draft_product_descriptions (job {_steps(run_id)[1].id}) failed")

    day = _judged_day()
    doc, html = _report(tmp_path, day)
    [review] = [r for r in doc["review"] if r["play_run_id"] == run_id]
    assert review["status"] == "failed" and f"the run failed part way: {failure}" in review["advice"]
    assert "chimera jobs names it" not in review["advice"]
    assert f'<span class="note">{escape(review["advice"])}</span>' in html

    pause(run_id, "alice", "copy service down", on=day)  # paused since: told to resume once fixed
    doc, html = _report(tmp_path, day)
    [review] = [r for r in doc["review"] if r["play_run_id"] == run_id]
    assert review["status"] == "paused"
    assert f"(paused on {day} by alice; the run failed part way: {failure}; the evidence says " in review["advice"]
    assert f'<span class="note">{escape(review["advice"])}</span>' in html


def test_a_resume_whose_step_fails_again_says_the_skipped_step_waits_for_it(
        demo_sqlite: Demo, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Was: "cancelled: runs when cycle run X goes on (a decision there is pending)": no decision was
    pending, the copy step waits for the price step to succeed."""
    _failed_at(demo_sqlite, monkeypatch, PRICES, "price API down")
    run_id = demo_sqlite.pending["pricing_test"]
    prices, copy = _steps(run_id)
    step2 = f"step 2 copy_bot.draft_product_descriptions (job {copy.id})"

    paused = chimera("play", "pause", run_id, "--reason", "price API down", "--who", "alice")
    assert paused.code == 0, paused.stderr
    assert f"  held: {step2}: skipped: runs once job {prices.id} succeeds, after the play is resumed" \
        in paused.stdout.splitlines()

    resumed = chimera("play", "resume", run_id, "--reason", "try again", "--who", "alice")  # still down
    assert resumed.code == 0, resumed.stderr
    lines = resumed.stdout.splitlines()
    assert f"  step 1 shopify_bot.update_prices (job {prices.id}): failed (see chimera jobs)" in lines
    assert f"  {step2}: skipped: runs once job {prices.id} succeeds" in lines
    assert "decision there is pending" not in resumed.stdout
    assert [j.status for j in _steps(run_id)] == ["failed", "cancelled"]


def test_resume_lines_say_where_each_requeued_step_stands() -> None:
    """Only a queued step waits for the cycle to go on; a cancelled one not skipped for a failed step
    is not said to wait for a decision either."""
    from datetime import datetime

    from chimera.cli.cmd_plays import resume_lines
    from chimera.plays.pause import HeldJob, ResumeOutcome

    def job(n: int, status: str, skipped_for: int | None = None) -> HeldJob:
        return HeldJob(id=n, type="EXECUTE_PLAY_STEP", step=n, bot="b", action=f"a{n}", status=status,
                       skipped_for=skipped_for)

    outcome = ResumeOutcome(client="c", play_run_id="r", play="p", status="executing", of="pause", on=PRICE_DAY,
                            who="w", why="y", at=datetime(2026, 1, 1), already_resumed=False, cycle_run_id="cy",
                            requeued=[job(1, "succeeded"), job(2, "queued"), job(3, "cancelled", 2),
                                      job(4, "cancelled")])
    assert resume_lines(outcome)[1:5] == [
        "  step 1 b.a1 (job 1): ran",
        "  step 2 b.a2 (job 2): queued: runs when cycle run cy goes on (a decision there is pending)",
        "  step 3 b.a3 (job 3): skipped: runs once job 2 succeeds",
        "  step 4 b.a4 (job 4): cancelled: not run (see chimera jobs)"]
