"""Real-browser fixtures: the command center on a free port over a temp CHIMERA_HOME with the demo
client, and Debian's Chromium driven by sync Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
USERS = {"alice": ("alice-pass-1", "approver"), "victor": ("victor-pass-1", "viewer")}
ERROR_MARKS = ("Traceback", " - ERROR - ", "An error occurred")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, home: Path, log: Path, proc: subprocess.Popen):
        self.url, self.home, self.log, self.proc = url, home, log, proc
        self.checked = 0

    def new_errors(self) -> list[str]:
        """Error lines logged since the last call (Chainlit logs handler exceptions instead of raising),
        each with the lines after it: a bare 'Traceback (most recent call last):' says nothing in CI."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        fresh, self.checked = text[self.checked:], len(text)
        lines = fresh.splitlines()
        return ["\n".join(lines[i:i + 40]) for i, line in enumerate(lines) if any(m in line for m in ERROR_MARKS)
                and not (i and "Traceback" in line and any(m in lines[i - 1] for m in ERROR_MARKS))]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium (never `playwright install`)")
    home = tmp_path_factory.mktemp("e2e_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHIMERA_"))}
    env |= {"CHIMERA_HOME": str(home), "CHIMERA_LLM": "offline", "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(32),
            "CHIMERA_USERS": ",".join(f"{n}:{p}:{r}" for n, (p, r) in USERS.items())}
    subprocess.run([sys.executable, "-c", "from chimera.demo.demo_client import ensure_demo_client; "
                    "ensure_demo_client()"], env=env, cwd=ROOT, check=True, timeout=120)
    port = _free_port()
    log = home / "server.log"
    fh = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "chainlit", "run", str(ROOT / "app.py"), "--headless",
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/auth/config", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            fh.close()
            pytest.fail(f"chainlit did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    srv = Server(url, home, log, proc)
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    fh.close()


@pytest.fixture(scope="session")
def browser(server: Server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server: Server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url)
                  else route.abort())
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(autouse=True)
def _server_log_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test when the server logged an error while it ran."""
    if "server" not in request.fixturenames:
        yield
        return
    srv: Server = request.getfixturevalue("server")
    srv.new_errors()
    yield
    errors = srv.new_errors()
    assert not errors, "server log shows errors:\n" + "\n".join(errors)
