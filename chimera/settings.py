"""Where things live and which backends are chosen, read from the environment each time.

Read at call time (not import time) so tests and the CLI can change ``CHIMERA_HOME`` freely.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASE_CONFIG_DIR = PROJECT_ROOT / "configs"
LIBRARIES_DIR = PROJECT_ROOT / "libraries"
PROMPTS_DIR = PROJECT_ROOT / "prompts"


def home() -> Path:
    """The folder that holds the database file, client config sets and outboxes."""
    return Path(os.environ.get("CHIMERA_HOME") or Path.cwd()).resolve()


def database_url() -> str:
    """``CHIMERA_DATABASE_URL`` or a SQLite file in ``CHIMERA_HOME``."""
    url = os.environ.get("CHIMERA_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{home() / 'chimera.db'}"


def is_postgres(url: str | None = None) -> bool:
    return (url or database_url()).startswith(("postgresql", "postgres"))


def clients_dir() -> Path:
    """Per-client config sets: ``$CHIMERA_HOME/configs/clients/<name>/``."""
    return home() / "configs" / "clients"


def client_dir(name: str) -> Path:
    return clients_dir() / name


def outbox_dir(name: str) -> Path:
    """Assets produced by bots (dry run) for one client."""
    return home() / "outbox" / name


def secrets_dir() -> Path:
    """Per-client salts and credentials; never inside the database."""
    return home() / ".chimera" / "secrets"
