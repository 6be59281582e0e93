"""DESIGN.md §7 as a script that only read it uses the CLI: one JSON document on stdout, the named
fields with their types, one-line errors that write nothing, and ``--as-of`` replays.

One seeded home (the demo generator, a cycle as of a week before its end) is shared by the module;
a few checks run the real ``chimera`` executable, the rest call the CLI's ``run()`` in process (the
same error handling, without a second interpreter's start-up)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from chimera.cli import _register
from chimera.cli.app import run

_register()

STATUSES = {"OK", "WARNING", "CRITICAL", "UNKNOWN"}
VERDICTS = {"moved_up", "moved_down", "no_detectable_change", "inconclusive", "confounded", "pending"}
JOB_STATUSES = {"queued", "running", "awaiting_approval", "succeeded", "failed", "cancelled"}
MONEY = re.compile(r"^-?\d+\.\d{2}$")
EXECUTABLE = Path(sys.executable).with_name("chimera")


@dataclass
class Run:
    """What a script sees of one command: exit code, stdout and stderr, apart."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The one JSON document on stdout (json.loads fails on anything else printed beside it)."""
        assert self.code == 0, self.stderr[-2000:]
        return json.loads(self.stdout)

    def one_line_error(self) -> str:
        """A user error: non-zero, nothing on stdout, one line on stderr, no traceback."""
        lines = self.stderr.strip().splitlines()
        assert self.code != 0 and self.stdout == "", (self.code, self.stdout[:300])
        assert len(lines) == 1 and "Traceback" not in self.stderr, self.stderr[-2000:]
        return lines[0]


def chimera(*args: str, stdin: str = "") -> Run:
    """Run the CLI in process exactly as the executable does (``run()``), capturing both streams."""
    out, err = io.StringIO(), io.StringIO()
    with (mock.patch.object(sys, "argv", ["chimera", *args]), mock.patch.object(sys, "stdin", io.StringIO(stdin)),
          redirect_stdout(out), redirect_stderr(err)):
        code = run()
    return Run(code, out.getvalue(), err.getvalue())


def executable(*args: str, home: Path) -> Run:
    """The installed ``chimera`` executable in a subprocess (falls back to ``python -m chimera.cli``)."""
    cmd = [str(EXECUTABLE)] if EXECUTABLE.exists() else [sys.executable, "-m", "chimera.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHIMERA_", "OPENAI_"))}
    env |= {"CHIMERA_HOME": str(home), "CHIMERA_LLM": "offline"}
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=180)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Seeded:
    home: Path
    as_of: date
    """The cycle the fixture ran (a week before the data ends)."""
    end: date
    gap: tuple[date, date]
    price_test: date
    cycle: dict[str, Any]


def _seed(home: Path) -> Seeded:
    from chimera.db.engine import dispose_all
    from chimera.demo.demo_client import ensure_demo_client

    dispose_all()
    _ctx, info = ensure_demo_client()
    as_of = info.as_of - timedelta(days=7)
    cycle = chimera("cycle", "--client", "demo", "--as-of", as_of.isoformat(), "--json").json()
    return Seeded(home, as_of, info.as_of, info.analytics_gap_days, info.price_test_day, cycle)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The demo client's seeded exports ingested by one weekly cycle, in a home of its own."""
    from chimera.db.engine import dispose_all

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("contracts-home")
        mp.setenv("CHIMERA_HOME", str(home))
        mp.setenv("CHIMERA_LLM", "offline")
        mp.delenv("CHIMERA_DATABASE_URL", raising=False)
        yield _seed(home)
        dispose_all()


@pytest.fixture
def home(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    """The shared home, re-selected for each test (the function-scoped fixtures reset the env)."""
    monkeypatch.setenv("CHIMERA_HOME", str(seeded.home))
    monkeypatch.delenv("CHIMERA_DATABASE_URL", raising=False)
    return seeded


# --- every reporting command: one JSON document, the named fields --------------------------------


@pytest.mark.parametrize("argv", [
    ["client", "list"], ["metrics", "--client", "demo"], ["kpis", "--client", "demo"],
    ["evidence", "--client", "demo"], ["jobs", "--client", "demo"], ["config", "check", "--client", "demo"],
    ["sop", "search", "price test"], ["monthly", "--client", "demo"],
])
def test_json_is_one_document_on_stdout(home: Seeded, argv: list[str]) -> None:
    doc = chimera(*argv, "--json").json()
    assert isinstance(doc, dict) and doc


def test_kpis_fields_and_types(home: Seeded) -> None:
    doc = chimera("kpis", "--client", "demo", "--as-of", home.as_of.isoformat(), "--json").json()
    assert set(doc) == {"client", "as_of", "kpis"} and doc["as_of"] == home.as_of.isoformat()
    _check_kpis(doc["kpis"])


def _check_kpis(kpis: list[dict[str, Any]]) -> None:
    names = {"id", "status", "value", "target", "warning", "critical", "window", "data_through", "note"}
    assert kpis
    for k in kpis:
        assert names <= set(k) and k["status"] in STATUSES, k
        for key in ("value", "target", "warning", "critical"):
            assert k[key] is None or (isinstance(k[key], str) and Decimal(k[key]) == Decimal(k[key])), k
        assert k["value"] is not None or k["status"] == "UNKNOWN", k
        if k["data_through"] is not None:
            date.fromisoformat(k["data_through"])


def test_cycle_fields_and_types(home: Seeded) -> None:
    doc = home.cycle
    assert {"client", "as_of", "run_id", "kpis", "plays", "jobs", "model"} <= set(doc)
    assert doc["as_of"] == home.as_of.isoformat() and isinstance(doc["run_id"], str)
    _check_kpis(doc["kpis"])
    assert doc["plays"], "the demo triggers plays a week before its end"
    for p in doc["plays"]:
        assert {"id", "rank", "score", "owner", "reason", "trigger", "evidence_kpis", "decision"} <= set(p)
        assert isinstance(p["rank"], int) and isinstance(p["score"], int | float) and p["decision"] is None
        assert isinstance(p["trigger"], list) and isinstance(p["evidence_kpis"], list)
    for j in doc["jobs"]:
        assert {"id", "type", "owner", "status"} <= set(j) and j["status"] in JOB_STATUSES
    model = doc["model"]
    assert {"backend", "calls", "prompt_tokens", "completion_tokens", "cost", "guard_rejections"} <= set(model)
    assert all(isinstance(model[k], int) for k in ("calls", "prompt_tokens", "completion_tokens"))


def test_evidence_fields_and_types(home: Seeded) -> None:
    """A play logged by hand is judged once its delay is over, and `pending` before."""
    day = home.price_test.isoformat()
    logged = chimera("play", "log", "pricing_test", "--client", "demo", "--executed-on", day, "--json").json()
    assert (logged["play"], logged["executed_on"]) == ("pricing_test", day)
    early = _evidence(home.price_test + timedelta(days=10))
    assert {e["verdict"] for e in early if e["play"] == "pricing_test"} == {"pending"}
    judged = [e for e in _evidence(home.end) if e["play"] == "pricing_test"]
    assert judged and all(e["verdict"] in VERDICTS - {"pending"} for e in judged)


def _evidence(as_of: date) -> list[dict[str, Any]]:
    """``evidence --as-of`` with every record checked against DESIGN.md §7's fields and types."""
    doc = chimera("evidence", "--client", "demo", "--as-of", as_of.isoformat(), "--json").json()
    assert set(doc) >= {"client", "as_of", "evidence"} and doc["as_of"] == as_of.isoformat()
    names = {"play", "executed_on", "kpi", "before", "after", "effect_pct", "ci_low_pct", "ci_high_pct",
             "verdict", "confounders", "method"}
    for e in doc["evidence"]:
        assert names <= set(e) and e["verdict"] in VERDICTS and isinstance(e["confounders"], list)
        assert date.fromisoformat(e["executed_on"]) <= as_of
        assert all(e[k] is None or isinstance(e[k], str) for k in ("before", "after"))
        assert all(e[k] is None or isinstance(e[k], int | float) for k in ("effect_pct", "ci_low_pct", "ci_high_pct"))
    return doc["evidence"]


def test_ingest_json_fields_and_types(home: Seeded, tmp_path: Path) -> None:
    """A bad cell rejects its row with line, column, value, reason and the order (here the charge)."""
    export = tmp_path / "payments.csv"
    export.write_text("id,Created date (UTC),Amount,Status,Currency\n"
                      "ch_1,2026-01-01 10:00:00,abc,Paid,usd\nch_2,2026-01-02 11:00:00,5.00,Paid,usd\n")
    chimera("client", "add", "stripe_only", "--json").json()
    doc = chimera("ingest", str(export), "--client", "stripe_only", "--json").json()
    assert set(doc) == {"source", "rows_read", "orders_ingested", "rejected", "first_day", "last_day",
                        "metrics_written"}
    assert (doc["source"], doc["rows_read"], doc["orders_ingested"]) == ("stripe_payments", 2, 1)
    assert (doc["first_day"], doc["last_day"]) == ("2026-01-02", "2026-01-02")
    assert doc["rejected"] == [{"line": 2, "column": "Amount", "value": "abc", "order": "ch_1",
                                "reason": doc["rejected"][0]["reason"]}] and doc["rejected"][0]["reason"]
    assert isinstance(doc["metrics_written"], int) and doc["metrics_written"] > 0


def test_metrics_money_counts_and_missing_days(home: Seeded) -> None:
    first, last = home.gap[0] - timedelta(days=2), home.gap[1] + timedelta(days=2)
    doc = chimera("metrics", "--client", "demo", "--metric", "net_sales", "--metric", "orders", "--metric",
                  "sessions", "--from", first.isoformat(), "--to", last.isoformat(), "--json").json()
    assert set(doc) == {"client", "metrics"} and doc["client"] == "demo"
    assert all(MONEY.match(v) for v in doc["metrics"]["net_sales"].values())
    assert all(isinstance(v, int) and not isinstance(v, bool) for v in doc["metrics"]["orders"].values())
    gap = {(home.gap[0] + timedelta(days=i)).isoformat() for i in range((home.gap[1] - home.gap[0]).days + 1)}
    sessions = doc["metrics"]["sessions"]
    assert not gap & set(sessions), "an analytics gap is absent, never written as 0"
    assert len(sessions) == (last - first).days + 1 - len(gap)
    assert len(doc["metrics"]["orders"]) == len(sessions) + len(gap)


# --- --as-of replays ----------------------------------------------------------------------------


def test_as_of_replay_gives_the_same_json(home: Seeded) -> None:
    """A newer cycle in between (it supersedes the older one's undecided plays) must not change what
    replaying the older day says: kpis and evidence exactly, the cycle apart from its ids."""
    day = ("--client", "demo", "--as-of", home.as_of.isoformat(), "--json")
    first = {command: chimera(command, *day).json() for command in ("kpis", "evidence", "cycle")}
    chimera("cycle", "--client", "demo", "--as-of", home.end.isoformat(), "--json").json()
    again = {command: chimera(command, *day).json() for command in ("kpis", "evidence", "cycle")}
    assert again["kpis"] == first["kpis"] and again["evidence"] == first["evidence"]
    # Once a newer cycle exists, the older day's cycle is a replay: the same KPIs and plays, but
    # nothing to decide (a back-dated approval would run bots in the past beside the live plays).
    replay, original = _without_ids(again["cycle"]), _without_ids(first["cycle"])
    assert replay["silent"] and replay["pending"] == [] and replay["as_of_note"].startswith("replay of ")
    assert replay["kpis"] == original["kpis"]
    assert [{k: v for k, v in p.items() if k not in ("status", "decision")} for p in replay["plays"]] == \
        [{k: v for k, v in p.items() if k not in ("status", "decision")} for p in original["plays"]]


def test_a_cycle_replayed_in_a_fresh_home_gives_the_same_json(home: Seeded, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Same exports, same as-of, another database: the same document apart from run ids."""
    monkeypatch.setenv("CHIMERA_HOME", str(tmp_path))
    again = _seed(tmp_path).cycle
    assert _without_ids(again) == _without_ids(home.cycle)


def _without_ids(doc: dict[str, Any]) -> dict[str, Any]:
    """The cycle document with its run, play run and job ids numbered in order of appearance."""
    ids = {doc["run_id"], *(p["id"] for p in doc["plays"])}
    text = json.dumps(doc, sort_keys=True)
    for i, old in enumerate(sorted(ids, key=lambda x: text.index(x))):
        text = text.replace(old, f"<id{i}>")
    plain = json.loads(text)
    for i, job in enumerate(plain["jobs"]):
        job["id"] = i
    return plain


# --- user errors: one line on stderr, non-zero, nothing written ---------------------------------

USER_ERRORS: list[list[str]] = [
    ["metrics", "--client", "nope", "--json"],
    ["metrics", "--client", "demo", "--metric", "net_sale", "--json"],
    ["metrics", "--client", "demo", "--from", "2026-13-01", "--json"],
    ["metrics", "--client", "demo", "--from", "2026-11-20", "--to", "2026-11-01", "--json"],
    ["kpis", "--client", "nope", "--json"],
    ["kpis", "--client", "demo", "--as-of", "2026-02-30", "--json"],
    ["cycle", "--client", "nope", "--json"],
    ["cycle", "--client", "demo", "--as-of", "yesterday", "--json"],
    ["cycle", "--json"],
    ["evidence", "--client", "demo", "--as-of", "11/01/2026", "--json"],
    ["ingest", "missing.csv", "--client", "demo", "--json"],
    ["ingest", "missing.csv", "--client", "nope", "--json"],
    ["approve", "nope", "--json"],
    ["override", "nope", "--reason", "r", "--json"],
    ["reject", "nope", "--reason", "r", "--json"],
    ["override", "nope", "--json"],
    ["reject", "nope", "--json"],
    ["play", "log", "pricing_test", "--client", "demo", "--executed-on", "2026-99-01", "--json"],
    ["play", "log", "no_such_play", "--client", "demo", "--executed-on", "2026-09-01", "--json"],
    ["jobs", "--client", "demo", "--status", "queud", "--json"],
    ["daily", "--client", "nope", "--json"],
    ["monthly", "--client", "demo", "--as-of", "2026-11", "--json"],
    ["client", "add", "demo"],
    ["client", "add", "Not A Name"],
    ["evidence", "--client", "nope", "--json"],
    ["jobs", "--client", "nope", "--json"],
    ["ingest", ".", "--client", "demo", "--json"],
    ["ingest", "missing.csv", "--client", "demo", "--source", "shopify", "--json"],
    ["override", "nope", "--reason", "r", "--params", "[1]", "--json"],
    ["report", "--client", "nope", "--out", "never.html"],
    ["play", "clear-review", "no_such_play", "--client", "demo", "--reason", "r", "--json"],
    ["kpis", "--client", "demo", "--bogus"],
    ["no-such-command"],
]


def _counts(home: Path) -> dict[str, int]:
    """Rows per table and files under the home: what an error must not change."""
    from chimera.db import models
    from chimera.db.engine import get_engine

    tables = (models.MetricPoint, models.PlayRun, models.Decision, models.Job, models.CycleRun, models.Company)
    with Session(get_engine()) as s:
        counts = {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in tables}
    return counts | {"files": sum(1 for p in home.rglob("*") if p.is_file() and "chimera.db" not in p.name)}


def test_user_errors_are_one_line_and_write_nothing(home: Seeded) -> None:
    before = _counts(home.home)
    for argv in USER_ERRORS:
        line = chimera(*argv).one_line_error()
        assert line.startswith("error:"), (argv, line)
    assert _counts(home.home) == before


def test_an_error_names_the_value_as_typed(home: Seeded) -> None:
    """A value that looks like rich markup is printed as typed, not swallowed (or a traceback)."""
    for value in ("[/x]", "[red]zz", ":x:", "a:smile:b"):  # nor an emoji code turned into an emoji
        assert f"'{value}'" in chimera("metrics", "--client", value, "--json").one_line_error()


def test_a_usage_error_is_one_line_naming_the_command(home: Seeded) -> None:
    line = chimera("override", "some_id").one_line_error()
    assert "chimera override" in line and "--reason" in line and "--help" in line


def test_readable_output_prints_user_text_as_typed(home: Seeded, tmp_path: Path) -> None:
    """Text a user wrote (a file name, a cell, a user name, an SOP title) is printed, never read as
    rich markup: ``[/x]`` raised a traceback after the work was done, ``[red]`` vanished."""
    folder = tmp_path / "[copy]"
    folder.mkdir()
    export = folder / "analytics.csv"
    export.write_text("date,sessions,users,transactions,revenue\n2026-01-01,[/x],1,1,1\n2026-01-02,10,1,1,1\n")
    chimera("client", "add", "brackets", "--json").json()
    ingest = chimera("ingest", str(export), "--client", "brackets")
    assert ingest.code == 0 and "[copy]" in ingest.stdout and "[/x]" in ingest.stdout, ingest.stderr[-2000:]
    user = chimera("user", "add", "[red]u", "--password-stdin", stdin="long enough secret\n")
    assert user.code == 0 and "[red]u" in user.stdout, user.stderr[-2000:]
    sop = tmp_path / "sop.md"
    sop.write_text("---\ntitle: Price [/t] test\ntags: [pricing]\n---\n# Step [/h]\n\nRun the [/e] price test.\n")
    root = ("--root", str(tmp_path / "lib"))
    added = chimera("sop", "add", str(sop), "--library", "commerce", "--create", *root)
    assert added.code == 0 and "Price [/t] test" in added.stdout, added.stderr[-2000:]
    found = chimera("sop", "search", "price test", "--library", "commerce", *root)
    assert found.code == 0 and "[/h]" in found.stdout, found.stderr[-2000:]


def test_a_failed_cycle_says_why_on_stderr(home: Seeded) -> None:
    """The document still goes to stdout; exit 1 and the failed job's reason as the last stderr line
    (a script saw only 'INGEST_METRICS failed')."""
    from chimera import settings

    chimera("client", "add", "broken", "--json").json()
    (settings.client_dir("broken") / "client.yml").write_text(
        "name: broken\nsources:\n  - {kind: shopify_orders, path: exports/missing.csv}\n", encoding="utf-8")
    result = chimera("cycle", "--client", "broken", "--as-of", home.as_of.isoformat(), "--json")
    assert result.code == 1 and json.loads(result.stdout)["status"] == "failed"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "missing.csv: no such file" in last and "Traceback" not in result.stderr


def test_a_check_that_exits_1_says_why_on_stderr(home: Seeded) -> None:
    """daily exits 1 when something needs attention: the JSON on stdout, the why in one stderr line."""
    result = chimera("daily", "--client", "demo", "--today", (home.end + timedelta(days=9)).isoformat(), "--json")
    doc = json.loads(result.stdout)
    assert result.code == 1 and doc["ok"] is False and not all(f["ok"] for f in doc["freshness"])
    (line,) = result.stderr.strip().splitlines()
    assert "needs attention" in line and "days behind" in line
    from chimera import settings

    chimera("client", "add", "badcfg", "--json").json()
    kpis = settings.client_dir("badcfg") / "kpis.yml"
    kpis.write_text(kpis.read_text(encoding="utf-8") + "\nnot_a_field: 1\n", encoding="utf-8")
    check = chimera("config", "check", "--client", "badcfg", "--json")
    assert check.code == 1 and json.loads(check.stdout)["ok"] is False
    (line,) = check.stderr.strip().splitlines()
    assert "problem(s) in" in line


def test_report_to_an_unwritable_path_is_one_line(home: Seeded, tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    for out in (tmp_path, tmp_path / "a_file" / "r.html"):
        assert "error:" in chimera("report", "--client", "demo", "--out", str(out)).one_line_error()


def test_a_decision_is_recorded_once(home: Seeded) -> None:
    """An identical repeat (a double click) resumes; a different second decision is refused and
    changes nothing. DESIGN.md is silent on repeats: this follows graphs/service.decide."""
    cycle = chimera("cycle", "--client", "demo", "--as-of", home.end.isoformat(), "--json").json()
    play = cycle["pending"][0]
    decided = chimera("approve", play, "--json").json()
    assert _decision(decided, play)["kind"] == "approve"
    before = _counts(home.home)
    assert chimera("approve", play, "--json").json()["jobs"] == decided["jobs"]
    assert "already decided" in chimera("reject", play, "--reason", "changed my mind", "--json").one_line_error()
    assert _counts(home.home) == before
    superseded = chimera("approve", home.cycle["pending"][0]).one_line_error()
    assert "superseded by a newer cycle" in superseded
    other = cycle["pending"][1]
    readable = chimera("reject", other, "--reason", "not now [/r]", "--who", "[/w]")
    assert readable.code == 0 and f"reject recorded for {other} by [/w]" in readable.stdout, readable.stderr
    assert "reject by [/w]" in readable.stdout


def _decision(doc: dict[str, Any], play_run_id: str) -> dict[str, Any]:
    return next(p["decision"] for p in doc["plays"] if p["id"] == play_run_id)


# --- the real executable --------------------------------------------------------------------------


def test_executable_cycle_json_on_stdout_progress_on_stderr(home: Seeded) -> None:
    argv = ("cycle", "--client", "demo", "--as-of", home.as_of.isoformat(), "--json")
    result = executable(*argv, home=home.home)
    # the same document either way (a replay of an older day is a new silent run each time: its ids differ)
    assert _without_ids(result.json()) == _without_ids(chimera(*argv).json())
    assert result.stderr.strip() and "{" not in result.stderr
    error = executable("approve", "no_such_run", home=home.home).one_line_error()
    assert "unknown play run 'no_such_run'" in error


def test_executable_ingest_and_metrics_on_the_sample_store(chimera_home: Path, sample_store: Path) -> None:
    """The realistic store: days from its window, each malformed row named, the analytics gap absent."""
    assert executable("client", "add", "s", "--json", home=chimera_home).json()["client"] == "s"
    orders = executable("ingest", str(sample_store / "orders_export.csv"), "--client", "s", "--json",
                        home=chimera_home).json()
    truth = json.loads((sample_store / "ground_truth.json").read_text())
    assert (orders["first_day"], orders["last_day"]) == (truth["window"]["start"], truth["window"]["end"])
    assert all(isinstance(orders[k], int) for k in ("rows_read", "orders_ingested", "metrics_written"))
    malformed = list(csv.DictReader((sample_store / "malformed_rows.csv").open()))
    assert sorted((r["line"], r["column"], r["value"], r["order"]) for r in orders["rejected"]) == sorted(
        (int(m["line_number"]), m["column"], m["bad_value"], m["order_name"]) for m in malformed)
    assert all(isinstance(r["reason"], str) and r["reason"] for r in orders["rejected"])
    executable("ingest", str(sample_store / "analytics_daily.csv"), "--client", "s", "--json",
               home=chimera_home).json()
    sessions = executable("metrics", "--client", "s", "--metric", "sessions", "--json",
                          home=chimera_home).json()["metrics"]["sessions"]
    ga_days = {r["date"] for r in csv.DictReader((sample_store / "analytics_daily.csv").open())}
    assert set(sessions) == ga_days and len(ga_days) < truth["window"]["days"]
    reversed_range = executable("metrics", "--client", "s", "--from", truth["window"]["end"], "--to",
                                truth["window"]["start"], "--json", home=chimera_home)
    assert "--from" in reversed_range.one_line_error()
    kpis = executable("kpis", "--client", "s", "--as-of", truth["window"]["end"], "--json", home=chimera_home).json()
    _check_kpis(kpis["kpis"])
    assert {k["id"]: k["status"] for k in kpis["kpis"]}["conversion_rate"] != "UNKNOWN"
