"""Chat history tables for Chainlit's SQLAlchemyDataLayer, on SQLite or Postgres.

Chainlit's data layer never creates its tables, and on 2.12 it writes columns its own test schema
lacks (steps: command, modes, defaultOpen, autoCollapse, icon; elements: props, autoPlay,
playerConfig). A missing column fails silently (history just vanishes), so the schema lives here
and is created idempotently before the data layer is handed to Chainlit.

Where: ``CHIMERA_CHAT_DATABASE_URL`` if set; else, with a Postgres ``CHIMERA_DATABASE_URL``, the same
database; else a SQLite file ``$CHIMERA_HOME/chat.db`` next to ``chimera.db``.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text

from chimera import settings

_TEXT_ARRAY = "TEXT[]"

_TABLES = {
    "users": """
        "id" {uuid} PRIMARY KEY,
        "identifier" TEXT NOT NULL UNIQUE,
        "metadata" {json} NOT NULL,
        "createdAt" TEXT""",
    "threads": """
        "id" {uuid} PRIMARY KEY,
        "createdAt" TEXT,
        "name" TEXT,
        "userId" {uuid} REFERENCES users("id") ON DELETE CASCADE,
        "userIdentifier" TEXT,
        "tags" {tags},
        "metadata" {json}""",
    "steps": """
        "id" {uuid} PRIMARY KEY,
        "name" TEXT NOT NULL,
        "type" TEXT NOT NULL,
        "threadId" {uuid} NOT NULL REFERENCES threads("id") ON DELETE CASCADE,
        "parentId" {uuid},
        "streaming" BOOLEAN NOT NULL,
        "waitForAnswer" BOOLEAN,
        "isError" BOOLEAN,
        "metadata" {json},
        "tags" {tags},
        "input" TEXT,
        "output" TEXT,
        "createdAt" TEXT,
        "command" TEXT,
        "start" TEXT,
        "end" TEXT,
        "generation" {json},
        "showInput" TEXT,
        "language" TEXT,
        "indent" INT,
        "defaultOpen" BOOLEAN DEFAULT FALSE,
        "autoCollapse" BOOLEAN DEFAULT FALSE,
        "icon" TEXT,
        "modes" {json},
        "disableFeedback" BOOLEAN NOT NULL DEFAULT FALSE""",
    "elements": """
        "id" {uuid} PRIMARY KEY,
        "threadId" {uuid} REFERENCES threads("id") ON DELETE CASCADE,
        "type" TEXT,
        "url" TEXT,
        "chainlitKey" TEXT,
        "name" TEXT NOT NULL,
        "display" TEXT,
        "objectKey" TEXT,
        "size" TEXT,
        "page" INT,
        "language" TEXT,
        "forId" {uuid},
        "mime" TEXT,
        "props" {json},
        "autoPlay" BOOLEAN,
        "playerConfig" {json}""",
    "feedbacks": """
        "id" {uuid} PRIMARY KEY,
        "forId" {uuid} NOT NULL,
        "threadId" {uuid} NOT NULL REFERENCES threads("id") ON DELETE CASCADE,
        "value" INT NOT NULL,
        "comment" TEXT""",
}


def chat_database_url() -> str:
    """The async SQLAlchemy URL Chainlit's data layer connects with."""
    url = os.environ.get("CHIMERA_CHAT_DATABASE_URL")
    if not url and settings.is_postgres():
        url = settings.database_url()
    if not url:
        return f"sqlite+aiosqlite:///{settings.home() / 'chat.db'}"
    if url.startswith("sqlite:///"):
        return url.replace("sqlite:///", "sqlite+aiosqlite:///", 1)
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sync_url(async_url: str) -> str:
    return async_url.replace("sqlite+aiosqlite://", "sqlite://", 1)


def schema_sql(postgres: bool) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` statements for the dialect (JSON/arrays on Postgres, TEXT on SQLite)."""
    kinds = {"uuid": "UUID", "json": "JSONB", "tags": _TEXT_ARRAY} if postgres else \
        {"uuid": "TEXT", "json": "TEXT", "tags": "TEXT"}
    return [f"CREATE TABLE IF NOT EXISTS {name} ({cols.format(**kinds)}\n)" for name, cols in _TABLES.items()]


def ensure_chat_schema(url: str | None = None) -> str:
    """Create the chat tables if missing; returns the async URL for ``SQLAlchemyDataLayer``."""
    url = url or chat_database_url()
    postgres = url.startswith("postgresql")
    if not postgres:
        settings.home().mkdir(parents=True, exist_ok=True)
    engine = create_engine(_sync_url(url))
    try:
        with engine.begin() as conn:
            for stmt in schema_sql(postgres):
                conn.execute(text(stmt))
    finally:
        engine.dispose()
    return url
