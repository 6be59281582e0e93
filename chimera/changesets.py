"""ChangeSets: what a bot would change, and the adapters that apply them after approval.

Bots never touch the outside world (DESIGN.md §5). They return a ChangeSet; an adapter applies it
only for an approved play. The default adapter is a dry run: it records the ChangeSet and writes the
asset (copy text, price table, gig package) to the client's outbox. The ``AppliedChange`` row's
unique idempotency key makes a second application (a re-run after a crash) a no-op.

A reversible ChangeSet is undone by its inverse (``inverse``): the same targets with before and
after swapped, and an asset that restores the before values, applied through the same adapter
under the key ``revert:<original key>`` so an undo, too, happens once (``chimera/plays/revert.py``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from chimera import settings
from chimera.db.models import AppliedChange


class Change(BaseModel):
    """One field of one target, before and after."""

    model_config = ConfigDict(extra="forbid")
    target: str
    field: str
    before: Any = None
    after: Any = None


class Asset(BaseModel):
    """A file the change produces (markdown or CSV) for a person to use or upload."""

    model_config = ConfigDict(extra="forbid")
    filename: str
    content: str


class ChangeSet(BaseModel):
    """What a bot would change: before/after per field, reversibility and the produced asset."""

    model_config = ConfigDict(extra="forbid")
    bot: str
    action: str
    summary: str
    changes: list[Change] = []
    reversible: bool = True
    asset: Asset | None = None
    params: dict[str, Any] = {}
    reverts: str = ""
    """For an inverse: the idempotency key of the applied ChangeSet it undoes (empty otherwise)."""


class ApplyResult(BaseModel):
    applied: bool
    """False when this idempotency key was applied before (nothing happened twice)."""
    adapter: str
    asset_path: str = ""


class Adapter(Protocol):
    name: str

    def apply(self, session: Session, company_id: int, client: str, key: str, cs: ChangeSet,
              job_id: int | None) -> ApplyResult: ...


class DryRunAdapter:
    """Records the ChangeSet and writes its asset to ``outbox/<client>/``; changes nothing outside."""

    name = "dry_run"

    def apply(self, session: Session, company_id: int, client: str, key: str, cs: ChangeSet,
              job_id: int | None = None) -> ApplyResult:
        existing = session.exec(select(AppliedChange).where(AppliedChange.idempotency_key == key)).first()
        if existing is not None:
            return ApplyResult(applied=False, adapter=existing.adapter, asset_path=existing.asset_path)
        path = ""
        if cs.asset is not None:
            folder = settings.outbox_dir(client)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / _safe_name(key, cs.asset.filename)
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_text(cs.asset.content, encoding="utf-8")
            tmp.replace(target)
            path = str(target)
        row = AppliedChange(
            company_id=company_id, idempotency_key=key, job_id=job_id, bot=cs.bot, action=cs.action,
            adapter=self.name, reversible=cs.reversible, changeset=json.loads(cs.model_dump_json()),
            asset_path=path,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another worker applied it first
            session.rollback()
            return ApplyResult(applied=False, adapter=self.name, asset_path=path)
        return ApplyResult(applied=True, adapter=self.name, asset_path=path)


def _safe_name(key: str, filename: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in key)
    return f"{stem}__{Path(filename).name}"


REVERT_PREFIX = "revert:"


def revert_key(key: str) -> str:
    """The idempotency key of the undo of the change applied under ``key``: one undo per change."""
    return f"{REVERT_PREFIX}{key}"


def inverse(cs: ChangeSet, key: str) -> ChangeSet:
    """The ChangeSet that undoes ``cs`` (applied under ``key``): each change's before and after
    swapped, and an asset that puts the before values back (``restore_asset``). Reversible itself:
    undoing the undo is applying the original again."""
    changes = [Change(target=c.target, field=c.field, before=c.after, after=c.before) for c in cs.changes]
    return ChangeSet(bot=cs.bot, action=cs.action, summary=f"undo: {cs.summary}", changes=changes,
                     reversible=True, asset=restore_asset(cs, key), params={}, reverts=key)


def restore_asset(cs: ChangeSet, key: str) -> Asset:
    """The bot's own table with its ``<x>_before`` / ``<x>_after`` columns swapped (a price table
    with the old prices as the prices to set, every other column kept), else a sheet listing each
    value to set back: a person uploading or following it restores what was there."""
    table = _swapped_csv(cs.asset) if cs.asset is not None else None
    if table is not None:
        return table
    stem = Path(cs.asset.filename).stem if cs.asset is not None else f"{cs.bot}-{cs.action}"
    return Asset(filename=f"{stem}-revert.md", content=_restore_sheet(cs, key))


def _swapped_csv(asset: Asset) -> Asset | None:
    """``asset`` (a CSV) with each ``X_before`` column's values exchanged with ``X_after``'s; None
    when it is no CSV or has no such pair (nothing in it says what the before values were)."""
    if not asset.filename.lower().endswith(".csv"):
        return None
    try:
        rows = list(csv.reader(io.StringIO(asset.content)))
    except csv.Error:
        return None
    if not rows:
        return None
    header = rows[0]
    pairs = [(i, header.index(f"{name[:-len('_before')]}_after")) for i, name in enumerate(header)
             if name.endswith("_before") and f"{name[:-len('_before')]}_after" in header]
    if not pairs:
        return None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows[1:]:
        row = list(row)
        for b, a in pairs:
            if max(a, b) < len(row):
                row[a], row[b] = row[b], row[a]
        writer.writerow(row)
    return Asset(filename=asset.filename, content=buffer.getvalue())


def _shown(value: Any, none: str = "(none)") -> str:
    """A change's value for a person: text as is, lists and numbers as JSON, nothing as ``none``."""
    if value is None:
        return none
    return value if isinstance(value, str) else json.dumps(value)


def _restore_sheet(cs: ChangeSet, key: str) -> str:
    """What to set back, one line per change, for a person (dry run: nothing outside changed)."""
    lines = [f"# Undo: {cs.summary}", "", f"Undoes {cs.bot}.{cs.action} (applied as {key}): set each value "
             "back as listed.", ""]
    back = "(none: remove it)"
    lines += [f"- {c.target} {c.field}: {_shown(c.after)} -> {_shown(c.before, back)}" for c in cs.changes]
    if not cs.changes:
        brief = f" ({cs.asset.filename})" if cs.asset is not None else ""
        lines.append(f"- no before/after was recorded: undo by hand what was done following the original{brief}")
    return "\n".join(lines) + "\n"


ADAPTERS: dict[str, Adapter] = {"dry_run": DryRunAdapter()}


def get_adapter(name: str = "dry_run") -> Adapter:
    return ADAPTERS[name]
