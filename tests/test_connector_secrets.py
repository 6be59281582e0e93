"""API keys and secrets are never logged, persisted or sent to a model: the connectors' config, their
errors and their retry logs, end to end through the CLI, against the local fake API of
tests/test_connectors.py (127.0.0.1, never the internet). Each case looks for the secret in stdout,
stderr, the logs and the database."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date
from pathlib import Path

import httpx
import pytest

from chimera.clients import add_client
from chimera.config.client import Connectors, ShopifyAPI, StripeAPI, looks_like_secret
from chimera.connectors import http as connector_http
from chimera.connectors import pull_shopify, pull_stripe
from chimera.connectors.http import get_json, redact, safe_url
from chimera.errors import IngestError
from tests import test_connectors as tc
from tests.test_cli_contracts import chimera

fake_api = tc.fake_api  # the fake Shopify / Stripe API and the recorded retry waits
waits = tc.waits
SINCE = ("--since", "2026-03-07", "--until", "2026-03-08")


def _client_yml(name: str, connectors: str) -> Path:
    yml = add_client(name).folder / "client.yml"
    yml.write_text(yml.read_text() + "connectors:\n" + connectors)
    return yml


def _line(yml: Path, field: str) -> int:
    return next(n for n, text in enumerate(yml.read_text().splitlines(), 1) if text.strip().startswith(f"{field}:"))


def _nowhere(secret: str, home: Path, caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    """``secret`` is in no output, no log record and no database file."""
    for text in texts:
        assert secret not in text, text
    assert secret not in caplog.text
    assert all(secret not in str(r.args) for r in caplog.records)
    blob = b"".join(p.read_bytes() for p in home.glob("chimera.db*"))
    assert secret.encode() not in blob


@pytest.mark.parametrize("field, connectors", [
    ("key_env", "  stripe:\n    api_base: {base}\n    key_env: sk_live_SECRET222\n"),
    ("token_env", "  shopify:\n    shop_url: {base}\n    token_env: shpat_SECRET222abc\n"),
])
def test_a_key_pasted_as_the_variable_name_is_a_config_error_without_the_key(
        chimera_home: Path, fake_api, caplog, field: str, connectors: str) -> None:
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    yml = _client_yml("shop", connectors.format(base=base))
    secret = connectors.split(f"{field}: ")[1].strip()
    check = chimera("config", "check", "--client", "shop")
    assert check.code == 1
    where = f"connectors.{'stripe' if field == 'key_env' else 'shopify'}.{field}"
    assert f"client.yml:{_line(yml, field)}: {where}: " in check.stderr
    assert "looks like a secret, not a variable name" in check.stderr
    pull = chimera("pull", "stripe" if field == "key_env" else "shopify", "--client", "shop", *SINCE)
    assert "looks like a secret" in pull.one_line_error() and calls == []
    _nowhere(secret, chimera_home, caplog, check.stdout, check.stderr, pull.stdout, pull.stderr)


def test_variable_names_pass_and_keys_do_not() -> None:
    for name in ("STRIPE_API_KEY", "T_SHOP", "acme_stripe_key_2", "_X"):
        assert not looks_like_secret(name), name
    for key in ("sk_live_SECRET222", "rk_test_abc", "shpat_0123abcd", "shppa_SECRET555", "whsec_x",
                "sk-proj abc", "0123abcd", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4", "key=value"):
        assert looks_like_secret(key), key


@pytest.mark.parametrize("source", ["env", "file"])
def test_a_key_with_a_windows_line_end_is_trimmed_and_never_shown(
        chimera_home: Path, fake_api, waits, monkeypatch, caplog, source: str) -> None:
    """A CRLF .env (or secrets file) leaves ``\\r`` after the key: trimmed, the pull works."""
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    _client_yml("shop", f"  stripe:\n    api_base: {base}\n    key_env: T_STRIPE\n")
    if source == "env":
        monkeypatch.setenv("T_STRIPE", f"{tc.KEY}\r")
    else:
        monkeypatch.delenv("T_STRIPE", raising=False)
        secrets = connector_http.settings.secrets_dir()
        secrets.mkdir(parents=True, exist_ok=True)
        (secrets / "shop.T_STRIPE").write_bytes(f"  {tc.KEY}\r\n".encode())
    pull = chimera("pull", "stripe", "--client", "shop", *SINCE)
    assert pull.code == 0, pull.stderr
    assert calls and waits == []
    _nowhere(tc.KEY, chimera_home, caplog, pull.stdout, pull.stderr)


def test_a_key_with_control_characters_inside_is_one_line_without_it(
        chimera_home: Path, fake_api, waits, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    _client_yml("shop", f"  stripe:\n    api_base: {base}\n    key_env: T_STRIPE\n")
    secret = "sk_test_SECRET999"
    monkeypatch.setenv("T_STRIPE", f"{secret}\r\nX-Other: 1")
    pull = chimera("pull", "stripe", "--client", "shop", *SINCE)
    line = pull.one_line_error()
    assert "T_STRIPE" in line and "control characters" in line
    assert calls == [] and waits == []
    _nowhere(secret, chimera_home, caplog, pull.stdout, pull.stderr)


def test_a_request_that_cannot_be_sent_is_not_retried_and_not_echoed(
        chimera_home: Path, fake_api, waits, caplog) -> None:
    """An illegal header value (httpx quotes it in its error) fails at once, without the value."""
    caplog.set_level(logging.DEBUG)
    base, _calls = fake_api
    secret = "sk_test_SECRET999\r"
    connector_http.remember_secret(secret)
    with httpx.Client(headers={"Authorization": f"Bearer {secret}"}) as http, pytest.raises(IngestError) as err:
        get_json(http, f"{base}/v1/charges")
    assert waits == [] and "could not be sent" in str(err.value)
    _nowhere("SECRET999", chimera_home, caplog, str(err.value))


def test_every_connector_error_is_redacted_whatever_the_exception_says(
        chimera_home: Path, fake_api, waits, monkeypatch, caplog) -> None:
    """Last line of defence: a transport error quoting the key, in the retry log and the final error."""
    caplog.set_level(logging.DEBUG)
    base, _calls = fake_api
    _client_yml("shop", f"  stripe:\n    api_base: {base}\n    key_env: T_STRIPE\n")
    monkeypatch.setenv("T_STRIPE", tc.KEY)

    def leaky_send(self, request, *args, **kwargs):
        raise httpx.ReadError(f"peer reset after {request.headers['Authorization']!r}", request=request)

    monkeypatch.setattr(httpx.Client, "send", leaky_send)
    pull = chimera("pull", "stripe", "--client", "shop", *SINCE)
    assert "cannot connect (ReadError)" in pull.one_line_error()
    assert len(waits) == connector_http.MAX_ATTEMPTS - 1 and "***" in caplog.text
    _nowhere(tc.KEY, chimera_home, caplog, pull.stdout, pull.stderr)
    assert redact(f"b'Bearer {tc.KEY}'") == "b'Bearer ***'"


@pytest.mark.parametrize("connectors", [
    "  shopify:\n    shop_url: http://apikey:shppa_SECRET555@{host}\n    token_env: T_SHOP\n",
    "  stripe:\n    api_base: http://apikey:shppa_SECRET555@{host}\n    key_env: T_STRIPE\n",
])
def test_a_url_with_user_and_password_is_refused_without_them(chimera_home: Path, fake_api, caplog,
                                                              connectors: str) -> None:
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    yml = _client_yml("shop", connectors.format(host=base.removeprefix("http://")))
    check = chimera("config", "check", "--client", "shop")
    field = "shop_url" if "shopify" in connectors else "api_base"
    assert check.code == 1 and "user:pass@host" in check.stderr
    assert f"client.yml:{_line(yml, field)}: connectors." in check.stderr
    pull = chimera("pull", "shopify" if "shopify" in connectors else "stripe", "--client", "shop", *SINCE)
    assert "carries a user name or password" in pull.one_line_error() and calls == []
    for secret in ("shppa_SECRET555", "apikey:"):
        _nowhere(secret, chimera_home, caplog, check.stdout, check.stderr, pull.stdout, pull.stderr)


def _with(ctx, **connectors):
    """The client with connector settings built in code (not through client.yml's validation)."""
    config = ctx.config.model_copy(update={"connectors": Connectors.model_construct(**connectors)})
    return dataclasses.replace(ctx, config=config)


def test_userinfo_never_reaches_a_message_or_the_server(chimera_home: Path, fake_api, waits, monkeypatch,
                                                        caplog) -> None:
    """Configs validated elsewhere (or built in code): the connector drops ``user:pass@`` before the
    request, so the 401 and 'cannot connect' errors show the bare URL."""
    caplog.set_level(logging.DEBUG)
    base, calls = fake_api
    monkeypatch.setenv("T_SHOP", "shpat_wrong_token")
    ctx = add_client("shop")
    leaky = base.replace("http://", "http://apikey:shppa_SECRET555@")
    for url, expected in ((leaky, "HTTP 401"), ("http://apikey:shppa_SECRET555@127.0.0.1:9", "cannot connect")):
        cfg = ShopifyAPI.model_construct(shop_url=url, token_env="T_SHOP", api_version="2025-01")
        with pytest.raises(IngestError, match=expected) as err:
            pull_shopify(_with(ctx, shopify=cfg), date(2026, 3, 7), date(2026, 3, 8))
        _nowhere("shppa_SECRET555", chimera_home, caplog, str(err.value), *calls)
        _nowhere("apikey", chimera_home, caplog, str(err.value), *calls)
    assert safe_url("https://u:p@h.example/x?y=1") == "https://h.example/x?y=1"
    with pytest.raises(IngestError, match="not a variable name") as err:
        cfg = StripeAPI.model_construct(api_base=base, key_env="sk_live_SECRET222")
        pull_stripe(_with(ctx, stripe=cfg), date(2026, 3, 7), date(2026, 3, 8))
    _nowhere("sk_live_SECRET222", chimera_home, caplog, str(err.value))
