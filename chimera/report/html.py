"""The offline HTML report: one file with inline CSS, plotly.js inline once, every text escaped.

It opens from a USB stick or an e-mail attachment with no network: no script src, no stylesheet
link, no font download. Numbers are the evaluator's, formatted like the CLI (``chimera.kpi.fmt``).
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal, InvalidOperation
from html import escape
from pathlib import Path
from typing import Any

from plotly.offline import get_plotlyjs

from chimera.clients import ClientContext, get_client
from chimera.config.models import KPI
from chimera.errors import ChimeraError
from chimera.evidence.record import per_day, shown_value, so_far
from chimera.evidence.stats import move_rule
from chimera.kpi.fmt import fmt, fmt_apart, fmt_bound
from chimera.kpi.models import KPIResult
from chimera.plays.holds import hold_text
from chimera.plays.weekly_review import RULES, PlayReview, figure_text
from chimera.report.charts import trend_figure
from chimera.report.data import TREND_DAYS, PlayRow, ReportData, collect

STATUSES = ("CRITICAL", "WARNING", "UNKNOWN", "OK")
CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
header{background:#1f4e79;color:#fff;padding:20px 24px}header h1{margin:0 0 4px;font-size:26px}
header p{margin:2px 0;opacity:.92}nav a{color:#fff;margin-right:16px}
h2{border-bottom:2px solid #d5dde6;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
th,td{border:1px solid #dde3ea;padding:6px 8px;text-align:left;vertical-align:top}
td,h1,h3,.card div,header p{overflow-wrap:anywhere}
th{background:#eef2f6}td.d{white-space:nowrap}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.st{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px;color:#fff}
.st-OK{background:#2e7d32}.st-WARNING{background:#ef6c00}.st-CRITICAL{background:#c62828}
.st-UNKNOWN{background:#9e9e9e}.row-CRITICAL{background:#fdecea}.row-WARNING{background:#fff4e5}
.note{color:#445;font-size:13px}.muted{color:#667}.chips span{margin-right:8px}
.chart{background:#fff;border:1px solid #dde3ea;margin:12px 0;padding:4px}
.card{background:#fff;border:1px solid #dde3ea;border-left:5px solid #1f4e79;margin:12px 0;padding:10px 14px}
.card h3{margin:0 0 6px;font-size:17px}.card ul{margin:4px 0 8px}
.v-moved_up,.v-moved_down{color:#2e7d32;font-weight:600}.v-confounded{color:#c62828;font-weight:600}
.v-inconclusive{color:#8e24aa}.v-no_detectable_change{color:#ef6c00}.v-pending{color:#667}
.said{white-space:pre-wrap}.adv-continue{color:#2e7d32}.adv-stop{color:#c62828}.adv-keep_watching{color:#8e24aa}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _num(value: Any, unit: str, currency: str, bounds: list[Decimal] | None = None, bound: bool = False) -> str:
    """``value`` as the notes show it: a KPI's value apart from the ``bounds`` it is compared with
    (0.059996 is '5.9996%' beside a warning of 6.00%, never '6.00%'), a threshold (``bound``) exact."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return _e(value)
    if bound:
        text = fmt_bound(number, unit, currency)
    elif bounds:
        text = fmt_apart(number, unit, list(bounds), currency=currency)
    else:
        text = fmt(number, unit, currency)
    return f"{text} {_e(currency)}" if unit == "currency" else text


def _status(status: str) -> str:
    return f'<span class="st st-{_e(status)}">{_e(status)}</span>'


def _header(data: ReportData) -> str:
    cycle = data.cycle
    run = (f"latest cycle {_e(cycle.run_id)} as of {_e(cycle.as_of)} ({_e(cycle.status)}"
           f"{f'; {_e(cycle.resolved)}' if cycle.resolved else ''}"
           f"{', silent' if cycle.silent else ''})" if cycle else "no weekly cycle run yet")
    backend = cycle.backend if cycle else "none"
    u = cycle.usage if cycle else {}
    usage = (f" Model use this cycle: {u.get('calls', 0)} call(s), {u.get('prompt_tokens', 0)} prompt + "
             f"{u.get('completion_tokens', 0)} completion tokens, ${float(u.get('cost') or 0):.4f}, "
             f"{u.get('guard_rejections', 0)} text(s) rejected by the truth guard.") if cycle else ""
    return (
        f"<header><h1>{_e(data.label)} — Profit OS report</h1>"
        f"<p>Client <b>{_e(data.client)}</b> · as of <b>{_e(data.as_of)}</b> · {run}</p>{_as_of_note(data)}"
        f"{_missing_note(data)}"
        f"<p>All numbers computed deterministically from the ingested data; the model backend "
        f"(<b>{_e(backend)}</b>) only wrote narratives and rationales.{_e(usage)}</p>"
        '<nav><a href="#kpis">KPIs</a><a href="#trends">Trends</a><a href="#plays">Plays</a>'
        '<a href="#evidence">Evidence</a><a href="#review">Weekly review</a></nav></header>'
    )


def _as_of_note(data: ReportData) -> str:
    """Under the as-of line, why it is the day before the newest data (that day was in progress
    at its ingest); a reader of yesterday's date would otherwise think today's data is missing."""
    return f"<p><i>Judged the day before the newest data: {_e(data.as_of_note)}</i></p>" if data.as_of_note else ""


def _missing_note(data: ReportData) -> str:
    """What the reader must know before any figure: the client has no data at all, or its newest
    data is days old (the exports were not refreshed), as ``chimera kpis`` and ``cycle`` say it."""
    if data.no_data:
        return (f"<p><b>No data has been ingested for this client</b>: every KPI below is UNKNOWN. Ingest its "
                f"exports (<code>chimera ingest FILE --client {_e(data.client)}</code>), or list them under "
                f"<code>sources</code> in its client.yml and run <code>chimera cycle --client {_e(data.client)}</code>."
                "</p>")
    return f"<p><b>Data not current</b>: {_e(data.behind_note)}</p>" if data.behind_note else ""


def _wow(k: KPIResult) -> str:
    if k.value is None or k.previous_value is None or not k.previous_value:
        return "—"
    return f"{(k.value - k.previous_value) / abs(k.previous_value) * 100:+.1f} %"


def _kpi_table(data: ReportData) -> str:
    counts = {s: sum(k.status == s for k in data.kpis.kpis) for s in STATUSES}
    chips = " ".join(f"<span>{_status(s)} {n}</span>" for s, n in counts.items() if n)
    rows = []
    order = {s: i for i, s in enumerate(STATUSES)}
    for k in sorted(data.kpis.kpis, key=lambda k: order.get(k.status, 9)):
        c = data.currency
        bounds = [k.target, k.warning, k.critical]
        rows.append(
            f'<tr class="row-{_e(k.status)}" id="kpi-{_e(k.id)}"><td><b>{_e(k.label)}</b><br>'
            f'<span class="muted">{_e(k.id)}</span></td><td>{_status(k.status)}</td>'
            f'<td class="num">{_num(k.value, k.unit, c, bounds)}</td>'
            f'<td class="num">{_num(k.target, k.unit, c, bound=True)}</td>'
            f'<td class="num">{_num(k.warning, k.unit, c, bound=True)}</td>'
            f'<td class="num">{_num(k.critical, k.unit, c, bound=True)}</td>'
            f'<td class="num">{_wow(k)}</td><td>{_e(k.window)}</td><td class="d">{_e(k.data_through or "—")}</td>'
            f'<td class="note">{_e(k.note)}</td></tr>')
    head = ("<tr><th>KPI</th><th>status</th><th>value</th><th>target</th><th>warning</th><th>critical</th>"
            "<th>vs previous window</th><th>window</th><th>data through</th><th>note</th></tr>")
    return (f'<section id="kpis"><h2>KPIs</h2><p class="chips">{chips}</p>'
            f"<table>{head}{''.join(rows)}</table></section>")


def _trends(data: ReportData, specs: dict[str, KPI]) -> str:
    parts = ['<section id="trends"><h2>Trends</h2><p class="muted">Each point is the KPI over its trailing '
             "window ending that day, judged as of that day. Gaps are days without a judged value (missing "
             "data, too small a denominator, too little history), never zeros; the shaded band is the "
             "baseline ±3 sd of the anomaly check (stopping at 0 for rates and counts, which cannot go "
             "below it); dots mark WARNING/CRITICAL days.</p>"]
    if not data.trends:
        parts.append("<p>No KPI to chart.</p>")
    for kpi_id, points in data.trends.items():
        if all(p.value is None and p.raw_value is None for p in points):  # an empty frame says nothing
            parts.append(_nothing_to_draw(data, specs[kpi_id], points))
            continue
        fig = trend_figure(specs[kpi_id], points, data.currency)
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"trend-{kpi_id}",
                          config={"displaylogo": False, "responsive": True})
        parts.append(f'<div class="chart">{div}</div>')
    return "".join(parts) + "</section>"


def _nothing_to_draw(data: ReportData, spec: KPI, points: list) -> str:
    """A charted KPI without one value in the trend's days: why, in the evaluator's words, instead
    of an empty frame of threshold lines (which reads as a chart whose line failed to load)."""
    span = f"{points[0].day} to {points[-1].day}" if points else "no days"
    note = next((k.note for k in data.kpis.kpis if k.id == spec.id), "")
    return (f'<div class="chart" id="trend-{_e(spec.id)}"><p><b>{_e(spec.label)}</b>: no value to draw '
            f"from {_e(span)}. {_e(note)}</p></div>")


def _play_card(p: PlayRow) -> str:
    trigger = "".join(f"<li>{_e(t)}</li>" for t in p.trigger)
    d = p.decision
    decision = (f"<b>{_e(d['kind'])}</b> by <b>{_e(d['who'])}</b> at {_e(d['at'])}"
                + (f": {_e(d['why'])}" if d.get("why") else "")) if d else "<i>not decided</i>"
    lines = [
        f'<div class="card" id="play-{_e(p.play_run_id)}"><h3>#{_e(p.rank)} {_e(p.label)} '
        f'<span class="muted">({_e(p.play_id)}, run {_e(p.play_run_id)})</span></h3>',
        f"<div>owner <b>{_e(p.owner)}</b> · status <b>{_e(p.status)}</b>"
        + (f" · executed {_e(p.executed_on)}" if p.executed_on else "") + "</div>",
        f"<div><b>Why</b>: {_e(p.reason)}</div>",
        f"<div><b>Trigger</b>:<ul>{trigger}</ul></div>" if trigger else "",
        f"<div><b>Rank</b>: {_e(p.why_rank)}</div>" if p.why_rank else "",
        f"<div><b>SOPs</b>: {_e(', '.join(p.sops))}</div>" if p.sops else "",
        f"<div><b>Commander</b>: {_e(p.rationale)}</div>" if p.rationale else "",
        f"<div><b>Decision</b>: {decision}</div>",
    ]
    if p.jobs:
        rows = "".join(
            f"<tr><td>{_e(j.id)}</td><td>{_e(j.type)}</td><td>{_e(j.bot + '.' + j.action if j.bot else '—')}</td>"
            f"<td>{_e(j.status)}</td><td>{_e(j.asset or '—')}</td><td>{_e(j.error)}</td></tr>" for j in p.jobs)
        lines.append("<table><tr><th>job</th><th>type</th><th>bot.action</th><th>status</th><th>asset</th>"
                     f"<th>error</th></tr>{rows}</table>")
    return "".join(lines) + "</div>"


def _plays(data: ReportData) -> str:
    head = '<section id="plays"><h2>Plays of the latest cycle</h2>'
    if data.cycle is None:
        return head + "<p>No weekly cycle has run yet (chimera cycle --client NAME).</p></section>"
    after = _held_back(data.held_back) + _narratives(data)
    if not data.plays and not data.held_back:
        return head + f"<p>Cycle {_e(data.cycle.run_id)} triggered no play.</p>{after}</section>"
    if not data.plays:
        return (head + f"<p>Cycle {_e(data.cycle.run_id)} suggested no play: {len(data.held_back)} play(s) "
                f"triggered and were held back.</p>{after}</section>")
    return head + "".join(_play_card(p) for p in data.plays) + after + "</section>"


def _narratives(data: ReportData) -> str:
    """What the commanders said about the cycle (the header says the model wrote them), each with
    whether a model or the offline template wrote it; a model's words are text, line breaks kept."""
    said = data.cycle.narratives if data.cycle else []
    if not said:
        return ""
    items = "".join(f'<li><b>{_e(n["owner"])} ({_e(n["type"])}, {_e(n["source"])})</b>: '
                    f'<span class="said">{_e(n["text"])}</span></li>' for n in said)
    return f'<h3 id="narratives">What the commanders said</h3><ul>{items}</ul>'


def _held_back(held: list[dict[str, Any]]) -> str:
    """Triggered plays not suggested, each with why (over the cap, already under way, rejected,
    under review): the report must not read "triggered no play" when plays did trigger."""
    if not held:
        return ""
    rows = "".join(f"<tr><td><b>{_e(h['label'])}</b><br><span class=\"muted\">{_e(h['play'])}</span></td>"
                   f"<td>{_e(h['kind'].replace('_', ' '))}</td><td>{_e(h['why_held'])}</td>"
                   f"<td>{_e('; '.join(h.get('trigger') or []) or '—')}</td></tr>" for h in held)
    return ('<h3 id="held-back">Triggered, held back</h3><table><tr><th>play</th><th>held back</th><th>why</th>'
            f"<th>trigger</th></tr>{rows}</table>")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"


def _evidence(data: ReportData, specs: dict[str, KPI]) -> str:
    head = (f'<section id="evidence"><h2>Evidence</h2><p><b>Method: {_e(data.method)}</b>. {_e(move_rule())} '
            "Overlapping plays, driver anomalies and data gaps are listed as confounders. Ratio KPIs compare "
            "ratios of sums; "
            "sum KPIs (revenue, orders) compare means per day. Verdicts as last refreshed by the cycle's "
            "LOG_EVIDENCE step or <code>chimera evidence</code>.</p>")
    if not data.evidence:
        return head + "<p>No executed play has evidence yet.</p></section>"
    rows = []
    for e in data.evidence:
        spec = specs.get(e["kpi"])
        unit = spec.unit if spec else "ratio"
        interval = "—" if e.get("ci_low_pct") is None else f"[{e['ci_low_pct']:+.1f}, {e['ci_high_pct']:+.1f}] %"
        conf = "; ".join(c.get("note") or f"{c.get('kind')} {c.get('what')}" for c in e.get("confounders", []))
        rows.append(
            f"<tr><td>{_e(e['play'])}</td><td>{_e(e['kpi'])}</td><td class=d>{_e(e['executed_on'])}</td>"
            f'<td class="num">{_shown(e, "before", unit, data.currency)}</td>'
            f'<td class="num">{_shown(e, "after", unit, data.currency)}</td>'
            f'<td class="num">{_e(so_far(e)) or _pct(e.get("effect_pct"))}</td><td class="num">{interval}</td>'
            f'<td class="v-{_e(e["verdict"])}">{_e(e["verdict"])}</td><td class="note">{_e(conf or "none")}'
            f'</td><td class="note">{_e(e.get("reason", ""))}</td></tr>')
    table = ("<table><tr><th>play</th><th>KPI</th><th>executed</th><th>before</th><th>after</th><th>effect</th>"
             "<th>95 % interval</th><th>verdict</th><th>confounders</th><th>why</th></tr>"
             + "".join(rows) + "</table>")
    return head + table + "</section>"


def _shown(entry: dict[str, Any], key: str, unit: str, currency: str) -> str:
    """An evidence before/after as the CLI, the chat and its reason show it (``shown_value``: money
    in the currency's smallest unit, a count's mean per day to 2 decimals), not re-rounded as a KPI value."""
    value = entry.get(key)
    if value is None or value == "":
        return "—"
    text = shown_value(value, unit, currency)
    return _e(f"{text} {currency}" if unit == "currency" else text) + per_day(entry, key)


ADVICE = {"continue": "continue", "stop": "stop", "keep_watching": "keep watching"}


def _figures(r: PlayReview) -> str:
    return "<br>".join(_e(figure_text(f)) for f in r.figures)


STATED = ("failed", "paused", "reverted")
"""Run statuses whose advice is more than the evidence's word (``PlayReview.advice``)."""


def _state_advice(r: PlayReview) -> str:
    """A failed, paused or reverted run's advice as it stands (``resume it once the cause of the
    failure is fixed ...`` naming the failed step, ``keep paused``, ``reverted on D by W; the evidence
    says ...``): the evidence's word alone would tell a reverted run, or one that never ran whole, to continue."""
    return f'<br><span class="note">{_e(r.advice)}</span>' if r.advice and r.status in STATED else ""


def _option(r: PlayReview) -> str:
    """A play that worked may also be scaled (manual §4.7: continue / scale / pause)."""
    return f'<br><span class="note">or scale it: <code>{_e(r.option)}</code></span>' if r.option else ""


def _review(data: ReportData) -> str:
    """Continue / stop / keep watching per executed run with a verdict, with the rule and the
    evidence figures behind it (manual §6.2), then every pause and revert with who, when and why."""
    head = ('<section id="review"><h2>Weekly review</h2><p>Each executed play whose evidence has a verdict, '
            "with a fixed rule's advice (the same evidence always gives the same advice; no model is involved). "
            "Rules, first match wins: "
            + "; ".join(f"{n}. {_e(t)}" for n, t in RULES.items()) + ".</p>")
    if data.review:
        rows = "".join(
            f'<tr><td><b>{_e(r.play)}</b><br><span class="muted">run {_e(r.play_run_id)}</span></td>'
            f"<td class=d>{_e(r.executed_on)}</td><td>{_e(r.status)}</td>"
            f'<td class="adv-{_e(r.recommendation)}"><b>{_e(ADVICE[r.recommendation])}</b>'
            f"{f' ({_e(r.action)})' if r.action else ''}{_state_advice(r)}</td><td>{r.rule}. {_e(r.rule_text)}</td>"
            f'<td class="note">{_figures(r)}</td><td><code>{_e(r.next_step or "—")}</code>{_option(r)}</td></tr>'
            for r in data.review)
        head += ("<table><tr><th>play</th><th>executed</th><th>status</th><th>advice</th><th>rule</th>"
                 f"<th>evidence</th><th>next step</th></tr>{rows}</table>")
    else:
        head += "<p>No executed play has a verdict yet: nothing to continue or stop.</p>"
    return head + _stopped(data) + "</section>"


def _stopped(data: ReportData) -> str:
    if not data.stopped:
        # not 'None.': a reader (and a check for leaked Python None) takes it for a missing value
        return "<h3 id=\"stopped\">Paused and reverted plays</h3><p>No play has been paused or reverted.</p>"
    rows = "".join(
        f'<tr><td><b>{_e(s.play)}</b><br><span class="muted">run {_e(s.play_run_id)}</span></td>'
        f"<td>{_e(s.kind)}</td><td class=d>{_e(s.on)}</td><td>{_e(s.who)}</td><td>{_e(s.why)}</td>"
        f"<td>{_e(hold_text(s))}</td></tr>" for s in data.stopped)
    return ('<h3 id="stopped">Paused and reverted plays</h3><table><tr><th>play</th><th>what</th><th>on</th>'
            f"<th>who</th><th>why</th><th>held back</th></tr>{rows}</table>")


def render_data(data: ReportData, specs: dict[str, KPI]) -> str:
    """The HTML document of collected ``data`` (``specs``: the client's KPI definitions by id)."""
    title = f"{data.label} — Profit OS report as of {data.as_of}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"{_header(data)}<main>{_kpi_table(data)}{_trends(data, specs)}{_plays(data)}{_evidence(data, specs)}"
        f"{_review(data)}"
        f'<footer class="muted"><p>Chimera (Profit OS) · {_e(data.client)} · as of {_e(data.as_of)} · '
        f"trends over {TREND_DAYS} days · opens offline</p></footer></main></body></html>\n"
    )


def render_report(client_ctx: ClientContext, as_of: date | None = None) -> str:
    """The report of ``client_ctx`` at ``as_of`` (default: newest data) as one self-contained HTML page."""
    data = collect(client_ctx, as_of)
    return render_data(data, {k.id: k for k in client_ctx.configs.kpis.kpis})


def write_report(client_name: str, path: Path, as_of: date | None = None) -> Path:
    """Write the report of ``client_name`` to ``path`` (parent folders created) and return the path."""
    return save_report(client_name, path, as_of)[0]


def save_report(client_name: str, path: Path, as_of: date | None = None) -> tuple[Path, ReportData]:
    """``write_report``, also returning what the report shows (the CLI prints its weekly review)."""
    path = Path(path)
    check_target(path)  # before the work: a path that cannot be a file is said at once
    client_ctx = get_client(client_name)
    data = collect(client_ctx, as_of)
    text = render_data(data, {k.id: k for k in client_ctx.configs.kpis.kpis})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, text)
    return path, data


def check_target(path: Path) -> None:
    """Refuse a report path that cannot be a file, naming it and why: the path is a folder, or a part of
    it that must be a folder (``somefile.txt/report.html``) is a file."""
    if path.is_dir():
        raise ChimeraError(f"cannot write the report to {path}: it is a folder; give a file name, "
                           f"like {path / 'report.html'}")
    for parent in path.parents:
        if parent.is_dir():
            return
        if parent.exists() or parent.is_symlink():
            raise ChimeraError(f"cannot write the report to {path}: {parent} is a file, not a folder")


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a write that fails
    (disk full, interrupted) leaves the old report or none, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
