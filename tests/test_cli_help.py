"""`chimera --help` lists the commands of DESIGN.md §7, each with help text; imports flow one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from chimera.cli import COMMANDS, _register, app

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


def test_a_flag_shows_no_value_type_and_an_option_keeps_its_own() -> None:
    """`--json` takes no value: rich help must not write `--json <bool>` (typer 0.29 did)."""
    _register()
    result = CliRunner().invoke(app, ["kpis", "--help"], terminal_width=200)
    assert result.exit_code == 0
    lines = {line.strip("│ *").split(" ")[0]: line for line in result.output.splitlines() if "--" in line}
    assert "<bool>" not in lines["--json"] and "<bool>" not in lines["--help"]
    assert "<str>" in lines["--client"]
    assert CliRunner().invoke(app, ["kpis", "--client", "x", "--json", "true"]).exit_code != 0  # still a flag


def test_every_command_maps_to_the_module_that_registers_it() -> None:
    """``chimera NAME`` imports only COMMANDS[NAME]: the map must name the module that registers it."""
    _register()
    for c in app.registered_commands:
        name = c.name or c.callback.__name__.replace("_", "-")
        assert COMMANDS[name] == (c.callback.__module__.rsplit(".", 1)[1],), name
    for g in app.registered_groups:
        modules = {c.callback.__module__.rsplit(".", 1)[1] for c in g.typer_instance.registered_commands}
        assert modules == set(COMMANDS[g.name]), g.name


def test_a_data_command_does_not_import_the_graphs() -> None:
    code = ("import sys; from chimera.cli import _register; _register('ingest'); "
            "print(sorted(m for m in ('langgraph', 'langchain_openai', 'graphs', 'agents') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    help_ = subprocess.run([sys.executable, "-m", "chimera.cli", "ingest", "--help"], capture_output=True,
                           text=True, cwd=ROOT)
    assert help_.returncode == 0 and "--client" in help_.stdout


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


def test_override_params_must_be_a_json_object(chimera_home: Path, monkeypatch, capsys) -> None:
    """`--params '[1,2]'` is refused at once (exit 1, one line), before anything is recorded: a list or a
    number would only fail later, in planning, leaving the play decided and stuck."""
    from chimera.cli.app import run

    for params in ("[1, 2]", "5", '"abc"'):
        monkeypatch.setattr("sys.argv", ["chimera", "override", "pr_x", "--reason", "test", "--params", params])
        assert run() == 1
        err = capsys.readouterr().err.strip()
        assert "--params must be a JSON object" in err and len(err.splitlines()) == 1
