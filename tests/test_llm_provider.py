"""Backend selection by environment, and what the UI is told about it."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI

from chimera.errors import ProviderError
from chimera.llm import CassetteChatModel, ScriptedChatModel, backend_info, get_chat_model, resolve_backend
from chimera.llm.provider import DEFAULT_MODEL


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("CHIMERA_LLM", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CHIMERA_MODEL", "CHIMERA_LLM_CASSETTE"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_offline_by_default(clean_env) -> None:
    assert resolve_backend() == "offline" and get_chat_model() is None
    info = backend_info()
    assert (info.backend, info.offline, info.label) == ("offline", True, "offline (no model configured)")


def test_key_alone_selects_openai(clean_env) -> None:
    clean_env.setenv("OPENAI_API_KEY", "sk-test-abc")
    chat = get_chat_model()
    assert isinstance(chat, ChatOpenAI)
    assert (chat.model_name, chat.max_retries) == (DEFAULT_MODEL, 0)
    assert chat.request_timeout and chat.max_tokens
    assert backend_info().label == f"openai {DEFAULT_MODEL}"


def test_base_url_alone_selects_openai_compatible(clean_env) -> None:
    clean_env.setenv("OPENAI_BASE_URL", "http://user:pw@localhost:11434/v1")
    clean_env.setenv("CHIMERA_MODEL", "qwen2.5:1.5b")
    chat = get_chat_model()
    assert isinstance(chat, ChatOpenAI)
    assert chat.openai_api_key.get_secret_value() == "not-needed"
    assert chat.extra_body["max_tokens"] > 0 and chat.max_tokens is None
    info = backend_info()
    assert (info.backend, info.model, info.base_url) == ("openai-compatible", "qwen2.5:1.5b", "localhost:11434")
    assert "pw" not in info.model_dump_json()


def test_openai_without_key_is_a_clear_error(clean_env) -> None:
    clean_env.setenv("CHIMERA_LLM", "openai")
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        get_chat_model()
    info = backend_info()
    assert info.offline and "OPENAI_API_KEY" in info.problem


def test_openai_compatible_without_url_is_a_clear_error(clean_env) -> None:
    clean_env.setenv("CHIMERA_LLM", "openai-compatible")
    with pytest.raises(ProviderError, match="OPENAI_BASE_URL"):
        get_chat_model()


def test_unknown_backend_lists_the_choices(clean_env) -> None:
    clean_env.setenv("CHIMERA_LLM", "anthropic")
    with pytest.raises(ProviderError, match="offline, openai, openai-compatible, fake"):
        get_chat_model()
    assert backend_info().problem


def test_explicit_offline_wins_over_a_key(clean_env) -> None:
    clean_env.setenv("CHIMERA_LLM", "offline")
    clean_env.setenv("OPENAI_API_KEY", "sk-test-abc")
    assert get_chat_model() is None


def test_fake_backend_and_arguments_override_env(clean_env) -> None:
    clean_env.setenv("CHIMERA_LLM", "offline")
    assert isinstance(get_chat_model("fake"), ScriptedChatModel)
    assert get_chat_model("fake", "fake:invent").model_name == "fake:invent"
    assert backend_info("fake").label.startswith("fake")


def test_callbacks_are_attached(clean_env) -> None:
    from chimera.llm import UsageTracker

    usage = UsageTracker("fake")
    chat = get_chat_model("fake", callbacks=[usage])
    chat.invoke("hello")
    assert usage.summary()["calls"] == 1


def test_cassette_wraps_the_backend(clean_env, tmp_path) -> None:
    clean_env.setenv("CHIMERA_LLM_CASSETTE", str(tmp_path / "c.json"))
    clean_env.setenv("CHIMERA_LLM_CASSETTE_MODE", "record")
    chat = get_chat_model("fake")
    assert isinstance(chat, CassetteChatModel) and isinstance(chat.inner, ScriptedChatModel)
    assert "cassette record" in backend_info("fake").label
    clean_env.setenv("CHIMERA_LLM_CASSETTE_MODE", "rewind")
    with pytest.raises(ProviderError, match="record' or 'replay"):
        get_chat_model("fake")
