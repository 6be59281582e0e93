"""QA follow-ups: an override's no-change, a scale's bad ``--set`` values, client.yml's name and file label.

- ``override_changes``: "5", 5, 5.0 and "5.0" are the same number, so an override writing one of them
  for a step that has another changes nothing; a real change is still listed.
- ``chimera play scale --set STEP.PARAM=VALUE``: a value no step can carry (not a number, not finite,
  beyond what a JSON reader keeps exact, shrinking or reversing the param) is refused in one line naming
  the step and the param, nothing recorded; the rule that grows params never crashes on a large one.
- client.yml: a ``name:`` that is not the client's is refused naming the file, the line and both names;
  its problems are labelled ``client.yml:LINE`` as every other config file's are, not with its full path.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chimera.errors import ConfigError, DecisionError
from tests.test_decisions_cli import chimera
from tests.test_play_revert import _refused, _run
from tests.test_play_scale import Story, _runs_of, home, story  # noqa: F401 - fixtures: this module's story, in its home

PLAY = "pricing_test"


def _base_step() -> tuple[Any, str, dict[str, Any]]:
    """The base config set, the name and the params of the play's first step."""
    from chimera.config.loader import load_config_set

    configs = load_config_set()
    step = configs.play(PLAY).job_plan[0]
    return configs, f"{step.bot}.{step.action}", dict(step.params)


# --- 1. an override's changes: the same number written differently is no change -------------------------------


def _of(name: str, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes listed for step ``name`` (another step may take the same key, from its bot's default)."""
    return [c for c in changes if c["step"] == name]


def _spellings(value: Any) -> list[Any]:
    n = Decimal(str(value))
    return [int(n), float(n), str(int(n)), str(float(n)), f"{n:.2f}"]


def test_an_override_writing_the_same_number_differently_changes_nothing() -> None:
    from agents.decisions import override_changes

    configs, name, params = _base_step()
    numeric = {k: v for k, v in params.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    assert numeric, params  # the play's first step has numbers to override
    for key, value in numeric.items():
        for same in _spellings(value):
            assert _of(name, override_changes(configs, PLAY, {key: same})) == [], (key, same)
        larger = int(value) + 1
        assert _of(name, override_changes(configs, PLAY, {key: str(larger)})) == \
            [{"step": name, "param": key, "before": value, "after": str(larger)}]
    # a scaled run's recorded params are its "before": the same number there is no change either
    key, value = next(iter(numeric.items()))
    assert _of(name, override_changes(configs, PLAY, {key: f"{value + 2}.0"}, {0: {key: value + 2}})) == []
    assert _of(name, override_changes(configs, PLAY, {key: value}, {0: {key: value + 2}})) == \
        [{"step": name, "param": key, "before": value + 2, "after": value}]


def test_an_override_changes_text_and_types_as_before() -> None:
    from agents.decisions import override_changes

    configs, name, params = _base_step()
    text = next(k for k, v in params.items() if isinstance(v, str))
    assert _of(name, override_changes(configs, PLAY, {text: params[text]})) == []
    assert _of(name, override_changes(configs, PLAY, {text: params[text] + "x"})) == \
        [{"step": name, "param": text, "before": params[text], "after": params[text] + "x"}]
    count = next(k for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool))
    assert _of(name, override_changes(configs, PLAY, {count: True}))[0]["after"] is True  # true is no number


@pytest.mark.parametrize("value", [1e30, "1e30", 10 ** 30, "1e400"])
def test_an_override_too_large_for_a_json_reader_is_refused(value: Any) -> None:
    from agents.decisions import check_params

    configs, name, params = _base_step()
    count = next(k for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool))
    with pytest.raises(DecisionError) as info:
        check_params(configs, PLAY, {count: value})
    line = str(info.value)
    assert f"{PLAY} {name} {count}" in line and "nothing was recorded" in line and "\n" not in line, line


# --- 2. a scale: the rule never crashes, a bad value is refused naming step and param -----------------------


def test_the_rule_grows_a_large_value_without_crashing() -> None:
    from chimera.plays.scale import grown

    assert grown("1e30", 1.5, "count", None) == (1.5e30, "x1.5")
    assert grown(10 ** 30, 1.5, "count", None) == (15 * 10 ** 29, "x1.5")
    assert grown(10 ** 30, 1.5, "count", Decimal(10)) == (10 ** 30, "at its cap max_count 10")


@pytest.mark.parametrize("ran", ["1e30", 10 ** 30, 2 ** 53])
def test_a_run_whose_param_would_grow_past_a_json_number_is_refused_naming_it(ran: Any) -> None:
    from chimera.plays.scale import scaled_params

    configs, name, params = _base_step()
    count = next(k for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool))
    with pytest.raises(DecisionError) as info:
        scaled_params(configs, PLAY, [(name, {**params, count: ran})], [])
    line = str(info.value)
    assert f"step 1 {name} {count}" in line and "nothing was recorded" in line and "\n" not in line, line


BAD = ["1e30", "nan", "NaN", "inf", "-Infinity", "-5", "abc", "1e400", "true", "[8]", '"8"x', "0x10"]


def test_every_bad_set_value_is_refused_in_one_line_naming_step_and_param(home: Story) -> None:  # noqa: F811
    before = len(_runs_of(PLAY))
    for param in ("count", "change_pct"):
        for value in BAD:
            line = _refused(chimera("play", "scale", home.worked, "--reason", "r", "--set",
                                    f"update_prices.{param}={value}"))
            assert "step 1 shopify_bot.update_prices" in line and param in line, (value, line)
            assert line.endswith("nothing was recorded"), (value, line)
            assert "plays are active" not in line, (value, line)  # refused for its value, before any room check
            assert value.lower() not in ("nan", "inf", "-infinity", "1e400") or "is no finite number" in line, line
    assert len(_runs_of(PLAY)) == before and _run(home.worked).status == "executed"
    assert all("scale" not in (r.rationale or {}) for r in _runs_of(PLAY))


# --- 3. client.yml: its name is the client's, its problems say client.yml:LINE ------------------------------


def test_a_client_yml_naming_another_client_is_refused_naming_file_line_and_both(tmp_path: Path) -> None:
    from chimera.clients import load_client_config

    (tmp_path / "client.yml").write_text("# copied from acme\nlabel: Beta\nname: acme\n", "utf-8")
    with pytest.raises(ConfigError) as info:
        load_client_config(tmp_path, "beta")
    [problem] = info.value.problems
    assert problem.startswith("client.yml:3: name: ") and "'acme'" in problem and "'beta'" in problem, problem
    (tmp_path / "client.yml").write_text("# copied from acme\nlabel: Beta\nname: beta\n", "utf-8")
    assert load_client_config(tmp_path, "beta").name == "beta"


def test_client_yml_problems_lists_what_loading_refuses(tmp_path: Path) -> None:
    from chimera.clients import client_yml_problems

    assert client_yml_problems(tmp_path, "beta") == []  # no client.yml: the defaults
    (tmp_path / "client.yml").write_text("name: beta\n", "utf-8")
    assert client_yml_problems(tmp_path, "beta") == []
    (tmp_path / "client.yml").write_text("name: acme\ncurrency: USD\n", "utf-8")
    [problem] = client_yml_problems(tmp_path, "beta")
    assert problem.startswith("client.yml:1: name: 'acme' is not this client's name 'beta'"), problem


def test_client_yml_problems_name_the_file_as_other_config_files_do(tmp_path: Path) -> None:
    from chimera.clients import load_client_config

    (tmp_path / "client.yml").write_text("name: beta\ncurrency: USD\nsourcez: []\n", "utf-8")
    with pytest.raises(ConfigError) as info:
        load_client_config(tmp_path, "beta")
    [problem] = info.value.problems
    assert problem.startswith("client.yml:3: sourcez: unknown field"), problem
    assert str(tmp_path) not in problem


def test_the_cli_refuses_a_client_named_otherwise_in_one_line(chimera_home: Path) -> None:
    from chimera import settings

    assert chimera("client", "add", "beta", "--json").code == 0
    yml = settings.client_dir("beta") / "client.yml"
    yml.write_text(yml.read_text("utf-8").replace("name: beta", "name: acme"), "utf-8")
    result = chimera("kpis", "--client", "beta", "--json")
    assert result.code != 0 and "Traceback" not in result.stderr, result.stderr[-1500:]
    assert "client.yml:" in result.stderr and "'acme'" in result.stderr and "'beta'" in result.stderr, result.stderr
    assert str(yml) not in result.stderr, result.stderr


def test_config_check_refuses_a_client_yml_naming_another_client(chimera_home: Path) -> None:
    """`chimera config check --client beta` said OK to the copied file every other command refuses."""
    from typer.testing import CliRunner

    from chimera.cli import _register
    from chimera.cli.app import app
    from chimera.clients import add_client

    _register()
    folder = add_client("beta").folder
    yml = folder / "client.yml"
    yml.write_text(yml.read_text("utf-8").replace("name: beta", "name: acme"), "utf-8")
    result = CliRunner().invoke(app, ["config", "check", "--client", "beta", "--json"])
    assert result.exit_code != 0
    assert "name: 'acme' is not this client's name 'beta'" in result.output


def test_a_percentage_written_whole_in_plays_yml_grows_and_is_set_as_any_number() -> None:
    """`change_pct: 10` is no count: 5 x1.5 is 7.5 (it was rounded to 8) and 12.5 may be set."""
    from chimera.plays.scale import counted, grown

    assert grown(5, 1.5, "change_pct", None) == (7.5, "x1.5")
    assert grown(10, 1.5, "change_pct", None) == (15, "x1.5")
    assert grown(5, 1.5, "count", None) == (8, "x1.5")
    assert not counted("change_pct", 10) and not counted("price_change_pct", 10) and counted("variants", 3)
    assert not counted("count", True)
