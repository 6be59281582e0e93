"""A database URL Chimera cannot use is a DatabaseUrlError (a StorageError, so a ChimeraError) from
the engine itself, one clear line that never holds the password: the chat app and the worker call
``get_engine`` without the CLI's catch, and got an ArgumentError, a ModuleNotFoundError or a
ProgrammingError traceback."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from chimera.db.engine import DatabaseUrlError, dispose_all, get_engine, session_scope
from chimera.errors import ChimeraError, StorageError

SECRET = "s3cret-qa9-pw"


@pytest.fixture
def clean_engines():
    dispose_all()
    yield
    dispose_all()


@pytest.mark.parametrize(("url", "words"), [
    (f"mysql://agency:{SECRET}@db.internal/prod",
     "CHIMERA_DATABASE_URL is a mysql URL, not a database Chimera runs on"),
    (f"MySQL+pymysql://agency:{SECRET}@db.internal/prod", "CHIMERA_DATABASE_URL is a mysql URL"),
    (SECRET, "CHIMERA_DATABASE_URL is no URL (no scheme://), not a database Chimera runs on"),
    (f"postgresql+nosuchdriver://u:{SECRET}@127.0.0.1/x", "CHIMERA_DATABASE_URL names the driver 'nosuchdriver'"),
])
def test_an_unsupported_database_url_is_a_chimera_error_without_the_password(
        url: str, words: str, monkeypatch: pytest.MonkeyPatch, clean_engines) -> None:
    monkeypatch.setenv("CHIMERA_DATABASE_URL", url)
    with pytest.raises(DatabaseUrlError) as err:
        get_engine()
    assert isinstance(err.value, StorageError) and isinstance(err.value, ChimeraError)
    text = str(err.value)
    assert text.startswith(words) and "postgresql://USER@HOST:5432/DATABASE or sqlite:///PATH" in text
    assert SECRET not in text and "\n" not in text
    with pytest.raises(DatabaseUrlError), session_scope():  # every caller's way in says the same
        pass


def test_a_url_passed_in_is_named_as_such(clean_engines) -> None:
    with pytest.raises(DatabaseUrlError, match=r"^the database URL is a mysql URL"):
        get_engine(f"mysql://u:{SECRET}@h/db")


def test_a_search_path_schema_that_does_not_exist_is_named_and_the_password_masked(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``options=-csearch_path=<schema>`` naming no schema: psycopg's "no schema has been selected to
    create in" as a ProgrammingError traceback; now the schema is named, with how to fix it."""
    missing = f"qa9_missing_{uuid.uuid4().hex[:8]}"
    plain = pg_url.split("?", 1)[0]
    with_password = plain.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")
    monkeypatch.setenv("CHIMERA_DATABASE_URL", f"{with_password}?options=-csearch_path%3D{missing}")
    dispose_all()
    with pytest.raises(DatabaseUrlError) as err:
        get_engine()
    text = str(err.value)
    assert "the schema the search_path of CHIMERA_DATABASE_URL" in text and f"({missing}) does not exist" in text
    assert "CREATE SCHEMA" in text and SECRET not in text and "\n" not in text
    with psycopg.connect(plain) as conn:  # nothing was created anywhere by the failed attempt
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (missing,)).fetchone() is None


def test_an_existing_schema_still_opens(pg_url: str) -> None:
    """The check refuses only a schema that is missing: the fixture's own schema migrates as before."""
    engine = get_engine()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM schemaversion").scalar() >= 1
