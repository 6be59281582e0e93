"""What an operator onboarding their own shop met editing configs by hand (QA pass 7): a play citing
an SOP that does not exist was accepted (and cited, unread, in every explanation), an SOP library
kept in ``$CHIMERA_HOME/libraries/`` (which SOP search reads) was refused as missing, and a misspelt
required key (``warnign:``) was reported twice, once as "Field required" on the mapping's first line."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera import settings
from chimera.cli import _register, app, run
from chimera.clients import list_clients
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


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``chimera ARGS`` as the entry point runs it (errors as one line each on stderr): exit code, stderr."""
    _register()
    capsys.readouterr()
    monkeypatch.setattr("sys.argv", ["chimera", *args])
    code = run()
    return code, capsys.readouterr().err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CHIMERA_HOME on SQLite, the CLI registered."""
    monkeypatch.setenv("CHIMERA_HOME", str(tmp_path))
    monkeypatch.delenv("CHIMERA_DATABASE_URL", raising=False)
    _register()
    return tmp_path


def test_client_add_over_a_copied_folder_creates_nothing_until_it_loads(home: Path, monkeypatch, capsys) -> None:
    """An agency copies shop0's folder for a new client: client add said "error" yet created the client,
    and a re-run after the fix said it already existed."""
    assert cli(monkeypatch, capsys, "client", "add", "shop0")[0] == 0
    clients = home / "configs" / "clients"
    shutil.copytree(clients / "shop0", clients / "shop1", symlinks=True)
    before = sorted(p.name for p in (clients / "shop1").iterdir())
    code, err = cli(monkeypatch, capsys, "client", "add", "shop1")
    assert code == 1
    assert "client.yml:3: name: 'shop0' is not this client's name 'shop1'" in err
    assert f"client 'shop1' not created: {clients / 'shop1'} already held these files do not load" in err
    assert "Traceback" not in err
    assert list_clients() == ["shop0"]
    assert sorted(p.name for p in (clients / "shop1").iterdir()) == before  # the user's files, as they were
    yml = clients / "shop1" / "client.yml"
    yml.write_text(yml.read_text("utf-8").replace("name: shop0", "name: shop1"), "utf-8")
    assert cli(monkeypatch, capsys, "client", "add", "shop1")[0] == 0
    assert list_clients() == ["shop0", "shop1"]


def test_client_add_that_fails_removes_the_folder_it_made(home: Path, monkeypatch, capsys) -> None:
    import chimera.clients as clients_mod

    def broken(folder: Path) -> None:
        raise ConfigError("kpis.yml:1: kpis: broken")

    monkeypatch.setattr(clients_mod, "load_config_set", broken)
    code, err = cli(monkeypatch, capsys, "client", "add", "acme")
    assert code == 1 and "client 'acme' not created: the base configs in" in err
    assert not (home / "configs" / "clients" / "acme").exists()
    assert list_clients() == []


def test_a_password_reset_keeps_the_users_role_and_grants(home: Path, monkeypatch, capsys) -> None:
    """``chimera user add alice`` again (a new password) made an approver of one shop a viewer of every shop."""
    from chimera import auth

    assert cli(monkeypatch, capsys, "client", "add", "shop")[0] == 0
    monkeypatch.delenv("CHIMERA_USERS", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("first-password\n"))
    assert cli(monkeypatch, capsys, "user", "add", "alice", "--role", "approver", "--clients", "shop",
               "--password-stdin")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second-password\n"))
    assert cli(monkeypatch, capsys, "user", "add", "alice", "--password-stdin")[0] == 0
    assert auth.authenticate("alice", "second-password") == auth.AuthUser(name="alice", role="approver",
                                                                          clients=["shop"])
    monkeypatch.setattr("sys.stdin", io.StringIO("second-password\n"))
    assert cli(monkeypatch, capsys, "user", "add", "alice", "--clients", "", "--password-stdin")[0] == 0
    assert auth.get_user("alice") == auth.AuthUser(name="alice", role="approver", clients=[])  # '' grants all


def test_a_grant_of_an_unknown_client_is_named_before_the_password(home: Path, monkeypatch, capsys) -> None:
    """``--clients myshp`` was saved without a word: the user then saw no client at all."""
    from chimera import auth

    assert cli(monkeypatch, capsys, "client", "add", "myshop")[0] == 0
    monkeypatch.delenv("CHIMERA_USERS", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("a-password\n"))
    code, err = cli(monkeypatch, capsys, "user", "add", "carol", "--clients", "myshp", "--password-stdin")
    assert code == 0
    assert "warning: user 'carol': client 'myshp' is not in this database (did you mean 'myshop'?)" in err
    assert auth.get_user("carol") == auth.AuthUser(name="carol", role="viewer", clients=["myshp"])
    monkeypatch.setattr("sys.stdin", io.StringIO("a-password\na-password\n"))
    code, err = cli(monkeypatch, capsys, "user", "add", "dan", "--role", "aprover")
    assert code == 1 and "role 'aprover'" in err and "Password" not in err
    assert sys.stdin.readline() == "a-password\n"  # refused before the password was asked for
