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
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, select

from chimera import settings
from chimera.db.models import AppliedChange
from chimera.sheet import csv_document, read_cell

NOT_KNOWN = "(not known: no export holds it)"
"""A ``before`` no export holds (the store's free-shipping threshold, a gig's packages): not None,
which says there was none (a new bundle), so that an undo never says "remove it" for a value that
was there: it asks a person to set back what the store's or the gig's own history shows."""


class Change(BaseModel):
    """One field of one target, before and after (``NOT_KNOWN`` when no export holds the before)."""

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
    changeset: dict[str, Any] = {}
    """What is applied under the key, as recorded (the ChangeSet's JSON): the one given when applied
    now, else the one recorded when it was first applied (never one built anew: the data or the bot
    may have changed since), read as stored so that a record of an older schema is still reported."""
    change_id: int | None = None
    """The ``AppliedChange`` row that records it."""


class Adapter(Protocol):
    name: str

    def apply(self, session: Session, company_id: int, client: str, key: str, cs: ChangeSet,
              job_id: int | None) -> ApplyResult: ...


class DryRunAdapter:
    """Records the ChangeSet and writes its asset to ``outbox/<client>/``; changes nothing outside."""

    name = "dry_run"

    def apply(self, session: Session, company_id: int, client: str, key: str, cs: ChangeSet,
              job_id: int | None = None) -> ApplyResult:
        """The record first, then the asset: a worker that loses the race for ``key`` writes
        nothing over the winner's asset; an asset that cannot be written raises, and the caller's
        transaction drops the record with it; a transaction that ends without committing the record
        (a later step of the job failed for good, the commit failed) removes the asset it wrote
        (``_kept_on_commit``), so no outbox file is left that no record names. (No savepoint: on
        SQLite, pysqlite's SAVEPOINT opened before any write is the transaction itself, and
        releasing it commits the record at once.)"""
        existing = _applied(session, key)
        if existing is not None:
            return recorded_result(existing)
        target = settings.outbox_dir(client) / _safe_name(key, cs.asset.filename) if cs.asset is not None else None
        row = AppliedChange(
            company_id=company_id, idempotency_key=key, job_id=job_id, bot=cs.bot, action=cs.action,
            adapter=self.name, reversible=cs.reversible, changeset=json.loads(cs.model_dump_json()),
            asset_path=str(target or ""),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another worker applied it first: its record and its asset stand
            session.rollback()
            first = _applied(session, key)
            if first is None:
                raise
            return recorded_result(first)
        if target is not None and cs.asset is not None:
            _write(target, cs.asset.content)
            _kept_on_commit(session, target)
        return ApplyResult(applied=True, adapter=self.name, asset_path=str(target or ""),
                           changeset=dict(row.changeset), change_id=row.id)


PENDING = "chimera_outbox_pending"
"""``Session.info`` key of the outbox files written in the session's open transaction."""


def _kept_on_commit(session: Session, target: Path) -> None:
    """Keep ``target`` if the session's transaction commits; remove it if the transaction ends
    otherwise (rolled back or closed): its record is gone, and a file no record names would be
    handed to a person as a change that was applied. Why not write after the commit instead: a
    write failing then (a full disk) would leave a record of an asset that does not exist."""
    pending = session.info.get(PENDING)
    if pending is None:
        pending = session.info[PENDING] = []
        event.listen(session, "after_commit", _forget_pending)
        event.listen(session, "after_transaction_end", _drop_pending)
    pending.append(target)


def _forget_pending(session: Session) -> None:
    session.info.get(PENDING, []).clear()


def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    """At the end of the outermost transaction, remove what it wrote and did not commit."""
    if transaction.parent is not None:
        return
    pending = session.info.get(PENDING, [])
    for path in pending:
        path.unlink(missing_ok=True)
    pending.clear()


def _write(target: Path, content: str) -> None:
    """All of ``content`` at ``target`` or nothing: written beside it, then renamed; a failed write
    (a full disk) leaves no partial file behind and raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    try:
        tmp.write_text(content, encoding="utf-8", newline="")  # the bytes as given, on any OS
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _applied(session: Session, key: str) -> AppliedChange | None:
    """The change applied under ``key``, if any (one per key: the unique idempotency key)."""
    return session.exec(select(AppliedChange).where(AppliedChange.idempotency_key == key)).first()


def recorded(session: Session, key: str) -> ApplyResult | None:
    """What was applied under ``key``, as recorded then (``recorded_result``), or None: a re-run of
    an applied step reports this instead of building its ChangeSet anew."""
    row = _applied(session, key)
    return recorded_result(row) if row is not None else None


def recorded_result(row: AppliedChange) -> ApplyResult:
    """A second application of ``row``'s key: nothing applied, and the ChangeSet, adapter and asset
    reported are the ones recorded when it was applied."""
    return ApplyResult(applied=False, adapter=row.adapter, asset_path=row.asset_path,
                       changeset=dict(row.changeset or {}), change_id=row.id)


MAX_NAME = 180
"""Bytes of an outbox file name, under every file system's 255 (and room for ``.tmp``)."""


def _safe_name(key: str, filename: str) -> str:
    """``<key>__<filename>`` in ASCII letters, digits, ``-``, ``_`` and ``.`` only: no ``/``, ``\\``,
    ``:`` (a Windows stream), NUL or ``..`` can take a write out of the outbox or fail it, on any file
    system. Too long (a long play or product name), the middle is replaced by a hash of the whole,
    so two names never share a file."""
    stem = _ascii(key, "")
    name = _ascii(filename.replace("\\", "/").rsplit("/", 1)[-1], ".").lstrip(".") or "asset"
    full = f"{stem}__{name}"
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(f"{key}\0{filename}".encode("utf-8", "surrogatepass")).hexdigest()[:12]
    suffix = Path(name).suffix if len(Path(name).suffix) <= 10 else ""
    return f"{full[:MAX_NAME - len(digest) - len(suffix) - 1]}-{digest}{suffix}"


def _ascii(text: str, keep: str) -> str:
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_" + keep else "-" for c in text)


class InForce(BaseModel):
    """The value Chimera last set on one target's field, and when (an undo's restored value too)."""

    value: Any = None
    at: datetime


def in_force(session: Session, company_id: int, field: str) -> dict[str, InForce]:
    """target -> the newest value any applied ChangeSet of the client (a play's step or an undo)
    gave ``field``: what the store holds since, unless an export shows a later order at another
    price. A bot that priced from the export alone priced from before a change applied after the
    export's last order (a scale of a price test, a bundle beside it in one cycle), and its undo
    then set back a price older than the one in force, silently undoing the other play's change."""
    rows = session.exec(select(AppliedChange).where(AppliedChange.company_id == company_id)).all()
    out: dict[str, InForce] = {}
    for row in sorted(rows, key=lambda r: (aware(r.applied_at), r.id or 0)):
        for change in (row.changeset or {}).get("changes") or []:
            if isinstance(change, dict) and change.get("field") == field and change.get("target"):
                out[str(change["target"])] = InForce(value=change.get("after"), at=aware(row.applied_at))
    return out


def aware(at: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands it back naive)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


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
    when it is no CSV or has no such pair (nothing in it says what the before values were).

    Its cells are written again as ``chimera.sheet`` makes them safe (``read_cell``): a table written
    before the bots escaped formula starts gets an undo a spreadsheet cannot run, while the numbers
    (the prices swapped) stay numbers and a table the bots write now comes back byte for byte."""
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
    swapped = [header]
    for row in rows[1:]:
        row = list(row)
        for b, a in pairs:
            if max(a, b) < len(row):
                row[a], row[b] = row[b], row[a]
        swapped.append(row)
    return Asset(filename=asset.filename, content=csv_document([[read_cell(c) for c in row] for row in swapped]))


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
    lines += [f"- {c.target} {c.field}: {_shown(c.after)} -> {_shown(c.before, back)}"
              + (": set back what it was before this change (the store's or the gig's own history shows it)"
                 if c.before == NOT_KNOWN else "") for c in cs.changes]
    if not cs.changes:
        brief = f" ({cs.asset.filename})" if cs.asset is not None else ""
        lines.append(f"- no before/after was recorded: undo by hand what was done following the original{brief}")
    return "\n".join(lines) + "\n"


ADAPTERS: dict[str, Adapter] = {"dry_run": DryRunAdapter()}


def get_adapter(name: str = "dry_run") -> Adapter:
    return ADAPTERS[name]
