"""Every command naming a client that does not exist says what to do, as `config check` does:
a close name alone (not 'chimera client add' of the typo, which add would refuse or create)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimera.clients import add_client, get_client
from chimera.errors import ClientError


@pytest.mark.parametrize(("name", "said"), [
    ("acmee", "unknown client 'acmee' (did you mean 'acme'?)"),
    ("Acme", "unknown client 'Acme' (did you mean 'acme'?)"),
    ("zzz", "unknown client 'zzz' (chimera client list; chimera client add zzz creates it)"),
    ("Z Z", "unknown client 'Z Z' (chimera client list)"),
])
def test_an_unknown_client_is_told_what_to_do(chimera_home: Path, name: str, said: str) -> None:
    add_client("acme")
    with pytest.raises(ClientError) as refused:
        get_client(name)
    assert str(refused.value) == said
