"""QA9 in real Chromium: a thread resumed from the history shows its welcome back and the plays
still pending with working buttons. Chainlit sends the browser the thread it loaded before
on_chat_resume ran, and the browser replaced what was on screen with it: the handler tests saw the
messages sent, the browser wiped them."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import USERS
from tests.e2e.test_chat_e2e import decisions, login, send, shot, wait_ready

pytestmark = pytest.mark.e2e


def _pending(server) -> int:
    with sqlite3.connect(server.home / "chimera.db") as conn:
        return conn.execute("SELECT count(*) FROM playrun WHERE status = 'suggested'").fetchone()[0]


def test_a_thread_resumed_from_history_shows_its_welcome_back_and_pending_buttons(page: Page, server) -> None:
    login(page, server.url, "alice", USERS["alice"][0])
    wait_ready(page)
    send(page, "Run the weekly cycle")  # a cycle already run is the same run: its pending plays offered again
    expect(page.get_by_text(re.compile("Weekly cycle for demo|Same run as before")).first).to_be_visible(
        timeout=60_000)
    page.wait_for_url(re.compile(r"/thread/"), timeout=15_000)
    thread_id = page.url.rsplit("/", 1)[1]
    pending = _pending(server)
    assert pending, "the cycle leaves plays awaiting a decision"
    approve = page.get_by_role("button", name="Approve", exact=True)
    expect(approve).to_have_count(pending)  # one set per play, though the chat start offered them too

    page.goto(server.url)  # a new chat, then back to the first one from the history
    wait_ready(page)
    page.locator(f"#thread-{thread_id}").click()
    expect(page.get_by_text("Welcome back, alice").first).to_be_visible()
    expect(page.get_by_text(re.compile("Weekly cycle for demo|Same run as before")).first).to_be_visible()
    expect(approve).to_have_count(pending)
    shot(page, "qa9_resumed_thread")

    before = len(decisions(server))
    approve.first.click()
    expect(page.get_by_text("approve** recorded").or_(page.get_by_text("approve recorded")).first).to_be_visible(
        timeout=60_000)
    expect(approve).to_have_count(pending - 1)
    assert len(decisions(server)) == before + 1
