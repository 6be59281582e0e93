"""QA of client configs written by people: unusual but valid files work end to end, and every broken
one is refused as ``file:line: field: problem`` (with the bad value), exit 1, no traceback, nothing
half-applied. Property tests: a formula prints and parses back to the same tree, a trigger written
out as YAML loads back to the same model, and no input crashes the loader with anything but a
ConfigError."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlmodel import select

from chimera import settings
from chimera.cli import _register
from chimera.config.client import ClientConfig
from chimera.config.loader import load_config_set
from chimera.config.models import PlaysConfig
from chimera.config.yamlload import load_yaml
from chimera.errors import ConfigError
from chimera.kpi.formula import FormulaError, parse_formula, render
from tests import test_config_errors
from tests.test_trigger import triggers

_register()
CONVERSION = "formula: orders / sessions\n"
CHECKOUT_TRIGGER = "trigger: {kpi: conversion_rate, status: [WARNING, CRITICAL]}"


# ------------------------------------------------------------------ helpers


base_copy = test_config_errors.config_copy  # a temp copy of the base set and its libraries


def _patch(folder: Path, fname: str, old: str, new: str) -> int:
    """Replace ``old`` (once) in ``fname``; returns the 1-based line where ``new`` starts."""
    path = folder / fname
    text = path.read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {fname}"
    path.write_text(text.replace(old, new), "utf-8")
    return text[: text.index(old)].count("\n") + 1


def _one_problem(folder: Path, libs: Path, where: str, words: str) -> None:
    """Loading the set fails with exactly one problem, at ``where`` (``file:line: field: ``), saying ``words``."""
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=libs)
    [problem] = info.value.problems
    assert problem.startswith(where) and words in problem, problem[:400]


def _index(fname: str, key: str, item_id: str) -> int:
    data = yaml.safe_load((settings.BASE_CONFIG_DIR / fname).read_text("utf-8"))
    return [x["id"] for x in data[key]].index(item_id)


def _load_text(tmp_path: Path, text: str | bytes, name: str = "x.yml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8", newline="")
    return load_yaml(path)


# ------------------------------------------------------------------ YAML the loader must read


def test_merge_keys_copy_an_anchored_mapping_and_explicit_keys_win(tmp_path: Path) -> None:
    data, lines = _load_text(tmp_path, "base: &b {unit: percent, window: 7d}\n"
                                       "kpi:\n  <<: *b\n  window: 28d\n  id: x\n")
    assert data["kpi"] == {"unit": "percent", "window": "28d", "id": "x"}
    assert lines[("kpi", "window")] == 4  # the explicit key's own line
    assert lines[("kpi", "unit")] == 1  # a merged key: the line it is written on


def test_merge_of_a_list_of_anchors_takes_the_first_one_that_has_the_key(tmp_path: Path) -> None:
    data, _ = _load_text(tmp_path, "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n")
    assert data["c"] == {"x": 1, "y": 3}


def test_a_whole_item_repeated_by_alias_is_reported_at_the_alias(base_copy) -> None:
    """``- *aov`` copies a KPI, id included: the duplicate is where the alias is, not the original."""
    folder, libs = base_copy
    _patch(folder, "kpis.yml", "  - id: aov\n", "  - &aov\n    id: aov\n")
    text = (folder / "kpis.yml").read_text("utf-8")
    (folder / "kpis.yml").write_text(text + "  - *aov\n", "utf-8")
    count = len(yaml.safe_load(text)["kpis"])
    _one_problem(folder, libs, f"kpis.yml:{text.count(chr(10)) + 1}: kpis.{count}.id: ", "duplicate id 'aov'")


def test_a_tab_before_a_comment_in_a_file_with_anchors_loads(tmp_path: Path) -> None:
    data, lines = _load_text(tmp_path, "a: &x {b: 1}\nc: *x\t# the same\n")
    assert data == {"a": {"b": 1}, "c": {"b": 1}} and lines[("c",)] == 2


def test_crlf_bom_tabs_after_values_and_comments_load_like_plain_yaml(tmp_path: Path) -> None:
    text = "\ufeff# comment\r\nkpis:\r\n  - id: a\t# tab then comment\r\n    label: \"Ünïcødé ✓\"\r\n"
    data, lines = _load_text(tmp_path, text)
    assert data == {"kpis": [{"id": "a", "label": "Ünïcødé ✓"}]}
    assert lines[("kpis", 0, "label")] == 4


def test_utf16_with_its_bom_is_read(tmp_path: Path) -> None:
    data, _ = _load_text(tmp_path, "kpis:\n  - id: café\n".encode("utf-16"))
    assert data == {"kpis": [{"id": "café"}]}


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a: 1\nb: caf\xe9\n".encode("latin-1"), 2, "not UTF-8"),
    ("a: 1\nb:\n\tc: 1\n", 3, "indent with spaces, not tabs"),
    ("a: 1\nb: \"open\nc: 2\n", 4, "end of stream (while scanning a quoted scalar started at line 2)"),
    ("a: 1\nb: x\x00y\n", 2, "not allowed"),
    ("a:\n  ? [x, y]\n  : 1\n", 2, "key"),
    ("a: {[x]: 1}\n", 1, "key"),
    ("a: 1\nb: &x [*x]\n", 2, "refers to itself"),
    ("a: 1\nb: !foo bar\n", 2, "'!foo'"),
    ("a: !!python/object:os.system x\n", 1, "python/object"),
    ("a: 1\nday: 2026-13-45\n", 2, "2026-13-45"),
    ("a: !!int x\n", 1, "'x'"),
    ("a: &m 1\nb:\n  <<: *m\n", 3, "'<<'"),
    ("a: " + "[" * 2000 + "]" * 2000 + "\n", 1, "deep"),
    ("a: " + "{b: " * 300 + "1" + "}" * 300 + "\n", 1, "deep"),
])
def test_unreadable_yaml_is_one_config_error_with_its_line(tmp_path: Path, text: str | bytes, line: int,
                                                           words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, text)
    [problem] = info.value.problems
    assert problem.startswith(f"x.yml:{line}: "), problem
    assert words in problem and "\n" not in problem, problem


def test_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        rows.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 10)}]")
    with pytest.raises(ConfigError, match=r"x\.yml:\d+: .*too large"):
        _load_text(tmp_path, "\n".join(rows) + "\n")


# ------------------------------------------------------------------ broken values: file, line, field, value


@pytest.mark.parametrize(("new", "words"), [
    ("formula: orders / 0\n", "divides by zero"),
    ("formula: orders / (2 - 2)\n", "divides by zero"),
    ("formula: orders ÷ sessions\n", "unexpected character '÷' at position 8 (write division as '/')"),
    ("formula: orders / sessions * 100%\n", "unexpected character '%' at position 24"),
    ("formula: Orders / Sessions\n", "unexpected character 'O' at position 1 (metric names are lower case"),
    ("formula: 1e3 * orders / sessions\n", "unexpected metric 'e3' at position 2 (write the number in full, like "
     "1000 for 1e3"),
    ("formula: orders / sessions * 100\n", "unit: percent KPIs are fractions (0.025 is 2.5%): drop the '100'"),
    ("formula: 100 * orders / sessions\n", "unit: percent KPIs are fractions (0.025 is 2.5%): drop the '100'"),
])
def test_odd_formulas_are_refused_at_their_line(base_copy, new: str, words: str) -> None:
    folder, libs = base_copy
    line = _patch(folder, "kpis.yml", CONVERSION, new)
    index = _index("kpis.yml", "kpis", "conversion_rate")
    _one_problem(folder, libs, f"kpis.yml:{line}: kpis.{index}.formula: ", words)


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("target: 0.025\n", "target: 1e400\n", "target", "1e400"),
    ("target: 0.025\n", "target: -1e30\n", "target", "-1e30"),
    ("min_denominator: 500\n    owner: growth", "min_denominator: 1e99\n    owner: growth", "min_denominator", "1e99"),
    ("window: 7d\n    target: 0.025", "window: 99999999999d\n    target: 0.025", "window", "99999999999d"),
    ("target: 0.025\n", "target: 2.5%\n", "target", "write percent as a fraction: 2.5% is 0.025"),
])
def test_kpi_numbers_out_of_range_are_refused_naming_the_value(base_copy, old, new, field, words) -> None:
    folder, libs = base_copy
    text = (folder / "kpis.yml").read_text("utf-8")
    start = text.index("- id: conversion_rate")
    at = text.index(old, start)
    (folder / "kpis.yml").write_text(text[:at] + new + text[at + len(old):], "utf-8")
    line = text[:at].count("\n") + 1
    index = _index("kpis.yml", "kpis", "conversion_rate")
    _one_problem(folder, libs, f"kpis.yml:{line}: kpis.{index}.{field}: ", words)


@pytest.mark.parametrize(("new", "field", "words"), [
    ("trigger: {kpi: conversion_rate, status: CRITICAL}", "trigger.status", "(got 'CRITICAL'); write [CRITICAL]"),
    ("trigger: {kpi: conversion_rate, change_pct_below: -9, over: 14}", "trigger.over", "(got 14); write 14d"),
    ("trigger: {kpi: conversion_rate, change_pct_below: -9, over: 2w}", "trigger.over",
     "(got '2w'): a window is a whole number of days"),
    ("trigger: {kpi: conversion_rate, below: 2%}", "trigger.below", "2% is 0.02"),
    ("trigger: {play: pricing_test}", "trigger", "unknown key 'play' (a trigger reads KPIs"),
    ("trigger: {any: [{kpi: aov, below: 30}], not: {kpi: aov, below: 10}}", "trigger.not",
     "a trigger mapping holds one of all / any / not: nest one inside the other"),
    ("trigger: {kpi: conversion_rate, status: [OK], below: 0.02}", "trigger.below",
     "unknown field: a condition makes one test, so 'below' goes in a condition of its own (put both under all"),
    ("trigger: {or: [{kpi: aov, below: 30}]}", "trigger", "unknown key 'or' (write any: [...])"),
    ("trigger: {and: [{kpi: aov, below: 30}]}", "trigger", "unknown key 'and' (write all: [...])"),
    ("trigger: {not: {kpi: conversion_rate, below: 2}}", "trigger.not.below",
     "below 2 on percent KPI 'conversion_rate' reads 200%; its thresholds are fractions (target 0.025): write "
     "0.02 for 2%"),
    ("trigger: {kpi: conversion_rate, above: 1.5}", "trigger.above", "reads 150.0%"),
    ("trigger: {kpi: conversion_rate, change_pct_below: -15%}", "trigger.change_pct_below",
     "already in percent: write -15"),
    ("trigger: {kpi: conversion_rate, above: 1e999999999}", "trigger.above", "1e999999999"),
    ("trigger: {kpi: conversion_rate, change_pct_above: 5, over: 9999999999d}", "trigger.over", "9999999999d"),
    ("trigger: {kpi: pricing_test, status: [WARNING]}", "trigger.kpi",
     "unknown KPI 'pricing_test' ('pricing_test' is a play: a trigger reads KPIs)"),
    ("trigger: {kpi: conversion_rate, status: [CRITCAL]}", "trigger.status.0", "'CRITCAL'"),
])
def test_trigger_mistakes_are_refused_naming_the_value(base_copy, new: str, field: str, words: str) -> None:
    folder, libs = base_copy
    line = _patch(folder, "plays.yml", CHECKOUT_TRIGGER, new)
    index = _index("plays.yml", "plays", "checkout_friction_audit")
    _one_problem(folder, libs, f"plays.yml:{line}: plays.{index}.{field}: ", words)


def test_a_kpi_named_where_a_play_belongs_is_called_a_kpi(base_copy) -> None:
    folder, libs = base_copy
    line = _patch(folder, "plays.yml", "auto_approve: []", "auto_approve: [aov]")
    _one_problem(folder, libs, f"plays.yml:{line}: policy.auto_approve.0: ",
                 "unknown play 'aov' ('aov' is a KPI, not a play)")


def test_a_non_ascii_id_is_refused_saying_how_ids_are_written(base_copy) -> None:
    folder, libs = base_copy
    line = _patch(folder, "kpis.yml", "- id: conversion_rate\n", "- id: conversión_rate\n")
    index = _index("kpis.yml", "kpis", "conversion_rate")
    _one_problem(folder, libs, f"kpis.yml:{line}: kpis.{index}.id: ",
                 "(got 'conversión_rate'): ids are lower-case ASCII letters, digits and '_'")


@pytest.mark.parametrize(("text", "words"), [
    ("", "the file is empty (expected kpis:"),
    ("# only a comment\n", "the file is empty (expected kpis:"),
    ("- id: aov\n- id: orders\n", "expected a mapping with kpis: at the top, got a list"),
    ("just words\n", "expected a mapping with kpis: at the top, got a string"),
])
def test_an_empty_or_non_mapping_file_says_what_it_should_hold(base_copy, text: str, words: str) -> None:
    folder, libs = base_copy
    (folder / "kpis.yml").write_text(text, "utf-8")
    _one_problem(folder, libs, "kpis.yml:1: (top): ", words)


def test_a_deep_trigger_is_refused_as_a_config_error(base_copy) -> None:
    folder, libs = base_copy
    deep = "trigger: " + "{not: " * 1200 + "{kpi: aov, below: 1}" + "}" * 1200
    line = _patch(folder, "plays.yml", CHECKOUT_TRIGGER, deep)
    _one_problem(folder, libs, f"plays.yml:{line}: ", "nests deeper than")


# ------------------------------------------------------------------ client.yml: the Fiverr mapping

FIVERR = "name: acme\nfiverr:\n  date: Order Date\n  amount: Earnings\n  status: Status\n"


@pytest.mark.parametrize(("extra", "field", "words"), [
    ("  completed_values: [done]\n  cancelled_values: [Done, cancelled]\n", "fiverr",
     "'done' is both completed and cancelled"),
    ("  date_format: '%Q'\n", "fiverr.date_format", "'%Q'"),
    ("  date_format: nope\n", "fiverr.date_format", "'nope'"),
    ("  date_format: '%d/%m'\n", "fiverr.date_format", "year, month and day"),
    ("  order_id: Earnings\n", "fiverr", "'Earnings' is mapped twice (amount, order_id)"),
    ("  response_hours: ''\n", "fiverr.response_hours", "empty"),
])
def test_a_fiverr_mapping_that_cannot_work_is_refused(tmp_path: Path, extra: str, field: str, words: str) -> None:
    from chimera.clients import load_client_config

    (tmp_path / "client.yml").write_text(FIVERR + extra, "utf-8")
    with pytest.raises(ConfigError) as info:
        load_client_config(tmp_path, "acme")
    [problem] = info.value.problems
    assert f"client.yml:{2 if field == 'fiverr' else 6}: {field}: " in problem, problem
    assert words in problem, problem


@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%y", "%b %d, %Y", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y"])
def test_usual_fiverr_date_formats_are_accepted(fmt: str) -> None:
    mapping = ClientConfig.model_validate(
        {"name": "acme", "fiverr": {"date": "D", "amount": "A", "status": "S", "date_format": fmt}}).fiverr
    assert mapping is not None and mapping.date_format == fmt


# ------------------------------------------------------------------ end to end through the CLI

EXTRA_KPIS = """
  # ---- written by a person: anchors, merge keys, unicode, odd windows  (QA5)
  - &ga_rate
    id: ga_aov
    label: "Panier moyen (analytics) — ünïcødé ✓"
    unit: currency
    direction: higher_is_better
    formula: ga_revenue / ga_transactions   # analytics only
    window: 14d
    target: 40
    warning: 40          # target equal to a threshold
    critical: 30
    anomaly: false
    owner: commerce_commander_ai
  - <<: *ga_rate
    id: stripe_net_share
    label: Stripe net share
    unit: percent
    formula: (stripe_gross - stripe_refunded - stripe_fees) / stripe_gross
    window: 28d
    target: 0.9
    warning: 0.9
    critical: 0.9
  - id: daily_failed
    label: Échecs de paiement (1 jour)
    unit: count
    direction: lower_is_better
    formula: stripe_failed_payments
    window: 1d
    target: 1000
    warning: 1000
    critical: 2000
    anomaly: false
    owner: commerce_commander_ai
"""
EXTRA_PLAY = """
  - id: qa5_combo
    label: "Combo — ñ"
    description: Nested all / any / not over status and value conditions.
    owner: commerce_commander_ai
    trigger:
      all:
        - any:
            - {kpi: ga_aov, status: [OK, WARNING, CRITICAL]}
            - {kpi: ga_aov, above: 0}
        - not: {any: [{kpi: stripe_net_share, below: -1}, {kpi: daily_failed, above: 1e9}]}
    impact: 5
    effort: 1
    evidence: {kpis: [ga_aov], delay_days: 7}
    job_plan:
      - type: EXECUTE_PLAY_COMMERCE
        bot: copy_bot
        action: draft_copy
        params: {channel: email}
"""


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    from chimera.cli.app import run

    capsys.readouterr()
    monkeypatch.setattr("sys.argv", ["chimera", *argv])
    code = run()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _as_written_by_hand(text: str) -> bytes:
    """A BOM, CRLF line ends and tabs before comments: what Windows editors save."""
    return ("\ufeff" + text.replace("   # analytics only", "\t# analytics only")).replace("\n", "\r\n").encode()


def test_an_unusual_valid_config_runs_end_to_end(shop: str, monkeypatch, capsys) -> None:
    folder = settings.client_dir(shop)
    kpis, plays = folder / "kpis.yml", folder / "plays.yml"
    kpis.write_bytes(_as_written_by_hand(kpis.read_text("utf-8") + EXTRA_KPIS))
    plays_text = plays.read_text("utf-8").replace("max_active_plays: 3", "max_active_plays: 20")
    plays.write_bytes(_as_written_by_hand(plays_text + EXTRA_PLAY))
    for fname in ("kpis.yml", "plays.yml"):
        code, _, err = _cli(monkeypatch, capsys, "config", "log", fname, "--client", shop, "--reason", "qa",
                            "--effect", "custom KPIs", "--owner", "qa5")
        assert code == 0, err
    code, out, err = _cli(monkeypatch, capsys, "config", "check", "--client", shop, "--json")
    assert code == 0 and json.loads(out)["ok"], err

    # the cycle ingests the client's exports (client.yml sources), then judges and suggests
    code, out, err = _cli(monkeypatch, capsys, "cycle", "--client", shop, "--silent", "--json")
    assert code == 0 and "Traceback" not in err, err
    combo = [p for p in json.loads(out)["plays"] if "qa5_combo" in json.dumps(p)]
    assert combo and "ga_aov" in combo[0]["reason"], json.loads(out)["plays"]

    code, out, err = _cli(monkeypatch, capsys, "kpis", "--client", shop, "--json")
    assert code == 0, err
    doc = json.loads(out)
    got = {k["id"]: k for k in doc["kpis"]}
    assert {k: got[k]["window"] for k in ("ga_aov", "stripe_net_share", "daily_failed")} == {
        "ga_aov": "14d", "stripe_net_share": "28d", "daily_failed": "1d"}
    assert got["stripe_net_share"]["target"] == got["stripe_net_share"]["critical"]
    as_of = date.fromisoformat(doc["as_of"])
    code, out, err = _cli(monkeypatch, capsys, "metrics", "--client", shop, "--json")
    series = json.loads(out)["metrics"]

    def total(metric: str, days: int) -> Decimal:
        wanted = {(as_of - timedelta(days=i)).isoformat() for i in range(days)}
        return sum((Decimal(str(v)) for d, v in series[metric].items() if d in wanted), Decimal(0))

    expected = total("ga_revenue", 14) / total("ga_transactions", 14)
    assert abs(Decimal(str(got["ga_aov"]["value"])) - expected) < Decimal("0.01")
    assert got["ga_aov"]["status"] == ("OK" if expected >= 40 else "WARNING" if expected >= 30 else "CRITICAL")
    assert Decimal(str(got["daily_failed"]["value"])) == total("stripe_failed_payments", 1)


@pytest.mark.parametrize(("fname", "old", "new", "field", "value"), [
    ("kpis.yml", "target: 0.025\n", "target: 1e400\n", "target", "1e400"),
    ("kpis.yml", "max_staleness_days: 3\n    min_denominator: 500\n",
     "max_staleness_days: 99999999999\n    min_denominator: 500\n", "max_staleness_days", "99999999999"),
    ("kpis.yml", CONVERSION, "formula: orders / (sessions - sessions) * 0 / 0\n", "formula", "divides by zero"),
    ("plays.yml", CHECKOUT_TRIGGER, "trigger: {kpi: conversion_rate, status: [CRITCAL]}", "status", "CRITCAL"),
    ("plays.yml", CHECKOUT_TRIGGER, "trigger: {kpi: conversion_rate, change_pct_below: -5, over: 99999999d}",
     "over", "99999999d"),
])
def test_a_broken_config_stops_the_cycle_before_anything_is_written(shop: str, monkeypatch, capsys, fname, old,
                                                                     new, field, value) -> None:
    from chimera.db.engine import session_scope
    from chimera.db.models import Job, KPIStatus, PlayRun

    path = settings.client_dir(shop) / fname
    text = path.read_text("utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), "utf-8")
    line = text[: text.index(old)].count("\n") + 1
    for argv in (["kpis", "--client", shop], ["cycle", "--client", shop, "--silent"]):
        code, _, err = _cli(monkeypatch, capsys, *argv)
        assert code == 1 and "Traceback" not in err, err
        assert f"{fname}:{line}: " in err and f".{field}" in err and value in err, err
    with session_scope() as s:
        assert not s.exec(select(Job)).first() and not s.exec(select(PlayRun)).first()
        assert not s.exec(select(KPIStatus)).first()


# ------------------------------------------------------------------ properties

_ATOMS = st.one_of(st.sampled_from(["orders", "sessions", "net_sales", "a_1"]),
                   st.decimals(min_value=0, max_value=10_000, places=2).map(str))


def _expr(children):
    ops = st.sampled_from(["+", "-", "*", "/"])
    return st.one_of(
        st.tuples(children, ops, children).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-{c}"),
    )


formulas = st.recursive(_ATOMS, _expr, max_leaves=12)


@hsettings(max_examples=300)
@given(formulas)
def test_a_formula_printed_parses_back_to_the_same_tree(text: str) -> None:
    try:
        formula = parse_formula(text)
    except FormulaError:
        return  # too deep or too long: refused, and that is tested elsewhere
    printed = render(formula.root)
    assert parse_formula(printed).root == formula.root
    assert render(parse_formula(printed).root) == printed  # printing is canonical


def _yaml_of(trigger) -> str:
    return yaml.safe_dump(json.loads(json.dumps(trigger.model_dump(by_alias=True, mode="json"))), allow_unicode=True)


@hsettings(max_examples=200)
@given(triggers)
def test_a_trigger_written_as_yaml_loads_back_to_the_same_model(tmp_path_factory, trig) -> None:
    tmp = tmp_path_factory.mktemp("trig")
    data, _ = _load_text(tmp, "trigger:\n" + "\n".join("  " + row for row in _yaml_of(trig).splitlines()) + "\n")
    play = {"id": "p", "label": "P", "description": "d", "owner": "o", "trigger": data["trigger"], "impact": 1,
            "effort": 1, "evidence": {"kpis": ["aov"]},
            "job_plan": [{"type": "EXECUTE_PLAY_COMMERCE", "bot": "b", "action": "a"}]}
    assert PlaysConfig.model_validate({"plays": [play]}).plays[0].trigger == trig


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                     st.sampled_from(["OK", "CRITCAL", "2%", "1e400", ".nan", "7d", "0d", "aov", "all", "not"]),
                     st.floats(allow_nan=True, allow_infinity=True))
_KEYS = st.sampled_from(["all", "any", "not", "kpi", "status", "below", "above", "change_pct_below",
                         "change_pct_above", "anomaly", "over", "and", "<<"])
_trees = st.recursive(_scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                         st.dictionaries(_KEYS, kids, max_size=3)), max_leaves=10)


@hsettings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])  # rewritten each time
@given(_trees)
def test_any_trigger_shape_is_accepted_or_refused_as_plays_yml_lines(base_copy, tree) -> None:
    folder, libs = base_copy
    text = (settings.BASE_CONFIG_DIR / "plays.yml").read_text("utf-8")
    dumped = json.dumps(tree, allow_nan=True).replace("NaN", ".nan").replace("Infinity", ".inf")
    (folder / "plays.yml").write_text(text.replace(CHECKOUT_TRIGGER, f"trigger: {dumped}"), "utf-8")
    try:
        load_config_set(folder, libraries_dir=libs)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("plays.yml:") for p in exc.problems), exc.problems


@hsettings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!<>%@`'\"#|\t\r\n ,?.0129\ufeffé\x00~")), max_size=80))
def test_any_text_loads_or_is_one_config_error(tmp_path_factory, text: str) -> None:
    tmp = tmp_path_factory.mktemp("y")
    try:
        _load_text(tmp, text)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("x.yml:") and "\n" not in p for p in exc.problems), exc.problems


def test_a_staleness_past_any_calendar_is_refused(base_copy) -> None:
    folder, libs = base_copy
    old = "max_staleness_days: 3\n    min_denominator: 500\n    owner: growth"
    line = _patch(folder, "kpis.yml", old, old.replace(": 3\n", ": 99999999999\n", 1))
    index = _index("kpis.yml", "kpis", "conversion_rate")
    _one_problem(folder, libs, f"kpis.yml:{line}: kpis.{index}.max_staleness_days: ",
                 "at most 730 days (got 99999999999)")


@pytest.mark.parametrize("value", ["1e30", "'1e400'", "10000000000000000000000"])
def test_a_huge_param_a_scale_would_multiply_is_refused_at_its_line(base_copy, value: str) -> None:
    folder, libs = base_copy
    old = "params: {products: top_sellers_by_units_90d, count: 5, change_pct: 10, max_change_pct: 10}"
    line = _patch(folder, "plays.yml", old, old.replace("count: 5", f"count: {value}"))
    index = _index("plays.yml", "plays", "pricing_test")
    _one_problem(folder, libs, f"plays.yml:{line}: plays.{index}.job_plan.0.params.count: ", "is too large")


_thresholds = st.one_of(
    st.decimals(min_value=-10**15 + 1, max_value=10**15 - 1, allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e400", "-1e30", "2%", "nan", "1e14", "0.000000001", "999999999999999.99"]),
)


@hsettings(max_examples=150)
@given(st.lists(_thresholds, min_size=3, max_size=3), st.sampled_from(["higher_is_better", "lower_is_better"]),
       st.sampled_from(["currency", "percent", "count", "ratio"]), st.integers(1, 1000),
       st.sampled_from(["orders / sessions", "net_sales", "net_sales - refunded_amount", "(orders - 1) / 7"]))
def test_a_kpi_the_model_accepts_is_judged_and_explained_without_error(values, direction, unit, days,
                                                                      formula) -> None:
    """Whatever numbers a person writes, a KPI either is refused as a config error or evaluates to one
    of the four statuses with a note (1e30 used to crash the note's formatting)."""
    from pydantic import ValidationError

    from chimera.config.models import KPI
    from chimera.kpi.evaluate import evaluate_series

    t, w, c = sorted((v for v in values if not isinstance(v, str)), reverse=direction == "higher_is_better") + [
        v for v in values if isinstance(v, str)]
    try:
        spec = KPI.model_validate({"id": "k", "label": "K", "unit": unit, "direction": direction, "formula": formula,
                                   "window": f"{days}d", "target": t, "warning": w, "critical": c, "owner": "o"})
    except ValidationError:
        return
    start = date(2026, 1, 1)
    series = {m: {start + timedelta(days=i): Decimal(40 + i % 7) for i in range(60)}
              for m in ("orders", "sessions", "net_sales", "refunded_amount")}
    result = evaluate_series(spec, series, start + timedelta(days=59))
    assert result.status in ("OK", "WARNING", "CRITICAL", "UNKNOWN") and result.note


def test_a_changelog_saved_by_hand_is_read_or_refused_in_one_line(chimera_home: Path, monkeypatch, capsys) -> None:
    """A BOM and CRLF (a Windows editor) still match every file; another encoding is one line naming the
    changelog's line, not a UnicodeDecodeError traceback."""
    code, _, err = _cli(monkeypatch, capsys, "client", "add", "acme")
    assert code == 0, err
    log = settings.client_dir("acme") / "CHANGELOG.md"
    text = log.read_text("utf-8")
    log.write_bytes(("\ufeff" + text).replace("\n", "\r\n").encode())
    code, out, err = _cli(monkeypatch, capsys, "config", "check", "--client", "acme", "--json")
    assert code == 0 and json.loads(out)["ok"], err
    log.write_bytes(text.encode() + b"\n## 2026-12-01 kpis.yml\n- reason: caf\xe9\n")
    code, out, err = _cli(monkeypatch, capsys, "config", "check", "--client", "acme")
    line = text.count("\n") + 3
    assert code == 1 and "Traceback" not in err, err
    assert f"CHANGELOG.md:{line}: not UTF-8 text (byte 0xe9 at column 14); save the file as UTF-8" in err, err
