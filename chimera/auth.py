"""Command-center users: salted scrypt hashes, roles and granted clients.

Users live in the ``User`` table (``chimera user add``). ``CHIMERA_USERS="name:password:role[:a|b],..."``
adds users for a quick trial without touching the database; they are hashed in memory on first use,
so the plain passwords exist only in the environment the operator set. Roles: ``viewer`` reads,
``approver`` also decides plays, ``admin`` decides and sees every client. An empty client grant
means every client (the single-shop case); list clients to restrict a user.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from typing import Literal

from pydantic import BaseModel
from sqlmodel import select

from chimera.db.engine import session_scope
from chimera.db.models import User
from chimera.errors import AuthError

Role = Literal["viewer", "approver", "admin"]
ROLES: tuple[str, ...] = ("viewer", "approver", "admin")
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~50 ms per check, 16 MiB memory


class AuthUser(BaseModel):
    """A logged-in person as the UI and the decision handlers see them (never holds a password)."""

    name: str
    role: Role
    clients: list[str] = []


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh random salt per user."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a ``hash_password`` string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _check_role(role: str, where: str) -> Role:
    if role not in ROLES:
        raise AuthError(f"{where}: role {role!r}: expected one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


class _EnvUser(BaseModel):
    user: AuthUser
    password_hash: str


@functools.lru_cache(maxsize=4)
def _parse_env(spec: str) -> dict[str, _EnvUser]:
    users: dict[str, _EnvUser] = {}
    for i, entry in enumerate(e.strip() for e in spec.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        where = f"CHIMERA_USERS entry {i + 1} ({parts[0]!r})"
        if len(parts) not in (3, 4) or not parts[0] or not parts[1]:
            raise AuthError(f"{where}: expected name:password:role[:client1|client2]")
        clients = [c for c in (parts[3].split("|") if len(parts) == 4 else []) if c]
        user = AuthUser(name=parts[0], role=_check_role(parts[2], where), clients=clients)
        users[user.name] = _EnvUser(user=user, password_hash=hash_password(parts[1]))
    return users


def env_users() -> dict[str, _EnvUser]:
    """Users from ``CHIMERA_USERS`` (read each call, parsed once per distinct value)."""
    return _parse_env(os.environ.get("CHIMERA_USERS", ""))


def _db_user(name: str) -> tuple[AuthUser, str] | None:
    with session_scope() as s:
        row = s.exec(select(User).where(User.name == name)).first()
        if row is None:
            return None
        return AuthUser(name=row.name, role=_check_role(row.role, f"user {row.name!r}"),
                        clients=list(row.clients or [])), row.password_hash


def get_user(name: str) -> AuthUser | None:
    """The current definition of ``name`` (role and grants are re-read, so a demotion is immediate)."""
    env = env_users().get(name)
    if env is not None:
        return env.user
    found = _db_user(name)
    return found[0] if found else None


def authenticate(name: str, password: str) -> AuthUser | None:
    """The user when ``password`` matches, else None (unknown names cost the same hashing time)."""
    env = env_users().get(name)
    if env is not None:
        return env.user if verify_password(password, env.password_hash) else None
    found = _db_user(name)
    if found is None:
        verify_password(password, hash_password("-", b"0" * 16))
        return None
    return found[0] if verify_password(password, found[1]) else None


def can_decide(user: AuthUser | None) -> bool:
    """Approvers and admins may approve, override or reject plays; viewers only read."""
    return user is not None and user.role in ("approver", "admin")


def allowed_clients(user: AuthUser) -> list[str] | None:
    """Clients the user may open; None means all (admins, and users granted no list)."""
    if user.role == "admin" or not user.clients:
        return None
    return list(user.clients)


def add_user(name: str, password: str, role: str | None = None, clients: list[str] | None = None) -> AuthUser:
    """Create or update a database user with a freshly salted hash.

    ``role`` / ``clients`` None keep an existing user's (a new one: viewer, every client): resetting a
    password must not turn an approver of one shop into a viewer of every shop."""
    if not name or ":" in name or "," in name:
        raise AuthError(f"user name {name!r}: must be non-empty without ':' or ','")
    if len(password) < 8:
        raise AuthError(f"user {name!r}: password must be at least 8 characters")
    if role is not None:
        _check_role(role, f"user {name!r}")
    with session_scope() as s:
        row = s.exec(select(User).where(User.name == name)).first() or User(name=name, password_hash="",
                                                                             role="viewer", clients=[])
        user = AuthUser(name=name, role=_check_role(role or row.role, f"user {name!r}"),
                        clients=list(row.clients or []) if clients is None else list(clients))
        row.password_hash, row.role, row.clients = hash_password(password), user.role, user.clients
        s.add(row)
    return user


def check_grant(name: str, role: str | None, clients: list[str] | None) -> list[str]:
    """Refuse an unknown role, before a password is asked for; warnings for granted clients not in
    the database: a typo (``myshp``) granted a client nobody has and the user saw nothing, yet a
    grant may come before its client is added (``chimera demo``), so it is said, not refused."""
    from chimera.config.messages import suggest
    from chimera.db.models import Company

    if role is not None:
        _check_role(role, f"user {name!r}")
    if not clients:
        return []
    with session_scope() as s:
        known = sorted(c.name for c in s.exec(select(Company)))
    return [f"user {name!r}: client {client!r} is not in this database{suggest(client, known)}: granted anyway, "
            f"it shows once a client of that name is added (chimera client list)"
            for client in clients if client not in known]


def list_users() -> list[AuthUser]:
    """``CHIMERA_USERS`` users (they take precedence), then database users."""
    env = env_users()
    with session_scope() as s:
        rows = [AuthUser(name=r.name, role=r.role, clients=list(r.clients or []))  # type: ignore[arg-type]
                for r in s.exec(select(User).order_by(User.name)) if r.name not in env]
    return [e.user for e in env.values()] + rows
