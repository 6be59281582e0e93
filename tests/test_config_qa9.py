"""A broken config file of one client among many: ``chimera cycle --client NAME`` (and every other
command, and the ``--all`` walks) names that client's file by its path, with the line and the field;
``kpis.yml:21`` alone is every client's kpis.yml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chimera.clients import add_client
from chimera.config.messages import in_folder, shown_path
from tests.test_many_clients import cli

# (file, text to replace, its replacement, the field named, words of the problem)
BREAKS = [
    ("kpis.yml", "target: 5000\n", "target: lots\n", "kpis.0.target", "(got 'lots')"),
    ("kpis.yml", "total_sales - refunded_amount\n", "total_sales - refunded_amountt\n", "kpis.0.formula",
     "did you mean 'refunded_amount'?"),
    ("client.yml", "sources: []\n", "sources: [{kind: shopify_order, path: orders.csv}]\n", "sources.0.kind",
     "(got 'shopify_order')"),
    ("agents.yml", "libraries: [commerce, evidence]", "libraries: [comerce, evidence]",
     "commanders.0.libraries.0", "did you mean 'commerce'?"),
    ("plays.yml", "owner: commerce_commander_ai\n", "owner: comerce_commander_ai\n", "plays.0.owner",
     "unknown commander 'comerce_commander_ai'"),
]


def _break(folder: Path, file: str, old: str, new: str) -> int:
    """Replace the first ``old`` in the client's ``file``; the line it is on."""
    path = folder / file
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return text[:text.index(old)].count("\n") + 1


@pytest.mark.parametrize(("file", "old", "new", "field", "words"), BREAKS, ids=[f"{b[0]}-{b[3]}" for b in BREAKS])
def test_cycle_names_the_client_s_file_line_and_field(file: str, old: str, new: str, field: str, words: str,
                                                      chimera_home: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(chimera_home)  # an agency runs from $CHIMERA_HOME
    folder = add_client("shop").folder
    add_client("other")
    line = _break(folder, file, old, new)
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--client", "shop")
    assert code == 1 and stdout == ""
    first = stderr.strip().splitlines()[0]
    assert first.startswith(f"error: configs/clients/shop/{file}:{line}: {field}: "), stderr
    assert words in first and "Traceback" not in stderr


@pytest.mark.parametrize("command", [("kpis",), ("daily",), ("evidence",), ("jobs",), ("metrics",),
                                     ("monthly",), ("report", "--out", "r.html")])
def test_every_client_command_names_the_file_by_its_path(command: tuple[str, ...], chimera_home: Path,
                                                         monkeypatch, capsys) -> None:
    monkeypatch.chdir(chimera_home)
    folder = add_client("shop").folder
    line = _break(folder, *BREAKS[0][:3])
    code, _, stderr = cli(monkeypatch, capsys, command[0], "--client", "shop", *command[1:])
    assert code == 1
    assert f"error: configs/clients/shop/kpis.yml:{line}: kpis.0.target: " in stderr, stderr


def test_from_another_folder_the_path_starts_at_chimera_home(chimera_home: Path, tmp_path: Path, monkeypatch,
                                                               capsys) -> None:
    """Run from elsewhere (CHIMERA_HOME set): the path as a shell opens it, not relative to here."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    folder = add_client("shop").folder
    line = _break(folder, *BREAKS[0][:3])
    code, _, stderr = cli(monkeypatch, capsys, "cycle", "--client", "shop")
    where = f"$CHIMERA_HOME/configs/clients/shop/kpis.yml:{line}"
    assert code == 1 and f"error: {where}: kpis.0.target: " in stderr, stderr


def test_the_walks_name_each_broken_client_s_file(chimera_home: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(chimera_home)
    for name in ("aa", "bb", "cc"):
        add_client(name)
    lines = {name: _break(chimera_home / "configs" / "clients" / name, *BREAKS[i][:3])
             for i, name in ((0, "aa"), (2, "cc"))}
    for command in ("cycle", "jobs", "worker"):
        args = ("--once",) if command == "worker" else ("--all",)
        code, stdout, _ = cli(monkeypatch, capsys, command, *args, "--json")
        failures = {f["client"]: f["error"] for f in json.loads(stdout)["failures"]}
        assert code == 1 and {"aa", "cc"} <= set(failures), command  # cycle: bb has no data
        assert failures["aa"].startswith(f"configs/clients/aa/kpis.yml:{lines['aa']}: kpis.0.target: ")
        assert failures["cc"].startswith(f"configs/clients/cc/client.yml:{lines['cc']}: sources.0.kind: ")


def test_in_folder_names_only_the_folder_s_own_files(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "configs" / "clients" / "acme"
    folder.mkdir(parents=True)
    (folder / "kpis.yml").write_text("kpis: []\n", "utf-8")
    problems = ["kpis.yml:3: kpis.0.id: bad", "plays.yml:1: (top): missing", "/abs/kpis.yml: file not found",
                "no file here: kpis.yml:2"]
    assert in_folder(problems, folder) == ["configs/clients/acme/kpis.yml:3: kpis.0.id: bad", *problems[1:]]
    assert shown_path(Path("/") / "elsewhere" / "kpis.yml") == "/elsewhere/kpis.yml"  # under no base
    monkeypatch.chdir("/")  # never relative to the root
    assert shown_path(folder / "kpis.yml") == str(folder / "kpis.yml")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_in_folder_changes_nothing_but_a_leading_file_name(rest: str) -> None:
    folder = Path(__file__).parent  # holds conftest.py, not a config file
    problem = f"kpis.yml:{rest}"
    assert in_folder([problem], folder) == [problem]  # no kpis.yml in that folder: left as it is
    assert in_folder([rest], folder) == [rest] or rest.split(":", 1)[0].endswith((".yml", ".yaml", ".md"))


@pytest.mark.parametrize(("written", "hint"), [("dollars", " (write USD)"), ("€", " (write EUR)"),
                                               ("yen", " (write JPY)"), ("US-D", "")])
def test_a_currency_that_is_no_iso_code_is_refused_at_its_line(written: str, hint: str, chimera_home: Path,
                                                               monkeypatch, capsys) -> None:
    """``currency: dollars`` was taken as written: read as a 2-decimal currency (a yen store's money
    in hundredths), shown as 'dollars' beside every amount."""
    monkeypatch.chdir(chimera_home)
    folder = add_client("shop").folder
    line = _break(folder, "client.yml", "currency: USD\n", f"currency: '{written}'\n")
    code, _, stderr = cli(monkeypatch, capsys, "kpis", "--client", "shop")
    assert code == 1
    assert (f"error: configs/clients/shop/client.yml:{line}: currency: expected a 3-letter ISO 4217 code, like "
            f"USD, EUR or JPY{hint} (got '{written}')") in stderr, stderr


def test_a_currency_code_in_lower_case_is_read_in_upper_case(chimera_home: Path) -> None:
    from chimera.clients import get_client

    folder = add_client("shop").folder
    _break(folder, "client.yml", "currency: USD\n", "currency: ' jpy'\n")
    assert get_client("shop").config.currency == "JPY"


def test_a_decision_on_a_client_whose_config_broke_names_its_file(chimera_home: Path, monkeypatch, capsys,
                                                                  tmp_path_factory) -> None:
    """``approve ID`` names no client: the play run's client's file is named by its path all the same,
    and nothing is recorded."""
    from chimera.cli.cmd_cycle import recorded
    from tests.cycle_fixtures import make_client

    monkeypatch.chdir(chimera_home)
    make_client(chimera_home, tmp_path_factory.getbasetemp(), "shop")
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--client", "shop", "--json")
    [run_id, *_] = json.loads(stdout)["pending"]
    line = _break(chimera_home / "configs" / "clients" / "shop", *BREAKS[0][:3])
    for decision in (("approve", run_id), ("reject", run_id, "--reason", "no")):
        code, stdout, stderr = cli(monkeypatch, capsys, *decision)
        assert code == 1 and stdout == ""
        assert stderr.startswith(f"error: configs/clients/shop/kpis.yml:{line}: kpis.0.target: "), stderr
    assert recorded(run_id)[0] is None


@pytest.mark.parametrize(("written", "hint"), [("Europe/Pari", "; did you mean 'Europe/Paris'?"),
                                               ("America/NewYork", "; did you mean 'America/New_York'?"),
                                               ("PST", ", not an abbreviation or an offset"),
                                               ("Mars/Olympus_Mons", "")])
def test_a_misspelt_timezone_names_the_one_meant(written: str, hint: str, chimera_home: Path, monkeypatch,
                                                 capsys) -> None:
    """A near Region/City is suggested; an abbreviation gets none (PST is not EST, its nearest name)."""
    monkeypatch.chdir(chimera_home)
    folder = add_client("shop").folder
    line = _break(folder, "client.yml", "currency: USD\n", f"currency: USD\ntimezone: {written}\n") + 1
    code, _, stderr = cli(monkeypatch, capsys, "kpis", "--client", "shop")
    assert code == 1
    assert (f"error: configs/clients/shop/client.yml:{line}: timezone: unknown timezone (an IANA name such as "
            f"America/New_York{hint}) (got '{written}')") in stderr, stderr
