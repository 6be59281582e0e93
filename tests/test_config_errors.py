"""Every broken config is refused with ``file:line: field: problem (did you mean ...?)``.

The variants live in tests/broken_configs/variants.yml as small snippets patched into a temp copy
of the base set; the expected line is found in the patched file, never hard-coded.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
import yaml

from chimera import settings
from chimera.config.loader import FILES, load_config_set
from chimera.errors import ConfigError

VARIANTS = yaml.safe_load((Path(__file__).parent / "broken_configs" / "variants.yml").read_text("utf-8"))
LIBRARIES = ["commerce", "growth", "product", "infra", "evidence", "fiverr"]


@functools.cache
def _indexes() -> dict[str, dict[str, int]]:
    def ids(fname: str, key: str) -> dict[str, int]:
        data = yaml.safe_load((settings.BASE_CONFIG_DIR / fname).read_text("utf-8"))
        return {item["id"]: i for i, item in enumerate(data[key])}

    return {"play": ids("plays.yml", "plays"), "kpi": ids("kpis.yml", "kpis"),
            "bot": ids("agents.yml", "bots"), "commander": ids("agents.yml", "commanders")}


def _line(text: str, needle: str) -> int:
    hits = [no for no, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} must occur on exactly one line, found {hits}"
    return hits[0]


@pytest.fixture
def config_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A temp copy of the base config set and of the SOP libraries it cites (a play citing an SOP
    its library folder lacks is refused, wherever the tests run from)."""
    folder, libs = tmp_path / "configs", tmp_path / "libraries"
    folder.mkdir()
    for fname in FILES.values():
        shutil.copy2(settings.BASE_CONFIG_DIR / fname, folder / fname)
    shutil.copytree(settings.LIBRARIES_DIR, libs)
    assert all((libs / lib).is_dir() for lib in LIBRARIES)
    return folder, libs


def test_base_copy_is_clean(config_copy: tuple[Path, Path]) -> None:
    folder, libs = config_copy
    cs = load_config_set(folder, libraries_dir=libs)
    assert {k.id for k in cs.kpis.kpis} >= {"aov", "conversion_rate", "net_revenue"}


def test_at_least_twelve_variants() -> None:
    assert len(VARIANTS) >= 12
    assert len({v["name"] for v in VARIANTS}) == len(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_broken_variant_is_refused(variant: dict, config_copy: tuple[Path, Path]) -> None:
    folder, libs = config_copy
    path = folder / variant["file"]
    text = path.read_text("utf-8")
    assert text.count(variant["old"]) == 1, f"{variant['old']!r} must occur once in {variant['file']}"
    patched = text.replace(variant["old"], variant["new"])
    path.write_text(patched, "utf-8")

    line = _line(patched, variant.get("line_at", "# broken"))
    indexes = _indexes()
    names = {**indexes, "libs": libs, "n_bots": len(indexes["bot"])}
    if "first_at" in variant:
        assert patched.count(variant["first_at"]) == 1
        names["first"] = patched[: patched.index(variant["first_at"])].count("\n") + 1
    field = variant["field"].format(**names)
    problem = variant["problem"].format(**names)

    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=libs)
    assert info.value.problems == [f"{variant['file']}:{line}: {field}: {problem}"]
    assert str(info.value) == info.value.problems[0]


def test_all_problems_of_a_set_are_reported_together(config_copy: tuple[Path, Path]) -> None:
    """One run shows every mistake: a YAML error in one file does not hide errors in another."""
    folder, libs = config_copy
    plays = folder / "plays.yml"
    plays.write_text(plays.read_text("utf-8").replace("label: Price test on best sellers", "label: a: b"))
    kpis = folder / "kpis.yml"
    kpis.write_text(kpis.read_text("utf-8").replace("unit: currency", "unit: dollars", 1))
    with pytest.raises(ConfigError) as info:
        load_config_set(folder, libraries_dir=libs)
    files = sorted(p.split(":", 1)[0] for p in info.value.problems)
    assert files == ["kpis.yml", "plays.yml"]


def test_missing_file_is_named(config_copy: tuple[Path, Path]) -> None:
    folder, libs = config_copy
    (folder / "agents.yml").unlink()
    with pytest.raises(ConfigError, match=r"agents\.yml: file not found"):
        load_config_set(folder, libraries_dir=libs)
