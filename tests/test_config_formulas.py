"""KPI formulas are parsed when configs load: a broken formula or an unknown metric name is a
``kpis.yml:LINE: kpis.N.formula: problem`` config error, never a traceback or a silent UNKNOWN."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chimera import settings
from chimera.cli import _register
from chimera.cli.app import app
from chimera.config.loader import load_config_set
from chimera.errors import ConfigError
from chimera.ingest.models import BASE_METRICS
from chimera.kpi.formula import FormulaError, parse_formula
from tests import test_config_errors

_register()
runner = CliRunner()
GOOD = "formula: orders / sessions\n"  # conversion_rate, the one line QA broke


@pytest.mark.parametrize(("text", "problem", "position"), [
    ("orders / sessions * 100 +", "ends too early after '+'", 26),
    ("orders / (sessions", "ends too early after 'sessions' (expected ')' to close '(' at position 10)", 19),
    ("orders sessions", "unexpected metric 'sessions' at position 8", 8),
    ("orders // sessions", "unexpected '/' at position 9", 9),
    ("orders / sessions)", "unexpected ')' at position 18", 18),
    ("orders % sessions", "unexpected character '%' at position 8", 8),
    ("orders / 2.", "unexpected character '.' at position 11", 11),
    ("   ", "is empty", 1),
    ("(" * 60 + "orders" + ")" * 60, "nests deeper than 50", 51),
    (" + ".join(["orders"] * 150), "has more than 200 tokens", 901),
])
def test_parse_errors_say_what_is_wrong_where(text: str, problem: str, position: int) -> None:
    with pytest.raises(FormulaError) as err:
        parse_formula(text)
    assert err.value.problem.startswith(problem)
    assert err.value.position == position
    assert str(err.value).startswith(f"formula {text!r}: ")
    assert isinstance(err.value, ValueError)  # callers that caught ValueError still do


@pytest.mark.parametrize("text", ["orders / sessions", " -(a - b) * 2 / (c + 0.5) ", "fiverr_completed / "
                                  "(fiverr_completed + fiverr_cancelled)", "net_sales"])
def test_good_formulas_still_parse(text: str) -> None:
    f = parse_formula(text)
    assert f.metrics and f.evaluate({m: Decimal(3) for m in f.metrics}) is not None


def test_every_base_formula_uses_only_base_metrics() -> None:
    kpis = yaml.safe_load((settings.BASE_CONFIG_DIR / "kpis.yml").read_text("utf-8"))["kpis"]
    formulas = [k["formula"] for k in kpis if k["formula"].strip() != "repeat_purchase_rate"]
    assert len(formulas) == len(kpis) - 1
    for text in formulas:
        assert set(parse_formula(text).metrics) <= BASE_METRICS, text


config_copy = test_config_errors.config_copy  # the same temp copy of the base set


def _problems(folder: Path, libs: Path, formula: str) -> tuple[list[str], str]:
    """Problems of the set with conversion_rate's formula replaced; also the expected ``file:line: field``."""
    kpis = folder / "kpis.yml"
    text = kpis.read_text("utf-8")
    assert text.count(GOOD) == 1
    kpis.write_text(text.replace(GOOD, f"formula: {formula}\n"), "utf-8")
    line = next(no for no, row in enumerate(text.splitlines(), 1) if row.strip() == GOOD.strip())
    index = [k["id"] for k in yaml.safe_load(text)["kpis"]].index("conversion_rate")
    with pytest.raises(ConfigError) as err:
        load_config_set(folder, libraries_dir=libs)
    return err.value.problems, f"kpis.yml:{line}: kpis.{index}.formula: "


@pytest.mark.parametrize(("formula", "problem"), [
    ("orders / sesions", "unknown metric 'sesions' (did you mean 'sessions'?)"),
    ("orders / sessions * 100 +", "ends too early after '+' (expected a metric, a number, '-' or '(')"),
    ("orders / (sessions", "ends too early after 'sessions' (expected ')' to close '(' at position 10)"),
    ("orders sessions", "unexpected metric 'sessions' at position 8 (expected an operator + - * / or the end)"),
    ("orders // sessions", "unexpected '/' at position 9 (expected a metric, a number, '-' or '(')"),
    ("repeat_purchase_rate * 100",
     "'repeat_purchase_rate' must be the whole formula (it counts customers, not a metric)"),
])
def test_bad_formula_is_one_config_problem_with_file_line_field(config_copy, formula: str, problem: str) -> None:
    problems, where = _problems(*config_copy, formula)
    assert problems == [where + problem]


def test_each_unknown_name_is_reported(config_copy) -> None:
    problems, where = _problems(*config_copy, "ordrs / sesions + zzz")
    assert problems == [where + "unknown metric 'ordrs' (did you mean 'orders'?)",
                        where + "unknown metric 'sesions' (did you mean 'sessions'?)",
                        where + "unknown metric 'zzz'"]


def test_repeat_purchase_rate_alone_is_fine(config_copy) -> None:
    folder, libs = config_copy
    kpis = folder / "kpis.yml"
    kpis.write_text(kpis.read_text("utf-8").replace(GOOD, "formula: ' repeat_purchase_rate '\n"), "utf-8")
    assert load_config_set(folder, libraries_dir=libs).kpi("conversion_rate").formula.strip() == "repeat_purchase_rate"


@pytest.mark.parametrize("argv", [["kpis", "--client", "acme"], ["cycle", "--client", "acme"],
                                  ["daily", "--client", "acme"], ["config", "check", "--client", "acme"]])
@pytest.mark.parametrize(("formula", "problem"), [
    ("orders / sessions * 100 +", "ends too early after '+'"),
    ("orders / sesions", "unknown metric 'sesions' (did you mean 'sessions'?)"),
])
def test_every_command_refuses_with_the_one_line(chimera_home: Path, monkeypatch, capsys, argv, formula,
                                                 problem) -> None:
    from chimera.cli.app import run

    assert runner.invoke(app, ["client", "add", "acme"]).exit_code == 0
    kpis = settings.client_dir("acme") / "kpis.yml"
    text = kpis.read_text("utf-8")
    kpis.write_text(text.replace(GOOD, f"formula: {formula}\n"), "utf-8")
    line = next(no for no, row in enumerate(text.splitlines(), 1) if row.strip() == GOOD.strip())
    capsys.readouterr()
    monkeypatch.setattr("sys.argv", ["chimera", *argv])
    assert run() == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ValueError" not in err
    wanted = f"kpis.yml:{line}: kpis.7.formula: {problem}"
    # a --client command names the client's own file by path (configs/clients/acme/kpis.yml:N)
    assert any(row.removeprefix("error: ").startswith(wanted) or f"/clients/acme/{wanted}" in row
               for row in err.splitlines()), err


# ------------------------------------------------------------------ property: only FormulaError

_TOKENS = st.sampled_from(["orders", "sessions", "net_sales", "x", "1", "2.5", "0", "+", "-", "*", "/", "(", ")",
                           "//", "%", ".", " ", "A", "_a", "9z"])


@hsettings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=30), st.sampled_from(["", " "]))
def test_random_token_sequences_raise_only_formula_error(tokens: list[str], sep: str) -> None:
    text = sep.join(tokens)
    try:
        f = parse_formula(text)
    except FormulaError as err:
        assert 1 <= err.position <= len(text) + 1
        return
    assert all(m in text for m in f.metrics)  # a constant-only formula parses; the KPI model refuses it
    f.evaluate({m: Decimal(1) for m in f.metrics})  # None (x / 0) or a value, never an exception


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab1.+-*/() _%\t", max_size=300))
def test_random_text_raises_only_formula_error(text: str) -> None:
    try:
        parse_formula(text)
    except FormulaError:
        pass
