"""Pictures and the offline HTML report: KPI trend charts and ``chimera report`` (issue 6).

``kpi_trend_figure`` draws one KPI for a chat reply; ``write_report`` writes the whole dashboard
(KPI table, trends, plays and decisions, evidence) as one HTML file that opens without a network.
"""

from chimera.report.charts import TrendPoint, kpi_trend_figure, trend_figure, trend_points
from chimera.report.html import render_report, write_report

__all__ = ["TrendPoint", "kpi_trend_figure", "render_report", "trend_figure", "trend_points", "write_report"]
