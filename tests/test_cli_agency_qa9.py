"""An agency's morning: ``daily``, ``monthly``, ``evidence`` and ``jobs`` over every client with
``--all``, as ``cycle --all`` does: a broken client is named with its error and the others still
run, the exit code is 1 when any failed, ``--json`` is one document on stdout listing each client's
own ``--client NAME --json`` document, and progress stays on stderr."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from chimera.clients import add_client
from chimera.demo.generator import generate_store
from tests.cycle_fixtures import AS_OF, DAYS, START, make_client
from tests.test_many_clients import _broken_clients, cli

KEYS = {"daily": "checks", "monthly": "reviews", "evidence": "reports", "jobs": "jobs"}
"""Each command's key for the clients' own documents in its ``--all --json`` document."""
WALK = {"clients", "completed", "failures", "stopped", "not_attempted"}
SOURCES = ("orders_export.csv", "stripe_payments.csv", "analytics_daily.csv")
TODAY = (AS_OF + timedelta(days=1)).isoformat()  # the generated exports are current on this day


@pytest.fixture(scope="module")
def quiet_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated exports of a store without events: every daily check of it on TODAY is good."""
    out = tmp_path_factory.mktemp("quiet-store")
    generate_store(out, start=START, days=DAYS, seed=4243)
    return out


def _ingested(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], home: Path, tmp_root: Path,
              name: str, exports: Path | None = None) -> None:
    """A client with the generated exports (``exports``' when given) ingested."""
    make_client(home, tmp_root, name)
    if exports is not None:
        folder = home / "configs" / "clients" / name / "exports"
        shutil.rmtree(folder)
        shutil.copytree(exports, folder)
    for file in SOURCES:
        path = home / "configs" / "clients" / name / "exports" / file
        code, _, stderr = cli(monkeypatch, capsys, "ingest", str(path), "--client", name)
        assert code == 0, stderr


def _options(command: str) -> tuple[str, ...]:
    return ("--today", TODAY) if command == "daily" else ()


@pytest.mark.parametrize("command", list(KEYS))
def test_all_names_broken_clients_and_runs_the_others(command: str, chimera_home: Path, monkeypatch, capsys,
                                                      tmp_path_factory) -> None:
    tmp_root = tmp_path_factory.getbasetemp()
    _ingested(monkeypatch, capsys, chimera_home, tmp_root, "aa")
    _broken_clients()  # bb-broken: client.yml is not YAML; cc-cut: kpis.yml cut off
    _ingested(monkeypatch, capsys, chimera_home, tmp_root, "dd")

    code, stdout, stderr = cli(monkeypatch, capsys, command, "--all", "--json", *_options(command))
    assert code == 1, stderr
    doc = json.loads(stdout)  # one document: the progress lines went to stderr
    assert WALK <= set(doc) and (doc["clients"], doc["completed"]) == (4, 2)
    assert doc["stopped"] == "" and doc["not_attempted"] == []
    failures = {f["client"]: f["error"] for f in doc["failures"]}
    assert set(failures) == {"bb-broken", "cc-cut"}
    assert "client.yml" in failures["bb-broken"] and "kpis.yml" in failures["cc-cut"]
    assert [d["client"] for d in doc[KEYS[command]]] == ["aa", "dd"]
    assert "2 of 4 client(s) completed; 2 failed: bb-broken, cc-cut" in stderr
    assert "✓ aa" in stderr and "✗ bb-broken" in stderr

    # the list holds exactly what the command prints for the one client (jobs: same rows)
    code, single, _ = cli(monkeypatch, capsys, command, "--client", "dd", "--json", *_options(command))
    assert json.loads(single) == doc[KEYS[command]][1]

    code, stdout, stderr = cli(monkeypatch, capsys, command, "--all", *_options(command))
    assert code == 1
    assert "bb-broken failed: " in stdout and "cc-cut failed: " in stdout
    assert all(f"│ {name} " in stdout for name in ("aa", "dd"))
    assert "✓" not in stdout and "client(s) completed" not in stdout  # progress and summary: stderr


@pytest.mark.parametrize("command", list(KEYS))
def test_all_or_client_but_not_both(command: str, chimera_home: Path, monkeypatch, capsys) -> None:
    for args in ((), ("--all", "--client", "aa")):
        code, stdout, stderr = cli(monkeypatch, capsys, command, *args)
        assert code == 2 and stdout == ""
        assert f"chimera {command}: give either --client NAME or --all (every client)" in stderr


def test_daily_all_exits_zero_when_every_check_is_good_and_names_those_that_need_attention(
        chimera_home: Path, monkeypatch, capsys, tmp_path_factory, quiet_store: Path) -> None:
    """Every client fresh and calm: exit 0. A client with no data at all is not a failure of the walk
    but a check that needs attention: exit 1, as ``daily --client`` does for it, and it is named."""
    tmp_root = tmp_path_factory.getbasetemp()
    for name in ("aa", "bb"):
        _ingested(monkeypatch, capsys, chimera_home, tmp_root, name, quiet_store)
    code, stdout, stderr = cli(monkeypatch, capsys, "daily", "--all", "--today", TODAY, "--json")
    doc = json.loads(stdout)
    assert code == 0, stderr
    assert doc["failures"] == doc["needs_attention"] == [] and doc["completed"] == 2
    assert [(c["client"], c["ok"]) for c in doc["checks"]] == [("aa", True), ("bb", True)]
    assert doc["today"] == TODAY

    add_client("cc-new")  # no export yet
    code, stdout, stderr = cli(monkeypatch, capsys, "daily", "--all", "--today", TODAY, "--json")
    doc = json.loads(stdout)
    attention = {a["client"]: a["why"] for a in doc["needs_attention"]}
    assert code == 1 and "cc-new" in attention and doc["failures"] == []
    assert "no data" in attention["cc-new"]
    assert [c["ok"] for c in doc["checks"] if c["client"] == "cc-new"] == [False]
    assert "cc-new" in stderr.splitlines()[-1] and "need attention" in stderr.splitlines()[-1]


def test_monthly_all_writes_each_client_s_case_study(chimera_home: Path, monkeypatch, capsys,
                                                     tmp_path_factory) -> None:
    tmp_root = tmp_path_factory.getbasetemp()
    for name in ("aa", "bb"):
        _ingested(monkeypatch, capsys, chimera_home, tmp_root, name)
    code, stdout, stderr = cli(monkeypatch, capsys, "monthly", "--all", "--as-of", AS_OF.isoformat(), "--json")
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["as_of"] == AS_OF.isoformat()
    paths = [Path(r["case_study_path"]) for r in doc["reviews"]]
    assert [p.parent.name for p in paths] == ["aa", "bb"] and all(p.read_text("utf-8") for p in paths)
    assert "monthly review: 2 of 2 client(s) completed" in stderr


def test_jobs_all_refuses_a_bad_status_once(chimera_home: Path, monkeypatch, capsys) -> None:
    add_client("aa")
    code, stdout, stderr = cli(monkeypatch, capsys, "jobs", "--all", "--status", "faild", "--json")
    assert code == 1 and stdout == ""
    assert stderr.count("--status 'faild'") == 1 and "did you mean 'failed'?" in stderr


def test_all_on_postgres(pg_url: str, monkeypatch, capsys, tmp_path_factory) -> None:
    """The same walks on Postgres, with one client broken."""
    import os

    home = Path(os.environ["CHIMERA_HOME"])
    _ingested(monkeypatch, capsys, home, tmp_path_factory.getbasetemp(), "aa")
    _broken_clients()
    for command in KEYS:
        code, stdout, stderr = cli(monkeypatch, capsys, command, "--all", "--json", *_options(command))
        doc = json.loads(stdout)
        assert code == 1 and [d["client"] for d in doc[KEYS[command]]] == ["aa"], stderr
        assert {f["client"] for f in doc["failures"]} == {"bb-broken", "cc-cut"}


@pytest.mark.parametrize(("name", "advice"), [
    ("acmee", " (did you mean 'acme'?): no config folder at "),
    ("zzz", " (chimera client list; chimera client add zzz creates it)"),
    ("ZZ", " (chimera client list)"),  # no client can be called that: adding it would be refused
])
def test_config_check_of_an_unknown_client_says_what_to_do(name: str, advice: str, chimera_home: Path, monkeypatch,
                                                           capsys) -> None:
    add_client("acme")
    code, stdout, stderr = cli(monkeypatch, capsys, "config", "check", "--client", name)
    assert code == 1 and stdout == "" and stderr.startswith(f"error: unknown client {name!r}")
    assert advice in stderr and len(stderr.strip().splitlines()) == 1
    if name == "acmee":
        assert "client add" not in stderr  # the typo is not to be created


def test_a_replay_before_a_client_s_first_day_says_where_its_data_is(chimera_home: Path, monkeypatch, capsys,
                                                                     tmp_path_factory) -> None:
    """Every KPI UNKNOWN on a day before the first export's is no missing export: "no data ingested,
    list the client's exports" sent a client with months of data to fix its client.yml."""
    _ingested(monkeypatch, capsys, chimera_home, tmp_path_factory.getbasetemp(), "aa")
    early = (START - timedelta(days=30)).isoformat()
    code, stdout, stderr = cli(monkeypatch, capsys, "cycle", "--all", "--as-of", early, "--json")
    [failure] = json.loads(stdout)["failures"]
    assert code == 1 and failure["client"] == "aa"
    assert failure["error"].startswith(f"no data up to {early}: every KPI is UNKNOWN; aa's data runs from {START} ")
    assert "client.yml" not in failure["error"]
    code, _, stderr = cli(monkeypatch, capsys, "cycle", "--client", "aa", "--as-of", early)
    assert code == 1 and f"aa's data runs from {START}" in stderr.strip().splitlines()[-1]

    add_client("bb")  # no data at all: the exports are what is missing
    code, _, stderr = cli(monkeypatch, capsys, "cycle", "--client", "bb")
    assert code == 1 and "no data ingested: every KPI is UNKNOWN; list the client's exports" in stderr


@pytest.mark.parametrize("command", ["cycle", *KEYS])
def test_all_over_a_database_without_clients_is_an_error(command: str, chimera_home: Path, monkeypatch,
                                                         capsys) -> None:
    """Cron pointed at the wrong home or database read '0 of 0 client(s) completed' and exit 0."""
    code, stdout, stderr = cli(monkeypatch, capsys, command, "--all", "--json")
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"error: --all: no client in the database sqlite:///{chimera_home / 'chimera.db'}: "
                             "add one with chimera client add NAME"), stderr


@pytest.mark.parametrize(("url", "words"), [
    ("mysql://agency:s3cret-pw@db.internal/prod",
     "CHIMERA_DATABASE_URL is a mysql URL, not a database Chimera runs on"),
    ("s3cret-pw", "CHIMERA_DATABASE_URL is no URL (no scheme://), not a database Chimera runs on"),
])
def test_a_database_url_chimera_cannot_use_is_one_line(url: str, words: str, chimera_home: Path, monkeypatch,
                                                       capsys) -> None:
    monkeypatch.setenv("CHIMERA_DATABASE_URL", url)
    code, stdout, stderr = cli(monkeypatch, capsys, "daily", "--all", "--json")
    assert code == 1 and stdout == "" and "Traceback" not in stderr
    assert stderr.startswith(f"error: {words}: write postgresql://USER@HOST:5432/DATABASE or sqlite:///PATH"), stderr
    assert "s3cret-pw" not in stderr


def test_a_postgres_schema_that_does_not_exist_is_one_line(chimera_home: Path, monkeypatch, capsys) -> None:
    from tests.conftest import PG_URL, _pg_answers

    if not _pg_answers(PG_URL):
        pytest.skip("no Postgres server answers at 127.0.0.1:5432")
    from chimera.db.engine import dispose_all

    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"{PG_URL}?options=-csearch_path%3Dqa9_no_such_schema")
    dispose_all()
    code, stdout, stderr = cli(monkeypatch, capsys, "client", "list")
    dispose_all()
    assert code == 1 and stdout == "" and "Traceback" not in stderr
    assert "the schema the search_path of CHIMERA_DATABASE_URL" in stderr and "does not exist" in stderr
    assert len(stderr.strip().splitlines()) == 1
