"""`chimera --help` lists the commands of DESIGN.md §7, each with help text; imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

from typer.testing import CliRunner

from chimera.cli import _register, app

ROOT = Path(__file__).resolve().parents[1]
DESIGN_COMMANDS = ["demo", "client", "ingest", "metrics", "kpis", "cycle", "approve", "override", "reject",
                   "play", "evidence", "jobs", "daily", "monthly", "report", "config", "sop", "chat", "worker"]


def test_help_lists_every_design_command_with_help_text() -> None:
    _register()
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    lines = {line.strip("│ ").split(" ")[0]: line for line in result.output.splitlines() if line.startswith("│ ")}
    for command in DESIGN_COMMANDS:
        assert command in lines, command
        assert len(lines[command].strip("│ ").split()) > 2, f"{command} has no help text"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
    return names


def test_imports_flow_one_way() -> None:
    """app.py and the CLI -> graphs -> agents -> chimera; the core never imports the layers above."""
    for path in (ROOT / "chimera").rglob("*.py"):
        if "cli" in path.relative_to(ROOT / "chimera").parts:
            continue
        assert not _imports(path) & {"graphs", "agents", "app"}, path
    for path in (ROOT / "agents").rglob("*.py"):
        assert not _imports(path) & {"graphs", "app"}, path
    for path in (ROOT / "graphs").rglob("*.py"):
        assert "app" not in _imports(path), path


def test_agents_package_is_ours_not_the_openai_sdk() -> None:
    import agents

    assert Path(agents.__file__).resolve().parent == ROOT / "agents"
