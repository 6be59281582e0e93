"""A commander's preview of a play (``propose_play``) prices from what is in force, as execution
does: a price an earlier play set after the export's last order is the preview's 'before'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from agents.tools import Toolbox
from chimera.changesets import Change, ChangeSet
from chimera.clients import get_client
from chimera.db.engine import session_scope
from chimera.db.models import AppliedChange
from tests.cycle_fixtures import AS_OF
from tests.test_commanders_llm import _ingest


def test_the_preview_prices_from_a_price_an_earlier_play_set(shop: str, chimera_home: Path) -> None:
    _ingest(shop)
    toolbox = Toolbox(get_client(shop), AS_OF)
    plain = toolbox.call("propose_play", {"play_id": "pricing_test"})["changesets"][0]["changes"]
    target, before, after = plain[0]["target"], plain[0]["before"], plain[0]["after"]
    ctx = get_client(shop)
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary="earlier play",
                   changes=[Change(target=target, field="price", before=before, after=after)])
    with session_scope() as s:  # applied after the export's last order: the store holds `after` since
        s.add(AppliedChange(company_id=ctx.company_id, idempotency_key="earlier", job_id=None, bot="shopify_bot",
                            action="update_prices", changeset=cs.model_dump(mode="json"),
                            applied_at=datetime.combine(AS_OF + timedelta(days=2), datetime.min.time(), UTC)))
    again = toolbox.call("propose_play", {"play_id": "pricing_test"})["changesets"][0]["changes"]
    moved = next(c for c in again if c["target"] == target)
    assert moved["before"] == after != before, "the preview's before is the price in force, not the export's"
    with session_scope() as s:
        assert len(s.exec(select(AppliedChange)).all()) == 1  # a preview applies nothing
