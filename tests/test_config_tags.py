"""Version tags of a config set (manual §9): ``chimera config tag NAME`` and ``chimera config tags``.

A tag names a logged state of agents/kpis/plays.yml in the same CHANGELOG.md, is refused while
``config check`` fails or when the name is taken, never reads as a file entry, and lists whether
the files still match it and which cycle runs read exactly its files."""

from __future__ import annotations

import io
import json
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import pytest
from sqlmodel import select

from chimera import settings
from chimera.cli import _register
from chimera.cli.app import run
from chimera.config.changelog import CHANGELOG, check_changelog, file_sha256, log_change, read_changelog
from chimera.config.loader import FILES
from chimera.config.tags import add_tag, changed_since, cycles_under, read_tags
from chimera.errors import ConfigError
from tests.cycle_fixtures import AS_OF

_register()
BASE = settings.BASE_CONFIG_DIR
DAY = date(2026, 12, 1)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "configs"
    out.mkdir()
    for fname in [*FILES.values(), CHANGELOG]:
        shutil.copy2(BASE / fname, out / fname)
    return out


@pytest.fixture
def base_copy(folder: Path, monkeypatch: pytest.MonkeyPatch, chimera_home: Path) -> Path:
    """The base set's folder pointed at a copy (with its schemas), so a test never tags configs/."""
    shutil.copytree(BASE / "schema", folder / "schema")
    monkeypatch.setattr(settings, "BASE_CONFIG_DIR", folder)
    return folder


def _cli(*args: str) -> tuple[int, str, str]:
    """The CLI in process, as the executable runs it: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["chimera", *args]), redirect_stdout(out), redirect_stderr(err):
        code = run()
    return code, out.getvalue(), err.getvalue()


def _edit_plays(folder: Path) -> None:
    plays = folder / "plays.yml"
    plays.write_text(plays.read_text("utf-8").replace("max_active_plays: 3", "max_active_plays: 4"), "utf-8")


# --------------------------------------------------------------------------- core


def test_a_tag_is_a_readable_section_that_is_not_a_file_entry(folder: Path) -> None:
    entries_before, _ = read_changelog(folder)
    tag = add_tag(folder, "v2", "Q1 experiment cycle begins", "ana", date=DAY)
    text = (folder / CHANGELOG).read_text("utf-8")
    expected = "".join(f"- {f} sha256: {file_sha256(folder / f)}\n" for f in FILES.values())
    assert text.endswith(f"\n## 2026-12-01 tag v2\n- reason: Q1 experiment cycle begins\n- owner: ana\n{expected}")
    assert read_changelog(folder) == (entries_before, []), "no file entry 'tag', no malformed heading"
    assert check_changelog(folder) == []
    (read,), problems = read_tags(folder)
    assert problems == [] and read.name == "v2" and read.date == DAY and read.owner == "ana"
    assert read.sha256 == tag.sha256 == {f: file_sha256(folder / f) for f in FILES.values()}


def test_an_unlogged_change_is_refused_saying_what_to_do(folder: Path) -> None:
    _edit_plays(folder)
    before = (folder / CHANGELOG).read_bytes()
    with pytest.raises(ConfigError) as exc:
        add_tag(folder, "v2", "r", "ana")
    message = str(exc.value)
    assert message.startswith("cannot tag 'v2': chimera config check fails with 1 problem(s)")
    assert "plays.yml: changed since its last CHANGELOG.md entry" in message
    assert "chimera config log plays.yml --reason R --effect E --owner O" in message
    assert (folder / CHANGELOG).read_bytes() == before
    log_change(folder, "plays.yml", "Four plays at once", "One more play per cycle", "ana", date=DAY)
    assert add_tag(folder, "v2", "r", "ana").sha256["plays.yml"] == file_sha256(folder / "plays.yml")


def test_a_taken_or_malformed_name_is_refused(folder: Path) -> None:
    add_tag(folder, "v1", "First tagged set", "ana", date=DAY)
    before = (folder / CHANGELOG).read_bytes()
    with pytest.raises(ConfigError, match=r"tag 'v1' already exists in .*CHANGELOG\.md \(line \d+\): "
                                          r"tagged 2026-12-01 by ana; choose another name \(tags here: v1\)"):
        add_tag(folder, "v1", "again", "bob")
    for bad in ("V2", "q1 experiments", "-v2", "", "x" * 41):
        with pytest.raises(ConfigError, match="use 1-40 lower-case letters"):
            add_tag(folder, bad, "r", "bob")
    with pytest.raises(ConfigError, match="reason: must not be empty"):
        add_tag(folder, "v2", "  ", "bob")
    assert (folder / CHANGELOG).read_bytes() == before


def test_tags_say_which_files_changed_since(folder: Path) -> None:
    v1 = add_tag(folder, "v1", "Baseline", "ana", date=DAY)
    _edit_plays(folder)
    log_change(folder, "plays.yml", "Four plays at once", "One more play per cycle", "ana", date=DAY)
    v2 = add_tag(folder, "q1-experiments", "Q1 experiments", "ana", date=DAY + timedelta(days=1))
    assert changed_since(folder, v1) == ["plays.yml"] and changed_since(folder, v2) == []
    (folder / "kpis.yml").unlink()
    assert changed_since(folder, v2) == ["kpis.yml"]


def test_a_hand_edited_tag_section_is_a_problem_not_a_file(folder: Path) -> None:
    add_tag(folder, "v1", "Baseline", "ana", date=DAY)
    with (folder / CHANGELOG).open("a", encoding="utf-8") as fh:
        fh.write("\n## 2026-12-02 tag v1\n- reason: copy\n- owner: bob\n"
                 + "".join(f"- {f} sha256: {'0' * 64}\n" for f in FILES.values())
                 + "\n## 2026-12-03 tag Bad Name\n- reason: x\n\n## 2026-12-04 tag v3\n- reason: x\n- owner: y\n")
    tags, problems = read_tags(folder)
    assert [t.name for t in tags] == ["v1"]
    assert [p.split(": ", 2)[1] for p in problems] == ["tag v1", "tag name 'Bad Name'", "tag v3"]
    assert "already tagged at line" in problems[0] and "lacks agents.yml sha256" in problems[2]
    assert check_changelog(folder) == [], "tag sections are never tracked files"


# --------------------------------------------------------------------------- CLI


def test_cli_tag_and_tags_on_the_base_set(base_copy: Path) -> None:
    code, out, err = _cli("config", "tag", "v2", "--reason", "Q1 experiment cycle", "--owner", "ana",
                          "--date", "2026-12-01", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc == {"name": "v2", "date": "2026-12-01", "reason": "Q1 experiment cycle", "owner": "ana",
                   "sha256": {f: file_sha256(base_copy / f) for f in FILES.values()},
                   "client": None, "folder": str(base_copy)}
    assert _cli("config", "check")[0] == 0
    _edit_plays(base_copy)
    code, out, err = _cli("config", "tags", "--json")
    assert code == 0, err
    (tag,) = json.loads(out)["tags"]
    assert (tag["name"], tag["matches"], tag["changed"]) == ("v2", False, ["plays.yml"])
    assert tag["cycles"] == {"count": 0, "first": None, "last": None}
    assert not (base_copy.parent / "chimera.db").exists() and not (settings.home() / "chimera.db").exists(), \
        "listing tags creates no database"
    code, out, _ = _cli("config", "tags")
    assert code == 0 and "v2  2026-12-01  ana: Q1 experiment cycle" in out and "changed since: plays.yml" in out


def test_cli_refusals_are_one_line_and_write_nothing(base_copy: Path) -> None:
    _edit_plays(base_copy)
    before = (base_copy / CHANGELOG).read_bytes()
    code, out, err = _cli("config", "tag", "v2", "--reason", "r", "--owner", "ana")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "cannot tag 'v2': chimera config check fails" in err and "chimera config log plays.yml" in err
    code, out, err = _cli("config", "tag", "Q1", "--reason", "r", "--owner", "ana")
    assert code == 1 and out == "" and "tag name 'Q1'" in err
    assert (base_copy / CHANGELOG).read_bytes() == before


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_client_tag_records_a_config_change_row(request: pytest.FixtureRequest, backend: str) -> None:
    from chimera.clients import add_client
    from chimera.db.engine import session_scope
    from chimera.db.models import ConfigChange

    request.getfixturevalue("chimera_home" if backend == "sqlite" else "pg_url")
    ctx = add_client("acme")
    code, out, err = _cli("config", "tag", "v1", "--client", "acme", "--reason", "Onboarded", "--owner", "ana",
                          "--json")
    assert code == 0, err
    hashes = json.loads(out)["sha256"]
    with session_scope() as s:
        rows = s.exec(select(ConfigChange).where(ConfigChange.company_id == ctx.company_id)).all()
    assert [(r.file, r.owner, r.reason) for r in rows] == [("tag v1", "ana", "Onboarded")]
    assert all(f"{f} {h}" in rows[0].expected_effect for f, h in hashes.items())
    code, _, err = _cli("config", "tag", "v1", "--client", "acme", "--reason", "again", "--owner", "bob")
    assert code == 1 and "tag 'v1' already exists" in err and "tagged" in err and "by ana" in err


def test_tags_count_the_cycles_run_under_them(shop: str) -> None:
    from chimera.clients import get_client
    from chimera.db.engine import session_scope
    from chimera.db.models import CycleRun
    from graphs.service import run_cycle

    folder = get_client(shop).folder
    assert _cli("config", "tag", "v1", "--client", shop, "--reason", "Baseline", "--owner", "ana")[0] == 0
    run_cycle(shop, as_of=AS_OF - timedelta(days=7), silent=True)
    run_cycle(shop, as_of=AS_OF, silent=True)
    _edit_plays(folder)
    log_change(folder, "plays.yml", "Four plays at once", "One more play per cycle", "ana")
    assert _cli("config", "tag", "v2", "--client", shop, "--reason", "Four plays", "--owner", "ana")[0] == 0
    run_cycle(shop, as_of=AS_OF, silent=True)  # a changed config: runs anew, under v2
    code, out, err = _cli("config", "tags", "--client", shop, "--json")
    assert code == 0, err
    cycles = {t["name"]: t["cycles"] for t in json.loads(out)["tags"]}
    with session_scope() as s:
        ran = sorted(r.created_at.date().isoformat() for r in s.exec(select(CycleRun)))
    assert len(ran) == 3
    first, last = ran[0], ran[-1]
    assert cycles == {"v1": {"count": 2, "first": first, "last": ran[1]},
                      "v2": {"count": 1, "first": last, "last": last}}
    tags, _ = read_tags(folder)
    assert {k: v.count for k, v in cycles_under(tags).items()} == {"v1": 2, "v2": 1}, "the base view: any client"
    code, out, _ = _cli("config", "tags", "--client", shop)
    assert f"cycles run under it: 2 (first {first}, last {ran[1]})" in out


def test_a_broken_client_set_still_lists_its_tags(chimera_home: Path) -> None:
    """The list is where a person finds the version to go back to: it never needs the set to load."""
    from chimera.clients import add_client

    folder = add_client("acme").folder
    assert _cli("config", "tag", "v1", "--client", "acme", "--reason", "Onboarded", "--owner", "ana")[0] == 0
    (folder / "kpis.yml").write_text("kpis: [\n", encoding="utf-8")
    code, out, err = _cli("config", "tags", "--client", "acme", "--json")
    assert code == 0, err
    (tag,) = json.loads(out)["tags"]
    assert (tag["name"], tag["matches"], tag["changed"]) == ("v1", False, ["kpis.yml"])
    code, _, err = _cli("config", "tag", "v2", "--client", "acme", "--reason", "r", "--owner", "ana")
    assert code == 1 and "cannot tag 'v2'" in err and "kpis.yml" in err
