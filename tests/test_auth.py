"""Command-center users: salted scrypt hashes, CHIMERA_USERS parsing, roles and client grants."""

from __future__ import annotations

import pytest

from chimera import auth
from chimera.errors import AuthError


def test_hash_is_salted_and_verifies() -> None:
    a, b = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert a != b and a.startswith("scrypt$")
    assert "correct horse" not in a
    assert auth.verify_password("correct horse", a) and auth.verify_password("correct horse", b)
    assert not auth.verify_password("correct hors", a)
    assert not auth.verify_password("x", "not-a-hash")


def test_env_users_roles_and_clients(monkeypatch: pytest.MonkeyPatch, chimera_home) -> None:
    monkeypatch.setenv("CHIMERA_USERS", "ann:pw-ann:approver:shop|demo, vic:pw-vic:viewer,root:pw-root:admin")
    ann = auth.authenticate("ann", "pw-ann")
    assert ann is not None and ann.role == "approver" and ann.clients == ["shop", "demo"]
    assert auth.authenticate("ann", "pw-vic") is None
    assert auth.authenticate("nobody", "pw-ann") is None
    vic, root = auth.get_user("vic"), auth.get_user("root")
    assert vic is not None and root is not None
    assert auth.can_decide(ann) and auth.can_decide(root) and not auth.can_decide(vic) and not auth.can_decide(None)
    assert auth.allowed_clients(ann) == ["shop", "demo"]
    assert auth.allowed_clients(vic) is None  # no grant list: every client
    assert auth.allowed_clients(root) is None


@pytest.mark.parametrize("spec, expected", [
    ("ann:pw:boss", "role 'boss'"),
    ("ann:pw", "name:password:role"),
    ("ann::viewer", "name:password:role"),
])
def test_bad_env_entries_name_the_problem(monkeypatch: pytest.MonkeyPatch, spec: str, expected: str) -> None:
    monkeypatch.setenv("CHIMERA_USERS", spec)
    with pytest.raises(AuthError, match=expected):
        auth.env_users()


def test_database_users(chimera_home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHIMERA_USERS", raising=False)
    auth.add_user("bea", "long-password", "viewer", ["shop"])
    assert auth.authenticate("bea", "long-password") == auth.AuthUser(name="bea", role="viewer", clients=["shop"])
    assert auth.authenticate("bea", "wrong-password") is None
    auth.add_user("bea", "new-password!", "approver")  # update: new hash, role and grants
    assert auth.authenticate("bea", "long-password") is None
    bea = auth.authenticate("bea", "new-password!")
    assert bea is not None and auth.can_decide(bea)
    assert [u.name for u in auth.list_users()] == ["bea"]
    with pytest.raises(AuthError, match="at least 8"):
        auth.add_user("cal", "short", "viewer")
    with pytest.raises(AuthError, match="role 'owner'"):
        auth.add_user("cal", "long-password", "owner")


def test_cli_user_add_and_list(chimera_home, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import subprocess
    import sys

    env = {"CHIMERA_HOME": str(chimera_home), "PATH": "/usr/bin:/bin"}
    add = subprocess.run([sys.executable, "-m", "chimera.cli", "user", "add", "dan", "--role", "approver",
                          "--clients", "shop,demo", "--password-stdin", "--json"],
                         input="dans-password\n", capture_output=True, text=True, env=env, check=True)
    assert json.loads(add.stdout) == {"name": "dan", "role": "approver", "clients": ["shop", "demo"]}
    listed = subprocess.run([sys.executable, "-m", "chimera.cli", "user", "list", "--json"],
                            capture_output=True, text=True, env=env, check=True)
    assert json.loads(listed.stdout)["users"][0]["name"] == "dan"
    assert "dans-password" not in listed.stdout
    assert auth.authenticate("dan", "dans-password") is not None
