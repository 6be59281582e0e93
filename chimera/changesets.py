"""ChangeSets: what a bot would change, and the adapters that apply them after approval.

Bots never touch the outside world (DESIGN.md §5). They return a ChangeSet; an adapter applies it
only for an approved play. The default adapter is a dry run: it records the ChangeSet and writes the
asset (copy text, price table, gig package) to the client's outbox. The ``AppliedChange`` row's
unique idempotency key makes a second application (a re-run after a crash) a no-op.
"""

from __future__ import annotations

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


ADAPTERS: dict[str, Adapter] = {"dry_run": DryRunAdapter()}


def get_adapter(name: str = "dry_run") -> Adapter:
    return ADAPTERS[name]
