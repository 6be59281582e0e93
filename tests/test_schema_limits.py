"""The published JSON Schemas (configs/schema/, for editors and users' own validation) carry the
loader's bounds: numbers below 1e15, windows and staleness of at most 730 days, the step parameters
``chimera play scale`` multiplies. A config the loader refuses for a bound is refused by the schema,
and one the loader takes at the edge of a bound is taken by it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from chimera.config.loader import FILES, load_config_set
from chimera.config.models import MAX_WINDOW_DAYS, Number, Window
from chimera.errors import ConfigError

jsonschema = pytest.importorskip("jsonschema")
BASE = Path(__file__).resolve().parents[1] / "configs"
Edit = Callable[[dict[str, Any]], None]


def _schema(key: str) -> dict[str, Any]:
    return json.loads((BASE / "schema" / f"{key}.schema.json").read_text("utf-8"))


def _schema_ok(key: str, data: Any) -> bool:
    """What a user's validator says of the file, as read by the loader's YAML 1.1 (``1e15`` is a string)."""
    return jsonschema.Draft202012Validator(_schema(key)).is_valid(json.loads(json.dumps(data, default=str)))


def _judged(tmp_path: Path, key: str, edit: Edit) -> tuple[str, bool]:
    """The loader's problems ("" when it loads) and the schema's verdict for the base set with one file edited."""
    folder = tmp_path / "configs"
    folder.mkdir()
    for name in FILES.values():
        shutil.copy2(BASE / name, folder / name)
    data = yaml.safe_load((BASE / FILES[key]).read_text("utf-8"))
    edit(data)
    (folder / FILES[key]).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        load_config_set(folder)
        problems = ""
    except ConfigError as exc:
        problems = "\n".join(exc.problems)
    return problems, _schema_ok(key, data)


def _kpi(field: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["kpis"][0][field] = value
    return edit


def _trigger(condition: dict[str, Any]) -> Edit:
    """The first play fires on ``condition`` over a currency KPI (a percent KPI's bound has a rule of its own)."""
    def edit(data: dict[str, Any]) -> None:
        data["plays"][0]["trigger"] = {"kpi": "aov", **condition}
    return edit


def _params(scale: list[str] | None = None, **params: Any) -> Edit:
    """The first play's first step with ``params`` set, and the policy's ``scale_params`` when given."""
    def edit(data: dict[str, Any]) -> None:
        data["plays"][0]["job_plan"][0]["params"].update(params)
        if scale is not None:
            data["policy"]["scale_params"] = scale
    return edit


REFUSED = [  # (file, edit, what the loader says)
    ("kpis", _kpi("min_denominator", "1e15"), "too large"),  # PyYAML reads an unquoted 1e15 as text
    ("kpis", _kpi("min_denominator", 1e15), "too large"),
    ("kpis", _kpi("min_denominator", -(10**15)), "too large"),
    ("kpis", _kpi("target", "1e400"), "too large"),
    ("kpis", _kpi("warning_recovery", "12345678901234567e-1"), "too large"),
    ("kpis", _kpi("window", f"{MAX_WINDOW_DAYS + 1}d"), f"at most {MAX_WINDOW_DAYS} days"),
    ("kpis", _kpi("window", "0d"), "window"),
    ("kpis", _kpi("max_staleness_days", MAX_WINDOW_DAYS + 1), f"at most {MAX_WINDOW_DAYS} days"),
    ("kpis", _kpi("max_staleness_days", -1), "max_staleness_days"),
    ("plays", _trigger({"below": "1e15"}), "too large"),
    ("plays", _trigger({"change_pct_below": -10, "over": "1000d"}), f"at most {MAX_WINDOW_DAYS} days"),
    ("plays", _trigger({"change_pct_above": 1e16}), "too large"),
    ("plays", _params(max_change_pct=1e20), "too large"),
    ("plays", _params(max_change_pct="2e15"), "too large"),
    ("plays", _params(count="1e16"), "too large"),  # count is one of the policy's scale_params
    ("plays", _params(scale=["count"], change_pct=1e20), "too large"),  # not scaled, but capped by max_change_pct
]
ACCEPTED = [  # at the edge of each bound, or outside what the bound covers
    ("kpis", _kpi("min_denominator", 999_999_999_999_999)),
    ("kpis", _kpi("min_denominator", "999999999999999.99")),
    ("kpis", _kpi("min_denominator", "1e14")),
    ("kpis", _kpi("min_denominator", "12345678901234567e-3")),
    ("kpis", _kpi("window", f"{MAX_WINDOW_DAYS}d")),
    ("kpis", _kpi("max_staleness_days", MAX_WINDOW_DAYS)),
    ("kpis", _kpi("max_staleness_days", 0)),
    ("plays", _trigger({"below": -999_999_999_999_999})),
    ("plays", _trigger({"change_pct_below": -10, "over": f"{MAX_WINDOW_DAYS}d"})),
    ("plays", _params(count=999_999_999_999_999, max_change_pct="25")),
    ("plays", _params(scale=["change_pct"], count=1e20)),  # count no longer scaled, and has no cap
    ("plays", _params(boost="1e20", products="top_sellers_by_units_90d")),  # not a scaled parameter
]


@pytest.mark.parametrize(("key", "edit", "says"), REFUSED, ids=[f"refused-{i}" for i in range(len(REFUSED))])
def test_a_value_the_loader_refuses_for_a_bound_is_refused_by_the_schema(
        tmp_path: Path, key: str, edit: Edit, says: str) -> None:
    problems, schema_ok = _judged(tmp_path, key, edit)
    assert says in problems, problems
    assert not schema_ok, "the loader refuses it: the schema must too"


@pytest.mark.parametrize(("key", "edit"), ACCEPTED, ids=[f"accepted-{i}" for i in range(len(ACCEPTED))])
def test_a_value_the_loader_takes_is_taken_by_the_schema(tmp_path: Path, key: str, edit: Edit) -> None:
    problems, schema_ok = _judged(tmp_path, key, edit)
    assert problems == ""
    assert schema_ok, "the loader takes it: the schema must too"


def _number_schema() -> jsonschema.Draft202012Validator:
    kpis = _schema("kpis")
    return jsonschema.Draft202012Validator({"$defs": kpis["$defs"], "$ref": "#/$defs/Number"})


def _model_ok(adapter: TypeAdapter, value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@st.composite
def decimal_text(draw: st.DrawFn) -> str:
    """Decimal text as a person (or PyYAML, leaving ``1e3`` a string) writes it: up to 31 digits before
    the point, an exponent within +-30, spaces and signs; not ``0.01e16`` (a mantissa below 1 with an
    exponent past 15, which the schema refuses though the loader would take it)."""
    whole = draw(st.text("0123456789", max_size=31))
    point = draw(st.sampled_from(["", ".", "." + draw(st.text("0123456789", min_size=1, max_size=4))]))
    if not (whole + point).strip("."):
        whole = "0"
    exponent = draw(st.none() | st.integers(-30, 30))
    if exponent is not None and exponent > 15 and not whole.strip("0"):
        exponent = 15
    sign = draw(st.sampled_from(["", "+", "-"]))
    text = whole + point
    if exponent is not None:
        text += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "+"] if exponent >= 0 else [""])) + (
            draw(st.sampled_from(["", "0"])) + str(exponent))
    return draw(st.sampled_from(["", " "])) + sign + text + draw(st.sampled_from(["", " "]))


@given(decimal_text())
def test_the_schema_reads_a_number_written_as_text_as_the_loader_does(text: str) -> None:
    loader = _model_ok(TypeAdapter(Number), text)
    assert _number_schema().is_valid(text) == loader, (text, Decimal(text.strip()), loader)


@given(st.integers(-(10**16), 10**16) | st.floats(-1e16, 1e16, allow_nan=False))
def test_the_schema_reads_a_number_as_the_loader_does(value: float) -> None:
    assert _number_schema().is_valid(value) == _model_ok(TypeAdapter(Number), value), value


def test_windows_of_every_length_agree() -> None:
    kpi = _schema("kpis")["$defs"]["KPI"]["properties"]["window"]
    window = jsonschema.Draft202012Validator(kpi)
    adapter = TypeAdapter(Window)
    disagree = [n for n in range(0, 2 * MAX_WINDOW_DAYS) if window.is_valid(f"{n}d") != _model_ok(adapter, f"{n}d")]
    assert disagree == []
    assert window.is_valid(f"{MAX_WINDOW_DAYS}d") and not window.is_valid(f"{MAX_WINDOW_DAYS + 1}d")
    assert not window.is_valid("07d") and not _model_ok(adapter, "07d")
