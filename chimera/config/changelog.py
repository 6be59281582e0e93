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
from chimera.errors import ConfigError

CHANGELOG = "CHANGELOG.md"
HEADER = """# Config changelog

Every change to `agents.yml`, `kpis.yml` and `plays.yml` is logged here (manual §5, §9): reason,
expected effect, date and owner. `sha256` is the hash of the file's bytes after the change;
`chimera config check` fails when a file differs from its last entry. Add entries with
`chimera config log FILE --reason R --effect E --owner O [--client NAME]`, never by hand-editing hashes.
"""
_HEADING = re.compile(r"^## (?P<date>\d{4}-\d{2}-\d{2}) (?P<file>\S+)\s*$")
_FIELD = re.compile(r"^- (?P<key>reason|expected effect|owner|sha256):\s*(?P<value>.*?)\s*$")
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


def read_changelog(folder: Path) -> tuple[list[ChangelogEntry], list[str]]:
    """Entries of ``folder/CHANGELOG.md`` in file order, plus problems with malformed entries."""
    path = Path(folder) / CHANGELOG
    if not path.exists():
        return [], []
    entries: list[ChangelogEntry] = []
    problems: list[str] = []
    current: dict[str, str] | None = None
    start = 0

    def close() -> None:
        if current is None:
            return
        missing = [k for k in _REQUIRED if not current.get(k)]
        if missing:
            problems.append(f"{CHANGELOG}:{start}: {current['file']}: entry lacks {', '.join(missing)}")
            return
        entries.append(ChangelogEntry(
            date=Date.fromisoformat(current["date"]), file=current["file"], reason=current["reason"],
            expected_effect=current["expected effect"], owner=current["owner"],
            sha256=current["sha256"].lower(), line=start,
        ))

    for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("## "):
            close()
            m = _HEADING.match(raw)
            if not m:
                current = None
                problems.append(f"{CHANGELOG}:{no}: heading: expected '## YYYY-MM-DD file.yml', got {raw!r}")
                continue
            try:
                Date.fromisoformat(m["date"])
            except ValueError:
                current = None
                problems.append(f"{CHANGELOG}:{no}: date: not a calendar date {m['date']!r}")
                continue
            current, start = {"date": m["date"], "file": m["file"]}, no
        elif current is not None and (f := _FIELD.match(raw)):
            current[f["key"]] = f["value"]
    close()
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


def _one_line(value: str, what: str) -> str:
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
        date=date or datetime.now(UTC).date(), file=name, reason=_one_line(reason, "reason"),
        expected_effect=_one_line(expected_effect, "expected effect"), owner=_one_line(owner, "owner"),
        sha256=file_sha256(path), line=0,
    )
    log = folder / CHANGELOG
    text = log.read_text(encoding="utf-8") if log.exists() else HEADER
    if not text.endswith("\n"):
        text += "\n"
    block = (f"\n## {entry.date.isoformat()} {name}\n- reason: {entry.reason}\n"
             f"- expected effect: {entry.expected_effect}\n- owner: {entry.owner}\n"
             f"- sha256: {entry.sha256}\n")
    log.write_text(text + block, encoding="utf-8")
    if company_id is not None:
        _record(entry, company_id)
    return entry


def _record(entry: ChangelogEntry, company_id: int) -> None:
    from chimera.db.engine import session_scope
    from chimera.db.models import ConfigChange

    with session_scope() as s:
        s.add(ConfigChange(company_id=company_id, file=entry.file, sha256=entry.sha256, reason=entry.reason,
                           expected_effect=entry.expected_effect, date=entry.date, owner=entry.owner))
