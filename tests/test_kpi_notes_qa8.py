"""KPI notes, QA pass 8: the anomaly phrase's change reads honestly against the rules that set the
level (DATA.md "Judging a KPI": CRITICAL at >= 4 sd and >= 20 %, WARNING at >= 3 sd and >= 10 %)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chimera.kpi.anomaly import Score
from chimera.kpi.evaluate import _anomaly_phrase
from tests.test_kpi_unseen_qa7 import specs


@pytest.mark.parametrize(("sd", "change", "level", "shown"), [
    (-4.5, -19.96, 1, "4.5 sd below its 4-week baseline 400 (-19.96%)"),  # short of CRITICAL's 20 %
    (-3.5, -9.97, 0, "3.5 sd below its 4-week baseline 400 (-9.97%), held WARNING until under 2 sd or 5%"),
    (-4.5, -14.996, 1, "4.5 sd below its 4-week baseline 400 (-14.996%)"),  # short of CRITICAL's hold 15 %
    (-4.04, -20.04, 2, "4.0 sd below its 4-week baseline 400 (-20.0%)"),  # past the bounds: 1 decimal
    (-5.94, -31.25, 2, "5.9 sd below its 4-week baseline 400 (-31.2%)"),
    (5.2, 43.75, 2, "5.2 sd above its 4-week baseline 400 (+43.8%)"),
])
def test_a_change_short_of_a_rule_never_reads_as_its_bound(sd, change, level, shown):
    """A drop of -19.96 % (WARNING: CRITICAL needs -20 %) read '(-20.0%)', the CRITICAL rule's own
    number under a WARNING status."""
    score = Score(level=level, baseline=Decimal(400), weeks=4, sd_score=sd, change_pct=change, hold=max(level, 1))
    phrase = _anomaly_phrase(specs()["orders"], score, max(level, 1), "USD")
    assert phrase == shown
    # the change shown passes exactly the rules the change passes
    shown_change = abs(float(phrase.split("(")[1].split("%")[0]))
    assert all((shown_change >= bound) == (abs(change) >= bound) for bound in (5, 10, 15, 20))
