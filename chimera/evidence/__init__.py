"""Evidence (manual §4.6, §6.2, §8.3): what a play did to its KPIs, labelled before/after, no control
group, with an interval, a placebo check and the confounders that overlap its windows."""

from chimera.evidence.models import METHOD, VERDICTS, Confounder, EffectEstimate, Judgement, PlaceboResult
from chimera.evidence.record import evidence_report, log_evidence, log_manual_play, refresh_evidence
from chimera.evidence.stats import estimate, judge, judge_together, placebo

__all__ = [
    "METHOD", "VERDICTS", "Confounder", "EffectEstimate", "Judgement", "PlaceboResult",
    "estimate", "evidence_report", "judge", "judge_together", "log_evidence", "log_manual_play", "placebo",
    "refresh_evidence",
]
