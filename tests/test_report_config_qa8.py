"""QA8: a report path under a file is refused clearly with nothing written; an SOP cited from an empty
library folder is refused at its line like any missing SOP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import chimera.cli.cmd_report  # noqa: F401 - registers the command
from chimera import settings
from chimera.cli.app import app
from chimera.clients import add_client
from chimera.config.loader import FILES, load_config_set
from chimera.errors import ChimeraError, ConfigError
from chimera.report.html import save_report


@pytest.fixture
def client(chimera_home: Path) -> str:
    add_client("qa8shop")
    return "qa8shop"


@pytest.mark.parametrize("rel", ["notes.txt/report.html", "notes.txt/sub/report.html"])
def test_report_under_a_file_names_the_path_and_the_file(client: str, chimera_home: Path, rel: str) -> None:
    (chimera_home / "notes.txt").write_text("keep me", encoding="utf-8")
    target = chimera_home / rel
    result = CliRunner().invoke(app, ["report", "--client", client, "--out", str(target)])
    assert result.exit_code != 0
    message = str(result.exception)
    assert isinstance(result.exception, ChimeraError)
    assert str(target) in message and f"{chimera_home / 'notes.txt'} is a file, not a folder" in message
    assert (chimera_home / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in chimera_home.iterdir() if p.name.startswith(".notes") or "report" in p.name) == []


def test_report_onto_a_folder_says_it_is_a_folder(client: str, chimera_home: Path) -> None:
    folder = chimera_home / "reports"
    folder.mkdir()
    with pytest.raises(ChimeraError, match="it is a folder; give a file name"):
        save_report(client, folder)
    assert list(folder.iterdir()) == []


def test_a_failed_write_leaves_the_old_report_whole(client: str, chimera_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = chimera_home / "out" / "report.html"
    save_report(client, target)
    before = target.read_text(encoding="utf-8")
    real_write = Path.write_text

    def half_then_fail(self: Path, text: str, *args, **kwargs) -> int:
        real_write(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError):
        save_report(client, target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == before
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_sop_cited_from_an_empty_library_folder_is_refused_at_its_line(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIMERA_HOME", str(tmp_path / "home"))  # no home library supplies the file
    folder, libs = tmp_path / "configs", tmp_path / "libraries"
    folder.mkdir()
    for fname in FILES.values():
        shutil.copy2(settings.BASE_CONFIG_DIR / fname, folder / fname)
    shutil.copytree(settings.LIBRARIES_DIR, libs)
    load_config_set(folder, libraries_dir=libs)  # the shipped set with its libraries is clean
    shutil.rmtree(libs / "evidence")
    (libs / "evidence").mkdir()  # the folder exists, empty
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=libs)
    text = (folder / "plays.yml").read_text(encoding="utf-8")
    citing = [no for no, line in enumerate(text.splitlines(), start=1)
              if line.strip().startswith("sops:") and "evidence/" in line]
    assert citing
    evidence_problems = [p for p in info.value.problems if "evidence/" in p]
    assert sorted({int(p.split(":")[1]) for p in evidence_problems}) == citing
    assert all(p.startswith("plays.yml:") and ".sops." in p and "library 'evidence' holds no SOP" in p
               for p in evidence_problems)


def _base_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    for fname in FILES.values():
        shutil.copy2(settings.BASE_CONFIG_DIR / fname, folder / fname)
    return folder


@pytest.mark.parametrize("test", ["below: 15", "status: [OK]", "anomaly: true"])
def test_over_on_a_test_without_a_change_says_what_over_is(tmp_path: Path, test: str) -> None:
    folder = _base_copy(tmp_path)
    path = folder / "plays.yml"
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if "change_pct_below:" in line and not line.lstrip().startswith("#"))
    broken = old[: old.index("{")] + f"{{kpi: sessions, {test}, over: 7d}}  # broken"
    text = text.replace(old, broken, 1)
    path.write_text(text, encoding="utf-8")
    line = next(no for no, row in enumerate(text.splitlines(), start=1) if "# broken" in row)
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=settings.LIBRARIES_DIR)
    [problem] = info.value.problems
    assert problem.startswith(f"plays.yml:{line}: plays.") and problem.split(": ")[1].endswith(".over")
    assert "over is the window of a change_pct_below / change_pct_above condition" in problem
    assert "goes in a condition of its own" not in problem  # {over: 7d} alone is no condition either
