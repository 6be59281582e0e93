"""The command center in real headless Chromium: login, the weekly cycle with steps and
recommendations, approve, override with a reason, reload re-offers what is pending, CSV upload,
a viewer cannot decide, a wrong password is refused. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import ARTIFACTS, USERS

pytestmark = pytest.mark.e2e


def login(page: Page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.locator("#email").fill(name)
    page.locator("#password").fill(password)
    page.locator("button[type='submit']").click()


def wait_ready(page: Page) -> None:
    """Ready once the socket is up (text typed before it is wiped): an enabled starter on an empty
    thread, or the welcome message when pending plays are re-offered."""
    starter = page.locator("#starter-run-the-weekly-cycle:not([disabled])")
    expect(starter.or_(page.get_by_text("model backend:")).first).to_be_visible()


def send(page: Page, text: str) -> None:
    """Type and send once the composer takes input. After a thread's first answer Chainlit moves to
    /thread/<id> and remounts the composer, wiping typed text and disabling submit for a moment (on a
    slow machine even between "enabled" and the click), so a send that did not go through is typed
    again; nothing is sent twice, since a click that lands returns at once."""
    box = page.locator("#chat-input")
    submit = page.locator("#chat-submit:not([disabled])")
    for _ in range(6):
        expect(page.locator("#stop-button")).to_have_count(0, timeout=60_000)
        box.fill(text)
        try:
            expect(submit).to_be_visible(timeout=10_000)
            submit.click(timeout=5_000)
            return
        except (AssertionError, PlaywrightTimeoutError):
            continue
    raise AssertionError(f"the chat never took {text!r}: submit stayed disabled")


def decisions(server) -> list[tuple[str, str, str]]:
    with sqlite3.connect(server.home / "chimera.db") as conn:
        return conn.execute("SELECT kind, who, why FROM decision ORDER BY at").fetchall()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_wrong_password_is_refused(page: Page, server) -> None:
    login(page, server.url, "alice", "not-her-password")
    expect(page.locator("#email")).to_be_visible()
    expect(page.get_by_text("model backend:")).to_have_count(0)
    shot(page, "01_login_refused")


def test_cycle_approve_override_then_reload_reoffers(page: Page, server) -> None:
    login(page, server.url, "alice", USERS["alice"][0])
    wait_ready(page)
    expect(page.get_by_text("offline (no model configured)").first).to_be_visible()
    expect(page.locator("#starter-show-conversion-rate")).to_be_visible()
    shot(page, "02_welcome")
    page.locator("#starter-run-the-weekly-cycle").click()  # the starter runs the cycle by message
    expect(page.get_by_text("Weekly cycle for demo").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("SUGGEST_PLAYS").first).to_be_visible()
    approve = page.get_by_role("button", name="Approve", exact=True)
    expect(approve.first).to_be_visible()
    offered = approve.count()
    assert offered >= 3, f"expected at least 3 suggested plays, got {offered}"
    expect(page.get_by_text("Why it triggered").first).to_be_visible()
    shot(page, "03_cycle_recommendations")

    approve.first.click()
    expect(page.get_by_text("approve** recorded").or_(page.get_by_text("approve recorded")).first).to_be_visible(
        timeout=60_000)
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(offered - 1)

    page.get_by_role("button", name="Override", exact=True).first.click()
    expect(page.get_by_text("Why do you override").first).to_be_visible()
    send(page, "Smaller test first: the holiday week is not representative")
    expect(page.get_by_text("override recorded").first).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(offered - 2)
    shot(page, "04_decisions_recorded")

    rows = decisions(server)
    assert ("approve", "alice", "") in rows
    assert ("override", "alice", "Smaller test first: the holiday week is not representative") in rows

    page.goto(server.url)  # reopen the app: a new chat re-offers what the DB says is pending
    wait_ready(page)
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(offered - 2)
    expect(page.get_by_text("Why it triggered")).to_have_count(offered - 2)
    shot(page, "05_reload_reoffers_pending")


def test_csv_upload_reports_rejected_lines(page: Page, server, tmp_path) -> None:
    src = (server.home / "configs" / "clients" / "demo" / "exports" / "analytics_daily.csv").read_text().splitlines()
    header, rows = src[0], src[1:8]
    cols = header.split(",")
    bad = rows[3].split(",")
    bad[next(i for i, c in enumerate(cols) if "session" in c.lower())] = "lots"
    rows[3] = ",".join(bad)
    upload = tmp_path / "analytics_week.csv"
    upload.write_text("\n".join([header, *rows]) + "\n")

    login(page, server.url, "alice", USERS["alice"][0])
    wait_ready(page)
    page.locator("#upload-button-input").set_input_files(str(upload))
    send(page, "Here is this week's analytics export")
    expect(page.get_by_text("Ingested").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("1 rejected").first).to_be_visible()
    expect(page.get_by_role("cell", name="5", exact=True).first).to_be_visible()  # header is line 1
    shot(page, "06_csv_upload_summary")


def test_viewer_sees_plays_but_cannot_decide(page: Page, server) -> None:
    before = decisions(server)
    login(page, server.url, "victor", USERS["victor"][0])
    wait_ready(page)
    expect(page.get_by_text("(viewer)").first).to_be_visible()
    expect(page.get_by_text("Why it triggered").first).to_be_visible()
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    send(page, "KPI status")
    expect(page.get_by_text("KPI status as of").first).to_be_visible(timeout=30_000)
    send(page, "Show conversion rate")
    expect(page.get_by_text("7d window").first).to_be_visible(timeout=30_000)
    expect(page.locator(".js-plotly-plot").or_(page.get_by_text("chart unavailable")).first).to_be_visible()
    shot(page, "07_viewer_no_buttons")
    assert decisions(server) == before
