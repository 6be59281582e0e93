"""The LangGraph checkpointer on the same backend choice as the data layer.

SQLite: ``$CHIMERA_HOME/checkpoints.db`` (sync saver for the CLI, async saver for Chainlit, created
inside the running loop). Postgres: the ``CHIMERA_DATABASE_URL`` database.

The Postgres saver's ``setup()`` (tables, then ``CREATE INDEX CONCURRENTLY``) is not safe to run
twice at once: two new processes race on ``checkpoint_migrations`` (a unique violation), and the
index build waits for every other session's snapshot. It runs once per process and database,
under its own lock (``named_lock``: polled, never waited for inside a statement), and before any
caller takes a cycle's lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from chimera import settings
from chimera.db.locks import named_lock

_ready: set[str] = set()
"""Postgres conninfos whose checkpointer tables this process has set up (or found set up)."""


def _pg_conninfo(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def sqlite_path() -> str:
    return str(settings.home() / "checkpoints.db")


def setup_postgres(conninfo: str) -> None:
    """Create or migrate the checkpointer tables once, one process at a time."""
    if conninfo in _ready:
        return
    from langgraph.checkpoint.postgres import PostgresSaver

    with named_lock("chimera:checkpointer-setup", "the checkpointer setup"):
        with PostgresSaver.from_conn_string(conninfo) as saver:
            saver.setup()
    _ready.add(conninfo)


@contextmanager
def checkpointer() -> Iterator[BaseCheckpointSaver]:
    """A synchronous saver for the configured backend, set up and closed around the block."""
    url = settings.database_url()
    if settings.is_postgres(url):
        from langgraph.checkpoint.postgres import PostgresSaver

        conninfo = _pg_conninfo(url)
        setup_postgres(conninfo)
        with PostgresSaver.from_conn_string(conninfo) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(sqlite_path(), check_same_thread=False, timeout=30)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


@asynccontextmanager
async def async_checkpointer() -> AsyncIterator[BaseCheckpointSaver]:
    """The async saver (Chainlit): created lazily inside the running event loop."""
    url = settings.database_url()
    if settings.is_postgres(url):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        conninfo = _pg_conninfo(url)
        await asyncio.to_thread(setup_postgres, conninfo)
        async with AsyncPostgresSaver.from_conn_string(conninfo) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(sqlite_path()) as saver:
        await saver.setup()
        yield saver
