"""A play's reason quotes an anomaly with the digits the KPI note shows: never rounded onto a
rule's bound the score has not reached (3.99 sd is not '4.0 sd', the CRITICAL rule's number)."""

from __future__ import annotations

from decimal import Decimal

from chimera.plays.trigger import StatusCause, anomaly_phrase


def test_the_plays_anomaly_phrase_is_not_rounded_onto_a_rules_bound() -> None:
    near = StatusCause(threshold_status="OK", anomaly_level="WARNING", sd_score=Decimal("-3.99"),
                       baseline=Decimal("0.0241"), weeks=4, change_pct=Decimal("-19.96"))
    assert anomaly_phrase(near, "percent") == "3.99 sd below its 4-week baseline 2.41% (-19.96%)"
    far = StatusCause(threshold_status="OK", anomaly_level="CRITICAL", sd_score=Decimal("8.94"),
                      baseline=Decimal("0.0241"), weeks=3, change_pct=Decimal("27.61"))
    assert anomaly_phrase(far, "percent") == "8.9 sd above its 3-week baseline 2.41% (+27.6%)"
