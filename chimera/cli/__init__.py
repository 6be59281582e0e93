"""The ``chimera`` command line (typer + rich). A face like app.py: it may import graphs/ and agents/.

Each command group lives in its own ``cmd_*`` module that registers on ``chimera.cli.app.app``.
"""

from __future__ import annotations

import importlib
import sys

from chimera.cli.app import app, run

COMMAND_MODULES = [
    "cmd_client",
    "cmd_config",
    "cmd_ingest",
    "cmd_metrics",
    "cmd_kpis",
    "cmd_cycle",
    "cmd_evidence",
    "cmd_jobs",
    "cmd_sop",
    "cmd_chat",
    "cmd_report",
    "cmd_demo",
    "cmd_rhythms",
    "cmd_users",
    "cmd_worker",
    "cmd_plays",
]


def _register() -> None:
    """Import every command module (each registers its commands on the app); a missing one is a bug."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"chimera.cli.{name}")


def main() -> None:
    _register()
    sys.exit(run())


__all__ = ["app", "main"]
