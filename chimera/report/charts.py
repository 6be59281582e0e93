"""KPI trend charts: the evaluator's own per-day judgement drawn, never a second formula.

Each day ``d`` is judged as its own as-of with the KPI package (``judge`` over shared
``KPIWindows``), so the line, the WARNING/CRITICAL markers and the anomaly band are exactly what
``chimera kpis --as-of d`` would have said. A day without a judged value (missing data, too small a
denominator, too little history) is a gap, never a zero; values the evaluator could compute but not
judge yet (too little history for a baseline) are drawn as a faint dotted line so nothing is hidden.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from decimal import Decimal

import plotly.graph_objects as go
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from chimera.clients import ClientContext
from chimera.config.loader import suggest
from chimera.config.models import KPI
from chimera.db.engine import session_scope
from chimera.errors import ConfigError
from chimera.kpi.evaluate import history_days, judge, judged_day, load_customers
from chimera.kpi.fmt import fmt_apart, fmt_bound, quantize
from chimera.kpi.formula import Series
from chimera.kpi.window import Customers, KPIWindows, is_repeat, needed_metrics
from chimera.metrics import load_series

TITLE_WIDTH = 90
"""Characters per line of a chart title (the report's charts are about 1150 px wide)."""
BAND_SD = 3
"""The shaded band is baseline +/- this many standard deviations (the WARNING rule's sd)."""
NEVER_NEGATIVE = ("percent", "count")
"""Units whose values cannot go below 0: their anomaly band stops at 0 (it is baseline ± 3 sd)."""
COLORS = {"line": "#1f4e79", "target": "#2e7d32", "warning": "#ef6c00", "critical": "#c62828",
          "band": "rgba(31, 78, 121, 0.12)", "unjudged": "#9e9e9e"}


class TrendPoint(BaseModel):
    """One day of a KPI trend: the judged value (None = gap), its status and the anomaly band."""

    model_config = ConfigDict(frozen=True)

    day: date
    status: str
    value: Decimal | None
    """The window ending ``day``, judged as of ``day``; None when UNKNOWN."""
    raw_value: Decimal | None = None
    """The window value even when it could not be judged (e.g. too little history), else None."""
    baseline: Decimal | None = None
    band_low: Decimal | None = None
    band_high: Decimal | None = None
    reason: str | None = None
    """Why the day is UNKNOWN (the evaluator's reason), else None."""


def kpi_spec(client: ClientContext, kpi_id: str) -> KPI:
    """The KPI from the client's kpis.yml, or a ConfigError naming the file and the choices."""
    specs = {k.id: k for k in client.configs.kpis.kpis}
    if kpi_id not in specs:
        raise ConfigError(f"{client.folder / 'kpis.yml'}: no KPI {kpi_id!r}{suggest(kpi_id, list(specs))}; "
                          f"expected one of {', '.join(specs)}")
    return specs[kpi_id]


def trend_points(spec: KPI, series: Series, start: date, end: date, customers: Customers | None = None,
                 currency: str | None = None) -> list[TrendPoint]:
    """Every day of ``[start, end]`` judged as its own as-of, sharing window sums across days (money
    stored as ``chimera kpis`` stores it for ``currency``)."""
    windows = KPIWindows(spec, series, customers)
    points: list[TrendPoint] = []
    for i in range((end - start).days + 1):
        day = start + timedelta(days=i)
        j = judge(windows, day, currency)
        own = windows.at(day)
        raw = quantize(own.value, spec.unit, currency) if own.ok else None
        if j.end != day:  # judged on an earlier window end: this day's own data is not in yet
            points.append(TrendPoint(day=day, status="UNKNOWN", value=None, raw_value=raw,
                                     reason=j.reason or "missing"))
            continue
        low = high = baseline = None
        score = j.score
        if score is not None and raw is not None and score.sd_score:
            half = Decimal(repr(abs(float(own.value - score.baseline) / score.sd_score) * BAND_SD))
            baseline = quantize(score.baseline, spec.unit, currency)
            low = quantize(score.baseline - half, spec.unit, currency)
            high = quantize(score.baseline + half, spec.unit, currency)
            if spec.unit in NEVER_NEGATIVE and low is not None and low < 0:
                low = Decimal(0)  # a refund rate's band read down to -4.46 %: no rate or count goes there
        judged = j.status != "UNKNOWN"
        points.append(TrendPoint(day=day, status=j.status, value=raw if judged else None, raw_value=raw,
                                 baseline=baseline, band_low=low, band_high=high, reason=j.reason))
    return points


def load_kpi_data(session: Session, client: ClientContext, specs: list[KPI], start: date, end: date
                  ) -> tuple[Series, Customers | None]:
    """The series (and customers, for repeat purchase rate) the trends of ``specs`` need, read once."""
    first = start - timedelta(days=max((history_days(s) for s in specs), default=0))
    metrics = sorted({m for s in specs for m in needed_metrics(s)})
    series = load_series(session, client.company_id, metrics, start=first, end=end)
    customers = load_customers(session, client.company_id, first, end) if any(map(is_repeat, specs)) else None
    return series, customers


def _plain(text: str) -> str:
    """A label as plotly draws it literally: titles, legends and tick suffixes are plotly's own HTML
    subset (``<b>`` bolds, ``<a href>`` links), and it turns ``&lt;`` back into the ``<`` it shows."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _axis(spec: KPI, currency: str) -> dict:
    label, currency = _plain(spec.label), _plain(currency)
    if spec.unit == "percent":
        return {"tickformat": ".2%", "title": {"text": f"{label} (%)"}}
    if spec.unit == "currency":
        return {"tickformat": ",.0f", "ticksuffix": f" {currency}", "title": {"text": f"{label} ({currency})"}}
    if spec.unit == "count":
        return {"tickformat": ",.0f", "title": {"text": label}}
    return {"tickformat": ",.2f", "title": {"text": label}}


HOVER = "%{x|%Y-%m-%d}: %{customdata}"
"""Each point's hover is its value as the KPI table shows it, carried as text (``customdata``):
plotly's own number formats round floats (0.020050 as 2.00%, the table's 2.01%) and drop fils."""


def _shown(value: Decimal | None, spec: KPI, currency: str, bound: bool = False) -> str:
    """``value`` as the KPI table shows it (``chimera.kpi.fmt``), with the currency and in its smallest
    unit (whole yen): a day's value apart from the thresholds drawn beside it (not '6.00%' under a
    warning of 6.00% it has not reached), a threshold (``bound``) exactly."""
    if value is None:
        return ""
    if bound:
        text = fmt_bound(value, spec.unit, currency)
    else:
        text = fmt_apart(value, spec.unit, [spec.target, spec.warning, spec.critical], currency=currency)
    return f"{text} {_plain(currency)}" if spec.unit == "currency" else text


def _band_runs(points: list[TrendPoint]) -> list[list[TrendPoint]]:
    """Consecutive days with a band, each drawn as one closed shape (a gap stays a gap)."""
    runs: list[list[TrendPoint]] = []
    current: list[TrendPoint] = []
    for p in points:
        if p.band_low is not None and p.band_high is not None:
            current.append(p)
        elif current:
            runs.append(current)
            current = []
    return [*runs, current] if current else runs


def trend_figure(spec: KPI, points: list[TrendPoint], currency: str = "USD") -> go.Figure:
    """The chart of ``points``: value line, thresholds, anomaly band, WARNING/CRITICAL markers."""
    days = [p.day for p in points]
    fig = go.Figure()
    for i, run in enumerate(_band_runs(points)):
        xs = [p.day for p in run] + [p.day for p in reversed(run)]
        ys = [_f(p.band_high) for p in run] + [_f(p.band_low) for p in reversed(run)]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, name=f"anomaly band (baseline ±{BAND_SD} sd)", mode="lines", fill="toself",
            fillcolor=COLORS["band"], line={"width": 0}, legendgroup="band", showlegend=i == 0,
            hoverinfo="skip"))
    unjudged = [p.raw_value if p.value is None else None for p in points]
    if any(v is not None for v in unjudged):
        fig.add_trace(go.Scatter(
            x=days, y=[_f(v) for v in unjudged], name="value, not judged (UNKNOWN)", mode="lines+markers",
            line={"color": COLORS["unjudged"], "dash": "dot", "width": 1}, marker={"size": 3},
            connectgaps=False, customdata=[_shown(v, spec, currency) for v in unjudged],
            hovertemplate=HOVER + "<extra>not judged</extra>"))
    fig.add_trace(go.Scatter(
        x=days, y=[_f(p.value) for p in points], name=_plain(f"{spec.label} ({spec.window})"), mode="lines",
        line={"color": COLORS["line"], "width": 2}, connectgaps=False,
        customdata=[_shown(p.value, spec, currency) for p in points], hovertemplate=HOVER + "<extra></extra>"))
    if days:
        for name in ("target", "warning", "critical"):
            level = getattr(spec, name)
            fig.add_trace(go.Scatter(
                x=[days[0], days[-1]], y=[float(level)] * 2, name=name, mode="lines",
                line={"color": COLORS[name], "dash": "solid" if name == "target" else "dash", "width": 1.5},
                customdata=[_shown(level, spec, currency, bound=True)] * 2,
                hovertemplate=f"{name}: %{{customdata}}<extra></extra>"))
    for status in ("WARNING", "CRITICAL"):
        marked = [p for p in points if p.status == status and p.value is not None]
        if marked:
            fig.add_trace(go.Scatter(
                x=[p.day for p in marked], y=[_f(p.value) for p in marked], name=status, mode="markers",
                marker={"color": COLORS[status.lower()], "size": 8, "symbol": "circle",
                        "line": {"color": "white", "width": 1}},
                customdata=[_shown(p.value, spec, currency) for p in marked],
                hovertemplate=HOVER + f"<extra>{status}</extra>"))
    span = f"{days[0]} to {days[-1]}" if days else "no days"
    title = textwrap.wrap(f"{spec.label}: trailing {spec.window} value per day ({span})", TITLE_WIDTH)
    fig.update_layout(  # plotly never wraps a title: a long label's lines are broken here
        title={"text": "<br>".join(_plain(line) for line in title)},
        yaxis=_axis(spec, currency),
        template="plotly_white", height=360 + 22 * (len(title) - 1),
        margin={"l": 70, "r": 20, "t": 50 + 22 * (len(title) - 1), "b": 40},
        legend={"orientation": "h", "y": -0.12}, hovermode="x unified",
    )
    return fig


def kpi_trend_figure(client_ctx: ClientContext, kpi_id: str, as_of: date | None = None, days: int = 90
                     ) -> go.Figure:
    """The trend of ``kpi_id`` over the ``days`` days ending ``as_of`` (default: newest data)."""
    spec = kpi_spec(client_ctx, kpi_id)
    with session_scope() as session:
        end = as_of or judged_day(session, client_ctx)
        start = end - timedelta(days=max(days, 1) - 1)
        series, customers = load_kpi_data(session, client_ctx, [spec], start, end)
    currency = client_ctx.config.currency
    return trend_figure(spec, trend_points(spec, series, start, end, customers, currency), currency)
