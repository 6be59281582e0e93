"""Test-wide fixtures: an isolated CHIMERA_HOME per test, the shared sample store, Postgres, and
a guard that makes any model call (any HTTP request) to a non-local host fail."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

# No per-example time limit: the property tests read files with polars, and a loaded 2-core CI
# run took 395 ms for an example Hypothesis's default 200 ms deadline failed (a time, not a bug).
settings.register_profile("chimera", deadline=None)
settings.load_profile("chimera")

pytest_plugins = ["tests.fake_openai_server", "tests.cycle_fixtures"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLE_STORE = SHARED / "data" / "sample_store"
PG_URL = os.environ.get("CHIMERA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_LOCAL = {"127.0.0.1", "localhost", "::1", "testserver"}


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP request to a host other than this machine fails the test (no real model calls)."""
    real_send, real_async_send = httpx.Client.send, httpx.AsyncClient.send

    def _check(request: httpx.Request) -> None:
        if request.url.host not in _LOCAL:
            raise AssertionError(f"test tried to reach {request.url.host}: real model/API calls are forbidden")

    def send(self, request, *args, **kwargs):
        _check(request)
        return real_send(self, request, *args, **kwargs)

    async def async_send(self, request, *args, **kwargs):
        _check(request)
        return await real_async_send(self, request, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", send)
    monkeypatch.setattr(httpx.AsyncClient, "send", async_send)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHIMERA_MODEL", "CHIMERA_LLM_CASSETTE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CHIMERA_LLM", "offline")


@pytest.fixture
def chimera_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CHIMERA_HOME with its own SQLite database."""
    from chimera.db.engine import dispose_all

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CHIMERA_HOME", str(home))
    monkeypatch.delenv("CHIMERA_DATABASE_URL", raising=False)
    dispose_all()
    yield home
    dispose_all()


@pytest.fixture
def sample_store() -> Path:
    """The shared realistic store; skipped with a reason when ../shared is absent."""
    if not (SAMPLE_STORE / "orders_export.csv").exists():
        pytest.skip(f"shared sample store not found at {SAMPLE_STORE} (it ships with the dev/CI workspace only)")
    return SAMPLE_STORE


def _pg_answers(url: str) -> bool:
    host, port = "127.0.0.1", 5432
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A fresh Postgres schema on the local server; skipped with a reason when none answers."""
    if not _pg_answers(PG_URL):
        pytest.skip("no Postgres server answers at 127.0.0.1:5432")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    base = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{base}?options=-csearch_path%3D{schema}"
    from chimera.db.engine import dispose_all

    home = tmp_path / "pghome"
    home.mkdir()
    monkeypatch.setenv("CHIMERA_HOME", str(home))
    monkeypatch.setenv("CHIMERA_DATABASE_URL", url)
    dispose_all()
    yield url
    dispose_all()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def store_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exports for storage-rule tests: the shared sample store when present, else the project's own
    seeded generator (same file names and layouts, same 150-day window), so these tests never skip."""
    if (SAMPLE_STORE / "orders_export.csv").exists():
        return SAMPLE_STORE
    from datetime import date

    from chimera.demo.generator import DemoEvents, RefundSpike, generate_store

    out = tmp_path_factory.mktemp("generated-store")
    generate_store(out, start=date(2025, 12, 2), days=150, seed=777,
                   events=DemoEvents(refund_spike=RefundSpike(day=90)))
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The QA sweeps over generated unseen stores, exports, configs and model answers (files named
    `*unseen*`) are `sweep` tests: CHIMERA_SWEEP=1 bash scripts/test.sh runs them with the rest. The
    default command keeps within CI's 20 minutes on a 2-core machine (the suite took 22 with them)."""
    for item in items:
        if "unseen" in item.path.name:
            item.add_marker(pytest.mark.sweep)
