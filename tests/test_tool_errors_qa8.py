"""A tool that fails for a reason other than its arguments (the database, a file) must not hand the
error's text to the model: a connection error can carry the database URL with its password. Bad
arguments still come back with their reason, so the model can correct the call."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from agents.tools import Toolbox

SECRET_URL = "postgresql://chimera:s3cret-pw@db.internal:5432/prod"


class _Broken(Toolbox):
    def kpi_statuses(self) -> list[dict[str, Any]]:
        """KPI statuses (here: the database is gone)."""
        raise OperationalError(f"connect to {SECRET_URL}", {}, Exception(f"could not connect: {SECRET_URL}"))

    def metric_series(self, metric: str, days: int = 28) -> list[dict[str, Any]]:
        """A metric's days (here: a bad name)."""
        raise ValueError(f"no metric {metric!r}; read {SECRET_URL}")


def test_a_database_failure_reaches_the_model_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agents.tools"):
        result = _Broken(client=None).call("kpi_statuses", {})  # type: ignore[arg-type]
    assert result == {"error": "the tool kpi_statuses failed (OperationalError); the details are in the log"}
    assert "s3cret-pw" not in caplog.text and "kpi_statuses failed" in caplog.text


def test_a_bad_argument_comes_back_with_its_reason_and_no_credentials() -> None:
    result = _Broken(client=None).call("metric_series", {"metric": "nope"})  # type: ignore[arg-type]
    assert result["error"].startswith("ValueError: no metric 'nope'")
    assert "s3cret-pw" not in result["error"] and "postgresql://***@db.internal" in result["error"]
