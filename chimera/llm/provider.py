"""Which chat model the commanders use, chosen by environment (DESIGN.md §6).

``CHIMERA_LLM``: ``offline`` (the default without ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``: no model,
the templated narrative), ``openai`` (``OPENAI_API_KEY``, ``CHIMERA_MODEL``), ``openai-compatible``
(``OPENAI_BASE_URL``: Ollama, vLLM, llama.cpp server, LM Studio; key optional) or ``fake`` (the
shipped scripted model). Real backends go through ``ChatOpenAI`` (``openai_compat``: it also reads
tool-call arguments sent as a JSON object) with ``max_retries=0`` (retry.py owns retries) and a
timeout. The key is passed as a secret and never logged, stored or returned.

``CHIMERA_LLM_TIMEOUT`` (T, seconds) is a deadline per HTTP request, not only httpx's per-read
timeout, which every byte resets (a proxy's keep-alive comments, a trickling server): the SDK's
own client gets event hooks that stamp each request with its deadline and wrap the reply's byte
stream, which raises ``DeadlineExceeded`` (a read timeout) once T has passed. Streaming and not,
sync and async. Limits: a sync read already waiting returns at its next byte or after T s of
silence (so at most 2T); headers trickled slower than T are only caught once they are complete.

The HTTP libraries log each request's full URL at INFO: credentials a proxy takes in the URL
(``https://user:token@proxy/v1``, ``?api-key=...``) went into the logs. Their loggers get a filter
that writes them as ``***`` (the API key too, wherever it would appear).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from chimera.errors import ProviderError
from chimera.llm.cassette import cassette_from_env
from chimera.llm.fake import fake_model_from_name
from chimera.llm.models import BACKENDS, BackendInfo
from chimera.llm.retry import SDK_HTTPX, DeadlineExceeded

__all__ = ["DEFAULT_MODEL", "backend_info", "get_chat_model", "resolve_backend"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_TOKENS = 800


def resolve_backend(backend: str | None = None) -> str:
    """The backend name: argument, else ``CHIMERA_LLM``, else inferred from the OpenAI variables."""
    name = (backend or os.environ.get("CHIMERA_LLM") or "").strip().lower()
    if not name:
        if os.environ.get("OPENAI_BASE_URL"):
            return "openai-compatible"
        return "openai" if os.environ.get("OPENAI_API_KEY") else "offline"
    if name not in BACKENDS:
        raise ProviderError(f"CHIMERA_LLM={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


def _host(url: str | None) -> str | None:
    """``host[:port]`` of a URL: no scheme, path, query or credentials."""
    if not url:
        return None
    parts = urlsplit(url if "//" in url else f"//{url}")
    if not parts.hostname:
        return None
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def _model_name(backend: str, model: str | None) -> str:
    if backend == "fake":
        return model if model and model.startswith("fake") else "fake"
    return model or os.environ.get("CHIMERA_MODEL") or DEFAULT_MODEL


def _replaying() -> bool:
    return (
        bool(os.environ.get("CHIMERA_LLM_CASSETTE"))
        and os.environ.get("CHIMERA_LLM_CASSETTE_MODE", "replay") == "replay"
    )


def _problem(backend: str) -> str | None:
    """Why ``backend`` cannot be used as configured (never quoting a secret)."""
    if _replaying():
        return None
    if backend == "openai" and not os.environ.get("OPENAI_API_KEY"):
        return "CHIMERA_LLM=openai needs OPENAI_API_KEY; set it, or use CHIMERA_LLM=offline"
    if backend == "openai-compatible" and not os.environ.get("OPENAI_BASE_URL"):
        return (
            "CHIMERA_LLM=openai-compatible needs OPENAI_BASE_URL, e.g. http://localhost:11434/v1 for Ollama; "
            "set it, or use CHIMERA_LLM=offline"
        )
    return None


def backend_info(backend: str | None = None, model: str | None = None) -> BackendInfo:
    """What is active, for the UI and the CLI to show. Never raises for a missing key: it says so."""
    try:
        name = resolve_backend(backend)
    except ProviderError as exc:
        return BackendInfo(
            backend="offline", offline=True, label="offline (model backend misconfigured)", problem=str(exc)
        )
    if name == "offline":
        return BackendInfo(backend="offline", offline=True, label="offline (no model configured)")
    problem = _problem(name)
    model_name = _model_name(name, model)
    host = _host(os.environ.get("OPENAI_BASE_URL")) if name == "openai-compatible" else None
    if problem:
        return BackendInfo(
            backend=name,
            model=model_name,
            base_url=host,
            offline=True,
            label=f"offline ({name} selected but not configured)",
            problem=problem,
        )
    label = {"openai": f"openai {model_name}", "fake": f"fake ({model_name}, scripted test model)"}.get(
        name, f"openai-compatible {model_name} at {host}"
    )
    if os.environ.get("CHIMERA_LLM_CASSETTE"):
        label += f" [cassette {os.environ.get('CHIMERA_LLM_CASSETTE_MODE', 'replay')}]"
    return BackendInfo(backend=name, model=model_name, base_url=host, offline=False, label=label)


_DEADLINE = "chimera_deadline"  # the request extension holding (monotonic deadline, seconds)


class _DeadlineStream(SDK_HTTPX.SyncByteStream):  # type: ignore[misc,name-defined]
    """A reply's bytes, refused once its deadline has passed (checked as each chunk arrives)."""

    def __init__(self, inner: Any, deadline: float, seconds: float) -> None:
        self._inner, self._deadline, self._seconds = inner, deadline, seconds

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise DeadlineExceeded(self._seconds)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _AsyncDeadlineStream(SDK_HTTPX.AsyncByteStream):  # type: ignore[misc,name-defined]
    """The async reply's bytes, cut at the deadline itself (an anyio cancel scope per read)."""

    def __init__(self, inner: Any, deadline: float, seconds: float) -> None:
        self._inner, self._deadline, self._seconds = inner, deadline, seconds

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        while True:
            try:
                with anyio.fail_after(max(0.0, self._deadline - time.monotonic())):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise DeadlineExceeded(self._seconds) from None
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _stamp(seconds: float, request: Any) -> None:
    request.extensions[_DEADLINE] = (time.monotonic() + seconds, seconds)


def _bounded(response: Any, wrapper: type) -> None:
    """Give the reply's stream its request's deadline; headers that came too late already fail."""
    deadline, seconds = response.request.extensions[_DEADLINE]
    if time.monotonic() > deadline:
        raise DeadlineExceeded(seconds)
    response.stream = wrapper(response.stream, deadline, seconds)


def _deadline_clients(seconds: float) -> dict[str, Any]:
    """The SDK's default sync and async clients (proxies, limits kept), every request ending ``seconds``
    after it started: httpx has no overall timeout, only per-operation ones."""
    import openai

    def stamp(request: Any) -> None:
        _stamp(seconds, request)

    async def astamp(request: Any) -> None:
        _stamp(seconds, request)

    def bound(response: Any) -> None:
        _bounded(response, _DeadlineStream)

    async def abound(response: Any) -> None:
        _bounded(response, _AsyncDeadlineStream)

    return {
        "http_client": openai.DefaultHttpxClient(timeout=seconds, event_hooks={"request": [stamp],
                                                                                "response": [bound]}),
        "http_async_client": openai.DefaultAsyncHttpxClient(
            timeout=seconds, event_hooks={"request": [astamp], "response": [abound]}),
    }


_URL_SECRET = re.compile(r"(?<=//)[^/@\s\"'<>]+@|(?<=[?&;])((?:api[-_]?key|key|token|access[-_]?token|auth|"
                         r"password|secret|sig|signature)=)[^&\s\"'<>]+", re.IGNORECASE)
_HTTP_LOGGERS = ("httpx", "httpx2", "httpcore", "openai", "openai._base_client")


def redact_secrets(text: str) -> str:
    """``text`` with URL credentials (`user:pass@`), key-like query parameters and the API key
    written as ``***``."""
    clean = _URL_SECRET.sub(lambda m: "***@" if m.group(1) is None else f"{m.group(1)}***", text)
    key = os.environ.get("OPENAI_API_KEY")
    return clean.replace(key, "***") if key and len(key) >= 8 else clean


class _RedactedUrls(logging.Filter):
    """Writes URL credentials and the API key of a log record as ``***`` (the record still goes out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: left to logging to report
            return True
        clean = redact_secrets(text)
        if clean != text:
            record.msg, record.args = clean, ()
        return True


def _redact_http_logs() -> None:
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactedUrls) for f in logger.filters):
            logger.addFilter(_RedactedUrls())


def _chat_openai(backend: str, model: str) -> BaseChatModel:
    from chimera.llm.openai_compat import LenientChatOpenAI

    _redact_http_logs()
    timeout = float(os.environ.get("CHIMERA_LLM_TIMEOUT", DEFAULT_TIMEOUT_S))
    max_tokens = int(os.environ.get("CHIMERA_LLM_MAX_TOKENS", DEFAULT_MAX_TOKENS))
    kwargs: dict[str, Any] = {"model": model, "timeout": timeout, "max_retries": 0, "stream_usage": True,
                              **_deadline_clients(timeout)}
    if os.environ.get("CHIMERA_LLM_STREAMING", "").lower() in ("1", "true", "yes"):
        kwargs["streaming"] = True  # SSE under the hood (servers that only stream, live UIs)
    if backend == "openai":
        kwargs["api_key"] = SecretStr(os.environ["OPENAI_API_KEY"])
        kwargs["max_tokens"] = max_tokens
        if os.environ.get("OPENAI_BASE_URL"):
            kwargs["base_url"] = os.environ["OPENAI_BASE_URL"]
    else:
        kwargs["api_key"] = SecretStr(os.environ.get("OPENAI_API_KEY") or "not-needed")
        kwargs["base_url"] = os.environ["OPENAI_BASE_URL"]
        # ChatOpenAI(max_tokens=N) sends max_completion_tokens, which llama.cpp servers ignore.
        kwargs["extra_body"] = {"max_tokens": max_tokens}
    return LenientChatOpenAI(**kwargs)


def get_chat_model(
    backend: str | None = None, model: str | None = None, *, callbacks: list[Any] | None = None
) -> BaseChatModel | None:
    """The configured chat model, or None for "use the offline narrative".

    Raises ProviderError when the selected backend is missing its key or URL.
    """
    name = resolve_backend(backend)
    if name == "offline":
        return None
    problem = _problem(name)
    if problem:
        raise ProviderError(problem)
    model_name = _model_name(name, model)
    inner: BaseChatModel | None
    if name == "fake":
        inner = fake_model_from_name(model_name)
    elif _replaying():
        inner = None
    else:
        inner = _chat_openai(name, model_name)
    chat = cassette_from_env(inner, model_name)
    if chat is None:  # pragma: no cover - cassette_from_env returns a wrapper when inner is None
        return None
    if callbacks:
        chat.callbacks = list(callbacks)
    log.info("model backend: %s", backend_info(name, model).label)
    return chat
