"""The shipped SOPs: valid front matter, practical length, and ids that exist in the configs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chimera import settings as chimera_settings
from chimera.sop import get_sop, list_sops, validate_sop_text

LIB = chimera_settings.LIBRARIES_DIR
CONTRACTS = chimera_settings.PROJECT_ROOT / "docs" / "contracts.md"
REQUIRED = [
    "commerce/pricing-test.md", "commerce/bundle-design.md", "commerce/free-shipping-threshold.md",
    "growth/winback-email.md", "growth/traffic-recovery.md", "product/refund-root-cause.md",
    "product/checkout-friction-audit.md", "fiverr/gig-refresh.md", "fiverr/response-time.md",
    "evidence/reading-evidence.md", "infra/data-freshness.md",
]


def contract_kpis() -> set[str]:
    text = CONTRACTS.read_text(encoding="utf-8")
    section = text.split("## KPI ids", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"\b[a-z][a-z0-9_]*[a-z0-9]\b", section.split("\n", 1)[1]))


def config_ids(name: str, key: str) -> set[str] | None:
    path = chimera_settings.BASE_CONFIG_DIR / name
    if not path.exists():
        return None
    return {item["id"] for item in yaml.safe_load(path.read_text(encoding="utf-8"))[key]}


@pytest.mark.parametrize("rel", REQUIRED)
def test_required_sop_is_valid_and_practical(rel: str) -> None:
    doc = get_sop(rel, root=LIB)
    assert doc.problems == []
    lines = (LIB / rel).read_text(encoding="utf-8").splitlines()
    assert 40 <= len(lines) <= 120, f"{rel}: {len(lines)} lines"
    assert len(re.findall(r"^## ", doc.text, flags=re.M)) >= 4, "a procedure has sections"
    assert doc.tags and doc.kpis


def test_every_shipped_sop_names_real_kpis_and_plays() -> None:
    kpis = config_ids("kpis.yml", "kpis") or contract_kpis()
    plays = config_ids("plays.yml", "plays")
    for sop in list_sops(root=LIB):
        text = (LIB / sop.file).read_text(encoding="utf-8")
        validate_sop_text(text, sop.file, known_plays=plays, known_kpis=kpis)
    if plays is None:
        pytest.skip("configs/plays.yml absent: play ids checked for shape only")


def test_plays_cite_sops_that_exist() -> None:
    path = chimera_settings.BASE_CONFIG_DIR / "plays.yml"
    if not path.exists():
        pytest.skip("configs/plays.yml absent")
    cited = {s for p in yaml.safe_load(path.read_text(encoding="utf-8"))["plays"] for s in p.get("sops", [])}
    assert cited, "plays.yml cites no SOP"
    for rel in sorted(cited):
        assert get_sop(rel, root=LIB).problems == [], rel


def test_the_brief_play_ids_each_have_an_sop() -> None:
    covered = {p for s in list_sops(root=LIB) if s.file != "evidence/reading-evidence.md" for p in s.plays}
    assert covered >= {"pricing_test", "bundle_offer", "free_shipping_threshold", "winback_email",
                       "checkout_friction_audit", "refund_root_cause_review", "fiverr_gig_package_refresh",
                       "fiverr_response_time_sprint", "traffic_recovery"}


def test_contract_kpi_parser_reads_the_contract() -> None:
    kpis = contract_kpis()
    assert {"aov", "conversion_rate", "fiverr_response_rate"} <= kpis
    assert Path(CONTRACTS).exists()
