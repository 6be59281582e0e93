"""The config changelog (manual §5 rule, §9): every change has a reason, an expected effect, a date
and an owner, and ``configs/CHANGELOG.md`` records the sha256 of the file it describes.

The hash is what makes the rule enforceable: a config whose bytes differ from its last logged
entry was changed without an entry, and ``chimera config check`` names it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as Date
from pathlib import Path

from chimera.config.loader import FILES
from chimera.config.yamlload import read_config_text
from chimera.errors import ConfigError

CHANGELOG = "CHANGELOG.md"
HEADER = """# Config changelog

Every change to `agents.yml`, `kpis.yml` and `plays.yml` is logged here (manual §5, §9): reason,
expected effect, date and owner. `sha256` is the hash of the file's bytes after the change;
`chimera config check` fails when a file differs from its last entry. Add entries with
`chimera config log FILE --reason R --effect E --owner O [--client NAME]`, never by hand-editing hashes.
A version tag (`## DATE tag NAME`, manual §9) names a logged state of all three files:
`chimera config tag NAME --reason R --owner O [--client NAME]`; `chimera config tags` lists them.
"""
_HEADING = re.compile(r"^## (?P<date>\d{4}-\d{2}-\d{2}) (?P<file>\S+)\s*$")
TAG_HEADING = re.compile(r"^## (?P<date>\d{4}-\d{2}-\d{2}) tag(?:\s+(?P<name>.*?))?\s*$")
"""A version tag's heading (``## 2026-12-07 tag v2``): not a file entry (``chimera.config.tags``)."""
_FIELD = re.compile(r"^- (?P<key>[^:]+?):\s*(?P<value>.*?)\s*$")
_REQUIRED = ("reason", "expected effect", "owner", "sha256")


@dataclass(frozen=True)
class ChangelogEntry:
    """One ``## <date> <file>`` section of CHANGELOG.md."""

    date: Date
    file: str
    reason: str
    expected_effect: str
    owner: str
    sha256: str
    line: int


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Section:
    """One ``## ...`` heading of CHANGELOG.md and its ``- key: value`` lines (a later key wins)."""

    line: int
    heading: str
    fields: dict[str, str]


def changelog_sections(folder: Path) -> list[Section]:
    """Every section of ``folder/CHANGELOG.md`` in file order: file entries and version tags alike."""
    path = Path(folder) / CHANGELOG
    if not path.exists():
        return []
    sections: list[Section] = []
    for no, raw in enumerate(read_config_text(path).splitlines(), start=1):
        if raw.startswith("## "):
            sections.append(Section(line=no, heading=raw, fields={}))
        elif sections and (f := _FIELD.match(raw)):
            sections[-1].fields[f["key"]] = f["value"]
    return sections


def read_changelog(folder: Path) -> tuple[list[ChangelogEntry], list[str]]:
    """File entries of ``folder/CHANGELOG.md`` in file order, plus problems with malformed entries.

    Version tags (``## DATE tag NAME``, ``chimera.config.tags``) are not file entries: skipped here."""
    entries: list[ChangelogEntry] = []
    problems: list[str] = []
    for sec in changelog_sections(folder):
        if TAG_HEADING.match(sec.heading):
            continue
        m = _HEADING.match(sec.heading)
        if not m:
            problems.append(f"{CHANGELOG}:{sec.line}: heading: expected '## YYYY-MM-DD file.yml' "
                            f"or '## YYYY-MM-DD tag NAME', got {sec.heading!r}")
            continue
        try:
            day = Date.fromisoformat(m["date"])
        except ValueError:
            problems.append(f"{CHANGELOG}:{sec.line}: date: not a calendar date {m['date']!r}")
            continue
        missing = [k for k in _REQUIRED if not sec.fields.get(k)]
        if missing:
            problems.append(f"{CHANGELOG}:{sec.line}: {m['file']}: entry lacks {', '.join(missing)}")
            continue
        entries.append(ChangelogEntry(
            date=day, file=m["file"], reason=sec.fields["reason"], expected_effect=sec.fields["expected effect"],
            owner=sec.fields["owner"], sha256=sec.fields["sha256"].lower(), line=sec.line,
        ))
    return entries, problems


def last_entries(folder: Path) -> dict[str, ChangelogEntry]:
    """The newest entry per file (the last one in the file wins)."""
    entries, _ = read_changelog(folder)
    return {e.file: e for e in entries}


def check_changelog(folder: Path, client: str | None = None) -> list[str]:
    """Problems: a config that has no entry, or whose bytes differ from its last entry's hash."""
    folder = Path(folder)
    entries, problems = read_changelog(folder)
    last = {e.file: e for e in entries}
    tracked = [*FILES.values(), *(f for f in last if f not in FILES.values())]
    scope = f" --client {client}" if client else ""
    how = "chimera config log {file} --reason R --effect E --owner O" + scope
    for name in tracked:
        path = folder / name
        if not path.exists():
            if name in last:
                problems.append(f"{name}: logged in {CHANGELOG} (line {last[name].line}) but not in {folder}")
            continue
        entry = last.get(name)
        if entry is None:
            problems.append(f"{name}: no entry in {CHANGELOG}; log it: {how.format(file=name)}")
        elif file_sha256(path) != entry.sha256:
            problems.append(
                f"{name}: changed since its last {CHANGELOG} entry ({entry.date}, line {entry.line}) "
                f"without a new entry; log it: {how.format(file=name)}"
            )
    return problems


def append_section(folder: Path, heading: str, fields: dict[str, str]) -> None:
    """Append ``## heading`` and its ``- key: value`` lines to CHANGELOG.md (created with its header)."""
    log = Path(folder) / CHANGELOG
    text = read_config_text(log) if log.exists() else HEADER
    if not text.endswith("\n"):
        text += "\n"
    lines = "".join(f"- {key}: {value}\n" for key, value in fields.items())
    log.write_text(f"{text}\n## {heading}\n{lines}", encoding="utf-8")


def one_line(value: str, what: str) -> str:
    text = " ".join(str(value).split())
    if not text:
        raise ConfigError(f"{CHANGELOG}: {what}: must not be empty (manual §5: reason, effect, owner)")
    return text


def log_change(
    folder: Path,
    file: str,
    reason: str,
    expected_effect: str,
    owner: str,
    date: Date | None = None,
    company_id: int | None = None,
) -> ChangelogEntry:
    """Append an entry for ``file`` (its current sha256) and, with a company id, a ConfigChange row."""
    folder = Path(folder)
    name = Path(file).name
    path = folder / name
    if not path.is_file():
        known = sorted(p.name for p in folder.glob("*.yml"))
        from chimera.config.loader import suggest

        raise ConfigError(f"{folder / name}: file not found{suggest(name, known)}")
    entry = ChangelogEntry(
        date=date or datetime.now(UTC).date(), file=name, reason=one_line(reason, "reason"),
        expected_effect=one_line(expected_effect, "expected effect"), owner=one_line(owner, "owner"),
        sha256=file_sha256(path), line=0,
    )
    append_section(folder, f"{entry.date.isoformat()} {name}", {
        "reason": entry.reason, "expected effect": entry.expected_effect, "owner": entry.owner,
        "sha256": entry.sha256})
    if company_id is not None:
        _record(entry, company_id)
    return entry


def _record(entry: ChangelogEntry, company_id: int) -> None:
    from chimera.db.engine import session_scope
    from chimera.db.models import ConfigChange

    with session_scope() as s:
        s.add(ConfigChange(company_id=company_id, file=entry.file, sha256=entry.sha256, reason=entry.reason,
                           expected_effect=entry.expected_effect, date=entry.date, owner=entry.owner))
