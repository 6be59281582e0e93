"""Ids are hex names the chat's guard tells from figures: never all decimal digits."""

from __future__ import annotations

import uuid

import pytest

from chimera.db import models
from chimera.llm.guard import check_numbers


def test_an_id_is_never_all_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter([uuid.UUID("47615409-1828-4000-8000-000000000000"), uuid.UUID("3529677d-baab-4000-8000-000000000000")])
    monkeypatch.setattr(models.uuid, "uuid4", lambda: next(drawn))
    assert models.new_id() == "3529677dbaab"


def test_a_new_id_said_back_is_a_name_not_a_figure() -> None:
    for _ in range(200):
        run_id = models.new_id()
        assert not run_id.isdigit()
        output = [{"play_run_id": run_id, "play": "bundle_offer", "status": "paused"}]
        assert check_numbers(f"Play run {run_id} (bundle_offer) is paused.", output).ok, run_id
