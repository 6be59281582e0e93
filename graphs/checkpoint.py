"""The LangGraph checkpointer on the same backend choice as the data layer.

SQLite: ``$CHIMERA_HOME/checkpoints.db`` (sync saver for the CLI, async saver for Chainlit, created
inside the running loop). Postgres: the ``CHIMERA_DATABASE_URL`` database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from chimera import settings


def _pg_conninfo(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def sqlite_path() -> str:
    return str(settings.home() / "checkpoints.db")


@contextmanager
def checkpointer() -> Iterator[BaseCheckpointSaver]:
    """A synchronous saver for the configured backend, set up and closed around the block."""
    url = settings.database_url()
    if settings.is_postgres(url):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(_pg_conninfo(url)) as saver:
            saver.setup()
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

        async with AsyncPostgresSaver.from_conn_string(_pg_conninfo(url)) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(sqlite_path()) as saver:
        await saver.setup()
        yield saver
