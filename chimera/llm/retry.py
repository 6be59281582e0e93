"""Model calls that survive a flaky provider: tenacity retries, one tool-JSON repair, then a clear stop.

ChatOpenAI is built with ``max_retries=0`` so this module alone decides: 429, 5xx and connection
errors are retried with exponential backoff and jitter (honouring ``retry-after-ms`` and
``retry-after``; one longer than the cap stops at once, as asking sooner would be refused again); an
error event inside a reply stream is retried when its code says busy; a timeout and any other provider
error stop at once. When it gives up it raises ``ModelUnavailable`` and the caller shows the offline
narrative instead, saying so. The cycle never fails on a model.

How long a call may take: each attempt is one HTTP request with a deadline of ``CHIMERA_LLM_TIMEOUT``
= T seconds from its start (provider.py). The reply must be complete by then, however the server
trickles it; an async reply is cut at T exactly, a sync one at its first byte after T or after T s
of silence, so never past 2T. A timeout (an overrun, ``DeadlineExceeded``, included) is not asked
again: the same request to a hung or slow server waits as long again (retried, a chat answer waited
3 x 60 s + backoff with the defaults). One ``invoke_with_retries`` therefore waits at most 2T after
quick failures' retries (``attempts - 1`` backoff waits of at most ``CHIMERA_LLM_BACKOFF_MAX``), twice
that only when a malformed tool call earns its one repair request. A cycle stops calling a model that
timed out or used up its attempts (``ModelUnavailable.ends_cycle_use``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from chimera.errors import ChimeraError, RetryableModelError

__all__ = [
    "NOT_AN_OBJECT",
    "SDK_HTTPX",
    "Backoff",
    "DeadlineExceeded",
    "ModelUnavailable",
    "ainvoke_with_retries",
    "invoke_with_retries",
    "is_transient",
    "not_an_object",
    "timed_out",
]

log = logging.getLogger(__name__)


def _sdk_httpx() -> Any:
    """The httpx library the installed openai SDK is built on: httpx2 for openai>=3, else httpx.
    Its errors are the ones a request raises, and what a custom stream must raise to be understood."""
    try:
        import httpx2
    except ImportError:  # pragma: no cover - openai<3 ships without httpx2
        return httpx
    return httpx2 if issubclass(openai.DefaultHttpxClient, httpx2.Client) else httpx


SDK_HTTPX = _sdk_httpx()


class DeadlineExceeded(SDK_HTTPX.ReadTimeout):  # type: ignore[misc,name-defined]
    """A reply still unfinished at its deadline: a read timeout, so the SDK and the retries treat it as one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"reply not complete within the {seconds:g} s deadline (CHIMERA_LLM_TIMEOUT)")


class ModelUnavailable(RetryableModelError):
    """The provider kept failing (or refused the request); use the offline narrative."""

    def __init__(self, reason: str, attempts: int = 0, persistent: bool = False) -> None:
        self.reason, self.attempts = reason, attempts
        self.persistent = persistent  # every later call would fail the same way (a wrong key or model name)
        super().__init__(reason)

    @property
    def ends_cycle_use(self) -> bool:
        """Not worth calling again this cycle: retries were exhausted, or the configuration is wrong."""
        return self.attempts > 1 or self.persistent


class Backoff(BaseModel):
    """Wait between attempts: ``multiplier * 2**n`` plus up to ``jitter`` seconds, capped at ``max_wait``."""

    multiplier: float = Field(0.5, ge=0)
    max_wait: float = Field(8.0, ge=0)
    jitter: float = Field(0.5, ge=0)

    @classmethod
    def from_env(cls) -> Backoff:
        """``CHIMERA_LLM_BACKOFF`` (multiplier, s) and ``CHIMERA_LLM_BACKOFF_MAX`` (cap, s); tests set ~0."""
        mult = float(os.environ.get("CHIMERA_LLM_BACKOFF", 0.5))
        cap = float(os.environ.get("CHIMERA_LLM_BACKOFF_MAX", 8.0))
        return cls(multiplier=mult, max_wait=cap, jitter=min(0.5, mult))

    def wait(self, state: RetryCallState) -> float:
        expo = wait_exponential_jitter(multiplier=self.multiplier, max=self.max_wait, jitter=self.jitter)(state)
        exc = state.outcome.exception() if state.outcome else None
        after = _retry_after(exc)
        return min(max(expo, after), self.max_wait) if after is not None else expo


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms`` (OpenAI and compatible servers send it,
    more precise, so it wins), else ``retry-after`` in seconds or as an HTTP date. A negative, NaN or
    unreadable value says nothing (None), as the openai SDK reads them."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = (headers.get(name) or "").strip()
        try:
            seconds = float(raw) / scale
        except ValueError:
            seconds = _http_date_wait(raw) if scale == 1.0 else None
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _http_date_wait(raw: str) -> float | None:
    """Seconds until an HTTP date (``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT``), at least 0."""
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limits, server errors, timeouts, dropped connections."""
    if isinstance(exc, openai.RateLimitError | openai.APIConnectionError | httpx.TimeoutException):
        return True
    if isinstance(exc, httpx.TransportError | SDK_HTTPX.TransportError):  # also mid-stream, unwrapped by the SDK
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500
    code = _stream_error(exc)
    return code is not None and code in _BUSY


# what an error event inside a 200 reply stream calls a busy or failing server ("code": 503 or a word)
_BUSY = frozenset({"429", "server_error", "rate_limit_exceeded", "overloaded", "overloaded_error", "timeout",
                   "service_unavailable", "internal_error"}) | {str(n) for n in range(500, 600)}


def _stream_error(exc: BaseException) -> str | None:
    """The code of an error the server sent as an event inside a 200 reply (the SDK raises a bare
    APIError for it: no status), lower-case; None for any other error."""
    if not isinstance(exc, openai.APIError) or isinstance(
            exc, openai.APIStatusError | openai.APIConnectionError | openai.APIResponseValidationError):
        return None
    code = str(exc.code or exc.type or "unknown").strip().lower()
    key = os.environ.get("OPENAI_API_KEY")
    return "withheld" if len(code) > 40 or (key and key.lower() in code) else code


def _waits_too_long(exc: BaseException | None, backoff: Backoff) -> float | None:
    """The server's ``retry-after`` when it is longer than we may wait: asking sooner is refused again."""
    after = _retry_after(exc)
    return after if after is not None and after > backoff.max_wait else None


def _deadline(exc: BaseException | None) -> DeadlineExceeded | None:
    """The deadline overrun behind ``exc`` (the SDK wraps a non-streamed one in APITimeoutError)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DeadlineExceeded):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _describe(exc: BaseException) -> str:
    overrun = _deadline(exc)
    if overrun is not None:
        return str(overrun)
    code = _stream_error(exc)
    if code is not None:  # its message is the server's words: it may echo a key, so only its code
        return f"the server sent an error instead of a reply (code {code})"
    code = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {code})" if code else "")


def _model_name(runnable: Any) -> str | None:
    """The model name a request was sent with (a bound runnable wraps the chat model)."""
    for obj in (runnable, getattr(runnable, "bound", None)):
        name = getattr(obj, "model_name", None)
        if isinstance(name, str) and name:
            return name
    return None


def _config_hint(exc: BaseException, model: str | None) -> str | None:
    """What a person must fix when the server refuses every request alike (never quoting a key)."""
    code = getattr(exc, "status_code", None)
    if code == 401:
        return "the server rejected the API key (HTTP 401); check OPENAI_API_KEY"
    if code == 403:
        return "the server denied access (HTTP 403); check OPENAI_API_KEY and the model's permissions"
    if code == 404:
        named = f"model {model!r}" if model else "the model"
        return f"{named} not found (HTTP 404); check CHIMERA_MODEL (or the commander's model) and OPENAI_BASE_URL"
    return None


def timed_out(exc: BaseException) -> bool:
    """No complete reply within the request's deadline (a silent, hung or trickling server)."""
    timeouts = openai.APITimeoutError | httpx.TimeoutException | SDK_HTTPX.TimeoutException
    return isinstance(exc, timeouts) or _deadline(exc) is not None


def _retrying(cls: type, attempts: int, backoff: Backoff) -> Any:
    def worth_it(exc: BaseException) -> bool:
        return is_transient(exc) and not timed_out(exc) and _waits_too_long(exc, backoff) is None

    return cls(stop=stop_after_attempt(attempts), wait=backoff.wait, retry=retry_if_exception(worth_it), reraise=True)


def _give_up(exc: Exception, attempts: int, model: str | None = None, backoff: Backoff | None = None) -> Exception:
    """The ModelUnavailable to raise for a failed call, or ``exc`` itself for a configuration error.

    Provider errors say how many attempts were made; anything else raised while the client builds
    the reply (tool-call arguments that are JSON but not an object -> pydantic ValidationError, a
    stream where a plain response was expected -> ValueError, ...) is a reply that could not be
    read: it degrades like a provider failure. Only a ``ChimeraError`` (a misconfigured backend,
    a cassette miss) is re-raised, so a person sees how to fix it.
    """
    after = _waits_too_long(exc, backoff or Backoff.from_env())
    if after is not None and is_transient(exc):  # not asked again this cycle: it would be refused alike
        code = getattr(exc, "status_code", None)
        busy = "rate-limited" if code == 429 else "busy"
        return ModelUnavailable(f"model server {busy} (HTTP {code}): it asks to wait {after:g} s, longer "
                                f"than CHIMERA_LLM_BACKOFF_MAX ({(backoff or Backoff.from_env()).max_wait:g} s)",
                                1, persistent=True)
    if timed_out(exc):  # asked again, it would wait as long: not asked again this cycle either
        return ModelUnavailable(f"model did not answer in time: {_describe(exc)}; not asked again (it would "
                                "wait as long; CHIMERA_LLM_TIMEOUT sets the wait)", 1, persistent=True)
    if is_transient(exc):
        return ModelUnavailable(f"model unavailable after {attempts} attempts: {_describe(exc)}", attempts)
    if _stream_error(exc) is not None:
        return ModelUnavailable(f"model reply failed: {_describe(exc)}", 1)
    if isinstance(exc, openai.APIError):
        hint = _config_hint(exc, model)
        if hint:
            return ModelUnavailable(f"model refused the request: {hint}", 1, persistent=True)
        return ModelUnavailable(f"model refused the request: {_describe(exc)}", 1)
    if isinstance(exc, ChimeraError):
        return exc
    log.warning("model reply could not be read: %s", type(exc).__name__)
    return ModelUnavailable(f"model reply could not be read: {type(exc).__name__}", 1)


def _call(runnable: Any, messages: list[BaseMessage], attempts: int, backoff: Backoff, config: Any) -> AIMessage:
    try:
        for attempt in _retrying(Retrying, attempts, backoff):
            with attempt:
                return runnable.invoke(messages, config=config)
    except Exception as exc:
        err = _give_up(exc, attempts, _model_name(runnable), backoff)
        if err is exc:
            raise
        raise err from exc
    raise ModelUnavailable("model gave no answer", attempts)  # pragma: no cover - tenacity returns or raises


async def _acall(runnable: Any, messages: list[BaseMessage], attempts: int, backoff: Backoff, config: Any) -> AIMessage:
    try:
        async for attempt in _retrying(AsyncRetrying, attempts, backoff):
            with attempt:
                return await runnable.ainvoke(messages, config=config)
    except Exception as exc:
        err = _give_up(exc, attempts, _model_name(runnable), backoff)
        if err is exc:
            raise
        raise err from exc
    raise ModelUnavailable("model gave no answer", attempts)  # pragma: no cover - tenacity returns or raises


NOT_AN_OBJECT = "arguments must be a JSON object of the tool's parameters"


def not_an_object(arguments: Any) -> str | None:
    """What JSON type ``arguments`` (the API's text) holds when it is JSON but no object (``null``, an
    absent or empty text: a call without arguments), else None: unparseable text is langchain's to judge."""
    if not isinstance(arguments, str) or not arguments.strip():
        return None
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    if value is None or isinstance(value, dict):
        return None
    return {list: "a list", str: "a string", bool: "true/false"}.get(type(value), "a number")


def _repair_request(reply: AIMessage) -> HumanMessage:
    def problem(tc: Any) -> str:
        kind = not_an_object(tc.get("args"))  # a stream's call leaves the error unsaid
        return tc.get("error") or (f"{NOT_AN_OBJECT}, not {kind}" if kind else "invalid JSON")

    problems = "; ".join(
        f"{tc.get('name') or 'tool'}: {problem(tc)} in {str(tc.get('args'))[:200]!r}" for tc in reply.invalid_tool_calls
    )
    return HumanMessage(
        content=f"Your last tool call had malformed JSON arguments ({problems}). "
        "Call the tool again with arguments that are valid JSON matching its schema."
    )


_CUT_OFF = frozenset({"length", "max_tokens", "max_output_tokens"})


def _readable_args(args: Any) -> dict[str, Any] | None:
    """The arguments of a streamed call langchain found invalid but a whole reply's would be read as:
    ``null`` (no arguments), or an object's JSON text encoded twice (``"{\"days\": 7}"``, as
    openai_compat reads it in a whole reply; its fragments in a stream are no JSON on their own)."""
    text = str(args or "").strip()
    if text == "null":
        return {}
    try:
        inner = json.loads(text)
        value = json.loads(inner) if isinstance(inner, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _null_args(reply: AIMessage) -> AIMessage:
    """A streamed call whose arguments are ``null`` is a call without arguments, and one whose
    arguments are JSON text encoded twice is the call it encodes, as in a whole reply (langchain made
    only the stream's invalid, so it alone cost a repair request; a model repeating its encoding
    ended in the offline answer)."""
    readable = [(tc, _readable_args(tc.get("args"))) for tc in reply.invalid_tool_calls if tc.get("name")]
    readable = [(tc, args) for tc, args in readable if args is not None]
    if not readable:
        return reply
    calls = [{"type": "tool_call", "name": tc["name"], "args": args, "id": tc.get("id")} for tc, args in readable]
    fixed = [tc for tc, _ in readable]
    return reply.model_copy(update={"tool_calls": [*reply.tool_calls, *calls],
                                    "invalid_tool_calls": [tc for tc in reply.invalid_tool_calls if tc not in fixed]})


def _uncut(reply: AIMessage) -> AIMessage:
    """A reply stopped at the length limit while writing tool calls: their arguments are a guess (a
    stream's partial JSON is completed silently, so ``{"days": 2`` of 28 would run as 2). They are
    malformed, not run: the repair asks again."""
    reply = _null_args(reply)
    stop = str((reply.response_metadata or {}).get("finish_reason") or "").lower()
    if stop not in _CUT_OFF or not reply.tool_calls:
        return reply
    cut = [{"type": "invalid_tool_call", "name": tc.get("name"), "args": json.dumps(tc.get("args")),
            "id": tc.get("id"), "error": "cut off at the length limit"} for tc in reply.tool_calls]
    return reply.model_copy(update={"tool_calls": [], "invalid_tool_calls": [*reply.invalid_tool_calls, *cut]})


def invoke_with_retries(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    *,
    tools: Sequence[Any] | None = None,
    attempts: int = 3,
    backoff: Backoff | None = None,
    config: RunnableConfig | None = None,
) -> AIMessage:
    """Call ``model`` (with ``tools`` bound), retrying transient failures and repairing bad tool JSON once.

    Raises ``ModelUnavailable`` when the provider keeps failing or the repaired answer is still bad.
    """
    backoff = backoff or Backoff.from_env()
    runnable = model.bind_tools(list(tools)) if tools else model
    history = list(messages)
    reply = _uncut(_call(runnable, history, attempts, backoff, config))
    if reply.invalid_tool_calls:
        log.info("model sent malformed tool-call JSON; asking once for a repair")
        reply = _uncut(_call(runnable, [*history, _repair_request(reply)], attempts, backoff, config))
        if reply.invalid_tool_calls:
            raise ModelUnavailable("tool-call JSON still malformed after one repair request", attempts)
    return reply


async def ainvoke_with_retries(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    *,
    tools: Sequence[Any] | None = None,
    attempts: int = 3,
    backoff: Backoff | None = None,
    config: RunnableConfig | None = None,
) -> AIMessage:
    """``invoke_with_retries`` for event loops (Chainlit handlers, async graph nodes)."""
    backoff = backoff or Backoff.from_env()
    runnable = model.bind_tools(list(tools)) if tools else model
    reply = _uncut(await _acall(runnable, list(messages), attempts, backoff, config))
    if reply.invalid_tool_calls:
        log.info("model sent malformed tool-call JSON; asking once for a repair")
        reply = _uncut(await _acall(runnable, [*messages, _repair_request(reply)], attempts, backoff, config))
        if reply.invalid_tool_calls:
            raise ModelUnavailable("tool-call JSON still malformed after one repair request", attempts)
    return reply
