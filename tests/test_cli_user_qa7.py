"""What an operator onboarding their own shop met editing configs by hand (QA pass 7): a play citing
an SOP that does not exist was accepted (and cited, unread, in every explanation), an SOP library
kept in ``$CHIMERA_HOME/libraries/`` (which SOP search reads) was refused as missing, and a misspelt
required key (``warnign:``) was reported twice, once as "Field required" on the mapping's first line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera import settings
from chimera.cli import _register, app
from chimera.config.loader import FILES, load_config_set
from chimera.errors import ConfigError


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A copy of the base set and of the shipped SOP libraries, under a fresh CHIMERA_HOME."""
    monkeypatch.setenv("CHIMERA_HOME", str(tmp_path / "home"))
    folder, libs = tmp_path / "configs", tmp_path / "libraries"
    folder.mkdir()
    for fname in FILES.values():
        shutil.copy2(settings.BASE_CONFIG_DIR / fname, folder / fname)
    shutil.copytree(settings.LIBRARIES_DIR, libs)
    return folder, libs


def _patch(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path``; the 1-based line it was on."""
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    return text[: text.index(old)].count("\n") + 1


def _problems(folder: Path, libs: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=libs)
    return info.value.problems


def test_a_play_citing_a_missing_sop_is_refused_at_its_line(config_copy: tuple[Path, Path]) -> None:
    folder, libs = config_copy
    line = _patch(folder / "plays.yml", "sops: [commerce/pricing-test.md", "sops: [commerce/pricing-tests.md")
    [problem] = _problems(folder, libs)
    assert problem.startswith(f"plays.yml:{line}: plays.0.sops.0: SOP 'commerce/pricing-tests.md' not found")
    assert "did you mean 'commerce/pricing-test.md'?" in problem


def test_an_sop_of_a_library_in_chimera_home_is_citable(config_copy: tuple[Path, Path]) -> None:
    folder, libs = config_copy
    own = settings.home() / "libraries" / "coffee"
    own.mkdir(parents=True)
    (own / "roast-calendar.md").write_text("---\ntitle: Roast calendar\n---\nRoast on Mondays.\n", "utf-8")
    _patch(folder / "plays.yml", "sops: [commerce/pricing-test.md", "sops: [coffee/roast-calendar.md")
    play = load_config_set(folder, libraries_dir=libs).play("pricing_test")
    assert play.sops[0] == "coffee/roast-calendar.md"
    _patch(folder / "plays.yml", "coffee/roast-calendar.md", "coffee/roast-calender.md")
    [problem] = _problems(folder, libs)
    assert "did you mean 'coffee/roast-calendar.md'?" in problem


def test_a_misspelt_required_key_is_one_problem_on_its_own_line(config_copy: tuple[Path, Path]) -> None:
    folder, libs = config_copy
    line = _patch(folder / "kpis.yml", "    warning: 4000\n", "    warnign: 4000\n")
    assert _problems(folder, libs) == [
        f"kpis.yml:{line}: kpis.0.warnign: unknown field (did you mean 'warning'? it is required)"]


def test_a_misspelt_fiverr_column_key_in_client_yml_names_its_line(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIMERA_HOME", str(tmp_path))
    monkeypatch.delenv("CHIMERA_DATABASE_URL", raising=False)
    _register()
    runner = CliRunner()
    assert runner.invoke(app, ["client", "add", "shop"]).exit_code == 0
    client_yml = tmp_path / "configs" / "clients" / "shop" / "client.yml"
    text = client_yml.read_text("utf-8")
    client_yml.write_text(text + "fiverr:\n  date: Order Date\n  amount: Amount\n  stauts: Status\n", "utf-8")
    line = text.count("\n") + 4
    result = runner.invoke(app, ["config", "check", "--client", "shop"])
    assert result.exit_code == 1
    assert f"client.yml:{line}: fiverr.stauts: unknown field (did you mean 'status'? it is required)" in result.output
    assert "Field required" not in result.output
