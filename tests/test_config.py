"""The base config set, its JSON Schemas, the changelog rule and ``chimera config``."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from chimera import settings
from chimera.cli import _register
from chimera.cli.app import app
from chimera.config.changelog import check_changelog, file_sha256, last_entries, log_change, read_changelog
from chimera.config.loader import FILES, load_config_set
from chimera.config.models import AllOf, AnyOf, NotOf, formula_metrics
from chimera.config.schema import SCHEMAS, render, stale_schemas, write_schemas

_register()
BASE = settings.BASE_CONFIG_DIR
CONTRACTS = (settings.PROJECT_ROOT / "docs" / "contracts.md").read_text("utf-8")
runner = CliRunner()


def _contract_list(heading: str) -> list[str]:
    """Names listed under a heading of docs/contracts.md (comma separated, may span lines)."""
    block = CONTRACTS.split(heading, 1)[1].split("\n## ", 1)[0]
    return [w.strip(" .\n`;") for w in block.replace("\n", " ").split(",") if w.strip(" .\n")]


# --------------------------------------------------------------------------- base files


@pytest.fixture(scope="module")
def base():
    return load_config_set()


@pytest.mark.parametrize("fname", list(FILES.values()))
def test_each_base_file_names_its_schema_on_line_one(fname: str) -> None:
    first = (BASE / fname).read_text("utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=schema/{fname.removesuffix('.yml')}.schema.json"


def test_base_set_loads_with_the_contract_ids(base) -> None:
    assert [k.id for k in base.kpis.kpis] and {k.id for k in base.kpis.kpis} == set(
        _contract_list("## KPI ids (configs/kpis.yml)"))
    commanders, bots = CONTRACTS.split("## Commanders and bots (configs/agents.yml)", 1)[1].split("; bots ", 1)
    assert [c.id for c in base.agents.commanders] == [x.strip(" \n,") for x in commanders.split(",")]
    assert {b.id for b in base.agents.bots} == {x.strip(" .\n") for x in bots.split("\n## ")[0].split(",")}


def test_commanders_match_manual_3_1(base) -> None:
    manual = (settings.PROJECT_ROOT.parent / "shared" / "PROFIT_OS_MANUAL.md")
    if not manual.exists():
        pytest.skip("manual not in this workspace")
    text = manual.read_text("utf-8").split("### 3.1", 1)[1].split("### 3.2", 1)[0]
    for c in base.agents.commanders:
        section = text.split(f"(`{c.id}`)", 1)[1].split("\n**", 1)[0]
        listed = [line.strip()[3:].split("`")[0] for line in section.splitlines() if line.strip().startswith("- `")]
        assert c.handles == listed, c.id
        assert 3 <= len(c.values) <= 4 and c.libraries and c.role


def test_every_job_type_of_the_lifecycle_has_an_owner(base) -> None:
    for job_type in ("INGEST_METRICS", "EVALUATE_KPIS", "SUGGEST_PLAYS", "PLAN_JOB_QUEUE_FOR_PLAY",
                     "EXECUTE_PLAY_COMMERCE", "EXECUTE_PLAY_GROWTH", "EXECUTE_PLAY_PRODUCT", "LOG_EVIDENCE"):
        assert base.owners_of(job_type), job_type


def test_kpi_formulas_use_contract_metrics(base) -> None:
    section = CONTRACTS.split("## Base metric names", 1)[1].split("\n## ", 1)[0]
    metrics = set(re.findall(r"[a-z][a-z0-9_]*", section))
    for k in base.kpis.kpis:
        if k.formula == "repeat_purchase_rate":
            continue
        assert set(formula_metrics(k.formula)) <= metrics, (k.id, k.formula)
        if k.unit == "percent":
            assert 0 <= k.critical <= 1 and 0 <= k.target <= 1, k.id  # fractions, not percentages


def test_the_base_metric_list_is_the_contract() -> None:
    """``BASE_METRICS`` (what `chimera metrics --metric` accepts) names exactly docs/contracts.md's metrics."""
    from chimera.ingest.models import BASE_METRICS

    section = CONTRACTS.split("## Base metric names", 1)[1].split("\n## ", 1)[0]
    named = {m for m in re.findall(r"[a-z][a-z0-9_]*", section) if m in BASE_METRICS or "_" in m}
    assert BASE_METRICS <= set(re.findall(r"[a-z][a-z0-9_]*", section))
    assert {m for m in named if m.startswith(("stripe_", "ga_", "fiverr_", "refunded_", "net_"))} <= BASE_METRICS


def test_plays_cover_the_required_library(base) -> None:
    required = {"pricing_test", "bundle_offer", "free_shipping_threshold", "winback_email",
                "checkout_friction_audit", "refund_root_cause_review", "fiverr_gig_package_refresh",
                "fiverr_response_time_sprint", "discount_hygiene", "payment_failure_recovery",
                "product_page_refresh", "cross_sell_upsell", "traffic_recovery", "loyalty_nudge",
                "cancellation_reduction", "stripe_fee_review"}
    ids = {p.id for p in base.plays.plays}
    assert required <= ids and len(ids) >= 16
    assert base.plays.policy.max_active_plays == 3 and base.plays.policy.auto_approve == []
    pricing = base.play("pricing_test")
    assert set(pricing.evidence.kpis) == {"aov", "net_revenue"} and pricing.evidence.delay_days == 28


def test_trigger_language_is_fully_used(base) -> None:
    seen: set[str] = set()

    def walk(t) -> None:
        seen.add(type(t).__name__)
        for child in getattr(t, "all", None) or getattr(t, "any", None) or []:
            walk(child)
        if isinstance(t, NotOf):
            walk(t.not_)

    for p in base.plays.plays:
        walk(p.trigger)
    assert {AllOf.__name__, AnyOf.__name__, NotOf.__name__, "StatusCondition", "BelowCondition",
            "ChangeBelowCondition", "AnomalyCondition"} <= seen


def test_irreversible_actions_are_marked(base) -> None:
    assert not next(a for a in base.bot("email_bot").actions if a.name == "schedule_campaign").reversible
    assert next(a for a in base.bot("shopify_bot").actions if a.name == "update_prices").reversible


# --------------------------------------------------------------------------- schemas


def test_committed_schemas_equal_a_fresh_export(tmp_path: Path) -> None:
    assert stale_schemas() == []
    written = write_schemas(tmp_path)
    for path in written:
        assert path.read_text("utf-8") == (BASE / "schema" / path.name).read_text("utf-8")
    assert {p.name for p in written} == {f"{n}.schema.json" for n in SCHEMAS}


def test_base_files_validate_against_their_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for key, fname in FILES.items():
        data = yaml.safe_load((BASE / fname).read_text("utf-8"))
        jsonschema.Draft202012Validator(json.loads(render(key))).validate(json.loads(json.dumps(data, default=str)))
    bad = yaml.safe_load((BASE / "kpis.yml").read_text("utf-8"))
    bad["kpis"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(json.loads(render("kpis"))).validate(json.loads(json.dumps(bad, default=str)))


# --------------------------------------------------------------------------- changelog


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "configs"
    out.mkdir()
    for fname in [*FILES.values(), "CHANGELOG.md"]:
        shutil.copy2(BASE / fname, out / fname)
    return out


def test_base_changelog_matches_every_file() -> None:
    assert check_changelog(BASE) == []
    entries, problems = read_changelog(BASE)
    assert problems == [] and {e.file for e in entries} == set(FILES.values())
    for e in entries:
        assert e.reason and e.expected_effect and e.owner


def test_edit_without_entry_fails_naming_the_file_then_logging_fixes_it(folder: Path) -> None:
    plays = folder / "plays.yml"
    plays.write_text(plays.read_text("utf-8").replace("max_active_plays: 3", "max_active_plays: 4"), "utf-8")
    problems = check_changelog(folder)
    assert len(problems) == 1 and problems[0].startswith("plays.yml: changed since its last CHANGELOG.md entry")
    entry = log_change(folder, "plays.yml", "Team can run four plays now", "One more play active per cycle",
                       "ops@example.com", date=date(2026, 12, 1))
    assert check_changelog(folder) == []
    assert entry.sha256 == file_sha256(plays)
    assert last_entries(folder)["plays.yml"].reason == "Team can run four plays now"
    text = (folder / "CHANGELOG.md").read_text("utf-8")
    assert "## 2026-12-01 plays.yml\n- reason: Team can run four plays now\n- expected effect: " in text


def test_file_without_any_entry_fails(folder: Path) -> None:
    (folder / "CHANGELOG.md").unlink()
    problems = check_changelog(folder, client="acme")
    assert [p.split(":", 1)[0] for p in problems] == list(FILES.values())
    assert all("no entry in CHANGELOG.md" in p and "--client acme" in p for p in problems)


def test_malformed_entry_is_reported(folder: Path) -> None:
    with (folder / "CHANGELOG.md").open("a", encoding="utf-8") as fh:
        fh.write("\n## 2026-12-02 kpis.yml\n- reason: forgot the rest\n")
    problems = check_changelog(folder)
    assert any("entry lacks expected effect, owner, sha256" in p for p in problems)


def test_log_refuses_empty_reason_and_unknown_file(folder: Path) -> None:
    from chimera.errors import ConfigError

    with pytest.raises(ConfigError, match="reason: must not be empty"):
        log_change(folder, "kpis.yml", "  ", "x", "me")
    with pytest.raises(ConfigError, match=r"plyas\.yml: file not found \(did you mean 'plays\.yml'\?\)"):
        log_change(folder, "plyas.yml", "r", "e", "me")


def test_log_records_a_config_change_row(folder: Path, chimera_home: Path) -> None:
    from sqlmodel import select

    from chimera.db.engine import session_scope
    from chimera.db.models import Company, ConfigChange

    with session_scope() as s:
        company = Company(name="acme")
        s.add(company)
        s.flush()
        company_id = company.id
    log_change(folder, "kpis.yml", "Calibrate AOV", "Fewer false warnings", "ana", company_id=company_id)
    with session_scope() as s:
        rows = s.exec(select(ConfigChange).where(ConfigChange.company_id == company_id)).all()
    assert [(r.file, r.owner, r.sha256) for r in rows] == [("kpis.yml", "ana", file_sha256(folder / "kpis.yml"))]


# --------------------------------------------------------------------------- CLI


def test_cli_check_base_passes_with_counts() -> None:
    result = runner.invoke(app, ["config", "check", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["problems"] == []
    assert doc["counts"]["kpis"] == len(load_config_set().kpis.kpis)


def test_cli_check_client_reports_each_problem_on_its_own_line(chimera_home: Path) -> None:
    assert runner.invoke(app, ["client", "add", "acme"]).exit_code == 0
    folder = settings.client_dir("acme")
    assert runner.invoke(app, ["config", "check", "--client", "acme"]).exit_code == 0
    kpis = folder / "kpis.yml"
    kpis.write_text(kpis.read_text("utf-8").replace("owner: growth_commander_ai", "owner: growth_commander", 1))
    result = runner.invoke(app, ["config", "check", "--client", "acme"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("kpis.yml:") and "(did you mean 'growth_commander_ai'?)" in line for line in lines)
    assert any(line.startswith("kpis.yml: changed since its last CHANGELOG.md entry") for line in lines)
    doc = json.loads(runner.invoke(app, ["config", "check", "--client", "acme", "--json"]).stdout)
    assert doc["ok"] is False and len(doc["problems"]) == len(lines) - 1  # last line is the count


def test_the_installed_command_exits_1_when_a_check_fails(chimera_home: Path, monkeypatch) -> None:
    """Through ``run()`` (the `chimera` script), not CliRunner: a command raising typer.Exit(1) must exit
    1 (click without standalone mode returns that code instead of raising it)."""
    from chimera.cli.app import run

    assert runner.invoke(app, ["client", "add", "acme"]).exit_code == 0
    kpis = settings.client_dir("acme") / "kpis.yml"
    kpis.write_text(kpis.read_text("utf-8").replace("target: 45", "target: 48", 1))
    monkeypatch.setattr("sys.argv", ["chimera", "config", "check", "--client", "acme", "--json"])
    assert run() == 1
    monkeypatch.setattr("sys.argv", ["chimera", "config", "check"])
    assert run() == 0


def test_cli_log_then_check_passes(chimera_home: Path) -> None:
    assert runner.invoke(app, ["client", "add", "acme"]).exit_code == 0
    kpis = settings.client_dir("acme") / "kpis.yml"
    kpis.write_text(kpis.read_text("utf-8").replace("target: 45", "target: 48", 1))
    assert runner.invoke(app, ["config", "check", "--client", "acme"]).exit_code == 1
    result = runner.invoke(app, ["config", "log", "kpis.yml", "--client", "acme", "--reason", "AOV target from history",
                                 "--effect", "pricing_test fires less", "--owner", "ana", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sha256"] == file_sha256(kpis)
    assert runner.invoke(app, ["config", "check", "--client", "acme"]).exit_code == 0
    assert (BASE / "kpis.yml").read_text("utf-8").count("target: 45") == 1  # base untouched


def test_cli_log_refuses_a_broken_file(chimera_home: Path) -> None:
    from chimera.errors import ConfigError

    assert runner.invoke(app, ["client", "add", "acme"]).exit_code == 0
    plays = settings.client_dir("acme") / "plays.yml"
    before = (settings.client_dir("acme") / "CHANGELOG.md").read_text("utf-8")
    plays.write_text(plays.read_text("utf-8").replace("action: update_prices", "action: update_price"))
    result = runner.invoke(app, ["config", "log", "plays.yml", "--client", "acme", "--reason", "r", "--effect", "e",
                                 "--owner", "o"])
    assert isinstance(result.exception, ConfigError) and "has no action 'update_price'" in str(result.exception)
    assert (settings.client_dir("acme") / "CHANGELOG.md").read_text("utf-8") == before


def test_cli_schema_writes_to_out(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "schema", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0
    assert sorted(Path(p).name for p in json.loads(result.stdout)["written"]) == sorted(
        f"{n}.schema.json" for n in SCHEMAS)


def test_cli_unknown_client_is_one_clear_line(chimera_home: Path, monkeypatch, capsys) -> None:
    from chimera.cli.app import run

    monkeypatch.setattr("sys.argv", ["chimera", "config", "check", "--client", "acmee"])
    (settings.client_dir("acme")).mkdir(parents=True)
    assert run() == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown client 'acmee' (did you mean 'acme'?)") and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_a_clients_copies_reach_the_base_schemas(chimera_home: Path) -> None:
    """The copies' `$schema=schema/...` is relative to their folder: a client's folder has `schema/`
    linked to the base schemas, so editors keep completion, and the copies stay as logged."""
    from chimera.clients import add_client

    folder = add_client("schemas").folder
    for fname, schema in [("kpis.yml", "kpis"), ("plays.yml", "plays"), ("agents.yml", "agents"),
                          ("client.yml", "client")]:
        first = (folder / fname).read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=schema/{schema}.schema.json", fname
        target = folder / "schema" / f"{schema}.schema.json"
        assert target.read_bytes() == (settings.BASE_CONFIG_DIR / "schema" / f"{schema}.schema.json").read_bytes()
    assert runner.invoke(app, ["config", "check", "--client", "schemas"]).exit_code == 0
