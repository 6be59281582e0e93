"""Errors a person can cause, and errors meant for a retry loop.

Hierarchy::

    ChimeraError                 every error a user can cause; the CLI prints str(err), exits 1
    ├── ConfigError              a config file is wrong (file:line: field: problem)
    ├── IngestError              an export cannot be read at all (wrong kind, missing columns)
    ├── StorageError             the database cannot be reached or is not at the expected schema
    ├── ClientError              unknown client, duplicate client, access to another client
    ├── DecisionError            a decision that cannot be applied (unknown id, already decided)
    ├── AuthError                a user may not do this (role, unknown user, wrong password)
    ├── SopError                 an SOP file or library cannot be added, found or read
    └── ProviderError            a model backend is misconfigured (never carries a secret)

    RetryableModelError          for retry loops only, never shown to a person as is

Messages name the file, line, field, the bad value, what was expected and how to fix it.
Constructors never log.
"""

from __future__ import annotations


class ChimeraError(Exception):
    """Base of every error a user can cause; its message is the whole user-facing text."""


class ConfigError(ChimeraError):
    """A config file is missing, malformed or inconsistent with another one."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class IngestError(ChimeraError):
    """An export cannot be ingested at all (a bad row is a rejection, not an error)."""


class StorageError(ChimeraError):
    """The database is unreachable, or its schema is newer than this code."""


class ClientError(ChimeraError):
    """A client name is unknown, already taken, or not granted to this user."""


class DecisionError(ChimeraError):
    """A decision cannot be recorded: unknown play run, already decided, missing reason."""


class AuthError(ChimeraError):
    """The user is unknown, the password is wrong, or the role does not allow the action."""


class SopError(ChimeraError):
    """An SOP file is not markdown, has bad front matter, or names an unknown library or file."""


class ProviderError(ChimeraError):
    """A model backend is misconfigured. Messages never include keys or secrets."""


class RetryableModelError(Exception):
    """A model answer that a retry loop may try again (bad tool JSON, invented numbers)."""
