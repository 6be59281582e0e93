"""``chimera sop add|search|list|show`` through the real CLI entry (error lines, exit codes, JSON)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from chimera import settings as chimera_settings
from chimera.cli import _register, run

SOP = "---\ntitle: Stock take\ntags: [stock]\nplays: []\nkpis: [orders]\n---\n# Stock take\n\ncount the okapi shelves\n"


@pytest.fixture
def root(tmp_path: Path, chimera_home: Path) -> Path:
    r = tmp_path / "libraries"
    shutil.copytree(chimera_settings.LIBRARIES_DIR, r)
    return r


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    _register()
    monkeypatch.setattr(sys, "argv", ["chimera", *args])
    code = run()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_search_json_is_one_document(root: Path, monkeypatch, capsys) -> None:
    code, out, _ = cli(monkeypatch, capsys, "sop", "search", "price test best sellers", "--root", str(root),
                       "--limit", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["query"] == "price test best sellers"
    assert doc["hits"][0]["file"] == "commerce/pricing-test.md"
    assert set(doc["hits"][0]) == {"library", "file", "title", "heading", "excerpt", "score", "line"}
    assert len(doc["hits"]) <= 3


def test_search_table_and_library_filter(root: Path, monkeypatch, capsys) -> None:
    code, out, _ = cli(monkeypatch, capsys, "sop", "search", "what's 10%? (AOV)", "--library", "fiverr",
                       "--root", str(root), "--json")
    assert code == 0 and all(h["library"] == "fiverr" for h in json.loads(out)["hits"])
    code, out, _ = cli(monkeypatch, capsys, "sop", "search", "placebo dates", "--root", str(root))
    assert code == 0 and "evidence/" in out and "heading" in out and "excerpt" in out


def test_add_then_search_then_list(root: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    src = tmp_path / "stock-take.md"
    src.write_text(SOP, encoding="utf-8")
    code, out, _ = cli(monkeypatch, capsys, "sop", "add", str(src), "--library", "infra", "--root", str(root), "--json")
    assert code == 0
    assert json.loads(out) == {"library": "infra", "file": "infra/stock-take.md",
                               "path": str(root / "infra" / "stock-take.md"), "title": "Stock take"}
    code, out, _ = cli(monkeypatch, capsys, "sop", "search", "okapi shelves", "--root", str(root), "--json")
    assert json.loads(out)["hits"][0]["file"] == "infra/stock-take.md"
    code, out, _ = cli(monkeypatch, capsys, "sop", "list", "--library", "infra", "--root", str(root), "--json")
    files = [s["file"] for s in json.loads(out)["sops"]]
    assert "infra/stock-take.md" in files and all(f.startswith("infra/") for f in files)


def test_user_errors_are_one_line_and_exit_1(root: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    src = tmp_path / "notes.txt"
    src.write_text(SOP, encoding="utf-8")
    code, out, err = cli(monkeypatch, capsys, "sop", "add", str(src), "--library", "infra", "--root", str(root))
    assert code == 1 and out == "" and "expected a markdown file" in err and "Traceback" not in err
    code, _, err = cli(monkeypatch, capsys, "sop", "search", "x", "--library", "comerce", "--root", str(root))
    assert code == 1 and "did you mean 'commerce'" in err


def test_show_prints_the_sop(root: Path, monkeypatch, capsys) -> None:
    code, out, _ = cli(monkeypatch, capsys, "sop", "show", "commerce/pricing-test.md", "--root", str(root), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["title"] == "Price test on best sellers" and "## Rollback" in doc["text"]
