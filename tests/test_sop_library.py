"""SOP files: front matter parsing, add_sop validation, listing and reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimera.errors import SopError
from chimera.sop import SopFrontMatter, add_sop, get_sop, list_sops, search, validate_sop_text
from chimera.sop.library import parse_front_matter

GOOD = """---
title: Inventory count
tags: [stock, warehouse]
plays: [pricing_test]
kpis: [orders, aov]
owner: product_commander_ai
---
# Inventory count

Count the shelves every Monday.

## Mismatches

Log every mismatch above 2 units.
"""


@pytest.fixture
def root(tmp_path: Path, chimera_home: Path) -> Path:
    r = tmp_path / "libraries"
    for lib in ("commerce", "product"):
        (r / lib).mkdir(parents=True)
    return r


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_is_parsed() -> None:
    fm, body, body_line, problems = parse_front_matter(GOOD, "x.md")
    assert problems == []
    assert fm == SopFrontMatter(title="Inventory count", tags=["stock", "warehouse"], plays=["pricing_test"],
                                kpis=["orders", "aov"], owner="product_commander_ai")
    assert body.startswith("# Inventory count")
    assert GOOD.splitlines()[body_line - 1] == "# Inventory count"


@pytest.mark.parametrize(("text", "expected"), [
    ("# no front matter\n", "x.md:1: front matter: missing"),
    ("---\ntitle: [unclosed\n---\nbody\n", "x.md:3: front matter: invalid YAML"),
    ("---\n- a\n- b\n---\nbody\n", "expected 'key: value' lines, got list"),
    ("---\ntags: [a]\n---\nbody\n", "x.md:1: title: missing"),
    ("---\ntitle: T\ntagz: [a]\n---\nbody\n", "x.md:3: tagz: unknown field (did you mean 'tags'?)"),
    ("---\ntitle: T\nplays: [Pricing Test]\n---\nbody\n", "x.md:3: plays.0: String should match pattern"),
])
def test_front_matter_problems_name_file_line_and_field(text: str, expected: str) -> None:
    fm, _, _, problems = parse_front_matter(text, "x.md")
    assert fm is None
    assert any(expected in p for p in problems), problems


def test_add_sop_copies_and_next_search_finds_it(root: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "inventory-count.md", GOOD)
    dest = add_sop(src, "product", root=root)
    assert dest == root / "product" / "inventory-count.md"
    assert dest.read_text(encoding="utf-8") == GOOD
    assert search("shelves mismatch", root=root)[0].file == "product/inventory-count.md"
    doc = get_sop("product/inventory-count.md", root=root)
    assert (doc.title, doc.tags, doc.problems) == ("Inventory count", ["stock", "warehouse"], [])
    assert doc.text.startswith("# Inventory count")
    assert add_sop(src, "product", root=root) == dest, "adding the same file again is a no-op"


def test_add_sop_refuses_non_markdown(root: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "notes.txt", GOOD)
    with pytest.raises(SopError, match=r"notes\.txt: expected a markdown file \(\.md or \.markdown\), got '\.txt'"):
        add_sop(src, "product", root=root)
    assert list_sops(root=root) == []


def test_add_sop_refuses_binary_and_non_utf8(root: Path, tmp_path: Path) -> None:
    (tmp_path / "bin.md").write_bytes(b"---\ntitle: x\n---\n\x00\x01")
    with pytest.raises(SopError, match="NUL bytes"):
        add_sop(tmp_path / "bin.md", "product", root=root)
    (tmp_path / "latin.md").write_bytes("---\ntitle: café\n---\nbody\n".encode("latin-1"))
    with pytest.raises(SopError, match="is not UTF-8"):
        add_sop(tmp_path / "latin.md", "product", root=root)


def test_add_sop_refuses_bad_front_matter_with_every_problem(root: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "bad.md", "---\ntagz: [a]\n---\n# Body\n")
    with pytest.raises(SopError) as info:
        add_sop(src, "product", root=root)
    msg = str(info.value)
    assert "bad.md:2: tagz: unknown field" in msg and "title: missing" in msg
    assert not (root / "product" / "bad.md").exists()


def test_add_sop_refuses_empty_body_missing_file_and_bad_library(root: Path, tmp_path: Path) -> None:
    with pytest.raises(SopError, match="body: empty"):
        add_sop(write(tmp_path, "empty.md", "---\ntitle: T\n---\n\n"), "product", root=root)
    with pytest.raises(SopError, match="no such file"):
        add_sop(tmp_path / "missing.md", "product", root=root)
    src = write(tmp_path, "ok.md", GOOD)
    with pytest.raises(SopError, match="expected lower-case letters"):
        add_sop(src, "../etc", root=root)
    with pytest.raises(SopError, match=r"did you mean 'product'.*--create"):
        add_sop(src, "prodcut", root=root)
    assert add_sop(src, "ops", root=root, create_library=True) == root / "ops" / "ok.md"


def test_add_sop_checks_known_ids_when_given(root: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "ids.md", GOOD)
    with pytest.raises(SopError, match=r"ids\.md:4: plays: unknown id 'pricing_test' \(did you mean 'pricing_tests'"):
        add_sop(src, "product", root=root, known_plays=["pricing_tests"], known_kpis=["orders", "aov"])
    assert validate_sop_text(GOOD, "ids.md", known_plays=["pricing_test"], known_kpis=["orders", "aov"]).title


def test_add_sop_will_not_overwrite_silently(root: Path, tmp_path: Path) -> None:
    add_sop(write(tmp_path, "same.md", GOOD), "product", root=root)
    other = tmp_path / "v2"
    other.mkdir()
    changed = write(other, "same.md", GOOD.replace("Monday", "Friday"))
    with pytest.raises(SopError, match="already exists with different content; pass --overwrite"):
        add_sop(changed, "product", root=root)
    add_sop(changed, "product", root=root, overwrite=True)
    assert "Friday" in get_sop("product/same.md", root=root).text


def test_list_sops_reports_problems_instead_of_hiding_files(root: Path) -> None:
    (root / "commerce" / "broken.md").write_text("# Broken page\n\nno front matter\n", encoding="utf-8")
    (root / "product" / "fine.md").write_text(GOOD, encoding="utf-8")
    (root / "product" / "readme.txt").write_text("not an SOP", encoding="utf-8")
    listed = {s.file: s for s in list_sops(root=root)}
    assert set(listed) == {"commerce/broken.md", "product/fine.md"}
    assert listed["commerce/broken.md"].title == "Broken page"
    assert listed["commerce/broken.md"].problems and not listed["product/fine.md"].problems
    assert [s.file for s in list_sops("product", root=root)] == ["product/fine.md"]
    with pytest.raises(SopError, match="library 'nope' not found"):
        list_sops("nope", root=root)


@pytest.mark.parametrize("bad", ["../secrets.md", "/etc/passwd", "pricing-test.md", "commerce/../../x.md"])
def test_get_sop_refuses_paths_outside_the_root(root: Path, bad: str) -> None:
    with pytest.raises(SopError):
        get_sop(bad, root=root)


def test_get_sop_unknown_file_suggests(root: Path) -> None:
    (root / "product" / "fine.md").write_text(GOOD, encoding="utf-8")
    with pytest.raises(SopError, match=r"did you mean 'product/fine\.md'"):
        get_sop("product/fine.mdx", root=root)
