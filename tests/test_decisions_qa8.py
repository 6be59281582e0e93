"""QA8: an override keeps each step value's kind (a list stays a list, a number a number)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents.decisions import check_params, override_changes
from chimera.config.loader import load_config_set
from chimera.errors import DecisionError

CONFIGS = load_config_set(Path(__file__).resolve().parents[1] / "configs")


def _plan_value(play: str, key: str) -> Any:
    return next(s.params[key] for s in CONFIGS.play(play).job_plan if key in s.params)


@pytest.mark.parametrize(("key", "value", "kind"), [
    ("remove_fields", "company", "a list"),
    ("remove_fields", {"company": True}, "a list"),
    ("enable_express_pay", "maybe", "true or false"),
    ("enable_express_pay", [True], "true or false"),
])
def test_an_override_of_another_kind_than_the_step_value_is_refused(key: str, value: Any, kind: str) -> None:
    with pytest.raises(DecisionError) as info:
        check_params(CONFIGS, "checkout_friction_audit", {key: value})
    message = str(info.value)
    assert f"{key} {value!r} is not {kind}" in message
    assert repr(_plan_value("checkout_friction_audit", key)) in message and "nothing was recorded" in message


def test_an_override_of_the_same_kind_is_accepted_and_recorded() -> None:
    params = {"remove_fields": ["company"], "enable_express_pay": False}
    check_params(CONFIGS, "checkout_friction_audit", params)
    changes = override_changes(CONFIGS, "checkout_friction_audit", params)
    assert {(c["param"], str(c["after"])) for c in changes} == {("remove_fields", "['company']"),
                                                                 ("enable_express_pay", "False")}


def test_a_number_may_be_written_as_text() -> None:
    check_params(CONFIGS, "pricing_test", {"change_pct": "5"})
    with pytest.raises(DecisionError, match="is not"):
        check_params(CONFIGS, "pricing_test", {"change_pct": [5]})
