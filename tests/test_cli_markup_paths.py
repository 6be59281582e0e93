"""A folder name is the user's text, not terminal markup: a CHIMERA_HOME (or --out folder) holding
`[/]` crashed `chimera client add` with a MarkupError after the client was created, and `[red]`
vanished from the printed path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app

_register()
runner = CliRunner()
ODD = "a [/] b [red]c"


@pytest.fixture
def odd_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from chimera.db.engine import dispose_all

    home = tmp_path / ODD
    home.mkdir(parents=True)  # `[/]` spans two folders: `a [` and `] b [red]c`
    monkeypatch.setenv("CHIMERA_HOME", str(home))
    monkeypatch.delenv("CHIMERA_DATABASE_URL", raising=False)
    dispose_all()
    yield home
    dispose_all()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return " ".join(result.stdout.split())  # soft-wrapped lines joined


def test_paths_with_brackets_print_as_written(odd_home: Path, tmp_path: Path) -> None:
    assert f"configs in {odd_home}" in _ok(["client", "add", "zz"])
    assert f"config OK in {odd_home}" in _ok(["config", "check", "--client", "zz"])
    assert f"no version tags in {odd_home}" in _ok(["config", "tags", "--client", "zz"])
    out = tmp_path / "schema [/]"
    assert f"wrote {out}" in _ok(["config", "schema", "--out", str(out)])
