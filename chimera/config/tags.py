"""Version tags of a config set (manual §9: tag versions when a new major experiment cycle begins
or a big architecture change is introduced).

A tag names a *logged* state of agents.yml, kpis.yml and plays.yml: the set validates and every
file matches its last CHANGELOG.md entry when it is taken. It lives in the same CHANGELOG.md, as
a section a person reads in place and the file-entry parser skips::

    ## 2026-12-07 tag v2
    - reason: Q1 experiment cycle starts
    - owner: ana
    - agents.yml sha256: ...
    - kpis.yml sha256: ...
    - plays.yml sha256: ...

Cycle runs keep the sha256 of the configs they read (``chimera.jobs.cycle_inputs``), so the
cycles run under a tag are the ones whose three hashes are the tag's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as Date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import make_url

from chimera.config.changelog import (
    CHANGELOG,
    TAG_HEADING,
    append_section,
    changelog_sections,
    check_changelog,
    file_sha256,
    one_line,
)
from chimera.config.loader import FILES
from chimera.errors import ConfigError

TAGGED = tuple(FILES.values())
"""The files a tag names, in the order they are written: agents.yml, kpis.yml, plays.yml."""
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_NAME_HELP = ("use 1-40 lower-case letters, digits, '.', '-' or '_', starting with a letter or digit, "
              "like v2 or q1-experiments")


@dataclass(frozen=True)
class ConfigTag:
    """One ``## <date> tag <name>`` section of CHANGELOG.md."""

    name: str
    date: Date
    reason: str
    owner: str
    sha256: dict[str, str]
    line: int


class TagCycles(BaseModel):
    """Cycle runs whose agents/kpis/plays hashes were the tag's (by when they were run, UTC)."""

    count: int = 0
    first: Date | None = None
    last: Date | None = None


class TagFields(BaseModel):
    """What a tag records."""

    model_config = ConfigDict(extra="forbid")
    name: str
    date: Date
    reason: str
    owner: str
    sha256: dict[str, str] = Field(description="sha256 of each tagged file's bytes, by file name.")


class TagCreated(TagFields):
    """``chimera config tag NAME --json``."""

    client: str | None
    folder: str


class TagState(TagFields):
    """One tag in ``chimera config tags --json``: the tag and how the files stand against it now."""

    line: int = Field(description="Line of its heading in CHANGELOG.md.")
    matches: bool = Field(description="Every tagged file's bytes are the tag's now.")
    changed: list[str] = Field(description="Tagged files whose bytes differ now (or are missing).")
    cycles: TagCycles


class TagList(BaseModel):
    """``chimera config tags --json``."""

    client: str | None
    folder: str
    tags: list[TagState]
    problems: list[str] = Field(description="Malformed tag sections (also reported by config check).")


def _key(file: str) -> str:
    return f"{file} sha256"


def read_tags(folder: Path) -> tuple[list[ConfigTag], list[str]]:
    """Tags of ``folder/CHANGELOG.md`` in file order, plus problems with malformed or repeated ones."""
    tags: list[ConfigTag] = []
    problems: list[str] = []
    for sec in changelog_sections(folder):
        if not (m := TAG_HEADING.match(sec.heading)):
            continue
        where, name = f"{CHANGELOG}:{sec.line}", m["name"] or ""
        missing = [k for k in ("reason", "owner", *map(_key, TAGGED)) if not sec.fields.get(k)]
        seen = next((t for t in tags if t.name == name), None)
        try:
            day = Date.fromisoformat(m["date"])
        except ValueError:
            problems.append(f"{where}: date: not a calendar date {m['date']!r}")
        else:
            if not NAME_RE.match(name):
                problems.append(f"{where}: tag name {name!r}: {_NAME_HELP}")
            elif missing:
                problems.append(f"{where}: tag {name}: lacks {', '.join(missing)}")
            elif seen is not None:
                problems.append(f"{where}: tag {name}: already tagged at line {seen.line} ({seen.date})")
            else:
                tags.append(ConfigTag(name=name, date=day, reason=sec.fields["reason"], owner=sec.fields["owner"],
                                      sha256={f: sec.fields[_key(f)].lower() for f in TAGGED}, line=sec.line))
    return tags, problems


def check_name(folder: Path, name: str) -> None:
    """Refuse a malformed tag name or one the folder already has (naming that tag and its date)."""
    if not NAME_RE.match(name):
        raise ConfigError(f"tag name {name!r}: {_NAME_HELP}")
    tags, _ = read_tags(folder)
    for tag in tags:
        if tag.name == name:
            others = ", ".join(t.name for t in tags)
            raise ConfigError(f"tag {name!r} already exists in {Path(folder) / CHANGELOG} (line {tag.line}): "
                              f"tagged {tag.date} by {tag.owner}; choose another name (tags here: {others})")


def refuse_unless_clean(name: str, problems: list[str], client: str | None = None) -> None:
    """A tag names a logged state: refuse it, in one line saying what to do, while config check fails."""
    if problems:
        scope = f" --client {client}" if client else ""
        raise ConfigError(f"cannot tag {name!r}: chimera config check{scope} fails with {len(problems)} "
                          f"problem(s); fix them (each says how), then tag again: {' | '.join(problems)}")


def current_hashes(folder: Path) -> dict[str, str]:
    """sha256 of each tagged file now (``missing`` when it is not there)."""
    return {f: file_sha256(Path(folder) / f) if (Path(folder) / f).is_file() else "missing" for f in TAGGED}


def changed_since(folder: Path, tag: ConfigTag) -> list[str]:
    """The tagged files whose bytes are not the tag's now."""
    now = current_hashes(folder)
    return [f for f in TAGGED if now[f] != tag.sha256[f]]


def add_tag(folder: Path, name: str, reason: str, owner: str, *, client: str | None = None,
            date: Date | None = None, company_id: int | None = None) -> ConfigTag:
    """Append a tag of the current files and, with a company id, a ConfigChange row (as log_change)."""
    folder = Path(folder)
    check_name(folder, name)
    refuse_unless_clean(name, check_changelog(folder, client=client), client)
    tag = ConfigTag(name=name, date=date or datetime.now(UTC).date(), reason=one_line(reason, "reason"),
                    owner=one_line(owner, "owner"), sha256=current_hashes(folder), line=0)
    append_section(folder, f"{tag.date.isoformat()} tag {name}", {
        "reason": tag.reason, "owner": tag.owner, **{_key(f): tag.sha256[f] for f in TAGGED}})
    if company_id is not None:
        _record(tag, company_id)
    return tag


def set_sha256(hashes: dict[str, str]) -> str:
    """One hash for the set: sha256 of its ``file sha256`` lines in TAGGED order."""
    text = "".join(f"{f} {hashes[f]}\n" for f in TAGGED)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record(tag: ConfigTag, company_id: int) -> None:
    """A ConfigChange row whose ``file`` is the tag's heading word (``tag v2``), ``sha256`` the set's
    hash, and ``expected_effect`` the three file hashes, so the row alone names the tagged state."""
    from chimera.db.engine import session_scope
    from chimera.db.models import ConfigChange

    files = ", ".join(f"{f} {tag.sha256[f]}" for f in TAGGED)
    with session_scope() as s:
        s.add(ConfigChange(company_id=company_id, file=f"tag {tag.name}", sha256=set_sha256(tag.sha256),
                           reason=tag.reason, expected_effect=f"version tag of {files}", date=tag.date,
                           owner=tag.owner))


def cycles_under(tags: list[ConfigTag], client: str | None = None) -> dict[str, TagCycles]:
    """Per tag, the cycle runs (of ``client``, or of any client for the base set) that read exactly
    its three files. Read from each run's recorded inputs; none when no database exists."""
    from sqlmodel import select

    from chimera import settings
    from chimera.db.engine import session_scope
    from chimera.db.models import Company, CycleRun
    from chimera.jobs.cycle_inputs import INPUTS

    found = {t.name: TagCycles() for t in tags}
    if not tags or not _database_exists(settings.database_url()):
        return found  # listing tags never creates a database file
    query = select(CycleRun.created_at, CycleRun.summary).where(CycleRun.kind == "cycle")
    if client is not None:
        query = query.join(Company, Company.id == CycleRun.company_id).where(Company.name == client)
    by_hashes: dict[tuple[str, ...], list[str]] = {}
    for t in tags:
        by_hashes.setdefault(tuple(t.sha256[f] for f in TAGGED), []).append(t.name)
    with session_scope() as s:
        for created_at, summary in s.exec(query):
            configs = ((summary or {}).get(INPUTS) or {}).get("configs") or {}
            for name in by_hashes.get(tuple(configs.get(f, "") for f in TAGGED), []):
                _count(found[name], created_at.date())
    return found


def _database_exists(url: str) -> bool:
    if not url.startswith("sqlite"):
        return True
    database = make_url(url).database
    return database in (None, "", ":memory:") or Path(database).exists()


def _count(cycles: TagCycles, day: Date) -> None:
    cycles.count += 1
    cycles.first = min(cycles.first or day, day)
    cycles.last = max(cycles.last or day, day)
