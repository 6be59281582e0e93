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


# The module that registers each top-level command or group: ``chimera ingest`` then imports only
# cmd_ingest (polars, the database), not the graphs and model clients the cycle needs (~0.5 s).
COMMANDS: dict[str, tuple[str, ...]] = {
    "client": ("cmd_client",), "config": ("cmd_config",), "play": ("cmd_plays", "cmd_evidence"),
    "sop": ("cmd_sop",), "user": ("cmd_users",), "ingest": ("cmd_ingest",), "pull": ("cmd_ingest",),
    "metrics": ("cmd_metrics",), "kpis": ("cmd_kpis",), "cycle": ("cmd_cycle",), "approve": ("cmd_cycle",),
    "override": ("cmd_cycle",), "reject": ("cmd_cycle",), "evidence": ("cmd_evidence",), "jobs": ("cmd_jobs",),
    "chat": ("cmd_chat",), "report": ("cmd_report",), "demo": ("cmd_demo",), "daily": ("cmd_rhythms",),
    "monthly": ("cmd_rhythms",), "worker": ("cmd_worker",),
}


def _register(command: str | None = None) -> None:
    """Import the command modules (each registers its commands on the app); a missing one is a bug.

    With a known ``command``, only its module: a command's run does not pay for the others'
    imports. Anything else (``--help``, a typo, no command) registers them all."""
    names = COMMANDS[command] if command in COMMANDS else COMMAND_MODULES
    for name in names:
        importlib.import_module(f"chimera.cli.{name}")


def _command(argv: list[str]) -> str | None:
    """The first argument that is not an option (typer's root has no options taking values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main() -> None:
    _register(_command(sys.argv[1:]))
    sys.exit(run())


__all__ = ["app", "main"]
