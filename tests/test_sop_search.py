"""SOP search: ranking, library filter, live re-index on add/remove/edit, and hostile queries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chimera import settings as chimera_settings
from chimera.errors import SopError
from chimera.sop import SopHit, search
from chimera.sop.index import fts_match, query_tokens, sections

SHIPPED = chimera_settings.LIBRARIES_DIR


def write_sop(root: Path, rel: str, title: str, body: str, tags: str = "[]") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {title}\ntags: {tags}\nplays: []\nkpis: []\n---\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def lib_root(tmp_path: Path, chimera_home: Path) -> Path:
    """A temp library root holding a copy of the shipped SOPs (so tests never touch the repo's)."""
    root = tmp_path / "libraries"
    shutil.copytree(SHIPPED, root, ignore=shutil.ignore_patterns(".gitkeep"))
    return root


def test_price_test_query_finds_the_pricing_sop(lib_root: Path) -> None:
    hits = search("price test best sellers", root=lib_root)
    assert hits and all(isinstance(h, SopHit) for h in hits)
    assert hits[0].file == "commerce/pricing-test.md"
    assert hits[0].library == "commerce"
    assert hits[0].title == "Price test on best sellers"
    assert 0 < len(hits[0].excerpt) <= 400
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.file for h in hits}) == len(hits), "at most one hit per file"


def test_hit_points_at_the_matching_section_and_its_line(lib_root: Path) -> None:
    hit = search("placebo dates", root=lib_root, limit=1)[0]
    assert hit.file == "evidence/reading-evidence.md"
    assert "placebo" in hit.heading.lower()
    lines = (lib_root / hit.file).read_text(encoding="utf-8").splitlines()
    assert hit.heading in lines[hit.line - 1]
    assert "placebo" in hit.excerpt.lower()


def test_library_filter_limits_results(lib_root: Path) -> None:
    everything = search("conversion rate", root=lib_root, limit=20)
    assert {h.library for h in everything} > {"commerce"}
    only = search("conversion rate", libraries=["fiverr", "product"], root=lib_root, limit=20)
    assert only and {h.library for h in only} <= {"fiverr", "product"}
    assert len(search("conversion rate", root=lib_root, limit=2)) == 2


def test_unknown_library_is_a_clear_error(lib_root: Path) -> None:
    with pytest.raises(SopError, match="did you mean 'commerce'"):
        search("price", libraries=["comerce"], root=lib_root)


def test_dropped_file_is_found_by_next_search_and_removed_file_disappears(lib_root: Path) -> None:
    assert search("zebra quagga okapi", root=lib_root) == []
    new = write_sop(lib_root, "growth/zebra.md", "Zebra SOP", "# Zebra\n\nzebra quagga okapi steps\n")
    hits = search("zebra quagga okapi", root=lib_root)
    assert [h.file for h in hits] == ["growth/zebra.md"]
    new.unlink()
    assert search("zebra quagga okapi", root=lib_root) == []


def test_edited_file_is_reindexed(lib_root: Path) -> None:
    path = write_sop(lib_root, "infra/runbook.md", "Runbook", "# Runbook\n\nrotate the walrus keys\n")
    assert search("walrus", root=lib_root)[0].file == "infra/runbook.md"
    path.write_text(path.read_text().replace("walrus", "narwhal"), encoding="utf-8")
    st_ = path.stat()
    os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000_000))  # coarse-mtime filesystems
    assert search("walrus", root=lib_root) == []
    assert search("narwhal", root=lib_root)[0].file == "infra/runbook.md"


def test_home_libraries_are_searched_and_override_the_project_copy(lib_root: Path, chimera_home: Path) -> None:
    write_sop(chimera_home / "libraries", "commerce/client-only.md", "Client pricing rules",
              "# Rules\n\nour quokka discount policy\n")
    write_sop(chimera_home / "libraries", "commerce/pricing-test.md", "Tailored price test",
              "# Tailored\n\nclient specific pangolin price test\n")
    assert search("quokka", root=lib_root)[0].file == "commerce/client-only.md"
    top = search("pangolin price test", root=lib_root)[0]
    assert (top.file, top.title) == ("commerce/pricing-test.md", "Tailored price test")


@pytest.mark.parametrize("query", ["what's 10%? (AOV)", '"unbalanced', "NEAR(a b)", "a* OR -b AND NOT",
                                   "col:value ^start", "", "   ", "!!!", "a' OR 1=1; --", "{x} [y]"])
def test_punctuation_heavy_queries_do_not_crash(lib_root: Path, query: str) -> None:
    hits = search(query, root=lib_root)
    assert isinstance(hits, list)
    if query_tokens(query):
        assert all(isinstance(h, SopHit) for h in hits)
    else:
        assert hits == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=200))
def test_any_text_query_returns_without_error(lib_root: Path, query: str) -> None:
    hits = search(query, root=lib_root, limit=3)
    assert len(hits) <= 3
    assert all(len(h.excerpt) <= 400 for h in hits)


@given(query=st.text(max_size=100))
def test_fts_match_quotes_every_token(query: str) -> None:
    tokens = query_tokens(query)
    expr = fts_match(tokens)
    assert expr.count('"') == 2 * len(tokens)
    assert len(tokens) <= 32


def test_sections_split_at_headings_but_not_inside_code_fences() -> None:
    body = "intro\n# One\ntext 1\n```\n# not a heading\n```\n## Two\ntext 2\n"
    got = sections(body, body_line=7, title="T")
    assert [(s.heading, s.line) for s in got] == [("T", 7), ("One", 8), ("Two", 13)]
    assert "# not a heading" in got[1].text


def test_concurrent_searches_while_files_change(lib_root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> list[str]:
        write_sop(lib_root, f"growth/t{i}.md", f"Thread {i}", f"# T\n\nquagga{i} okapi\n")
        return [h.file for h in search(f"quagga{i} okapi", root=lib_root, limit=20)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(16)))
    for i, files in enumerate(results):
        assert files[0] == f"growth/t{i}.md"
    assert len(search("okapi", root=lib_root, limit=50)) == 16
