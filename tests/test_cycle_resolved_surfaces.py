"""What a user reads of a failed cycle whose failed step a resume ran again with success: the
cycle JSON keeps ``status: failed`` and adds ``resolved``; the one-line failure note and the
report's header say it was resolved, by whom and why (``chimera.jobs.resolved``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chimera.clients import get_client
from chimera.report.html import render_report
from tests.test_failed_run_followups import _failed_at, demo_sqlite  # noqa: F401 - fixture
from tests.test_job_step_failures import PRICE_DAY, PRICES, Demo


def test_a_resolved_failed_cycle_says_so_everywhere_it_is_read(demo_sqlite: Demo,  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from chimera.cli.cmd_cycle import _cycle_line, _failed_cycle
    from chimera.plays.pause import pause, resume
    from graphs.service import failed_jobs_line, outcome, resume_cycle

    put_back = _failed_at(demo_sqlite, monkeypatch, PRICES, "price API down")
    run_id = demo_sqlite.pending["pricing_test"]
    before = outcome(demo_sqlite.cycle_run)
    assert before.status == "failed" and "resolved" not in before.to_json()
    assert "price API down" in failed_jobs_line(before)
    assert _failed_cycle("demo", before) is not None and "resolved" not in _cycle_line("demo", before)

    put_back()
    pause(run_id, "alice", "price API down", on=PRICE_DAY)
    resume_cycle(resume(run_id, "bob", "API back", on=PRICE_DAY + timedelta(days=2)).cycle_run_id)

    after = outcome(demo_sqlite.cycle_run)
    doc = after.to_json()
    assert doc["status"] == "failed"  # the history stays: it did fail
    assert doc["resolved"]["all"] is True and doc["resolved"]["by"] == ["bob"]
    text = doc["resolved"]["text"]
    assert text.startswith("failed, then resolved: ") and text.endswith("(pricing_test): API back")
    assert failed_jobs_line(after) == text
    assert _cycle_line("demo", after).startswith("failed as of ") and _cycle_line("demo", after).endswith(text)
    assert _failed_cycle("demo", after) is None  # cycle --all no longer counts it among its failures
    page = render_report(get_client("demo"), after.as_of)
    assert "failed, then resolved: " in page and "bob resumed play run" in page
