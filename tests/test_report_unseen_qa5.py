"""The weekly HTML report and the CLI's readable output on stores never seen before (QA pass 5).

Stores come from the project's seeded generator with seeds and sizes of their own, or are small
hand-written exports (a yen and a dinar shop): never the sample store's days or numbers. Each test
says what a user met: user text that could become markup or script, figures that must be the CLI's
own, stores with one source or none, data weeks old, and an 80-column terminal."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from rich.console import Console

from chimera.cli.render import StoredExtras, kpi_table, play_panel, print_outcome
from chimera.clients import ClientContext, add_client, get_client
from chimera.db.engine import session_scope
from chimera.db.models import PlayRun
from chimera.demo.generator import ConversionDrop, DemoEvents, GeneratedStore, generate_store
from chimera.evidence.record import log_manual_play
from chimera.ingest import ingest_file
from chimera.kpi.fmt import fmt
from chimera.report import render_report, trend_figure
from chimera.report.charts import TrendPoint
from tests.test_cli_contracts import chimera

SCRIPT = '<script>alert("qa5")</script>'
BREAK = '"><img src=x onerror=qa5()>'
CLOSE = "</script><script>qa5()</script>"
MARKUP = "[bold]x[/bold] [/]"
PAYLOAD = f"{MARKUP} {SCRIPT} {BREAK} {CLOSE}"
LONG = "Ünïcödé 東京コーヒー焙煎所 ☕🚀 " + "a very long name " * 6
SOURCES = {"shopify_orders": "orders_export.csv", "stripe_payments": "stripe_payments.csv",
           "analytics_daily": "analytics_daily.csv", "fiverr_orders": "fiverr_orders.csv"}


def _generate(root: Path, seed: int, start: date, days: int, **kw: Any) -> GeneratedStore:
    return generate_store(root / f"gen-{seed}", start=start, days=days, seed=seed, **kw)


def _client(name: str, store: GeneratedStore | None, kinds: tuple[str, ...], extra_yml: str = "") -> ClientContext:
    """A client whose client.yml lists ``kinds`` of the generated ``store`` (copied), ingested."""
    ctx = add_client(name)
    lines = []
    if store is not None:
        exports = ctx.folder / "exports"
        exports.mkdir()
        for kind in kinds:
            shutil.copy(store.out_dir / SOURCES[kind], exports / SOURCES[kind])
            lines.append(f"  - {{kind: {kind}, path: exports/{SOURCES[kind]}}}\n")
        if "fiverr_orders" in kinds:
            extra_yml += yaml.safe_dump({"fiverr": store.fiverr_mapping.model_dump(mode="json", exclude_none=True)})
    (ctx.folder / "client.yml").write_text(
        f"name: {name}\nsources:\n{''.join(lines) or '  []'}\n{extra_yml}", encoding="utf-8")
    ctx = get_client(name)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    return ctx


class _Tags(HTMLParser):
    """Every element and attribute of a document, and each script's text (a script's content is
    raw text: a ``</script>`` inside it is where the parser, like a browser, ends it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


ALLOWED = {"html", "head", "meta", "title", "style", "script", "body", "header", "h1", "h2", "h3", "p", "b", "i",
           "nav", "a", "main", "section", "span", "table", "tr", "th", "td", "br", "div", "ul", "li", "code",
           "footer"}


def _inert(html: str) -> _Tags:
    """Only the report's own elements, no event handler, no remote anything, scripts only its own."""
    parsed = _Tags()
    parsed.feed(html)
    tags = {t for t, _ in parsed.tags}
    assert tags <= ALLOWED, tags - ALLOWED
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "src" not in attrs or tag != "script", attrs
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert "//" not in value and not value.lower().startswith(("javascript:", "data:")), (tag, attrs)
    charts = sum(1 for t, a in parsed.tags if t == "div" and "plotly-graph-div" in (a.get("class") or ""))
    assert len(parsed.scripts) == 1 + charts  # plotly.js once, then one small script per chart
    for script in parsed.scripts[1:]:
        assert script.strip().startswith("window.PLOTLYENV"), script[:200]
    return parsed


# --------------------------------------------------------------------------- 1. escaping


@pytest.fixture
def payload_shop(chimera_home: Path, tmp_path_factory: pytest.TempPathFactory) -> ClientContext:
    """A generated store (seed 31337, 84 days) whose every user-written text is a payload: client
    label, KPI and play labels and descriptions; run through one weekly cycle. (A currency that is
    no ISO 4217 code is refused by client.yml's check now, before any report.)"""
    store = _generate(tmp_path_factory.mktemp("payload"), 31337, date(2026, 2, 2), 84, orders_per_day=35,
                      events=DemoEvents(conversion_drop=ConversionDrop(day=78, relative_change=-0.4)))
    ctx = _client("payload", store, ("shopify_orders", "stripe_payments", "analytics_daily"),
                  f"label: {json.dumps(LONG + PAYLOAD, ensure_ascii=False)}\n")
    for file, key in (("kpis.yml", "kpis"), ("plays.yml", "plays")):
        path = ctx.folder / file
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in doc[key]:
            item["label"] = f"{LONG}{item['label']} {PAYLOAD}"
            if "description" in item:
                item["description"] = f"{PAYLOAD} {item['description']}"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return get_client("payload")


def test_every_user_string_in_the_report_stays_text(payload_shop: ClientContext) -> None:
    """Labels, who/why of decisions, pause reasons, play log notes and a model's rationale reach
    the report as text: no element, handler or script of theirs."""
    from chimera.plays.pause import pause
    from graphs.service import decide, run_cycle

    outcome = run_cycle(payload_shop.name, as_of=store_end(payload_shop))
    assert len(outcome.pending) >= 2, [p.play_id for p in outcome.pending]
    first, second = outcome.pending[0].play_run_id, outcome.pending[1].play_run_id
    with session_scope() as s:  # what a commander's model wrote for the suggestion
        run = s.get(PlayRun, second)
        run.rationale = {**(run.rationale or {}), "summary": f"model says {PAYLOAD}"}
        s.add(run)
    decide(first, "reject", who=f"{MARKUP}{BREAK}", why=PAYLOAD)
    decide(second, "approve", who=f"alice {SCRIPT}", why=PAYLOAD)
    pause(second, who=f"bob {BREAK}", why=PAYLOAD)
    with session_scope() as s:
        log_manual_play(s, payload_shop, "checkout_friction_audit", store_end(payload_shop) - timedelta(days=40),
                        note=PAYLOAD, who=f"carol {SCRIPT}")
    html = render_report(get_client(payload_shop.name), store_end(payload_shop))
    _inert(html)
    for raw in (SCRIPT, BREAK, CLOSE):
        assert raw not in html
    text = unescape(html)
    assert f"{LONG}{PAYLOAD}" in text  # the label, as typed
    assert f"model says {PAYLOAD}" in text and f"bob {BREAK}" in text and f"alice {SCRIPT}" in text


def store_end(ctx: ClientContext) -> date:
    from chimera.as_of import default_day

    with session_scope() as s:
        day = default_day(s, ctx.company_id, ctx.config.timezone).day
    assert day is not None
    return day


def test_chart_text_is_drawn_as_typed() -> None:
    """plotly draws titles, legends and axis titles as its own HTML subset: a KPI label
    ``Revenue <b>net</b> <a href=...>`` became bold text and a link. It is passed escaped, and
    plotly turns &lt; back into the character it shows."""
    from chimera.config.models import KPI

    label = 'Net <b>sales</b> <a href="https://evil.example">x</a> & co'
    spec = KPI(id="net_sales", label=label, unit="currency", direction="higher_is_better", formula="net_sales",
               target=Decimal(100), warning=Decimal(80), critical=Decimal(50), owner="commerce_commander_ai")
    start = date(2026, 5, 4)
    points = [TrendPoint(day=start + timedelta(days=i), status="OK", value=Decimal(90 + i)) for i in range(5)]
    fig = trend_figure(spec, points, currency="<i>JPY</i>")
    shown = [fig.layout.title.text, fig.layout.yaxis.title.text, fig.layout.yaxis.ticksuffix,
             *(t.name for t in fig.data), *(t.hovertemplate or "" for t in fig.data)]
    for text in shown:
        assert "<b>" not in text and "<a " not in text and "<i>" not in text, text
    assert label in unescape(fig.layout.title.text) and "<i>JPY</i>" in unescape(fig.layout.yaxis.title.text)


# --------------------------------------------------------------------------- 2. numbers


def _orders_csv(currency: str, prices: list[str], start: date, days: int) -> str:
    head = ("Name,Email,Financial Status,Created at,Cancelled at,Subtotal,Shipping,Taxes,Total,Discount Amount,"
            "Refunded Amount,Lineitem quantity,Lineitem price,Currency\n")
    rows, n = [], 5000
    for d in range(days):
        for i in range(2 + (d * 7) % 5):
            n += 1
            price = prices[(d + i) % len(prices)]
            rows.append(f"#{n},c{n % 23}@example.com,paid,{start + timedelta(days=d)} 11:{i:02d}:00 +0300,,"
                        f"{price},0,0,{price},0,0,1,{price},{currency}")
    return head + "\n".join(rows) + "\n"


def _analytics_csv(start: date, days: int) -> str:
    return "date,sessions,users,transactions,revenue\n" + "".join(
        f"{start + timedelta(days=d)},{140 + (d * 13) % 40},100,3,0\n" for d in range(days))


def _money_shop(name: str, currency: str, prices: list[str]) -> ClientContext:
    start, days = date(2026, 6, 1), 35
    ctx = add_client(name)
    (ctx.folder / "exports").mkdir()
    (ctx.folder / "exports" / "orders.csv").write_text(_orders_csv(currency, prices, start, days), encoding="utf-8")
    (ctx.folder / "exports" / "analytics.csv").write_text(_analytics_csv(start, days), encoding="utf-8")
    (ctx.folder / "client.yml").write_text(
        f"name: {name}\ncurrency: {currency}\ntimezone: Asia/Kuwait\nsources:\n"
        "  - {kind: shopify_orders, path: exports/orders.csv}\n"
        "  - {kind: analytics_daily, path: exports/analytics.csv}\n",
        encoding="utf-8")
    ctx = get_client(name)
    for src in ctx.config.sources:
        ingest_file(ctx, ctx.folder / src.path, kind=src.kind)
    return ctx


def _row(html: str, kpi_id: str) -> list[str]:
    """The cells of a KPI's row in the report's KPI table, as text."""
    start = html.index(f'id="kpi-{kpi_id}"')
    row = html[start:html.index("</tr>", start)]
    return [unescape(HTMLParserText.text(cell)) for cell in row.split("</td>")[:-1]]


class HTMLParserText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @classmethod
    def text(cls, fragment: str) -> str:
        p = cls()
        p.feed(fragment)
        return " ".join(x.strip() for x in p.parts if x.strip())


@pytest.mark.parametrize(("currency", "prices"), [("JPY", ["4980", "12800", "3300", "980"]),
                                                  ("KWD", ["5.125", "12.750", "3.335", "0.995"])])
def test_report_figures_are_the_clis_in_a_zero_and_a_three_decimal_currency(
        chimera_home: Path, currency: str, prices: list[str]) -> None:
    ctx = _money_shop(currency.lower(), currency, prices)
    kpis = chimera("kpis", "--client", ctx.name, "--json").json()
    as_of = date.fromisoformat(kpis["as_of"])
    html = render_report(ctx)
    assert f"as of <b>{as_of}</b>" in html
    units = {k.id: k.unit for k in ctx.configs.kpis.kpis}
    for k in kpis["kpis"]:
        cells = _row(html, k["id"])
        assert k["status"] in cells[1]
        unit = units[k["id"]]
        if k["value"] is None:
            assert cells[2] == "—", (k["id"], cells)  # unknown, never 0
            continue
        shown = fmt(Decimal(k["value"]), unit, currency)  # whole yen, dinars in fils
        assert cells[2] == (f"{shown} {currency}" if unit == "currency" else shown), (k["id"], cells[2], k["value"])
        assert cells[3] == (f"{fmt(Decimal(k['target']), unit, currency)} {currency}" if unit == "currency"
                            else fmt(Decimal(k["target"]), unit))
    metrics = chimera("metrics", "--client", ctx.name, "--json").json()["metrics"]
    week = [str(as_of - timedelta(days=i)) for i in range(7)]
    by_id = {k["id"]: k for k in kpis["kpis"]}
    assert Decimal(by_id["net_sales"]["value"]) == sum(Decimal(str(metrics["net_sales"][d])) for d in week)
    assert Decimal(by_id["orders"]["value"]) == sum(Decimal(str(metrics["orders"][d])) for d in week)


# --------------------------------------------------------------------------- 3. edge stores


def test_a_client_with_no_data_says_so(chimera_home: Path) -> None:
    """Nothing ingested: the report said 'as of' today with 17 UNKNOWN rows and three empty charts,
    and nowhere that the client has no data at all."""
    ctx = _client("nothing", None, ())
    html = render_report(ctx)
    _inert(html)
    header = html[:html.index("</header>")]
    assert "No data has been ingested for this client" in unescape(header)
    assert f"chimera ingest FILE --client {ctx.name}" in unescape(header)
    for k in ctx.configs.kpis.kpis:
        cells = _row(html, k.id)
        assert "UNKNOWN" in cells[1] and cells[2] == "—"
    trends = unescape(HTMLParserText.text(html[html.index('id="trends"'):html.index('id="plays"')]))
    assert "no value to draw" in trends and "plotly" not in html[html.index('id="trends"'):html.index('id="plays"')]


@pytest.mark.parametrize(("kinds", "judged"), [
    (("analytics_daily",), "sessions"),
    (("stripe_payments",), "failed_payment_rate"),
    (("fiverr_orders",), "fiverr_completion_rate"),
])
def test_a_client_with_one_source_is_judged_on_it_alone(chimera_home: Path, tmp_path: Path,
                                                        kinds: tuple[str, ...], judged: str) -> None:
    store = _generate(tmp_path, 2718, date(2025, 9, 1), 130, orders_per_day=18)
    ctx = _client(kinds[0].split("_")[0], store, kinds)
    kpis = chimera("kpis", "--client", ctx.name, "--json").json()["kpis"]
    html = render_report(ctx)
    _inert(html)
    by_id = {k["id"]: k for k in kpis}
    assert by_id[judged]["status"] != "UNKNOWN"
    for k in kpis:
        cells = _row(html, k["id"])
        assert k["status"] in cells[1]
        if k["status"] == "UNKNOWN" and k["value"] is None:
            assert cells[2] == "—" and k["note"] in cells[-1]  # says what is missing, never 0
    assert by_id["net_revenue"]["value"] is None  # no order export: never drawn as a line at 0
    trend = html[html.index('id="trend-net_revenue"'):html.index('id="trend-aov"')]
    assert "no value to draw" in unescape(trend) and "Plotly.newPlot" not in trend


def test_data_weeks_old_is_said_in_the_report_and_by_the_command(chimera_home: Path, tmp_path: Path) -> None:
    """Exports nobody refreshed for weeks: kpis and cycle say 'the newest complete data is D, N days
    before today'; the report and chimera report read as current."""
    today = datetime.now(UTC).date()
    store = _generate(tmp_path, 5150, today - timedelta(days=120), 85, orders_per_day=20)
    ctx = _client("stale", store, ("shopify_orders", "analytics_daily", "stripe_payments"))
    html = render_report(ctx)
    header = unescape(html[:html.index("</header>")])
    assert "days before today" in header and "re-export and ingest" in header
    out = tmp_path / "r.html"
    result = chimera("report", "--client", ctx.name, "--out", str(out))
    assert result.code == 0, result.stderr
    assert "days before today" in result.stderr and "days before today" not in result.stdout
    kpis = chimera("kpis", "--client", ctx.name, "--json").json()
    assert kpis.get("as_of_note")  # stripe's payments reach the day after the orders end: left out
    doc = chimera("report", "--client", ctx.name, "--out", str(out), "--json").json()
    assert doc["as_of"] == kpis["as_of"] and doc.get("as_of_note") == kpis["as_of_note"]  # as kpis --json says it
    given = chimera("report", "--client", ctx.name, "--out", str(out), "--as-of", str(store.end - timedelta(days=3)))
    assert given.code == 0 and "days before today" not in given.stderr  # a day asked for is no surprise
    assert "days before today" not in unescape(out.read_text(encoding="utf-8")[:20000].split("</header>")[0])


def test_a_week_whose_cycle_triggered_no_play_says_so(chimera_home: Path, tmp_path: Path) -> None:
    """Traffic alone (no order export): no play can be judged, the report says the cycle suggested
    none (and which were held back, if any) rather than showing an empty section."""
    from chimera.report.data import collect
    from graphs.service import run_cycle

    store = _generate(tmp_path, 1234, date(2025, 10, 6), 60, orders_per_day=140)
    ctx = _client("calm", store, ("analytics_daily",))
    outcome = run_cycle(ctx.name)
    data = collect(get_client(ctx.name))
    assert data.cycle is not None and data.cycle.run_id == outcome.run_id and not data.plays
    html = render_report(get_client(ctx.name))
    said = "triggered and were held back" if data.held_back else "triggered no play"
    assert f"Cycle {outcome.run_id} " in html and said in html


# --------------------------------------------------------------------------- 4. the terminal


def _rendered(print_to: Callable[[Console], None], width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO(), emoji=False)  # as the CLI's
    print_to(console)
    return console.export_text()


ODD = ["[/]", MARKUP, "C:\\exports\\", ":warning: check", "[link=https://x.example]y[/link]", "\\[not a tag]"]


def _outcome(text: str, kpi_id: str = "conversion_rate") -> SimpleNamespace:
    return SimpleNamespace(
        kpis=[{"id": kpi_id, "status": "WARNING", "note": f"{kpi_id} 1.20% over 7d, {text}"}], client="c",
        as_of="2026-05-01", narratives=[{"owner": "o", "type": "T", "text": text, "source": "offline", "reason": text}],
        plays=[{"rank": 1, "play": "p", "id": "abc", "decision": {"kind": "reject", "who": text}}],
        data_problems=[{"file": "orders.csv", "problem": "not read", "error": text}], pending=[],
        jobs=[{"id": 1, "type": "X", "status": "failed", "error": text}], run_id="r", status="s",
        model={"backend": "b"})


@pytest.mark.parametrize("text", ODD)
def test_cycle_output_prints_user_text_as_typed(text: str) -> None:
    """A trailing backslash (a Windows folder) printed doubled: rich's escape doubles it for a tag
    that never follows."""
    out = _rendered(lambda c: print_outcome(c, _outcome(text), extras=StoredExtras()), width=400)
    for line in (f"o (T): {text}", f"play #1 p (abc): reject by {text}", f"job 1 X failed: {text}",
                 f"model not used: {text}; offline narrative shown"):
        assert line in out, (line, out)
    panel = _rendered(lambda c: c.print(play_panel({
        "rank": 1, "label": text, "owner": "o", "play_run_id": "id1", "reason": text, "why_rank": text,
        "sops": [text], "evidence_kpis": ["aov"], "delay_days": 3, "reversible": True,
        "rationale": {"summary": text}})), width=400)
    for line in (f"why: {text}", f"rank: {text}", f"SOPs: {text}", f"commander: {text}"):
        assert line in panel, (line, panel)
    assert f"— {text} — owner o" in panel.splitlines()[0]


def test_kpi_table_keeps_the_numbers_readable_with_a_long_kpi_id() -> None:
    """A client's own KPI id of 60 characters took the whole row: 'the numbers' shrank to three
    characters a line ('net', '_re', 'ven')."""
    kpi_id = "weekly_net_revenue_from_the_flagship_store_excluding_gift_cards"
    note = f"{kpi_id} 6,190.32 over 7d to 2026-01-11, at or above target 5,000.00"
    out = _rendered(lambda c: c.print(kpi_table([{"id": kpi_id, "status": "CRITICAL", "note": note}])))
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    cells = [line.split("│")[1:4] for line in lines if line.startswith("│")]
    assert len(cells) <= 6, out  # the note folds into a few lines, not one per 3 characters
    assert "".join(c[0].strip() for c in cells) == kpi_id  # the id whole, folded if need be
    assert "".join("".join(c[2].split()) for c in cells) == "".join(note.split())


def test_readable_cycle_fits_80_columns_with_long_names() -> None:
    outcome = _outcome(LONG, kpi_id="a_rather_long_kpi_identifier_of_a_client")
    outcome.data_problems = []  # their lines keep a command whole (soft wrap), by design
    out = _rendered(lambda c: print_outcome(c, outcome, extras=StoredExtras()))
    assert max(len(line) for line in out.splitlines()) <= 80
    assert " ".join(LONG.split()) in " ".join(out.split())


@pytest.mark.parametrize(("unit", "values", "currency"), [
    ("currency", ["1012.335", "1013.335", "990.10"], "KWD"),  # a dinar sum in fils: hovered as 1,012.34
    ("percent", ["0.020050", "0.012350", "0.031000"], ""),   # half-way percents: d3 said 2.00%, 1.23%
    ("count", ["1234", "1301", "998"], ""),
])
def test_chart_hover_reads_as_the_kpi_table(unit: str, values: list[str], currency: str) -> None:
    """The table shows 1,012.335 KWD and 2.01% (``chimera.kpi.fmt``, as chimera kpis does); the
    chart's hover formatted floats its own way (1,012.34, 2.00%)."""
    from chimera.config.models import KPI

    spec = KPI(id="net_revenue", label="Net revenue", unit=unit, direction="higher_is_better",
               formula="net_sales", target=Decimal("0.025") if unit == "percent" else Decimal(1100),
               warning=Decimal("0.02") if unit == "percent" else Decimal(900),
               critical=Decimal("0.01") if unit == "percent" else Decimal(500), owner="commerce_commander_ai")
    start = date(2026, 5, 4)
    points = [TrendPoint(day=start + timedelta(days=i), status="WARNING", value=Decimal(v))
              for i, v in enumerate(values)]
    fig = trend_figure(spec, points, currency or "USD")
    suffix = f" {currency}" if unit == "currency" else ""
    expected = [fmt(Decimal(v), unit, currency or None) + suffix for v in values]  # 990.100 dinars
    line = next(t for t in fig.data if t.name == "Net revenue (7d)")
    assert list(line.customdata) == expected and "%{customdata}" in line.hovertemplate
    marks = next(t for t in fig.data if t.name == "WARNING")
    assert list(marks.customdata) == expected and "%{customdata}" in marks.hovertemplate
    target = next(t for t in fig.data if t.name == "target")
    assert target.customdata[0] == fmt(spec.target, unit, currency or None) + suffix and "%{customdata}" in \
        target.hovertemplate


def test_a_long_unbroken_name_wraps_inside_the_page() -> None:
    """A 200-character label without a space (a pasted URL, a product code) widened its table cell
    and the header past the page: every element that holds user text may break anywhere."""
    from chimera.report.html import CSS

    rules = {sel.strip(): body for block in CSS.split("}") if "{" in block for sel, body in [block.split("{", 1)]}
    wrapping = {sel for sel, body in rules.items() if "overflow-wrap:anywhere" in body.replace(" ", "")}
    assert {"td", "h1", "h3"} <= {s.strip() for sel in wrapping for s in sel.split(",")}, wrapping


MODEL_TEXT = 'Watch the basket size </script><script>alert("x")</script> "><img src=x onerror=boom()> [/] closely.'


def test_the_fake_models_words_reach_the_report_as_text(payload_shop: ClientContext,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """CHIMERA_LLM=fake with a script that answers markup and a script close tag: the commander's
    rationale the report quotes is the model's text, shown as text."""
    from langchain_core.messages import AIMessage

    from chimera.llm.fake import FAKE_MODELS, ScriptedChatModel
    from graphs.service import run_cycle

    monkeypatch.setenv("CHIMERA_LLM", "fake")
    answer = json.dumps({"summary": MODEL_TEXT, "why": MODEL_TEXT, "metrics_cited": [], "sops_cited": [],
                         "caveats": []})  # a play rationale is a JSON object
    monkeypatch.setitem(FAKE_MODELS, "fake", lambda: ScriptedChatModel(responses=[AIMessage(content=answer)]))
    outcome = run_cycle(payload_shop.name, as_of=store_end(payload_shop))
    with session_scope() as s:
        said = [str((s.get(PlayRun, p["id"]).rationale or {}).get("summary", "")) for p in outcome.plays]
    assert any(MODEL_TEXT in text for text in said), said  # the model's words were kept, not the fallback
    html = render_report(get_client(payload_shop.name), store_end(payload_shop))
    _inert(html)
    assert "boom()>" not in html and '<script>alert("x")' not in html
    assert MODEL_TEXT in unescape(html)
    # the header says the model wrote narratives and rationales: the cycle's narratives are shown too
    section = unescape(html[html.index('id="narratives"'):html.index('id="evidence"')])
    for n in outcome.narratives:
        assert f"{n['owner']} ({n['type']}, {n['source']})" in section and n["text"] in section
    assert any(n["source"] == "model" for n in outcome.narratives)


def test_report_prints_an_out_path_with_brackets_as_typed(chimera_home: Path, tmp_path: Path) -> None:
    """``--out 'reports/[/]/week [red].html'``: the report was written, then printing its path raised
    rich's MarkupError (a traceback, exit 1) or dropped ``[red]``."""
    ctx = _client("brackets", None, ())
    out = tmp_path / "報告 [/]" / "week [red] 🚀.html"
    result = chimera("report", "--client", ctx.name, "--out", str(out))
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.splitlines()[0] == str(out.resolve()) and out.exists()


@pytest.mark.parametrize(("kpi", "unit", "value", "target"), [
    ("conversion_rate", "percent", "0.020050", "0.025"),  # a half-way percent: float said 2.00%
    ("conversion_rate", "percent", "0.012350", "0.025"),
    ("net_revenue", "currency", "1012.335", "1100"),        # a dinar sum in fils: float said 1,012.34
    ("units_per_order", "ratio", "1.8950", "1.8"),
])
def test_a_suggestions_numbers_read_as_chimera_kpis_shows_them(kpi: str, unit: str, value: str,
                                                               target: str) -> None:
    """The suggestion panel rounded floats its own way: 'conversion_rate: 2.00%' beside kpis' and
    the reason's 2.01%."""
    info = {"value": value, "unit": unit, "status": "WARNING", "target": target, "warning": target,
            "critical": target}
    panel = _rendered(lambda c: c.print(play_panel({
        "rank": 1, "label": "L", "owner": "o", "play_run_id": "id1", "reason": "r", "why_rank": "w",
        "evidence_kpis": [kpi], "delay_days": 3, "reversible": True, "kpi_values": {kpi: info}})), width=200)
    shown = fmt(Decimal(value), unit)
    assert f"{kpi}: {shown} (WARNING; target {fmt(Decimal(target), unit)}," in panel, panel


def test_a_long_kpi_label_wraps_in_its_chart_title() -> None:
    """plotly never wraps a title: a 200-character label ran out of the chart and was cut."""
    from chimera.config.models import KPI

    label = LONG * 2 + "Net <revenue> & more"
    spec = KPI(id="net_revenue", label=label, unit="count", direction="higher_is_better", formula="orders",
               target=Decimal(100), warning=Decimal(80), critical=Decimal(50), owner="commerce_commander_ai")
    points = [TrendPoint(day=date(2026, 5, 4) + timedelta(days=i), status="OK", value=Decimal(90 + i))
              for i in range(3)]
    fig = trend_figure(spec, points)
    lines = [unescape(x) for x in fig.layout.title.text.split("<br>")]
    assert len(lines) > 1 and all(len(x) <= 90 for x in lines)
    assert " ".join(lines) == " ".join(f"{label}: trailing 7d value per day (2026-05-04 to 2026-05-06)".split())
    assert fig.layout.margin.t >= 50 + 20 * (len(lines) - 1)  # the lines above the plot have room
